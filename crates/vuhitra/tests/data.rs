//! `vuhitra analyze` and `vuhitra sql` end to end on files of every format,
//! and the bad inputs each get a clear message naming the file.

#[macro_use]
mod common;

use common::TestEnv;
use serde_json::Value;

const SALES: &str = "region,amount,units,day\nnorth,10.5,1,2024-01-03\nsouth,20,2,2024-01-04\nnorth,30,3,2024-02-10\neast,,4,2024-03-01\nnorth,40,5,2024-03-02\n";

fn column<'a>(profile: &'a Value, name: &str) -> &'a Value {
    profile["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name}: {profile}"))
}

/// A minimal .xlsx (a zip of SpreadsheetML parts) written with Python's
/// standard library; `sheets` is a list of (name, rows).
fn write_xlsx(env: &TestEnv, file: &str, sheets: &[(&str, &[&[&str]])]) -> std::path::PathBuf {
    let spec: Vec<Value> = sheets.iter().map(|(n, rows)| serde_json::json!([n, rows])).collect();
    let script = r#"
import json, sys, zipfile
from xml.sax.saxutils import escape
path, sheets = sys.argv[1], json.loads(sys.argv[2])
def cell(ref, v):
    try:
        float(v); return f'<c r="{ref}"><v>{v}</v></c>'
    except ValueError:
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
with zipfile.ZipFile(path, 'w') as z:
    ct = ''.join(f'<Override PartName="/xl/worksheets/sheet{i+1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(len(sheets)))
    z.writestr('[Content_Types].xml', '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' + ct + '</Types>')
    z.writestr('_rels/.rels', '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    s = ''.join(f'<sheet name="{escape(n)}" sheetId="{i+1}" r:id="rId{i+1}"/>' for i, (n, _) in enumerate(sheets))
    z.writestr('xl/workbook.xml', '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>' + s + '</sheets></workbook>')
    r = ''.join(f'<Relationship Id="rId{i+1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i+1}.xml"/>' for i in range(len(sheets)))
    z.writestr('xl/_rels/workbook.xml.rels', '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' + r + '</Relationships>')
    for i, (_, rows) in enumerate(sheets):
        body = ''.join('<row r="%d">%s</row>' % (y+1, ''.join(cell('%s%d' % (chr(65+x), y+1), v) for x, v in enumerate(row))) for y, row in enumerate(rows))
        z.writestr(f'xl/worksheets/sheet{i+1}.xml', '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + body + '</sheetData></worksheet>')
"#;
    let path = env.cwd.path().join(file);
    let ok = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap(), &serde_json::to_string(&spec).unwrap()])
        .status()
        .unwrap();
    assert!(ok.success());
    path
}

#[test]
fn a_csv_is_profiled_column_by_column() {
    let env = TestEnv::new();
    env.file("sales.csv", SALES);
    let j = env.run(&["--json", "analyze", "sales.csv"]).ok().json();
    assert_eq!(j["source"]["delimiter"], ",");
    assert_eq!(j["source"]["header"], true);
    let p = &j["profile"];
    assert_eq!(p["rows"], 5);
    let amount = column(p, "amount");
    assert_eq!(amount["kind"], "numeric");
    assert_eq!(amount["nulls"], 1);
    assert_eq!(amount["min"], "10.5");
    assert_eq!(amount["max"], "40.0");
    assert!((amount["mean"].as_f64().unwrap() - 25.125).abs() < 1e-9);
    assert_eq!(amount["histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 4);
    let region = column(p, "region");
    assert_eq!(region["top_values"][0], serde_json::json!(["north", 3]));
    assert_eq!(region["distinct"], 3);
    let day = column(p, "day");
    assert_eq!(
        (day["min"].clone(), day["max"].clone()),
        (serde_json::json!("2024-01-03"), serde_json::json!("2024-03-02"))
    );
    let corr = p["correlations"].as_array().unwrap();
    let au = corr.iter().find(|c| c["a"] == "amount" && c["b"] == "units").unwrap();
    assert!(au["r"].as_f64().unwrap() > 0.9, "{au}");
    let text = env.run(&["analyze", "sales.csv"]).ok().stdout;
    assert!(text.contains("5 rows × 4 columns") && text.contains("histograms") && text.contains("north (3)"), "{text}");
    // A report that cannot be written fails the command and leaves nothing behind.
    let r = env.run(&["analyze", "sales.csv", "--report", "no-such-dir/r.html"]).fails_with(1);
    assert!(r.stderr.contains("cannot write no-such-dir/r.html"), "{}", r.stderr);
    let j = env.run(&["--json", "analyze", "sales.csv", "--report", "r.html"]).ok().json();
    assert_eq!(j["report"], "r.html");
    assert!(std::fs::read_to_string(env.cwd.path().join("r.html")).unwrap().starts_with("<!doctype html>"));
}

/// Rows of every kind of column, with gaps and many distinct floats.
fn mixed_csv(rows: usize) -> String {
    let mut csv = String::from("id,region,amount,ratio,day,flag\n");
    for i in 0..rows {
        let region = ["north", "south", "east", "west", "central"][i * 7 % 5];
        let amount = if i % 13 == 0 { String::new() } else { format!("{:.2}", (i * 37 % 1000) as f64 / 3.0) };
        let day = format!("2024-{:02}-{:02}", i % 12 + 1, i % 28 + 1);
        csv.push_str(&format!("{i},{region},{amount},{},{day},{}\n", (i as f64).sqrt(), i % 3 == 0));
    }
    csv
}

#[test]
fn streamed_and_in_memory_profiles_agree() {
    let mut env = TestEnv::new();
    env.file("mixed.csv", mixed_csv(30_000));
    let memory = env.run(&["--json", "analyze", "mixed.csv"]).ok().json();
    env.set("DATA_IN_MEMORY_MAX", "0");
    let streamed = env.run(&["--json", "analyze", "mixed.csv"]).ok().json();
    assert_eq!(
        (&memory["source"]["in_memory"], &streamed["source"]["in_memory"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
    let (m, s) = (&memory["profile"], &streamed["profile"]);
    assert_eq!(m["rows"], 30_000);
    let r = |p: &Value| -> Vec<f64> {
        p["correlations"].as_array().unwrap().iter().map(|c| c["r"].as_f64().unwrap()).collect()
    };
    assert_eq!(r(m).len(), 3);
    assert!(r(m).iter().zip(r(s)).all(|(a, b)| (a - b).abs() < 1e-9), "{} {}", m["correlations"], s["correlations"]);
    for name in ["id", "region", "amount", "ratio", "day", "flag"] {
        let (a, b) = (column(m, name), column(s, name));
        for field in ["kind", "nulls", "min", "max", "histogram", "top_values"] {
            assert_eq!(a[field], b[field], "{name}.{field}");
        }
        let close = |x: &Value, y: &Value| {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 1e-6 * x.as_f64().unwrap().abs().max(1.0)
        };
        if a["kind"] == "numeric" {
            assert!(close(&a["mean"], &b["mean"]) && close(&a["std"], &b["std"]), "{name}: {a} {b}");
        }
    }
    // Sketched distinct counts against the exact ones (84 days: lcm of 12 months and 28 days).
    let distinct = |name: &str| column(m, name)["distinct"].as_f64().unwrap();
    assert_eq!((distinct("region"), distinct("flag")), (5.0, 2.0));
    for (name, exact) in [("id", 30_000.0), ("ratio", 30_000.0), ("amount", 1000.0), ("day", 84.0)] {
        assert!((distinct(name) - exact).abs() / exact < 0.05, "{name}: {} vs {exact}", distinct(name));
    }
    let amount = column(m, "amount");
    assert_eq!(amount["nulls"], 30_000 / 13 + 1);
    let buckets: Vec<u64> = amount["histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(buckets.iter().sum::<u64>(), 30_000 - (30_000 / 13 + 1));
    assert!(buckets.iter().all(|&b| b > 2000), "evenly spread amounts: {buckets:?}");
    let flag = column(m, "flag");
    assert_eq!(flag["top_values"], serde_json::json!([["false", 20_000], ["true", 10_000]]));
}

/// Peak resident memory (KiB) of `vuhitra analyze FILE`, measured by GNU
/// time around the process.
fn peak_kib(env: &TestEnv, file: &str, in_memory_max: &str) -> u64 {
    let out = env.cwd.path().join("peak.txt");
    let status = env
        .cmd_under(&["/usr/bin/time", "-f", "%M", "-o", out.to_str().unwrap()], &["--json", "analyze", file])
        .env("DATA_IN_MEMORY_MAX", in_memory_max)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "analyze {file} with DATA_IN_MEMORY_MAX={in_memory_max}");
    std::fs::read_to_string(&out).unwrap().trim().parse().unwrap()
}

/// Streaming keeps memory bounded: the peak stays flat while the file
/// grows fourfold, whereas reading it into memory grows with the file.
#[test]
fn streamed_profiles_use_bounded_memory() {
    if !common::require("/usr/bin/time") {
        return;
    }
    let env = TestEnv::new();
    env.file("small.csv", mixed_csv(150_000));
    let large = env.file("large.csv", mixed_csv(600_000));
    let large_kib = std::fs::metadata(&large).unwrap().len() / 1024;
    let small_streamed = peak_kib(&env, "small.csv", "0");
    let large_streamed = peak_kib(&env, "large.csv", "0");
    let large_in_memory = peak_kib(&env, "large.csv", "1GiB");
    eprintln!("peak: small streamed {small_streamed} KiB, large streamed {large_streamed} KiB, large in memory {large_in_memory} KiB, file {large_kib} KiB");
    assert!(
        large_streamed * 4 < small_streamed * 5,
        "flat: {small_streamed} KiB for the small file, {large_streamed} KiB for the {large_kib} KiB one"
    );
    assert!(
        large_in_memory > large_streamed + large_kib / 3,
        "in memory {large_in_memory} KiB vs streamed {large_streamed} KiB for a {large_kib} KiB file"
    );
}

#[test]
fn tsv_semicolons_no_header_and_latin1_are_sniffed() {
    let env = TestEnv::new();
    env.file("a.tsv", "name\tscore\nann\t1\nbob\t2\n");
    let j = env.run(&["--json", "analyze", "a.tsv"]).ok().json();
    assert_eq!(
        (j["source"]["delimiter"].clone(), j["profile"]["rows"].clone()),
        (serde_json::json!("\t"), serde_json::json!(2))
    );
    env.file("b.csv", "x;1\ny;2\nz;3\n");
    let j = env.run(&["--json", "analyze", "b.csv"]).ok().json();
    assert_eq!(
        (j["source"]["delimiter"].clone(), j["source"]["header"].clone()),
        (serde_json::json!(";"), serde_json::json!(false))
    );
    assert_eq!(j["profile"]["rows"], 3);
    env.file("c.csv", b"city,pop\nZ\xfcrich,400\nGen\xe8ve,200\n".as_slice());
    let j = env.run(&["--json", "analyze", "c.csv"]).ok().json();
    assert_eq!(j["source"]["encoding"], "latin-1");
    let tops = &column(&j["profile"], "city")["top_values"];
    assert!(tops.to_string().contains("Zürich"), "{tops}");
}

#[test]
fn json_ndjson_parquet_and_excel_load() {
    let env = TestEnv::new();
    env.file("a.json", r#"[{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}]"#);
    let j = env.run(&["--json", "analyze", "a.json"]).ok().json();
    assert_eq!(
        (j["source"]["format"].clone(), j["profile"]["rows"].clone()),
        (serde_json::json!("json"), serde_json::json!(3))
    );
    env.file("b.ndjson", "{\"k\": \"a\", \"v\": 1}\n{\"k\": \"b\", \"v\": 5}\n");
    let j = env.run(&["--json", "analyze", "b.ndjson"]).ok().json();
    assert_eq!(column(&j["profile"], "v")["max"], "5");
    // Parquet written by `vuhitra sql`, then read back.
    env.file("sales.csv", SALES);
    env.run(&[
        "sql",
        "SELECT region, amount FROM sales WHERE amount IS NOT NULL",
        "--table",
        "sales.csv",
        "--out",
        "out.parquet",
    ])
    .ok();
    let j = env.run(&["--json", "analyze", "out.parquet"]).ok().json();
    assert_eq!(
        (j["source"]["format"].clone(), j["profile"]["rows"].clone()),
        (serde_json::json!("parquet"), serde_json::json!(4))
    );
    if !common::require("python3") {
        return;
    }
    let rows: &[&[&str]] = &[&["item", "qty"], &["apple", "3"], &["pear", "5"]];
    let other: &[&[&str]] = &[&["x"], &["1"]];
    write_xlsx(&env, "book.xlsx", &[("Fruit", rows), ("Other", other)]);
    let j = env.run(&["--json", "analyze", "book.xlsx"]).ok().json();
    assert_eq!(
        (j["source"]["sheet"].clone(), j["profile"]["rows"].clone()),
        (serde_json::json!("Fruit"), serde_json::json!(2))
    );
    assert_eq!(column(&j["profile"], "qty")["mean"], 4.0);
    let j = env.run(&["--json", "analyze", "book.xlsx", "--sheet", "Other"]).ok().json();
    assert_eq!(j["profile"]["columns"][0]["name"], "x");
    let r = env.run(&["analyze", "book.xlsx", "--sheet", "Nope"]).fails_with(2);
    assert!(r.stderr.contains("no sheet named \"Nope\"") && r.stderr.contains("Fruit, Other"), "{}", r.stderr);
    write_xlsx(&env, "empty.xlsx", &[]);
    let r = env.run(&["analyze", "empty.xlsx"]).fails_with(2);
    assert!(r.stderr.contains("empty.xlsx") && r.stderr.contains("no sheets"), "{}", r.stderr);
}

#[test]
fn bad_files_get_a_clear_message_naming_them() {
    let mut env = TestEnv::new();
    env.file("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    let r = env.run(&["analyze", "ragged.csv"]).fails_with(2);
    assert!(r.stderr.contains("ragged.csv: row 2 has 2 fields, but the header has 3"), "{}", r.stderr);
    // A bad row far past the rows the schema is inferred from is met only
    // while reading: in memory, streamed, and in a query.
    let mut late = String::from("a,b,c\n");
    for i in 0..5000 {
        late.push_str(&format!("{i},{i},{i}\n"));
    }
    late.push_str("1,2\n");
    env.file("late.csv", late);
    for in_memory_max in ["512MiB", "0"] {
        env.set("DATA_IN_MEMORY_MAX", in_memory_max);
        let r = env.run(&["analyze", "late.csv"]).fails_with(2);
        assert!(r.stderr.contains("late.csv: row 5001 has 2 fields, but the header has 3"), "{}", r.stderr);
    }
    let r = env.run(&["sql", "SELECT sum(a) FROM late", "--table", "late.csv"]).fails_with(2);
    assert!(r.stderr.contains("late.csv: row 5001 has 2 fields"), "{}", r.stderr);
    env.file("fake.parquet", "a,b\n1,2\n");
    let r = env.run(&["analyze", "fake.parquet"]).fails_with(2);
    assert!(r.stderr.contains("fake.parquet has a .parquet extension but is not Parquet"), "{}", r.stderr);
    env.file("empty.csv", "");
    let r = env.run(&["analyze", "empty.csv"]).fails_with(2);
    assert!(r.stderr.contains("empty.csv is empty"), "{}", r.stderr);
    env.file("blob.csv", [0x7fu8, b'E', b'L', b'F', 0, 1, 2, 0, 0]);
    let r = env.run(&["analyze", "blob.csv"]).fails_with(2);
    assert!(r.stderr.contains("blob.csv looks binary"), "{}", r.stderr);
    env.file("data.xyz", "a,b\n");
    let r = env.run(&["analyze", "data.xyz"]).fails_with(2);
    assert!(r.stderr.contains("cannot tell the format of data.xyz") && r.stderr.contains("--format"), "{}", r.stderr);
    env.run(&["analyze", "data.xyz", "--format", "csv"]).ok();
    env.run(&["analyze", "missing.csv"]).fails_with(2);
}

#[test]
fn sql_runs_over_files_and_writes_each_format() {
    let env = TestEnv::new();
    env.file("sales-2024.csv", SALES);
    let q = "SELECT region, sum(amount) AS total FROM sales_2024 GROUP BY region ORDER BY region";
    let j = env.run(&["--json", "sql", q, "--table", "sales-2024.csv"]).ok().json();
    assert_eq!(
        j,
        serde_json::json!([{"region": "east"}, {"region": "north", "total": 80.5}, {"region": "south", "total": 20.0}])
    );
    let csv = env
        .run(&[
            "sql",
            "SELECT region FROM s WHERE units > 3 ORDER BY 1",
            "--table",
            "s=sales-2024.csv",
            "--format",
            "csv",
        ])
        .ok()
        .stdout;
    assert_eq!(csv, "region\neast\nnorth\n");
    let table = env.run(&["sql", "SELECT count(*) AS n FROM s", "--table", "s=sales-2024.csv"]).ok().stdout;
    assert!(table.contains("| n |") && table.contains("| 5 |"), "{table}");
    env.run(&["sql", "SELECT * FROM s", "--table", "s=sales-2024.csv", "--out", "copy.json"]).ok();
    let copied: Value =
        serde_json::from_str(&std::fs::read_to_string(env.cwd.path().join("copy.json")).unwrap()).unwrap();
    assert_eq!(copied.as_array().unwrap().len(), 5);
    let r = env.run(&["sql", "SELECT nope FROM s", "--table", "s=sales-2024.csv"]).fails_with(1);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
    env.run(&["sql", "SELECT 1", "--format", "parquet"]).fails_with(2);
}

#[test]
fn analyze_can_upload_profile_and_clean_up() {
    let mut env = TestEnv::new();
    let ws = env.home.path().join("ws").display().to_string();
    env.set("WORKSPACE_PATH", &ws);
    env.file("sales.csv", SALES);
    let j = env.run(&["--json", "analyze", "--upload", "sales.csv", "--cleanup"]).ok().json();
    assert_eq!(
        (j["profile"]["rows"].clone(), j["cleaned_up"].clone()),
        (serde_json::json!(5), serde_json::json!(true))
    );
    assert_eq!(env.run(&["--json", "files", "list"]).ok().json(), serde_json::json!([]));
    // Without --cleanup the copy stays, and workspace files are tables for sql.
    env.run(&["analyze", "--upload", "sales.csv"]).ok();
    std::fs::remove_file(env.cwd.path().join("sales.csv")).unwrap();
    env.run(&["analyze", "sales.csv"]).ok();
    let j = env.run(&["--json", "sql", "SELECT count(*) AS n FROM sales"]).ok().json();
    assert_eq!(j, serde_json::json!([{"n": 5}]));
}

/// The real (tiny) model writes the SQL: whatever it writes, only a
/// read-only SELECT runs, failures go back to it, and the number of tries
/// is MAX_ITERATIONS_PROD.
#[test]
fn questions_become_checked_sql_within_the_retry_limit() {
    let o = need!(common::ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("MAX_ITERATIONS_PROD", "2");
    env.file("sales.csv", SALES);
    let r = env.run(&["--json", "analyze", "sales.csv", "--ask", "What is the total amount per region?"]);
    let j = r.json();
    let attempts = j["attempts"].as_array().unwrap();
    assert_eq!(j["model"], o.model.as_str());
    if r.code == 0 {
        let sql = j["sql"].as_str().unwrap().to_ascii_lowercase();
        assert!(sql.starts_with("select") || sql.starts_with("with"), "{sql}");
        assert!(j["rows"].is_array());
        assert!(attempts.len() <= 2);
    } else {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(attempts.len(), 2, "exactly MAX_ITERATIONS_PROD tries: {j}");
        assert!(attempts.iter().all(|a| a["error"].is_string()), "{j}");
        assert!(j["error"].as_str().unwrap().contains("MAX_ITERATIONS_PROD"));
    }
}

/// The answer when the SQL works: a copy of the test model shown one worked
/// example (an Ollama model built with a MESSAGE pair; greedy decoding then
/// writes SQL of that shape) answers a question; the SQL is shown, its rows
/// are exactly what `vuhitra sql` returns for it, and the sentence after
/// the SQL is the explanation.
#[test]
fn a_question_is_answered_with_its_sql_rows_and_explanation() {
    let o = need!(common::ollama());
    let model = "vuhitra-sql-example-test";
    let example = serde_json::json!({
        "model": model, "from": o.model, "stream": false, "parameters": {"temperature": 0},
        "messages": [
            {"role": "user", "content": "Table \"t\" has 3 rows. Question: how many rows are there?"},
            {"role": "assistant", "content": "```sql\nSELECT count(*) AS n FROM \"t\"\n```\nCounts the rows."},
        ],
    });
    let (status, body) = common::http("POST", &format!("{}/api/create", o.url), Some(example));
    assert_eq!(status, 200, "{body}");
    let mut env = TestEnv::with_ollama(&o);
    env.set("MAX_ITERATIONS_PROD", "2");
    env.file("sales.csv", SALES);
    let ask = ["analyze", "sales.csv", "--ask", "how many rows are there?", "--model", model];
    let j = env.run(&[&["--json"], &ask[..]].concat()).ok().json();
    let sql = j["sql"].as_str().unwrap();
    assert!(sql.to_ascii_lowercase().starts_with("select"), "{j}");
    let direct = env.run(&["--json", "sql", sql, "--table", "sales.csv"]).ok().json();
    assert_eq!(j["rows"], direct, "the rows are the query's own");
    let explanation = j["explanation"].as_str().unwrap();
    assert!(!explanation.is_empty() && !explanation.contains("```"), "{j}");
    assert!(j["attempts"].as_array().unwrap().last().unwrap()["error"].is_null(), "{j}");
    let text = env.run(&ask).ok().stdout;
    assert!(text.starts_with(&format!("SQL:\n  {sql}\n")) && text.contains(explanation), "{text}");
}

/// `@analyze` in chat: the files named with @file: and -f become tables
/// (one stem twice: sales, sales_2), the same checked-SQL loop answers,
/// and the question is a heuristics record like any other prompt.
#[test]
fn analyze_keyword_in_chat_asks_about_data_files() {
    let o = need!(common::ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("MAX_ITERATIONS_PROD", "1");
    env.file("sales.csv", SALES);
    std::fs::create_dir(env.cwd.path().join("old")).unwrap();
    env.file("old/sales.csv", SALES);
    let r = env.run(&["--json", "chat", "-f", "old/sales.csv", "@analyze @file:sales.csv which region sold the most?"]);
    let j = r.json();
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    assert_eq!(j["question"], "which region sold the most?");
    assert_eq!(j["tables"], serde_json::json!(["sales", "sales_2"]));
    assert!(j["attempts"].as_array().unwrap().len() == 1, "{j}");
    let id = j["id"].as_str().expect("recorded");
    let shown = env.run(&["--json", "heuristics", "show", id]).ok().json();
    assert_eq!(shown["prompt"], "which region sold the most?");
    assert_eq!(shown["success"], r.code == 0);

    // Without a file, or without a question: a usage error before any request.
    let r = env.run(&["chat", "@analyze how many rows are there?"]).fails_with(2);
    assert!(r.stderr.contains("@analyze needs a data file") && r.stderr.contains("@file:"), "{}", r.stderr);
    let r = env.run(&["chat", "@analyze @file:sales.csv"]).fails_with(2);
    assert!(r.stderr.contains("@analyze needs a question"), "{}", r.stderr);
    let r = env.run(&["chat", "@analyze @file:nothing.csv what?"]).fails_with(2);
    assert!(r.stderr.contains("nothing.csv"), "{}", r.stderr);
}

fn frame_cache_round_trip(env: &TestEnv) {
    env.file("sales.csv", SALES);
    let r = env.run(&["analyze", "sales.csv", "--cache-key", "q1"]).ok();
    assert!(r.stderr.contains("cached as q1 (5 rows"), "{}", r.stderr);
    let list = env.run(&["--json", "data", "list"]).ok().json();
    assert_eq!((list[0]["key"].clone(), list[0]["rows"].clone()), (serde_json::json!("q1"), serde_json::json!(5)));
    std::fs::remove_file(env.cwd.path().join("sales.csv")).unwrap();
    // The cached copy serves after the file is gone.
    let j = env.run(&["--json", "analyze", "cache:q1"]).ok().json();
    assert_eq!(j["profile"]["rows"], 5);
    let j = env
        .run(&["--json", "sql", "SELECT count(*) AS n FROM s WHERE region = 'north'", "--table", "s=cache:q1"])
        .ok()
        .json();
    assert_eq!(j, serde_json::json!([{"n": 3}]));
    let csv = env.run(&["data", "get", "q1", "--format", "csv", "-n", "2"]).ok().stdout;
    assert_eq!(csv.lines().count(), 3, "header and two rows: {csv}");
    env.run(&["data", "drop", "q1"]).ok();
    let r = env.run(&["analyze", "cache:q1"]).fails_with(2);
    assert!(r.stderr.contains("no cached table named \"q1\""), "{}", r.stderr);
    env.run(&["data", "drop", "q1"]).fails_with(2);
}

#[test]
fn tables_are_cached_in_the_embedded_store() {
    frame_cache_round_trip(&TestEnv::new());
}

#[test]
fn tables_are_cached_in_redis() {
    let url = need!(common::redis());
    let mut env = TestEnv::new();
    env.set("REDIS_URL", &url);
    frame_cache_round_trip(&env);
    // Redis down: a clear error naming REDIS_URL.
    let mut down = TestEnv::new();
    down.set("REDIS_URL", "redis://127.0.0.1:9");
    let r = down.run(&["data", "list"]).fails_with(1);
    assert!(r.stderr.contains("REDIS_URL=redis://127.0.0.1:9") && r.stderr.contains("unset REDIS_URL"), "{}", r.stderr);
}

/// Loads the report in headless Chromium inside a page that measures its
/// layout after rendering (boxes of the charts and their bars) and prints
/// the measurements into the DOM Chromium dumps.
fn render_in_chromium(env: &TestEnv, report: &str) -> Value {
    let probe = r#"<!doctype html><html><body>
<iframe id="report" src="REPORT" width="1280" height="4000"></iframe><pre id="out">not loaded</pre>
<script>
document.getElementById('report').addEventListener('load', () => {
  const d = document.getElementById('report').contentDocument;
  const size = e => { const b = e.getBoundingClientRect(); return [Math.round(b.width), Math.round(b.height)]; };
  document.getElementById('out').textContent = JSON.stringify({
    title: d.title,
    scripts: d.querySelectorAll('script').length,
    external: d.querySelectorAll('[src], link[href]').length,
    rows: d.querySelectorAll('table.summary tbody tr').length,
    cards: [...d.querySelectorAll('section.card h3')].map(h => h.firstChild.textContent.trim()),
    charts: [...d.querySelectorAll('svg.chart')].map(s => ({
      kind: s.getAttribute('class').replace('chart ', ''),
      of: s.querySelector('title').textContent,
      size: size(s),
      bars: [...s.querySelectorAll('rect')].map(r => size(r)),
    })),
    height: d.documentElement.scrollHeight,
  });
});
</script></body></html>"#;
    let page = env.file("probe.html", probe.replace("REPORT", report));
    let profile_dir = env.cwd.path().join("chromium-profile");
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"])
        .arg("--virtual-time-budget=10000")
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let text = dom
        .split_once("<pre id=\"out\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(t, _)| t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no measurements in the DOM: {dom}\n{}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_html_report_renders_in_chromium() {
    if !common::require("chromium") {
        return;
    }
    let env = TestEnv::new();
    // A column named like markup must show as text, not run.
    let mut csv = String::from("region,amount,units,<script>alert(1)</script>\n");
    for i in 0..200 {
        csv.push_str(&format!("{},{}.5,{},{}\n", ["north", "south", "east"][i % 3], i % 50, i % 7, 200 - i));
    }
    env.file("sales.csv", csv);
    let run = env.run(&["analyze", "sales.csv", "--report", "report.html"]).ok();
    assert!(run.stderr.contains("report written to report.html"), "{}", run.stderr);
    let html = std::fs::read_to_string(env.cwd.path().join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"), "escaped");

    let r = render_in_chromium(&env, "report.html");
    assert_eq!(r["title"], "Profile of sales.csv");
    assert_eq!((r["scripts"].as_u64(), r["external"].as_u64()), (Some(0), Some(0)), "self-contained, no scripts");
    assert_eq!(r["rows"], 4, "one summary row per column");
    assert_eq!(r["cards"], serde_json::json!(["region", "amount", "units", "<script>alert(1)</script>"]));
    let charts = r["charts"].as_array().unwrap();
    let chart = |kind: &str, of: &str| {
        charts
            .iter()
            .find(|c| c["kind"] == kind && c["of"].as_str().unwrap().ends_with(of))
            .unwrap_or_else(|| panic!("no {kind} chart of {of}: {r}"))
    };
    // (chart, column, bars, non-empty bars): units has 7 integer values, one bar each.
    for (kind, of, bars, drawn) in [
        ("histogram", "amount", 10, 10),
        ("histogram", "units", 7, 7),
        ("histogram", "<script>alert(1)</script>", 10, 10),
        ("top-values", "region", 3, 3),
    ] {
        let c = chart(kind, of);
        let size: Vec<u64> = c["size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(size[0] >= 300 && size[1] >= 50, "{kind} of {of} is laid out: {c}");
        let heights: Vec<u64> = c["bars"].as_array().unwrap().iter().map(|b| b[1].as_u64().unwrap()).collect();
        assert_eq!(heights.len(), bars, "{c}");
        assert_eq!(heights.iter().filter(|&&h| h > 0).count(), drawn, "every non-empty bar is drawn: {c}");
    }
    // Three numeric columns: a 3 × 3 heatmap.
    let heat = chart("correlations", "numeric columns");
    assert_eq!(heat["bars"].as_array().unwrap().len(), 9, "{heat}");
    assert!(r["height"].as_u64().unwrap() > 600, "{r}");
}

#[test]
fn sql_is_read_only_unless_write_is_given() {
    let env = TestEnv::new();
    env.file("t.csv", "a\n1\n2\n");
    let target = env.cwd.path().join("copied.csv");
    let copy = format!("COPY (SELECT 1 AS x) TO '{}'", target.display());
    for statement in [
        copy.as_str(),
        "DROP TABLE t",
        "CREATE TABLE u AS SELECT 1",
        "INSERT INTO t VALUES (3)",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let r = env.run(&["sql", statement, "--table", "t.csv"]).fails_with(2);
        assert!(
            r.stderr.contains("vuhitra sql is read-only") && r.stderr.contains("--write"),
            "{statement}: {}",
            r.stderr
        );
    }
    assert!(!target.exists(), "a refused COPY wrote nothing");
    // Reading is untouched; --write lets the statement run.
    let j = env.run(&["--json", "sql", "SELECT count(*) AS n FROM t", "--table", "t.csv"]).ok().json();
    assert_eq!(j[0]["n"], 2);
    env.run(&["sql", &copy, "--write"]).ok();
    assert!(target.exists(), "COPY … TO ran with --write");
}

#[test]
fn profiles_of_data_in_memory_are_exact_and_streamed_ones_are_marked() {
    let mut env = TestEnv::new();
    // 5,000 distinct ids (a sketch said 5,015), and small data whose
    // quartiles pandas gives exactly: [1, 2, 3, 4] -> 1.75, 2.5, 3.25.
    let mut csv = String::from("id,x,f\n");
    for i in 0..5000 {
        let x = [1, 2, 3, 4][i % 4];
        csv.push_str(&format!("{i},{x},{}.5\n", i % 7));
    }
    env.file("ids.csv", &csv);
    let j = env.run(&["--json", "analyze", "ids.csv"]).ok().json();
    let col = |name: &str| column(&j["profile"], name).clone();
    assert_eq!(col("id")["distinct"], 5000);
    assert_eq!(col("f")["distinct"], 7);
    assert_eq!(col("x")["quartiles"], serde_json::json!([1.75, 2.5, 3.25]));
    assert_eq!(col("id")["approximate"], false);
    let text = env.run(&["analyze", "ids.csv"]).ok().stdout;
    assert!(!text.contains('≈'), "{text}");
    // Streamed (DATA_IN_MEMORY_MAX=0): sketches, marked, and never more
    // distinct values than values.
    env.set("DATA_IN_MEMORY_MAX", "0");
    let j = env.run(&["--json", "analyze", "ids.csv"]).ok().json();
    let id = column(&j["profile"], "id").clone();
    assert_eq!(id["approximate"], true);
    assert!(id["distinct"].as_u64().unwrap() <= 5000, "{id}");
    let text = env.run(&["analyze", "ids.csv"]).ok().stdout;
    assert!(text.contains('≈'), "{text}");
}

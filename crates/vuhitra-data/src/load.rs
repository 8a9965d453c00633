//! Files into DataFusion tables. The format comes from the content first
//! (Parquet and Excel have magic bytes), then the extension; CSV and TSV get
//! their delimiter, header and encoding sniffed from the first 64 KiB.
//! Non-UTF-8 text is read as Latin-1 and converted into a temporary UTF-8
//! copy, since DataFusion reads UTF-8 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: not found")]
    NotFound { path: PathBuf },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error("{path} looks binary, not {expected} (it has NUL bytes)")]
    Binary { path: PathBuf, expected: &'static str },
    #[error("{path} has a .{ext} extension but is not {format} ({why})")]
    WrongExtension { path: PathBuf, ext: String, format: &'static str, why: &'static str },
    #[error("cannot tell the format of {path}{}", ext.as_ref().map(|e| format!(" (.{e})")).unwrap_or_default())]
    UnknownFormat { path: PathBuf, ext: Option<String> },
    #[error("{path}: row {row} has {found} fields, but the header has {expected}")]
    Ragged { path: PathBuf, row: u64, found: usize, expected: usize },
    #[error("{path}: the workbook has no sheets")]
    NoSheets { path: PathBuf },
    #[error("{path}: no sheet named {sheet:?} (sheets: {available})")]
    NoSuchSheet { path: PathBuf, sheet: String, available: String },
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Query(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl DataError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DataError::UnknownFormat { .. } | DataError::WrongExtension { .. } => {
                Some("name the format: --format csv|tsv|json|ndjson|parquet|excel".into())
            }
            DataError::Ragged { .. } => {
                Some("fix or remove that row; every row needs the same number of fields".into())
            }
            _ => None,
        }
    }

    /// Problems with the input (exit 2) rather than failures (exit 1).
    pub fn is_input(&self) -> bool {
        !matches!(self, DataError::Io { .. } | DataError::Query(_))
    }
}

pub type Result<T> = std::result::Result<T, DataError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Json,
    Ndjson,
    Parquet,
    Excel,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" => Format::Parquet,
            "excel" | "xlsx" | "xls" | "xlsm" | "xlsb" | "ods" => Format::Excel,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub format: Option<Format>,
    pub sheet: Option<String>,
    /// Where temporary UTF-8 copies of Latin-1 files go.
    pub scratch: Option<PathBuf>,
}

/// What was registered, and how it was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Loaded {
    pub table: String,
    pub path: PathBuf,
    pub format: Format,
    pub delimiter: Option<char>,
    pub header: Option<bool>,
    pub encoding: &'static str,
    pub sheet: Option<String>,
    /// Read into memory once (true), or read from the file by every query.
    pub in_memory: bool,
    /// A converted copy to remove when done.
    #[serde(skip)]
    pub temp: Option<PathBuf>,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = std::fs::remove_file(t);
        }
    }
}

/// A table name from a file name: its stem, with anything but letters,
/// digits and `_` turned into `_` (so `sales-2024.csv` is `sales_2024`).
pub fn table_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "t".into());
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 't');
    }
    name
}

fn head(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound { path: path.to_path_buf() },
        _ => DataError::Io { path: path.to_path_buf(), source: e },
    })?;
    let mut buf = vec![0u8; n];
    let mut len = 0;
    while len < n {
        let r = f.read(&mut buf[len..]).map_err(|e| DataError::Io { path: path.to_path_buf(), source: e })?;
        if r == 0 {
            break;
        }
        len += r;
    }
    buf.truncate(len);
    Ok(buf)
}

/// Decides the format from the content, the extension and the option.
pub fn detect(path: &Path, head: &[u8], forced: Option<Format>) -> Result<Format> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let by_ext = ext.as_deref().and_then(Format::parse);
    let wrong = |format, why| DataError::WrongExtension {
        path: path.to_path_buf(),
        ext: ext.clone().unwrap_or_default(),
        format,
        why,
    };
    let parquet = head.starts_with(b"PAR1");
    let zip = head.starts_with(b"PK\x03\x04");
    let ole = head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    match forced.or(by_ext) {
        Some(Format::Parquet) if !parquet => Err(wrong("Parquet", "no PAR1 magic")),
        Some(Format::Excel) if !(zip || ole) => Err(wrong("an Excel workbook", "not a zip or OLE file")),
        Some(f) => Ok(f),
        None if parquet => Ok(Format::Parquet),
        None if zip || ole => Ok(Format::Excel),
        None if matches!(ext.as_deref(), Some("txt") | None) => Ok(Format::Csv),
        None => Err(DataError::UnknownFormat { path: path.to_path_buf(), ext }),
    }
}

/// Registers `path` as `table` in `ctx`.
pub async fn register(ctx: &SessionContext, table: &str, path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let start = head(path, 64 * 1024)?;
    if start.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let format = detect(path, &start, opts.format)?;
    let mut loaded = Loaded {
        table: table.to_string(),
        path: path.to_path_buf(),
        format,
        delimiter: None,
        header: None,
        encoding: "utf-8",
        sheet: None,
        in_memory: false,
        temp: None,
    };
    let read_err =
        |e: datafusion::error::DataFusionError| DataError::Read { path: path.to_path_buf(), message: e.to_string() };
    match format {
        Format::Csv | Format::Tsv => {
            if start.contains(&0) {
                return Err(DataError::Binary { path: path.to_path_buf(), expected: "text" });
            }
            let mut source = path.to_path_buf();
            if std::str::from_utf8(trim_partial(&start)).is_err() {
                let tmp = latin1_to_utf8(path, opts.scratch.as_deref())?;
                loaded.encoding = "latin-1";
                loaded.temp = Some(tmp.clone());
                source = tmp;
            }
            let text = String::from_utf8_lossy(&start);
            let delimiter = if format == Format::Tsv { '\t' } else { sniff_delimiter(&text) };
            let header = sniff_header(&text, delimiter);
            loaded.delimiter = Some(delimiter);
            loaded.header = Some(header);
            let ext = extension_of(&source);
            let options = CsvReadOptions::new().delimiter(delimiter as u8).has_header(header).file_extension(&ext);
            if let Err(e) = ctx.register_csv(table, source.to_string_lossy().as_ref(), options).await {
                return Err(loaded.read_error(e.to_string()));
            }
        }
        Format::Json | Format::Ndjson => {
            if start.contains(&0) {
                return Err(DataError::Binary { path: path.to_path_buf(), expected: "JSON" });
            }
            let array = start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
            let ext = extension_of(path);
            let options = JsonReadOptions::default().file_extension(&ext).newline_delimited(!array);
            ctx.register_json(table, path.to_string_lossy().as_ref(), options).await.map_err(read_err)?;
            loaded.format = if array { Format::Json } else { Format::Ndjson };
        }
        Format::Parquet => {
            let ext = extension_of(path);
            let options = ParquetReadOptions::default().file_extension(&ext);
            ctx.register_parquet(table, path.to_string_lossy().as_ref(), options).await.map_err(read_err)?;
        }
        Format::Excel => {
            let (sheet, batch) = read_excel(path, opts.sheet.as_deref())?;
            ctx.register_batch(table, batch).map_err(read_err)?;
            loaded.sheet = Some(sheet);
            loaded.in_memory = true;
        }
    }
    Ok(loaded)
}

impl Loaded {
    /// How the file was read, for people: ", delimiter ',', header row,
    /// utf-8" or ", sheet Q3"; empty when there is nothing to say.
    pub fn how_read(&self) -> String {
        match (self.delimiter, self.header) {
            (Some(d), Some(header)) => format!(
                ", delimiter {}, {}, {}",
                if d == '\t' { "tab".to_string() } else { format!("{d:?}") },
                if header { "header row" } else { "no header row" },
                self.encoding
            ),
            _ => self.sheet.as_ref().map(|s| format!(", sheet {s}")).unwrap_or_default(),
        }
    }

    /// Why reading the table failed, for people: a CSV row with the wrong
    /// number of fields, by its number, when that is the cause; else the
    /// reader's own message. The rows are scanned only now, after the reader
    /// failed, so a good file is parsed once, not scanned beforehand too.
    pub fn read_error(&self, message: String) -> DataError {
        self.check_rows().unwrap_or(DataError::Read { path: self.path.clone(), message })
    }

    /// The first CSV row with the wrong number of fields, as the error to
    /// show; none for other formats or when every row fits.
    pub fn ragged_row(&self) -> Option<DataError> {
        self.check_rows().filter(|e| matches!(e, DataError::Ragged { .. }))
    }

    /// Scans a CSV's rows: a ragged row, or the file's I/O error.
    fn check_rows(&self) -> Option<DataError> {
        let (d, header) = (self.delimiter?, self.header?);
        let source = self.temp.as_deref().unwrap_or(&self.path);
        check_ragged(source, &self.path, d, header).err()
    }

    /// Whether several queries over this table are faster from memory: a
    /// text file (parsed again by every query) of at most `limit` bytes.
    /// Parquet is columnar and cheap to re-read, and Excel is in memory
    /// already.
    pub fn worth_reading_into_memory(&self, limit: u64) -> bool {
        let text = matches!(self.format, Format::Csv | Format::Tsv | Format::Json | Format::Ndjson);
        text && !self.in_memory && std::fs::metadata(&self.path).is_ok_and(|m| m.len() <= limit)
    }

    /// Reads the table into memory once, in as many partitions as the
    /// scan had, so that later queries do not parse the file again.
    pub async fn read_into_memory(&mut self, ctx: &SessionContext) -> Result<()> {
        let read_err =
            |e: datafusion::error::DataFusionError| DataError::Read { path: self.path.clone(), message: e.to_string() };
        let df = ctx.table(&self.table).await.map_err(read_err)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let started = std::time::Instant::now();
        let partitions = df.collect_partitioned().await.map_err(|e| self.read_error(e.to_string()))?;
        tracing::debug!("{}: read into memory in {:.1?}", self.path.display(), started.elapsed());
        let table = MemTable::try_new(schema, partitions).map_err(read_err)?;
        ctx.deregister_table(&self.table).map_err(read_err)?;
        ctx.register_table(&self.table, Arc::new(table)).map_err(read_err)?;
        self.in_memory = true;
        Ok(())
    }
}

fn extension_of(path: &Path) -> String {
    path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default()
}

fn trim_partial(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Err(e) if e.error_len().is_none() => &b[..e.valid_up_to()],
        _ => b,
    }
}

/// The delimiter that splits the first lines into the same number of fields
/// (more than one), preferring the one giving more fields.
pub fn sniff_delimiter(text: &str) -> char {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(20).collect();
    let lines = if lines.len() > 1 && !text.ends_with('\n') { &lines[..lines.len() - 1] } else { &lines[..] };
    let mut best = (',', 0usize);
    for d in [',', '\t', ';', '|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_fields(l, d)).collect();
        let Some(&first) = counts.first() else { continue };
        if first > 1 && counts.iter().all(|&c| c == first) && first > best.1 {
            best = (d, first);
        }
    }
    best.0
}

fn count_fields(line: &str, d: char) -> usize {
    let mut n = 1;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == d && !quoted => n += 1,
            _ => {}
        }
    }
    n
}

fn split_fields(line: &str, d: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == d && !quoted => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// A header row: no field of the first row is a number, and some column has
/// numbers below it; with text only, a first row of distinct, non-empty names.
pub fn sniff_header(text: &str, d: char) -> bool {
    let rows: Vec<Vec<String>> =
        text.lines().filter(|l| !l.trim().is_empty()).take(20).map(|l| split_fields(l, d)).collect();
    let Some(first) = rows.first() else { return true };
    let numeric = |s: &str| s.trim().parse::<f64>().is_ok();
    if first.iter().any(|f| numeric(f)) {
        return false;
    }
    let later_numeric = rows.iter().skip(1).any(|r| r.iter().any(|f| numeric(f)));
    if later_numeric {
        return true;
    }
    let mut names: Vec<&str> = first.iter().map(|s| s.trim()).collect();
    let non_empty = names.iter().all(|n| !n.is_empty());
    names.sort();
    names.dedup();
    non_empty && names.len() == first.len()
}

/// Finds the first row with the wrong number of fields, so the user hears
/// the row number instead of a parser error from deep inside a query.
fn check_ragged(source: &Path, shown: &Path, d: char, header: bool) -> Result<()> {
    let f = std::fs::File::open(source).map_err(|e| DataError::Io { path: shown.to_path_buf(), source: e })?;
    let mut expected = None;
    let mut pending = String::new();
    let mut row = 0u64;
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| DataError::Io { path: shown.to_path_buf(), source: e })?;
        // A quoted field may span lines.
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if pending.matches('"').count() % 2 == 1 {
            continue;
        }
        let record = std::mem::take(&mut pending);
        if record.trim().is_empty() {
            continue;
        }
        row += 1;
        let n = count_fields(&record, d);
        match expected {
            None => expected = Some(n),
            Some(e) if e != n => {
                let data_row = if header { row - 1 } else { row };
                return Err(DataError::Ragged { path: shown.to_path_buf(), row: data_row, found: n, expected: e });
            }
            _ => {}
        }
    }
    Ok(())
}

fn latin1_to_utf8(path: &Path, scratch: Option<&Path>) -> Result<PathBuf> {
    let dir = scratch.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "csv".into());
    let out = dir.join(format!(".vuhitra-utf8-{}-{}.{ext}", std::process::id(), table_name(path)));
    let io = |e| DataError::Io { path: path.to_path_buf(), source: e };
    let mut input = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut output = std::io::BufWriter::new(std::fs::File::create(&out).map_err(io)?);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        // Latin-1 bytes are the first 256 code points.
        let s: String = buf[..n].iter().map(|&b| b as char).collect();
        output.write_all(s.as_bytes()).map_err(io)?;
    }
    output.flush().map_err(io)?;
    Ok(out)
}

/// Reads one sheet (the first by default) into a batch: the first row names
/// the columns; a column of numbers is Float64 (Int64 when all whole), of
/// booleans Boolean, anything else text.
fn read_excel(path: &Path, sheet: Option<&str>) -> Result<(String, RecordBatch)> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb =
        open_workbook_auto(path).map_err(|e| DataError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    let names = wb.sheet_names().to_vec();
    if names.is_empty() {
        return Err(DataError::NoSheets { path: path.to_path_buf() });
    }
    let name = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => {
            return Err(DataError::NoSuchSheet {
                path: path.to_path_buf(),
                sheet: s.into(),
                available: names.join(", "),
            })
        }
        None => names[0].clone(),
    };
    let range =
        wb.worksheet_range(&name).map_err(|e| DataError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    let mut rows = range.rows();
    let Some(header) = rows.next() else { return Err(DataError::Empty { path: path.to_path_buf() }) };
    let headers: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Data::Empty => format!("column_{}", i + 1),
            other => other.to_string(),
        })
        .collect();
    let body: Vec<&[Data]> = rows.collect();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let cells: Vec<&Data> = body.iter().map(|r| r.get(i).unwrap_or(&Data::Empty)).collect();
        let present = || cells.iter().filter(|c| !matches!(c, Data::Empty));
        let (dt, array): (DataType, ArrayRef) = if present().count() > 0 && present().all(|c| matches!(c, Data::Int(_)))
        {
            let v: Int64Array = cells.iter().map(|c| if let Data::Int(n) = c { Some(*n) } else { None }).collect();
            (DataType::Int64, Arc::new(v))
        } else if present().count() > 0 && present().all(|c| matches!(c, Data::Int(_) | Data::Float(_))) {
            let v: Float64Array = cells
                .iter()
                .map(|c| match c {
                    Data::Int(n) => Some(*n as f64),
                    Data::Float(f) => Some(*f),
                    _ => None,
                })
                .collect();
            (DataType::Float64, Arc::new(v))
        } else if present().count() > 0 && present().all(|c| matches!(c, Data::Bool(_))) {
            let v: BooleanArray = cells.iter().map(|c| if let Data::Bool(b) = c { Some(*b) } else { None }).collect();
            (DataType::Boolean, Arc::new(v))
        } else {
            let v: StringArray = cells
                .iter()
                .map(|c| match c {
                    Data::Empty => None,
                    Data::DateTime(d) => Some(excel_serial_to_text(d.as_f64())),
                    other => Some(other.to_string()),
                })
                .collect();
            (DataType::Utf8, Arc::new(v))
        };
        fields.push(Field::new(h, dt, true));
        columns.push(array);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| DataError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    Ok((name, batch))
}

/// An Excel date serial (days since 1899-12-30, fraction = time of day) as
/// ISO 8601 text.
fn excel_serial_to_text(serial: f64) -> String {
    let base =
        chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date").and_hms_opt(0, 0, 0).expect("valid time");
    let t = base + chrono::Duration::milliseconds((serial * 86_400_000.0).round() as i64);
    if serial.fract() == 0.0 {
        t.date().to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_headers_are_sniffed() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), ',');
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n"), ';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), '\t');
        assert_eq!(sniff_delimiter("name|\"x|y\"\nq|r\n"), '|');
        assert!(sniff_header("region,amount\nnorth,10\n", ','));
        assert!(!sniff_header("north,10\nsouth,20\n", ','));
        assert!(sniff_header("name,city\nann,paris\n", ','));
    }

    #[test]
    fn format_comes_from_content_then_extension() {
        let p = Path::new;
        assert_eq!(detect(p("x.bin"), b"PAR1....", None).unwrap(), Format::Parquet);
        assert!(matches!(detect(p("x.parquet"), b"a,b\n", None), Err(DataError::WrongExtension { .. })));
        assert!(matches!(detect(p("x.xlsx"), b"a,b\n", None), Err(DataError::WrongExtension { .. })));
        assert_eq!(detect(p("x.data"), b"a,b\n", Some(Format::Csv)).unwrap(), Format::Csv);
        assert!(matches!(detect(p("x.data"), b"a,b\n", None), Err(DataError::UnknownFormat { .. })));
        assert_eq!(table_name(p("dir/Sales-2024.csv")), "sales_2024");
        assert_eq!(table_name(p("2024.csv")), "t2024");
        assert_eq!(excel_serial_to_text(45292.0), "2024-01-01");
        assert_eq!(excel_serial_to_text(45292.5), "2024-01-01 12:00:00");
    }
}

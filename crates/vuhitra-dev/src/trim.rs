//! Failing output trimmed to what a model can act on: the first error, the
//! failing assertion, the traceback's last frames. Long output costs the
//! model its context and buries the one line that matters.

/// Lines kept of a failure, and characters.
const MAX_LINES: usize = 60;
const MAX_CHARS: usize = 4000;
/// Frames kept of a traceback or a stack.
const FRAMES: usize = 3;

/// At most MAX_LINES lines and MAX_CHARS characters: the start (where the
/// first error is) and the end (where the summary is).
pub fn lines(text: &str) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let mut out = if all.len() > MAX_LINES {
        let head = MAX_LINES / 3;
        let tail = MAX_LINES - head;
        let mut v: Vec<String> = all[..head].iter().map(|s| s.to_string()).collect();
        v.push(format!("… {} lines left out …", all.len() - head - tail));
        v.extend(all[all.len() - tail..].iter().map(|s| s.to_string()));
        v.join("\n")
    } else {
        all.join("\n")
    };
    if out.len() > MAX_CHARS {
        let mut cut = MAX_CHARS;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n… (cut)");
    }
    out
}

/// pytest's report from its FAILURES or ERRORS section on, without the
/// banner lines and the frames inside the standard library.
pub fn pytest(stdout: &str) -> String {
    let start = stdout.find("= FAILURES =").or_else(|| stdout.find("= ERRORS =")).unwrap_or(0);
    let from = stdout[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut out: Vec<String> = Vec::new();
    let mut in_stdlib_frame = false;
    for l in stdout[from..].lines() {
        if l.starts_with("!!!!") || (l.starts_with("====") && (l.contains("FAILURES") || l.contains("ERRORS"))) {
            continue;
        }
        if l.starts_with("/usr/lib/python")
            || l.starts_with("<frozen ")
            || l.contains("site-packages/") && !l.starts_with(' ')
        {
            in_stdlib_frame = true;
            continue;
        }
        if in_stdlib_frame && l.starts_with(' ') {
            continue;
        }
        in_stdlib_frame = false;
        if l.starts_with("___") || l.starts_with("===") {
            out.push(l.trim_matches(|c| c == '_' || c == '=' || c == ' ').to_string());
        } else {
            out.push(l.trim_end().to_string());
        }
    }
    out.join("\n")
}

/// The last Python traceback: its header, its last frames outside the
/// standard library, and the exception. None when there is none.
pub fn python_traceback(text: &str) -> Option<String> {
    let start = text.rfind("Traceback (most recent call last):");
    // A syntax error in the file itself has no traceback header.
    let Some(start) = start else {
        let at = text.find("SyntaxError:").or_else(|| text.find("IndentationError:"))?;
        let from = text[..at].rfind("  File \"").unwrap_or(at);
        return Some(text[from..].trim_end().to_string());
    };
    let body: Vec<&str> = text[start..].lines().skip(1).collect();
    let mut frames: Vec<Vec<&str>> = Vec::new();
    let mut rest = Vec::new();
    for l in &body {
        if l.starts_with("  File ") {
            frames.push(vec![l]);
        } else if l.starts_with("    ") && rest.is_empty() {
            if let Some(f) = frames.last_mut() {
                f.push(l);
            }
        } else {
            rest.push(*l);
        }
    }
    frames
        .retain(|f| !f[0].contains("/usr/lib/python") && !f[0].contains("site-packages") && !f[0].contains("<frozen "));
    let kept = frames.len().saturating_sub(FRAMES);
    let mut out = vec!["Traceback (most recent call last):".to_string()];
    if kept > 0 {
        out.push(format!("  … {kept} earlier frames …"));
    }
    for f in &frames[kept..] {
        out.extend(f.iter().map(|s| s.to_string()));
    }
    out.extend(rest.iter().map(|s| s.to_string()));
    Some(out.join("\n"))
}

fn is_internal_frame(l: &str) -> bool {
    let t = l.trim_start();
    t.contains("node:internal") || t.starts_with("node:") || t.contains("(node:")
}

/// The first failing test of a TAP report (node --test): its name, error,
/// expected and actual values, and the first frames of its stack; with the
/// file's own error output when the file did not load.
pub fn tap(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let Some(at) = lines.iter().position(|l| l.trim_start().starts_with("not ok ")) else {
        return stdout.to_string();
    };
    let mut out = Vec::new();
    // Comments right before a file's result are its stderr (a load error).
    let mut end = at;
    if end > 0 && lines[end - 1].starts_with("# Subtest") {
        end -= 1;
    }
    let mut k = end;
    while k > 0 && lines[k - 1].starts_with("# ") && !lines[k - 1].starts_with("# Subtest") {
        k -= 1;
    }
    out.extend(
        lines[k..end]
            .iter()
            .map(|l| &l[2..])
            .filter(|l| !is_internal_frame(l) && !l.starts_with("Node.js v"))
            .map(|l| l.to_string()),
    );
    out.push(lines[at].trim().to_string());
    let mut frames = 0;
    let mut in_stack = false;
    for l in &lines[at + 1..] {
        let t = l.trim();
        if t == "..." {
            break;
        }
        if t == "---" || t.starts_with("duration_ms:") || t.starts_with("failureType:") {
            continue;
        }
        if t.starts_with("stack:") {
            in_stack = true;
            out.push("  stack:".into());
            continue;
        }
        if in_stack {
            if is_internal_frame(t) || frames >= FRAMES {
                continue;
            }
            frames += 1;
        }
        out.push(l.to_string());
    }
    if let Some(summary) = lines.iter().find(|l| l.starts_with("# fail ")) {
        out.push(summary[2..].to_string());
    }
    out.join("\n")
}

/// A Node.js error: where it was thrown, the message, the first frames of
/// user code; Node's own frames and version line left out.
pub fn node_error(text: &str) -> String {
    let mut out = Vec::new();
    let mut frames = 0;
    for l in text.lines() {
        let t = l.trim_start();
        if t.starts_with("at ") {
            if is_internal_frame(t) || frames >= FRAMES {
                continue;
            }
            frames += 1;
        } else if t.starts_with("Node.js v") {
            continue;
        }
        out.push(l);
    }
    out.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTEST: &str = "\
.F
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
test_solution.py:5: in test_add
    assert add(1, 2) == 3
E   assert -1 == 3
E    +  where -1 = add(1, 2)
=========================== short test summary info ============================
FAILED test_solution.py::test_add - assert -1 == 3
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
1 failed, 1 passed in 0.03s
";

    #[test]
    fn pytest_keeps_the_failing_assertion_and_the_summary() {
        let t = pytest(PYTEST);
        assert!(t.starts_with("test_add\n"), "{t}");
        assert!(t.contains("E   assert -1 == 3") && t.contains("1 failed, 1 passed"), "{t}");
        assert!(!t.contains("!!!!") && !t.contains("FAILURES") && !t.contains(".F"), "{t}");
    }

    #[test]
    fn pytest_collection_errors_leave_out_standard_library_frames() {
        let out = "\n==================================== ERRORS ====================================\n\
            _________________________ ERROR collecting test_add.py _________________________\n\
            ImportError while importing test module '/w/test_add.py'.\nTraceback:\n\
            /usr/lib/python3.11/importlib/__init__.py:126: in import_module\n    return _bootstrap._gcd_import(name[level:], package, level)\n\
            <frozen importlib._bootstrap>:1206: in _gcd_import\n    ???\n\
            test_add.py:2: in <module>\n    from calc import add\nE   ModuleNotFoundError: No module named 'calc'\n\
            =========================== short test summary info ============================\nERROR test_add.py\n1 error in 0.08s\n";
        let t = pytest(out);
        assert!(t.starts_with("ERROR collecting test_add.py\n"), "{t}");
        assert!(!t.contains("importlib") && !t.contains("_gcd_import") && !t.contains("???"), "{t}");
        assert!(t.contains("test_add.py:2: in <module>\n    from calc import add\nE   ModuleNotFoundError"), "{t}");
    }

    #[test]
    fn a_python_traceback_keeps_its_last_frames_and_the_error() {
        let mut tb = String::from("starting\nTraceback (most recent call last):\n");
        for i in 0..6 {
            tb.push_str(&format!("  File \"/w/main.py\", line {i}, in f{i}\n    f{}()\n", i + 1));
        }
        tb.push_str("  File \"/usr/lib/python3.11/json/__init__.py\", line 346, in loads\n    return x\n");
        tb.push_str("ZeroDivisionError: division by zero\n");
        let t = python_traceback(&tb).unwrap();
        assert!(t.contains("3 earlier frames") && t.contains("line 5, in f5") && !t.contains("line 2,"), "{t}");
        assert!(!t.contains("json/__init__") && t.ends_with("ZeroDivisionError: division by zero"), "{t}");
        let syntax = "  File \"/w/a.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax\n";
        assert!(python_traceback(syntax).unwrap().contains("SyntaxError: invalid syntax"));
        assert_eq!(python_traceback("all good"), None);
    }

    #[test]
    fn tap_keeps_the_first_failure() {
        let tap_out = "TAP version 13\n# Subtest: adds\nnot ok 1 - adds\n  ---\n  duration_ms: 4.8\n  \
            location: '/w/sum.test.js:4:1'\n  failureType: 'testCodeFailure'\n  error: |-\n    Expected values to be strictly equal:\n\n    -1 !== 3\n\n  \
            expected: 3\n  actual: -1\n  stack: |-\n    TestContext.<anonymous> (/w/sum.test.js:4:29)\n    \
            Test.runInAsyncScope (node:async_hooks:206:9)\n    Test.run (node:internal/test_runner/test:796:25)\n  ...\n\
            # Subtest: zero\nok 2 - zero\n1..2\n# tests 2\n# pass 1\n# fail 1\n";
        let t = tap(tap_out);
        assert!(t.starts_with("not ok 1 - adds") && t.contains("-1 !== 3") && t.contains("actual: -1"), "{t}");
        assert!(t.contains("sum.test.js:4:29") && !t.contains("node:internal") && !t.contains("async_hooks"), "{t}");
        assert!(t.ends_with("fail 1") && !t.contains("duration_ms"), "{t}");
        let load = "TAP version 13\n# /w/bad.test.js:1\n# const x = ;\n#           ^\n# SyntaxError: Unexpected token ';'\n\
            #     at wrapSafe (node:internal/modules/cjs/loader:1464:18)\n# Node.js v20.20.2\n# Subtest: /w/bad.test.js\n\
            not ok 1 - /w/bad.test.js\n  ---\n  error: 'test failed'\n  ...\n# fail 1\n";
        let t = tap(load);
        assert!(
            t.contains("SyntaxError: Unexpected token ';'") && !t.contains("wrapSafe") && !t.contains("Node.js v"),
            "{t}"
        );
    }

    #[test]
    fn node_errors_drop_internal_frames() {
        let e = "/w/main.js:1\nnull.f()\n     ^\n\nTypeError: Cannot read properties of null (reading 'f')\n    \
            at Object.<anonymous> (/w/main.js:1:6)\n    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n\nNode.js v20.20.2\n";
        let t = node_error(e);
        assert!(
            t.contains("TypeError")
                && t.contains("/w/main.js:1:6")
                && !t.contains("Module._compile")
                && !t.contains("v20"),
            "{t}"
        );
    }

    #[test]
    fn long_output_keeps_its_start_and_end() {
        let text: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let t = lines(&text);
        assert!(t.starts_with("line 0\n") && t.ends_with("line 499") && t.contains("lines left out"), "{t}");
        assert!(t.lines().count() <= MAX_LINES + 1);
        let wide = "é".repeat(10_000);
        assert!(lines(&wide).len() <= MAX_CHARS + 10);
    }
}

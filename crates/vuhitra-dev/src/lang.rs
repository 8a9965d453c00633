//! Language handlers: how a project in one language is laid out, run and
//! tested, what its failures look like, and what the model is told about
//! it. Python and JavaScript share one interface.

use crate::trim;

/// One command a check runs in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What the command checks: "run", "tests" or "compile".
    pub kind: CheckKind,
    pub program: String,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Run,
    Tests,
    Compile,
    Install,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Run => "run",
            CheckKind::Tests => "tests",
            CheckKind::Compile => "compile",
            CheckKind::Install => "install",
        }
    }
}

impl Check {
    fn new(kind: CheckKind, program: &str, args: &[&str]) -> Check {
        Check { kind, program: program.into(), args: args.iter().map(|a| a.to_string()).collect() }
    }

    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

pub trait Language: Send + Sync {
    fn name(&self) -> &'static str;
    /// The fence language models use for it.
    fn fence(&self) -> &'static str;
    fn is_source(&self, path: &str) -> bool;
    fn is_test(&self, path: &str) -> bool;
    /// The file that runs the program, when the project has one.
    fn entry(&self, files: &[String]) -> Option<String>;
    /// What the model is told about layout, tests and the standard library.
    fn hints(&self) -> &'static str;
    /// The checks a set of files gets: the program, then the tests (or the
    /// user's test command); just a compile check when it has neither.
    fn checks(&self, files: &[String], test_cmd: Option<&str>, has_env: bool) -> Vec<Check>;
    /// With `--allow-install`: the command that builds the project's own
    /// environment from its dependency file, when it has one.
    fn install(&self, files: &[String]) -> Option<(String, Check)>;
    /// What matters in a failed check's output: the first error, the
    /// failing assertion, the last frames.
    fn failure(&self, kind: CheckKind, stdout: &str, stderr: &str) -> String;
    /// The package a failure says is missing.
    fn missing_package(&self, output: &str) -> Option<String>;
    /// A failure that is the sandbox's, not the model's (the test runner is
    /// not installed): the loop stops and says so.
    fn tooling_problem(&self, kind: CheckKind, exit_code: Option<i32>, output: &str) -> Option<String>;
}

pub fn by_name(name: &str) -> Option<&'static dyn Language> {
    match name.to_ascii_lowercase().as_str() {
        "python" | "py" => Some(&Python),
        "javascript" | "js" | "node" => Some(&JavaScript),
        _ => None,
    }
}

/// The language of an existing project, by its files.
pub fn detect(files: &[String]) -> Option<&'static dyn Language> {
    let count = |l: &dyn Language| files.iter().filter(|f| l.is_source(f)).count();
    match (count(&Python), count(&JavaScript)) {
        (0, 0) => None,
        (py, js) if py >= js => Some(&Python),
        _ => Some(&JavaScript),
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub struct Python;

impl Language for Python {
    fn name(&self) -> &'static str {
        "python"
    }
    fn fence(&self) -> &'static str {
        "python"
    }
    fn is_source(&self, path: &str) -> bool {
        path.ends_with(".py")
    }
    fn is_test(&self, path: &str) -> bool {
        let name = file_name(path);
        self.is_source(path) && (name.starts_with("test_") || name.ends_with("_test.py"))
    }
    fn entry(&self, files: &[String]) -> Option<String> {
        files.iter().find(|f| *f == "main.py" || *f == "app.py").cloned()
    }
    fn hints(&self) -> &'static str {
        "Python 3.11. Tests are pytest files named test_*.py that import the code under test and use plain \
         assert. A program that runs on its own goes in main.py. Use only the standard library unless told \
         that packages can be installed (then list them in requirements.txt)."
    }
    fn checks(&self, files: &[String], test_cmd: Option<&str>, has_env: bool) -> Vec<Check> {
        let python = if has_env { ".venv/bin/python" } else { "python3" };
        let mut checks = Vec::new();
        if let Some(entry) = self.entry(files) {
            checks.push(Check::new(CheckKind::Run, python, &[&entry]));
        }
        if let Some(cmd) = test_cmd {
            checks.push(Check::new(CheckKind::Tests, "sh", &["-c", cmd]));
        } else if files.iter().any(|f| self.is_test(f)) {
            // -x: the first failure is what the model needs; no cache files in the project.
            checks.push(Check::new(
                CheckKind::Tests,
                python,
                &["-m", "pytest", "-x", "-q", "--tb=short", "--no-header", "-p", "no:cacheprovider"],
            ));
        }
        if checks.is_empty() {
            let sources: Vec<&str> = files.iter().filter(|f| self.is_source(f)).map(String::as_str).collect();
            if !sources.is_empty() {
                let mut args = vec!["-m", "py_compile"];
                args.extend(sources);
                checks.push(Check::new(CheckKind::Compile, python, &args));
            }
        }
        checks
    }
    fn install(&self, files: &[String]) -> Option<(String, Check)> {
        files.iter().any(|f| f == "requirements.txt").then(|| {
            // System site packages: pytest from the sandbox's Python stays usable.
            let script = "python3 -m venv --system-site-packages .venv && \
                          .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt";
            ("requirements.txt".to_string(), Check::new(CheckKind::Install, "sh", &["-c", script]))
        })
    }
    fn failure(&self, kind: CheckKind, stdout: &str, stderr: &str) -> String {
        let text = if kind == CheckKind::Tests && (stdout.contains("= FAILURES =") || stdout.contains("= ERRORS =")) {
            trim::pytest(stdout)
        } else {
            let all = format!("{stdout}{stderr}");
            trim::python_traceback(&all).unwrap_or(all)
        };
        trim::lines(&text)
    }
    fn missing_package(&self, output: &str) -> Option<String> {
        let at = output.find("No module named ")?;
        let rest = &output[at + "No module named ".len()..];
        let name: String = rest.trim_start_matches('\'').chars().take_while(|c| *c != '\'' && *c != '\n').collect();
        Some(name.split('.').next().unwrap_or(&name).to_string())
    }
    fn tooling_problem(&self, kind: CheckKind, _code: Option<i32>, output: &str) -> Option<String> {
        (kind == CheckKind::Tests && output.contains("No module named pytest")).then(|| {
            "pytest is not installed for the sandbox's python3: install it (Debian: apt install python3-pytest), \
             or give the test command with --test-cmd"
                .to_string()
        })
    }
}

pub struct JavaScript;

impl Language for JavaScript {
    fn name(&self) -> &'static str {
        "javascript"
    }
    fn fence(&self) -> &'static str {
        "javascript"
    }
    fn is_source(&self, path: &str) -> bool {
        [".js", ".mjs", ".cjs"].iter().any(|e| path.ends_with(e))
    }
    fn is_test(&self, path: &str) -> bool {
        // The names `node --test` finds by itself.
        let name = file_name(path);
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        self.is_source(path)
            && (stem.ends_with(".test")
                || stem.ends_with("-test")
                || stem.ends_with("_test")
                || stem.starts_with("test-")
                || stem == "test"
                || path.starts_with("test/")
                || path.contains("/test/"))
    }
    fn entry(&self, files: &[String]) -> Option<String> {
        ["main.js", "index.js", "main.mjs", "index.mjs"]
            .iter()
            .find(|e| files.iter().any(|f| f == *e))
            .map(|e| e.to_string())
    }
    fn hints(&self) -> &'static str {
        "Node.js 20, CommonJS (require/module.exports). Tests use the built-in runner: files named *.test.js \
         with `const test = require('node:test'); const assert = require('node:assert');`. A program that runs \
         on its own goes in main.js. Use only Node's built-in modules unless told that packages can be \
         installed (then list them in package.json)."
    }
    fn checks(&self, files: &[String], test_cmd: Option<&str>, _has_env: bool) -> Vec<Check> {
        let mut checks = Vec::new();
        if let Some(entry) = self.entry(files) {
            checks.push(Check::new(CheckKind::Run, "node", &[&entry]));
        }
        if let Some(cmd) = test_cmd {
            checks.push(Check::new(CheckKind::Tests, "sh", &["-c", cmd]));
        } else if files.iter().any(|f| self.is_test(f)) {
            checks.push(Check::new(CheckKind::Tests, "node", &["--test", "--test-reporter=tap"]));
        }
        if checks.is_empty() {
            for f in files.iter().filter(|f| self.is_source(f)) {
                checks.push(Check::new(CheckKind::Compile, "node", &["--check", f]));
            }
        }
        checks
    }
    fn install(&self, files: &[String]) -> Option<(String, Check)> {
        files.iter().any(|f| f == "package.json").then(|| {
            let check =
                Check::new(CheckKind::Install, "npm", &["install", "--no-audit", "--no-fund", "--loglevel=error"]);
            ("package.json".to_string(), check)
        })
    }
    fn failure(&self, kind: CheckKind, stdout: &str, stderr: &str) -> String {
        let text = if kind == CheckKind::Tests && stdout.contains("not ok ") {
            trim::tap(stdout)
        } else {
            trim::node_error(&format!("{stdout}{stderr}"))
        };
        trim::lines(&text)
    }
    fn missing_package(&self, output: &str) -> Option<String> {
        let at = output.find("Cannot find module '")?;
        let name: String = output[at + "Cannot find module '".len()..].chars().take_while(|c| *c != '\'').collect();
        (!name.starts_with('.') && !name.starts_with('/')).then_some(name)
    }
    fn tooling_problem(&self, _kind: CheckKind, code: Option<i32>, output: &str) -> Option<String> {
        (code == Some(127) && output.contains("node"))
            .then(|| "node is not installed in the sandbox: install Node.js (Debian: apt install nodejs)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn python_checks_run_the_program_then_pytest() {
        let checks = Python.checks(&files(&["main.py", "util.py", "test_util.py"]), None, false);
        assert_eq!(checks.iter().map(|c| c.kind).collect::<Vec<_>>(), [CheckKind::Run, CheckKind::Tests]);
        assert_eq!(checks[0].command_line(), "python3 main.py");
        assert!(checks[1].command_line().starts_with("python3 -m pytest -x"));
        let lib = Python.checks(&files(&["util.py"]), None, true);
        assert_eq!(lib[0].command_line(), ".venv/bin/python -m py_compile util.py");
        let custom = Python.checks(&files(&["util.py", "test_util.py"]), Some("python3 -m unittest"), false);
        assert_eq!(custom[0].args, ["-c", "python3 -m unittest"]);
    }

    #[test]
    fn javascript_checks_use_the_built_in_runner() {
        let js = JavaScript.checks(&files(&["sum.js", "sum.test.js"]), None, false);
        assert_eq!(js[0].command_line(), "node --test --test-reporter=tap");
        assert!(
            JavaScript.is_test("test/sum.js") && JavaScript.is_test("sum_test.mjs") && !JavaScript.is_test("sum.js")
        );
        assert_eq!(JavaScript.checks(&files(&["a.js"]), None, false)[0].command_line(), "node --check a.js");
        assert_eq!(detect(&files(&["a.js", "b.js", "c.py"])).unwrap().name(), "javascript");
        assert_eq!(detect(&files(&["README.md"])).map(|l| l.name()), None);
    }

    #[test]
    fn missing_packages_are_named() {
        assert_eq!(
            Python.missing_package("E   ModuleNotFoundError: No module named 'numpy.linalg'"),
            Some("numpy".into())
        );
        assert_eq!(
            JavaScript.missing_package("Error: Cannot find module 'lodash'\nRequire stack:"),
            Some("lodash".into())
        );
        assert_eq!(JavaScript.missing_package("Error: Cannot find module './sum'"), None);
        assert!(Python
            .tooling_problem(CheckKind::Tests, Some(1), "/usr/bin/python3: No module named pytest")
            .is_some());
    }
}

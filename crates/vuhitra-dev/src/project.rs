//! A dev-mode project: a directory in the workspace that the model's files
//! are written into, only inside it, each file atomically and all of an
//! answer's files or none.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::edits::{apply_replacements, Change, FileEdit};

/// Where dev-mode projects live inside the workspace.
pub const PROJECTS_DIR: &str = "projects";

/// Directories that are not the project's source: environments, caches,
/// version control. Never shown to the model, never written by it.
fn is_ignored_dir(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules" || name == "__pycache__"
}

/// Files larger than this are listed, not read.
const MAX_TEXT_FILE: u64 = 1024 * 1024;
/// A project is small; a walk stops here.
const MAX_FILES: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{name:?} is not a usable project name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub struct Project {
    pub name: String,
    root: PathBuf,
    /// The account files are handed to (the sandbox's, when run as root).
    owner: Option<u32>,
}

/// A file as one answer leaves it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Planned {
    pub path: String,
    pub before: Option<String>,
    pub after: String,
}

/// The project's text files at one moment (binary and large files by hash).
pub type Snapshot = BTreeMap<String, String>;

impl Project {
    /// Opens (creating) `workspace/projects/NAME`. The name is a relative
    /// path of plain parts: no `..`, no absolute path, no hidden part.
    pub fn open(workspace: &Path, name: &str, owner: Option<u32>) -> Result<Project, ProjectError> {
        let bad = |why| ProjectError::BadName { name: name.to_string(), why };
        let rel = Path::new(name);
        if name.trim().is_empty() {
            return Err(bad("it is empty"));
        }
        for c in rel.components() {
            match c {
                Component::Normal(part) if !is_ignored_dir(&part.to_string_lossy()) => {}
                Component::Normal(_) => return Err(bad("a part starts with '.' or is a cache directory")),
                Component::CurDir => {}
                _ => return Err(bad("it must be a relative name inside the workspace (no '..', no '/' at the start)")),
            }
        }
        let projects = workspace.join(PROJECTS_DIR);
        let root = projects.join(rel);
        let project = Project { name: name.to_string(), root, owner };
        project.refuse_links(&projects, rel).map_err(|_| bad("it goes through a symbolic link"))?;
        project.create_dirs(&project.root)?;
        // Also a directory made by someone else: sandboxed checks need to
        // write in it (their TMPDIR is the project). Its files stay theirs.
        project.hand_over(&project.root)?;
        Ok(project)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project's files, relative and sorted, outside ignored directories.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out.sort();
        out
    }

    /// A file's text, when it is text and not too large.
    pub fn read(&self, rel: &str) -> Option<String> {
        let path = self.root.join(rel);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_TEXT_FILE {
            return None;
        }
        String::from_utf8(std::fs::read(path).ok()?).ok()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.files()
            .into_iter()
            .map(|f| {
                let text = self.read(&f).unwrap_or_else(|| match std::fs::read(self.root.join(&f)) {
                    Ok(bytes) => format!("(binary or large file, sha256 {})", vuhitra_nlp::sha256_hex(&bytes)),
                    Err(e) => format!("(unreadable: {e})"),
                });
                (f, text)
            })
            .collect()
    }

    /// Checks a path the model wrote and makes it relative to the project.
    pub fn checked_path(&self, path: &str) -> Result<PathBuf, String> {
        let p = path.trim();
        let refuse = |why: &str| Err(format!("{p}: {why}"));
        if p.is_empty() {
            return refuse("an empty path");
        }
        if p.starts_with('/') || p.starts_with('\\') || p.starts_with('~') || p.get(1..2) == Some(":") {
            return refuse("absolute paths are refused; write paths relative to the project, such as src/app.py");
        }
        if p.contains('\0') || p.contains('\\') {
            return refuse("the path has a character paths may not have here");
        }
        let mut rel = PathBuf::new();
        for c in Path::new(p).components() {
            match c {
                Component::CurDir => {}
                Component::Normal(part) => rel.push(part),
                _ => return refuse("'..' is refused: files stay inside the project"),
            }
        }
        let parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if parts.is_empty() {
            return refuse("an empty path");
        }
        if parts[..parts.len() - 1].iter().any(|d| is_ignored_dir(d)) {
            return refuse("that directory is the project's environment or a cache; it is not written");
        }
        if self.refuse_links(&self.root, &rel).is_err() {
            return refuse("it goes through a symbolic link, which could lead out of the project; refused");
        }
        match std::fs::symlink_metadata(self.root.join(&rel)) {
            Ok(m) if m.is_dir() => return refuse("that is a directory"),
            Ok(m) if !m.is_file() => return refuse("that is not a regular file"),
            _ => {}
        }
        Ok(rel)
    }

    /// Works out every file the edits leave, without writing: either all
    /// are fine, or the problems come back (and nothing is written).
    /// `read_only` files may be read but not changed (tests the user wrote).
    pub fn plan(&self, edits: &[FileEdit], read_only: &[String]) -> Result<Vec<Planned>, Vec<String>> {
        let mut plan: Vec<Planned> = Vec::new();
        let mut problems = Vec::new();
        for edit in edits {
            let rel = match self.checked_path(&edit.path) {
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if read_only.iter().any(|r| r.trim_start_matches("./") == rel) {
                problems.push(format!("{rel}: this file is read-only in this task; change the other files"));
                continue;
            }
            // A file edited twice in one answer: the second edit sees the first.
            let current = plan.iter().position(|p| p.path == rel).map(|i| plan.remove(i));
            let before = match &current {
                Some(p) => p.before.clone(),
                None => self.read(&rel),
            };
            let base = current.map(|p| p.after).or_else(|| before.clone());
            let after = match &edit.change {
                Change::Whole(text) => text.clone(),
                Change::Replace(r) => match apply_replacements(&rel, base.as_deref().unwrap_or(""), r) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                },
            };
            if before.is_none() && self.root.join(&rel).exists() {
                problems.push(format!("{rel}: the file exists but is binary or too large to edit"));
                continue;
            }
            plan.push(Planned { path: rel, before, after });
        }
        if problems.is_empty() {
            Ok(plan)
        } else {
            Err(problems)
        }
    }

    /// Writes the planned files: each to a temporary file beside it, then
    /// all renamed into place, so a reader never sees half a file.
    pub fn write(&self, plan: &[Planned]) -> Result<(), ProjectError> {
        let mut staged = Vec::new();
        for p in plan {
            let target = self.root.join(&p.path);
            let dir = target.parent().expect("a file in the project has a parent");
            self.create_dirs(dir)?;
            let io = |source| ProjectError::Io { path: target.clone(), source };
            let mut tmp = tempfile::Builder::new().prefix(".vuhitra-").tempfile_in(dir).map_err(io)?;
            tmp.write_all(p.after.as_bytes()).map_err(io)?;
            tmp.as_file().sync_all().map_err(io)?;
            self.hand_over(tmp.path())?;
            staged.push((tmp, target));
        }
        for (tmp, target) in staged {
            tmp.persist(&target).map_err(|e| ProjectError::Io { path: target.clone(), source: e.error })?;
        }
        Ok(())
    }

    fn create_dirs(&self, dir: &Path) -> Result<(), ProjectError> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => self.hand_over(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(source) => Err(ProjectError::Io { path: dir.to_path_buf(), source }),
        }
    }

    /// Gives the sandbox account the file, so sandboxed tests can rewrite it.
    fn hand_over(&self, path: &Path) -> Result<(), ProjectError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| ProjectError::Io { path: path.to_path_buf(), source };
        if let Some(uid) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).map_err(io)?;
        }
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
    }

    /// Errs when any existing part of `base/rel` is a symbolic link.
    fn refuse_links(&self, base: &Path, rel: &Path) -> Result<(), ()> {
        let mut at = base.to_path_buf();
        for part in rel.iter() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => return Err(()),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        if kind.is_dir() && !is_ignored_dir(&name) {
            walk(&e.path(), &rel, out);
        } else if kind.is_file() && !name.starts_with(".vuhitra-") {
            out.push(rel);
        }
    }
}

/// A unified diff of every file that differs between two snapshots.
pub fn diff(before: &Snapshot, after: &Snapshot) -> String {
    let mut out = String::new();
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for path in paths {
        let (a, b) = (before.get(path), after.get(path));
        if a == b {
            continue;
        }
        let old_name = if a.is_some() { format!("a/{path}") } else { "/dev/null".into() };
        let new_name = if b.is_some() { format!("b/{path}") } else { "/dev/null".into() };
        let text = similar::TextDiff::from_lines(a.map_or("", String::as_str), b.map_or("", String::as_str));
        out.push_str(&text.unified_diff().context_radius(3).header(&old_name, &new_name).to_string());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Lines added and removed, for a one-line summary.
pub fn diff_stat(before: Option<&str>, after: &str) -> (usize, usize) {
    let d = similar::TextDiff::from_lines(before.unwrap_or(""), after);
    let mut stat = (0, 0);
    for change in d.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => stat.0 += 1,
            similar::ChangeTag::Delete => stat.1 += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    stat
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::parse;

    impl Project {
        fn plan_all(&self, edits: &[FileEdit]) -> Result<Vec<Planned>, Vec<String>> {
            self.plan(edits, &[])
        }
    }

    #[test]
    fn read_only_files_are_not_changed() {
        let (_d, p) = project();
        std::fs::write(p.root().join("test_a.py"), "assert True\n").unwrap();
        let edits = parse("a.py\n```python\nx = 1\n```\n./test_a.py\n```python\nassert 1\n```").unwrap().edits;
        let problems = p.plan(&edits, &["test_a.py".into()]).unwrap_err();
        assert_eq!(problems, ["test_a.py: this file is read-only in this task; change the other files"]);
        assert!(p.plan(&edits[..1], &["test_a.py".into()]).is_ok());
    }

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::open(dir.path(), "demo", None).unwrap();
        (dir, p)
    }

    #[test]
    fn files_are_written_inside_the_project_only() {
        let (_d, p) = project();
        let plan = p.plan_all(&parse("src/app.py\n```python\nx = 1\n```").unwrap().edits).unwrap();
        p.write(&plan).unwrap();
        assert_eq!(std::fs::read_to_string(p.root().join("src/app.py")).unwrap(), "x = 1\n");
        for bad in ["../escape.py", "/etc/passwd", "a/../../b.py", "~/x.py", ".venv/lib/x.py", "node_modules/x.js"] {
            let edits = parse(&format!("```python {bad}\nx = 1\n```")).unwrap().edits;
            let problems = p.plan_all(&edits).unwrap_err();
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        }
        assert!(!p.root().parent().unwrap().join("escape.py").exists());
    }

    #[test]
    fn a_symlink_out_of_the_project_is_refused() {
        let (d, p) = project();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, p.root().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("f.py"), p.root().join("f.py")).unwrap();
        for path in ["link/x.py", "f.py"] {
            let edits = parse(&format!("```python {path}\nx = 1\n```")).unwrap().edits;
            let problems = p.plan_all(&edits).unwrap_err();
            assert!(problems[0].contains("symbolic link"), "{problems:?}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(Project::open(d.path(), "../x", None).is_err());
        assert!(Project::open(d.path(), "/abs", None).is_err());
    }

    #[test]
    fn one_bad_edit_writes_nothing() {
        let (_d, p) = project();
        std::fs::write(p.root().join("a.py"), "a = 1\n").unwrap();
        let answer =
            "b.py\n```python\nb = 2\n```\n```python a.py\n<<<<<<< SEARCH\nnot there\n=======\nz\n>>>>>>> REPLACE\n```";
        let problems = p.plan_all(&parse(answer).unwrap().edits).unwrap_err();
        assert!(problems[0].contains("a.py") && problems[0].contains("not in the file"), "{problems:?}");
        assert!(!p.root().join("b.py").exists());
    }

    #[test]
    fn edits_apply_in_order_and_diff_shows_them() {
        let (_d, p) = project();
        std::fs::write(p.root().join("a.py"), "def f():\n    return 1\n").unwrap();
        let before = p.snapshot();
        let answer = "```python a.py\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n```\n\
                      ```python a.py\n<<<<<<< SEARCH\ndef f():\n=======\ndef g():\n>>>>>>> REPLACE\n```";
        let plan = p.plan_all(&parse(answer).unwrap().edits).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].before.as_deref(), Some("def f():\n    return 1\n"));
        p.write(&plan).unwrap();
        let d = diff(&before, &p.snapshot());
        assert!(d.contains("--- a/a.py") && d.contains("-def f():") && d.contains("+    return 2"), "{d}");
        assert_eq!(diff_stat(plan[0].before.as_deref(), &plan[0].after), (2, 2));
        assert_eq!(p.files(), vec!["a.py"]);
    }
}

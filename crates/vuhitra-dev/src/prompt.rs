//! What the model is told: the answer format, the task with the project's
//! files, and feedback after each iteration.

use crate::lang::Language;
use crate::project::Snapshot;

/// Characters of project files shown to the model; past this, files are
/// listed by name only.
const FILES_BUDGET: usize = 24_000;

pub fn system(lang: &dyn Language, allow_install: bool) -> String {
    let fence = lang.fence();
    let install = if allow_install {
        "Packages may be installed: list them in the dependency file; they are installed before the checks run."
    } else {
        "No packages can be installed."
    };
    // Short on purpose: small models follow a short format description best.
    format!(
        "Answer with files only. For each file you create or change, write its path alone on one line, then \
         the whole file in a ```{fence} block. Your files are written into the project, then the program and \
         its tests run and you are shown what failed.\n\
         To change part of a long file, the block may hold edits instead, the SEARCH lines exactly as they are:\n\
         <<<<<<< SEARCH\ncurrent lines\n=======\nnew lines\n>>>>>>> REPLACE\n\
         Paths are relative to the project: no '..', no absolute paths. {} {install}",
        lang.hints()
    )
}

pub fn task(task: &str, files: &Snapshot, lang: &dyn Language, read_only: &[String]) -> String {
    let mut out = format!("Task: {task}\n\n");
    if files.is_empty() {
        out.push_str("The project is empty.");
        return out;
    }
    out.push_str("The project's files now:\n");
    let mut used = 0;
    let mut listed = Vec::new();
    for (path, text) in files {
        if used + text.len() > FILES_BUDGET || text.starts_with("(binary or large file") {
            listed.push(path.as_str());
            continue;
        }
        used += text.len();
        let fence = if text.contains("```") { "````" } else { "```" };
        let info = if lang.is_source(path) { lang.fence() } else { "" };
        out.push_str(&format!("\n{path}\n{fence}{info}\n{text}"));
        if !text.ends_with('\n') && !text.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{fence}\n"));
    }
    if !listed.is_empty() {
        out.push_str(&format!("\nAlso in the project (not shown): {}\n", listed.join(", ")));
    }
    if !read_only.is_empty() {
        out.push_str(&format!("\nRead-only, do not write these files: {}\n", read_only.join(", ")));
    }
    out
}

pub fn format_feedback(problems: &str, lang: &dyn Language) -> String {
    format!(
        "Your answer could not be applied, and nothing was written:\n{problems}\n\nAnswer again with each file as \
         its path alone on one line, then the whole file in a ```{} block.",
        lang.fence()
    )
}

pub fn failure_feedback(failure: &str, unnamed: &[usize], missing: Option<&str>, allow_install: bool) -> String {
    let mut out = format!("The files were written, and a check failed:\n\n{failure}\n");
    if let Some(module) = missing {
        let packages = if allow_install {
            "add it to the dependency file"
        } else {
            "packages cannot be installed here, so use only the standard library"
        };
        out.push_str(&format!(
            "\n`{module}` could not be imported: if it is one of your modules, write its file; if it is a package, \
             {packages}.\n"
        ));
    }
    if !unnamed.is_empty() {
        let at: Vec<String> = unnamed.iter().map(|l| l.to_string()).collect();
        out.push_str(&format!(
            "\n(The block at line {} of your answer named no file and was left out.)\n",
            at.join(", ")
        ));
    }
    out.push_str("\nFix the files so the checks pass. Answer with every changed file in full.");
    out
}

pub fn feedback_after_edit(failure: &str) -> String {
    format!(
        "The project's files were changed (the files above are current), and now a check fails:\n\n{failure}\n\n\
         Fix the files so the checks pass. Answer with every changed file in full."
    )
}

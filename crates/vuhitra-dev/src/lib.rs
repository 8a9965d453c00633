//! Dev mode: the model writes code, the sandbox runs it, failures feed back.
//!
//! ```text
//! task ─> model ─> edits (parse: path line / info string, whole file or
//!         SEARCH/REPLACE) ─> project (checked paths, atomic writes)
//!      ─> language handler's checks in the sandbox (program, tests)
//!      ─> pass: done, with a diff · fail: the trimmed failure goes back
//! ```
//!
//! [`DevSession::run_task`] runs the loop on the pipeline's `iterate`,
//! within the session's iterations (MAX_ITERATIONS_DEV or _PROD) and its
//! cancellation token; an [`Observer`] sees each iteration as it ends (the
//! binary keeps the transcript and the heuristics records there).

pub mod edits;
pub mod lang;
pub mod project;
pub mod prompt;
pub mod session;
pub mod trim;
pub mod watch;

pub use lang::{Check, CheckKind, Language};
pub use project::{Project, ProjectError, PROJECTS_DIR};
pub use session::{CheckRun, DevError, DevSession, Iteration, Observer, Settings, TaskEnd, Verdict, Written};
pub use watch::Watcher;

//! The sandbox: the workspace where uploaded files live (with size limits,
//! safe names and a register), and executors that run a command with its
//! working directory there, under time, CPU, memory, file-size, process and
//! output limits, with a scrubbed environment and no network by default.

pub mod confine;
pub mod docker;
pub mod exec;
pub mod workspace;

pub use confine::Confinement;
pub use exec::{AnyExecutor, Executor, LocalExecutor, RunOutcome, RunSpec, SandboxError};
pub use workspace::{UploadError, Workspace};

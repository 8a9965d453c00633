//! Vuhitra's core: configuration, prompt keywords and context files — the
//! pieces every command shares.

pub mod config;
pub mod context_files;
pub mod http;
pub mod keywords;
pub mod remote;

pub use config::{Config, ConfigError, Sources};

//! One module per command.

pub mod chat;
pub mod completions;
pub mod config;
pub mod doctor;
pub mod info;
pub mod models;
pub mod nlp;
pub mod repl;
pub mod sessions;

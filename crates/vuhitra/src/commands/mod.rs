//! One module per command.

pub mod ask;
pub mod cache;
pub mod chat;
pub mod chat_tools;
pub mod completions;
pub mod config;
pub mod data;
pub mod dev;
pub mod doctor;
pub mod files;
pub mod heuristics;
pub mod info;
pub mod mcp;
pub mod mcp_serve;
pub mod models;
pub mod nlp;
pub mod rag;
pub mod rate;
pub mod repl;
pub mod run;
pub mod sessions;

//! The one HTTP client setup, shared by every service client (Ollama,
//! Elasticsearch, ...): same user agent, connect timeout, and no proxy —
//! every service Vuhitra talks to is local or on the stack's network, and a
//! system-wide proxy would silently send prompts elsewhere.

use std::time::Duration;

pub fn client(connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent(concat!("vuhitra/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .build()
        .expect("reqwest client with static settings builds")
}

/// The innermost cause of an error (reqwest's own message is just "error
/// sending request"), for messages that say what actually went wrong.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

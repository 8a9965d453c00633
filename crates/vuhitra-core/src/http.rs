//! The one HTTP client setup, shared by every service client (Ollama,
//! Elasticsearch, ...): same user agent, connect timeout, TLS through
//! rustls, and no proxy — every service Vuhitra talks to is local or on the
//! stack's network, and a system-wide proxy would silently send prompts
//! elsewhere.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::remote::{Access, AccessError, Auth};

/// A client with the system's CA roots and no credentials.
pub fn client(connect_timeout: Duration) -> reqwest::Client {
    builder(connect_timeout).build().expect("reqwest client with static settings builds")
}

/// A client for one service: it trusts only the CA file when one is given,
/// and sends the credentials with every request (marked sensitive, so they
/// never appear in reqwest's own debug output).
pub fn client_for(connect_timeout: Duration, access: &Access) -> Result<reqwest::Client, AccessError> {
    let mut b = builder(connect_timeout);
    if let Some(pem) = access.ca_pem()? {
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| AccessError::NotPem {
            key: access.ca_key,
            path: access.ca_cert.clone().unwrap_or_default(),
        })?;
        b = b.tls_certs_only(certs);
    }
    if let Some(auth) = &access.auth {
        let value = match auth {
            Auth::Bearer(t) => format!("Bearer {}", t.expose()),
            Auth::ApiKey(k) => format!("ApiKey {}", k.expose()),
            Auth::Password { username, password } => {
                use base64::Engine;
                let pair = format!("{username}:{}", password.expose());
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| AccessError::BadHeader { what: access.auth_keys })?;
        value.set_sensitive(true);
        b = b.default_headers(HeaderMap::from_iter([(AUTHORIZATION, value)]));
    }
    Ok(b.build().expect("reqwest client with checked settings builds"))
}

fn builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    // Libraries and tests build clients without going through main.
    crate::remote::install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent(concat!("vuhitra/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
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

/// nginx (the usual TLS proxy) answers plain HTTP on its TLS port with a
/// 400 page saying so; this recognises it.
pub fn is_plain_http_to_tls_port(status: u16, body: &str) -> bool {
    status == 400 && body.contains("plain HTTP request was sent to HTTPS port")
}

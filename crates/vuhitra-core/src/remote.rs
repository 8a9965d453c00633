//! What a client needs to reach a remote service beyond its address: the CA
//! it trusts and the credentials it presents, and the messages that say what
//! went wrong when TLS or a login fails. Ollama, Elasticsearch and Redis
//! clients are all built from an [`Access`], so TLS works one way everywhere
//! (rustls with the ring provider; no OpenSSL).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A value that must never be printed: `Debug` and `Display` show `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// The credentials a client presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer …` (a token for a proxy in front of Ollama).
    Bearer(Secret),
    /// `Authorization: ApiKey …` (Elasticsearch's encoded API key).
    ApiKey(Secret),
    /// HTTP basic auth, or Redis's `AUTH [user] password` (an empty user is
    /// Redis's default user).
    Password { username: String, password: Secret },
}

/// How one service is reached beyond its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The key that names the service (`ELASTICSEARCH_URL`, …), for messages.
    pub url_key: &'static str,
    /// A PEM file of the CA(s) to trust instead of the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The key that sets `ca_cert`, for messages.
    pub ca_key: &'static str,
    pub auth: Option<Auth>,
    /// The keys that set the credentials, for messages.
    pub auth_keys: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read {key}={}: {source}", path.display())]
    ReadCa { key: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{key}={} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", path.display())]
    NotPem { key: &'static str, path: PathBuf },
    #[error("{what} cannot be sent in an HTTP header (it has control characters)")]
    BadHeader { what: &'static str },
}

impl Access {
    /// The CA file's bytes, checked to hold at least one PEM certificate.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, AccessError> {
        let Some(path) = &self.ca_cert else { return Ok(None) };
        let pem = std::fs::read(path).map_err(|source| AccessError::ReadCa {
            key: self.ca_key,
            path: path.clone(),
            source,
        })?;
        if !pem_has_certificate(&pem) {
            return Err(AccessError::NotPem { key: self.ca_key, path: path.clone() });
        }
        Ok(Some(pem))
    }

    /// Says what a failed connection or request means for this service:
    /// an untrusted certificate (and which CA was tried), TLS spoken to a
    /// plain port, or plain text to a TLS port.
    pub fn explain(&self, url: &url::Url, error: &(dyn std::error::Error + 'static)) -> String {
        let target = format!("{}:{}", url.host_str().unwrap_or("?"), url.port_or_known_default().unwrap_or(0));
        let other = other_scheme(url.scheme());
        if let Some(tls) = find_rustls_error(error) {
            return self.explain_tls(&target, other, tls);
        }
        let cause = crate::http::root_cause(error);
        let plain = matches!(url.scheme(), "http" | "redis");
        if plain && looks_like_dropped_connection(error) {
            return format!(
                "{cause} — the server at {target} closed the connection; if it expects TLS, use {other}:// in {}",
                self.url_key
            );
        }
        cause
    }

    /// `other` is the scheme with TLS switched (https ↔ http, rediss ↔ redis).
    fn explain_tls(&self, target: &str, other: &str, e: &rustls::Error) -> String {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => {
                let what = match c {
                    C::UnknownIssuer => "is signed by a CA this client does not trust".to_string(),
                    C::NotValidForName | C::NotValidForNameContext { .. } => {
                        format!("is not valid for the name in {}", self.url_key)
                    }
                    C::Expired | C::ExpiredContext { .. } => "has expired".into(),
                    C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet".into(),
                    C::Revoked => "is revoked".into(),
                    C::BadSignature => "has a bad signature".into(),
                    other => format!("was refused ({other:?})"),
                };
                let fix = match &self.ca_cert {
                    Some(p) => format!("it is not signed by the CA in {}={}", self.ca_key, p.display()),
                    None => format!("set {} to the PEM file of the CA that signed it", self.ca_key),
                };
                format!("the TLS certificate of {target} {what}: {fix}")
            }
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                format!("{target} does not speak TLS (a plain port?); use {other}:// in {} ({e})", self.url_key)
            }
            other => format!("TLS with {target} failed: {other}"),
        }
    }

    /// A hint for a refused login (HTTP 401/403, Redis NOAUTH/WRONGPASS).
    pub fn login_hint(&self) -> String {
        match &self.auth {
            None => format!("the server wants credentials: set {}", self.auth_keys),
            Some(_) => format!("the server refused the credentials: check {}", self.auth_keys),
        }
    }
}

/// The same scheme with TLS switched on or off.
fn other_scheme(scheme: &str) -> &str {
    match scheme {
        "https" => "http",
        "http" => "https",
        "rediss" => "redis",
        "redis" => "rediss",
        other => other,
    }
}

fn pem_has_certificate(pem: &[u8]) -> bool {
    pem.windows(b"-----BEGIN CERTIFICATE-----".len()).any(|w| w == b"-----BEGIN CERTIFICATE-----")
}

/// Whether an error is a failed TLS handshake or TLS protocol error (not
/// worth retrying: it fails the same way again).
pub fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    find_rustls_error(error).is_some()
}

/// The rustls error in a chain of errors.
fn find_rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut found = None;
    visit(error, &mut |e| {
        found = e.downcast_ref::<rustls::Error>();
        found.is_some()
    });
    found
}

/// A connection the server reset or closed before answering: what a TLS
/// server does with plain text.
fn looks_like_dropped_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    visit(error, &mut |e| {
        let io_kind = e.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        matches!(io_kind, Some(K::ConnectionReset | K::UnexpectedEof | K::BrokenPipe | K::ConnectionAborted))
            || e.to_string().contains("connection closed before message completed")
    })
}

type DynError = dyn std::error::Error + 'static;

/// Calls `f` on every error of a chain until it returns true, looking
/// inside the wrappers whose `source()` skips the wrapped error itself:
/// `io::Error` (hyper and tokio-rustls put the rustls error there) and the
/// `Arc` redis keeps its cause in.
fn visit<'a>(error: &'a DynError, f: &mut impl FnMut(&'a DynError) -> bool) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if f(e) {
            return true;
        }
        let wrapped: Option<&'a DynError> =
            match (e.downcast_ref::<std::io::Error>(), e.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>()) {
                (Some(io), _) => io.get_ref().map(|inner| inner as &DynError),
                (_, Some(arc)) => Some(arc.as_ref() as &DynError),
                _ => None,
            };
        if wrapped.is_some_and(|w| visit(w, f)) {
            return true;
        }
        next = e.source();
    }
    false
}

/// Installs the process's TLS provider (ring): reqwest and redis look it up
/// and panic without one. Every client setup calls it before building a
/// client (it does nothing the second time), so a process that never opens
/// a connection never pays for it.
pub fn install_tls_provider() {
    // Err means one is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("vuhitra-remote-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("x.pem");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let access =
            |p: &std::path::Path| Access { ca_cert: Some(p.into()), ca_key: "REDIS_CA_CERT", ..Default::default() };
        let e = access(&not_pem).ca_pem().unwrap_err().to_string();
        assert!(e.contains("REDIS_CA_CERT=") && e.contains("no PEM certificate"), "{e}");
        let e = access(&dir.join("missing.pem")).ca_pem().unwrap_err().to_string();
        assert!(e.starts_with("cannot read REDIS_CA_CERT="), "{e}");
        assert_eq!(Access::default().ca_pem().unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tls_errors_are_found_inside_io_and_arc_wrappers() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        assert!(is_tls_failure(&io));
        let arc: Arc<dyn std::error::Error + Send + Sync> = Arc::new(io);
        assert!(is_tls_failure(&arc));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_tls_failure(&plain));
    }

    #[test]
    fn explanations_name_the_key_to_fix() {
        let access = Access { url_key: "ELASTICSEARCH_URL", ca_key: "ELASTICSEARCH_CA_CERT", ..Default::default() };
        let url: url::Url = "https://es.example:9200".parse().unwrap();
        let unknown = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let m = access.explain(&url, &unknown);
        assert!(m.contains("es.example:9200") && m.contains("set ELASTICSEARCH_CA_CERT"), "{m}");
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let m = access.explain(&"http://es.example:9200".parse().unwrap(), &reset);
        assert!(m.contains("use https:// in ELASTICSEARCH_URL"), "{m}");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "****");
        assert_eq!(Secret::new("hunter2").to_string(), "****");
    }
}

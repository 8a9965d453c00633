//! The one way to open a Redis connection: `redis://` or `rediss://` (TLS
//! through rustls, trusting REDIS_CA_CERT when set), the password from
//! REDIS_URL or REDIS_PASSWORD, and a PING so a refused login is reported
//! at connect time, by name, rather than by the first real command.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::IntoConnectionInfo;
use url::Url;
use vuhitra_core::remote::{is_tls_failure, Access, Auth};

use crate::StoreError;

pub async fn connect(url: &Url, access: &Access, timeout: Duration) -> Result<MultiplexedConnection, StoreError> {
    vuhitra_core::remote::install_tls_provider();
    let shown = url.to_string();
    let unreachable = |reason: String| StoreError::RedisUnreachable { url: shown.clone(), reason };
    let setup = |reason: String| StoreError::Setup { service: "Redis", reason };
    let mut info = url.as_str().into_connection_info().map_err(|e| setup(e.to_string()))?;
    if let Some(Auth::Password { username, password }) = &access.auth {
        let mut settings = info.redis_settings().clone().set_password(password.expose());
        if !username.is_empty() {
            settings = settings.set_username(username);
        }
        info = info.set_redis_settings(settings);
    }
    let client = match access.ca_pem().map_err(|e| setup(e.to_string()))? {
        Some(root_cert) => {
            let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
            redis::Client::build_with_tls(info, certs)
        }
        None => redis::Client::open(info),
    }
    .map_err(|e| setup(e.to_string()))?;
    let connected = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok::<_, redis::RedisError>(conn)
    };
    match tokio::time::timeout(timeout, connected).await {
        Err(_) => Err(unreachable(no_answer(url, timeout))),
        Ok(Err(e)) if e.is_timeout() => Err(unreachable(no_answer(url, timeout))),
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) if is_login_failure(&e) => {
            Err(StoreError::Login { service: "Redis", url: shown, message: e.to_string(), hint: access.login_hint() })
        }
        Ok(Err(e)) if is_tls_failure(&e) => {
            Err(StoreError::Tls { service: "Redis", url: shown, reason: access.explain(url, &e) })
        }
        Ok(Err(e)) => Err(unreachable(access.explain(url, &e))),
    }
}

fn no_answer(url: &Url, timeout: Duration) -> String {
    // A plain Redis waits for a line that a TLS handshake never sends.
    if url.scheme() == "rediss" {
        return format!(
            "no answer to the TLS handshake within {} s; if the server speaks plain Redis, use redis:// in REDIS_URL",
            timeout.as_secs()
        );
    }
    format!("no answer within {} s", timeout.as_secs())
}

fn is_login_failure(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::AuthenticationFailed || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

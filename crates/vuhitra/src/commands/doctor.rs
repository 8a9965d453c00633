//! `vuhitra doctor` (and `config validate --services`): probe every
//! service; exit non-zero when a configured one is down.

use crate::app::App;
use crate::exit;
use crate::output::{self, outln, table};
use crate::services::{probe_all, Status};

pub async fn run(app: &App, quiet_embedded: bool) -> anyhow::Result<exit::Status> {
    let probes = probe_all(app).await;
    if app.json {
        output::json(&serde_json::to_value(&probes)?);
    } else {
        let rows: Vec<Vec<String>> = probes
            .iter()
            .filter(|p| !(quiet_embedded && p.status == Status::Embedded))
            .map(|p| {
                let status = match p.status {
                    Status::Ok => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "FAIL",
                    Status::Embedded => "embedded",
                };
                vec![
                    p.service.to_string(),
                    status.to_string(),
                    p.version.clone().unwrap_or_else(|| "-".into()),
                    p.latency_ms.map_or("-".into(), |ms| format!("{ms} ms")),
                    p.target.clone(),
                    p.detail.clone(),
                ]
            })
            .collect();
        outln(&table(&["SERVICE", "STATUS", "VERSION", "LATENCY", "TARGET", "DETAIL"], &rows));
    }
    let failed: Vec<_> = probes.iter().filter(|p| p.status == Status::Fail).map(|p| p.service).collect();
    if failed.is_empty() {
        Ok(exit::Status::Success)
    } else {
        if !app.json {
            eprintln!("error: unreachable or unhealthy: {}", failed.join(", "));
            eprintln!("hint: start the service, or unset its URL to use the embedded backend");
        }
        Ok(exit::Status::Failed(1))
    }
}

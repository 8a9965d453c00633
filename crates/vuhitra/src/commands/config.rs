//! `vuhitra config show|validate|init`. These work from the raw layer, so a
//! broken value can still be shown and explained.

use std::path::Path;

use vuhitra_core::config::{Kind, RawConfig, Scope, ENV_TEMPLATE, KEYS};
use vuhitra_core::Sources;

use crate::exit::Status;
use crate::output::{self, outln, table};

pub fn show(sources: &Sources, json: bool) -> anyhow::Result<()> {
    let raw = RawConfig::load(sources)?;
    let entries: Vec<_> = KEYS
        .iter()
        .map(|k| {
            let v = &raw.values[k.name];
            let error = raw.check(k.name).err().map(|e| e.to_string());
            (k, raw.shown(k.name), v.origin.to_string(), error)
        })
        .collect();
    if json {
        let v: Vec<_> = entries
            .iter()
            .map(|(k, value, origin, error)| {
                serde_json::json!({ "key": k.name, "value": value, "source": origin, "stack_only": k.scope == Scope::StackOnly, "error": error })
            })
            .collect();
        output::json(&serde_json::Value::Array(v));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(k, value, origin, error)| {
            let value = match (value.is_empty(), k.kind) {
                (false, _) => value.clone(),
                (true, Kind::ServiceUrl(_)) => "(unset: embedded)".to_string(),
                (true, _) => "(unset)".to_string(),
            };
            let mut source = origin.clone();
            if k.scope == Scope::StackOnly {
                source.push_str(" [stack only]");
            }
            if error.is_some() {
                source.push_str("  INVALID");
            }
            vec![k.name.to_string(), value, source]
        })
        .collect();
    outln(&table(&["KEY", "VALUE", "SOURCE"], &rows));
    for (key, line) in &raw.unknown_dotenv_keys {
        eprintln!("warning: .env line {line}: unknown key {key}");
    }
    Ok(())
}

pub fn validate(sources: &Sources, json: bool) -> anyhow::Result<Status> {
    let raw = RawConfig::load(sources)?;
    let errors = raw.all_errors();
    if json {
        let v: Vec<_> =
            errors.iter().map(|e| serde_json::json!({ "error": e.to_string(), "hint": e.hint() })).collect();
        let unknown: Vec<_> =
            raw.unknown_dotenv_keys.iter().map(|(k, l)| serde_json::json!({ "key": k, "line": l })).collect();
        output::json(&serde_json::json!({ "valid": errors.is_empty(), "errors": v, "unknown_keys": unknown }));
    } else {
        for e in &errors {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("  hint: {h}");
            }
        }
        for (key, line) in &raw.unknown_dotenv_keys {
            eprintln!("warning: .env line {line}: unknown key {key} (ignored)");
        }
        if errors.is_empty() {
            outln(&format!("configuration is valid ({} keys checked)", KEYS.len()));
        }
    }
    // Each invalid value has been reported above.
    Ok(Status::failed_if(!errors.is_empty(), 2))
}

pub fn init(path: &Path, force: bool, json: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        return Err(crate::exit::usage(
            format!("{} already exists; not overwriting it", path.display()),
            Some("pass --force to replace it, or --path to write elsewhere"),
        ));
    }
    super::sessions::write_atomically(path, ENV_TEMPLATE.as_bytes())?;
    if json {
        output::json(&serde_json::json!({ "path": path, "written": true }));
    } else {
        outln(&format!("wrote {} — edit it, then check it with `vuhitra config validate`", path.display()));
    }
    Ok(())
}

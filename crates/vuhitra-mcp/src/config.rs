//! `mcp.json`: the servers Vuhitra may start, in the `mcpServers` shape other
//! MCP clients use (Claude Desktop, Cursor, Cline, …), so a file copied from
//! one of them works as it is. Keys this file does not know are kept when it
//! is rewritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::McpError;

/// The whole file. Unknown top-level keys are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McpConfig {
    #[serde(rename = "mcpServers", default)]
    pub servers: BTreeMap<String, ServerEntry>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// One server: a command to start (stdio) or a URL (streamable HTTP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// A streamable HTTP endpoint instead of a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra HTTP headers for `url` (an Authorization header, say).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `stdio`, `http` or `streamable-http` (VS Code's and others' spelling);
    /// optional, since `command` or `url` already says which.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Vuhitra's switch; Cline's `disabled` is read too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Tools a model may call without asking (Cline calls it `autoApprove`);
    /// `"*"` allows every tool of the server.
    #[serde(default, alias = "autoApprove", skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// How a server is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport<'a> {
    Stdio { command: &'a str, args: &'a [String] },
    Http { url: &'a str },
}

impl ServerEntry {
    pub fn stdio(command: impl Into<String>, args: Vec<String>) -> Self {
        ServerEntry { command: Some(command.into()), args, ..Default::default() }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true) && !self.disabled.unwrap_or(false)
    }

    /// Whether a call to `tool` needs no confirmation.
    pub fn allows(&self, tool: &str) -> bool {
        self.allow.iter().any(|t| t == "*" || t == tool)
    }

    /// The transport this entry asks for, or why it cannot be used.
    pub fn transport(&self, name: &str) -> Result<Transport<'_>, McpError> {
        let bad = |why: String| McpError::Config(format!("server \"{name}\": {why}"));
        match self.kind.as_deref() {
            None | Some("stdio" | "http" | "streamable-http" | "streamableHttp") => {}
            Some("sse") => {
                return Err(bad(
                    "the SSE transport (from protocol 2024-11-05) is not supported; use the server's streamable HTTP endpoint".into(),
                ))
            }
            Some(other) => return Err(bad(format!("unknown transport type \"{other}\" (stdio or http)"))),
        }
        match (&self.command, &self.url) {
            (Some(c), None) if !c.trim().is_empty() => Ok(Transport::Stdio { command: c, args: &self.args }),
            (None, Some(u)) => {
                if u.starts_with("http://") || u.starts_with("https://") {
                    Ok(Transport::Http { url: u })
                } else {
                    Err(bad(format!("url \"{u}\" is not an http:// or https:// address")))
                }
            }
            (Some(_), Some(_)) => Err(bad("has both \"command\" and \"url\"; keep one".into())),
            _ => Err(bad("needs a \"command\" (a program to start) or a \"url\"".into())),
        }
    }
}

impl McpConfig {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<McpConfig, McpError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(McpConfig::default()),
            Err(e) => return Err(McpError::Config(format!("cannot read {}: {e}", path.display()))),
        };
        Self::parse(&text).map_err(|e| McpError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses the file's text; errors give the line and column.
    pub fn parse(text: &str) -> Result<McpConfig, String> {
        if text.trim().is_empty() {
            return Ok(McpConfig::default());
        }
        let config: McpConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for name in config.servers.keys() {
            check_name(name)?;
        }
        Ok(config)
    }

    /// Writes the file atomically (a temporary file renamed over it), so an
    /// interrupted write never leaves half a configuration.
    pub fn save(&self, path: &Path) -> Result<(), McpError> {
        let io = |e: std::io::Error| McpError::Config(format!("cannot write {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = serde_json::to_string_pretty(self).expect("the configuration serialises");
        text.push('\n');
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// The enabled servers, in name order.
    pub fn enabled(&self) -> impl Iterator<Item = (&String, &ServerEntry)> {
        self.servers.iter().filter(|(_, s)| s.is_enabled())
    }

    pub fn get(&self, name: &str) -> Result<&ServerEntry, McpError> {
        self.servers.get(name).ok_or_else(|| McpError::NoSuchServer {
            name: name.to_string(),
            known: self.servers.keys().cloned().collect(),
        })
    }
}

/// Server names become the `server__tool` prefix of the tools a model sees,
/// so they keep to the characters tool names allow and carry no `__`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.contains("__");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "server name \"{name}\" must be 1-32 letters, digits, '-' or '_', without \"__\" (it prefixes the tool names a model sees)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_from_another_client_loads_and_round_trips_its_unknown_keys() {
        let text = r#"{
          "mcpServers": {
            "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
            "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}, "disabled": true, "autoApprove": ["get_current_time"], "timeout": 60},
            "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}}
          },
          "globalShortcut": "Ctrl+Space"
        }"#;
        let c = McpConfig::parse(text).unwrap();
        assert_eq!(c.servers.len(), 3);
        let time = &c.servers["time"];
        assert!(!time.is_enabled(), "Cline's disabled is honoured");
        assert!(time.allows("get_current_time") && !time.allows("convert_time"));
        assert_eq!(time.other["timeout"], 60);
        assert_eq!(c.enabled().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["filesystem", "remote"]);
        assert_eq!(
            c.servers["remote"].transport("remote").unwrap(),
            Transport::Http { url: "https://example.com/mcp" }
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        c.save(&path).unwrap();
        let again = McpConfig::load(&path).unwrap();
        assert_eq!(again, c, "nothing is lost on rewrite");
        assert_eq!(again.other["globalShortcut"], "Ctrl+Space");
    }

    #[test]
    fn bad_entries_are_named() {
        let e = |s: &str| McpConfig::parse(s).unwrap_err();
        assert!(e("{\"mcpServers\": {\"a\": {\"command\": 3}}}").contains("line 1"));
        assert!(e("{\"mcpServers\": {\"a__b\": {\"command\": \"x\"}}}").contains("__"));
        assert!(e("{\"mcpServers\": [}").contains("line 1"));
        let none = ServerEntry::default();
        assert!(none.transport("x").unwrap_err().to_string().contains("needs a \"command\""));
        let sse = ServerEntry { kind: Some("sse".into()), url: Some("http://h/sse".into()), ..Default::default() };
        assert!(sse.transport("x").unwrap_err().to_string().contains("SSE"));
        let ftp = ServerEntry { url: Some("ftp://h".into()), ..Default::default() };
        assert!(ftp.transport("x").unwrap_err().to_string().contains("not an http"));
        assert_eq!(McpConfig::parse("  ").unwrap(), McpConfig::default());
        assert_eq!(McpConfig::load(Path::new("/nonexistent/mcp.json")).unwrap(), McpConfig::default());
    }
}

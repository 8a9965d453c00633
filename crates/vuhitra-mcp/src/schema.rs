//! Arguments checked against a tool's input schema before the call, so a
//! typo is caught with a message that names the field, not by the server.

use serde_json::Value;

/// The ways `args` breaks `schema`, one line each (empty when it fits). A
/// schema the validator cannot compile (a remote `$ref`, say) is left to the
/// server, which checks its own input anyway.
pub fn violations(schema: &Value, args: &Value) -> Vec<String> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("input schema not checked locally: {e}");
            return Vec::new();
        }
    };
    validator
        .iter_errors(args)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

/// The arguments a user typed: a JSON object, `{}` when none were given.
pub fn parse_args(text: Option<&str>) -> Result<serde_json::Map<String, Value>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(Default::default()) };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!("the arguments must be a JSON object, not {}", kind(&other))),
        Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn violations_name_the_field() {
        let schema = json!({"type": "object", "properties": {"path": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}, "required": ["path"]});
        assert!(violations(&schema, &json!({"path": "/tmp"})).is_empty());
        let v = violations(&schema, &json!({"n": 0}));
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().any(|m| m.contains("\"path\" is a required property")), "{v:?}");
        assert!(v.iter().any(|m| m.starts_with("/n:")), "{v:?}");
        assert!(violations(&json!({"$ref": "https://example.com/s.json"}), &json!({})).is_empty());
    }

    #[test]
    fn arguments_must_be_an_object() {
        assert!(parse_args(None).unwrap().is_empty());
        assert_eq!(parse_args(Some(r#"{"a": 1}"#)).unwrap()["a"], 1);
        assert!(parse_args(Some("[1]")).unwrap_err().contains("not an array"));
        assert!(parse_args(Some("{a:1}")).unwrap_err().contains("not valid JSON"));
    }
}

//! A host's answer (JSON with the camelCase keys of Node records) read as one of the core's types,
//! a problem named by where it is in the answer as JavaScript spells it (`[1].platformId: invalid
//! type …`, `.reason: is missing`).

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::value::camel_case;

/// `value` (camelCase keys) as a `T` (snake_case fields), or what is wrong with it and where.
pub(crate) fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(snake_case_keys(value)).map_err(|e| {
        let mut path: String = e
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                serde_path_to_error::Segment::Map { key } | serde_path_to_error::Segment::Enum { variant: key } => {
                    format!(".{}", camel_case(key))
                }
                serde_path_to_error::Segment::Unknown => String::new(),
            })
            .collect();
        let message = e.into_inner().to_string();
        // serde names a missing field in its message, at the path of the object that lacks it.
        let message = match message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(field) => {
                path.push('.');
                path.push_str(&camel_case(field));
                "is missing".to_owned()
            }
            // `unknown field `p99`, expected one of `p99_ms`, …`: the field names as JavaScript
            // writes them (every other quoted name is a value, such as `atomic_swap`).
            None if message.starts_with("unknown field `") => message
                .split('`')
                .enumerate()
                .map(|(i, part)| if i % 2 == 1 { camel_case(part) } else { part.to_owned() })
                .collect::<Vec<_>>()
                .join("`"),
            None => message,
        };
        ShapeError { path, message }
    })
}

/// A value that does not have the shape the core needs.
#[derive(Debug)]
pub(crate) struct ShapeError {
    /// Where, as JavaScript writes it (`[1].platformId`; empty for the value itself).
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_str() {
            "" => f.write_str(&self.message),
            path => write!(f, "{path}: {}", self.message),
        }
    }
}

/// `platformId` → `platform_id` at every depth (keys already in snake_case stay as they are).
fn snake_case_keys(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case_keys).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (snake_case(&k), snake_case_keys(v))).collect::<Map<_, _>>())
        }
        other => other,
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use loco_core::platform::{Capabilities, Instance, InstanceHealth, PlatformStatus, TrafficControl};
    use serde_json::json;

    use super::parse;

    #[test]
    fn problems_are_named_by_their_javascript_path() {
        let bad = json!([{"id": "a", "version": "v1", "state": "running"}, {"id": "b", "version": "v1"}]);
        assert_eq!(parse::<Vec<Instance>>(bad).unwrap_err().to_string(), "[1].state: is missing");
        let e = parse::<Vec<Instance>>(json!([{"id": "a", "version": "v1", "state": "running", "platformId": 5}]))
            .unwrap_err();
        assert_eq!(e.path, "[0].platformId");
        assert!(e.message.contains("expected a string"), "{e}");
        let e = parse::<Capabilities>(json!({"traffic": "fast", "nativeRollback": false, "logs": false})).unwrap_err();
        assert_eq!(e.path, ".traffic");
        assert!(e.message.contains("percentage"), "{e}");
        let e = parse::<Capabilities>(json!({"traffic": "percentage", "nativeRollback": false, "logs": false}))
            .unwrap_err();
        assert_eq!(e.to_string(), ".metrics: is missing");
        let e = parse::<PlatformStatus>(json!({"endpoint": null, "traffic": [{"version": "v1"}], "instances": []}))
            .unwrap_err();
        assert_eq!(e.to_string(), ".traffic[0].percent: is missing");
    }

    #[test]
    fn camel_case_answers_read_as_the_core_types() {
        let caps: Capabilities =
            parse(json!({"traffic": "atomic_swap", "nativeRollback": true, "logs": false, "metrics": false})).unwrap();
        assert_eq!((caps.traffic, caps.native_rollback), (TrafficControl::AtomicSwap, true));
        let health: InstanceHealth = parse(json!({"state": "exited", "reason": "oom"})).unwrap();
        assert_eq!(health, InstanceHealth::Exited { reason: "oom".to_owned() });
        let e = parse::<InstanceHealth>(json!({"state": "exited"})).unwrap_err();
        assert_eq!(e.to_string(), ".reason: is missing");
        let e = parse::<InstanceHealth>(json!({"state": "sleeping"})).unwrap_err();
        assert!(e.message.contains("unknown variant `sleeping`"), "{e}");
        let instance: Instance =
            parse(json!({"id": "a", "version": "v1", "state": "running", "platformId": "m-1"})).unwrap();
        assert_eq!((instance.pid, instance.platform_id.as_deref()), (None, Some("m-1")));
    }
}

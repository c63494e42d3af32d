//! Checking a JSON value against the JSON Schema generated from the Rust types, collecting every
//! problem with its path instead of stopping at the first (as deserializing would).
//!
//! It reads the subset of draft 2020-12 that schemars writes for Loco's types: `$ref` into
//! `$defs`, `type` (one or a list), `const`, `enum`, `properties` with `required` and
//! `additionalProperties`, `items`, `minItems`/`maxItems`, `minimum`/`maximum` and the integer
//! `format`s, and `oneOf`/`anyOf` (a tagged enum's variants are told apart by their `type`
//! constant).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::model::Timestamp;

/// Checks `value` against `schema`, whose `$ref`s point into `defs`, naming problems under `path`.
pub fn check(schema: &Value, value: &Value, path: &str, defs: &Map<String, Value>, problems: &mut Vec<FieldError>) {
    let schema = resolve(schema, defs);
    if let Some(branches) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        one_of(branches, value, path, defs, problems);
        return;
    }
    if let Some(expected) = schema.get("const") {
        if value != expected {
            problems.push(FieldError::new(path, format!("must be {expected}")));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            problems.push(FieldError::new(path, format!("must be one of: {}", list(allowed))));
        }
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            let wanted: Vec<&str> = types.iter().filter(|t| **t != "null").map(|t| article(t)).collect();
            problems.push(FieldError::new(path, format!("must be {}; got {}", wanted.join(" or "), describe(value))));
            return;
        }
    }
    match value {
        Value::Object(map) => object(schema, map, path, defs, problems),
        Value::Array(items) => array(schema, items, path, defs, problems),
        Value::Number(_) => number(schema, value, path, problems),
        Value::String(text)
            if schema.get("format").and_then(Value::as_str) == Some("date-time") && Timestamp::parse(text).is_err() =>
        {
            problems.push(FieldError::new(path, "must be an RFC 3339 time (2026-12-24T18:00:00Z)"));
        }
        _ => {}
    }
}

fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut schema = schema;
    for _ in 0..16 {
        match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
            Some(name) => match defs.get(name) {
                Some(target) => schema = target,
                None => break,
            },
            None => break,
        }
    }
    schema
}

/// The `type` constant a tagged enum's variant is known by.
fn tag(branch: &Value) -> Option<&str> {
    branch.get("properties")?.get("type")?.get("const")?.as_str()
}

fn one_of(branches: &[Value], value: &Value, path: &str, defs: &Map<String, Value>, problems: &mut Vec<FieldError>) {
    let branches: Vec<&Value> = branches.iter().map(|b| resolve(b, defs)).collect();
    let (nulls, others): (Vec<&Value>, Vec<&Value>) =
        branches.into_iter().partition(|b| b.get("type").and_then(Value::as_str) == Some("null"));
    if value.is_null() && !nulls.is_empty() {
        return;
    }
    // A string enum whose values are documented one by one.
    let constants: Vec<&Value> = others.iter().filter_map(|b| b.get("const")).collect();
    if !constants.is_empty() && constants.len() == others.len() {
        if !constants.contains(&value) {
            problems.push(FieldError::new(
                path,
                format!("must be one of: {}", list(&constants.into_iter().cloned().collect::<Vec<_>>())),
            ));
        }
        return;
    }
    let tags: Vec<&str> = others.iter().filter_map(|b| tag(b)).collect();
    if !tags.is_empty() && tags.len() == others.len() {
        let Some(map) = value.as_object() else {
            problems.push(FieldError::new(path, format!("must be an object; got {}", describe(value))));
            return;
        };
        let field = join(path, "type");
        match map.get("type") {
            None => problems.push(FieldError::new(field, format!("is required (one of: {})", tags.join(", ")))),
            Some(given) => match others.iter().find(|b| tag(b) == given.as_str()) {
                Some(branch) => check(branch, value, path, defs, problems),
                None => problems.push(FieldError::new(field, format!("must be one of: {}", tags.join(", ")))),
            },
        }
        return;
    }
    let mut first = None;
    for branch in &others {
        let mut found = Vec::new();
        check(branch, value, path, defs, &mut found);
        if found.is_empty() {
            return;
        }
        first.get_or_insert(found);
    }
    problems.extend(first.unwrap_or_else(|| vec![FieldError::new(path, "is not allowed here")]));
}

fn object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    defs: &Map<String, Value>,
    problems: &mut Vec<FieldError>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                problems.push(FieldError::new(join(path, name), "is required"));
            }
        }
    }
    for (key, item) in map {
        let field = join(path, key);
        match properties.and_then(|p| p.get(key)) {
            Some(property) => check(property, item, &field, defs, problems),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> =
                        properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                    problems
                        .push(FieldError::new(field, format!("is not a known field (known: {})", known.join(", "))));
                }
                Some(extra @ Value::Object(_)) => check(extra, item, &field, defs, problems),
                _ => {}
            },
        }
    }
}

fn array(schema: &Value, items: &[Value], path: &str, defs: &Map<String, Value>, problems: &mut Vec<FieldError>) {
    let count = items.len() as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64).filter(|min| count < *min) {
        problems.push(FieldError::new(path, format!("needs at least {min} items; has {count}")));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64).filter(|max| count > *max) {
        problems.push(FieldError::new(path, format!("may have at most {max} items; has {count}")));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), defs, problems);
        }
    }
}

fn number(schema: &Value, value: &Value, path: &str, problems: &mut Vec<FieldError>) {
    let Some(n) = value.as_f64() else { return };
    let (format_min, format_max) = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => (Some(0.0), Some(f64::from(u8::MAX))),
        Some("uint16") => (Some(0.0), Some(f64::from(u16::MAX))),
        Some("uint32") => (Some(0.0), Some(f64::from(u32::MAX))),
        Some("uint64" | "uint") => (Some(0.0), None),
        _ => (None, None),
    };
    let min = schema.get("minimum").and_then(Value::as_f64).or(format_min);
    let max = schema.get("maximum").and_then(Value::as_f64).or(format_max);
    if min.is_some_and(|min| n < min) || max.is_some_and(|max| n > max) {
        let range = match (min, max) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => unreachable!("a bound was broken"),
        };
        problems.push(FieldError::new(path, format!("must be {range}; got {value}")));
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn article(name: &str) -> &'static str {
    match name {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        _ => "something else",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("a string of {} characters", s.chars().count())
        }
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn list(values: &[Value]) -> String {
    values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>().join(", ")
}

/// `path.name`, or `name` at the top.
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

//! Parsing JSON documents (rollout plans, analysis thresholds) strictly: unknown fields, wrong
//! types and malformed JSON are validation errors naming the offending path, the same way for
//! every surface.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `json` into `T`. A problem is a validation error whose field is its path prefixed with
/// `prefix` (`"thresholds."` and `production.alpha` give `thresholds.production.alpha`), or
/// `whole` when it concerns the document as a whole (bad JSON, trailing characters, wrong type).
///
/// Every document is a JSON object (serde would also read a struct from an array of its fields;
/// that is refused), and a missing field is named itself (`name`, `strategy.steps`), not the
/// object that lacks it.
pub fn parse<T: DeserializeOwned>(json: &str, prefix: &str, whole: &str) -> Result<T> {
    if !json.trim_start().starts_with('{') {
        return Err(Error::invalid(whole, "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at_root = path == "." || path.is_empty();
        let inner = e.into_inner();
        let message = inner.to_string();
        // Internally tagged enums lose the path: the field is then named by the message.
        let missing = message
            .strip_prefix("missing field `")
            .or_else(|| message.strip_prefix("unknown field `").filter(|_| at_root))
            .and_then(|rest| rest.split('`').next());
        let field = match missing {
            Some(name) if at_root => format!("{prefix}{name}"),
            Some(name) => format!("{prefix}{path}.{name}"),
            None if at_root || inner.is_syntax() || inner.is_eof() => whole.to_owned(),
            None => format!("{prefix}{path}"),
        };
        Error::invalid(field, message)
    })?;
    de.end().map_err(|e| Error::invalid(whole, e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn problems_name_their_full_path() {
        let field = |json: &str| {
            parse::<BTreeMap<String, BTreeMap<String, u32>>>(json, "thresholds.", "thresholds").unwrap_err().details()
                [0]
            .field
            .clone()
        };
        assert_eq!(field(r#"{"production": {"min": "x"}}"#), "thresholds.production.min");
        assert_eq!(field("[1]"), "thresholds");
        assert_eq!(field(r#"{"a": {}} trailing"#), "thresholds");
        assert_eq!(field("{"), "thresholds");
        assert_eq!(field(" 7"), "thresholds");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Named {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        steps: Vec<u8>,
    }

    #[test]
    fn a_missing_field_is_named_and_an_array_is_not_an_object() {
        let field = |json: &str| parse::<Named>(json, "", "doc").unwrap_err().details()[0].field.clone();
        assert_eq!(field(r#"{"inner": {"steps": []}}"#), "name");
        assert_eq!(field(r#"{"name": "x", "inner": {}}"#), "inner.steps");
        assert_eq!(field(r#"["x", [[1]]]"#), "doc", "serde would read the fields from an array");
        assert!(parse::<Named>(r#" {"name": "x", "inner": {"steps": [1]}}"#, "", "doc").is_ok());
    }
}

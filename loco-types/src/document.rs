//! Parsing JSON documents (rollout plans, analysis thresholds) strictly: unknown fields, wrong
//! types and malformed JSON are validation errors naming the offending path, the same way for
//! every surface.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `json` into `T`. A problem is a validation error whose field is its path prefixed with
/// `prefix` (`"thresholds."` and `production.alpha` give `thresholds.production.alpha`), or
/// `whole` when it concerns the document as a whole (bad JSON, trailing characters, wrong type).
pub fn parse<T: DeserializeOwned>(json: &str, prefix: &str, whole: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let broken = inner.is_syntax() || inner.is_eof();
        let field = if path == "." || path.is_empty() || broken { whole.to_owned() } else { format!("{prefix}{path}") };
        Error::invalid(field, inner.to_string())
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
    }
}

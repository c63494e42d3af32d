//! Rollout plans and analysis thresholds arrive as JSON documents with the same snake_case keys
//! in every language (`args.rs` turns a JavaScript object into that JSON). The core parses and
//! validates them; errors name the fields as written in the document.

use loco_core::Error as CoreError;
use loco_core::analysis::Thresholds;
use loco_core::rollout::RolloutPlan;

use crate::error::Failure;

/// Parses and validates a rollout plan (`RolloutPlan::from_json`, the one place plans are checked).
pub(crate) fn plan(json: &str) -> Result<RolloutPlan, Failure> {
    RolloutPlan::from_json(json).map_err(Failure::Document)
}

/// Parses analysis thresholds given as `field` (`thresholds.production` for the environment
/// `production` of `Engine.open`'s options); with `validate`, the core's rules are checked too,
/// with field names under `field`. A document that does not parse is reported against `field`
/// as a whole, the message naming the culprit (loco-core has no `Thresholds::from_json` yet).
pub(crate) fn thresholds(json: &str, field: &str, validate: bool) -> Result<Thresholds, Failure> {
    let parsed: Thresholds =
        serde_json::from_str(json).map_err(|e| Failure::Document(CoreError::invalid(field, e.to_string())))?;
    if validate {
        parsed.validate(&format!("{field}.")).map_err(Failure::Document)?;
    }
    Ok(parsed)
}

//! Turns `loco_core::Error` into the JavaScript errors this package throws: `.code` is the core's
//! stable code string, `.details` lists `{field, message}` (empty unless `validation_error`), and
//! each variant's structured fields are camelCase properties (`deploymentId`, `activeDeploymentId`).
//!
//! Promise rejections cannot carry a custom `code` through `napi::Error` (its status is a fixed
//! enum there), so the error object is built on the JavaScript thread and the rejection refers to
//! that very object.

use loco_core::{Error as CoreError, FieldError as CoreFieldError};
use napi::bindgen_prelude::{Env, JsError, JsObjectValue, JsTypeError, JsValue, Unknown};
use napi_derive::napi;

/// One invalid input field of a `validation_error`.
#[napi(object, object_from_js = false)]
pub struct FieldError {
    /// The argument or property name, in camelCase (`workRefs[1]`, `rollbackPlan`, `actor`).
    pub field: String,
    /// What is wrong with it, in one sentence.
    pub message: String,
}

/// Why an operation failed before or inside the core.
#[derive(Debug)]
pub enum Failure {
    /// The core refused the operation; field names of a `validation_error` become the camelCase
    /// property names the caller wrote (`work_refs` → `workRefs`).
    Core(CoreError),
    /// The core refused an operation on a JSON document (a rollout plan, analysis thresholds),
    /// whose keys are snake_case in every language: field names stay as the core wrote them
    /// (`strategy.steps[1]`, `analysis.thresholds.min_samples`).
    Document(CoreError),
    /// Arguments had the wrong JavaScript type; thrown as a `TypeError` with code `validation_error`.
    Argument(CoreError),
}

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        Failure::Core(error)
    }
}

/// The JavaScript error for `failure`, as a `napi::Error` that refers to it, so throwing or
/// rejecting with it hands JavaScript exactly this object.
pub(crate) fn to_js(env: Env, failure: &Failure) -> napi::Error {
    let built = match failure {
        // Core field names are the HTTP JSON (snake_case) names; Node callers wrote camelCase.
        Failure::Core(CoreError::Validation { details }) => {
            let details = details.iter().map(|d| CoreFieldError::new(camel_case(&d.field), &d.message)).collect();
            build(env, &CoreError::Validation { details }, false)
        }
        Failure::Core(error) | Failure::Document(error) => build(env, error, false),
        Failure::Argument(error) => build(env, error, true),
    };
    built.unwrap_or_else(|e| e)
}

/// An `Error` (or `TypeError`) with the core's code and message, `details`, and each variant's
/// structured fields as camelCase properties.
fn build(env: Env, error: &CoreError, type_error: bool) -> napi::Result<napi::Error> {
    let base = napi::Error::new(error.code(), error.to_string());
    let value: Unknown =
        if type_error { JsTypeError::from(base).into_unknown(env) } else { JsError::from(base).into_unknown(env) };
    let mut object = value.coerce_to_object()?;
    let details: Vec<FieldError> =
        error.details().iter().map(|d| FieldError { field: d.field.clone(), message: d.message.clone() }).collect();
    object.set_named_property("details", details)?;
    #[expect(clippy::match_same_arms, reason = "the wildcard arm stands for variants added to the core later")]
    match error {
        CoreError::Validation { .. } => {}
        CoreError::NotFound { id } => object.set_named_property("deploymentId", id.as_str())?,
        CoreError::InvalidTransition { id, from, action } => {
            object.set_named_property("deploymentId", id.as_str())?;
            object.set_named_property("from", from.as_str())?;
            object.set_named_property("action", action.as_str())?;
        }
        CoreError::SelfApproval { id, actor, action } => {
            object.set_named_property("deploymentId", id.as_str())?;
            object.set_named_property("actor", actor.as_str())?;
            object.set_named_property("action", action.as_str())?;
        }
        CoreError::IdempotencyConflict { key } => object.set_named_property("idempotencyKey", key.as_str())?,
        CoreError::PayloadTooLarge { limit_bytes } => {
            object.set_named_property("limitBytes", u32::try_from(*limit_bytes).unwrap_or(u32::MAX))?;
        }
        CoreError::Storage { .. } => {}
        CoreError::RolloutConflict { service, environment, active } => {
            object.set_named_property("service", service.as_str())?;
            object.set_named_property("environment", environment.as_str())?;
            object.set_named_property("activeDeploymentId", active.as_str())?;
        }
        CoreError::RolloutInProgress { id } | CoreError::RolloutNotFound { id } => {
            object.set_named_property("deploymentId", id.as_str())?;
        }
        CoreError::RolloutNotPaused { id, state } => {
            object.set_named_property("deploymentId", id.as_str())?;
            object.set_named_property("state", state.as_str())?;
        }
        CoreError::Platform { platform, .. } => object.set_named_property("platform", platform.as_str())?,
        CoreError::RollbackFailed { id, .. } => object.set_named_property("deploymentId", id.as_str())?,
        // `loco_core::Error` is `#[non_exhaustive]`: a variant added later still throws with its
        // own code and message; give it its properties here.
        _ => {}
    }
    Ok(napi::Error::from_unknown_without_coercion(value))
}

/// `work_refs[1]` → `workRefs[1]`.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn core_field_names_become_the_camel_case_properties_callers_wrote() {
        for (core, node) in [
            ("service", "service"),
            ("work_refs", "workRefs"),
            ("work_refs[12]", "workRefs[12]"),
            ("rollback_plan", "rollbackPlan"),
            ("idempotency_key", "idempotencyKey"),
        ] {
            assert_eq!(camel_case(core), node);
        }
    }
}

//! Turns `loco_core::Error` into the JavaScript errors this package throws: `.code` is the core's
//! stable code string, `.details` lists `{field, message}` (`Error::details`; empty for most
//! codes), with `line` and `column` too where the core knows them (a problem in a manifest's
//! text), every structured fact of the error (`Error::facts`) is a camelCase property
//! (`deploymentId`, `fromStatus`, `blockingFindings`), and a `validation_failed` error's report
//! (`Error::report`) is `.report`, a record like any other, so no variant needs code of its own here.
//!
//! Promise rejections cannot carry a custom `code` through `napi::Error` (its status is a fixed
//! enum there), so the error object is built on the JavaScript thread and the rejection refers to
//! that very object.

use loco_core::error::Fact;
use loco_core::{Error as CoreError, FieldError};
use napi::bindgen_prelude::{Env, JsError, JsObjectValue, JsTypeError, JsValue, Object, Unknown};

use crate::value::{Json, camel_case};

/// Facts also set under an older name, so code written against earlier releases keeps working.
const ALIASES: [(&str, &str); 1] = [("from_status", "from")];

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
            let details = details.iter().map(|d| FieldError { field: camel_case(&d.field), ..d.clone() }).collect();
            build(env, &CoreError::Validation { details }, false)
        }
        Failure::Core(error) | Failure::Document(error) => build(env, error, false),
        Failure::Argument(error) => build(env, error, true),
    };
    built.unwrap_or_else(|e| e)
}

/// An `Error` (or `TypeError`) with the core's code and message, `details` (`line` and `column`
/// only where the core knows them, as the HTTP body has them), and the error's facts as camelCase
/// properties.
fn build(env: Env, error: &CoreError, type_error: bool) -> napi::Result<napi::Error> {
    let base = napi::Error::new(error.kind().as_str(), error.to_string());
    let value: Unknown =
        if type_error { JsTypeError::from(base).into_unknown(env) } else { JsError::from(base).into_unknown(env) };
    let mut object = value.coerce_to_object()?;
    let details = error
        .details()
        .iter()
        .map(|d| {
            let mut detail = Object::new(&env)?;
            detail.set("field", d.field.as_str())?;
            detail.set("message", d.message.as_str())?;
            if let Some(line) = d.line {
                detail.set("line", line)?;
            }
            if let Some(column) = d.column {
                detail.set("column", column)?;
            }
            Ok(detail)
        })
        .collect::<napi::Result<Vec<_>>>()?;
    object.set_named_property("details", details)?;
    for (name, fact) in error.facts() {
        let names = std::iter::once(camel_case(name))
            .chain(ALIASES.iter().filter(|(fact, _)| *fact == name).map(|(_, alias)| (*alias).to_owned()));
        for property in names {
            match fact {
                Fact::Text(text) => object.set_named_property(&property, text)?,
                Fact::Number(number) => object.set_named_property(&property, number as f64)?,
            }
        }
    }
    if let Some(report) = error.report() {
        let report = Json::of(report).map_err(|_| napi::Error::from_reason("the validation report is not JSON"))?;
        object.set_named_property("report", report.into_js(&env)?)?;
    }
    Ok(napi::Error::from_unknown_without_coercion(value))
}

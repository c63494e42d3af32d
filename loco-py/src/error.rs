//! Python exceptions for [`loco_core::Error`]: `loco.LocoError` and one subclass per error code,
//! chosen by one exhaustive `match` on [`ErrorCode`] (never on message text).
//!
//! Every exception carries `.code` (also a class attribute of each subclass) and `.details` (the
//! `{field, message}` list of a validation error, plus `line` and `column` for a problem in a
//! manifest's text; empty otherwise), plus each fact the core names for it (`deployment_id`,
//! `from_status`, `action`, `idempotency_key`, …) as an attribute; a `ValidationFailedError` also
//! carries `.report`, the `loco.ValidationReport` that refused the start.

use loco_core::error::Fact;
use loco_core::{Error, ErrorCode};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use crate::convert::ToPython;

create_exception!(
    loco,
    LocoError,
    PyException,
    "Base class of every Loco error; `code` is the stable error code shared by every surface."
);
create_exception!(
    loco,
    ValidationError,
    LocoError,
    "Input is missing or invalid (`validation_error`); `details` lists every bad field."
);
create_exception!(
    loco,
    NotFoundError,
    LocoError,
    "Nothing has this id or name (`not_found`): a deployment, its rollout, a token, a service, a platform, a \
     freeze window, a held deploy lock, an approval gate, a reviewer group, a pipeline or a service's manifest \
     (or that version of it)."
);
create_exception!(
    loco,
    InvalidTransitionError,
    LocoError,
    "The action is not allowed from the deployment's current status (`invalid_transition`)."
);
create_exception!(
    loco,
    SelfApprovalError,
    LocoError,
    "The requester tried to approve or reject their own deployment (`self_approval`)."
);
create_exception!(
    loco,
    IdempotencyConflictError,
    LocoError,
    "The idempotency key was already used with a different request (`idempotency_conflict`)."
);
create_exception!(
    loco,
    PayloadTooLargeError,
    LocoError,
    "A request was larger than the accepted limit (`payload_too_large`)."
);
create_exception!(
    loco,
    StorageError,
    LocoError,
    "The database failed; nothing of the failed operation was written (`storage_error`)."
);
create_exception!(
    loco,
    RolloutConflictError,
    LocoError,
    "Another rollout is already active on the same service and environment (`rollout_conflict`)."
);
create_exception!(
    loco,
    RolloutInProgressError,
    LocoError,
    "The deployment's rollout is running; only rollback is allowed until it ends (`rollout_in_progress`)."
);
create_exception!(
    loco,
    RolloutNotPausedError,
    LocoError,
    "The rollout is not paused, so there is nothing to override (`rollout_not_paused`)."
);
create_exception!(loco, PlatformError, LocoError, "A platform operation failed (`platform_error`).");
create_exception!(
    loco,
    RollbackFailedError,
    LocoError,
    "Restoring the previous release failed; the deployment is not serving a known-good release \
     (`rollback_failed`)."
);

create_exception!(
    loco,
    UnauthenticatedError,
    LocoError,
    "No valid credentials: a missing, bad, expired or revoked token (`unauthenticated`)."
);
create_exception!(
    loco,
    PermissionDeniedError,
    LocoError,
    "The identity lacks the role the operation needs; `role` names it (`permission_denied`)."
);
create_exception!(
    loco,
    UnsupportedMediaTypeError,
    LocoError,
    "A request body was not declared as JSON (`unsupported_media_type`)."
);
create_exception!(
    loco,
    RateLimitedError,
    LocoError,
    "Too many requests; retry after `retry_after_seconds` (`rate_limited`)."
);
create_exception!(
    loco,
    ValidationFailedError,
    LocoError,
    "Pre-deployment validation refused the release (`validation_failed`); `report` is the full report and \
     `details` lists the blocking findings."
);

create_exception!(
    loco,
    PolicyViolationError,
    LocoError,
    "A policy refused the operation (`policy_violation`): a freeze window is in force (`freeze_window`), another \
     deployment holds the deploy lock (`deploy_lock`), an approval gate refused a review (`approval_gate`) or \
     its wait runs (`wait_timer`), or a create is out of its pipeline's order (`promotion_order`); `rule`, \
     `policy`, `environment` and `until` (`None` when it does not end by itself) say which and how long, and \
     `details` names the rule."
);

create_exception!(
    loco,
    ApprovalRequiredError,
    LocoError,
    "A start of a deployment whose environment's approval gate has not had its approvals \
     (`approval_required`); `approvals` is how many count now, `required` how many the gate needs."
);

/// The exception class of each error code.
fn class(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
    match code {
        ErrorCode::ValidationError => py.get_type::<ValidationError>(),
        ErrorCode::NotFound => py.get_type::<NotFoundError>(),
        ErrorCode::InvalidTransition => py.get_type::<InvalidTransitionError>(),
        ErrorCode::SelfApproval => py.get_type::<SelfApprovalError>(),
        ErrorCode::IdempotencyConflict => py.get_type::<IdempotencyConflictError>(),
        ErrorCode::PayloadTooLarge => py.get_type::<PayloadTooLargeError>(),
        ErrorCode::StorageError => py.get_type::<StorageError>(),
        ErrorCode::RolloutConflict => py.get_type::<RolloutConflictError>(),
        ErrorCode::RolloutInProgress => py.get_type::<RolloutInProgressError>(),
        ErrorCode::RolloutNotPaused => py.get_type::<RolloutNotPausedError>(),
        ErrorCode::PlatformError => py.get_type::<PlatformError>(),
        ErrorCode::RollbackFailed => py.get_type::<RollbackFailedError>(),
        ErrorCode::Unauthenticated => py.get_type::<UnauthenticatedError>(),
        ErrorCode::PermissionDenied => py.get_type::<PermissionDeniedError>(),
        ErrorCode::UnsupportedMediaType => py.get_type::<UnsupportedMediaTypeError>(),
        ErrorCode::RateLimited => py.get_type::<RateLimitedError>(),
        ErrorCode::ValidationFailed => py.get_type::<ValidationFailedError>(),
        ErrorCode::PolicyViolation => py.get_type::<PolicyViolationError>(),
        ErrorCode::ApprovalRequired => py.get_type::<ApprovalRequiredError>(),
    }
}

/// Names Python gave facts before the core named them, kept as second attributes:
/// `IdempotencyConflictError.key` is also `.idempotency_key`.
const FACT_ALIASES: [(&str, &str); 1] = [("idempotency_key", "key")];

/// Adds the exception classes to the module, each subclass with its `code` class attribute.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LocoError", py.get_type::<LocoError>())?;
    for code in ErrorCode::ALL {
        let class = class(py, code);
        class.setattr("code", code.as_str())?;
        m.add(class.name()?, class)?;
    }
    Ok(())
}

/// The Python exception for `error`: its class by code, `.code`, `.details` and every fact the
/// core names ([`Error::facts`]) as an attribute of that name.
pub fn to_pyerr(py: Python<'_>, error: &Error) -> PyErr {
    match build(py, error) {
        Ok(err) | Err(err) => err,
    }
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let err = PyErr::from_type(class(py, error.kind()), error.to_string());
    let value = err.value(py);
    value.setattr("code", error.code())?;
    value.setattr("details", details(py, error)?)?;
    if error.kind() == ErrorCode::PolicyViolation {
        // A refusal that does not end by itself (a deploy lock) has no `until`; the attribute
        // is there all the same, `None`.
        value.setattr("until", py.None())?;
    }
    for (name, fact) in error.facts() {
        let fact = match fact {
            Fact::Text(text) => PyString::new(py, text).into_any(),
            Fact::Number(number) => number.into_pyobject(py)?.into_any(),
        };
        for (_, alias) in FACT_ALIASES.iter().filter(|(fact_name, _)| *fact_name == name) {
            value.setattr(*alias, &fact)?;
        }
        value.setattr(name, fact)?;
    }
    if let Some(report) = error.report() {
        value.setattr("report", report.clone().to_python(py)?)?;
    }
    Ok(err)
}

/// `[{"field": …, "message": …}, …]`, the HTTP error body's `details`; `line` and `column` only
/// where the core knows them, as the HTTP body has them.
fn details<'py>(py: Python<'py>, error: &Error) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for detail in error.details() {
        let item = PyDict::new(py);
        item.set_item("field", &detail.field)?;
        item.set_item("message", &detail.message)?;
        if let Some(line) = detail.line {
            item.set_item("line", line)?;
        }
        if let Some(column) = detail.column {
            item.set_item("column", column)?;
        }
        list.append(item)?;
    }
    Ok(list)
}

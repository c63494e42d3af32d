//! Python exceptions for [`loco_core::Error`]: `loco.LocoError` and one subclass per error code,
//! mapped in one exhaustive `match` on the variants (never on message text).
//!
//! Every exception carries `.code` (also a class attribute of each subclass) and `.details` (the
//! `{field, message}` list of a validation error, empty otherwise), plus the facts of its variant
//! (`deployment_id`, `from_status`, `action`, …).

use loco_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

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
create_exception!(loco, NotFoundError, LocoError, "No deployment has this id (`not_found`).");
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

/// Adds the exception classes to the module, each subclass with its `code` class attribute.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LocoError", py.get_type::<LocoError>())?;
    for (name, class, code) in [
        ("ValidationError", py.get_type::<ValidationError>(), "validation_error"),
        ("NotFoundError", py.get_type::<NotFoundError>(), "not_found"),
        ("InvalidTransitionError", py.get_type::<InvalidTransitionError>(), "invalid_transition"),
        ("SelfApprovalError", py.get_type::<SelfApprovalError>(), "self_approval"),
        ("IdempotencyConflictError", py.get_type::<IdempotencyConflictError>(), "idempotency_conflict"),
        ("PayloadTooLargeError", py.get_type::<PayloadTooLargeError>(), "payload_too_large"),
        ("StorageError", py.get_type::<StorageError>(), "storage_error"),
        ("RolloutConflictError", py.get_type::<RolloutConflictError>(), "rollout_conflict"),
        ("RolloutInProgressError", py.get_type::<RolloutInProgressError>(), "rollout_in_progress"),
        ("RolloutNotPausedError", py.get_type::<RolloutNotPausedError>(), "rollout_not_paused"),
        ("PlatformError", py.get_type::<PlatformError>(), "platform_error"),
        ("RollbackFailedError", py.get_type::<RollbackFailedError>(), "rollback_failed"),
    ] {
        class.setattr("code", code)?;
        m.add(name, class)?;
    }
    Ok(())
}

/// The Python exception for `error`: its class by variant, `.code`, `.details` and the
/// variant's facts as attributes.
pub fn to_pyerr(py: Python<'_>, error: &Error) -> PyErr {
    match build(py, error) {
        Ok(err) | Err(err) => err,
    }
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let text = |value: &str| PyString::new(py, value).into_any();
    let message = error.to_string();
    let (err, facts): (PyErr, Vec<(&str, Bound<'_, PyAny>)>) = match error {
        Error::Validation { .. } => (ValidationError::new_err(message), vec![]),
        Error::NotFound { id } | Error::RolloutNotFound { id } => {
            (NotFoundError::new_err(message), vec![("deployment_id", text(id))])
        }
        Error::InvalidTransition { id, from, action } => (
            InvalidTransitionError::new_err(message),
            vec![("deployment_id", text(id)), ("from_status", text(from.as_str())), ("action", text(action.as_str()))],
        ),
        Error::SelfApproval { id, actor, action } => (
            SelfApprovalError::new_err(message),
            vec![("deployment_id", text(id)), ("actor", text(actor)), ("action", text(action.as_str()))],
        ),
        Error::IdempotencyConflict { key } => (IdempotencyConflictError::new_err(message), vec![("key", text(key))]),
        Error::PayloadTooLarge { limit_bytes } => {
            (PayloadTooLargeError::new_err(message), vec![("limit_bytes", limit_bytes.into_pyobject(py)?.into_any())])
        }
        Error::Storage { .. } => (StorageError::new_err(message), vec![]),
        Error::RolloutConflict { service, environment, active } => (
            RolloutConflictError::new_err(message),
            vec![
                ("service", text(service)),
                ("environment", text(environment)),
                ("active_deployment_id", text(active)),
            ],
        ),
        Error::RolloutInProgress { id } => {
            (RolloutInProgressError::new_err(message), vec![("deployment_id", text(id))])
        }
        Error::RolloutNotPaused { id, state } => (
            RolloutNotPausedError::new_err(message),
            vec![("deployment_id", text(id)), ("state", text(state.as_str()))],
        ),
        Error::Platform { platform, .. } => (PlatformError::new_err(message), vec![("platform", text(platform))]),
        Error::RollbackFailed { id, .. } => (RollbackFailedError::new_err(message), vec![("deployment_id", text(id))]),
        // `loco_core::Error` is `#[non_exhaustive]`: a code added to the core before this binding
        // learns it still arrives as the base class with the right `.code`.
        _ => (LocoError::new_err(message), vec![]),
    };
    let value = err.value(py);
    value.setattr("code", error.code())?;
    value.setattr("details", details(py, error)?)?;
    for (name, fact) in facts {
        value.setattr(name, fact)?;
    }
    Ok(err)
}

/// `[{"field": …, "message": …}, …]`, the HTTP error body's `details`.
fn details<'py>(py: Python<'py>, error: &Error) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for detail in error.details() {
        let item = PyDict::new(py);
        item.set_item("field", &detail.field)?;
        item.set_item("message", &detail.message)?;
        list.append(item)?;
    }
    Ok(list)
}

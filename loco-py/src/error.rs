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
use pyo3::types::{PyDict, PyList};

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
    let message = error.to_string();
    let (err, facts): (PyErr, Vec<(&str, Bound<'_, PyAny>)>) = match error {
        Error::Validation { .. } => (ValidationError::new_err(message), vec![]),
        Error::NotFound { id } => {
            (NotFoundError::new_err(message), vec![("deployment_id", id.into_pyobject(py)?.into_any())])
        }
        Error::InvalidTransition { id, from, action } => (
            InvalidTransitionError::new_err(message),
            vec![
                ("deployment_id", id.into_pyobject(py)?.into_any()),
                ("from_status", from.as_str().into_pyobject(py)?.into_any()),
                ("action", action.as_str().into_pyobject(py)?.into_any()),
            ],
        ),
        Error::SelfApproval { id, actor, action } => (
            SelfApprovalError::new_err(message),
            vec![
                ("deployment_id", id.into_pyobject(py)?.into_any()),
                ("actor", actor.into_pyobject(py)?.into_any()),
                ("action", action.as_str().into_pyobject(py)?.into_any()),
            ],
        ),
        Error::IdempotencyConflict { key } => {
            (IdempotencyConflictError::new_err(message), vec![("key", key.into_pyobject(py)?.into_any())])
        }
        Error::PayloadTooLarge { limit_bytes } => {
            (PayloadTooLargeError::new_err(message), vec![("limit_bytes", limit_bytes.into_pyobject(py)?.into_any())])
        }
        Error::Storage { .. } => (StorageError::new_err(message), vec![]),
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

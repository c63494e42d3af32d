//! How core results reach Python: [`ToPython`] turns each core value into its Python object, and
//! [`Reply`] turns a core `Result` into that object or a raised `loco.LocoError` — at the moment
//! the result is handed to Python, where the GIL is already held.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::error;

/// A core value with a Python representation.
pub trait ToPython: Send + 'static {
    /// Converts the value; needs the GIL.
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>>;
}

impl ToPython for () {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(py.None().into_bound(py))
    }
}

impl ToPython for String {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

impl<T: ToPython> ToPython for Vec<T> {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let list = PyList::empty(py);
        for item in self {
            list.append(item.to_python(py)?)?;
        }
        Ok(list.into_any())
    }
}

/// The outcome of a core operation, converted to Python when it is delivered.
pub struct Reply<T>(pub loco_core::Result<T>);

impl<'py, T: ToPython> IntoPyObject<'py> for Reply<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        into_python(py, self.0)
    }
}

/// `result` as a Python object, or its error as a raised `loco.LocoError` subclass.
pub fn into_python<T: ToPython>(py: Python<'_>, result: loco_core::Result<T>) -> PyResult<Bound<'_, PyAny>> {
    match result {
        Ok(value) => value.to_python(py),
        Err(e) => Err(error::to_pyerr(py, &e)),
    }
}

/// `value` as the HTTP API's JSON object: serialized by the same serde code as the HTTP responses,
/// then read by Python's `json.loads`, so keys keep the HTTP field order.
pub fn to_json_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("cannot serialize: {e}")))?;
    py.import(intern!(py, "json"))?.call_method1(intern!(py, "loads"), (text,))
}

/// `Name(field=repr(value), …)`, with Python's own `repr` of each value.
pub fn repr(name: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    let mut parts = Vec::with_capacity(fields.len());
    for (field, value) in fields {
        parts.push(format!("{field}={}", value.repr()?));
    }
    Ok(format!("{name}({})", parts.join(", ")))
}

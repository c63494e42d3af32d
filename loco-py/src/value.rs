//! Core values as the Python objects of their HTTP JSON: one serde [`Serializer`] that builds the
//! `dict`s, `list`s, `str`s, numbers, booleans and `None` directly, with keys in the order the core
//! declares them. The result is what `json.loads` of the HTTP response gives (a non-finite number
//! becomes `None`, a map key that is a number becomes its text, as `serde_json` writes them), without
//! JSON text in between.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use serde::ser::{self, Serialize, Serializer};

/// `value` as its JSON-shaped Python object.
pub fn to_python<'py, T: Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    value.serialize(Objects { py }).map_err(|e| e.0)
}

/// A failure while building the objects: a Python error, or a value JSON cannot hold.
#[derive(Debug)]
pub struct Error(PyErr);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(PyValueError::new_err(format!("cannot convert to Python: {message}")))
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Self(e)
    }
}

/// A field or variant name as a Python string, made once: serde gives names as `&'static str`, so
/// each string (by address and length) maps to one interned Python string for good.
fn name<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyString> {
    static NAMES: Mutex<BTreeMap<(usize, usize), Py<PyString>>> = Mutex::new(BTreeMap::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let id = (name.as_ptr() as usize, name.len());
    names.entry(id).or_insert_with(|| PyString::intern(py, name).unbind()).bind(py).clone()
}

/// A built object, or why it could not be built.
type Built<'py> = Result<Bound<'py, PyAny>, Error>;

/// The serializer; it holds the GIL while it builds.
#[derive(Clone, Copy)]
struct Objects<'py> {
    py: Python<'py>,
}

impl<'py> Objects<'py> {
    fn seq(self, len: Option<usize>) -> Seq<'py> {
        Seq { py: self.py, items: Vec::with_capacity(len.unwrap_or(0)) }
    }

    fn map(self) -> Map<'py> {
        Map { py: self.py, dict: PyDict::new(self.py), key: None }
    }
}

/// Serializer methods that turn each integer type into a Python `int`.
macro_rules! integers {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Built<'py> {
            Ok(v.into_bound_py_any(self.py)?)
        }
    )*};
}

impl<'py> Serializer for Objects<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    type SerializeSeq = Seq<'py>;
    type SerializeTuple = Seq<'py>;
    type SerializeTupleStruct = Seq<'py>;
    type SerializeTupleVariant = Variant<Seq<'py>>;
    type SerializeMap = Map<'py>;
    type SerializeStruct = Map<'py>;
    type SerializeStructVariant = Variant<Map<'py>>;

    fn serialize_bool(self, v: bool) -> Built<'py> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    integers!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128
    );

    fn serialize_f32(self, v: f32) -> Built<'py> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Built<'py> {
        if v.is_finite() { Ok(PyFloat::new(self.py, v).into_any()) } else { self.serialize_unit() }
    }

    fn serialize_char(self, v: char) -> Built<'py> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Built<'py> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn serialize_bytes(self, v: &[u8]) -> Built<'py> {
        Ok(PyList::new(self.py, v)?.into_any())
    }

    fn serialize_none(self) -> Built<'py> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Built<'py> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Built<'py> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Built<'py> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Built<'py> {
        Ok(name(self.py, variant).into_any())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Built<'py> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Built<'py> {
        tagged(self.py, variant, value.serialize(self)?)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'py>, Error> {
        Ok(self.seq(len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'py>, Error> {
        Ok(self.seq(Some(len)))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'py>, Error> {
        Ok(self.seq(Some(len)))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Seq<'py>>, Error> {
        Ok(Variant { variant, inner: self.seq(Some(len)) })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'py>, Error> {
        Ok(self.map())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'py>, Error> {
        Ok(self.map())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Map<'py>>, Error> {
        Ok(Variant { variant, inner: self.map() })
    }
}

/// A `list` being filled.
pub struct Seq<'py> {
    py: Python<'py>,
    items: Vec<Bound<'py, PyAny>>,
}

impl<'py> Seq<'py> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value.serialize(Objects { py: self.py })?);
        Ok(())
    }

    fn list(self) -> Built<'py> {
        Ok(PyList::new(self.py, self.items)?.into_any())
    }
}

impl<'py> ser::SerializeSeq for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Built<'py> {
        self.list()
    }
}

impl<'py> ser::SerializeTuple for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Built<'py> {
        self.list()
    }
}

impl<'py> ser::SerializeTupleStruct for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Built<'py> {
        self.list()
    }
}

/// A `dict` being filled.
pub struct Map<'py> {
    py: Python<'py>,
    dict: Bound<'py, PyDict>,
    key: Option<Bound<'py, PyAny>>,
}

impl Map<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        let value = value.serialize(Objects { py: self.py })?;
        Ok(self.dict.set_item(name(self.py, key), value)?)
    }
}

impl<'py> ser::SerializeMap for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let key = key.serialize(Objects { py: self.py })?;
        self.key = Some(if key.is_instance_of::<PyString>() { key } else { key.str()?.into_any() });
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| <Error as ser::Error>::custom("a map value came without its key"))?;
        Ok(self.dict.set_item(key, value.serialize(Objects { py: self.py })?)?)
    }

    fn end(self) -> Built<'py> {
        Ok(self.dict.into_any())
    }
}

impl<'py> ser::SerializeStruct for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Built<'py> {
        Ok(self.dict.into_any())
    }
}

/// An externally tagged enum variant being filled, `{variant: contents}` when done.
pub struct Variant<T> {
    variant: &'static str,
    inner: T,
}

fn tagged<'py>(py: Python<'py>, variant: &'static str, contents: Bound<'py, PyAny>) -> Built<'py> {
    let dict = PyDict::new(py);
    dict.set_item(name(py, variant), contents)?;
    Ok(dict.into_any())
}

impl<'py> ser::SerializeTupleVariant for Variant<Seq<'py>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.inner.push(value)
    }

    fn end(self) -> Built<'py> {
        let py = self.inner.py;
        tagged(py, self.variant, self.inner.list()?)
    }
}

impl<'py> ser::SerializeStructVariant for Variant<Map<'py>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.inner.field(key, value)
    }

    fn end(self) -> Built<'py> {
        tagged(self.inner.py, self.variant, self.inner.dict.into_any())
    }
}

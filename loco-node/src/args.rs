//! Reads loosely typed JavaScript arguments into Rust values, noting every value of the wrong
//! type (thrown together as one `TypeError` with code `validation_error`) instead of crashing.
//!
//! Only JavaScript types are checked here. `undefined` and `null` read as "absent", which for a
//! required string is the empty string: the core then reports it as missing, so every rule about
//! what a valid value is stays in `loco-core`.

use std::time::Duration;

use loco_core::{Error as CoreError, FieldError};
use napi::bindgen_prelude::{
    Env, Function, JsObjectValue, JsValue, KeyCollectionMode, KeyConversion, KeyFilter, Object, Unknown, ValueType,
};

use crate::error::Failure;

/// Collects the field errors found while reading one call's arguments.
#[derive(Debug, Default)]
pub(crate) struct Args {
    errors: Vec<FieldError>,
}

impl Args {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A string that must be given (an id or a path): absent is a type error too.
    pub(crate) fn required(&mut self, value: Unknown, field: &str) -> String {
        if let Ok(ValueType::Undefined | ValueType::Null) = kind(value) {
            self.wrong(field, &format!("must be a string; got {}", name(&kind(value))));
            return String::new();
        }
        self.text(value, field)
    }

    /// A string the core requires: absent becomes `""`, which the core reports as missing.
    pub(crate) fn text(&mut self, value: Unknown, field: &str) -> String {
        self.read_text(value, field).unwrap_or_default()
    }

    /// An optional string: `undefined` or `null` is `None`.
    pub(crate) fn optional_text(&mut self, value: Unknown, field: &str) -> Option<String> {
        self.read_text(value, field)
    }

    /// An optional whole number that fits in a `u32`.
    pub(crate) fn optional_u32(&mut self, value: Unknown, field: &str) -> Option<u32> {
        self.optional_whole(value, field, 0)
    }

    /// An optional whole number from 1 that fits in a `u32` (a version counted from 1).
    pub(crate) fn optional_positive_u32(&mut self, value: Unknown, field: &str) -> Option<u32> {
        self.optional_whole(value, field, 1)
    }

    fn optional_whole(&mut self, value: Unknown, field: &str, min: u32) -> Option<u32> {
        let number = self.read_number(value, field)?;
        if number.fract() == 0.0 && (f64::from(min)..=f64::from(u32::MAX)).contains(&number) {
            Some(number as u32)
        } else {
            self.wrong(field, &format!("must be a whole number from {min} to {}; got {number}", u32::MAX));
            None
        }
    }

    /// An optional number of seconds as a duration: `undefined` or `null` is `None`; a number no
    /// duration can be (negative, not finite) is refused.
    pub(crate) fn optional_seconds(&mut self, value: Unknown, field: &str) -> Option<Duration> {
        let number = self.read_number(value, field)?;
        let duration = Duration::try_from_secs_f64(number).ok();
        if duration.is_none() {
            self.wrong(field, &format!("must be a number of seconds, 0 or more; got {number}"));
        }
        duration
    }

    /// A whole number that must be given and be a JavaScript safe integer.
    pub(crate) fn integer(&mut self, value: Unknown, field: &str) -> i64 {
        const SAFE: f64 = 9_007_199_254_740_991.0;
        match self.read_number(value, field) {
            Some(n) if n.fract() == 0.0 && (-SAFE..=SAFE).contains(&n) => n as i64,
            Some(n) => {
                self.wrong(field, &format!("must be a safe integer; got {n}"));
                0
            }
            None => {
                if let Ok(ValueType::Undefined | ValueType::Null) = kind(value) {
                    self.wrong(field, &format!("must be a number; got {}", name(&kind(value))));
                }
                0
            }
        }
    }

    /// A list of strings; absent becomes an empty list, which the core reports as missing.
    pub(crate) fn text_list(&mut self, value: Unknown, field: &str) -> Vec<String> {
        let array = match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => return Vec::new(),
            Ok(ValueType::Object) if value.is_array().unwrap_or(false) => value.coerce_to_object(),
            other => {
                self.wrong(field, &format!("must be an array of strings; got {}", name(&other)));
                return Vec::new();
            }
        };
        let items = array.and_then(|a| {
            let len = a.get_array_length()?;
            (0..len).map(|i| a.get_element::<Unknown>(i)).collect::<napi::Result<Vec<_>>>()
        });
        match items {
            Ok(items) => {
                items.into_iter().enumerate().map(|(i, item)| self.text(item, &format!("{field}[{i}]"))).collect()
            }
            Err(e) => {
                self.wrong(field, &format!("could not be read: {}", e.reason));
                Vec::new()
            }
        }
    }

    /// An optional boolean: `undefined` or `null` is `None`.
    pub(crate) fn optional_bool(&mut self, value: Unknown, field: &str) -> Option<bool> {
        match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => None,
            Ok(ValueType::Boolean) => match value.coerce_to_bool() {
                Ok(flag) => Some(flag),
                Err(e) => {
                    self.wrong(field, &format!("could not be read: {}", e.reason));
                    None
                }
            },
            other => {
                self.wrong(field, &format!("must be a boolean; got {}", name(&other)));
                None
            }
        }
    }

    /// A JSON document (a rollout plan, analysis thresholds): a JSON string is passed on as it
    /// is, a plain object is serialized with `JSON.stringify` (so `undefined` properties are
    /// absent). What the document says is for the core to judge.
    pub(crate) fn document(&mut self, env: Env, value: Unknown, field: &str) -> String {
        match kind(value) {
            Ok(ValueType::String) => return self.text(value, field),
            Ok(ValueType::Object) if !value.is_array().unwrap_or(true) => {}
            other => {
                self.wrong(field, &format!("must be an object or a JSON string; got {}", name(&other)));
                return String::new();
            }
        }
        match stringify(env, value) {
            Ok(json) => json,
            Err(e) => {
                self.wrong(field, &format!("cannot be written as JSON: {}", e.reason));
                String::new()
            }
        }
    }

    /// An optional JSON document (a rollout plan the core may supply itself): `undefined` or
    /// `null` is `None`; anything else is read as [`document`](Self::document) reads it.
    pub(crate) fn optional_document(&mut self, env: Env, value: Unknown, field: &str) -> Option<String> {
        match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => None,
            _ => Some(self.document(env, value, field)),
        }
    }

    /// The own enumerable properties of a plain object used as a map (`Record<string, T>`); empty
    /// when absent or not an object.
    pub(crate) fn entries<'a>(&mut self, value: Unknown<'a>, field: &str) -> Vec<(String, Unknown<'a>)> {
        let Some(object) = self.plain_object(value, field) else { return Vec::new() };
        let read = property_names(&object).and_then(|names| {
            names.into_iter().map(|n| Ok((n.clone(), object.get_named_property_unchecked::<Unknown>(&n)?))).collect()
        });
        read.unwrap_or_else(|e| {
            self.wrong(field, &format!("could not be read: {}", e.reason));
            Vec::new()
        })
    }

    /// A plain options object whose own property names must all be in `known`; `None` when
    /// absent or not an object.
    pub(crate) fn object<'a>(&mut self, value: Unknown<'a>, field: &str, known: &[&str]) -> Option<Object<'a>> {
        let object = self.plain_object(value, field)?;
        match property_names(&object) {
            Ok(names) => {
                for unknown in names.iter().filter(|n| !known.contains(&n.as_str())) {
                    self.wrong(unknown, &format!("is not a property of {field}; expected one of {}", known.join(", ")));
                }
            }
            Err(e) => self.wrong(field, &format!("could not be read: {}", e.reason)),
        }
        Some(object)
    }

    /// A plain object (not an array); `None` when absent or not an object.
    fn plain_object<'a>(&mut self, value: Unknown<'a>, field: &str) -> Option<Object<'a>> {
        match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => return None,
            Ok(ValueType::Object) if !value.is_array().unwrap_or(true) => {}
            other => {
                self.wrong(field, &format!("must be an object; got {}", name(&other)));
                return None;
            }
        }
        match value.coerce_to_object() {
            Ok(object) => Some(object),
            Err(e) => {
                self.wrong(field, &format!("could not be read: {}", e.reason));
                None
            }
        }
    }

    /// The property `name` of `object` (`undefined` when missing).
    pub(crate) fn property<'a>(&mut self, object: &Object<'a>, name: &str) -> Option<Unknown<'a>> {
        match object.get_named_property_unchecked::<Unknown>(name) {
            Ok(value) => Some(value),
            Err(e) => {
                self.wrong(name, &format!("could not be read: {}", e.reason));
                None
            }
        }
    }

    /// `value` when every argument had the right type, else the collected type errors.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, Failure> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Failure::Argument(CoreError::Validation { details: self.errors }))
        }
    }

    fn read_text(&mut self, value: Unknown, field: &str) -> Option<String> {
        match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => None,
            Ok(ValueType::String) => match value.coerce_to_string().and_then(|s| s.into_utf8()?.into_owned()) {
                Ok(text) => Some(text),
                Err(e) => {
                    self.wrong(field, &format!("could not be read: {}", e.reason));
                    None
                }
            },
            other => {
                self.wrong(field, &format!("must be a string; got {}", name(&other)));
                None
            }
        }
    }

    fn read_number(&mut self, value: Unknown, field: &str) -> Option<f64> {
        match kind(value) {
            Ok(ValueType::Undefined | ValueType::Null) => None,
            Ok(ValueType::Number) => match value.coerce_to_number().and_then(|n| n.get_double()) {
                Ok(number) => Some(number),
                Err(e) => {
                    self.wrong(field, &format!("could not be read: {}", e.reason));
                    None
                }
            },
            other => {
                self.wrong(field, &format!("must be a number; got {}", name(&other)));
                None
            }
        }
    }

    fn wrong(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError::new(field, message));
    }
}

fn kind(value: Unknown) -> napi::Result<ValueType> {
    value.get_type()
}

/// `JSON.stringify(value)`; a throw (a cycle, a `BigInt`) or a value with no JSON form is an error.
fn stringify(env: Env, value: Unknown) -> napi::Result<String> {
    let json: Object = env.get_global()?.get_named_property_unchecked("JSON")?;
    let stringify: Function<Unknown, Unknown> = json.get_named_property_unchecked("stringify")?;
    let text = stringify.call(value)?;
    if text.get_type()? != ValueType::String {
        return Err(napi::Error::from_reason("it has no JSON form"));
    }
    text.coerce_to_string()?.into_utf8()?.into_owned()
}

/// The object's own enumerable string keys (what `Object.keys` returns).
fn property_names(object: &Object) -> napi::Result<Vec<String>> {
    let keys = object.get_all_property_names(
        KeyCollectionMode::OwnOnly,
        KeyFilter::Enumerable,
        KeyConversion::NumbersToStrings,
    )?;
    let mut names = Vec::new();
    for i in 0..keys.get_array_length()? {
        let key: Unknown = keys.get_element(i)?;
        if key.get_type()? == ValueType::String {
            names.push(key.coerce_to_string()?.into_utf8()?.into_owned()?);
        }
    }
    Ok(names)
}

/// The JavaScript name of a value's type, for messages (`typeof`, with `null` and arrays apart).
fn name(kind: &napi::Result<ValueType>) -> &'static str {
    match kind {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "boolean",
        Ok(ValueType::Number) => "number",
        Ok(ValueType::String) => "string",
        Ok(ValueType::Symbol) => "symbol",
        Ok(ValueType::Object) => "object",
        Ok(ValueType::Function) => "function",
        Ok(ValueType::External) => "external",
        Ok(ValueType::BigInt) => "bigint",
        Ok(_) | Err(_) => "a value of unknown type",
    }
}

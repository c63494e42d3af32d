//! A host's answer (JSON) read as one of the core's types, a problem named by where it is in the
//! answer (`[1].state: is missing`): a serde [`Deserializer`] over [`serde_json::Value`] that
//! records the path as an error travels out of nested lists and objects.

use std::fmt;

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// `value` as a `T`, or what is wrong with it and where.
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ShapeError> {
    T::deserialize(At(value))
}

/// A value that does not have the shape the core needs.
#[derive(Debug)]
pub struct ShapeError {
    /// Where, innermost first (`.state`, `[1]`).
    segments: Vec<String>,
    message: String,
}

impl ShapeError {
    /// Where in the value the problem is (`[1].state`; empty for the value itself).
    pub fn path(&self) -> String {
        self.segments.iter().rev().map(String::as_str).collect()
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn within(mut self, segment: String) -> Self {
        self.segments.push(segment);
        self
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path().as_str() {
            "" => f.write_str(&self.message),
            path => write!(f, "{path}: {}", self.message),
        }
    }
}

impl std::error::Error for ShapeError {}

impl de::Error for ShapeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self { segments: Vec::new(), message: message.to_string() }
    }

    fn missing_field(field: &'static str) -> Self {
        Self { segments: vec![format!(".{field}")], message: "is missing".to_owned() }
    }
}

/// One value being read.
struct At(Value);

impl<'de> de::Deserializer<'de> for At {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, f) => visitor.visit_f64(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Items(items.into_iter().enumerate())),
            Value::Object(fields) => visitor.visit_map(Fields { fields: fields.into_iter(), current: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(At(value)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        // The core's plain enums (`traffic`, `state`, `stream`) are written as their names.
        match self.0 {
            Value::String(s) => {
                let name: StringDeserializer<ShapeError> = s.into_deserializer();
                visitor.visit_enum(name)
            }
            other => Err(de::Error::invalid_type(unexpected(&other), &"a name (a string)")),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Unexpected::Other("number"), Unexpected::Float),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// The items of a list, each error prefixed with its index.
struct Items(std::iter::Enumerate<std::vec::IntoIter<Value>>);

impl<'de> SeqAccess<'de> for Items {
    type Error = ShapeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, ShapeError> {
        match self.0.next() {
            None => Ok(None),
            Some((index, value)) => seed.deserialize(At(value)).map(Some).map_err(|e| e.within(format!("[{index}]"))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The fields of an object, each error prefixed with its key.
struct Fields {
    fields: serde_json::map::IntoIter,
    current: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = ShapeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, ShapeError> {
        let Some((key, value)) = self.fields.next() else { return Ok(None) };
        let name: StringDeserializer<ShapeError> = key.clone().into_deserializer();
        self.current = Some((key, value));
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ShapeError> {
        let (key, value) = self.current.take().ok_or_else(|| de::Error::custom("a value without a key"))?;
        seed.deserialize(At(value)).map_err(|e| e.within(format!(".{key}")))
    }
}

#[cfg(test)]
mod tests {
    use loco_core::platform::{Capabilities, Instance, InstanceHealth, TrafficControl};
    use serde_json::json;

    use super::parse;

    #[test]
    fn problems_are_named_by_their_path() {
        let bad = json!([{"id": "a", "version": "v1", "state": "running"}, {"id": "b", "version": "v1"}]);
        let e = parse::<Vec<Instance>>(bad).unwrap_err();
        assert_eq!(e.to_string(), "[1].state: is missing");
        let e = parse::<Vec<Instance>>(json!([{"id": 5, "version": "v1", "state": "running"}])).unwrap_err();
        assert_eq!(e.path(), "[0].id");
        assert!(e.message().contains("expected a string"), "{e}");
        let e = parse::<Capabilities>(json!({"traffic": "fast", "native_rollback": false, "logs": false})).unwrap_err();
        assert_eq!(e.path(), ".traffic");
        assert!(e.message().contains("percentage"), "{e}");
    }

    #[test]
    fn good_values_read_as_the_core_types() {
        let caps: Capabilities =
            parse(json!({"traffic": "atomic_swap", "native_rollback": true, "logs": false, "metrics": false})).unwrap();
        assert_eq!(caps.traffic, TrafficControl::AtomicSwap);
        let health: InstanceHealth = parse(json!({"state": "exited", "reason": "oom"})).unwrap();
        assert_eq!(health, InstanceHealth::Exited { reason: "oom".to_owned() });
        let e = parse::<InstanceHealth>(json!({"state": "exited"})).unwrap_err();
        assert_eq!(e.to_string(), ".reason: is missing");
        let instance: Instance = parse(json!({"id": "a", "version": "v1", "state": "running", "pid": null})).unwrap();
        assert_eq!((instance.pid, instance.address), (None, None));
    }
}

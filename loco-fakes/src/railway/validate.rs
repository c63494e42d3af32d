//! Validating a parsed operation like a GraphQL server: variables against their declared types,
//! arguments against the schema (variables substituted), and a resolved value projected onto the
//! selection the client asked for.

use serde_json::{Map, Value};

use super::graphql::{Field, GqlError, Literal, Operation};
use super::schema;

/// Checks the operation's variables against the values given: every declared variable of a
/// non-null type is given, every given value has its declared type, every variable used is declared
/// (with a type the argument accepts), every argument exists and every required one is there.
pub(super) fn check_variables(operation: &Operation, given: &Map<String, Value>) -> Result<(), GqlError> {
    for (name, ty) in &operation.variables {
        let value = given.get(name).unwrap_or(&Value::Null);
        if ty.ends_with('!') && value.is_null() {
            return Err(GqlError::new(
                format!("Variable \"${name}\" of required type \"{ty}\" was not provided."),
                None,
            ));
        }
        schema::check_value(value, ty)
            .map_err(|e| GqlError::new(format!("Variable \"${name}\" got invalid value {value}; {e}"), None))?;
    }
    Ok(())
}

/// The arguments of `field` on root type `parent`, variables substituted, checked against the
/// schema's argument types.
pub(super) fn arguments(
    field: &Field,
    parent: &str,
    operation: &Operation,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, GqlError> {
    let Some(root) = schema::root(&field.name) else {
        return Err(GqlError::new(
            format!("Cannot query field \"{}\" on type \"{parent}\".", field.name),
            Some(field.at),
        ));
    };
    let mut out = Map::new();
    for (name, literal) in &field.args {
        let Some((_, ty)) = root.args.iter().find(|(a, _)| a == name) else {
            return Err(GqlError::new(
                format!("Unknown argument \"{name}\" on field \"{parent}.{}\".", field.name),
                Some(field.at),
            ));
        };
        let value = substitute(literal, ty, operation, given, field.at)?;
        schema::check_value(&value, ty).map_err(|e| {
            GqlError::new(format!("Argument \"{name}\" has invalid value {value}: {e}"), Some(field.at))
        })?;
        out.insert(name.clone(), value);
    }
    for (name, ty) in root.args {
        if ty.ends_with('!') && out.get(*name).is_none_or(Value::is_null) {
            return Err(GqlError::new(
                format!(
                    "Field \"{}\" argument \"{name}\" of type \"{ty}\" is required, but it was not provided.",
                    field.name
                ),
                Some(field.at),
            ));
        }
    }
    Ok(out)
}

fn substitute(
    literal: &Literal,
    expected: &str,
    operation: &Operation,
    given: &Map<String, Value>,
    at: (usize, usize),
) -> Result<Value, GqlError> {
    Ok(match literal {
        Literal::Var(name) => {
            let Some((_, declared)) = operation.variables.iter().find(|(v, _)| v == name) else {
                return Err(GqlError::new(format!("Variable \"${name}\" is not defined."), Some(at)));
            };
            if !schema::assignable(declared, expected) {
                return Err(GqlError::new(
                    format!(
                        "Variable \"${name}\" of type \"{declared}\" used in position expecting type \"{expected}\"."
                    ),
                    Some(at),
                ));
            }
            given.get(name).cloned().unwrap_or(Value::Null)
        }
        Literal::Scalar(value) => value.clone(),
        Literal::Enum(name) => Value::String(name.clone()),
        Literal::List(items) => {
            let inner = schema::list_item(expected).unwrap_or(expected);
            Value::Array(items.iter().map(|i| substitute(i, inner, operation, given, at)).collect::<Result<_, _>>()?)
        }
        Literal::Object(fields) => {
            let mut map = Map::new();
            for (name, literal) in fields {
                let ty = schema::input_field(expected, name).unwrap_or("Unknown");
                map.insert(name.clone(), substitute(literal, ty, operation, given, at)?);
            }
            Value::Object(map)
        }
    })
}

/// `value` cut down to what `field` selects: scalars must not have a selection, objects must;
/// every selected field must exist on the object (objects carry their `__typename`).
pub(super) fn project(value: &Value, field: &Field, ty: &str) -> Result<Value, GqlError> {
    match (value, &field.selection) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::Array(items), _) => {
            Ok(Value::Array(items.iter().map(|item| project(item, field, ty)).collect::<Result<_, _>>()?))
        }
        (Value::Object(object), selection) if !schema::is_json_scalar(&field.name) => {
            let type_name = object.get("__typename").and_then(Value::as_str).unwrap_or(ty).to_owned();
            let Some(selection) = selection else {
                return Err(GqlError::new(
                    format!(
                        "Field \"{}\" of type \"{ty}\" must have a selection of subfields. Did you mean \"{} {{ ... }}\"?",
                        field.name, field.name
                    ),
                    Some(field.at),
                ));
            };
            let mut out = Map::new();
            for sub in selection {
                let Some(inner) = object.get(&sub.name) else {
                    return Err(GqlError::new(
                        format!("Cannot query field \"{}\" on type \"{type_name}\".", sub.name),
                        Some(sub.at),
                    ));
                };
                out.insert(sub.name.clone(), project(inner, sub, &sub.name)?);
            }
            Ok(Value::Object(out))
        }
        (_, Some(_)) => Err(GqlError::new(
            format!("Field \"{}\" must not have a selection since type \"{ty}\" has no subfields.", field.name),
            Some(field.at),
        )),
        (scalar, None) => Ok(scalar.clone()),
    }
}

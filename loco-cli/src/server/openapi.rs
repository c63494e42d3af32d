//! The OpenAPI 3.1 document: paths and the HTTP-only shapes (envelopes, the rollout-start body,
//! the error body) come from the handlers' utoipa annotations; every record schema comes from
//! the core's JSON Schema (`loco_core::schema`), the one definition of the data model, so the
//! document cannot drift from what the server renders.

use serde_json::{Map, Value, json};

/// Names in the OpenAPI document for the core's records, usable in utoipa annotations
/// (`body = refs::Deployment`): each is a reference to the component of that name, whose schema
/// is filled in from the core's JSON Schema.
pub mod refs {
    use std::borrow::Cow;

    use utoipa::openapi::{Ref, RefOr, Schema};

    macro_rules! core_refs {
        ($($name:ident => $component:literal),* $(,)?) => {$(
            #[doc = concat!("The `", $component, "` component (a core record).")]
            #[derive(Debug)]
            pub struct $name;

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    RefOr::Ref(Ref::from_schema_name($component))
                }
            }

            impl utoipa::ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed($component)
                }
            }
        )*};
    }

    core_refs!(
        Deployment => "Deployment",
        DeploymentPage => "DeploymentPage",
        CreateDeployment => "CreateDeployment",
        ActionRequest => "ActionRequest",
        Event => "Event",
        AuditReport => "AuditReport",
        AuditHead => "AuditHead",
        Rollout => "Rollout",
        Release => "Release",
        FieldError => "FieldError",
        LogLine => "LogLine",
        Token => "Token",
        ServiceDefinition => "ServiceDefinition",
        FreezeWindow => "FreezeWindow",
        ActiveFreeze => "ActiveFreeze",
        DeployLock => "DeployLock",
        ScheduledStart => "ScheduledStart",
        ScheduleRequest => "ScheduleRequest",
        ApprovalGate => "ApprovalGate",
        ReviewerGroup => "ReviewerGroup",
        ApprovalStatus => "ApprovalStatus",
        Pipeline => "Pipeline",
        PipelineView => "PipelineView",
        Manifest => "Manifest",
        ManifestRecord => "ManifestRecord",
        PlatformConfig => "PlatformConfig",
        NewPlatform => "NewPlatform",
        Thresholds => "Thresholds",
        ValidationReport => "ValidationReport",
        RolloutPlan => "RolloutPlan",
    );
}

/// Component names the HTTP API has used for core records, each an alias of a core definition.
const ALIASES: [(&str, &str); 3] =
    [("CreateDeployment", "NewDeployment"), ("ActionRequest", "ActionInput"), ("DeploymentPage", "Page")];

/// The complete document: `annotated` (utoipa's paths and HTTP shapes) with every core
/// definition added under `components.schemas`, references rewritten to
/// `#/components/schemas/…`, and string enums written as `{"type": "string", "enum": [...]}`
/// inline where a property uses them.
pub fn document(annotated: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(annotated).unwrap_or_else(|_| json!({}));
    let core = loco_core::schema::document();
    let mut definitions: Map<String, Value> = core["$defs"].as_object().cloned().unwrap_or_default();
    for (alias, name) in ALIASES {
        if let Some(definition) = definitions.get(name).cloned() {
            definitions.insert(alias.to_owned(), definition);
        }
    }
    let mut definitions = Value::Object(definitions);
    rewrite_refs(&mut definitions);
    let enums = string_enums(&definitions);
    inline_enums(&mut definitions, &enums);
    let components = doc.as_object_mut().map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(components)) = components {
        let schemas = components.entry("schemas").or_insert_with(|| json!({}));
        if let (Value::Object(schemas), Value::Object(definitions)) = (schemas, definitions) {
            schemas.extend(definitions);
        }
    }
    doc
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{name}");
                        }
                    }
                    (_, v) => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The values of every definition that is a plain string enum (`oneOf` of string constants, or
/// `enum`), by component reference.
fn string_enums(definitions: &Value) -> Map<String, Value> {
    let mut enums = Map::new();
    for (name, schema) in definitions.as_object().into_iter().flatten() {
        let values: Option<Vec<Value>> = match (schema.get("oneOf"), schema.get("enum")) {
            (Some(Value::Array(variants)), _) => {
                variants.iter().map(|v| v.get("const").filter(|c| c.is_string()).cloned()).collect()
            }
            (None, Some(Value::Array(values))) if values.iter().all(Value::is_string) => Some(values.clone()),
            _ => None,
        };
        if let Some(values) = values {
            enums.insert(format!("#/components/schemas/{name}"), Value::Array(values));
        }
    }
    enums
}

/// Replaces a property's reference to a string enum (or a nullable one) by the inline enum.
fn inline_enums(value: &mut Value, enums: &Map<String, Value>) {
    match value {
        Value::Object(map) => {
            if let Some(values) = map.get("$ref").and_then(Value::as_str).and_then(|r| enums.get(r)).cloned() {
                map.remove("$ref");
                map.insert("type".to_owned(), json!("string"));
                map.insert("enum".to_owned(), values);
                return;
            }
            let nullable = map.get("anyOf").and_then(Value::as_array).and_then(|options| match options.as_slice() {
                [only, null] if null == &json!({"type": "null"}) => {
                    only.get("$ref").and_then(Value::as_str).and_then(|r| enums.get(r)).cloned()
                }
                _ => None,
            });
            if let Some(Value::Array(mut values)) = nullable {
                values.push(Value::Null);
                map.remove("anyOf");
                map.insert("type".to_owned(), json!(["string", "null"]));
                map.insert("enum".to_owned(), Value::Array(values));
                return;
            }
            map.values_mut().for_each(|v| inline_enums(v, enums));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| inline_enums(v, enums)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_records_are_components_with_inline_status_enums() {
        let doc = document(&utoipa::openapi::OpenApi::default());
        let schemas = &doc["components"]["schemas"];
        let status = &schemas["Deployment"]["properties"]["status"];
        assert_eq!(status["type"], "string");
        assert_eq!(status["enum"].as_array().unwrap().len(), loco_core::Status::ALL.len());
        let from = &schemas["Event"]["properties"]["from_status"];
        assert_eq!(from["type"], json!(["string", "null"]));
        assert_eq!(from["enum"].as_array().unwrap().last(), Some(&Value::Null));
        assert_eq!(schemas["CreateDeployment"], schemas["NewDeployment"]);
        let text = doc.to_string();
        assert!(!text.contains("#/$defs/"), "every reference points into components");
    }
}

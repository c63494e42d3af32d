//! The JSON Schema (draft 2020-12) of every public type, generated from the Rust definitions:
//! the one source the HTTP API's OpenAPI components, the Python type stubs and the TypeScript
//! declarations are generated from (`scripts/codegen` writes and checks them).
//!
//! ```
//! let schema = loco_types::schema::document();
//! assert!(schema["$defs"]["Deployment"]["properties"]["status"].is_object());
//! ```

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::analysis::{Judgement, Severity, TestResult, Thresholds, Verdict, WindowStats};
use crate::audit::{AuditHead, AuditReport, BrokenLink};
use crate::error::{ErrorCode, FieldError};
use crate::event_data::{
    AnalysisData, ApprovalGrantedData, CanaryPromotedData, CreatedData, EventData, HealthCheckData, LockReleasedData,
    PolicyOverrideData, PromotedData, PromotionVerdict, RolloutTurn, ScriptData, StepDone, StepProgressData,
};
use crate::freeze::{ActiveFreeze, FreezeSchedule, FreezeWindow};
use crate::gate::{Approval, ApprovalGate, ApprovalStatus, ReviewerGroup};
use crate::identity::{Grant, NewToken, Role, Token};
use crate::lifecycle::{Action, ActionInput, Status};
use crate::lock::DeployLock;
use crate::manifest::{Manifest, ManifestRecord};
use crate::model::{Deployment, Event, EventKind, NewDeployment, Page, Timestamp};
use crate::pipeline::{Pipeline, PipelineView, StageState};
use crate::plan::{
    AnalysisSpec, HealthSpec, Hook, MetricSourceSpec, Probe, PrometheusQueries, PrometheusSpec, ReleaseSpec,
    RolloutPlan, ScriptHooks, ScriptLanguage, ScriptSpec, Strategy, ValidationReport,
};
use crate::platform::{
    Capabilities, HealthOutcome, Instance, InstanceState, LogLine, LogStream, Target, TrafficControl, TrafficWeight,
};
use crate::platform_config::{
    FlySettings, NewPlatform, PlatformConfig, PlatformSettings, RailwaySettings, RailwayTokenKind, RenderSettings,
    VercelSettings,
};
use crate::rollout::{FailureCode, Release, Rollout, RolloutFailure, RolloutProgress, RolloutState, Step};
use crate::schedule::{ScheduleRequest, ScheduleState, ScheduledStart};
use crate::service::ServiceDefinition;

/// The schema of an `Option<T>` field that is always present in JSON (as a value or `null`):
/// nullable, and required. Output records use it (`#[schemars(with = "Nullable<String>")]`) so
/// generated types say "always there, maybe null" rather than "maybe absent".
pub struct Nullable<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Nullable<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        <Option<T>>::json_schema(generator)
    }
}

/// Adds `T` (and everything it refers to) to the generator's definitions.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

/// The policy records: freeze windows, gates and groups, pipelines and manifests, locks and
/// scheduled starts.
fn add_policy(generator: &mut SchemaGenerator) {
    add::<FreezeWindow>(generator);
    add::<FreezeSchedule>(generator);
    add::<ActiveFreeze>(generator);
    add::<ApprovalGate>(generator);
    add::<ReviewerGroup>(generator);
    add::<Approval>(generator);
    add::<ApprovalStatus>(generator);
    add::<Pipeline>(generator);
    add::<Manifest>(generator);
    add::<ManifestRecord>(generator);
    add::<PipelineView>(generator);
    add::<StageState>(generator);
    add::<DeployLock>(generator);
    add::<ScheduleRequest>(generator);
    add::<ScheduleState>(generator);
    add::<ScheduledStart>(generator);
}

/// The schema document: `$defs` maps each type's name to its schema; references between types
/// are `#/$defs/Name`; string enums list their values in declaration order.
pub fn document() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    // Records and their parts.
    add::<Deployment>(&mut generator);
    add::<Event>(&mut generator);
    add::<Page<Deployment>>(&mut generator);
    add::<AuditReport>(&mut generator);
    add::<BrokenLink>(&mut generator);
    add::<AuditHead>(&mut generator);
    add::<Rollout>(&mut generator);
    add::<Release>(&mut generator);
    add::<RolloutProgress>(&mut generator);
    add::<RolloutFailure>(&mut generator);
    add::<FailureCode>(&mut generator);
    add::<RolloutState>(&mut generator);
    add::<Step>(&mut generator);
    add::<Instance>(&mut generator);
    add::<InstanceState>(&mut generator);
    add::<TrafficWeight>(&mut generator);
    add::<Target>(&mut generator);
    add::<LogLine>(&mut generator);
    add::<LogStream>(&mut generator);
    add::<HealthOutcome>(&mut generator);
    add::<Judgement>(&mut generator);
    add::<Verdict>(&mut generator);
    add::<Severity>(&mut generator);
    add::<WindowStats>(&mut generator);
    add::<TestResult>(&mut generator);
    add::<Timestamp>(&mut generator);
    // Event data.
    add::<EventData>(&mut generator);
    add::<CreatedData>(&mut generator);
    add::<StepProgressData>(&mut generator);
    add::<StepDone>(&mut generator);
    add::<RolloutTurn>(&mut generator);
    add::<HealthCheckData>(&mut generator);
    add::<AnalysisData>(&mut generator);
    add::<CanaryPromotedData>(&mut generator);
    add::<ScriptData>(&mut generator);
    add::<ValidationReport>(&mut generator);
    add::<PolicyOverrideData>(&mut generator);
    add::<LockReleasedData>(&mut generator);
    add::<ApprovalGrantedData>(&mut generator);
    add::<PromotedData>(&mut generator);
    add::<PromotionVerdict>(&mut generator);
    // Inputs.
    add::<NewDeployment>(&mut generator);
    add::<ActionInput>(&mut generator);
    add::<RolloutPlan>(&mut generator);
    add::<Strategy>(&mut generator);
    add::<ScriptHooks>(&mut generator);
    add::<ScriptSpec>(&mut generator);
    add::<ScriptLanguage>(&mut generator);
    add::<Hook>(&mut generator);
    add::<ReleaseSpec>(&mut generator);
    add::<HealthSpec>(&mut generator);
    add::<Probe>(&mut generator);
    add::<AnalysisSpec>(&mut generator);
    add::<MetricSourceSpec>(&mut generator);
    add::<PrometheusSpec>(&mut generator);
    add::<PrometheusQueries>(&mut generator);
    add::<Thresholds>(&mut generator);
    // Names and codes.
    add::<Status>(&mut generator);
    add::<Action>(&mut generator);
    add::<EventKind>(&mut generator);
    add::<ErrorCode>(&mut generator);
    // Access and the service registry.
    add::<Role>(&mut generator);
    add::<Grant>(&mut generator);
    add::<Token>(&mut generator);
    add::<NewToken>(&mut generator);
    add::<ServiceDefinition>(&mut generator);
    add_policy(&mut generator);
    // Configured platforms and what platforms can do.
    add::<PlatformConfig>(&mut generator);
    add::<NewPlatform>(&mut generator);
    add::<PlatformSettings>(&mut generator);
    add::<FlySettings>(&mut generator);
    add::<RenderSettings>(&mut generator);
    add::<RailwaySettings>(&mut generator);
    add::<RailwayTokenKind>(&mut generator);
    add::<VercelSettings>(&mut generator);
    add::<Capabilities>(&mut generator);
    add::<TrafficControl>(&mut generator);
    add::<FieldError>(&mut generator);
    let definitions: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/loco-dev/loco/schema/loco.schema.json",
        "title": "Loco data model",
        "description": "Every public type of Loco, generated from the Rust definitions in loco-types.",
        "$defs": definitions,
    })
}

/// The document as pretty-printed JSON with a trailing newline (the committed file's bytes).
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_named_and_referenced_types_exist() {
        let doc = document();
        let defs = doc["$defs"].as_object().unwrap();
        for name in ["Deployment", "Event", "Rollout", "RolloutPlan", "EventData", "ErrorCode", "Status"] {
            assert!(defs.contains_key(name), "{name} missing");
        }
        let text = serde_json::to_string(&doc).unwrap();
        for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(defs.contains_key(name), "dangling reference to {name}");
        }
    }

    #[test]
    fn status_values_are_in_lifecycle_order() {
        let doc = document();
        let values: Vec<&str> =
            doc["$defs"]["Status"]["oneOf"].as_array().unwrap().iter().map(|v| v["const"].as_str().unwrap()).collect();
        let expected: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(values, expected);
    }
}

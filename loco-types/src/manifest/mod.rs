//! The `service.yaml` manifest: one file that says how a service is released — its stages in
//! order, and per stage the rollout plan and the approval gate — plus the freeze windows of its
//! environments. It is read here, once, for every surface: every problem is reported at once, each
//! with its path (`stages[2].rollout.strategy.steps[1]`) and line, and unknown fields are errors.
//!
//! A manifest is made of the objects Loco already has: a stage's `rollout` is a
//! [`RolloutPlan`], its `approval` is an [`ApprovalGate`] for the stage's environment, the stages
//! form the service's [`Pipeline`] and `freeze_windows` are [`FreezeWindow`]s.
//!
//! ```
//! let manifest = loco_types::manifest::parse("
//! apiVersion: loco/v1
//! service: checkout
//! stages:
//!   - environment: staging
//!   - environment: production
//!     approval:
//!       required_approvals: 2
//! ").unwrap();
//! assert_eq!(manifest.pipeline().stages, ["staging", "production"]);
//! assert_eq!(manifest.gates()[0].environment, "production");
//!
//! let error = loco_types::manifest::parse("
//! apiVersion: loco/v1
//! service: checkout
//! stages:
//!   - environment: staging
//!   - environment: production
//!     aproval: {}
//! ").unwrap_err();
//! let problem = &error.details()[0];
//! assert_eq!((problem.field.as_str(), problem.line), ("stages[1].aproval", Some(7)));
//! ```

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::sha256_hex;
use crate::error::{Error, FieldError, Result};
use crate::freeze::FreezeWindow;
use crate::gate::ApprovalGate;
use crate::lifecycle::same_person;
use crate::model::Timestamp;
use crate::pipeline::Pipeline;
use crate::plan::RolloutPlan;

mod shape;
pub mod yaml;

/// The only manifest format version so far.
pub const API_VERSION: &str = "loco/v1";
/// Largest manifest accepted: 256 KiB.
pub const MAX_BYTES: usize = 256 * 1024;
/// Most problems one reading reports (the first ones in the file, then how many more there are).
pub const MAX_PROBLEMS: usize = 100;

fn yes() -> bool {
    true
}

/// A service's release policy, as written in its `service.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Loco service manifest")]
pub struct Manifest {
    /// The manifest format: `loco/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The service it describes (1–256 characters).
    pub service: String,
    /// The environments a release goes through, in order: 2 to 10, each named once.
    pub stages: Vec<Stage>,
    /// Whether a version must have succeeded in a stage before it may be deployed to the next
    /// (default true).
    #[serde(default = "yes")]
    pub require_previous_success: bool,
    /// Freeze windows of this service's environments; each may name only stages of this manifest.
    /// Windows are environment-wide: they hold for every service deployed there.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
}

/// One stage: an environment, how releases roll out there and who must approve them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The environment's name, as deployments name it.
    pub environment: String,
    /// The rollout plan starts in this stage use when they bring none.
    #[serde(default)]
    pub rollout: Option<RolloutPlan>,
    /// The approval gate of this stage's environment; without one, a deployment needs the single
    /// review of any approver. The gate is this service's own: other services keep the environment's rules.
    #[serde(default)]
    pub approval: Option<StageApproval>,
}

/// A stage's approval gate: [`ApprovalGate`] without the environment, which is the stage's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageApproval {
    /// How many distinct reviewers must approve, 1 to 10 (never the requester).
    pub required_approvals: u32,
    /// Who may approve or reject; empty, and no `groups` either: anyone holding the approver role.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Reviewer groups whose members may approve or reject too (`loco group set`); each must
    /// exist when the manifest is applied.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Minutes after which an approval no longer counts, 1 to 43200; absent: never.
    #[serde(default)]
    pub expires_after_minutes: Option<u32>,
    /// Minutes a deployment must wait after its last approval before it may start, 1 to 43200.
    #[serde(default)]
    pub wait_minutes: Option<u32>,
}

impl StageApproval {
    /// The gate this approval policy sets on `service`'s deployments to `environment`.
    pub fn gate(&self, service: &str, environment: &str) -> ApprovalGate {
        ApprovalGate {
            environment: environment.to_owned(),
            service: Some(service.to_owned()),
            required_approvals: self.required_approvals,
            approvers: self.approvers.clone(),
            groups: self.groups.clone(),
            members: Vec::new(),
            expires_after_minutes: self.expires_after_minutes,
            wait_minutes: self.wait_minutes,
        }
    }
}

impl Manifest {
    /// The service's pipeline: its stages in order.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            service: self.service.clone(),
            stages: self.stages.iter().map(|s| s.environment.clone()).collect(),
            require_previous_success: self.require_previous_success,
        }
    }

    /// The approval gates its stages set: each guards this service's deployments to the stage's
    /// environment, and no other service's.
    pub fn gates(&self) -> Vec<ApprovalGate> {
        self.stages.iter().filter_map(|s| s.approval.as_ref().map(|a| a.gate(&self.service, &s.environment))).collect()
    }

    /// Refuses this manifest when a stage's approval names a reviewer group that is not among
    /// `groups` (all there are), naming each (`stages[2].approval.groups[0]`).
    pub fn check_groups(&self, groups: &[crate::gate::ReviewerGroup]) -> Result<()> {
        let mut details = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            if let Some(approval) = &stage.approval {
                for problem in
                    nested(crate::gate::check_groups(&approval.gate(&self.service, &stage.environment), groups))
                {
                    details.push(FieldError::new(format!("stages[{i}].approval.{}", problem.field), problem.message));
                }
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// The stage named `environment`, if it is one.
    pub fn stage(&self, environment: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.environment == environment)
    }

    /// Every rule a well-formed manifest can still break, each named by its path.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.api_version != API_VERSION {
            problems.push(FieldError::new("apiVersion", format!("must be {API_VERSION}")));
        }
        let environments: Vec<&str> = self.stages.iter().map(|s| s.environment.as_str()).collect();
        problems.extend(order_problems(&self.service, &environments, self.require_previous_success));
        for (i, stage) in self.stages.iter().enumerate() {
            problems.extend(stage.problems(&self.service, i));
        }
        for (i, window) in self.freeze_windows.iter().enumerate() {
            problems.extend(window_problems(i, window, &self.freeze_windows[..i], &environments));
        }
        problems
    }
}

impl Stage {
    /// The rules this stage (number `i`) of `service`'s manifest breaks on its own: its gate's
    /// and its plan's (the service and environment are checked where they are written).
    fn problems(&self, service: &str, i: usize) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Some(approval) = &self.approval {
            for problem in nested(approval.gate(service, &self.environment).validate()) {
                if problem.field != "environment" && problem.field != "service" {
                    problems.push(FieldError::new(format!("stages[{i}].approval.{}", problem.field), problem.message));
                }
            }
        }
        if let Some(plan) = &self.rollout {
            for problem in nested(plan.validate()) {
                problems.push(FieldError::new(format!("stages[{i}].rollout.{}", problem.field), problem.message));
            }
            if !plan.release.secret_env.is_empty() {
                problems.push(FieldError::new(
                    format!("stages[{i}].rollout.release.secret_env"),
                    "must be empty: a manifest is stored and shown as written, so secrets go in the plan a \
                     rollout is started with",
                ));
            }
        }
        problems
    }
}

/// The pipeline's rules: the service's name, and 2 to 10 stages, each named once.
fn order_problems(service: &str, environments: &[&str], require_previous_success: bool) -> Vec<FieldError> {
    let pipeline = Pipeline {
        service: service.to_owned(),
        stages: environments.iter().map(|e| (*e).to_owned()).collect(),
        require_previous_success,
    };
    nested(pipeline.validate())
        .into_iter()
        .map(|problem| match problem.field.strip_prefix("stages[") {
            Some(rest) => FieldError::new(format!("stages[{rest}.environment"), problem.message),
            None => problem,
        })
        .collect()
}

/// Window `i`'s own rules, a name not used by an `earlier` window, and environments that are stages.
fn window_problems(i: usize, window: &FreezeWindow, earlier: &[FreezeWindow], stages: &[&str]) -> Vec<FieldError> {
    let mut problems: Vec<FieldError> = nested(window.validate())
        .into_iter()
        .map(|problem| FieldError::new(format!("freeze_windows[{i}].{}", problem.field), problem.message))
        .collect();
    if earlier.iter().any(|e| e.name == window.name) {
        problems.push(FieldError::new(format!("freeze_windows[{i}].name"), format!("names '{}' twice", window.name)));
    }
    for (j, environment) in window.environments.iter().enumerate() {
        if !stages.iter().any(|s| same_person(s, environment)) {
            problems.push(FieldError::new(
                format!("freeze_windows[{i}].environments[{j}]"),
                format!("'{environment}' is not a stage of this manifest"),
            ));
        }
    }
    problems
}

/// The rules of the parts of a manifest whose shape is right, when other parts' is not: so one
/// reading reports a misspelled field and an out-of-range value elsewhere together.
fn part_problems(value: &Value, shape_problems: &[FieldError]) -> Vec<FieldError> {
    // The top-level field, or list item of one (`stages[3]`), each problem is under.
    let dirty: std::collections::HashSet<&str> = shape_problems
        .iter()
        .map(|p| {
            let end = p.field.find('.').unwrap_or(p.field.len());
            let head = &p.field[..end];
            head.find(']').map_or(head, |close| &head[..=close])
        })
        .collect();
    let clean = |path: &str| !dirty.contains(path) && !dirty.contains(path.split('[').next().unwrap_or(path));
    let mut problems = Vec::new();
    if clean("apiVersion") && value.get("apiVersion").is_some_and(|v| v != API_VERSION) {
        problems.push(FieldError::new("apiVersion", format!("must be {API_VERSION}")));
    }
    let stages = value.get("stages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let environments: Vec<&str> = stages.iter().filter_map(|s| s.get("environment")?.as_str()).collect();
    let all_named = value.get("stages").is_some_and(Value::is_array) && environments.len() == stages.len();
    if all_named
        && clean("service")
        && let Some(service) = value.get("service").and_then(Value::as_str)
    {
        problems.extend(order_problems(service, &environments, true));
    }
    for (i, stage) in stages.iter().enumerate() {
        if clean(&format!("stages[{i}]"))
            && let Ok(stage) = serde_json::from_value::<Stage>(stage.clone())
        {
            problems.extend(stage.problems(value.get("service").and_then(Value::as_str).unwrap_or_default(), i));
        }
    }
    let windows = value.get("freeze_windows").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut earlier = Vec::new();
    for (i, window) in windows.iter().enumerate() {
        if clean(&format!("freeze_windows[{i}]"))
            && let Ok(window) = serde_json::from_value::<FreezeWindow>(window.clone())
        {
            if all_named {
                problems.extend(window_problems(i, &window, &earlier, &environments));
            }
            earlier.push(window);
        }
    }
    problems
}

/// One applied version of a service's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestRecord {
    /// The service.
    pub service: String,
    /// 1 for the first manifest applied to the service, then one more for each that changed it.
    pub version: u32,
    /// SHA-256 of `text`, lowercase hex: applying the same text again keeps this version.
    pub digest: String,
    /// The manifest exactly as it was applied.
    pub text: String,
    /// The manifest as read, every default filled in.
    pub manifest: Manifest,
    /// Who applied it.
    pub applied_by: String,
    /// When.
    pub applied_at: Timestamp,
}

impl ManifestRecord {
    /// The rollout plan stage `environment` of this version sets, for a deployment created under
    /// it that starts without one (its `release.version` empty, so the deployment's is used). A
    /// validation error on `plan` when the stage sets none, or `environment` is not a stage.
    pub fn stage_plan(&self, environment: &str) -> Result<RolloutPlan> {
        let (service, version) = (&self.service, self.version);
        match self.manifest.stage(environment) {
            Some(Stage { rollout: Some(plan), .. }) => Ok(plan.clone()),
            Some(_) => Err(Error::invalid(
                "plan",
                format!(
                    "is required: stage '{environment}' of version {version} of the manifest of '{service}' sets no rollout"
                ),
            )),
            None => Err(Error::invalid(
                "plan",
                format!(
                    "is required: '{environment}' is not a stage of version {version} of the manifest of '{service}'"
                ),
            )),
        }
    }
}

/// The version of its service's manifest a deployment was created under, read from its
/// `created` event (the first of `events`); `None` when its service's pipeline was not set by a
/// manifest then.
pub fn created_under(events: &[crate::model::Event]) -> Result<Option<u32>> {
    let Some(created) = events.first().filter(|e| e.kind == crate::model::EventKind::Created) else {
        return Ok(None);
    };
    Ok(match created.typed_data()? {
        Some(crate::event_data::EventData::Created(data)) => data.manifest_version,
        _ => None,
    })
}

/// The digest [`ManifestRecord::digest`] holds for `text`.
pub fn digest(text: &str) -> String {
    sha256_hex(&[text.as_bytes()])
}

/// What applying `manifest` over `previous` (the service's newest applied manifest) removes: the
/// environments whose gate for this service the previous version set and this one does not, and
/// the freeze windows the previous version set and this one does not name. A manifest owns what
/// it set, and nothing else: gates and windows set by hand or by another service's manifest stay.
pub fn dropped(manifest: &Manifest, previous: Option<&Manifest>) -> (Vec<String>, Vec<String>) {
    let Some(previous) = previous else { return (Vec::new(), Vec::new()) };
    let kept: Vec<String> = manifest.gates().iter().map(|g| crate::gate::key(&g.environment)).collect();
    let gates =
        previous.gates().iter().map(|g| crate::gate::key(&g.environment)).filter(|key| !kept.contains(key)).collect();
    let windows = previous
        .freeze_windows
        .iter()
        .filter(|w| !manifest.freeze_windows.iter().any(|n| n.name == w.name))
        .map(|w| w.name.clone())
        .collect();
    (gates, windows)
}

/// The environment-wide gates `previous` would have set when manifests set environment-wide
/// gates (before gates could be set per service): applying a newer version removes each one still
/// stored exactly so (nobody changed it since), as the service-scoped gates replace it.
pub fn legacy_gates(previous: Option<&Manifest>) -> Vec<ApprovalGate> {
    previous.map_or_else(Vec::new, |previous| {
        previous.gates().into_iter().map(|gate| ApprovalGate { service: None, ..gate }).collect()
    })
}

fn nested(result: Result<()>) -> Vec<FieldError> {
    result.err().map(|e| e.details().to_vec()).unwrap_or_default()
}

/// The JSON Schema (draft 2020-12) of a manifest, generated from [`Manifest`]: what
/// `loco manifest schema` prints and `schema/manifest.schema.json` holds.
pub fn schema() -> Value {
    let generator = schemars::SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut schema = generator.into_root_schema_for::<Manifest>().to_value();
    if let Some(map) = schema.as_object_mut() {
        map.insert("$id".into(), Value::String("https://loco.dev/schema/manifest.schema.json".into()));
    }
    schema
}

/// Reads a `service.yaml` manifest (YAML, or JSON, which is YAML too) and checks it. On any
/// problem the error is a validation error listing every problem found, in the order of the file,
/// each with its path, line and column.
pub fn parse(text: &str) -> Result<Manifest> {
    if text.len() > MAX_BYTES {
        return Err(Error::invalid("manifest", format!("is {} bytes; at most {MAX_BYTES} are accepted", text.len())));
    }
    let located = yaml::read(text).map_err(|e| {
        let field = if e.path.is_empty() { "manifest".to_owned() } else { e.path };
        Error::Validation { details: vec![at(FieldError::new(field, e.message), Some(e.position))] }
    })?;
    let fail = |problems: Vec<FieldError>| {
        let mut details: Vec<FieldError> = problems
            .into_iter()
            .map(|p| {
                let position = located.position(&p.field);
                at(p, position)
            })
            .collect();
        details.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
        if details.len() > MAX_PROBLEMS {
            let more = details.len() - MAX_PROBLEMS;
            details.truncate(MAX_PROBLEMS);
            details.push(FieldError::new("manifest", format!("has {more} more problems after these")));
        }
        Error::Validation { details }
    };
    let schema = schema();
    let defs = schema.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    if !located.value.is_object() {
        return Err(fail(vec![FieldError::new("manifest", "must be a mapping (apiVersion, service, stages, ...)")]));
    }
    let mut problems = Vec::new();
    shape::check(&schema, &located.value, "", &defs, &mut problems);
    if !problems.is_empty() {
        let rules = part_problems(&located.value, &problems);
        problems.extend(rules);
        return Err(fail(problems));
    }
    let manifest: Manifest = serde_path_to_error::deserialize(located.value.clone()).map_err(|e| {
        let field = e.path().to_string();
        fail(vec![FieldError::new(
            if field == "." { "manifest".to_owned() } else { field },
            e.into_inner().to_string(),
        )])
    })?;
    let problems = manifest.problems();
    if problems.is_empty() { Ok(manifest) } else { Err(fail(problems)) }
}

fn at(problem: FieldError, position: Option<yaml::Position>) -> FieldError {
    FieldError { line: position.map(|p| p.line), column: position.map(|p| p.column), ..problem }
}

//! The facts events carry in [`Event::data`](crate::model::Event::data), typed per event kind: the
//! request a `created` event accepted, and the rollout events' facts — `step_progress` (a step
//! done, or a rollback, restore, pause, override or extension), `health_check`, `analysis` and
//! `canary_promoted`. The other lifecycle events carry none: their fields say all they change.
//!
//! Data is stored and hashed as canonical JSON (keys sorted), so these types decide what is
//! written, and [`EventData::parse`] reads it back by kind.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::{Judgement, Verdict};
use crate::error::{Error, Result};
use crate::model::{EventKind, NewDeployment, Timestamp};
use crate::plan::{Hook, ValidationReport};
use crate::platform::{HealthOutcome, TrafficWeight};
use crate::rollout::Step;

/// The data of one event: a `created` event's request, or a rollout event's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EventData {
    /// A `created` event (written since the audit covers whole records; older ones carry none).
    Created(CreatedData),
    /// A `step_progress` event.
    StepProgress(StepProgressData),
    /// A `health_check` event.
    HealthCheck(HealthCheckData),
    /// An `analysis` event.
    Analysis(Box<AnalysisData>),
    /// A `canary_promoted` event.
    CanaryPromoted(CanaryPromotedData),
    /// A `script` event.
    Script(ScriptData),
    /// A `validation` event: the pre-deployment checks' full report.
    Validation(ValidationReport),
    /// A `policy_override` event: the policy an admin started in spite of.
    PolicyOverride(PolicyOverrideData),
    /// A `lock_released` event: the deploy lock an admin forced free.
    LockReleased(LockReleasedData),
    /// An `approval_granted` event: one of the approvals a gate needs.
    ApprovalGranted(ApprovalGrantedData),
    /// A `promoted` event: the deployment this one was promoted from.
    Promoted(PromotedData),
}

impl EventData {
    /// The event kind this data belongs to.
    pub fn kind(&self) -> EventKind {
        match self {
            EventData::Created(_) => EventKind::Created,
            EventData::StepProgress(_) => EventKind::StepProgress,
            EventData::HealthCheck(_) => EventKind::HealthCheck,
            EventData::Analysis(_) => EventKind::Analysis,
            EventData::CanaryPromoted(_) => EventKind::CanaryPromoted,
            EventData::Script(_) => EventKind::Script,
            EventData::Validation(_) => EventKind::Validation,
            EventData::PolicyOverride(_) => EventKind::PolicyOverride,
            EventData::LockReleased(_) => EventKind::LockReleased,
            EventData::ApprovalGranted(_) => EventKind::ApprovalGranted,
            EventData::Promoted(_) => EventKind::Promoted,
        }
    }

    /// The JSON stored in the event.
    pub fn to_value(&self) -> serde_json::Value {
        // Serializing these plain structs cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads the stored data of an event of `kind` (`None` for the lifecycle kinds after `created`).
    pub fn parse(kind: EventKind, value: &serde_json::Value) -> Result<Option<EventData>> {
        let bad = |e: serde_json::Error| Error::storage(format!("the data of a {kind} event is malformed: {e}"));
        let data = match kind {
            EventKind::Created => EventData::Created(CreatedData::deserialize(value).map_err(bad)?),
            EventKind::StepProgress => EventData::StepProgress(StepProgressData::deserialize(value).map_err(bad)?),
            EventKind::HealthCheck => EventData::HealthCheck(HealthCheckData::deserialize(value).map_err(bad)?),
            EventKind::Analysis => EventData::Analysis(Box::new(AnalysisData::deserialize(value).map_err(bad)?)),
            EventKind::CanaryPromoted => {
                EventData::CanaryPromoted(CanaryPromotedData::deserialize(value).map_err(bad)?)
            }
            EventKind::Script => EventData::Script(ScriptData::deserialize(value).map_err(bad)?),
            EventKind::Validation => EventData::Validation(ValidationReport::deserialize(value).map_err(bad)?),
            EventKind::PolicyOverride => {
                EventData::PolicyOverride(PolicyOverrideData::deserialize(value).map_err(bad)?)
            }
            EventKind::LockReleased => EventData::LockReleased(LockReleasedData::deserialize(value).map_err(bad)?),
            EventKind::ApprovalGranted => {
                EventData::ApprovalGranted(ApprovalGrantedData::deserialize(value).map_err(bad)?)
            }
            EventKind::Promoted => EventData::Promoted(PromotedData::deserialize(value).map_err(bad)?),
            _ => return Ok(None),
        };
        Ok(Some(data))
    }
}

/// What a `policy_override` event records: the rule and the occurrence (a freeze window's, or
/// the span of a gate's wait after approval) an admin started in
/// spite of (the event's `actor` is the admin, its `note` the reason they gave).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrideData {
    /// The rule: `freeze_window`, or `wait_timer` (an approval gate's wait).
    pub rule: String,
    /// The window's name.
    pub name: String,
    /// The environment it froze.
    pub environment: String,
    /// When the overridden occurrence began.
    pub start: Timestamp,
    /// When it would have ended.
    pub end: Timestamp,
}

/// What a `lock_released` event records: the deploy lock an admin forced free (the event's
/// `actor` is the admin, its `note` the reason they gave, its deployment the holder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockReleasedData {
    /// The service whose lock it was.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Who had started the holding deployment.
    pub holder: String,
    /// Since when it was held.
    pub since: Timestamp,
}

/// What an `approval_granted` event records: how far the review has come (the event's `actor`
/// is the reviewer, its `note` what they said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalGrantedData {
    /// The approvals that count, this one included.
    pub approvals: u32,
    /// How many the environment's gate requires.
    pub required: u32,
}

/// What a `promoted` event records: the succeeded deployment of the stage before that this one
/// was promoted from (the event's `actor` is who promoted it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotedData {
    /// The deployment promoted.
    pub from_deployment: String,
    /// Its environment, the stage before.
    pub from_environment: String,
}

/// What a `created` event records: the request exactly as it was accepted, so the audit chain
/// covers every field the deployment was created with (its id, status and times are the event's
/// own `deployment_id`, `to_status` and `at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatedData {
    /// The service being deployed.
    pub service: String,
    /// The target environment.
    pub environment: String,
    /// The version or build being deployed.
    pub version: String,
    /// Who asked for the deployment.
    pub requester: String,
    /// Planning artifacts the deployment delivers.
    pub work_refs: Vec<String>,
    /// How to recover if the deployment goes wrong.
    pub rollback_plan: String,
    /// Accepted risk, if stated.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub risk: Option<String>,
    /// The source commit being deployed; absent when not stated (so a `created` event written
    /// before commits existed reads, and hashes, as it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The version of the service's `service.yaml` manifest in force when it was created (the one
    /// whose pipeline ordered it); absent when the service's pipeline was not set by a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_version: Option<u32>,
}

impl From<NewDeployment> for CreatedData {
    fn from(new: NewDeployment) -> Self {
        let NewDeployment { service, environment, version, requester, work_refs, rollback_plan, risk, commit } = new;
        Self {
            service,
            environment,
            version,
            requester,
            work_refs,
            rollback_plan,
            risk,
            commit,
            manifest_version: None,
        }
    }
}

impl From<CreatedData> for NewDeployment {
    fn from(data: CreatedData) -> Self {
        let CreatedData { service, environment, version, requester, work_refs, rollback_plan, risk, commit, .. } = data;
        Self { service, environment, version, requester, work_refs, rollback_plan, risk, commit }
    }
}

/// What a `step_progress` event records: a finished step, or a turn of the rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StepProgressData {
    /// A step finished.
    StepDone(StepDone),
    /// The rollout turned: rolling back, restored, paused, overridden, observation extended.
    Turn(RolloutTurn),
}

/// A finished step and where the rollout stands after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDone {
    /// The step's number, 1-based.
    pub step: u32,
    /// Steps in the plan.
    pub of: u32,
    /// What the step did.
    pub action: Step,
    /// The traffic split after it.
    pub traffic: Vec<TrafficWeight>,
    /// Running instances of the new release.
    pub running_new_instances: u32,
    /// Where clients reach the service, when the platform says.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub endpoint: Option<String>,
}

/// A turn of the rollout other than a finished step, named by `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RolloutTurn {
    /// Rolling back was decided (with its trigger), or restoring the previous release failed
    /// (`ok: false`).
    Rollback {
        /// What triggered it: a failure code, or `manual`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger: Option<String>,
        /// `false` when restoring failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ok: Option<bool>,
    },
    /// The previous release serves all traffic again (or a first release was taken down).
    Restored {
        /// The version restored; `null` when a first release was taken down.
        version: Option<String>,
        /// What triggered the rollback.
        trigger: String,
        /// From the deciding sample or check to the platform's rollback call, for automatic
        /// rollbacks.
        trigger_to_rollback_call_ms: Option<f64>,
        /// The platform's rollback call itself.
        restore_ms: f64,
    },
    /// An inconclusive analysis window was extended.
    Extend {
        /// Which extension this is (1-based).
        extension: u32,
    },
    /// The rollout paused for a person.
    Pause {
        /// Why.
        reasons: Vec<String>,
    },
    /// A person overrode a pause; the rollout continues.
    Override,
    /// An engine took over a rollout whose engine had stopped and continues it (`on_restart:
    /// resume`): what ran was brought back, checked and given its recorded traffic split.
    Resume {
        /// The step it continues at (1-based).
        step: u32,
        /// The instances running again (kept or restarted).
        instances: u32,
    },
    /// A share of traffic meant for a version with no ready instance went to another version
    /// (the proxy never drops a share silently).
    Failover {
        /// The version without a ready instance.
        version: String,
        /// Requests that went elsewhere since the last such event.
        requests: u64,
    },
    /// The previous release's instances, kept for `scale_down_delay_seconds` after success, were
    /// stopped.
    ScaledDown {
        /// The previous release's version.
        version: String,
        /// How many instances stopped.
        instances: u32,
    },
    /// The release serving when the engine started again was brought back: its instances kept
    /// or restarted, checked, and given all traffic.
    Revived {
        /// The release's version.
        version: String,
        /// The instances serving it now.
        instances: u32,
        /// Where clients reach it.
        #[schemars(with = "crate::schema::Nullable<String>")]
        endpoint: Option<String>,
    },
}

/// What a `health_check` event records: one instance's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthCheckData {
    /// The check's outcome.
    #[serde(flatten)]
    pub outcome: HealthOutcome,
    /// The release version of the instance.
    pub version: String,
}

/// What an `analysis` event records: one judgement of the new release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnalysisData {
    /// The new release's version.
    pub version: String,
    /// Its share of traffic when judged.
    #[schemars(with = "crate::schema::Nullable<u8>")]
    pub traffic_percent: Option<u8>,
    /// The window judged, in seconds.
    pub window_seconds: f64,
    /// The reason of a critical trigger that fired on a single sample, if one did.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub trigger: Option<String>,
    /// The judgement.
    pub judgement: Judgement,
}

/// What a `canary_promoted` event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryPromotedData {
    /// The canary's share before.
    pub from_percent: u8,
    /// Its share after.
    pub to_percent: u8,
    /// The verdict that allowed it, when the rollout has analysis.
    #[schemars(with = "crate::schema::Nullable<PromotionVerdict>")]
    pub analysis: Option<PromotionVerdict>,
}

/// What a `script` event records: how one deployment script ended and the tail of its output
/// (secret values redacted; the whole output, up to its last 10,000 lines, is followed live with
/// `follow_logs(id, "script:<hook>:<name>")` while the engine runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScriptData {
    /// The hook it ran in.
    pub hook: Hook,
    /// The script's name.
    pub name: String,
    /// Whether it exited 0 in time.
    pub ok: bool,
    /// Its exit code (`None` when it was killed by a signal, timed out or did not start).
    #[schemars(with = "crate::schema::Nullable<i32>")]
    pub exit_code: Option<i32>,
    /// Whether its time limit passed (its process group was then stopped).
    pub timed_out: bool,
    /// Why it could not start, when it did not.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub error: Option<String>,
    /// Whether the rollout went on despite a failure (`continue_on_error`).
    pub continued: bool,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// Lines it wrote (stdout and stderr).
    pub lines: u64,
    /// Its last lines (at most 20).
    pub tail: Vec<String>,
}

/// The verdict behind a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionVerdict {
    /// The verdict.
    pub verdict: Verdict,
    /// Its reasons.
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_data_parses_by_kind_and_round_trips() {
        let cases = [
            (
                EventKind::Created,
                json!({"service": "api", "environment": "prod", "version": "1.2.3", "requester": "alice",
                       "work_refs": ["PAY-1"], "rollback_plan": "redeploy 1.2.2", "risk": null}),
            ),
            (
                EventKind::StepProgress,
                json!({"action": {"action": "shift", "percent": 25}, "endpoint": null, "of": 9,
                       "running_new_instances": 1, "step": 4, "traffic": [{"percent": 25, "version": "2"}]}),
            ),
            (EventKind::StepProgress, json!({"action": "rollback", "trigger": "analysis_critical"})),
            (EventKind::StepProgress, json!({"action": "rollback", "ok": false})),
            (
                EventKind::StepProgress,
                json!({"action": "restored", "version": "1", "trigger": "manual",
                       "trigger_to_rollback_call_ms": null, "restore_ms": 3.5}),
            ),
            (EventKind::StepProgress, json!({"action": "extend", "extension": 1})),
            (EventKind::StepProgress, json!({"action": "pause", "reasons": ["slow"]})),
            (EventKind::StepProgress, json!({"action": "override"})),
            (
                EventKind::HealthCheck,
                json!({"instance_id": "ins_1", "ok": true, "attempts": 1, "probes": [], "detail": "running",
                       "exited": false, "duration_ms": 3, "version": "2"}),
            ),
            (
                EventKind::CanaryPromoted,
                json!({"from_percent": 25, "to_percent": 50, "analysis": {"verdict": "pass", "reasons": []}}),
            ),
        ];
        for (kind, value) in cases {
            let data = EventData::parse(kind, &value).unwrap().unwrap();
            assert_eq!(data.kind(), kind);
            assert_eq!(data.to_value(), value, "{kind}");
        }
        assert_eq!(EventData::parse(EventKind::Approved, &json!(null)).unwrap(), None);
        let err = EventData::parse(EventKind::StepProgress, &json!({"action": "dance"})).unwrap_err();
        assert_eq!(err.code(), "storage_error");
        let err = EventData::parse(EventKind::Created, &json!({"service": "api"})).unwrap_err();
        assert_eq!(err.code(), "storage_error", "a created event's request is read whole or not at all");
    }
}

//! The persisted facts of a rollout: its state, progress (step, traffic, instances), why it
//! failed, the release it would restore, the release history of each service+environment, and
//! the steps strategies are made of.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::Judgement;
use crate::lifecycle::UnknownName;
use crate::model::Timestamp;
use crate::plan::{ReleaseSpec, RolloutPlan};
use crate::platform::{Instance, InstanceState, TrafficWeight};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Executing its steps.
    Running,
    /// Waiting for a person: the analysis found a high-severity problem (or stayed
    /// inconclusive); `rollback` rolls back, an override continues.
    Paused,
    /// Every step done; the new release serves all traffic.
    Succeeded,
    /// A step failed or a rollback was requested; the previous release is being restored.
    RollingBack,
    /// The previous release serves all traffic again.
    RolledBack,
    /// Restoring the previous release failed; a person must look (code `rollback_failed`).
    RollbackFailed,
}

impl RolloutState {
    /// Every state.
    pub const ALL: [RolloutState; 6] = [
        RolloutState::Running,
        RolloutState::Paused,
        RolloutState::Succeeded,
        RolloutState::RollingBack,
        RolloutState::RolledBack,
        RolloutState::RollbackFailed,
    ];

    /// The `snake_case` name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Succeeded => "succeeded",
            RolloutState::RollingBack => "rolling_back",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::RollbackFailed => "rollback_failed",
        }
    }

    /// True while the rollout holds its service+environment (running, paused or rolling back).
    pub fn is_active(self) -> bool {
        matches!(self, RolloutState::Running | RolloutState::Paused | RolloutState::RollingBack)
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for RolloutState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RolloutState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// Where the rollout's steps stand, persisted after every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutProgress {
    /// Steps completed so far.
    pub completed_steps: u32,
    /// Steps in the plan.
    pub total_steps: u32,
    /// What the current (or last) step does.
    pub step: String,
    /// The traffic split last applied.
    pub traffic: Vec<TrafficWeight>,
    /// Every instance of the new release the engine ever asked for, and the old release's
    /// instances this rollout retired.
    pub instances: Vec<Instance>,
    /// Where clients reach the service, when the platform says.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub endpoint: Option<String>,
    /// The latest verdict of the canary analysis.
    #[schemars(with = "crate::schema::Nullable<Judgement>")]
    pub analysis: Option<Judgement>,
}

impl Rollout {
    /// This record as every surface shows it: secret values replaced by `"***"`.
    #[must_use]
    pub fn redacted(mut self) -> Self {
        self.plan.release = self.plan.release.redacted();
        self.previous = self.previous.map(Release::redacted);
        self
    }
}

impl Release {
    /// This release as every surface shows it: secret values replaced by `"***"`.
    #[must_use]
    pub fn redacted(mut self) -> Self {
        self.spec = self.spec.redacted();
        self
    }
}

impl RolloutProgress {
    /// Instances of `version` in `state`.
    pub fn instances_of<'a>(&'a self, version: &'a str, state: InstanceState) -> impl Iterator<Item = &'a Instance> {
        self.instances.iter().filter(move |i| i.version == version && i.state == state)
    }

    /// Records the latest facts about an instance (by id), adding it when new.
    pub fn upsert(&mut self, instance: Instance) {
        match self.instances.iter_mut().find(|i| i.id == instance.id) {
            Some(existing) => *existing = instance,
            None => self.instances.push(instance),
        }
    }
}

/// Why a rollout did not succeed, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// A new instance failed its health checks (or exited, or failed 3 re-checks in a row).
    HealthCheckFailed,
    /// The canary analysis found a critical problem.
    AnalysisCritical,
    /// A paused rollout got no decision in time.
    PauseTimeout,
    /// A platform operation of a step failed.
    StepFailed,
    /// A person asked for the rollback.
    RollbackRequested,
    /// The engine stopped mid-rollout; the next engine rolled it back.
    EngineRestarted,
    /// Restoring the previous release failed.
    RollbackFailed,
    /// A `pre_deploy` or `post_deploy` script failed (and did not have `continue_on_error`).
    ScriptFailed,
    /// A smoke test of the new release failed (and did not have `continue_on_error`).
    SmokeTestFailed,
}

impl FailureCode {
    /// Every code.
    pub const ALL: [FailureCode; 9] = [
        FailureCode::HealthCheckFailed,
        FailureCode::AnalysisCritical,
        FailureCode::PauseTimeout,
        FailureCode::StepFailed,
        FailureCode::RollbackRequested,
        FailureCode::EngineRestarted,
        FailureCode::RollbackFailed,
        FailureCode::ScriptFailed,
        FailureCode::SmokeTestFailed,
    ];

    /// The `snake_case` name used in JSON, events and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::HealthCheckFailed => "health_check_failed",
            FailureCode::AnalysisCritical => "analysis_critical",
            FailureCode::PauseTimeout => "pause_timeout",
            FailureCode::StepFailed => "step_failed",
            FailureCode::RollbackRequested => "rollback_requested",
            FailureCode::EngineRestarted => "engine_restarted",
            FailureCode::RollbackFailed => "rollback_failed",
            FailureCode::ScriptFailed => "script_failed",
            FailureCode::SmokeTestFailed => "smoke_test_failed",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a rollout did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutFailure {
    /// What kind of failure.
    pub code: FailureCode,
    /// What happened, in one or two sentences.
    pub message: String,
    /// The step (1-based) during which it happened, if any.
    #[schemars(with = "crate::schema::Nullable<u32>")]
    pub step: Option<u32>,
}

/// A release that served (or serves) a service+environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Release {
    /// The version label.
    pub version: String,
    /// The deployment that brought it.
    pub deployment_id: String,
    /// The platform it runs on.
    pub platform: String,
    /// How to run it again.
    pub spec: ReleaseSpec,
    /// Its instances when it was last recorded.
    pub instances: Vec<Instance>,
    /// When it started serving all traffic.
    pub activated_at: Timestamp,
    /// When another release replaced it (`None` while current).
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub retired_at: Option<Timestamp>,
}

/// The durable record of one deployment's rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rollout {
    /// The deployment being rolled out.
    pub deployment_id: String,
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
    /// The platform running it.
    pub platform: String,
    /// The plan being executed.
    pub plan: RolloutPlan,
    /// Where it is.
    pub state: RolloutState,
    /// Its steps, traffic and instances.
    pub progress: RolloutProgress,
    /// The release it restores on rollback (`None` for a service's first release).
    #[schemars(with = "crate::schema::Nullable<Release>")]
    pub previous: Option<Release>,
    /// Why it failed, when it did.
    #[schemars(with = "crate::schema::Nullable<RolloutFailure>")]
    pub failure: Option<RolloutFailure>,
    /// Who started it.
    pub actor: String,
    /// The engine executing it (`host/pid/start-time/engine`), empty while no engine does (one
    /// closed and handed it back).
    pub owner: String,
    /// The owner's fencing token: it grows each time the rollout changes hands, and every write
    /// made for the rollout carries the token its writer holds, so an engine that lost the
    /// rollout can no longer change it.
    pub lease: u64,
    /// When its owner last showed it was alive.
    pub heartbeat_at: Timestamp,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it reached a final state.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub finished_at: Option<Timestamp>,
}

/// One unit of rollout work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Start `count` instances of the new release (they get no traffic yet).
    StartNew {
        /// How many.
        count: u32,
    },
    /// Health-check every new instance not checked yet; failure fails the rollout.
    CheckNew,
    /// Send `percent` of traffic to the new release and the rest to the old one.
    Shift {
        /// The new release's share.
        percent: u8,
    },
    /// Hold for `seconds` while re-checking the new instances.
    Observe {
        /// How long.
        seconds: f64,
    },
    /// Hold at 100 % for `seconds` with the old release still running, so a rollback stays
    /// instant; metrics are judged against absolute limits.
    Monitor {
        /// How long.
        seconds: f64,
    },
    /// Stop `count` instances of the old release (no traffic reaches them any more).
    StopOld {
        /// How many.
        count: u32,
    },
}

impl Step {
    /// A short human description, e.g. `shift 25% of traffic to the new release`.
    pub fn describe(&self) -> String {
        match self {
            Step::StartNew { count } => format!("start {count} new instance(s)"),
            Step::CheckNew => "health-check new instances".to_owned(),
            Step::Shift { percent } => format!("shift {percent}% of traffic to the new release"),
            Step::Observe { seconds } => format!("observe for {seconds}s"),
            Step::Monitor { seconds } => format!("monitor at 100% for {seconds}s"),
            Step::StopOld { count } => format!("stop {count} old instance(s)"),
        }
    }
}

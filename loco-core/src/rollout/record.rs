//! The persisted facts of a rollout: its state, progress (step, traffic, instances), the release
//! it would restore, and the release history of each service+environment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::Judgement;
use crate::model::Timestamp;
use crate::platform::{Instance, InstanceState, TrafficWeight};
use crate::rollout::plan::{ReleaseSpec, RolloutPlan};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    type Err = crate::lifecycle::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RolloutState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| crate::lifecycle::UnknownName(s.to_owned()))
    }
}

/// Where the rollout's steps stand, persisted after every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub endpoint: Option<String>,
    /// The latest verdict of the canary analysis.
    pub analysis: Option<Judgement>,
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

/// Why a rollout did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutFailure {
    /// `health_check_failed`, `analysis_critical`, `pause_timeout`, `step_failed`,
    /// `rollback_requested`, `engine_restarted` or `rollback_failed`.
    pub code: String,
    /// What happened, in one or two sentences.
    pub message: String,
    /// The step (1-based) during which it happened, if any.
    pub step: Option<u32>,
}

/// A release that served (or serves) a service+environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub retired_at: Option<Timestamp>,
}

/// The durable record of one deployment's rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub previous: Option<Release>,
    /// Why it failed, when it did.
    pub failure: Option<RolloutFailure>,
    /// Who started it.
    pub actor: String,
    /// The engine process executing it.
    pub owner: String,
    /// When its owner last showed it was alive.
    pub heartbeat_at: Timestamp,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it reached a final state.
    pub finished_at: Option<Timestamp>,
}

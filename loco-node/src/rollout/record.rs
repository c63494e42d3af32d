//! The persisted facts of a rollout as plain JavaScript objects: the rollout record (state,
//! progress, failure, the release it would restore) and the release history (camelCase names
//! of the core's `rollout::record` types; the plan itself stays the snake_case document it was).

use napi_derive::napi;

use crate::analysis::Judgement;
use crate::error::Failure;
use crate::platform::{Instance, TrafficWeight};

/// The durable record of one deployment's rollout.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Rollout {
    /// The deployment being rolled out.
    pub deployment_id: String,
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
    /// The platform running it.
    pub platform: String,
    /// The plan being executed, as a plan document with every default filled in.
    #[napi(ts_type = "RolloutPlan")]
    pub plan: serde_json::Value,
    /// Where it is.
    #[napi(ts_type = "RolloutState")]
    pub state: String,
    /// Its steps, traffic and instances, as recorded after the last step.
    pub progress: RolloutProgress,
    /// The release it restores on rollback; `null` for a service's first release.
    pub previous: Option<Release>,
    /// Why it did not succeed, when it did not.
    pub failure: Option<RolloutFailure>,
    /// Who started it.
    pub actor: String,
    /// The engine process executing it (host, pid, process start time).
    pub owner: String,
    /// When its owner last showed it was alive (RFC 3339, UTC, microseconds).
    pub heartbeat_at: String,
    /// When it started.
    pub started_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When it reached a final state; `null` while active.
    pub finished_at: Option<String>,
}

/// Where a rollout's steps stand.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct RolloutProgress {
    /// Steps completed so far.
    pub completed_steps: u32,
    /// Steps in the plan.
    pub total_steps: u32,
    /// What the current (or last) step does.
    pub step: String,
    /// The traffic split last applied.
    pub traffic: Vec<TrafficWeight>,
    /// Every instance of the new release the engine asked for, and the old release's instances
    /// this rollout retired.
    pub instances: Vec<Instance>,
    /// Where clients reach the service (the local platform's proxy, `127.0.0.1:port`), when the
    /// platform says.
    pub endpoint: Option<String>,
    /// The latest verdict of the canary analysis.
    pub analysis: Option<Judgement>,
}

/// Why a rollout did not succeed.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct RolloutFailure {
    /// What kind of failure.
    #[napi(ts_type = "RolloutFailureCode")]
    pub code: String,
    /// What happened, in one or two sentences.
    pub message: String,
    /// The step (1-based) during which it happened, if any.
    pub step: Option<u32>,
}

/// A release that served (or serves) a service+environment.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Release {
    /// The version label.
    pub version: String,
    /// The deployment that brought it.
    pub deployment_id: String,
    /// The platform it runs on.
    pub platform: String,
    /// How to run it again: the plan's `release`, with every default filled in.
    #[napi(ts_type = "Required<ReleaseSpec>")]
    pub spec: serde_json::Value,
    /// Its instances when it was last recorded.
    pub instances: Vec<Instance>,
    /// When it started serving all traffic (RFC 3339, UTC, microseconds).
    pub activated_at: String,
    /// When another release replaced it; `null` while current.
    pub retired_at: Option<String>,
}

impl TryFrom<loco_core::Rollout> for Rollout {
    type Error = Failure;

    fn try_from(r: loco_core::Rollout) -> Result<Self, Failure> {
        let p = r.progress;
        Ok(Self {
            plan: document(serde_json::to_value(&r.plan), &r.deployment_id)?,
            deployment_id: r.deployment_id,
            service: r.service,
            environment: r.environment,
            platform: r.platform,
            state: r.state.as_str().to_owned(),
            progress: RolloutProgress {
                completed_steps: p.completed_steps,
                total_steps: p.total_steps,
                step: p.step,
                traffic: p.traffic.into_iter().map(TrafficWeight::from).collect(),
                instances: p.instances.into_iter().map(Instance::from).collect(),
                endpoint: p.endpoint,
                analysis: p.analysis.map(Judgement::from),
            },
            previous: r.previous.map(Release::try_from).transpose()?,
            failure: r.failure.map(|f| RolloutFailure {
                code: f.code.as_str().to_owned(),
                message: f.message,
                step: f.step,
            }),
            actor: r.actor,
            owner: r.owner,
            heartbeat_at: r.heartbeat_at.to_string(),
            started_at: r.started_at.to_string(),
            updated_at: r.updated_at.to_string(),
            finished_at: r.finished_at.map(|t| t.to_string()),
        })
    }
}

impl TryFrom<loco_core::rollout::Release> for Release {
    type Error = Failure;

    fn try_from(r: loco_core::rollout::Release) -> Result<Self, Failure> {
        Ok(Self {
            spec: document(serde_json::to_value(&r.spec), &r.deployment_id)?,
            version: r.version,
            deployment_id: r.deployment_id,
            platform: r.platform,
            instances: r.instances.into_iter().map(Instance::from).collect(),
            activated_at: r.activated_at.to_string(),
            retired_at: r.retired_at.map(|t| t.to_string()),
        })
    }
}

/// Converts every record of a list.
pub(crate) fn all<C, N: TryFrom<C, Error = Failure>>(records: Vec<C>) -> Result<Vec<N>, Failure> {
    records.into_iter().map(N::try_from).collect()
}

/// A recorded document (plan, release spec) as the JSON every surface shows.
fn document(json: serde_json::Result<serde_json::Value>, deployment_id: &str) -> Result<serde_json::Value, Failure> {
    json.map_err(|e| {
        loco_core::Error::storage(format!("the rollout of '{deployment_id}' holds a document that is not JSON: {e}"))
            .into()
    })
}

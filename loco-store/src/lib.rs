//! # Loco storage
//!
//! The [`Store`] trait every backend implements, the embedded default [`SqliteStore`] (WAL,
//! `synchronous=FULL`, group commit), and [`conformance`], the behaviour suite every backend must
//! pass. With the `postgres` feature (off by default), `PostgresStore` keeps the same records in
//! PostgreSQL, for several engine replicas sharing one database.
//!
//! A store keeps current state (one row per deployment, one per rollout, the release history) and
//! an append-only, hash-chained event history. It decides nothing itself: inside one transaction
//! it reads the facts a rule of [`loco_types::rules`] names, asks the rule, and persists exactly
//! the change the rule returns — rows and events together, or nothing. Inputs reach a store
//! already validated by the engine.

pub mod conformance;
pub mod context;
mod error;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use loco_types::Result;
use loco_types::analysis::Thresholds;
use loco_types::audit::AuditReport;
use loco_types::freeze::FreezeWindow;
use loco_types::gate::{ApprovalGate, ReviewerGroup};
use loco_types::identity::Token;
use loco_types::lifecycle::{Action, ActionInput};
use loco_types::lock::DeployLock;
use loco_types::manifest::{Manifest, ManifestRecord};
use loco_types::model::{Deployment, Event, ListQuery, NewDeployment, Page};
use loco_types::pipeline::Pipeline;
use loco_types::platform_config::PlatformConfig;
use loco_types::rollout::{Release, Rollout};
use loco_types::schedule::ScheduledStart;
use loco_types::service::ServiceDefinition;
use tokio::sync::broadcast;

pub use context::{current_request_id, with_request_id};
pub use loco_types::rules::{Applied, BeginRollout, Created, NewEvent, RolloutUpdate};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// A durable home for deployments and their events.
#[async_trait]
pub trait Store: Send + Sync {
    /// Inserts a new deployment in `pending_approval` with its `created` event. With an
    /// idempotency key already used for an identical request, returns that deployment as it is
    /// now (`replayed: true`) and writes nothing; with a key used for a different request, fails
    /// with `idempotency_conflict`.
    async fn create(&self, new: NewDeployment, idempotency_key: Option<String>) -> Result<Created>;

    /// [`create`](Self::create) of a deployment promoted from the stage before: `promotion` (a
    /// `promoted` event) is appended just after `created`, in the same transaction, and only
    /// when the deployment is new (a replayed open deployment of the same commit gets none).
    async fn create_promoted(&self, new: NewDeployment, promotion: NewEvent) -> Result<Created>;

    /// Applies one lifecycle action atomically and returns the deployment after it.
    async fn apply(&self, id: &str, action: Action, input: ActionInput) -> Result<Deployment> {
        Ok(self.apply_change(id, action, input, Vec::new()).await?.deployment)
    }

    /// [`apply`](Self::apply), also saying which status the deployment left and since when.
    /// `lead_events` (not lifecycle kinds; a `policy_override`) are appended in the same
    /// transaction just before the action's event, and only when the action is allowed.
    ///
    /// A review (approve, reject) of a deployment whose environment has an approval gate is
    /// decided by [`loco_types::gate::decide_review`] with the gate and the approvals recorded so
    /// far, read in the same transaction: an approval short of the count appends an
    /// `approval_granted` event and leaves the deployment as it was.
    async fn apply_change(
        &self,
        id: &str,
        action: Action,
        input: ActionInput,
        lead_events: Vec<NewEvent>,
    ) -> Result<Applied>;

    /// The current state of one deployment.
    async fn get(&self, id: &str) -> Result<Deployment>;

    /// Deployments matching the filters, newest first, one page at a time.
    async fn list(&self, query: &ListQuery) -> Result<Page<Deployment>>;

    /// Every event of one deployment, oldest first.
    async fn events(&self, id: &str) -> Result<Vec<Event>>;

    /// Up to `limit` events of any deployment with `seq > after`, in `seq` order (for catching up
    /// on a subscription).
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>>;

    /// Walks the whole audit chain and checks every deployment's state against its history.
    async fn verify_audit(&self) -> Result<AuditReport>;

    /// A receiver of every event, in commit order, sent only after its transaction committed.
    fn subscribe(&self) -> broadcast::Receiver<Event>;

    /// Starts a rollout atomically: applies `start` to the approved deployment, records the
    /// rollout (refusing with `rollout_conflict` when its service+environment already has an
    /// active one) with the target's current release as the one to restore, and appends the
    /// `started` event.
    async fn begin_rollout(&self, begin: BeginRollout) -> Result<(Deployment, Rollout)>;

    /// Appends an event that changes nothing else (a refused pre-deployment validation) to a
    /// deployment's history; lifecycle kinds are refused with `validation_error`.
    async fn record_event(&self, id: &str, event: NewEvent) -> Result<Event>;

    /// Applies one rollout change atomically: progress, state, failure, an optional lifecycle
    /// action (with its event), extra events and a release activation, all or nothing.
    async fn update_rollout(&self, id: &str, update: RolloutUpdate) -> Result<Rollout>;

    /// The rollout of one deployment (`not_found` when it has none).
    async fn rollout(&self, id: &str) -> Result<Rollout>;

    /// Every rollout, or only the active ones (running or rolling back), oldest first.
    async fn rollouts(&self, active_only: bool) -> Result<Vec<Rollout>>;

    /// The release history of a service+environment, newest first (at most `limit`).
    async fn releases(&self, service: &str, environment: &str, limit: u32) -> Result<Vec<Release>>;

    /// Stores a new API token with the hash of its secret (the secret itself is never stored).
    async fn create_token(&self, token: Token, secret_hash: String) -> Result<Token>;

    /// Every token, newest first.
    async fn tokens(&self) -> Result<Vec<Token>>;

    /// The token whose secret hashes to `secret_hash`, if any.
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<Token>>;

    /// Revokes a token (revoking twice keeps the first time); `not_found` for an unknown id.
    async fn revoke_token(&self, id: &str) -> Result<Token>;

    /// Registers a service definition, replacing one of the same name.
    async fn put_service(&self, definition: ServiceDefinition, by: &str) -> Result<ServiceDefinition>;

    /// Every registered service, by name.
    async fn services(&self) -> Result<Vec<ServiceDefinition>>;

    /// One registered service; `not_found` when there is none.
    async fn service(&self, name: &str) -> Result<ServiceDefinition>;

    /// Removes a registered service; `not_found` when there is none.
    async fn remove_service(&self, name: &str) -> Result<()>;

    /// Stores a platform configuration (its token already sealed), replacing one of the same name.
    async fn put_platform(&self, config: PlatformConfig) -> Result<PlatformConfig>;

    /// Every configured platform, by name, tokens as stored (sealed).
    async fn platforms(&self) -> Result<Vec<PlatformConfig>>;

    /// Removes a platform configuration; `not_found` (`PlatformNotFound`) when there is none.
    async fn remove_platform(&self, name: &str) -> Result<()>;

    /// Every deploy lock held (one per service and environment with a started deployment).
    async fn locks(&self) -> Result<Vec<DeployLock>>;

    /// Frees the deploy lock of `service` in `environment` (`not_found` when none is held),
    /// writing a `lock_released` event on its holder with `actor` and `reason`, in one transaction.
    async fn release_lock(&self, service: &str, environment: &str, actor: &str, reason: &str) -> Result<DeployLock>;

    /// Inserts or replaces a freeze window (by name); `by` is who set it.
    async fn put_freeze_window(&self, window: FreezeWindow, by: &str) -> Result<FreezeWindow>;

    /// Every freeze window, by name.
    async fn freeze_windows(&self) -> Result<Vec<FreezeWindow>>;

    /// Removes a freeze window (`not_found` when there is none).
    async fn remove_freeze_window(&self, name: &str) -> Result<()>;

    /// Inserts or replaces the pipeline of its service; `by` is who set it. Every create from
    /// then on checks its promotion order ([`loco_types::pipeline`]) in its transaction.
    async fn put_pipeline(&self, pipeline: Pipeline, by: &str) -> Result<Pipeline>;

    /// Every pipeline, by service.
    async fn pipelines(&self) -> Result<Vec<Pipeline>>;

    /// The pipeline of `service`, if it has one.
    async fn pipeline(&self, service: &str) -> Result<Option<Pipeline>>;

    /// Removes the pipeline of `service` (`not_found` when there is none).
    async fn remove_pipeline(&self, service: &str) -> Result<()>;

    /// The newest deployment of `version` of `service` in `environment`, if any.
    async fn newest_of_version(&self, service: &str, environment: &str, version: &str) -> Result<Option<Deployment>>;

    /// Applies a checked `service.yaml` manifest read from `text` as the next version of its
    /// service, in one transaction: the pipeline (recording the version, which creates then
    /// record), each stage's gate and the freeze windows are set, gates and windows the previous
    /// version set and this one does not are removed, and the version is stored. When the newest
    /// version has the same text, nothing is written and it is returned. The flag tells whether
    /// this call wrote a version.
    async fn apply_manifest(&self, text: &str, manifest: Manifest, by: &str) -> Result<(ManifestRecord, bool)>;

    /// Version `version` of the manifest of `service` (its newest when `None`), if there is one.
    async fn manifest(&self, service: &str, version: Option<u32>) -> Result<Option<ManifestRecord>>;

    /// Every version of the manifest of `service`, newest first.
    async fn manifest_history(&self, service: &str) -> Result<Vec<ManifestRecord>>;

    /// The newest manifest of every service, by service.
    async fn manifests(&self) -> Result<Vec<ManifestRecord>>;

    /// Inserts or replaces the approval gate of its environment and service; `by` is who set it.
    async fn put_gate(&self, gate: ApprovalGate, by: &str) -> Result<ApprovalGate>;

    /// Every approval gate, by environment (the environment-wide gate first, then by service).
    async fn gates(&self) -> Result<Vec<ApprovalGate>>;

    /// Removes the gate set on `environment` for `service` (`None`: the environment-wide one;
    /// `not_found` when there is none).
    async fn remove_gate(&self, environment: &str, service: Option<&str>) -> Result<()>;

    /// Stores a deployment's schedule (replacing its previous one; the engine checked it).
    async fn put_schedule(&self, schedule: ScheduledStart) -> Result<ScheduledStart>;

    /// Every deployment's latest schedule, soonest first.
    async fn schedules(&self) -> Result<Vec<ScheduledStart>>;

    /// Cancels the pending schedule of deployment `id` at `now` (`not_found` when it has none).
    async fn cancel_schedule(&self, id: &str, now: loco_types::model::Timestamp) -> Result<ScheduledStart>;

    /// Claims the pending schedules due at `now`: each is marked `started` in one transaction
    /// and returned to exactly one caller, however many engines share the database.
    async fn claim_due_schedules(&self, now: loco_types::model::Timestamp) -> Result<Vec<ScheduledStart>>;

    /// Inserts or replaces a reviewer group (by name, whatever the case); `by` is who set it.
    async fn put_group(&self, group: ReviewerGroup, by: &str) -> Result<ReviewerGroup>;

    /// Every reviewer group, by name.
    async fn groups(&self) -> Result<Vec<ReviewerGroup>>;

    /// Removes reviewer group `name` (`not_found` when there is none; a validation error naming
    /// the gates that name it while any does, checked in the removing transaction).
    async fn remove_group(&self, name: &str) -> Result<()>;

    /// Stores the analysis thresholds of one environment (its lower-case name), replacing earlier
    /// ones.
    async fn put_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()>;

    /// Every environment's stored thresholds, by environment name.
    async fn thresholds(&self) -> Result<Vec<(String, Thresholds)>>;

    /// Rewrites every secret value stored in rollout plans and release specs with `reseal` (a key
    /// rotation), all in one transaction; returns how many values changed.
    async fn reseal_secrets(&self, reseal: Resealer) -> Result<u64>;

    /// Finishes queued writes and stops accepting new ones. Later writes fail with `storage_error`.
    async fn close(&self) -> Result<()>;
}

/// The SQL condition that a deployment is open ([`loco_types::rules::OPEN_STATUSES`]), shared by
/// both backends' create-by-commit lookup. It repeats the condition of the partial index
/// `deployments_open_by_commit` (SQLite uses a partial index only for a query stating its
/// condition); the migrations that create the index keep their own copy, as history.
pub(crate) const OPEN_STATUS_SQL: &str = "status IN ('pending_approval', 'approved', 'started')";

/// Turns one sealed secret value into another (opens it with the old key, seals it with the new).
pub type Resealer = std::sync::Arc<dyn Fn(&str) -> Result<String> + Send + Sync>;

#[cfg(test)]
mod tests {
    #[test]
    fn the_open_status_sql_names_exactly_the_open_statuses() {
        let listed: Vec<String> =
            loco_types::rules::OPEN_STATUSES.iter().map(|status| format!("'{}'", status.as_str())).collect();
        assert_eq!(super::OPEN_STATUS_SQL, format!("status IN ({})", listed.join(", ")));
    }
}

//! The storage boundary: the [`Store`] trait every backend implements, and the opaque list cursor.
//!
//! A store keeps current state (one row per deployment) and an append-only event history, and
//! applies each lifecycle action atomically: read the current row, decide with
//! [`crate::lifecycle::transition`], write the new row and exactly one event — all or nothing.
//! Inputs reach a store already validated by [`crate::Engine`].

pub mod sqlite;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::broadcast;

use crate::audit::AuditReport;
use crate::error::{Error, Result};
use crate::lifecycle::{Action, ActionInput};
use crate::model::{Deployment, Event, EventKind, ListQuery, NewDeployment, Page};
use crate::rollout::{Release, Rollout, RolloutFailure, RolloutPlan, RolloutProgress, RolloutState};

pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// A durable home for deployments and their events.
#[async_trait]
pub trait Store: Send + Sync {
    /// Inserts a new deployment in `pending_approval` with its `created` event. With an
    /// idempotency key already used for an identical request, returns that deployment as it is
    /// now (`replayed: true`) and writes nothing; with a key used for a different request, fails
    /// with `idempotency_conflict`.
    async fn create(&self, new: NewDeployment, idempotency_key: Option<String>) -> Result<Created>;

    /// Applies one lifecycle action atomically and returns the deployment after it.
    async fn apply(&self, id: &str, action: Action, input: ActionInput) -> Result<Deployment>;

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

    /// Applies one rollout change atomically: progress, state, failure, an optional lifecycle
    /// action (with its event), extra events and a release activation, all or nothing.
    async fn update_rollout(&self, id: &str, update: RolloutUpdate) -> Result<Rollout>;

    /// The rollout of one deployment (`not_found` when it has none).
    async fn rollout(&self, id: &str) -> Result<Rollout>;

    /// Every rollout, or only the active ones (running or rolling back), oldest first.
    async fn rollouts(&self, active_only: bool) -> Result<Vec<Rollout>>;

    /// The release history of a service+environment, newest first (at most `limit`).
    async fn releases(&self, service: &str, environment: &str, limit: u32) -> Result<Vec<Release>>;

    /// Finishes queued writes and stops accepting new ones. Later writes fail with `storage_error`.
    async fn close(&self) -> Result<()>;
}

/// What [`Store::begin_rollout`] needs.
#[derive(Debug, Clone)]
pub struct BeginRollout {
    /// The approved deployment to roll out.
    pub deployment_id: String,
    /// The validated plan.
    pub plan: RolloutPlan,
    /// Who starts it (the `start` event's actor).
    pub actor: String,
    /// The engine process that will execute it.
    pub owner: String,
}

/// An event to append with a rollout change (`seq`, `id`, `at` and `hash` are assigned on write).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// A rollout event kind (`step_progress`, `health_check`).
    pub kind: EventKind,
    /// Who or what caused it.
    pub actor: String,
    /// A one-line summary.
    pub note: Option<String>,
    /// The structured facts.
    pub data: Option<serde_json::Value>,
}

/// One atomic change to a rollout; unset fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct RolloutUpdate {
    /// New progress.
    pub progress: Option<RolloutProgress>,
    /// New state (a final state also sets `finished_at`).
    pub state: Option<RolloutState>,
    /// Why it failed.
    pub failure: Option<RolloutFailure>,
    /// Rollout events appended before the lifecycle action (what led to it).
    pub lead_events: Vec<NewEvent>,
    /// A lifecycle action applied to the deployment in the same transaction.
    pub action: Option<(Action, ActionInput)>,
    /// Rollout events appended after the action.
    pub events: Vec<NewEvent>,
    /// A release that becomes the target's current one (the current one is retired).
    pub activate: Option<Release>,
    /// Hands the rollout to another engine process…
    pub owner: Option<String>,
    /// …only if it still belongs to this one (compare-and-set); `rollout_conflict` otherwise.
    pub expect_owner: Option<String>,
}

/// The outcome of [`Store::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new deployment, or the original one for a replayed idempotent request.
    pub deployment: Deployment,
    /// True when an idempotency key matched an earlier identical request.
    pub replayed: bool,
}

/// Encodes a keyset position (the internal insertion sequence of the last row on a page) as an
/// opaque, URL-safe cursor.
pub(crate) fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

/// Decodes a cursor made by [`encode_cursor`], or returns a validation error on field `cursor`.
pub(crate) fn decode_cursor(cursor: &str) -> Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix("v1:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|seq| *seq > 0)
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor returned by a previous page"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for seq in [1, 42, i64::MAX] {
            let c = encode_cursor(seq);
            assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{c}");
            assert_eq!(decode_cursor(&c), Ok(seq));
        }
    }

    #[test]
    fn forged_cursors_are_validation_errors() {
        for bad in ["", "!!", "djE6", &URL_SAFE_NO_PAD.encode("v1:-3"), &URL_SAFE_NO_PAD.encode("v2:3"), "' OR 1=1 --"]
        {
            let err = decode_cursor(bad).unwrap_err();
            assert_eq!(err.details()[0].field, "cursor", "{bad}");
        }
    }
}

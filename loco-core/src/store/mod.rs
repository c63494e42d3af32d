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
use crate::model::{Deployment, Event, ListQuery, NewDeployment, Page};

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

    /// Finishes queued writes and stops accepting new ones. Later writes fail with `storage_error`.
    async fn close(&self) -> Result<()>;
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

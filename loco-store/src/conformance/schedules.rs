//! Scheduled starts: one schedule per deployment (replaced, cancelled, surviving a reopen), and
//! the due ones claimed exactly once, however many callers claim at the same moment.

use std::sync::Arc;
use std::time::Duration;

use loco_types::model::Timestamp;
use loco_types::schedule::{ScheduleRequest, ScheduleState, ScheduledStart};
use loco_types::{Error, ErrorCode};

use super::{Backend, code, open};
use crate::Store;

fn schedule(id: &str, at: Timestamp) -> ScheduledStart {
    let request = ScheduleRequest { at, actor: "deploy-bot".to_owned(), rollout: false, override_reason: None };
    ScheduledStart::new(id, request, "root", Timestamp::now())
}

/// Now plus `n` minutes (minus, when negative).
fn minutes(n: i64) -> Timestamp {
    let span = Duration::from_secs(n.unsigned_abs() * 60);
    if n >= 0 { Timestamp::now().after(span) } else { Timestamp::now().before(span) }
}

pub(super) async fn schedules_are_kept_cancelled_and_claimed_once(backend: &dyn Backend) {
    let check = "schedules_are_kept_cancelled_and_claimed_once";
    let store = open(backend, check).await;
    store.put_schedule(schedule("dep_b", minutes(-1))).await.expect("put");
    store.put_schedule(schedule("dep_a", minutes(-2))).await.expect("put");
    store.put_schedule(schedule("dep_c", minutes(60))).await.expect("put");
    store.put_schedule(schedule("dep_d", minutes(-3))).await.expect("put");
    store.put_schedule(schedule("dep_d", minutes(30))).await.expect("replaced: one per deployment");
    let listed: Vec<String> = store.schedules().await.expect("list").into_iter().map(|s| s.deployment_id).collect();
    assert_eq!(listed, ["dep_a", "dep_b", "dep_d", "dep_c"], "{check}: soonest first");
    store.close().await.expect("close");

    let store = open(backend, check).await;
    let cancelled = store.cancel_schedule("dep_d", Timestamp::now()).await.expect("cancel");
    assert_eq!((cancelled.state, cancelled.ended_at.is_some()), (ScheduleState::Cancelled, true), "{check}");
    assert_eq!(code(check, store.cancel_schedule("dep_d", Timestamp::now()).await), ErrorCode::NotFound, "{check}");
    let missing = store.cancel_schedule("dep_x", Timestamp::now()).await.unwrap_err();
    assert!(matches!(missing, Error::ScheduleNotFound { .. }), "{check}: {missing:?}");

    let claimed = store.claim_due_schedules(Timestamp::now()).await.expect("claim");
    let ids: Vec<&str> = claimed.iter().map(|s| s.deployment_id.as_str()).collect();
    assert_eq!(ids, ["dep_a", "dep_b"], "{check}: the due ones, soonest first; not the cancelled or later one");
    assert!(claimed.iter().all(|s| s.state == ScheduleState::Started), "{check}");
    assert!(store.claim_due_schedules(Timestamp::now()).await.expect("claim").is_empty(), "{check}: once");
    let states: Vec<(String, ScheduleState)> =
        store.schedules().await.expect("list").into_iter().map(|s| (s.deployment_id, s.state)).collect();
    assert_eq!(
        states,
        [
            ("dep_a".to_owned(), ScheduleState::Started),
            ("dep_b".to_owned(), ScheduleState::Started),
            ("dep_d".to_owned(), ScheduleState::Cancelled),
            ("dep_c".to_owned(), ScheduleState::Pending),
        ],
        "{check}"
    );
    store.close().await.expect("close");
}

pub(super) async fn concurrent_claims_take_each_due_schedule_once(backend: &dyn Backend) {
    let check = "concurrent_claims_take_each_due_schedule_once";
    let store: Arc<dyn Store> = open(backend, check).await;
    for n in 0..20 {
        store.put_schedule(schedule(&format!("dep_{n:02}"), minutes(-1))).await.expect("put");
    }
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.claim_due_schedules(Timestamp::now()).await })
        })
        .collect();
    let mut all = Vec::new();
    for claim in claims {
        all.extend(claim.await.expect("join").expect("claim").into_iter().map(|s| s.deployment_id));
    }
    all.sort();
    let expected: Vec<String> = (0..20).map(|n| format!("dep_{n:02}")).collect();
    assert_eq!(all, expected, "{check}: every due schedule claimed by exactly one caller");
    store.close().await.expect("close");
}

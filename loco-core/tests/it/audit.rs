//! The audit chain detects edits, deletions and state that disagrees with history, and names the
//! first broken link.

use loco_core::{Engine, ListQuery};

use crate::common::{started, temp_engine};

/// Opens the file behind the engine's back, with the append-only triggers removed, as an
/// attacker with file access could.
fn tamper(path: &std::path::Path, sql: &str) {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.execute_batch(
        "DROP TRIGGER deployment_events_are_append_only_update; \
         DROP TRIGGER deployment_events_are_append_only_delete;",
    )
    .unwrap();
    raw.execute_batch(sql).unwrap();
}

async fn three_deployments() -> (tempfile::TempDir, std::path::PathBuf, Engine) {
    let (dir, path, engine) = temp_engine().await;
    for service in ["a", "b", "c"] {
        started(&engine, service).await; // 3 events each: seq 1-3, 4-6, 7-9
    }
    assert!(engine.verify_audit().await.unwrap().valid);
    (dir, path, engine)
}

#[tokio::test]
async fn intact_history_verifies_with_a_head_hash() {
    let (_dir, _path, engine) = three_deployments().await;
    let report = engine.verify_audit().await.unwrap();
    assert_eq!(report.events_checked, 9);
    assert_eq!(report.first_broken, None);
    let head = report.head_hash.unwrap();
    assert_eq!(head.len(), 64);
    let all = engine.list(&ListQuery::default()).await.unwrap();
    let last = engine.events(&all.items[0].id).await.unwrap().pop().unwrap();
    assert_eq!(head, last.hash);
}

#[tokio::test]
async fn edited_note_is_named_as_the_first_broken_link() {
    let (_dir, path, engine) = three_deployments().await;
    tamper(&path, "UPDATE deployment_events SET actor = 'someone-else' WHERE seq = 5");
    let report = engine.verify_audit().await.unwrap();
    assert!(!report.valid);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, 5);
    assert!(broken.event_id.starts_with("evt_") && broken.deployment_id.starts_with("dep_"));
    assert_eq!(report.events_checked, 5, "verification stops at the first broken link");
}

#[tokio::test]
async fn deleted_event_is_detected_at_the_gap() {
    let (_dir, path, engine) = three_deployments().await;
    tamper(&path, "DELETE FROM deployment_events WHERE seq = 4");
    let broken = engine.verify_audit().await.unwrap().first_broken.unwrap();
    assert_eq!(broken.seq, 5);
    assert!(broken.reason.contains("missing"), "{}", broken.reason);
}

#[tokio::test]
async fn status_edited_behind_the_engine_is_detected() {
    let (_dir, path, engine) = three_deployments().await;
    let victim = engine.list(&ListQuery::default()).await.unwrap().items[1].id.clone();
    tamper(&path, &format!("UPDATE deployments SET status = 'succeeded' WHERE id = '{victim}'"));
    let broken = engine.verify_audit().await.unwrap().first_broken.unwrap();
    assert_eq!(broken.deployment_id, victim);
    assert!(broken.reason.contains("succeeded") && broken.reason.contains("started"), "{}", broken.reason);
}

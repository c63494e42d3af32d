//! A failure in the middle of a lifecycle write leaves no trace, and does not undo the writes
//! committed in the same group-commit batch.

use futures_util::future::join_all;
use loco_core::{Engine, Status};

use crate::common::{request, temp_engine};

/// Installs a trigger that makes every event insert by `actor` fail, as a disk error would.
fn poison_events_by(path: &std::path::Path, actor: &str) {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.execute_batch(&format!(
        "CREATE TRIGGER poison BEFORE INSERT ON deployment_events WHEN NEW.actor = '{actor}' \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
    ))
    .unwrap();
}

fn unpoison(path: &std::path::Path) {
    rusqlite::Connection::open(path).unwrap().execute_batch("DROP TRIGGER poison").unwrap();
}

#[tokio::test]
async fn failure_on_event_insert_leaves_no_state_change_and_no_orphan_event() {
    let (_dir, path, engine) = temp_engine().await;
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    poison_events_by(&path, "mallory");

    let err = engine.approve(&d.id, "mallory", None).await.unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert!(err.to_string().contains("injected failure"), "{err}");
    let after = engine.get(&d.id).await.unwrap();
    assert_eq!(after.status, Status::PendingApproval, "the row update was rolled back with the event");
    assert_eq!(after.reviewed_by, None);
    assert_eq!(engine.events(&d.id).await.unwrap().len(), 1);

    // The engine keeps working, for other actors now and for everyone once the fault is gone.
    assert_eq!(engine.approve(&d.id, "bob", None).await.unwrap().status, Status::Approved);
    unpoison(&path);
    let other = engine.create(request("api", "staging"), None).await.unwrap();
    engine.approve(&other.id, "mallory", None).await.unwrap();
    let report = engine.verify_audit().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.events_checked, 4);
}

#[tokio::test]
async fn failing_writes_do_not_undo_their_batch_neighbours() {
    let (_dir, path, engine) = temp_engine().await;
    let mut ids = Vec::new();
    for _ in 0..64 {
        ids.push(engine.create(request("api", "staging"), None).await.unwrap().id);
    }
    poison_events_by(&path, "mallory");
    // 64 concurrent approvals land in a few group-commit batches; every fourth one fails.
    let results = join_all(ids.iter().enumerate().map(|(i, id)| {
        let engine = engine.clone();
        async move {
            let actor = if i % 4 == 0 { "mallory" } else { "bob" };
            engine.approve(id, actor, None).await
        }
    }))
    .await;
    for (i, result) in results.iter().enumerate() {
        let status = engine.get(&ids[i]).await.unwrap().status;
        let events = engine.events(&ids[i]).await.unwrap().len();
        if i % 4 == 0 {
            assert_eq!(result.as_ref().unwrap_err().code(), "storage_error");
            assert_eq!((status, events), (Status::PendingApproval, 1), "deployment {i}");
        } else {
            assert_eq!(result.as_ref().unwrap().status, Status::Approved);
            assert_eq!((status, events), (Status::Approved, 2), "deployment {i}");
        }
    }
    // Rolled-back writes must not leave holes or forks in the hash chain.
    let report = engine.verify_audit().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.events_checked, 64 + 48);
    drop(engine);
    let reopened = Engine::open(&path).await.unwrap();
    assert!(reopened.verify_audit().await.unwrap().valid);
}

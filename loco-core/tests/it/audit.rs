//! The audit chain detects edits, deletions and state that disagrees with history, and names the
//! first broken link; an exported (and keyed) head detects events deleted from the end.

use loco_core::{AuditKey, Engine, ListQuery};

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

#[tokio::test]
async fn an_edited_version_is_named_with_both_values() {
    let (_dir, path, engine) = three_deployments().await;
    let victim = engine.list(&ListQuery::default()).await.unwrap().items[1].clone();
    tamper(&path, &format!("UPDATE deployments SET version = '9.9.9', risk = NULL WHERE id = '{}'", victim.id));
    let broken = engine.verify_audit().await.unwrap().first_broken.unwrap();
    assert_eq!((broken.deployment_id.as_str(), broken.field.as_deref()), (victim.id.as_str(), Some("version")));
    assert_eq!(
        broken.reason,
        format!("deployment {} has version '9.9.9' but its events establish '{}'", victim.id, victim.version)
    );
}

#[tokio::test]
async fn an_exported_head_finds_events_deleted_from_the_end() {
    let (_dir, path, engine) = three_deployments().await;
    let key = AuditKey::new("a long random secret").unwrap();
    let head = engine.audit_head_with_key(Some(&key)).await.unwrap();
    assert_eq!((head.seq, head.hash.len(), head.hmac.as_ref().map(String::len)), (9, 64, Some(64)));
    let report = engine.verify_audit_against_with_key(&head, Some(&key)).await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.exported_head_seq, Some(9));

    // The newest deployment and its history removed: what is left verifies on its own.
    let newest = engine.list(&ListQuery::default()).await.unwrap().items[0].id.clone();
    tamper(
        &path,
        &format!(
            "DELETE FROM deployment_events WHERE deployment_id = '{newest}'; \
             DELETE FROM deployments WHERE id = '{newest}';"
        ),
    );
    assert!(engine.verify_audit().await.unwrap().valid, "a truncated chain is consistent by itself");
    let report = engine.verify_audit_against_with_key(&head, Some(&key)).await.unwrap();
    assert!(!report.valid);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, 9);
    assert_eq!(broken.reason, "the exported head is event #9 but the chain ends at #6 (events after it were deleted)");
}

#[tokio::test]
async fn a_head_is_checked_with_the_key_it_was_signed_with() {
    let (_dir, _path, engine) = three_deployments().await;
    let key = AuditKey::new("a long random secret").unwrap();
    let head = engine.audit_head_with_key(Some(&key)).await.unwrap();
    let other = AuditKey::new("another secret").unwrap();
    let report = engine.verify_audit_against_with_key(&head, Some(&other)).await.unwrap();
    assert!(!report.valid);
    assert!(report.first_broken.unwrap().reason.contains("HMAC does not match"));

    // A forged head has no HMAC, or one made without the key.
    let mut forged = head.clone();
    forged.hmac = None;
    let report = engine.verify_audit_against_with_key(&forged, Some(&key)).await.unwrap();
    assert!(report.first_broken.unwrap().reason.contains("carries no HMAC"));
    let report = engine.verify_audit_against_with_key(&forged, None).await.unwrap();
    assert!(report.valid, "without a key, an unsigned head is checked by seq and hash");
    let unchecked = engine.verify_audit_against_with_key(&head, None).await.unwrap_err();
    assert_eq!((unchecked.code(), unchecked.details()[0].field.as_str()), ("validation_error", "head.hmac"));
}

#[tokio::test]
async fn the_head_of_a_broken_chain_is_not_exported() {
    let (_dir, path, engine) = three_deployments().await;
    assert_eq!(engine.audit_head_with_key(None).await.unwrap().hmac, None);
    tamper(&path, "UPDATE deployment_events SET note = 'edited' WHERE seq = 2");
    let err = engine.audit_head_with_key(None).await.unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert!(err.to_string().contains("event #2"), "{err}");
    let empty = Engine::open_in_memory().await.unwrap();
    let head = empty.audit_head_with_key(None).await.unwrap();
    assert_eq!((head.seq, head.hash.as_str(), head.at), (0, "", None));
}

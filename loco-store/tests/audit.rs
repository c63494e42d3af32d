//! The SQLite store's audit against edits made behind its back with raw SQL, as anyone with write
//! access to the file could: every column of `deployments` edited, a row deleted or renamed, and a
//! history written before `created` events carried their request (which must still verify).

use loco_store::{SqliteOptions, SqliteStore, Store};
use loco_types::audit::{AuditReport, event_hash};
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::{Deployment, Event, EventKind, NewDeployment, Timestamp};
use rusqlite::{Connection, params};

fn request(service: &str) -> NewDeployment {
    NewDeployment {
        service: service.to_owned(),
        environment: "production".to_owned(),
        version: "1.2.3".to_owned(),
        requester: "alice".to_owned(),
        work_refs: vec!["PAY-1".to_owned(), "PAY-2".to_owned()],
        rollback_plan: "redeploy 1.2.2".to_owned(),
        risk: Some("a schema change".to_owned()),
        commit: Some(format!("{service}-9f2c1e7")),
    }
}

async fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path, SqliteOptions::default()).await.expect("open")
}

/// Two reviewed deployments, the second started; returns the second (the one edited).
async fn two_deployments(store: &SqliteStore) -> Deployment {
    for service in ["api", "web"] {
        let d = store.create(request(service), None).await.expect("create").deployment;
        store.apply(&d.id, Action::Approve, ActionInput::new("bob").with_note("ok")).await.expect("approve");
        if service == "web" {
            return store.apply(&d.id, Action::Start, ActionInput::new("bot")).await.expect("start");
        }
    }
    unreachable!("the loop returns the second deployment")
}

/// Runs `sql` on the file through a connection of its own, as an attacker with file access would.
fn tamper(path: &std::path::Path, sql: &str, args: impl rusqlite::Params) {
    let raw = Connection::open(path).expect("raw connection");
    raw.pragma_update(None, "foreign_keys", "OFF").expect("no foreign key checks");
    raw.execute(sql, args).expect("tamper");
}

fn broken(report: &AuditReport) -> &loco_types::audit::BrokenLink {
    assert!(!report.valid, "the edit went unnoticed: {report:?}");
    report.first_broken.as_ref().expect("a broken link")
}

#[tokio::test]
async fn every_column_of_a_deployment_edited_behind_the_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = open(&path).await;
    let victim = two_deployments(&store).await;
    assert!(store.verify_audit().await.unwrap().valid);
    let later = "2030-01-01T00:00:00.000000Z";
    let edits: [(&str, Option<&str>); 12] = [
        ("service", Some("billing")),
        ("environment", Some("staging")),
        ("version", Some("9.9.9")),
        ("requester", Some("mallory")),
        ("work_refs", Some(r#"["PAY-1"]"#)),
        ("rollback_plan", Some("there is no way back")),
        ("risk", None),
        ("status", Some("succeeded")),
        ("reviewed_by", Some("mallory")),
        ("reviewed_at", Some(later)),
        ("created_at", Some(later)),
        ("updated_at", Some(later)),
    ];
    for (column, value) in edits {
        let raw = Connection::open(&path).unwrap();
        let original: rusqlite::types::Value = raw
            .query_row(&format!("SELECT {column} FROM deployments WHERE id = ?1"), [&victim.id], |r| r.get(0))
            .unwrap();
        tamper(&path, &format!("UPDATE deployments SET {column} = ?1 WHERE id = ?2"), params![value, victim.id]);
        let report = store.verify_audit().await.unwrap();
        let link = broken(&report);
        assert_eq!(
            (link.deployment_id.as_str(), link.field.as_deref()),
            (victim.id.as_str(), Some(column)),
            "{column}: {}",
            link.reason
        );
        assert!(link.reason.starts_with(&format!("deployment {} has {column} ", victim.id)), "{}", link.reason);
        assert_eq!(link.seq, 5, "{column}: the deployment's last lifecycle event");
        tamper(&path, &format!("UPDATE deployments SET {column} = ?1 WHERE id = ?2"), params![original, victim.id]);
        assert!(store.verify_audit().await.unwrap().valid, "{column}: restoring the value restores the audit");
    }
    // The commit is stored as commit_id (COMMIT is an SQL keyword) and named by its field.
    for forged in [Some("feedface"), None] {
        tamper(&path, "UPDATE deployments SET commit_id = ?1 WHERE id = ?2", params![forged, victim.id]);
        let report = store.verify_audit().await.unwrap();
        assert_eq!(broken(&report).field.as_deref(), Some("commit"), "{forged:?}");
    }
    tamper(&path, "UPDATE deployments SET commit_id = 'web-9f2c1e7' WHERE id = ?1", [&victim.id]);
    assert!(store.verify_audit().await.unwrap().valid);
    tamper(&path, "UPDATE deployments SET version = '9.9.9' WHERE id = ?1", [&victim.id]);
    assert_eq!(
        broken(&store.verify_audit().await.unwrap()).reason,
        format!("deployment {} has version '9.9.9' but its events establish '1.2.3'", victim.id)
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_renamed_or_deleted_deployment_row_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = open(&path).await;
    let victim = two_deployments(&store).await;
    tamper(&path, "UPDATE deployments SET id = 'dep_forged' WHERE id = ?1", [&victim.id]);
    let report = store.verify_audit().await.unwrap();
    let link = broken(&report);
    assert_eq!((link.deployment_id.as_str(), link.seq, link.field.as_deref()), ("dep_forged", 0, None));
    assert!(link.reason.contains("has no events"), "{}", link.reason);
    tamper(&path, "DELETE FROM deployments WHERE id = 'dep_forged'", []);
    let report = store.verify_audit().await.unwrap();
    let link = broken(&report);
    assert_eq!((link.deployment_id.as_str(), link.seq), (victim.id.as_str(), 3), "its first orphaned event");
    assert!(link.reason.contains("has no row"), "{}", link.reason);
    store.close().await.unwrap();
}

/// Writes a deployment and its `created` and `approved` events the way Loco did before `created`
/// events carried their request: no data, hashed without it.
fn legacy_history(path: &std::path::Path, id: &str) {
    let raw = Connection::open(path).unwrap();
    let (mut seq, mut head): (i64, String) = raw
        .query_row("SELECT seq, hash FROM deployment_events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap_or((0, String::new()));
    let t0 = Timestamp::parse("2026-01-05T10:00:00.000000Z").unwrap();
    let t1 = Timestamp::parse("2026-01-05T11:00:00.000000Z").unwrap();
    raw.execute(
        "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, risk, \
         status, reviewed_by, reviewed_at, created_at, updated_at) \
         VALUES (?1, 'legacy', 'staging', '0.9.0', 'alice', '[\"OLD-1\"]', 'redeploy', NULL, 'approved', 'bob', ?2, ?3, ?2)",
        params![id, t1.to_string(), t0.to_string()],
    )
    .unwrap();
    let steps = [
        (EventKind::Created, "alice", None, Status::PendingApproval, t0),
        (EventKind::Approved, "bob", Some(Status::PendingApproval), Status::Approved, t1),
    ];
    for (kind, actor, from, to, at) in steps {
        seq += 1;
        let mut event = Event {
            seq,
            id: format!("evt_legacy_{seq}"),
            deployment_id: id.to_owned(),
            kind,
            actor: actor.to_owned(),
            request_id: None,
            note: None,
            from_status: from,
            to_status: Some(to),
            at,
            hash: String::new(),
            data: None,
        };
        event.hash = event_hash(&head, &event, None);
        raw.execute(
            "INSERT INTO deployment_events (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, ?9)",
            params![
                event.seq,
                event.id,
                id,
                kind.as_str(),
                actor,
                from.map(Status::as_str),
                to.as_str(),
                at.to_string(),
                event.hash
            ],
        )
        .unwrap();
        head = event.hash;
    }
}

#[tokio::test]
async fn history_written_before_created_events_carried_the_request_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.db");
    open(&path).await.close().await.unwrap(); // the schema
    legacy_history(&path, "dep_legacy");
    let store = open(&path).await;
    let report = store.verify_audit().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!((report.deployments_checked, report.deployments_status_only), (1, 1));

    // New deployments chain on from the old head and are checked in full.
    two_deployments(&store).await;
    let report = store.verify_audit().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!((report.events_checked, report.deployments_checked, report.deployments_status_only), (7, 3, 1));

    // An old history does not say what was requested; its status is still checked.
    tamper(&path, "UPDATE deployments SET version = '9.9.9' WHERE id = 'dep_legacy'", []);
    assert!(store.verify_audit().await.unwrap().valid, "documented: request fields of old histories are not covered");
    tamper(&path, "UPDATE deployments SET status = 'started' WHERE id = 'dep_legacy'", []);
    let report = store.verify_audit().await.unwrap();
    let link = broken(&report);
    assert_eq!((link.deployment_id.as_str(), link.field.as_deref(), link.seq), ("dep_legacy", Some("status"), 2));
    assert_eq!(link.reason, "deployment dep_legacy has status 'started' but its events establish 'approved'");
    store.close().await.unwrap();
}

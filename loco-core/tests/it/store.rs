//! Repository behaviour of the SQLite store through `Engine`: persistence across reopen, filters,
//! pagination, event order, idempotency, schema versions, closing.

use std::collections::HashSet;

use loco_core::{Durability, Engine, EventKind, ListQuery, SqliteOptions, Status};

use crate::common::{request, started, temp_db, temp_engine};

#[tokio::test]
async fn state_and_events_survive_close_and_reopen() {
    let (_dir, path, engine) = temp_engine().await;
    let d = started(&engine, "api").await;
    let done = engine.rollback(&d.id, "ops", "error budget burned").await.unwrap();
    let events = engine.events(&d.id).await.unwrap();
    engine.close().await.unwrap();

    let reopened = Engine::open(&path).await.unwrap();
    assert_eq!(reopened.get(&d.id).await.unwrap(), done);
    assert_eq!(reopened.events(&d.id).await.unwrap(), events);
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Created, EventKind::Approved, EventKind::Started, EventKind::RolledBack],
        "events come back oldest first"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at));
    assert_eq!(events[3].note.as_deref(), Some("error budget burned"));
    assert!(reopened.verify_audit().await.unwrap().valid);
}

#[tokio::test]
async fn every_action_appends_exactly_one_event_and_updates_state() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    assert_eq!(engine.events(&d.id).await.unwrap().len(), 1);
    let steps: [(&str, Status); 3] =
        [("approve", Status::Approved), ("start", Status::Started), ("succeed", Status::Succeeded)];
    for (n, (action, status)) in steps.into_iter().enumerate() {
        let after = engine.apply(&d.id, action.parse().unwrap(), loco_core::ActionInput::new("bob")).await.unwrap();
        assert_eq!(after.status, status);
        assert_eq!(engine.get(&d.id).await.unwrap(), after);
        let events = engine.events(&d.id).await.unwrap();
        assert_eq!(events.len(), n + 2, "after {action}");
        assert_eq!(events.last().unwrap().to_status, Some(status));
        assert_eq!(events.last().unwrap().actor, "bob");
    }
    let after = engine.get(&d.id).await.unwrap();
    assert_eq!(after.reviewed_by.as_deref(), Some("bob"));
    assert!(after.reviewed_at.is_some() && after.updated_at >= after.created_at);
}

#[tokio::test]
async fn failed_action_writes_nothing() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    let before = engine.get(&d.id).await.unwrap();
    assert_eq!(engine.start(&d.id, "ops", None).await.unwrap_err().code(), "invalid_transition");
    assert_eq!(engine.approve(&d.id, "alice", None).await.unwrap_err().code(), "self_approval");
    assert_eq!(engine.reject(&d.id, "bob", " ").await.unwrap_err().code(), "validation_error");
    assert_eq!(engine.get(&d.id).await.unwrap(), before);
    assert_eq!(engine.events(&d.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let (_dir, _path, engine) = temp_engine().await;
    for result in [
        engine.get("dep_nope").await.map(|_| ()),
        engine.events("dep_nope").await.map(|_| ()),
        engine.approve("dep_nope", "bob", None).await.map(|_| ()),
    ] {
        assert_eq!(result.unwrap_err().code(), "not_found");
    }
}

#[tokio::test]
async fn filters_select_exactly_the_matching_rows() {
    let (_dir, _path, engine) = temp_engine().await;
    let mut all = Vec::new();
    for service in ["api", "web", "worker"] {
        for env in ["staging", "dev"] {
            for n in 0..3 {
                let d = engine.create(request(service, env), None).await.unwrap();
                if n == 1 {
                    engine.approve(&d.id, "bob", None).await.unwrap();
                }
                all.push((service, env, if n == 1 { Status::Approved } else { Status::PendingApproval }, d.id));
            }
        }
    }
    let cases = [
        (Some("api"), None, None),
        (None, Some("dev"), None),
        (None, None, Some(Status::Approved)),
        (Some("web"), Some("staging"), None),
        (Some("worker"), Some("dev"), Some(Status::PendingApproval)),
        (Some("nope"), None, None),
        (None, None, None),
    ];
    for (service, env, status) in cases {
        let query = ListQuery {
            service: service.map(str::to_owned),
            environment: env.map(str::to_owned),
            status,
            limit: Some(500),
            cursor: None,
        };
        let page = engine.list(&query).await.unwrap();
        let mut expected: Vec<&String> = all
            .iter()
            .filter(|(s, e, st, _)| {
                service.is_none_or(|x| x == *s) && env.is_none_or(|x| x == *e) && status.is_none_or(|x| x == *st)
            })
            .map(|(_, _, _, id)| id)
            .collect();
        expected.reverse(); // newest first
        let got: Vec<&String> = page.items.iter().map(|d| &d.id).collect();
        assert_eq!(got, expected, "{query:?}");
        assert_eq!(page.next_cursor, None);
    }
}

#[tokio::test]
async fn cursor_walk_returns_every_row_once_while_rows_are_inserted() {
    let (_dir, _path, engine) = temp_engine().await;
    let mut original = Vec::new();
    for _ in 0..230 {
        original.push(engine.create(request("api", "staging"), None).await.unwrap().id);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = engine
            .list(&ListQuery {
                service: Some("api".into()),
                limit: Some(50),
                cursor: cursor.clone(),
                ..ListQuery::default()
            })
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|d| d.id.clone()));
        // Newer rows arrive between pages; they must not shift or repeat later pages.
        for _ in 0..7 {
            engine.create(request("api", "staging"), None).await.unwrap();
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    original.reverse();
    assert_eq!(seen, original, "each original row exactly once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 230);
}

#[tokio::test]
async fn default_page_is_50_and_bad_paging_is_a_validation_error() {
    let (_dir, _path, engine) = temp_engine().await;
    for _ in 0..51 {
        engine.create(request("api", "dev"), None).await.unwrap();
    }
    let page = engine.list(&ListQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 50);
    assert!(page.next_cursor.is_some());
    let last = engine.list(&ListQuery { cursor: page.next_cursor, ..ListQuery::default() }).await.unwrap();
    assert_eq!((last.items.len(), last.next_cursor), (1, None));
    for (limit, cursor, field) in
        [(Some(0), None, "limit"), (Some(501), None, "limit"), (None, Some("not-a-cursor".to_owned()), "cursor")]
    {
        let err = engine.list(&ListQuery { limit, cursor, ..ListQuery::default() }).await.unwrap_err();
        assert_eq!((err.code(), err.details()[0].field.as_str()), ("validation_error", field));
    }
}

#[tokio::test]
async fn idempotent_create_survives_reopen_and_detects_conflicts() {
    let (_dir, path, engine) = temp_engine().await;
    let first = engine.create(request("api", "dev"), Some("req-7")).await.unwrap();
    engine.close().await.unwrap();
    let engine = Engine::open(&path).await.unwrap();
    let again = engine.create(request("api", "dev"), Some("req-7")).await.unwrap();
    assert_eq!(again, first);
    let mut changed = request("api", "dev");
    changed.version = "2.0.0".into();
    let err = engine.create(changed, Some("req-7")).await.unwrap_err();
    assert_eq!(err.code(), "idempotency_conflict");
    let page = engine.list(&ListQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 1, "replays and conflicts insert nothing");
}

#[tokio::test]
async fn a_database_from_a_newer_loco_is_refused() {
    let (_dir, path, engine) = temp_engine().await;
    engine.close().await.unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", 99).unwrap();
    drop(raw);
    let err = Engine::open(&path).await.unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn a_new_file_gets_the_current_schema_version_and_wal() {
    let (_dir, path, engine) = temp_engine().await;
    engine.create(request("api", "dev"), None).await.unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = raw.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!((version, mode.as_str()), (loco_core::store::sqlite::SCHEMA_VERSION, "wal"));
}

#[tokio::test]
async fn events_table_is_append_only() {
    let (_dir, path, engine) = temp_engine().await;
    engine.create(request("api", "dev"), None).await.unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let update = raw.execute("UPDATE deployment_events SET note = 'x'", []).unwrap_err();
    let delete = raw.execute("DELETE FROM deployment_events", []).unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    assert!(delete.to_string().contains("append-only"), "{delete}");
}

#[tokio::test]
async fn closed_engine_refuses_reads_and_writes() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = engine.create(request("api", "dev"), None).await.unwrap();
    engine.close().await.unwrap();
    assert_eq!(engine.create(request("api", "dev"), None).await.unwrap_err().code(), "storage_error");
    assert_eq!(engine.get(&d.id).await.unwrap_err().code(), "storage_error");
    assert!(engine.close().await.is_ok(), "closing twice is harmless");
}

#[tokio::test]
async fn normal_durability_and_in_memory_engines_work_the_same() {
    let (_dir, path) = temp_db();
    let normal = Engine::open_with(&path, SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() })
        .await
        .unwrap();
    let memory = Engine::open_in_memory().await.unwrap();
    let other_memory = Engine::open_in_memory().await.unwrap();
    for engine in [&normal, &memory] {
        let d = started(engine, "api").await;
        assert_eq!(engine.succeed(&d.id, "ops", None).await.unwrap().status, Status::Succeeded);
        assert_eq!(engine.events(&d.id).await.unwrap().len(), 4);
        assert!(engine.verify_audit().await.unwrap().valid);
    }
    assert!(other_memory.list(&ListQuery::default()).await.unwrap().items.is_empty(), "in-memory engines are private");
}

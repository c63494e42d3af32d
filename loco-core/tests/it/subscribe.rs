//! `Engine::subscribe` yields every committed event in commit order, catches up from the database
//! when it falls behind, resumes after a given seq, and ends when the engine closes.

use std::time::Duration;

use loco_core::{Engine, EventKind, SqliteOptions};

use crate::common::{request, started, temp_db, temp_engine};

#[tokio::test]
async fn subscription_yields_committed_events_in_order() {
    let (_dir, _path, engine) = temp_engine().await;
    let mut sub = engine.subscribe();
    let a = started(&engine, "a").await;
    let b = engine.create(request("b", "dev"), None).await.unwrap();
    engine.succeed(&a.id, "ops", None).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap().unwrap().unwrap());
    }
    let summary: Vec<_> = got.iter().map(|e| (e.deployment_id.clone(), e.kind)).collect();
    assert_eq!(
        summary,
        [
            (a.id.clone(), EventKind::Created),
            (a.id.clone(), EventKind::Approved),
            (a.id.clone(), EventKind::Started),
            (b.id.clone(), EventKind::Created),
            (a.id.clone(), EventKind::Succeeded),
        ]
    );
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // Events come out exactly as stored.
    assert_eq!(engine.events(&b.id).await.unwrap()[0], got[3]);
}

#[tokio::test]
async fn slow_subscriber_catches_up_without_gaps() {
    let (_dir, path) = temp_db();
    let options = SqliteOptions { event_buffer: 16, ..SqliteOptions::default() };
    let engine = Engine::open_with(&path, options).await.unwrap();
    let mut sub = engine.subscribe();
    for i in 0..100 {
        engine.create(request(&format!("svc-{i}"), "dev"), None).await.unwrap();
    }
    // 100 events went by a 16-slot buffer unread.
    for seq in 1..=100 {
        let e = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(e.seq, seq);
    }
    engine.create(request("after", "dev"), None).await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 101, "then live again");
}

#[tokio::test]
async fn subscribe_after_replays_history_then_goes_live() {
    let (_dir, _path, engine) = temp_engine().await;
    for i in 0..4 {
        engine.create(request(&format!("svc-{i}"), "dev"), None).await.unwrap();
    }
    let mut sub = engine.subscribe_after(2);
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 3);
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 4);
    engine.create(request("live", "dev"), None).await.unwrap();
    let live = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(live.seq, 5);
}

#[tokio::test]
async fn subscription_ends_when_the_engine_closes() {
    let (_dir, _path, engine) = temp_engine().await;
    let mut sub = engine.subscribe();
    engine.create(request("a", "dev"), None).await.unwrap();
    engine.close().await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 1, "events committed before close are delivered");
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap();
    assert!(end.is_none());
}

#[tokio::test]
async fn a_replaying_subscription_ends_cleanly_when_the_engine_closes() {
    let (_dir, _path, engine) = temp_engine().await;
    engine.create(request("a", "dev"), None).await.unwrap();
    let mut sub = engine.subscribe_after(0);
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 1);
    engine.close().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap();
    assert!(end.is_none(), "ended, not a storage error: {end:?}");
}

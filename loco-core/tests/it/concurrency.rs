//! Many callers at once: conflicting actions on one deployment serialize to exactly one winner;
//! independent work all succeeds.

use futures_util::future::join_all;
use loco_core::{Action, ActionInput, ListQuery, Status};

use crate::common::{request, temp_engine};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_conflicting_reviews_have_exactly_one_winner() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    let results = join_all((0..64).map(|i| {
        let engine = engine.clone();
        let id = d.id.clone();
        tokio::spawn(async move {
            let (action, input) = if i % 2 == 0 {
                (Action::Approve, ActionInput::new(format!("reviewer-{i}")))
            } else {
                (Action::Reject, ActionInput::new(format!("reviewer-{i}")).with_note("not now"))
            };
            engine.apply(&id, action, input).await
        })
    }))
    .await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    for loser in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(loser.code(), "invalid_transition", "{loser}");
    }
    let events = engine.events(&d.id).await.unwrap();
    assert_eq!(events.len(), 2, "created + the one review");
    let final_state = engine.get(&d.id).await.unwrap();
    assert_eq!(final_state.status, winners[0].status);
    assert_eq!(final_state.reviewed_by, winners[0].reviewed_by);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_approvals_give_one_200_and_one_event() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    let results = join_all((0..64).map(|i| {
        let engine = engine.clone();
        let id = d.id.clone();
        tokio::spawn(async move { engine.approve(&id, &format!("reviewer-{i}"), None).await })
    }))
    .await;
    let ok = results.iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
    assert_eq!(ok, 1);
    assert_eq!(engine.events(&d.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_independent_lifecycles_all_succeed() {
    let (_dir, _path, engine) = temp_engine().await;
    let results = join_all((0..64).map(|i| {
        let engine = engine.clone();
        tokio::spawn(async move {
            let d = engine.create(request(&format!("svc-{i}"), "staging"), None).await?;
            engine.approve(&d.id, "bob", None).await?;
            engine.start(&d.id, "ops", None).await?;
            engine.succeed(&d.id, "ops", Some("green")).await
        })
    }))
    .await;
    for r in &results {
        assert_eq!(r.as_ref().unwrap().as_ref().unwrap().status, Status::Succeeded);
    }
    let query = ListQuery { status: Some(Status::Succeeded), limit: Some(500), ..ListQuery::default() };
    assert_eq!(engine.list(&query).await.unwrap().items.len(), 64);
    let report = engine.verify_audit().await.unwrap();
    assert!(report.valid);
    assert_eq!(report.events_checked, 64 * 4);
}

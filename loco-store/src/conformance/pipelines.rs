//! Pipelines: kept per service (set, replaced, removed, surviving a reopen); the promotion
//! order checked by every create in its transaction; a promoted create written with its
//! `promoted` event, or not at all.

use loco_types::event_data::{EventData, PromotedData};
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::{EventKind, NewDeployment};
use loco_types::pipeline::Pipeline;
use loco_types::rules::NewEvent;
use loco_types::{Error, ErrorCode};

use super::{Backend, code, open, request};
use crate::Store;

fn pipeline(service: &str, stages: &[&str]) -> Pipeline {
    Pipeline {
        service: service.to_owned(),
        stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        require_previous_success: true,
    }
}

fn to(environment: &str) -> NewDeployment {
    NewDeployment { environment: environment.to_owned(), ..request("web") }
}

async fn ship(store: &dyn Store, environment: &str) -> String {
    let d = store.create(to(environment), None).await.expect("create").deployment;
    for (action, actor) in [(Action::Approve, "bob"), (Action::Start, "dana"), (Action::Succeed, "dana")] {
        store.apply(&d.id, action, ActionInput::new(actor)).await.expect("ship");
    }
    d.id
}

pub(super) async fn pipelines_are_set_replaced_and_removed(backend: &dyn Backend) {
    let check = "pipelines_are_set_replaced_and_removed";
    let store = open(backend, check).await;
    store.put_pipeline(pipeline("web", &["dev", "staging"]), "root").await.expect("put");
    store.put_pipeline(pipeline("api", &["qa", "live"]), "root").await.expect("put");
    store.put_pipeline(pipeline("web", &["dev", "staging", "production"]), "root").await.expect("replace");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    let listed: Vec<(String, usize)> =
        store.pipelines().await.expect("list").into_iter().map(|p| (p.service, p.stages.len())).collect();
    assert_eq!(listed, [("api".to_owned(), 2), ("web".to_owned(), 3)], "{check}: by service, after a reopen");
    let web = store.pipeline("web").await.expect("one").map(|p| p.stages);
    assert_eq!(web.as_deref(), Some(&["dev".to_owned(), "staging".to_owned(), "production".to_owned()][..]), "{check}");
    assert_eq!(store.pipeline("Web").await.expect("one"), None, "{check}: services are named exactly");
    store.remove_pipeline("api").await.expect("remove");
    let again = store.remove_pipeline("api").await.unwrap_err();
    assert!(matches!(again, Error::PipelineNotFound { .. }), "{check}: {again:?}");
    store.close().await.expect("close");
}

pub(super) async fn creates_follow_the_promotion_order(backend: &dyn Backend) {
    let check = "creates_follow_the_promotion_order";
    let store = open(backend, check).await;
    store.put_pipeline(pipeline("web", &["dev", "staging"]), "root").await.expect("put");
    assert_eq!(code(check, store.create(to("staging"), None).await), ErrorCode::PolicyViolation, "{check}");
    assert_eq!(store.events_after(0, 100).await.expect("events").len(), 0, "{check}: nothing written");
    let dev = ship(store.as_ref(), "dev").await;
    let staging = store.create(to("staging"), None).await.expect("after success in dev").deployment;
    assert_eq!(staging.status, Status::PendingApproval, "{check}");
    store
        .apply(&dev, Action::Rollback, ActionInput { note: Some("undo".into()), ..ActionInput::new("dana") })
        .await
        .expect("rollback");
    assert_eq!(
        code(check, store.create(to("staging"), None).await),
        ErrorCode::PolicyViolation,
        "{check}: rolled back"
    );
    store.close().await.expect("close");
}

pub(super) async fn a_promoted_create_carries_its_event(backend: &dyn Backend) {
    let check = "a_promoted_create_carries_its_event";
    let store = open(backend, check).await;
    store.put_pipeline(pipeline("web", &["dev", "staging"]), "root").await.expect("put");
    let promoted = |from: &str| {
        NewEvent::new(
            "erin",
            "promoted from dev",
            EventData::Promoted(PromotedData { from_deployment: from.to_owned(), from_environment: "dev".into() }),
        )
    };
    let refused = store.create_promoted(to("staging"), promoted("dep_x")).await;
    assert_eq!(code(check, refused), ErrorCode::PolicyViolation, "{check}: the order holds for promotions too");
    assert_eq!(store.events_after(0, 100).await.expect("events").len(), 0, "{check}: nothing written");
    let dev = ship(store.as_ref(), "dev").await;
    let new = NewDeployment { commit: Some("abc".into()), ..to("staging") };
    let first = store.create_promoted(new.clone(), promoted(&dev)).await.expect("promote");
    let again = store.create_promoted(new, promoted(&dev)).await.expect("promote again");
    assert_eq!((again.replayed, &again.deployment.id), (true, &first.deployment.id), "{check}: the open one");
    let kinds: Vec<EventKind> =
        store.events(&first.deployment.id).await.expect("events").iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Created, EventKind::Promoted], "{check}: one promoted event");
    assert!(store.verify_audit().await.expect("verify").valid, "{check}");
    store.close().await.expect("close");
}

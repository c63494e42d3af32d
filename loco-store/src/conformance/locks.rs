//! Deploy locks: one started deployment per service and environment, taken and given back by
//! the transactions that move deployments in and out of `started`, forced free with a record.

use std::sync::Arc;

use loco_types::event_data::EventData;
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::lock::DeployLock;
use loco_types::model::EventKind;
use loco_types::rules::BeginRollout;
use loco_types::{Error, ErrorCode};

use super::{Backend, approved, code, open, plan};
use crate::Store;

fn noted(actor: &str, note: &str) -> ActionInput {
    ActionInput { note: Some(note.to_owned()), ..ActionInput::new(actor) }
}

/// `(service, deployment)` of every lock held, in the order the store lists them.
async fn held(store: &dyn Store) -> Vec<(String, String)> {
    let locks = store.locks().await.expect("locks");
    locks.into_iter().map(|l| (l.service, l.deployment_id)).collect()
}

fn refused_by(check: &str, result: loco_types::Result<impl std::fmt::Debug>, holder: &str) {
    match result {
        Err(Error::PolicyViolation { rule, name, environment, until, .. }) => {
            assert_eq!(
                (rule.as_str(), name.as_str(), environment.as_str(), until),
                ("deploy_lock", holder, "staging", None),
                "{check}"
            );
        }
        other => panic!("{check}: expected policy_violation (deploy_lock), got {other:?}"),
    }
}

pub(super) async fn a_started_deployment_holds_its_targets_lock(backend: &dyn Backend) {
    let check = "a_started_deployment_holds_its_targets_lock";
    let store = open(backend, check).await;
    let st = store.as_ref();
    let (first, second, api) = (approved(st, "web").await, approved(st, "web").await, approved(st, "api").await);
    st.apply(&first.id, Action::Start, ActionInput::new("dana")).await.expect("start a");
    let locks = st.locks().await.expect("locks");
    assert_eq!(locks.len(), 1, "{check}");
    let a_started = st.get(&first.id).await.expect("get");
    let expected = DeployLock {
        service: "web".into(),
        environment: "staging".into(),
        deployment_id: first.id.clone(),
        holder: "dana".into(),
        since: a_started.updated_at,
    };
    assert_eq!(locks[0], expected, "{check}");

    // A second start on the target is refused, plainly or as a rollout, and writes nothing.
    let events_before = st.events_after(0, 1000).await.expect("events").len();
    refused_by(check, st.apply(&second.id, Action::Start, ActionInput::new("erin")).await, &first.id);
    let rollout = BeginRollout {
        deployment_id: second.id.clone(),
        plan: plan("2"),
        actor: "erin".into(),
        owner: "engine-a".into(),
        lead_events: Vec::new(),
    };
    refused_by(check, st.begin_rollout(rollout).await, &first.id);
    assert_eq!(st.get(&second.id).await.expect("get").status, Status::Approved, "{check}");
    assert_eq!(code(check, st.rollout(&second.id).await), ErrorCode::NotFound);
    assert_eq!(st.events_after(0, 1000).await.expect("events").len(), events_before, "{check}: nothing written");

    // Another service is another target.
    st.apply(&api.id, Action::Start, ActionInput::new("erin")).await.expect("start c");
    assert_eq!(held(st).await, [("api".into(), api.id.clone()), ("web".into(), first.id.clone())], "{check}");

    // Succeeding gives the lock back; failing and rolling back do too.
    st.apply(&first.id, Action::Succeed, ActionInput::new("dana")).await.expect("succeed a");
    assert_eq!(held(st).await, [("api".into(), api.id.clone())], "{check}");
    st.apply(&second.id, Action::Start, ActionInput::new("erin")).await.expect("start b");
    st.apply(&second.id, Action::Fail, noted("erin", "smoke test failed")).await.expect("fail b");
    let fourth = approved(st, "web").await;
    st.apply(&fourth.id, Action::Start, ActionInput::new("erin")).await.expect("start d");
    st.apply(&fourth.id, Action::Rollback, noted("erin", "bad build")).await.expect("roll d back");
    // Rolling back a succeeded deployment takes nothing.
    st.apply(&first.id, Action::Rollback, noted("dana", "revert")).await.expect("roll a back");
    assert_eq!(held(st).await, [("api".into(), api.id.clone())], "{check}");
    store.close().await.expect("close");

    // The lock is durable, and a begun rollout holds it until the rollout ends the deployment.
    let store = open(backend, check).await;
    let st = store.as_ref();
    assert_eq!(held(st).await, [("api".into(), api.id.clone())], "{check}: after reopening");
    let fifth = approved(st, "web").await;
    let rollout = BeginRollout {
        deployment_id: fifth.id.clone(),
        plan: plan("3"),
        actor: "frank".into(),
        owner: "engine-a".into(),
        lead_events: Vec::new(),
    };
    st.begin_rollout(rollout).await.expect("begin");
    let locks = st.locks().await.expect("locks");
    assert_eq!((locks[1].deployment_id.as_str(), locks[1].holder.as_str()), (fifth.id.as_str(), "frank"), "{check}");
    let end = crate::RolloutUpdate {
        state: Some(loco_types::rollout::RolloutState::Succeeded),
        action: Some((Action::Succeed, ActionInput::new("loco"))),
        ..crate::RolloutUpdate::default()
    };
    st.update_rollout(&fifth.id, end).await.expect("finish");
    assert_eq!(st.get(&fifth.id).await.expect("get").status, Status::Succeeded, "{check}");
    assert_eq!(held(st).await, [("api".into(), api.id.clone())], "{check}: the rollout's end gave it back");
    assert!(st.verify_audit().await.expect("verify").valid, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn an_admin_forces_a_lock_free_with_a_record(backend: &dyn Backend) {
    let check = "an_admin_forces_a_lock_free_with_a_record";
    let store = open(backend, check).await;
    let s = store.as_ref();
    let stuck = approved(s, "web").await;
    s.apply(&stuck.id, Action::Start, ActionInput::new("dana")).await.expect("start");
    let since = s.get(&stuck.id).await.expect("get").updated_at;
    assert_eq!(code(check, s.release_lock("web", "production", "root", "why").await), ErrorCode::NotFound);
    assert_eq!(code(check, s.release_lock("nope", "staging", "root", "why").await), ErrorCode::NotFound);

    let released = s.release_lock("web", "staging", "root", "runner died (INC-9)").await.expect("release");
    assert_eq!((released.deployment_id.as_str(), released.holder.as_str()), (stuck.id.as_str(), "dana"), "{check}");
    assert!(s.locks().await.expect("locks").is_empty(), "{check}");
    assert_eq!(s.get(&stuck.id).await.expect("get").status, Status::Started, "{check}: the holder is untouched");
    let events = s.events(&stuck.id).await.expect("events");
    let last = events.last().expect("an event");
    assert_eq!(
        (last.kind, last.actor.as_str(), last.note.as_deref(), last.from_status, last.to_status),
        (EventKind::LockReleased, "root", Some("runner died (INC-9)"), None, None),
        "{check}"
    );
    let Some(EventData::LockReleased(data)) = last.typed_data().expect("data") else {
        panic!("{check}: lock_released carries its data")
    };
    assert_eq!(
        (data.service.as_str(), data.environment.as_str(), data.holder.as_str(), data.since),
        ("web", "staging", "dana", since),
        "{check}"
    );
    assert_eq!(code(check, s.release_lock("web", "staging", "root", "again").await), ErrorCode::NotFound);

    // The next deployment takes the lock; the forced-out holder ending later leaves it alone.
    let next = approved(s, "web").await;
    s.apply(&next.id, Action::Start, ActionInput::new("erin")).await.expect("start next");
    s.apply(&stuck.id, Action::Fail, noted("dana", "gave up")).await.expect("fail the stuck one");
    assert_eq!(held(s).await, [("web".into(), next.id.clone())], "{check}");
    assert!(s.verify_audit().await.expect("verify").valid, "{check}: the release is in the chain");
    store.close().await.expect("close");
}

pub(super) async fn concurrent_starts_on_one_target_let_exactly_one_win(backend: &dyn Backend) {
    let check = "concurrent_starts_on_one_target_let_exactly_one_win";
    let store: Arc<dyn Store> = open(backend, check).await;
    let mut ids = Vec::new();
    for _ in 0..16 {
        ids.push(approved(store.as_ref(), "web").await.id);
    }
    let starts = ids.iter().map(|id| {
        let (store, id) = (Arc::clone(&store), id.clone());
        tokio::spawn(async move { store.apply(&id, Action::Start, ActionInput::new("erin")).await })
    });
    let mut won = Vec::new();
    let mut refused = 0;
    for (id, start) in ids.iter().zip(starts.collect::<Vec<_>>()) {
        match start.await.expect("join") {
            Ok(d) => won.push(d.id),
            Err(e) => {
                assert_eq!(e.kind(), ErrorCode::PolicyViolation, "{check}: {e}");
                assert_eq!(store.get(id).await.expect("get").status, Status::Approved, "{check}");
                refused += 1;
            }
        }
    }
    assert_eq!((won.len(), refused), (1, 15), "{check}");
    assert_eq!(held(store.as_ref()).await, [("web".into(), won[0].clone())], "{check}");
    let started = store.events_after(0, 1000).await.expect("events");
    assert_eq!(started.iter().filter(|e| e.kind == EventKind::Started).count(), 1, "{check}");
    store.close().await.expect("close");
}

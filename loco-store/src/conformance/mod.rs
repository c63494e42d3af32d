//! The store conformance suite: the behaviour every [`Store`] backend must show, written once
//! against the trait. A backend's tests call [`run`] with a [`Backend`] that opens its stores;
//! SQLite runs it in this crate's tests, and any later backend runs the same suite unchanged.
//!
//! Each check uses its own database (named by the check) and panics with the check's name and
//! what differed.

use std::sync::Arc;

use async_trait::async_trait;
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::{Deployment, EventKind, ListQuery, NewDeployment};
use loco_types::plan::RolloutPlan;
use loco_types::rules::{BeginRollout, NewEvent};
use loco_types::{ErrorCode, Result};

use crate::Store;

mod access;
mod commits;
mod gates;
mod locks;
mod manifests;
mod pipelines;
mod rollouts;
mod schedules;

use rollouts::{
    beginning_a_rollout_starts_the_deployment, one_active_rollout_per_target, releases_are_history_newest_first,
    rollout_changes_are_atomic, validation_events_are_recorded_without_a_transition,
};

/// Opens stores of one backend for the suite.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Opens the store named `name`: empty the first time, and the same data every later time
    /// (after the previous handle was closed), so durability can be checked.
    async fn open(&self, name: &str) -> Result<Arc<dyn Store>>;
}

/// Runs every check against `backend`.
pub async fn run(backend: &dyn Backend) {
    creates_are_durable(backend).await;
    idempotency_keys_replay_or_conflict(backend).await;
    commits::creates_by_commit_return_the_open_deployment(backend).await;
    refused_actions_write_nothing(backend).await;
    lists_page_newest_first(backend).await;
    subscribers_see_committed_events_in_order(backend).await;
    the_audit_chain_covers_every_event(backend).await;
    the_audit_compares_every_deployment_with_its_history(backend).await;
    events_record_the_request_they_were_written_for(backend).await;
    beginning_a_rollout_starts_the_deployment(backend).await;
    one_active_rollout_per_target(backend).await;
    rollout_changes_are_atomic(backend).await;
    releases_are_history_newest_first(backend).await;
    validation_events_are_recorded_without_a_transition(backend).await;
    access::tokens_are_found_by_hash_and_revoked_once(backend).await;
    access::services_are_registered_replaced_and_removed(backend).await;
    access::resealing_rewrites_every_stored_secret(backend).await;
    access::platforms_are_configured_replaced_resealed_and_removed(backend).await;
    access::thresholds_are_kept_per_environment(backend).await;
    access::freeze_windows_are_set_replaced_and_removed(backend).await;
    access::an_override_is_written_before_its_start_and_only_with_it(backend).await;
    locks::a_started_deployment_holds_its_targets_lock(backend).await;
    locks::an_admin_forces_a_lock_free_with_a_record(backend).await;
    locks::concurrent_starts_on_one_target_let_exactly_one_win(backend).await;
    gates::gates_are_set_replaced_and_removed(backend).await;
    gates::a_services_own_gate_takes_precedence(backend).await;
    gates::a_gate_counts_approvals_in_the_write(backend).await;
    gates::concurrent_approvals_each_count_once(backend).await;
    gates::reviewer_groups_admit_their_members_as_they_are_now(backend).await;
    pipelines::pipelines_are_set_replaced_and_removed(backend).await;
    pipelines::creates_follow_the_promotion_order(backend).await;
    pipelines::a_promoted_create_carries_its_event(backend).await;
    manifests::a_manifest_applies_in_versions_and_removes_only_what_it_set(backend).await;
    manifests::concurrent_applies_each_get_their_own_version(backend).await;
    manifests::two_services_gate_one_environment_each_their_own_way(backend).await;
    schedules::schedules_are_kept_cancelled_and_claimed_once(backend).await;
    schedules::concurrent_claims_take_each_due_schedule_once(backend).await;
    a_closed_store_refuses_writes(backend).await;
}

pub(super) fn request(service: &str) -> NewDeployment {
    NewDeployment {
        service: service.to_owned(),
        environment: "staging".to_owned(),
        version: "1.0.0".to_owned(),
        requester: "alice".to_owned(),
        work_refs: vec!["PAY-1".to_owned()],
        rollback_plan: "redeploy".to_owned(),
        risk: None,
        commit: None,
    }
}

pub(super) fn plan(version: &str) -> RolloutPlan {
    let json = format!(
        r#"{{"platform": "memory", "strategy": {{"type": "immediate"}}, "release": {{"version": "{version}"}}}}"#
    );
    RolloutPlan::from_json(&json).expect("a valid plan")
}

pub(super) async fn open(backend: &dyn Backend, name: &str) -> Arc<dyn Store> {
    backend.open(name).await.unwrap_or_else(|e| panic!("{name}: cannot open the store: {e}"))
}

pub(super) fn code<T: std::fmt::Debug>(check: &str, result: Result<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("{check}: expected an error, got {value:?}"),
        Err(e) => e.kind(),
    }
}

pub(super) async fn approved(store: &dyn Store, service: &str) -> Deployment {
    let d = store.create(request(service), None).await.expect("create").deployment;
    store.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("approve")
}

pub(super) async fn begin(
    store: &dyn Store,
    id: &str,
    version: &str,
) -> Result<(Deployment, loco_types::rollout::Rollout)> {
    store
        .begin_rollout(BeginRollout {
            deployment_id: id.to_owned(),
            plan: plan(version),
            actor: "deployer".to_owned(),
            owner: "engine-a".to_owned(),
            lead_events: Vec::new(),
        })
        .await
}

pub(super) fn progress_event(note: &str) -> NewEvent {
    use loco_types::event_data::{EventData, RolloutTurn, StepProgressData};
    NewEvent::new("loco", note, EventData::StepProgress(StepProgressData::Turn(RolloutTurn::Extend { extension: 1 })))
}

async fn creates_are_durable(backend: &dyn Backend) {
    let check = "creates_are_durable";
    let store = open(backend, check).await;
    let created = store.create(request("api"), None).await.expect("create");
    assert!(!created.replayed, "{check}");
    let d = created.deployment;
    assert_eq!((d.status, d.reviewed_by.as_deref()), (Status::PendingApproval, None), "{check}");
    assert_eq!(store.get(&d.id).await.expect("get"), d, "{check}: get returns the created row");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    assert_eq!(store.get(&d.id).await.expect("get after reopen"), d, "{check}: the row survives a reopen");
    let events = store.events(&d.id).await.expect("events");
    assert_eq!(events.len(), 1, "{check}: exactly one event");
    assert_eq!(
        (events[0].seq, events[0].kind, events[0].from_status, events[0].to_status, events[0].actor.as_str()),
        (1, EventKind::Created, None, Some(Status::PendingApproval), "alice"),
        "{check}"
    );
    assert_eq!(code(check, store.get("dep_missing").await), ErrorCode::NotFound);
    assert_eq!(code(check, store.events("dep_missing").await), ErrorCode::NotFound);
    store.close().await.expect("close");
}

async fn idempotency_keys_replay_or_conflict(backend: &dyn Backend) {
    let check = "idempotency_keys_replay_or_conflict";
    let store = open(backend, check).await;
    let first = store.create(request("api"), Some("key-1".into())).await.expect("create");
    store.apply(&first.deployment.id, Action::Approve, ActionInput::new("bob")).await.expect("approve");
    let again = store.create(request("api"), Some("key-1".into())).await.expect("replay");
    assert!(again.replayed, "{check}: the same request with the same key is a replay");
    assert_eq!(again.deployment.id, first.deployment.id, "{check}");
    assert_eq!(again.deployment.status, Status::Approved, "{check}: a replay returns the deployment as it is now");
    let other = store.create(request("web"), Some("key-1".into())).await;
    assert_eq!(code(check, other), ErrorCode::IdempotencyConflict);
    let page = store.list(&ListQuery::default()).await.expect("list");
    assert_eq!(page.items.len(), 1, "{check}: neither the replay nor the conflict wrote a row");
    assert_eq!(store.events_after(0, 100).await.expect("events").len(), 2, "{check}: created + approved only");
    store.close().await.expect("close");
}

async fn refused_actions_write_nothing(backend: &dyn Backend) {
    let check = "refused_actions_write_nothing";
    let store = open(backend, check).await;
    let d = store.create(request("api"), None).await.expect("create").deployment;
    let by_requester = store.apply(&d.id, Action::Approve, ActionInput::new("alice")).await;
    assert_eq!(code(check, by_requester), ErrorCode::SelfApproval);
    let too_early = store.apply(&d.id, Action::Start, ActionInput::new("bob")).await;
    assert_eq!(code(check, too_early), ErrorCode::InvalidTransition);
    let missing = store.apply("dep_missing", Action::Approve, ActionInput::new("bob")).await;
    assert_eq!(code(check, missing), ErrorCode::NotFound);
    assert_eq!(store.get(&d.id).await.expect("get"), d, "{check}: the row is unchanged");
    assert_eq!(store.events(&d.id).await.expect("events").len(), 1, "{check}: no event was written");
    let approved = store.apply(&d.id, Action::Approve, ActionInput::new("bob").with_note("ok")).await.expect("approve");
    assert_eq!((approved.status, approved.reviewed_by.as_deref()), (Status::Approved, Some("bob")), "{check}");
    assert_eq!(approved.reviewed_at, Some(approved.updated_at), "{check}");
    let events = store.events(&d.id).await.expect("events");
    assert_eq!(events.len(), 2, "{check}");
    assert_eq!(
        (events[1].kind, events[1].from_status, events[1].to_status, events[1].note.as_deref()),
        (EventKind::Approved, Some(Status::PendingApproval), Some(Status::Approved), Some("ok")),
        "{check}"
    );
    store.close().await.expect("close");
}

async fn lists_page_newest_first(backend: &dyn Backend) {
    let check = "lists_page_newest_first";
    let store = open(backend, check).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let service = if i % 2 == 0 { "api" } else { "web" };
        ids.push(store.create(request(service), None).await.expect("create").deployment.id);
    }
    store.apply(&ids[6], Action::Approve, ActionInput::new("bob")).await.expect("approve");
    let mut seen = Vec::new();
    let mut query = ListQuery { limit: Some(3), ..ListQuery::default() };
    let mut pages = 0;
    loop {
        let page = store.list(&query).await.expect("list");
        pages += 1;
        seen.extend(page.items.iter().map(|d| d.id.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!((seen, pages), (ids.clone(), 3), "{check}: every deployment once, newest first");
    let api = ListQuery { service: Some("api".into()), ..ListQuery::default() };
    assert_eq!(store.list(&api).await.expect("list").items.len(), 4, "{check}");
    let approved = ListQuery { status: Some(Status::Approved), ..ListQuery::default() };
    let approved: Vec<String> = store.list(&approved).await.expect("list").items.into_iter().map(|d| d.id).collect();
    assert_eq!(approved, vec![ids[0].clone()], "{check}");
    let forged = ListQuery { cursor: Some("not-a-cursor".into()), ..ListQuery::default() };
    assert_eq!(code(check, store.list(&forged).await), ErrorCode::ValidationError);
    store.close().await.expect("close");
}

async fn subscribers_see_committed_events_in_order(backend: &dyn Backend) {
    let check = "subscribers_see_committed_events_in_order";
    let store = open(backend, check).await;
    let mut live = store.subscribe();
    let d = store.create(request("api"), None).await.expect("create").deployment;
    let _ = store.apply(&d.id, Action::Approve, ActionInput::new("alice")).await; // refused: self-approval
    store.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("approve");
    let first = live.recv().await.expect("first event");
    let second = live.recv().await.expect("second event");
    assert_eq!((first.seq, first.kind), (1, EventKind::Created), "{check}");
    assert_eq!((second.seq, second.kind), (2, EventKind::Approved), "{check}: the refused write sent nothing");
    let replay = store.events_after(1, 10).await.expect("events_after");
    assert_eq!(replay, vec![second], "{check}: catching up returns the same events");
    store.close().await.expect("close");
}

async fn the_audit_chain_covers_every_event(backend: &dyn Backend) {
    let check = "the_audit_chain_covers_every_event";
    let store = open(backend, check).await;
    let d = approved(store.as_ref(), "api").await;
    let started = store.apply_change(&d.id, Action::Start, ActionInput::new("bot"), Vec::new()).await.expect("start");
    assert_eq!(
        (started.from, started.since, started.deployment.status),
        (Status::Approved, d.updated_at, Status::Started),
        "{check}: an applied action says which status it left and since when"
    );
    let report = store.verify_audit().await.expect("verify");
    let events = store.events(&d.id).await.expect("events");
    assert!(report.valid, "{check}: {report:?}");
    assert_eq!(report.events_checked, 3, "{check}");
    assert_eq!(report.head_hash.as_deref(), Some(events[2].hash.as_str()), "{check}");
    let mut previous = loco_types::audit::GENESIS_HASH.to_owned();
    for event in &events {
        let data = event.data.as_ref().map(loco_types::audit::canonical_data);
        assert_eq!(
            event.hash,
            loco_types::audit::event_hash(&previous, event, data.as_deref()),
            "{check}: event {} chains from the one before, its data included",
            event.seq
        );
        previous.clone_from(&event.hash);
    }
    store.close().await.expect("close");
}

async fn events_record_the_request_they_were_written_for(backend: &dyn Backend) {
    use crate::context::with_request_id;
    let check = "events_record_the_request_they_were_written_for";
    let store = open(backend, check).await;
    let d = with_request_id(Some("req-create".into()), store.create(request("api"), None))
        .await
        .expect("create")
        .deployment;
    store.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("approve outside any request");
    let begun = with_request_id(Some("req-start".into()), async {
        let mut lead = progress_event("lead");
        lead.request_id = Some("req-explicit".into());
        store
            .begin_rollout(BeginRollout {
                deployment_id: d.id.clone(),
                plan: plan("1.0.0"),
                actor: "deployer".to_owned(),
                owner: "engine-a".to_owned(),
                lead_events: vec![lead],
            })
            .await
    })
    .await;
    begun.expect("begin");
    with_request_id(Some("req-record".into()), store.record_event(&d.id, progress_event("recorded")))
        .await
        .expect("record");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    let events = store.events(&d.id).await.expect("events");
    let seen: Vec<(EventKind, Option<&str>)> = events.iter().map(|e| (e.kind, e.request_id.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            (EventKind::Created, Some("req-create")),
            (EventKind::Approved, None),
            (EventKind::StepProgress, Some("req-explicit")),
            (EventKind::Started, Some("req-start")),
            (EventKind::StepProgress, Some("req-record")),
        ],
        "{check}: each event names the request it was written for, after a reopen"
    );
    let report = store.verify_audit().await.expect("verify");
    assert!(report.valid && report.events_checked == 5, "{check}: {report:?}");
    let mut previous = loco_types::audit::GENESIS_HASH.to_owned();
    for event in &events {
        let data = event.data.as_ref().map(loco_types::audit::canonical_data);
        let mut forged = event.clone();
        forged.request_id = Some("req-forged".into());
        assert_ne!(
            loco_types::audit::event_hash(&previous, &forged, data.as_deref()),
            event.hash,
            "{check}: the hash of event {} covers its request id",
            event.seq
        );
        previous.clone_from(&event.hash);
    }
    store.close().await.expect("close");
}

async fn the_audit_compares_every_deployment_with_its_history(backend: &dyn Backend) {
    use loco_types::event_data::{CreatedData, EventData};
    use loco_types::rules::RolloutUpdate;

    let check = "the_audit_compares_every_deployment_with_its_history";
    let store = open(backend, check).await;
    let mut production = request("api");
    "production".clone_into(&mut production.environment);
    production.risk = Some("a schema change".to_owned());
    production.work_refs.push("PAY-2".to_owned());
    let pending = store.create(production.clone(), None).await.expect("create").deployment;
    let created = &store.events(&pending.id).await.expect("events")[0];
    assert_eq!(
        created.typed_data().expect("readable data"),
        Some(EventData::Created(CreatedData::from(production))),
        "{check}: the created event carries the whole request"
    );
    let rejected = store.create(request("web"), None).await.expect("create").deployment;
    store.apply(&rejected.id, Action::Reject, ActionInput::new("bob").with_note("no")).await.expect("reject");
    let rolled_back = approved(store.as_ref(), "db").await;
    for (action, note) in [(Action::Start, None), (Action::Succeed, None), (Action::Rollback, Some("slow"))] {
        let input = ActionInput { note: note.map(str::to_owned), ..ActionInput::new("bot") };
        store.apply(&rolled_back.id, action, input).await.expect("action");
    }
    let rolled_out = approved(store.as_ref(), "queue").await;
    begin(store.as_ref(), &rolled_out.id, "2").await.expect("begin");
    let finish = RolloutUpdate {
        lead_events: vec![progress_event("step 1 of 1")],
        action: Some((Action::Succeed, ActionInput::new("loco"))),
        ..RolloutUpdate::default()
    };
    store.update_rollout(&rolled_out.id, finish).await.expect("finish the rollout");
    let report = store.verify_audit().await.expect("verify");
    assert!(report.valid, "{check}: {report:?}");
    assert_eq!(
        (report.deployments_checked, report.deployments_status_only, report.exported_head_seq),
        (4, 0, None),
        "{check}: every deployment compared field by field"
    );
    store.close().await.expect("close");
}

async fn a_closed_store_refuses_writes(backend: &dyn Backend) {
    let check = "a_closed_store_refuses_writes";
    let store = open(backend, check).await;
    let d = store.create(request("api"), None).await.expect("create").deployment;
    store.close().await.expect("close");
    assert_eq!(code(check, store.create(request("api"), None).await), ErrorCode::StorageError);
    assert_eq!(
        code(check, store.apply(&d.id, Action::Approve, ActionInput::new("bob")).await),
        ErrorCode::StorageError
    );
    let store = open(backend, check).await;
    assert_eq!(store.get(&d.id).await.expect("get").status, Status::PendingApproval, "{check}");
    store.close().await.expect("close");
}

//! The rollout half of the store conformance suite: beginning rollouts, one active rollout per
//! target, atomic rollout changes, and the release history.

use loco_types::ErrorCode;
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::EventKind;
use loco_types::rollout::{Release, RolloutFailure, RolloutProgress, RolloutState};
use loco_types::rules::RolloutUpdate;

use super::{Backend, approved, begin, code, open, plan, progress_event, request};

pub(super) async fn beginning_a_rollout_starts_the_deployment(backend: &dyn Backend) {
    let check = "beginning_a_rollout_starts_the_deployment";
    let store = open(backend, check).await;
    let d = approved(store.as_ref(), "api").await;
    let (started, rollout) = begin(store.as_ref(), &d.id, "").await.expect("begin");
    assert_eq!(started.status, Status::Started, "{check}");
    assert_eq!((rollout.state, rollout.previous.clone()), (RolloutState::Running, None), "{check}");
    assert_eq!(rollout.plan.release.version, "1.0.0", "{check}: an empty version takes the deployment's");
    assert_eq!(store.rollout(&d.id).await.expect("rollout"), rollout, "{check}");
    let events = store.events(&d.id).await.expect("events");
    let last = events.last().expect("an event");
    assert_eq!(
        (last.kind, last.actor.as_str(), last.note.as_deref()),
        (EventKind::Started, "deployer", Some("rollout: immediate on memory")),
        "{check}"
    );
    let by_caller = store.apply(&d.id, Action::Succeed, ActionInput::new("bob")).await;
    assert_eq!(code(check, by_caller), ErrorCode::RolloutInProgress);
    let pending = store.create(request("web"), None).await.expect("create").deployment;
    assert_eq!(code(check, begin(store.as_ref(), &pending.id, "2").await), ErrorCode::InvalidTransition);
    assert_eq!(code(check, store.rollout(&pending.id).await), ErrorCode::NotFound);
    store.close().await.expect("close");
}

pub(super) async fn one_active_rollout_per_target(backend: &dyn Backend) {
    let check = "one_active_rollout_per_target";
    let store = open(backend, check).await;
    let first = approved(store.as_ref(), "api").await;
    let second = approved(store.as_ref(), "api").await;
    begin(store.as_ref(), &first.id, "2").await.expect("begin");
    let events_before = store.events_after(0, 1000).await.expect("events").len();
    match begin(store.as_ref(), &second.id, "3").await {
        Err(loco_types::Error::RolloutConflict { active, .. }) => assert_eq!(active, first.id, "{check}"),
        other => panic!("{check}: expected rollout_conflict, got {other:?}"),
    }
    assert_eq!(store.get(&second.id).await.expect("get").status, Status::Approved, "{check}");
    assert_eq!(store.events_after(0, 1000).await.expect("events").len(), events_before, "{check}");
    let finished = RolloutUpdate {
        state: Some(RolloutState::RolledBack),
        action: Some((Action::Rollback, ActionInput { note: Some("bad".into()), ..ActionInput::new("loco") })),
        ..RolloutUpdate::default()
    };
    store.update_rollout(&first.id, finished).await.expect("finish");
    let (_, rollout) = begin(store.as_ref(), &second.id, "3").await.expect("begin after the first finished");
    assert_eq!(rollout.state, RolloutState::Running, "{check}");
    let revive = RolloutUpdate { state: Some(RolloutState::Running), ..RolloutUpdate::default() };
    assert_eq!(code(check, store.update_rollout(&first.id, revive).await), ErrorCode::RolloutConflict);
    let active: Vec<String> =
        store.rollouts(true).await.expect("rollouts").into_iter().map(|r| r.deployment_id).collect();
    assert_eq!(active, vec![second.id.clone()], "{check}");
    assert_eq!(store.rollouts(false).await.expect("rollouts").len(), 2, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn rollout_changes_are_atomic(backend: &dyn Backend) {
    let check = "rollout_changes_are_atomic";
    let store = open(backend, check).await;
    let d = approved(store.as_ref(), "api").await;
    begin(store.as_ref(), &d.id, "2").await.expect("begin");
    let before = store.events(&d.id).await.expect("events").len();
    let stolen = RolloutUpdate {
        owner: Some("engine-b".into()),
        expect_owner: Some("engine-x".into()),
        events: vec![progress_event("must not be written")],
        ..RolloutUpdate::default()
    };
    assert_eq!(code(check, store.update_rollout(&d.id, stolen).await), ErrorCode::RolloutConflict);
    let bad_action = RolloutUpdate {
        lead_events: vec![progress_event("must not be written")],
        action: Some((Action::Approve, ActionInput::new("loco"))),
        progress: Some(RolloutProgress { completed_steps: 9, ..RolloutProgress::default() }),
        ..RolloutUpdate::default()
    };
    assert_eq!(code(check, store.update_rollout(&d.id, bad_action).await), ErrorCode::InvalidTransition);
    assert_eq!(store.events(&d.id).await.expect("events").len(), before, "{check}: refused changes wrote nothing");
    assert_eq!(store.rollout(&d.id).await.expect("rollout").progress.completed_steps, 0, "{check}");
    let release = Release {
        version: "2".into(),
        deployment_id: d.id.clone(),
        platform: "memory".into(),
        spec: plan("2").release,
        instances: Vec::new(),
        activated_at: loco_types::model::Timestamp::now(),
        retired_at: None,
    };
    let done = RolloutUpdate {
        state: Some(RolloutState::Succeeded),
        progress: Some(RolloutProgress { completed_steps: 3, total_steps: 3, ..RolloutProgress::default() }),
        lead_events: vec![progress_event("lead")],
        action: Some((Action::Succeed, ActionInput::new("loco").with_note("done"))),
        events: vec![progress_event("after")],
        activate: Some(release),
        owner: Some("engine-b".into()),
        expect_owner: Some("engine-a".into()),
        ..RolloutUpdate::default()
    };
    let rollout = store.update_rollout(&d.id, done).await.expect("succeed");
    assert_eq!((rollout.state, rollout.owner.as_str()), (RolloutState::Succeeded, "engine-b"), "{check}");
    assert_eq!(rollout.lease, 1, "{check}: the hand-over grew the fencing token");
    let fenced_out =
        RolloutUpdate { fence: Some(0), events: vec![progress_event("stale")], ..RolloutUpdate::default() };
    assert_eq!(code(check, store.update_rollout(&d.id, fenced_out).await), ErrorCode::RolloutConflict);
    assert_eq!(rollout.finished_at, Some(rollout.updated_at), "{check}: a final state sets finished_at");
    assert_eq!(store.rollout(&d.id).await.expect("rollout"), rollout, "{check}");
    assert_eq!(store.get(&d.id).await.expect("get").status, Status::Succeeded, "{check}");
    let events = store.events(&d.id).await.expect("events");
    let tail: Vec<(EventKind, Option<&str>)> = events[before..].iter().map(|e| (e.kind, e.note.as_deref())).collect();
    assert_eq!(
        tail,
        [
            (EventKind::StepProgress, Some("lead")),
            (EventKind::Succeeded, Some("done")),
            (EventKind::StepProgress, Some("after"))
        ],
        "{check}: lead events, the action's event, then the others"
    );
    let releases = store.releases("api", "staging", 10).await.expect("releases");
    assert_eq!(releases.len(), 1, "{check}");
    assert_eq!((releases[0].version.as_str(), releases[0].retired_at), ("2", None), "{check}");
    assert!(store.verify_audit().await.expect("verify").valid, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn releases_are_history_newest_first(backend: &dyn Backend) {
    let check = "releases_are_history_newest_first";
    let store = open(backend, check).await;
    for version in ["2", "3"] {
        let d = approved(store.as_ref(), "api").await;
        let (_, rollout) = begin(store.as_ref(), &d.id, version).await.expect("begin");
        let release = Release {
            version: version.into(),
            deployment_id: d.id.clone(),
            platform: "memory".into(),
            spec: rollout.plan.release.clone(),
            instances: Vec::new(),
            activated_at: loco_types::model::Timestamp::now(),
            retired_at: None,
        };
        let done = RolloutUpdate {
            state: Some(RolloutState::Succeeded),
            action: Some((Action::Succeed, ActionInput::new("loco"))),
            activate: Some(release),
            ..RolloutUpdate::default()
        };
        store.update_rollout(&d.id, done).await.expect("succeed");
    }
    let releases = store.releases("api", "staging", 10).await.expect("releases");
    let versions: Vec<(&str, bool)> = releases.iter().map(|r| (r.version.as_str(), r.retired_at.is_some())).collect();
    assert_eq!(versions, [("3", false), ("2", true)], "{check}: the newest is current, the older retired");
    // The current release's instances change in place (brought back after a restart).
    let revived = vec![loco_types::platform::Instance {
        id: "ins_revived".into(),
        version: "3".into(),
        address: Some("127.0.0.1:9".into()),
        pid: Some(9),
        state: loco_types::platform::InstanceState::Running,
        platform_id: Some("machine-9".into()),
    }];
    let again = RolloutUpdate { serving_instances: Some(revived.clone()), ..RolloutUpdate::default() };
    store.update_rollout(&releases[0].deployment_id, again).await.expect("serving instances");
    let again = RolloutUpdate { serving_instances: Some(Vec::new()), ..RolloutUpdate::default() };
    store.update_rollout(&releases[1].deployment_id, again).await.expect("a retired release is left alone");
    let releases = store.releases("api", "staging", 10).await.expect("releases");
    assert_eq!((releases[0].instances.clone(), releases.len()), (revived, 2), "{check}");
    assert!(releases[1].instances.is_empty() && releases[1].retired_at.is_some(), "{check}");
    assert_eq!(store.releases("api", "staging", 1).await.expect("releases").len(), 1, "{check}: limit");
    let serving = approved(store.as_ref(), "api").await;
    match begin(store.as_ref(), &serving.id, "3").await {
        Err(loco_types::Error::Validation { details }) => assert_eq!(details[0].field, "release.version", "{check}"),
        other => panic!("{check}: expected a validation error for the serving version, got {other:?}"),
    }
    let (_, next) = begin(store.as_ref(), &serving.id, "4").await.expect("begin");
    assert_eq!(next.previous.map(|p| p.version), Some("3".to_owned()), "{check}: it restores the current release");
    let failed = RolloutUpdate {
        state: Some(RolloutState::RollingBack),
        failure: Some(RolloutFailure {
            code: loco_types::rollout::FailureCode::HealthCheckFailed,
            message: "instance exited".into(),
            step: Some(2),
        }),
        action: Some((Action::Fail, ActionInput::new("loco").with_note("instance exited"))),
        ..RolloutUpdate::default()
    };
    let rolling_back = store.update_rollout(&serving.id, failed).await.expect("fail");
    assert_eq!((rolling_back.state, rolling_back.finished_at), (RolloutState::RollingBack, None), "{check}");
    assert_eq!(store.get(&serving.id).await.expect("get").status, Status::Failed, "{check}");
    // A new restore point (rolling back to an older release), then the history trimmed to two.
    let oldest = releases[1].clone();
    let moved = RolloutUpdate { previous: Some(oldest.clone()), ..RolloutUpdate::default() };
    let moved = store.update_rollout(&serving.id, moved).await.expect("restore point");
    assert_eq!(moved.previous.as_ref().map(|p| p.version.as_str()), Some("2"), "{check}");
    assert_eq!(store.rollout(&serving.id).await.expect("rollout").previous, Some(oldest.clone()), "{check}");
    let restored = RolloutUpdate {
        state: Some(RolloutState::RolledBack),
        action: Some((Action::Rollback, ActionInput::new("loco").with_note("back to 2"))),
        activate: Some(oldest),
        keep_releases: Some(2),
        ..RolloutUpdate::default()
    };
    store.update_rollout(&serving.id, restored).await.expect("rolled back");
    let kept = store.releases("api", "staging", 10).await.expect("releases");
    let versions: Vec<(&str, bool)> = kept.iter().map(|r| (r.version.as_str(), r.retired_at.is_some())).collect();
    assert_eq!(versions, [("2", false), ("3", true)], "{check}: the two newest kept, the oldest dropped");
    store.close().await.expect("close");
}

pub(super) async fn validation_events_are_recorded_without_a_transition(backend: &dyn Backend) {
    use loco_types::event_data::EventData;
    use loco_types::plan::ValidationReport;
    use loco_types::rules::{BeginRollout, NewEvent};
    let check = "validation_events_are_recorded_without_a_transition";
    let store = open(backend, check).await;
    let d = approved(store.as_ref(), "api").await;
    let refused = ValidationReport { passed: false, ..ValidationReport::default() };
    let event = NewEvent::new("deployer", "validation failed", EventData::Validation(refused.clone()));
    let recorded = store.record_event(&d.id, event).await.expect("record");
    assert_eq!(
        (recorded.kind, recorded.from_status, recorded.to_status),
        (EventKind::Validation, None, None),
        "{check}"
    );
    assert_eq!(store.get(&d.id).await.expect("get").status, Status::Approved, "{check}: the status stays");
    let lifecycle =
        NewEvent::new("x", "y", EventData::Created(loco_types::event_data::CreatedData::from(request("api"))));
    assert_eq!(code(check, store.record_event(&d.id, lifecycle).await), ErrorCode::ValidationError);
    assert_eq!(code(check, store.record_event("dep_missing", progress_event("n")).await), ErrorCode::NotFound);
    let passed = NewEvent::new("deployer", "validation passed", EventData::Validation(ValidationReport::default()));
    store
        .begin_rollout(BeginRollout {
            deployment_id: d.id.clone(),
            plan: plan("2"),
            actor: "deployer".to_owned(),
            owner: "engine-a".to_owned(),
            lead_events: vec![passed],
        })
        .await
        .expect("begin");
    let kinds: Vec<EventKind> = store.events(&d.id).await.expect("events").iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Created, EventKind::Approved, EventKind::Validation, EventKind::Validation, EventKind::Started],
        "{check}: the passed report is recorded just before started"
    );
    let events = store.events(&d.id).await.expect("events");
    assert_eq!(events[2].data.as_ref().and_then(|v| v.get("passed")), Some(&serde_json::json!(false)), "{check}");
    let audit = store.verify_audit().await.expect("audit");
    assert!(audit.valid, "{check}: {audit:?}");
    store.close().await.expect("close");
}

//! Scheduled starts through the engine on real SQLite files: what scheduling refuses (a past or
//! far time, a deployment that cannot start, a freeze window at that time, a rollout without a
//! manifest plan), and what happens when one falls due: started as its actor, or refused by the
//! policies in force then, with the reason kept, and cancelled ones left alone.

use std::time::Duration;

use loco_core::freeze::FreezeWindow;
use loco_core::schedule::{ScheduleRequest, ScheduleState};
use loco_core::{Engine, EventKind, Status, Timestamp};

use crate::common::{request, temp_db};

fn at(after: Duration, actor: &str) -> ScheduleRequest {
    ScheduleRequest {
        at: Timestamp::now().after(after),
        actor: actor.to_owned(),
        rollout: false,
        override_reason: None,
    }
}

/// A one-off freeze of `environment` from a minute ago to `until` from now.
fn freeze(name: &str, environment: &str, until: Duration) -> FreezeWindow {
    let (start, end) = (Timestamp::now().before(Duration::from_secs(60)), Timestamp::now().after(until));
    FreezeWindow::from_json(&format!(
        r#"{{"name": "{name}", "environments": ["{environment}"], "reason": "hold",
             "schedule": {{"type": "once", "start": "{start}", "end": "{end}"}}}}"#
    ))
    .unwrap()
}

async fn approved(engine: &Engine, service: &str, environment: &str) -> String {
    let d = engine.create(request(service, environment), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

#[tokio::test]
async fn scheduling_refuses_what_could_never_start_as_asked() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let id = approved(&engine, "web", "staging").await;
    let past = ScheduleRequest { at: Timestamp::now().before(Duration::from_secs(1)), ..at(Duration::ZERO, "ops") };
    let far = at(Duration::from_secs(91 * 24 * 3600), "ops");
    for (request, field) in [(past, "at"), (far, "at"), (at(Duration::from_secs(60), " "), "actor")] {
        let refused = engine.schedule_start(&id, request, "root").await.unwrap_err();
        assert_eq!((refused.code(), refused.details()[0].field.as_str()), ("validation_error", field), "{refused}");
    }
    let blank_by = engine.schedule_start(&id, at(Duration::from_secs(60), "ops"), "").await.unwrap_err();
    assert_eq!(blank_by.details()[0].field, "by");
    let unknown = ScheduleRequest::from_json(r#"{"at": "2030-01-01T00:00:00Z", "actor": "ops", "when": 1}"#);
    assert_eq!(unknown.unwrap_err().details()[0].field, "schedule");
    assert_eq!(
        engine.schedule_start("dep_nope", at(Duration::from_secs(60), "ops"), "root").await.unwrap_err().code(),
        "not_found"
    );

    // A window in force at that time refuses it, naming the window; an override reason lets it be.
    engine.set_freeze_window(freeze("maintenance", "staging", Duration::from_secs(3600)), "root").await.unwrap();
    let frozen = engine.schedule_start(&id, at(Duration::from_secs(600), "ops"), "root").await.unwrap_err();
    assert_eq!(frozen.code(), "policy_violation");
    assert!(frozen.to_string().contains("maintenance"), "{frozen}");
    let after_it = engine.schedule_start(&id, at(Duration::from_secs(7200), "ops"), "root").await.unwrap();
    assert_eq!(after_it.state, ScheduleState::Pending, "after the window ends");
    let overridden = ScheduleRequest { override_reason: Some("hotfix".into()), ..at(Duration::from_secs(600), "root") };
    assert_eq!(
        engine.schedule_start(&id, overridden, "root").await.unwrap().override_reason.as_deref(),
        Some("hotfix")
    );
    assert_eq!(engine.scheduled_starts().await.unwrap().len(), 1, "one schedule per deployment: replaced");

    // A rollout needs its manifest's plan now; a deployment past starting cannot be scheduled.
    let rollout = ScheduleRequest { rollout: true, ..at(Duration::from_secs(7200), "ops") };
    let refused = engine.schedule_start(&id, rollout, "root").await.unwrap_err();
    assert_eq!(refused.details()[0].field, "plan", "{refused}");
    engine.remove_freeze_window("maintenance").await.unwrap();
    engine.start(&id, "ops", None).await.unwrap();
    let started = engine.schedule_start(&id, at(Duration::from_secs(60), "ops"), "root").await.unwrap_err();
    assert_eq!(started.code(), "invalid_transition", "{started}");
    engine.close().await.unwrap();
}

#[tokio::test]
async fn due_starts_run_once_as_their_actor_or_are_refused_by_the_policies_in_force_then() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let plain = approved(&engine, "web", "staging").await;
    let frozen = approved(&engine, "web", "qa").await;
    let cancelled = approved(&engine, "api", "qa").await;
    let later = approved(&engine, "db", "staging").await;
    let unreviewed = engine.create(request("api", "staging"), None).await.unwrap().id;
    let soon = Duration::from_millis(800);
    for id in [&plain, &frozen, &cancelled, &unreviewed] {
        engine.schedule_start(id, at(soon, "deploy-bot"), "root").await.unwrap();
    }
    engine.schedule_start(&later, at(Duration::from_secs(3600), "deploy-bot"), "root").await.unwrap();
    assert_eq!(engine.cancel_scheduled_start(&cancelled).await.unwrap().state, ScheduleState::Cancelled);
    assert_eq!(engine.cancel_scheduled_start(&cancelled).await.unwrap_err().code(), "not_found");
    engine.close().await.unwrap();

    // The schedules survive a reopen; nothing is due yet. A freeze of qa set after scheduling
    // holds when the start falls due.
    let engine = Engine::open(&path).await.unwrap();
    assert!(engine.run_due_starts().await.unwrap().is_empty(), "not due yet");
    engine.set_freeze_window(freeze("incident", "qa", Duration::from_secs(3600)), "root").await.unwrap();
    tokio::time::sleep(soon + Duration::from_millis(300)).await;
    let ran = engine.run_due_starts().await.unwrap();
    let outcomes: Vec<(&str, ScheduleState, &str)> = ran
        .iter()
        .map(|s| {
            (s.deployment_id.as_str(), s.state, s.outcome.as_deref().and_then(|o| o.split(':').next()).unwrap_or(""))
        })
        .collect();
    let mut expected = vec![
        (plain.as_str(), ScheduleState::Started, ""),
        (frozen.as_str(), ScheduleState::Refused, "policy_violation"),
        (unreviewed.as_str(), ScheduleState::Refused, "invalid_transition"),
    ];
    expected.sort_by_key(|e| ran.iter().position(|s| s.deployment_id == e.0));
    assert_eq!(outcomes, expected);
    assert!(engine.run_due_starts().await.unwrap().is_empty(), "each runs once");

    let started = engine.get(&plain).await.unwrap();
    assert_eq!(started.status, Status::Started);
    let last = engine.events(&plain).await.unwrap().pop().unwrap();
    assert_eq!((last.kind, last.actor.as_str()), (EventKind::Started, "deploy-bot"), "started as its actor");
    assert_eq!(engine.get(&frozen).await.unwrap().status, Status::Approved, "the refused one did not start");
    let states: Vec<(String, ScheduleState)> =
        engine.scheduled_starts().await.unwrap().into_iter().map(|s| (s.deployment_id, s.state)).collect();
    assert!(states.contains(&(later.clone(), ScheduleState::Pending)), "{states:?}");
    assert!(states.contains(&(cancelled.clone(), ScheduleState::Cancelled)), "{states:?}");
    let kept = engine.scheduled_starts().await.unwrap().into_iter().find(|s| s.deployment_id == frozen).unwrap();
    assert!(kept.outcome.as_deref().is_some_and(|o| o.contains("incident")), "{kept:?}");
    engine.close().await.unwrap();
}

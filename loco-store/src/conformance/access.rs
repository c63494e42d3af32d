//! The access half of the store conformance suite: API tokens found by the hash of their secret
//! and revoked once, the service registry, and re-sealing every stored secret in one go.

use std::sync::Arc;

use loco_types::ErrorCode;
use loco_types::event_data::EventData;
use loco_types::freeze::{self, ActiveFreeze, FreezeWindow};
use loco_types::identity::{Grant, Token, token_hash};
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::EventKind;
use loco_types::model::Timestamp;
use loco_types::platform_config::{FlySettings, PlatformConfig, PlatformSettings, RenderSettings};
use loco_types::service::ServiceDefinition;

use super::{Backend, approved, code, open};
use loco_types::plan::RolloutPlan;
use loco_types::rules::BeginRollout;

fn token(id: &str, subject: &str) -> Token {
    Token {
        id: id.to_owned(),
        name: format!("{subject}'s token"),
        subject: subject.to_owned(),
        grants: vec![Grant::parse("approver:production").expect("grant"), Grant::parse("viewer").expect("grant")],
        created_by: "admin".to_owned(),
        created_at: Timestamp::now(),
        expires_at: None,
        revoked_at: None,
    }
}

pub(super) async fn tokens_are_found_by_hash_and_revoked_once(backend: &dyn Backend) {
    let check = "tokens_are_found_by_hash_and_revoked_once";
    let store = open(backend, check).await;
    let alice = store.create_token(token("tok_1", "alice"), token_hash("loco_alice")).await.expect("create");
    store.create_token(token("tok_2", "bob"), token_hash("loco_bob")).await.expect("create");
    let dup = store.create_token(token("tok_3", "eve"), token_hash("loco_alice")).await;
    assert_eq!(code(check, dup), ErrorCode::StorageError, "{check}: a secret hash is unique");
    assert_eq!(store.token_by_hash(&token_hash("loco_alice")).await.expect("lookup"), Some(alice.clone()), "{check}");
    assert_eq!(store.token_by_hash(&token_hash("loco_nobody")).await.expect("lookup"), None, "{check}");
    let ids: Vec<String> = store.tokens().await.expect("tokens").into_iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 2, "{check}");
    let revoked = store.revoke_token("tok_1").await.expect("revoke");
    let at = revoked.revoked_at.expect("revoked_at");
    let again = store.revoke_token("tok_1").await.expect("revoke again");
    assert_eq!(again.revoked_at, Some(at), "{check}: revoking twice keeps the first time");
    assert_eq!(code(check, store.revoke_token("tok_missing").await), ErrorCode::NotFound);
    store.close().await.expect("close");
    let store = open(backend, check).await;
    let found = store.token_by_hash(&token_hash("loco_alice")).await.expect("lookup").expect("a token");
    assert_eq!((found.revoked_at, found.grants.len()), (Some(at), 2), "{check}: durable");
    store.close().await.expect("close");
}

pub(super) async fn services_are_registered_replaced_and_removed(backend: &dyn Backend) {
    let check = "services_are_registered_replaced_and_removed";
    let store = open(backend, check).await;
    let shop = ServiceDefinition::from_json(r#"{"name": "shop", "command": ["python3", "app.py"]}"#).expect("def");
    store.put_service(shop.clone(), "admin").await.expect("put");
    let web = ServiceDefinition::from_json(r#"{"name": "web", "command": ["node", "web.js"]}"#).expect("def");
    store.put_service(web, "admin").await.expect("put");
    let replaced = ServiceDefinition { allowed_env: vec!["MODE".to_owned()], ..shop };
    store.put_service(replaced.clone(), "admin").await.expect("replace");
    assert_eq!(store.service("shop").await.expect("get"), replaced, "{check}");
    let names: Vec<String> = store.services().await.expect("list").into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["shop", "web"], "{check}: by name");
    store.remove_service("web").await.expect("remove");
    assert_eq!(code(check, store.service("web").await), ErrorCode::NotFound);
    assert_eq!(code(check, store.remove_service("web").await), ErrorCode::NotFound);
    store.close().await.expect("close");
}

pub(super) async fn freeze_windows_are_set_replaced_and_removed(backend: &dyn Backend) {
    let check = "freeze_windows_are_set_replaced_and_removed";
    let store = open(backend, check).await;
    let weekend = FreezeWindow::from_json(
        r#"{"name": "weekend", "environments": ["production"], "reason": "no weekend deploys",
            "schedule": {"type": "recurring", "cron": "0 18 * * FRI", "duration_minutes": 3720,
                         "time_zone": "Europe/Berlin"}}"#,
    )
    .expect("window");
    let holidays = FreezeWindow::from_json(
        r#"{"name": "holidays", "environments": ["production", "staging"], "reason": "holidays",
            "schedule": {"type": "once", "start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z"}}"#,
    )
    .expect("window");
    store.put_freeze_window(weekend.clone(), "admin").await.expect("put");
    store.put_freeze_window(holidays.clone(), "admin").await.expect("put");
    let longer = FreezeWindow { reason: "no deploys over the long weekend".to_owned(), ..weekend };
    store.put_freeze_window(longer.clone(), "admin").await.expect("replace");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    assert_eq!(store.freeze_windows().await.expect("list"), [holidays, longer], "{check}: by name, after reopening");
    store.remove_freeze_window("holidays").await.expect("remove");
    assert_eq!(code(check, store.remove_freeze_window("holidays").await), ErrorCode::NotFound);
    assert_eq!(store.freeze_windows().await.expect("list").len(), 1, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn an_override_is_written_before_its_start_and_only_with_it(backend: &dyn Backend) {
    let check = "an_override_is_written_before_its_start_and_only_with_it";
    let store = open(backend, check).await;
    let freeze = ActiveFreeze {
        window: "weekend".to_owned(),
        reason: "no weekend deploys".to_owned(),
        start: Timestamp::parse("2026-12-04T17:00:00Z").expect("time"),
        end: Timestamp::parse("2026-12-07T07:00:00Z").expect("time"),
    };
    let lead = || vec![freeze::override_event(&freeze, "staging", "root", "hotfix for INC-7")];
    let pending = store.create(super::request("api"), None).await.expect("create").deployment;
    let refused = store.apply_change(&pending.id, Action::Start, ActionInput::new("root"), lead()).await;
    assert_eq!(code(check, refused), ErrorCode::InvalidTransition);
    assert_eq!(
        store.events(&pending.id).await.expect("events").len(),
        1,
        "{check}: a refused start writes no override"
    );
    let d = approved(store.as_ref(), "web").await;
    let started = store.apply_change(&d.id, Action::Start, ActionInput::new("root"), lead()).await.expect("start");
    assert_eq!(started.deployment.status, Status::Started, "{check}");
    let events = store.events(&d.id).await.expect("events");
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Created, EventKind::Approved, EventKind::PolicyOverride, EventKind::Started],
        "{check}"
    );
    let record = &events[2];
    assert_eq!((record.actor.as_str(), record.note.as_deref()), ("root", Some("hotfix for INC-7")), "{check}");
    let Some(EventData::PolicyOverride(data)) = record.typed_data().expect("data") else {
        panic!("{check}: the override event carries its data")
    };
    assert_eq!((data.rule.as_str(), data.name.as_str(), data.end), ("freeze_window", "weekend", freeze.end), "{check}");
    let report = store.verify_audit().await.expect("verify");
    assert!(report.valid, "{check}: the override is part of the chain: {report:?}");
    store.close().await.expect("close");
}

pub(super) async fn thresholds_are_kept_per_environment(backend: &dyn Backend) {
    let check = "thresholds_are_kept_per_environment";
    let store = open(backend, check).await;
    let strict = loco_types::analysis::Thresholds { min_samples: 200, ..Default::default() };
    store.put_thresholds("Production", strict.clone()).await.expect("put");
    store.put_thresholds("staging", loco_types::analysis::Thresholds::default()).await.expect("put");
    let relaxed = loco_types::analysis::Thresholds { min_samples: 5, ..Default::default() };
    store.put_thresholds("production", relaxed.clone()).await.expect("replace");
    let stored = store.thresholds().await.expect("list");
    let names: Vec<&str> = stored.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["production", "staging"], "{check}: by lower-case name, one per environment");
    assert_eq!(stored[0].1, relaxed, "{check}: the latest wins");
    store.close().await.expect("close");
}

pub(super) async fn resealing_rewrites_every_stored_secret(backend: &dyn Backend) {
    let check = "resealing_rewrites_every_stored_secret";
    let store = open(backend, check).await;
    let d = approved(store.as_ref(), "api").await;
    let plan = RolloutPlan::from_json(
        r#"{"platform": "memory", "strategy": {"type": "immediate"},
            "release": {"version": "2", "secret_env": {"API_KEY": "old:one", "DB_PASSWORD": "old:two"}}}"#,
    )
    .expect("plan");
    let begin = BeginRollout {
        deployment_id: d.id.clone(),
        plan,
        actor: "ops".into(),
        owner: "e".into(),
        lead_events: Vec::new(),
    };
    store.begin_rollout(begin).await.expect("begin");
    let changed =
        store.reseal_secrets(Arc::new(|value: &str| Ok(value.replace("old:", "new:")))).await.expect("reseal");
    assert_eq!(changed, 2, "{check}");
    let rollout = store.rollout(&d.id).await.expect("rollout");
    let values: Vec<&str> = rollout.plan.release.secret_env.values().map(String::as_str).collect();
    assert_eq!(values, ["new:one", "new:two"], "{check}");
    let failing = store.reseal_secrets(Arc::new(|_: &str| Err(loco_types::Error::storage("key missing")))).await;
    assert_eq!(code(check, failing), ErrorCode::StorageError);
    let kept = store.rollout(&d.id).await.expect("rollout");
    assert_eq!(
        kept.plan.release.secret_env, rollout.plan.release.secret_env,
        "{check}: a failed reseal writes nothing"
    );
    store.close().await.expect("close");
}

fn platform(name: &str, settings: PlatformSettings, token: &str) -> PlatformConfig {
    PlatformConfig {
        name: name.to_owned(),
        settings,
        token: token.to_owned(),
        created_by: "admin".to_owned(),
        created_at: Timestamp::now(),
    }
}

pub(super) async fn platforms_are_configured_replaced_resealed_and_removed(backend: &dyn Backend) {
    let check = "platforms_are_configured_replaced_resealed_and_removed";
    let store = open(backend, check).await;
    let fly = PlatformSettings::Fly(FlySettings { app: "shop".into(), region: None, api_url: None, logs_url: None });
    let render = PlatformSettings::Render(RenderSettings { service_id: "srv-1".into(), owner_id: None, api_url: None });
    store.put_platform(platform("fly-prod", fly.clone(), "old:fly")).await.expect("put fly");
    store.put_platform(platform("render", render.clone(), "old:render")).await.expect("put render");
    let other = PlatformSettings::Fly(FlySettings {
        app: "shop-eu".into(),
        region: Some("ams".into()),
        api_url: None,
        logs_url: None,
    });
    store.put_platform(platform("fly-prod", other.clone(), "old:fly2")).await.expect("replace");
    let all = store.platforms().await.expect("platforms");
    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["fly-prod", "render"], "{check}: by name, a replaced one once");
    assert_eq!((&all[0].settings, all[0].token.as_str()), (&other, "old:fly2"), "{check}: the latest wins");

    let changed =
        store.reseal_secrets(Arc::new(|value: &str| Ok(value.replace("old:", "new:")))).await.expect("reseal");
    assert_eq!(changed, 2, "{check}: both tokens re-sealed");
    let tokens: Vec<String> = store.platforms().await.expect("platforms").into_iter().map(|p| p.token).collect();
    assert_eq!(tokens, ["new:fly2", "new:render"], "{check}");

    store.remove_platform("render").await.expect("remove");
    assert_eq!(code(check, store.remove_platform("render").await), ErrorCode::NotFound);
    store.close().await.expect("close");
    let again = open(backend, check).await;
    let left: Vec<String> = again.platforms().await.expect("platforms").into_iter().map(|p| p.name).collect();
    assert_eq!(left, ["fly-prod"], "{check}: durable after reopen");
    again.close().await.expect("close");
}

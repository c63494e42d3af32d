//! The access half of the store conformance suite: API tokens found by the hash of their secret
//! and revoked once, the service registry, and re-sealing every stored secret in one go.

use std::sync::Arc;

use loco_types::ErrorCode;
use loco_types::identity::{Grant, Token, token_hash};
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

//! Configured platforms through `Engine`: a Fly.io platform added with its token (sealed), tested
//! against the Machines API fake, registered again by every engine opened later so plans can name
//! it, refused removal while a rollout on it runs, and a key rotation that keeps it working.

use std::time::Duration;

use loco_core::platform_config::{FlySettings, PlatformSettings};
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, Vault};
use loco_fakes::fly::{FlyFake, FlyFakeOptions};

use crate::cloud::{approved, cloud_plan, database_files_contain, machine_health};
use crate::common::temp_db;

const TOKEN: &str = "fm2_configured-secret-7c1e5b";

fn settings(fake: &FlyFake) -> PlatformSettings {
    PlatformSettings::Fly(FlySettings {
        app: "shop".into(),
        region: None,
        api_url: Some(fake.base_url().into()),
        logs_url: Some(fake.logs_url().into()),
    })
}

fn plan(platform: &str, version: &str, strategy: Strategy) -> RolloutPlan {
    let release = ReleaseSpec {
        version: version.into(),
        image: Some(format!("registry.fly.io/shop:{version}")),
        ..ReleaseSpec::default()
    };
    cloud_plan(platform, strategy, release, 2, machine_health(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_platform_is_tested_kept_sealed_and_registered_by_later_engines() {
    let fake = FlyFake::start(FlyFakeOptions { token: TOKEN.into(), ..FlyFakeOptions::default() }).await.unwrap();
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let added = engine.add_platform("fly-prod", settings(&fake), TOKEN, "alice").await.unwrap();
    assert_eq!((added.name.as_str(), added.token.as_str(), added.created_by.as_str()), ("fly-prod", "***", "alice"));
    engine.test_platform("fly-prod").await.unwrap();
    let sent = fake.recorder().matching("GET", "/v1/apps/shop");
    assert_eq!(sent.len(), 1, "the test asks for the app once");
    assert_eq!(sent[0].header("authorization"), Some(format!("FlyV1 {TOKEN}").as_str()));

    // A wrong token: the test fails naming the problem, never the token.
    engine.add_platform("fly-wrong", settings(&fake), "fm2_not-the-right-one", "alice").await.unwrap();
    let err = engine.test_platform("fly-wrong").await.unwrap_err();
    assert_eq!((err.code(), err.to_string().contains("fm2_not-the-right-one")), ("platform_error", false), "{err}");
    assert!(err.to_string().contains("token"), "{err}");
    assert_eq!(engine.test_platform("nope").await.unwrap_err().code(), "not_found");
    engine.remove_platform("fly-wrong").await.unwrap();
    let listed = engine.platform_configs().await.unwrap();
    assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["fly-prod"]);
    assert!(listed.iter().all(|p| p.token == "***"));
    engine.close().await.unwrap();
    assert!(!database_files_contain(&path, TOKEN), "the token is sealed in the database file");

    // A later engine registers it: plans can name it without anything else configured.
    let later = Engine::builder().path(&path).open().await.unwrap();
    let id = approved(&later, "shop").await;
    let rollout = later.run_rollout(&id, plan("fly-prod", "v1", Strategy::Immediate {}), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    assert_eq!(fake.live_machines().len(), 2);

    // Not removable while a rollout on it runs; then gone, and plans naming it are refused.
    let slow = approved(&later, "shop").await;
    let canary = Strategy::Canary { steps: vec![50], interval_seconds: 30.0 };
    later.start_rollout(&slow, plan("fly-prod", "v2", canary), "ops").await.unwrap();
    let busy = later.remove_platform("fly-prod").await.unwrap_err();
    assert_eq!((busy.code(), busy.details()[0].field.as_str()), ("validation_error", "name"));
    later.rollback(&slow, "ops", "enough").await.unwrap();
    later.remove_platform("fly-prod").await.unwrap();
    let next = approved(&later, "shop").await;
    let refused = later.start_rollout(&next, plan("fly-prod", "v3", Strategy::Immediate {}), "ops").await.unwrap_err();
    assert_eq!((refused.code(), refused.details()[0].field.as_str()), ("validation_error", "platform"));
    later.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_reseals_the_token_and_the_platform_keeps_working() {
    let fake = FlyFake::start(FlyFakeOptions { token: TOKEN.into(), ..FlyFakeOptions::default() }).await.unwrap();
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    engine.add_platform("fly-prod", settings(&fake), TOKEN, "alice").await.unwrap();
    let key = Vault::generate();
    let resealed = engine.rotate_secrets_key(key.clone()).await.unwrap();
    assert_eq!(resealed, 1, "the platform token is the one stored secret");
    engine.test_platform("fly-prod").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), engine.close()).await.unwrap().unwrap();
    // Opened with the new key only, the token still opens and the platform still answers.
    let reopened = Engine::builder().path(&path).vault(key).open().await.unwrap();
    reopened.test_platform("fly-prod").await.unwrap();
    assert_eq!(fake.recorder().matching("GET", "/v1/apps/shop").len(), 2);
    reopened.close().await.unwrap();
}

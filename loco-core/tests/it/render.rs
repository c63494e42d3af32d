//! The Render adapter end to end: rollouts through `Engine` against the Render API fake
//! (`loco_fakes::render`) — immediate and blue-green releases (one Render deploy each), a bad
//! image rolled back with Render's native rollback, canary and rolling refused, an engine crash
//! recovered by the next engine, a rate-limit storm, create calls whose outcome is unknown, a
//! bad token, and the token kept out of everything recorded.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::render::{RenderPlatform, RenderTuning};
use loco_core::platform::{InstanceState, Platform, TrafficWeight};
use loco_core::platform_config::{PlatformSettings, RenderSettings};
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, EventKind, Status};
use loco_fakes::render::{DeployView, RenderFake, RenderFakeOptions, ServiceSeed};

use crate::cloud::{
    approved, assert_rolled_back_on_restart, assert_settled_on, assert_splits_refused, assert_tokens_kept_out,
    blue_green, cloud_plan, open_engine, path_shape, recorded, roll_out, status_health, tally, target, wait_for_steps,
};
use crate::common::{orphan, temp_db};

const TOKEN: &str = "rnd_e2e_Secret_Token_4815162342";
const SERVICE: &str = "srv-shop0000000000000000";
const PLATFORM: &str = "render-prod";

async fn fake_with(tune: impl FnOnce(&mut RenderFakeOptions)) -> RenderFake {
    let mut options = RenderFakeOptions {
        token: TOKEN.to_owned(),
        services: vec![ServiceSeed::image(SERVICE, "shop", "docker.io/acme/shop:latest")],
        ..RenderFakeOptions::default()
    };
    tune(&mut options);
    RenderFake::start(options).await.expect("start the Render fake")
}

async fn fake() -> RenderFake {
    fake_with(|_| {}).await
}

fn settings(fake: &RenderFake) -> RenderSettings {
    RenderSettings { service_id: SERVICE.to_owned(), owner_id: None, api_url: Some(fake.base_url().to_owned()) }
}

/// The adapter with short timeouts and backoffs, so faults are got over quickly.
fn platform(fake: &RenderFake) -> Arc<RenderPlatform> {
    let tuning = RenderTuning { http: crate::cloud::quick_http(), log_poll_interval: Duration::from_millis(20) };
    Arc::new(RenderPlatform::with_tuning(PLATFORM, &settings(fake), TOKEN, tuning).expect("build the adapter"))
}

fn image(tag: &str) -> String {
    format!("docker.io/acme/shop:{tag}")
}

/// A cloud plan: an image, no command, no probes (Render's deploy status is the health), quick
/// retries (each health poll advances the fake's deploy by one status).
fn plan(strategy: Strategy, version: &str, tag: &str) -> RolloutPlan {
    let release = ReleaseSpec { version: version.into(), image: Some(image(tag)), ..ReleaseSpec::default() };
    cloud_plan(PLATFORM, strategy, release, 1, status_health())
}

/// The requests from index `from` on, as `METHOD path-shape ×n` (ids replaced by `{id}`).
fn breakdown(fake: &RenderFake, from: usize) -> String {
    tally(fake.recorder().requests().into_iter().skip(from).map(|r| {
        let status = r.query.split('&').find(|q| q.starts_with("status=")).map(|q| format!("?{q}")).unwrap_or_default();
        format!("{} {}{status}", r.method, path_shape(&r.path, &["srv-", "dep-"]))
    }))
}

/// The deploys created through `POST …/deploys` and `…/rollback` (the fake's own record).
fn deploys(fake: &RenderFake) -> Vec<DeployView> {
    fake.deploys(SERVICE)
}

fn posts(fake: &RenderFake, suffix: &str) -> Vec<u16> {
    fake.recorder().matching("POST", suffix).iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn immediate_and_blue_green_release_v2_with_one_render_deploy_each() {
    for strategy in [Strategy::Immediate {}, blue_green()] {
        let name = strategy.name();
        let fake = fake().await;
        let (_dir, path) = temp_db();
        let render = platform(&fake);
        let engine = open_engine(&render, &path).await;

        let (_, first, v1_requests) = roll_out(&engine, &fake, plan(strategy.clone(), "v1", "v1")).await;
        assert_eq!(first.state, RolloutState::Succeeded, "{name}: {first:?}");
        let from = fake.recorder().requests().len();
        let (id, second, v2_requests) = roll_out(&engine, &fake, plan(strategy.clone(), "v2", "v2")).await;
        assert_eq!(second.state, RolloutState::Succeeded, "{name}: {second:?}");
        eprintln!("render {name}: first release {v1_requests} requests, second release {v2_requests} requests");
        eprintln!("render {name}: second release: {}", breakdown(&fake, from));

        let all = deploys(&fake);
        assert_eq!(all.len(), 2, "{name}: exactly one deploy per rollout: {all:?}");
        assert_eq!((all[0].image.as_deref(), all[0].status.as_str()), (Some(image("v1").as_str()), "deactivated"));
        assert_eq!((all[1].image.as_deref(), all[1].status.as_str()), (Some(image("v2").as_str()), "live"));
        assert_eq!(posts(&fake, "/deploys"), [201, 201], "{name}");
        assert!(posts(&fake, "/rollback").is_empty() && posts(&fake, "/suspend").is_empty(), "{name}");

        let instances = &second.progress.instances;
        let v2: Vec<_> = instances.iter().filter(|i| i.version == "v2").collect();
        assert_eq!(v2.len(), 1, "{name}");
        assert_eq!(v2[0].platform_id.as_deref(), Some(all[1].id.as_str()), "{name}: the instance names its deploy");
        assert!(instances.iter().filter(|i| i.version == "v1").all(|i| i.state == InstanceState::Stopped), "{name}");
        assert_eq!(second.progress.endpoint.as_deref(), Some("https://shop.onrender.com"), "{name}");
        assert_eq!(second.progress.traffic, vec![TrafficWeight { version: "v2".into(), percent: 100 }]);

        let status = render.status(&target()).await.unwrap();
        assert_eq!(status.traffic, vec![TrafficWeight { version: "v2".into(), percent: 100 }], "{name}");
        assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded);
        let releases = engine.releases("shop", "staging", 10).await.unwrap();
        assert_eq!(releases.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["v2", "v1"], "{name}");
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_bad_image_fails_its_update_and_renders_rollback_restores_v1() {
    for strategy in [Strategy::Immediate {}, blue_green()] {
        let name = strategy.name();
        let fake = fake().await;
        let (_dir, path) = temp_db();
        let engine = open_engine(&platform(&fake), &path).await;
        let (_, first, _) = roll_out(&engine, &fake, plan(strategy.clone(), "v1", "v1")).await;
        assert_eq!(first.state, RolloutState::Succeeded);
        let v1_deploy = deploys(&fake)[0].id.clone();

        let from = fake.recorder().requests().len();
        let (id, rollout, requests) = roll_out(&engine, &fake, plan(strategy.clone(), "v2", "v2-bad")).await;
        eprintln!("render {name}: failed release and rollback {requests} requests: {}", breakdown(&fake, from));
        assert_eq!(rollout.state, RolloutState::RolledBack, "{name}: {rollout:?}");
        let failure = rollout.failure.as_ref().unwrap();
        assert_eq!(failure.code.as_str(), "health_check_failed", "{name}");
        assert!(failure.message.contains("update_failed"), "{name}: {}", failure.message);
        assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);

        let rollbacks = fake.recorder().matching("POST", "/rollback");
        assert_eq!(rollbacks.len(), 1, "{name}: Render's native rollback, once");
        assert_eq!(rollbacks[0].json()["deployId"], v1_deploy.as_str(), "{name}: back to v1's deploy");
        let all = deploys(&fake);
        assert_eq!(all.len(), 3, "{name}: v1, v2, and the rollback: {all:?}");
        assert_eq!(
            (all[1].image.as_deref(), all[1].status.as_str()),
            (Some(image("v2-bad").as_str()), "update_failed")
        );
        assert_eq!(all[2].trigger, "rollback");
        assert_eq!((all[2].image.as_deref(), all[2].status.as_str()), (Some(image("v1").as_str()), "live"));
        assert_eq!(all[0].status, "deactivated", "{name}: the rollback deploy replaced v1's");

        let releases = engine.releases("shop", "staging", 10).await.unwrap();
        assert_eq!(releases[0].version, "v1", "{name}: v1 is current again");
        assert!(releases[0].instances.iter().all(|i| i.platform_id.as_deref() == Some(all[2].id.as_str())));
        let events = engine.events(&id).await.unwrap();
        assert_eq!(events.last().unwrap().kind, EventKind::RolledBack);
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

#[tokio::test]
async fn canary_and_rolling_are_refused_naming_atomic_swap() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let id = approved(&engine, "shop").await;
    assert_splits_refused(&engine, &fake, &id, "Render", |strategy| plan(strategy, "v1", "v1")).await;
}

#[tokio::test]
async fn an_engine_crash_mid_rollout_is_recovered_by_a_new_engine_with_renders_rollback() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(first.state, RolloutState::Succeeded);
    let id = approved(&engine, "shop").await;
    let slow = plan(Strategy::BlueGreen { switch_delay_seconds: 60.0 }, "v2", "v2");
    let _handle = engine.start_rollout(&id, slow, "ops").await.unwrap();
    // The v2 deploy passed its check (it is live, so Render already swapped): the rollout is
    // observing before its switch when the engine goes away.
    wait_for_steps(&engine, &id, 2).await;
    assert_eq!(fake.live_deploy(SERVICE).unwrap().image.as_deref(), Some(image("v2").as_str()));
    engine.close().await.unwrap();
    orphan(&path, &id);

    let before = fake.recorder().requests().len();
    let engine = engine_on(&fake, &path).await; // a new process: a new adapter, nothing remembered
    let rollout = engine.rollout(&id).await.unwrap();
    eprintln!("render recovery after a crash: {} requests", fake.recorder().requests().len() - before);
    assert_rolled_back_on_restart(&rollout);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    let all = deploys(&fake);
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!((all[1].status.as_str(), all[2].trigger.as_str()), ("deactivated", "rollback"));
    assert_eq!((all[2].image.as_deref(), all[2].status.as_str()), (Some(image("v1").as_str()), "live"));
    assert_eq!(fake.recorder().matching("POST", "/rollback")[0].json()["deployId"], all[0].id.as_str());
    assert_settled_on(&engine, "v1").await;
}

async fn engine_on(fake: &RenderFake, path: &Path) -> Engine {
    open_engine(&platform(fake), path).await
}

#[tokio::test]
async fn a_rate_limit_storm_is_waited_out_with_exactly_one_deploy() {
    // A 4 s window: after two injected 429s (1 s each) the limiter's own 429 asks for ~2 s more.
    let fake = fake_with(|o| o.rate_window = Duration::from_secs(4)).await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(first.state, RolloutState::Succeeded);

    fake.exhaust_deploy_budget(SERVICE);
    fake.faults().inject(Some("POST"), Some("/deploys"), &RenderFake::rate_limited(1), 2);
    let (_, rollout, requests) = roll_out(&engine, &fake, plan(blue_green(), "v2", "v2")).await;
    eprintln!("render blue_green through a 429 storm: {requests} requests");
    assert_eq!(rollout.state, RolloutState::Succeeded, "{rollout:?}");
    assert_eq!(posts(&fake, "/deploys"), [201, 429, 429, 429, 201], "two injected 429s, then the limiter's own");
    let all = deploys(&fake);
    assert_eq!(all.len(), 2, "exactly one deploy for the rollout: {all:?}");
    assert_eq!(all[1].status, "live");
}

#[tokio::test]
async fn a_create_whose_outcome_is_unknown_never_makes_a_second_deploy() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;

    // Render created the deploy but answered 500: the adapter finds it instead of sending again.
    fake.fail_after_acting(1);
    let (_, v1, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(v1.state, RolloutState::Succeeded, "{v1:?}");
    assert_eq!(posts(&fake, "/deploys"), [500]);
    assert_eq!(deploys(&fake).len(), 1);

    // Render answered 503 without acting: nothing is found, so it is sent again, once.
    fake.faults().inject(Some("POST"), Some("/deploys"), &RenderFake::server_error(503), 1);
    let (_, v2, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v2", "v2")).await;
    assert_eq!(v2.state, RolloutState::Succeeded, "{v2:?}");
    assert_eq!(posts(&fake, "/deploys"), [500, 503, 201]);
    assert_eq!(deploys(&fake).len(), 2);

    // Both the failed release's deploy and the rollback answer 500 after acting.
    fake.fail_after_acting(2);
    let (_, v3, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v3", "v3-bad")).await;
    assert_eq!(v3.state, RolloutState::RolledBack, "{v3:?}");
    assert_eq!(posts(&fake, "/rollback"), [500]);
    let all = deploys(&fake);
    assert_eq!(all.len(), 4, "v1, v2, v3 and one rollback: {all:?}");
    assert_eq!((all[3].trigger.as_str(), all[3].status.as_str()), ("rollback", "live"));
    assert_eq!(all[3].image.as_deref(), Some(image("v2").as_str()));
}

#[tokio::test]
async fn a_bad_token_fails_the_connection_test_clearly_and_is_never_recorded() {
    let fake = fake().await;
    let wrong = "rnd_wrong_Token_9988776655";
    let rejected = RenderPlatform::new("render-bad", &settings(&fake), wrong).unwrap();
    let message = rejected.test_connection().await.unwrap_err().message;
    assert!(message.contains("token rejected") && message.contains("HTTP 401"), "{message}");
    assert!(!message.contains(wrong) && !message.contains("rnd_wrong"), "{message}");
    let gone = RenderSettings { service_id: "srv-gone".into(), ..settings(&fake) };
    let message =
        RenderPlatform::new("render-gone", &gone, TOKEN).unwrap().test_connection().await.unwrap_err().message;
    assert!(message.contains("service not found") && message.contains("srv-gone"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    let render = platform(&fake);
    render.test_connection().await.unwrap();
    // A rollout with the bad token fails at its first call, and says why without the token.
    let (_dir, path) = temp_db();
    let engine = Engine::builder().path(&path).platform(Arc::new(rejected)).open().await.unwrap();
    let mut refused = plan(Strategy::Immediate {}, "v0", "v0");
    refused.platform = "render-bad".into();
    let (refused_id, refused, _) = roll_out(&engine, &fake, refused).await;
    // Nor can it tell whether anything serves: the takedown is not claimed to have worked.
    assert_eq!(refused.state, RolloutState::RollbackFailed, "{refused:?}");
    assert!(refused.failure.as_ref().unwrap().message.contains("HTTP 401: unauthorized"), "{refused:?}");
    // The same through a configured platform: the engine's own connection test says it, and the
    // stored configuration shows the token as "***".
    let configured = PlatformSettings::Render(settings(&fake));
    engine.add_platform("render-configured", configured, wrong, "ops").await.unwrap();
    let err = engine.test_platform("render-configured").await.unwrap_err();
    assert_eq!(err.code(), "platform_error");
    assert!(err.to_string().contains("token rejected") && !err.to_string().contains(wrong), "{err}");
    let configs = serde_json::to_string(&engine.platform_configs().await.unwrap()).unwrap();
    assert!(configs.contains("\"***\"") && !configs.contains(wrong), "{configs}");
    let started = engine.events(&refused_id).await.unwrap();
    assert!(started.iter().any(|e| e.note.as_deref().is_some_and(|n| n.contains("HTTP 401"))), "{started:?}");
    engine.close().await.unwrap();

    // A release and a failed one with the right token, then look for either token everywhere.
    let engine = open_engine(&render, &path).await;
    let (_, ok, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(ok.state, RolloutState::Succeeded, "{ok:?}");
    let (bad_id, bad, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v2", "v2-bad")).await;
    assert_eq!(bad.state, RolloutState::RolledBack, "{bad:?}");
    let requests = fake.recorder().requests();
    let sent = format!("Bearer {TOKEN}");
    assert!(requests.iter().any(|r| r.header("authorization") == Some(sent.as_str())), "the token was sent");
    let seen = recorded(&engine, &[&refused_id, &bad_id]).await;
    assert!(seen.contains("update_failed") && seen.contains("HTTP 401"), "the failures are recorded");
    engine.close().await.unwrap();
    assert_tokens_kept_out(&seen, &path, &[TOKEN, wrong]);
}

#[tokio::test]
async fn the_logs_of_a_rollout_instance_follow_the_render_service() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (id, rollout, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(rollout.state, RolloutState::Succeeded);
    let instance = rollout.progress.instances[0].id.clone();
    let mut follower = engine.follow_logs(&id, &instance).await.unwrap();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "==> Your service is live") {
        let line = tokio::time::timeout(Duration::from_secs(5), follower.next()).await.unwrap().unwrap();
        assert_eq!(line.instance_id, instance);
        lines.push(line.line);
    }
    assert!(lines.contains(&format!("==> Pulling image {}", image("v1"))), "{lines:?}");
    // New lines arrive while following.
    fake.push_log(SERVICE, "app", "error", "GET /checkout 500");
    let next = tokio::time::timeout(Duration::from_secs(5), follower.next()).await.unwrap().unwrap();
    assert_eq!((next.line.as_str(), next.stream), ("GET /checkout 500", loco_core::platform::LogStream::Stderr));
}

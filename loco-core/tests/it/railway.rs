//! The Railway adapter end to end: rollouts through `Engine` against the Railway GraphQL fake
//! (`loco_fakes::railway`) — immediate and blue-green releases (one deployment each), a failed
//! image that leaves v1 serving, a crashing one rolled back with `deploymentRollback`, canary and
//! rolling refused, an engine crash recovered by the next engine, a rate-limit storm, a deploy
//! whose outcome is unknown, bad tokens of both kinds, and the token kept out of everything
//! recorded.

use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::railway::{RailwayPlatform, RailwayTuning};
use loco_core::platform::{InstanceState, Platform, TrafficWeight};
use loco_core::platform_config::{PlatformSettings, RailwaySettings, RailwayTokenKind};
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{EventKind, Status};
use loco_fakes::railway::{DeploymentView, RailwayFake, RailwayFakeOptions, ServiceSeed};

use crate::cloud::{
    approved, assert_rolled_back_on_restart, assert_settled_on, assert_splits_refused, assert_tokens_kept_out,
    blue_green, cloud_plan, open_engine, recorded, roll_out, status_health, tally, target, wait_for_steps,
};
use crate::common::{orphan, temp_db};

const TOKEN: &str = "rw_e2e_Account_Secret_4815162342";
const PROJECT_TOKEN: &str = "rw_e2e_Project_Secret_2342481516";
const SERVICE: &str = "5f0c1d2e-shop-4000-8000-000000000001";
const ENV: &str = "env-production";
const PLATFORM: &str = "railway-prod";

async fn fake() -> RailwayFake {
    let options = RailwayFakeOptions {
        account_token: TOKEN.to_owned(),
        project_token: PROJECT_TOKEN.to_owned(),
        services: vec![ServiceSeed::image(SERVICE, "shop", "ghcr.io/acme/shop:latest")],
        ..RailwayFakeOptions::default()
    };
    RailwayFake::start(options).await.expect("start the Railway fake")
}

fn settings(fake: &RailwayFake, kind: RailwayTokenKind) -> RailwaySettings {
    RailwaySettings {
        project_id: "prj-fake".into(),
        environment_id: ENV.into(),
        service_id: SERVICE.into(),
        token_kind: kind,
        api_url: Some(fake.graphql_url()),
    }
}

fn tuning() -> RailwayTuning {
    RailwayTuning { http: crate::cloud::quick_http(), log_poll_interval: Duration::from_millis(20) }
}

/// The adapter with short timeouts and backoffs, so faults are got over quickly.
fn platform(fake: &RailwayFake) -> Arc<RailwayPlatform> {
    let settings = settings(fake, RailwayTokenKind::Account);
    Arc::new(RailwayPlatform::with_tuning(PLATFORM, &settings, TOKEN, tuning()).expect("build the adapter"))
}

fn image(tag: &str) -> String {
    format!("ghcr.io/acme/shop:{tag}")
}

/// A cloud plan: an image, no command, no probes (Railway's deployment status is the health),
/// quick retries (each health poll advances the fake's deployments by one status).
fn plan(strategy: Strategy, version: &str, tag: &str) -> RolloutPlan {
    let release = ReleaseSpec { version: version.into(), image: Some(image(tag)), ..ReleaseSpec::default() };
    cloud_plan(PLATFORM, strategy, release, 1, status_health())
}

/// The operations from request index `from` on, as `Name xN`.
fn breakdown(fake: &RailwayFake, from: usize) -> String {
    tally(fake.operations().into_iter().skip(from))
}

fn deployments(fake: &RailwayFake) -> Vec<DeploymentView> {
    fake.deployments()
}

fn statuses(fake: &RailwayFake, operation: &str) -> Vec<u16> {
    fake.requests_for(operation).iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn immediate_and_blue_green_release_v2_with_one_railway_deployment_each() {
    for strategy in [Strategy::Immediate {}, blue_green()] {
        let name = strategy.name();
        let fake = fake().await;
        let (_dir, path) = temp_db();
        let railway = platform(&fake);
        let engine = open_engine(&railway, &path).await;

        let (_, first, v1_requests) = roll_out(&engine, &fake, plan(strategy.clone(), "v1", "v1")).await;
        assert_eq!(first.state, RolloutState::Succeeded, "{name}: {first:?}");
        let from = fake.recorder().requests().len();
        let (id, second, v2_requests) = roll_out(&engine, &fake, plan(strategy.clone(), "v2", "v2")).await;
        assert_eq!(second.state, RolloutState::Succeeded, "{name}: {second:?}");
        eprintln!("railway {name}: first release {v1_requests} requests, second release {v2_requests} requests");
        eprintln!("railway {name}: second release: {}", breakdown(&fake, from));

        let all = deployments(&fake);
        assert_eq!(all.len(), 2, "{name}: exactly one deployment per rollout: {all:?}");
        assert_eq!((all[0].image.as_deref(), all[0].status.as_str()), (Some(image("v1").as_str()), "REMOVED"));
        assert_eq!((all[1].image.as_deref(), all[1].status.as_str()), (Some(image("v2").as_str()), "SUCCESS"));
        assert_eq!(statuses(&fake, "ServiceInstanceDeployV2"), [200, 200], "{name}");
        assert_eq!(statuses(&fake, "ServiceInstanceUpdate"), [200, 200], "{name}: the image is set before each");
        assert!(fake.requests_for("DeploymentRollback").is_empty() && fake.requests_for("DeploymentRemove").is_empty());

        let instances = &second.progress.instances;
        let v2: Vec<_> = instances.iter().filter(|i| i.version == "v2").collect();
        assert_eq!(v2.len(), 1, "{name}");
        assert_eq!(v2[0].platform_id.as_deref(), Some(all[1].id.as_str()), "{name}: the instance names its deployment");
        assert!(instances.iter().filter(|i| i.version == "v1").all(|i| i.state == InstanceState::Stopped), "{name}");
        assert_eq!(second.progress.traffic, vec![TrafficWeight { version: "v2".into(), percent: 100 }]);

        let status = railway.status(&target()).await.unwrap();
        assert_eq!(status.endpoint.as_deref(), Some("https://shop-production.up.railway.app"), "{name}");
        assert_eq!(status.traffic, vec![TrafficWeight { version: "v2".into(), percent: 100 }], "{name}");
        assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded);
        let releases = engine.releases("shop", "staging", 10).await.unwrap();
        assert_eq!(releases.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["v2", "v1"], "{name}");
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_failed_image_leaves_v1_serving_and_a_crashing_one_is_rolled_back_with_deployment_rollback() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(first.state, RolloutState::Succeeded);
    let v1 = deployments(&fake)[0].id.clone();

    // FAILED: Railway never switched, so v1's deployment is kept as it is — nothing is redeployed.
    let from = fake.recorder().requests().len();
    let (id, rollout, requests) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v2", "v2-bad")).await;
    eprintln!("railway immediate: failed release and rollback {requests} requests: {}", breakdown(&fake, from));
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    let failure = rollout.failure.as_ref().unwrap();
    assert_eq!(failure.code.as_str(), "health_check_failed");
    assert!(failure.message.contains("FAILED"), "{}", failure.message);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert!(fake.requests_for("DeploymentRollback").is_empty(), "v1 still served");
    assert_eq!(deployments(&fake).len(), 2);
    assert_eq!(fake.active(SERVICE, ENV).unwrap().id, v1);
    let releases = engine.releases("shop", "staging", 10).await.unwrap();
    assert_eq!(releases[0].version, "v1");
    assert!(releases[0].instances.iter().all(|i| i.platform_id.as_deref() == Some(v1.as_str())));

    // CRASHED after it replaced v1: blue-green's observation sees it, and Railway's rollback to
    // v1's deployment brings v1 back as a new deployment.
    let mut crashing = plan(Strategy::BlueGreen { switch_delay_seconds: 0.5 }, "v3", "v3-crash");
    crashing.health.interval_seconds = 0.01;
    let from = fake.recorder().requests().len();
    let (id, rollout, requests) = roll_out(&engine, &fake, crashing).await;
    eprintln!("railway blue_green: crashed release and rollback {requests} requests: {}", breakdown(&fake, from));
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    assert!(rollout.failure.as_ref().unwrap().message.contains("CRASHED"), "{rollout:?}");
    let rollbacks = fake.requests_for("DeploymentRollback");
    assert_eq!(rollbacks.len(), 1, "Railway's native rollback, once");
    assert_eq!(rollbacks[0].json()["variables"]["id"], v1.as_str(), "back to v1's deployment");
    assert!(!rollbacks[0].body.contains("deploymentRollback(id: $id) {"), "a Boolean: no selection");
    let all = deployments(&fake);
    assert_eq!(all.len(), 4, "v1, v2, v3 and the rollback: {all:?}");
    assert_eq!((all[2].status.as_str(), all[3].reason.as_str()), ("CRASHED", "rollback"));
    assert_eq!((all[3].image.as_deref(), all[3].status.as_str()), (Some(image("v1").as_str()), "SUCCESS"));
    let releases = engine.releases("shop", "staging", 10).await.unwrap();
    assert_eq!(releases[0].version, "v1", "v1 is current again");
    assert!(releases[0].instances.iter().all(|i| i.platform_id.as_deref() == Some(all[3].id.as_str())));
    assert_eq!(engine.events(&id).await.unwrap().last().unwrap().kind, EventKind::RolledBack);
    assert!(engine.verify_audit().await.unwrap().valid);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn canary_and_rolling_are_refused_naming_atomic_swap() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let id = approved(&engine, "shop").await;
    assert_splits_refused(&engine, &fake, &id, "Railway", |strategy| plan(strategy, "v1", "v1")).await;
}

#[tokio::test]
async fn an_engine_crash_mid_rollout_is_recovered_by_a_new_engine_with_deployment_rollback() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(first.state, RolloutState::Succeeded);
    let id = approved(&engine, "shop").await;
    let slow = plan(Strategy::BlueGreen { switch_delay_seconds: 60.0 }, "v2", "v2");
    let _handle = engine.start_rollout(&id, slow, "ops").await.unwrap();
    // v2 succeeded (so Railway already switched): the rollout is observing before its switch
    // when the engine goes away.
    wait_for_steps(&engine, &id, 2).await;
    assert_eq!(fake.active(SERVICE, ENV).unwrap().image.as_deref(), Some(image("v2").as_str()));
    engine.close().await.unwrap();
    orphan(&path, &id);

    let before = fake.recorder().requests().len();
    let engine = open_engine(&platform(&fake), &path).await; // a new process: nothing remembered
    let rollout = engine.rollout(&id).await.unwrap();
    eprintln!(
        "railway recovery after a crash: {} requests: {}",
        fake.recorder().requests().len() - before,
        breakdown(&fake, before)
    );
    assert_rolled_back_on_restart(&rollout);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    let all = deployments(&fake);
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!((all[1].status.as_str(), all[2].reason.as_str()), ("REMOVED", "rollback"));
    assert_eq!((all[2].image.as_deref(), all[2].status.as_str()), (Some(image("v1").as_str()), "SUCCESS"));
    assert_eq!(fake.requests_for("DeploymentRollback")[0].json()["variables"]["id"], all[0].id.as_str());
    assert_settled_on(&engine, "v1").await;
}

#[tokio::test]
async fn a_rate_limit_storm_is_waited_out_with_exactly_one_deployment() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(first.state, RolloutState::Succeeded);

    fake.throttle("ServiceInstanceDeployV2", 2, 1);
    fake.throttle("DeploymentStatus", 1, 1);
    let started = std::time::Instant::now();
    let (_, rollout, requests) = roll_out(&engine, &fake, plan(blue_green(), "v2", "v2")).await;
    eprintln!("railway blue_green through a 429 storm: {requests} requests in {:?}", started.elapsed());
    assert_eq!(rollout.state, RolloutState::Succeeded, "{rollout:?}");
    assert_eq!(statuses(&fake, "ServiceInstanceDeployV2"), [200, 429, 429, 200], "two 429s waited out");
    assert!(started.elapsed() >= Duration::from_secs(3), "each Retry-After was honoured");
    let all = deployments(&fake);
    assert_eq!(all.len(), 2, "exactly one deployment for the rollout: {all:?}");
    assert_eq!(all[1].status, "SUCCESS");
}

#[tokio::test]
async fn a_deploy_whose_outcome_is_unknown_never_makes_a_second_deployment() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    // Railway created the deployment but answered 500: the adapter finds it instead of sending again.
    fake.fail_after_acting(1);
    let (_, v1, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(v1.state, RolloutState::Succeeded, "{v1:?}");
    assert_eq!(statuses(&fake, "ServiceInstanceDeployV2"), [500]);
    assert_eq!(deployments(&fake).len(), 1);
    // Railway answered 503 without acting: nothing is found, so it is sent again, once.
    fake.fail_operation("ServiceInstanceDeployV2", 1, 503);
    let (_, v2, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v2", "v2")).await;
    assert_eq!(v2.state, RolloutState::Succeeded, "{v2:?}");
    assert_eq!(statuses(&fake, "ServiceInstanceDeployV2"), [500, 503, 200]);
    assert_eq!(deployments(&fake).len(), 2);
}

#[tokio::test]
async fn bad_tokens_of_both_kinds_fail_the_connection_test_clearly_and_are_never_recorded() {
    let fake = fake().await;
    let wrong = "rw_wrong_Token_9988776655";
    for kind in [RailwayTokenKind::Account, RailwayTokenKind::Project] {
        let rejected = RailwayPlatform::new("railway-bad", &settings(&fake, kind), wrong).unwrap();
        let message = rejected.test_connection().await.unwrap_err().message;
        assert!(message.contains("token rejected") && message.contains("Not Authorized"), "{kind:?}: {message}");
        assert!(!message.contains(wrong), "{message}");
    }
    // The right tokens pass, each sent its own way.
    platform(&fake).test_connection().await.unwrap();
    let project =
        RailwayPlatform::new("railway-project", &settings(&fake, RailwayTokenKind::Project), PROJECT_TOKEN).unwrap();
    project.test_connection().await.unwrap();
    let token_check = fake.requests_for("ProjectToken");
    let last = token_check.last().unwrap();
    assert_eq!((last.header("project-access-token"), last.status), (Some(PROJECT_TOKEN), 200));
    assert!(
        fake.requests_for("UserMeta")
            .iter()
            .any(|r| r.header("authorization") == Some(format!("Bearer {TOKEN}").as_str()))
    );
    let gone = RailwaySettings { service_id: "svc-gone".into(), ..settings(&fake, RailwayTokenKind::Account) };
    let message =
        RailwayPlatform::new("railway-gone", &gone, TOKEN).unwrap().test_connection().await.unwrap_err().message;
    assert!(message.contains("service not found") && message.contains("svc-gone"), "{message}");

    // Through a configured platform: the engine's own connection test says it, and the stored
    // configuration shows the token as "***".
    let (_dir, path) = temp_db();
    let railway = platform(&fake);
    let engine = open_engine(&railway, &path).await;
    for (name, kind) in [("railway-account", RailwayTokenKind::Account), ("railway-project", RailwayTokenKind::Project)]
    {
        engine.add_platform(name, PlatformSettings::Railway(settings(&fake, kind)), wrong, "ops").await.unwrap();
        let err = engine.test_platform(name).await.unwrap_err();
        assert_eq!(err.code(), "platform_error");
        assert!(err.to_string().contains("token rejected") && !err.to_string().contains(wrong), "{err}");
    }
    let configs = serde_json::to_string(&engine.platform_configs().await.unwrap()).unwrap();
    assert!(configs.contains("\"***\"") && !configs.contains(wrong), "{configs}");

    // A release and a failed one with the right token, then look for every token everywhere.
    let (ok_id, ok, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(ok.state, RolloutState::Succeeded, "{ok:?}");
    let (bad_id, bad, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v2", "v2-bad")).await;
    assert_eq!(bad.state, RolloutState::RolledBack, "{bad:?}");
    let seen = recorded(&engine, &[&ok_id, &bad_id]).await;
    assert!(seen.contains("FAILED"), "the failure is recorded");
    engine.close().await.unwrap();
    assert_tokens_kept_out(&seen, &path, &[TOKEN, PROJECT_TOKEN, wrong]);
}

#[tokio::test]
async fn a_project_token_deploys_and_the_logs_of_its_instance_follow_the_deployment() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let settings = settings(&fake, RailwayTokenKind::Project);
    let railway = Arc::new(RailwayPlatform::with_tuning(PLATFORM, &settings, PROJECT_TOKEN, tuning()).unwrap());
    let engine = open_engine(&railway, &path).await;
    let (id, rollout, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", "v1")).await;
    assert_eq!(rollout.state, RolloutState::Succeeded, "{rollout:?}");
    assert!(fake.recorder().requests().iter().all(|r| r.header("project-access-token") == Some(PROJECT_TOKEN)));
    let instance = rollout.progress.instances[0].id.clone();
    let mut follower = engine.follow_logs(&id, &instance).await.unwrap();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "Healthcheck succeeded!") {
        let line = tokio::time::timeout(Duration::from_secs(5), follower.next()).await.unwrap().unwrap();
        assert_eq!(line.instance_id, instance);
        lines.push(line.line);
    }
    assert!(lines.contains(&format!("Pulling image {}", image("v1"))), "{lines:?}");
    // New lines arrive while following.
    fake.push_log(&deployments(&fake)[0].id, "error", "GET /checkout 500");
    let next = tokio::time::timeout(Duration::from_secs(5), follower.next()).await.unwrap().unwrap();
    assert_eq!((next.line.as_str(), next.stream), ("GET /checkout 500", loco_core::platform::LogStream::Stderr));
}

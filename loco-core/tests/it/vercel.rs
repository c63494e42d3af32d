//! The Vercel adapter end to end: rollouts through `Engine` against the Vercel API fake
//! (`loco_fakes::vercel`) — every strategy succeeding on one staged deployment per release, a
//! canary moving real production percentages through a rolling release (and visitors split
//! accordingly), a failed build and a manual rollback both ending with all traffic on the old
//! deployment, an engine crash mid-canary recovered by the next engine, a rate-limit storm and a
//! create whose outcome is unknown without duplicate deployments, a bad token, and the token kept
//! out of everything recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::vercel::{VercelPlatform, VercelTuning};
use loco_core::platform::{Platform, TrafficWeight};
use loco_core::platform_config::{PlatformSettings, VercelSettings};
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, Status};
use loco_fakes::vercel::{DeploymentView, ProjectSeed, VercelFake, VercelFakeOptions};

use crate::cloud::{
    approved, assert_rolled_back_on_restart, assert_settled_on, assert_tokens_kept_out, cloud_plan,
    database_files_contain, open_engine, path_shape, recorded, roll_out, status_health, tally, target,
};
use crate::common::{orphan, temp_db};

const TOKEN: &str = "vercel_e2e_Secret_Token_4815162342";
const PROJECT: &str = "prj_shop0000000000000000";
const TEAM: &str = "team_acme000000000000000";
const PLATFORM: &str = "vercel-prod";

async fn fake() -> VercelFake {
    let options = VercelFakeOptions {
        token: TOKEN.to_owned(),
        teams: vec![(TEAM.to_owned(), "acme".to_owned())],
        projects: vec![ProjectSeed::new(PROJECT, "shop", Some(TEAM), "acme/shop")],
        ..VercelFakeOptions::default()
    };
    VercelFake::start(options).await.expect("start the Vercel fake")
}

fn settings(fake: &VercelFake) -> VercelSettings {
    VercelSettings {
        project_id: PROJECT.to_owned(),
        team_id: Some(TEAM.to_owned()),
        api_url: Some(fake.base_url().to_owned()),
    }
}

/// The adapter with short timeouts, backoffs and job polls.
fn platform(fake: &VercelFake) -> Arc<VercelPlatform> {
    let tuning = VercelTuning {
        http: crate::cloud::quick_http(),
        poll_interval: Duration::from_millis(5),
        ..VercelTuning::default()
    };
    Arc::new(VercelPlatform::with_tuning(PLATFORM, &settings(fake), TOKEN, tuning).expect("build the adapter"))
}

/// A commit sha; `bad` in it makes the fake's build fail.
fn sha(version: &str) -> String {
    format!("{version}{}", "0".repeat(40 - version.len()))
}

/// A cloud plan: a commit, no command, no probes (the deployment's readyState is the health),
/// quick retries (each health poll advances the fake's deployment by one state).
fn plan(strategy: Strategy, version: &str, commit: &str, instances: u32) -> RolloutPlan {
    let release = ReleaseSpec { version: version.into(), commit: Some(commit.into()), ..ReleaseSpec::default() };
    cloud_plan(PLATFORM, strategy, release, instances, status_health())
}

fn canary(steps: Vec<u8>, interval_seconds: f64) -> Strategy {
    Strategy::Canary { steps, interval_seconds }
}

/// The requests from index `from` on, as `METHOD path-shape xN` (ids replaced by `{id}`).
fn breakdown(fake: &VercelFake, from: usize) -> String {
    tally(
        fake.recorder()
            .requests()
            .into_iter()
            .skip(from)
            .map(|r| format!("{} {}", r.method, path_shape(&r.path, &["prj_", "dpl_"]))),
    )
}

fn deployments(fake: &VercelFake) -> Vec<DeploymentView> {
    fake.deployments(PROJECT)
}

fn statuses(fake: &VercelFake, method: &str, suffix: &str) -> Vec<u16> {
    fake.recorder().matching(method, suffix).iter().map(|r| r.status).collect()
}

/// The requests with this method whose path contains `part`.
fn calls(fake: &VercelFake, method: &str, part: &str) -> Vec<loco_fakes::RecordedRequest> {
    fake.recorder().requests().into_iter().filter(|r| r.method == method && r.path.contains(part)).collect()
}

/// Waits (bounded) until `check` holds, polling the fake's state.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn every_strategy_succeeds_with_one_staged_deployment_per_release() {
    for (strategy, instances) in [
        (Strategy::Immediate {}, 1),
        (Strategy::BlueGreen { switch_delay_seconds: 0.02 }, 1),
        (Strategy::Rolling { max_surge: 1, max_unavailable: 0 }, 2),
        (canary(vec![10, 50], 0.02), 2),
    ] {
        let name = strategy.name();
        let fake = fake().await;
        let (_dir, path) = temp_db();
        let vercel = platform(&fake);
        let engine = open_engine(&vercel, &path).await;
        let (_, first, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), instances)).await;
        assert_eq!(first.state, RolloutState::Succeeded, "{name}: {first:?}");
        let v1 = deployments(&fake)[0].id.clone();
        assert_eq!(fake.production_split(PROJECT), [(v1.clone(), 100)], "{name}: v1 promoted");

        let from = fake.recorder().requests().len();
        let (id, second, requests) =
            roll_out(&engine, &fake, plan(strategy.clone(), "v2", &sha("v2"), instances)).await;
        eprintln!("vercel {name} (instances {instances}): {requests} requests: {}", breakdown(&fake, from));
        assert_eq!(second.state, RolloutState::Succeeded, "{name}: {second:?}");
        let all = deployments(&fake);
        assert_eq!(all.len(), 2, "{name}: one deployment per release: {all:?}");
        let v2 = &all[1];
        assert_eq!((v2.target.as_deref(), v2.sha.as_str()), (Some("production"), sha("v2").as_str()), "{name}");
        assert_eq!(v2.meta["loco_version"], "v2", "{name}");
        assert_eq!(fake.production_split(PROJECT), [(v2.id.clone(), 100)], "{name}");
        assert_eq!(fake.production(PROJECT).as_deref(), Some(v2.id.as_str()), "{name}");
        assert!(
            second
                .progress
                .instances
                .iter()
                .filter(|i| i.version == "v2")
                .all(|i| i.platform_id.as_deref() == Some(v2.id.as_str()))
        );
        assert_eq!(second.progress.endpoint.as_deref(), Some("https://shop.vercel.app"), "{name}");
        let status = vercel.status(&target()).await.unwrap();
        assert_eq!(status.traffic, [TrafficWeight { version: "v2".into(), percent: 100 }], "{name}");
        let create = fake.recorder().matching("POST", "/v13/deployments");
        assert!(create.iter().all(|r| r.json()["autoAssignCustomDomains"] == false), "{name}: built staged");
        assert!(create.iter().all(|r| r.query == format!("teamId={TEAM}")), "{name}: team scope");
        assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded);
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

/// Visitors sent now, per release version (`v1`/`v2` by deployment).
fn visitors(fake: &VercelFake, names: &BTreeMap<String, &str>) -> BTreeMap<String, u64> {
    fake.send_visitors(PROJECT, 1000).into_iter().map(|(d, n)| (names[&d].to_owned(), n)).collect()
}

#[tokio::test]
async fn a_canary_moves_real_production_percentages_through_a_rolling_release() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    let id = approved(&engine, "shop").await;
    let from = fake.recorder().requests().len();
    let handle = engine.start_rollout(&id, plan(canary(vec![10, 50], 0.4), "v2", &sha("v2"), 1), "ops").await.unwrap();
    assert_eq!(handle.state, RolloutState::Running);
    until("the canary's deployment exists", || deployments(&fake).len() == 2).await;
    let (v1, v2) = (deployments(&fake)[0].id.clone(), deployments(&fake)[1].id.clone());
    let names: BTreeMap<String, &str> = [(v1.clone(), "v1"), (v2.clone(), "v2")].into();
    let config = fake.rolling_config(PROJECT).expect("rolling releases configured by plan_shares");
    let stages: Vec<u64> =
        config["stages"].as_array().unwrap().iter().map(|s| s["targetPercentage"].as_u64().unwrap()).collect();
    assert_eq!((stages, config["advancementType"].as_str()), (vec![10, 50, 100], Some("manual-approval")));

    let mut seen = Vec::new();
    for percent in [10u8, 50] {
        until(&format!("{percent}%"), || fake.production_split(PROJECT).first().map(|s| s.1) == Some(percent)).await;
        assert_eq!(fake.production_split(PROJECT), [(v2.clone(), percent), (v1.clone(), 100 - percent)]);
        let served = visitors(&fake, &names);
        eprintln!("vercel canary at {percent}%: 1000 visitors served {served:?}");
        let to_v2 = served.get("v2").copied().unwrap_or(0);
        let expected = u64::from(percent) * 10;
        assert!(to_v2.abs_diff(expected) <= 50, "{percent}%: {to_v2} of 1000 visitors on the canary");
        assert_eq!(served.values().sum::<u64>(), 1000);
        seen.push(percent);
    }
    let rollout = loop {
        let r = engine.rollout(&id).await.unwrap();
        if r.state != RolloutState::Running {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!(
        "vercel canary [10, 50] (1 instance): {} requests: {}",
        fake.recorder().requests().len() - from,
        breakdown(&fake, from)
    );
    assert_eq!(rollout.state, RolloutState::Succeeded, "{rollout:?}");
    assert_eq!(fake.production_split(PROJECT), [(v2.clone(), 100)]);
    assert_eq!(visitors(&fake, &names), BTreeMap::from([("v2".to_owned(), 1000)]));
    let release = fake.rolling_release(PROJECT, "COMPLETE").expect("the rolling release completed");
    assert_eq!(release["canaryDeployment"]["id"], v2.as_str());
    assert_eq!(statuses(&fake, "POST", "/rolling-release/start"), [200]);
    assert_eq!(statuses(&fake, "POST", "/rolling-release/approve-stage"), [200]);
    assert_eq!(statuses(&fake, "POST", "/rolling-release/complete"), [200]);
    assert_eq!(fake.recorder().matching("POST", "/rolling-release/approve-stage")[0].json()["nextStageIndex"], 1);
    let promotes = calls(&fake, "POST", "/promote/");
    assert_eq!(promotes.len(), 1, "v1's promote only: v2 went through a rolling release, not a promote");
}

#[tokio::test]
async fn a_canary_whose_build_fails_leaves_all_traffic_on_the_old_deployment() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    let from = fake.recorder().requests().len();
    let (id, rollout, requests) =
        roll_out(&engine, &fake, plan(canary(vec![10, 50], 0.02), "v2", &sha("bad2"), 1)).await;
    eprintln!("vercel failed canary build and rollback: {requests} requests: {}", breakdown(&fake, from));
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    let failure = rollout.failure.as_ref().unwrap();
    assert_eq!(failure.code.as_str(), "health_check_failed");
    assert!(failure.message.contains("ERROR: BUILD_FAILED"), "{}", failure.message);
    let all = deployments(&fake);
    assert_eq!((all.len(), all[1].ready_state.as_str()), (2, "ERROR"));
    assert_eq!(fake.production_split(PROJECT), [(all[0].id.clone(), 100)], "v1 never stopped serving");
    assert!(fake.recorder().matching("POST", "/rolling-release/start").is_empty(), "no release of a failed build");
    assert!(calls(&fake, "POST", "/rollback/").is_empty(), "nothing to abort: v1 still serves");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert_eq!(engine.releases("shop", "staging", 1).await.unwrap()[0].version, "v1");
}

#[tokio::test]
async fn a_canary_rolled_back_mid_way_aborts_its_rolling_release() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    let id = approved(&engine, "shop").await;
    engine.start_rollout(&id, plan(canary(vec![10, 50], 30.0), "v2", &sha("v2"), 1), "ops").await.unwrap();
    until("the canary takes 10%", || fake.production_split(PROJECT).first().map(|s| s.1) == Some(10)).await;
    let from = fake.recorder().requests().len();
    engine.rollback(&id, "bob", "error rate up on the canary").await.unwrap();
    let rollout = loop {
        let r = engine.rollout(&id).await.unwrap();
        if matches!(r.state, RolloutState::RolledBack | RolloutState::RollbackFailed) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!(
        "vercel canary rolled back at 10%: {} requests: {}",
        fake.recorder().requests().len() - from,
        breakdown(&fake, from)
    );
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    let all = deployments(&fake);
    let (v1, v2) = (all[0].id.clone(), all[1].id.clone());
    let rollbacks = calls(&fake, "POST", "/rollback/");
    assert_eq!(rollbacks.len(), 1, "one instant rollback aborts the release");
    assert!(rollbacks[0].path.ends_with(&format!("/v1/projects/{PROJECT}/rollback/{v1}")), "{}", rollbacks[0].path);
    let aborted = fake.rolling_release(PROJECT, "ABORTED").expect("the rolling release was aborted");
    assert_eq!(aborted["canaryDeployment"]["id"], v2.as_str());
    assert_eq!(fake.production_split(PROJECT), [(v1.clone(), 100)]);
    assert_eq!(fake.send_visitors(PROJECT, 500), BTreeMap::from([(v1, 500)]));
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
}

#[tokio::test]
async fn an_engine_crash_mid_canary_is_recovered_by_a_new_engine() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    let id = approved(&engine, "shop").await;
    engine.start_rollout(&id, plan(canary(vec![50], 60.0), "v2", &sha("v2"), 1), "ops").await.unwrap();
    until("the canary takes 50%", || fake.production_split(PROJECT).first().map(|s| s.1) == Some(50)).await;
    engine.close().await.unwrap();
    orphan(&path, &id);

    let before = fake.recorder().requests().len();
    let engine = engine_on(&fake, &path).await; // a new process: a new adapter, nothing remembered
    let rollout = engine.rollout(&id).await.unwrap();
    eprintln!(
        "vercel recovery after a crash mid-canary: {} requests: {}",
        fake.recorder().requests().len() - before,
        breakdown(&fake, before)
    );
    assert_rolled_back_on_restart(&rollout);
    let v1 = deployments(&fake)[0].id.clone();
    assert_eq!(fake.production_split(PROJECT), [(v1.clone(), 100)]);
    assert!(fake.rolling_release(PROJECT, "ABORTED").is_some());
    assert_eq!(deployments(&fake).len(), 2, "nothing rebuilt: v1's deployment is kept");
    assert_settled_on(&engine, "v1").await;
}

async fn engine_on(fake: &VercelFake, path: &Path) -> Engine {
    open_engine(&platform(fake), path).await
}

#[tokio::test]
async fn a_rate_limit_storm_and_an_unknown_outcome_make_exactly_one_deployment_each() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    fake.faults().inject(Some("POST"), Some("/v13/deployments"), &VercelFake::rate_limited(1), 2);
    let (_, v1, requests) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    eprintln!("vercel immediate through a 429 storm: {requests} requests");
    assert_eq!(v1.state, RolloutState::Succeeded, "{v1:?}");
    assert_eq!(statuses(&fake, "POST", "/v13/deployments"), [429, 429, 200]);
    assert_eq!(deployments(&fake).len(), 1);
    let refused = &fake.recorder().matching("POST", "/v13/deployments")[0];
    assert_eq!(refused.status, 429);

    // Vercel created the deployment but answered 500: the adapter finds it by its tag.
    fake.fail_after_acting(1);
    let (_, v2, _) =
        roll_out(&engine, &fake, plan(Strategy::BlueGreen { switch_delay_seconds: 0.0 }, "v2", &sha("v2"), 1)).await;
    assert_eq!(v2.state, RolloutState::Succeeded, "{v2:?}");
    assert_eq!(statuses(&fake, "POST", "/v13/deployments"), [429, 429, 200, 500]);
    assert_eq!(deployments(&fake).len(), 2, "exactly one deployment for v2");
    // Vercel answered 503 without acting: nothing is found, so it is sent again, once.
    fake.faults().inject(Some("POST"), Some("/v13/deployments"), &VercelFake::server_error(503), 1);
    let (_, v3, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v3", &sha("v3"), 1)).await;
    assert_eq!(v3.state, RolloutState::Succeeded, "{v3:?}");
    assert_eq!(statuses(&fake, "POST", "/v13/deployments"), [429, 429, 200, 500, 503, 200]);
    assert_eq!(deployments(&fake).len(), 3);
}

#[tokio::test]
async fn a_bad_token_fails_the_connection_test_clearly_and_is_never_recorded() {
    let fake = fake().await;
    let wrong = "vercel_wrong_Token_9988776655";
    let rejected = VercelPlatform::new("vercel-bad", &settings(&fake), wrong).unwrap();
    let message = rejected.test_connection().await.unwrap_err().message;
    assert!(message.contains("token rejected") && message.contains("HTTP 403"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    let no_team = VercelSettings { team_id: None, ..settings(&fake) };
    let message =
        VercelPlatform::new("vercel-x", &no_team, TOKEN).unwrap().test_connection().await.unwrap_err().message;
    assert!(message.contains("project not found") && message.contains(PROJECT), "{message}");
    platform(&fake).test_connection().await.unwrap();

    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (_, ok, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    assert_eq!(ok.state, RolloutState::Succeeded, "{ok:?}");
    let (bad_id, bad, _) = roll_out(&engine, &fake, plan(canary(vec![20], 0.02), "v2", &sha("bad2"), 1)).await;
    assert_eq!(bad.state, RolloutState::RolledBack, "{bad:?}");
    let sent = format!("Bearer {TOKEN}");
    assert!(fake.recorder().requests().iter().any(|r| r.header("authorization") == Some(sent.as_str())));
    let seen = recorded(&engine, &[&bad_id]).await;
    assert!(seen.contains("BUILD_FAILED"), "the failure is recorded");
    engine.close().await.unwrap();
    assert_tokens_kept_out(&seen, &path, &[TOKEN, wrong]);
}

#[tokio::test]
async fn a_configured_vercel_platform_is_tested_through_the_engine_without_showing_its_token() {
    let fake = fake().await;
    let wrong = "vercel_wrong_Token_9988776655";
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let configured = PlatformSettings::Vercel(settings(&fake));
    engine.add_platform("vercel-configured", configured, wrong, "ops").await.unwrap();
    let err = engine.test_platform("vercel-configured").await.unwrap_err();
    assert_eq!(err.code(), "platform_error");
    assert!(err.to_string().contains("token rejected") && !err.to_string().contains(wrong), "{err}");
    engine.add_platform("vercel-good", PlatformSettings::Vercel(settings(&fake)), TOKEN, "ops").await.unwrap();
    engine.test_platform("vercel-good").await.unwrap();
    let configs = serde_json::to_string(&engine.platform_configs().await.unwrap()).unwrap();
    assert!(configs.contains("\"***\"") && !configs.contains(wrong) && !configs.contains(TOKEN), "{configs}");
    engine.close().await.unwrap();
    for token in [TOKEN, wrong] {
        assert!(!database_files_contain(&path, token), "the token is in a database file");
    }
}

#[tokio::test]
async fn the_logs_of_a_rollout_instance_are_its_deployments_build_events() {
    let fake = fake().await;
    let (_dir, path) = temp_db();
    let engine = open_engine(&platform(&fake), &path).await;
    let (id, rollout, _) = roll_out(&engine, &fake, plan(Strategy::Immediate {}, "v1", &sha("v1"), 1)).await;
    assert_eq!(rollout.state, RolloutState::Succeeded);
    let instance = rollout.progress.instances[0].id.clone();
    let mut follower = engine.follow_logs(&id, &instance).await.unwrap();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "Deployment completed") {
        let line = tokio::time::timeout(Duration::from_secs(5), follower.next()).await.unwrap().unwrap();
        assert_eq!(line.instance_id, instance);
        lines.push(line.line);
    }
    assert!(lines.iter().any(|l| l.starts_with("Cloning github.com/acme/shop")), "{lines:?}");
}

//! End to end on Fly.io: rollouts through `Engine` with the Fly adapter against the Machines API
//! fake — every strategy Fly supports succeeding and failing, canary shares by machine count, an
//! engine crash mid-rollout recovered by the next engine, 429/5xx storms without duplicate
//! machines, and the API token kept out of everything Loco records.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::Platform;
use loco_core::platform::fly::{FlyOptions, FlyPlatform};
use loco_core::platform_config::FlySettings;
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, Status};
use loco_fakes::Fault;
use loco_fakes::fly::{CreateRefusal, FlyFake, FlyFakeOptions, MachineSnapshot, MachineState};
use serde_json::json;

use crate::cloud::{approved, assert_rolled_back_on_restart, blue_green, cloud_plan, machine_health};
use crate::common::{orphan, temp_db};

const TOKEN: &str = "fm2_e2e-secret-token-4f7a9c0d";
const MACHINES: &str = "/v1/apps/shop/machines";

async fn fake() -> Arc<FlyFake> {
    let options = FlyFakeOptions { token: TOKEN.into(), ticks_per_poll: 2, ..FlyFakeOptions::default() };
    Arc::new(FlyFake::start(options).await.unwrap())
}

fn platform(fake: &FlyFake, token: &str) -> Arc<FlyPlatform> {
    let settings = FlySettings {
        app: "shop".into(),
        region: None,
        api_url: Some(fake.base_url().into()),
        logs_url: Some(fake.logs_url().into()),
    };
    let options = FlyOptions {
        http: crate::cloud::quick_http(),
        stop_wait: Duration::from_secs(2),
        log_poll_interval: Duration::from_millis(50),
        ..FlyOptions::default()
    };
    Arc::new(FlyPlatform::with_options("fly", &settings, token, options).unwrap())
}

fn plan(strategy: Strategy, version: &str, tag: &str, instances: u32) -> RolloutPlan {
    let release = ReleaseSpec {
        version: version.into(),
        image: Some(format!("registry.fly.io/shop:{tag}")),
        secret_env: BTreeMap::from([("API_KEY".to_owned(), "k-123".to_owned())]),
        ..ReleaseSpec::default()
    };
    cloud_plan("fly", strategy, release, instances, machine_health(8))
}

fn strategies() -> [Strategy; 4] {
    [
        Strategy::Immediate {},
        Strategy::Rolling { max_surge: 1, max_unavailable: 0 },
        blue_green(),
        Strategy::Canary { steps: vec![50], interval_seconds: 0.05 },
    ]
}

async fn open(path: &std::path::Path, platform: Arc<dyn Platform>) -> Engine {
    Engine::builder().path(path).platform(platform).open().await.unwrap()
}

/// Rolls out `version` with the immediate strategy and checks it succeeded.
async fn release(engine: &Engine, version: &str, instances: u32) -> String {
    let id = approved(engine, "api").await;
    let r = engine.run_rollout(&id, plan(Strategy::Immediate {}, version, version, instances), "ops").await.unwrap();
    assert_eq!(r.state, RolloutState::Succeeded, "{:?}", r.failure);
    id
}

fn version(m: &MachineSnapshot) -> &str {
    m.meta("loco_version").unwrap_or_default()
}

/// Routable machines (started, uncordoned, checks passing) per version.
fn serving(fake: &FlyFake) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in fake.live_machines().iter().filter(|m| m.routable()) {
        *counts.entry(version(m).to_owned()).or_default() += 1;
    }
    counts
}

/// Existing machines per version.
fn alive(fake: &FlyFake) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in fake.live_machines() {
        *counts.entry(version(&m).to_owned()).or_default() += 1;
    }
    counts
}

fn only(version: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(version.to_owned(), n)])
}

fn creates(fake: &FlyFake) -> usize {
    fake.recorder().requests().iter().filter(|r| r.method == "POST" && r.path == MACHINES).count()
}

/// Every mutation of a machine carried the nonce of a lease.
fn assert_leased(fake: &FlyFake) {
    for r in fake.recorder().requests() {
        let mutation = (r.method == "POST" && ["/cordon", "/uncordon", "/stop"].iter().any(|a| r.path.ends_with(a)))
            || (r.method == "DELETE" && r.path.starts_with(MACHINES) && !r.path.ends_with("/lease"));
        if mutation {
            assert!(r.header("fly-machine-lease-nonce").is_some(), "{} {} without a lease nonce", r.method, r.path);
        }
    }
}

/// Nothing Loco recorded about `id` contains the token.
async fn assert_token_kept_out(engine: &Engine, id: &str) {
    let events = serde_json::to_string(&engine.events(id).await.unwrap()).unwrap();
    let rollout = serde_json::to_string(&engine.rollout(id).await.unwrap()).unwrap();
    let deployment = serde_json::to_string(&engine.get(id).await.unwrap()).unwrap();
    for (what, text) in [("events", events), ("rollout", rollout), ("deployment", deployment)] {
        assert!(!text.contains(TOKEN) && !text.contains("e2e-secret-token"), "the token is in the {what}");
    }
}

#[tokio::test]
async fn every_strategy_moves_traffic_to_new_machines_and_destroys_the_old_ones() {
    let mut counts = Vec::new();
    for strategy in strategies() {
        let name = strategy.name();
        let (_dir, path) = temp_db();
        let fake = fake().await;
        let engine = open(&path, platform(&fake, TOKEN)).await;
        release(&engine, "v1", 2).await;
        assert_eq!(serving(&fake), only("v1", 2), "{name}");
        let v1: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();

        fake.recorder().clear();
        let id = approved(&engine, "api").await;
        let rollout = engine.run_rollout(&id, plan(strategy, "v2", "v2", 2), "ops").await.unwrap();
        assert_eq!(rollout.state, RolloutState::Succeeded, "{name}: {:?}", rollout.failure);
        assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded, "{name}");
        assert_eq!(serving(&fake), only("v2", 2), "{name}: the new machines serve");
        assert_eq!(alive(&fake), only("v2", 2), "{name}: nothing else runs");
        for old in &v1 {
            assert!(!fake.machine(old).unwrap().state.exists(), "{name}: v1 machine {old} destroyed");
        }
        // The engine records Fly's ids for the instances it runs.
        let recorded: Vec<String> = engine.releases("api", "staging", 1).await.unwrap()[0]
            .instances
            .iter()
            .filter_map(|i| i.platform_id.clone())
            .collect();
        let mut live: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();
        live.sort();
        let mut recorded_sorted = recorded.clone();
        recorded_sorted.sort();
        assert_eq!(recorded_sorted, live, "{name}");

        let requests = fake.recorder().requests();
        assert_eq!(creates(&fake), 2, "{name}: one create per machine");
        assert_eq!(
            requests.iter().filter(|r| r.method == "DELETE" && !r.path.ends_with("/lease")).count(),
            2,
            "{name}"
        );
        assert!(requests.iter().all(|r| r.header("authorization") == Some(&format!("FlyV1 {TOKEN}"))));
        assert_leased(&fake);
        let leases = requests.iter().filter(|r| r.path.ends_with("/lease")).count();
        counts.push(format!("{name}: {} requests ({} creates, {leases} lease calls)", requests.len(), creates(&fake)));
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
    eprintln!("Fly.io API requests for a v1 -> v2 rollout of 2 machines:\n  {}", counts.join("\n  "));
}

#[tokio::test]
async fn a_release_that_never_passes_its_checks_is_rolled_back_by_every_strategy() {
    for strategy in strategies() {
        let name = strategy.name();
        let (_dir, path) = temp_db();
        let fake = fake().await;
        let engine = open(&path, platform(&fake, TOKEN)).await;
        release(&engine, "v1", 2).await;
        let v1: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();

        let id = approved(&engine, "api").await;
        let rollout = engine.run_rollout(&id, plan(strategy, "v2", "v2-bad", 2), "ops").await.unwrap();
        assert_eq!(rollout.state, RolloutState::RolledBack, "{name}");
        let failure = rollout.failure.unwrap();
        assert_eq!(failure.code.as_str(), "health_check_failed", "{name}");
        assert!(failure.message.contains("critical"), "{name}: Fly's check status is named: {}", failure.message);
        assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack, "{name}");
        assert_eq!(serving(&fake), only("v1", 2), "{name}: v1 serves again");
        assert_eq!(alive(&fake), only("v1", 2), "{name}: v2 was destroyed");
        let mut now: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();
        now.sort();
        let mut before = v1.clone();
        before.sort();
        assert_eq!(now, before, "{name}: the same v1 machines were kept, none created");
        assert_eq!(
            fake.machines().iter().filter(|m| version(m) == "v2").count(),
            if matches!(name, "canary" | "rolling") { 1 } else { 2 },
            "{name}: machines of v2 ever made"
        );
        assert_eq!(engine.releases("api", "staging", 1).await.unwrap()[0].version, "v1");
        assert_leased(&fake);
        assert_token_kept_out(&engine, &id).await;
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_crash_looping_canary_is_seen_exiting_and_rolled_back() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let engine = open(&path, platform(&fake, TOKEN)).await;
    release(&engine, "v1", 2).await;
    let id = approved(&engine, "api").await;
    let canary = Strategy::Canary { steps: vec![50], interval_seconds: 0.05 };
    let rollout = engine.run_rollout(&id, plan(canary, "v2", "crash-v2", 2), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert!(failure.message.contains("crash-looping: exited with code 1"), "{}", failure.message);
    let check =
        engine.events(&id).await.unwrap().into_iter().find(|e| e.kind == loco_core::EventKind::HealthCheck).unwrap();
    assert_eq!(check.data.as_ref().unwrap()["exited"], true, "an exit, not a slow start: no retries wasted");
    assert_eq!(serving(&fake), only("v1", 2));
    assert_eq!(alive(&fake), only("v1", 2));
}

#[tokio::test]
async fn canary_shares_are_whole_machines_at_every_shift() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let engine = open(&path, platform(&fake, TOKEN)).await;
    release(&engine, "v1", 2).await;
    let id = approved(&engine, "api").await;
    let canary = Strategy::Canary { steps: vec![10, 50], interval_seconds: 0.05 };
    let rollout = engine.run_rollout(&id, plan(canary, "v2", "v2", 2), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);

    // Which versions fly-proxy could route to after each cordon, uncordon, stop and destroy.
    let versions: BTreeMap<String, String> =
        fake.machines().iter().map(|m| (m.id.clone(), version(m).to_owned())).collect();
    let mut history: Vec<String> = fake
        .routing_history()
        .iter()
        .map(|routable| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for id in routable {
                *counts.entry(versions[id].as_str()).or_default() += 1;
            }
            counts.iter().map(|(v, n)| format!("{v}x{n}")).collect::<Vec<_>>().join(" ")
        })
        .collect();
    history.dedup();
    assert_eq!(
        history,
        [
            "v1x1", // the first release's machines are uncordoned one by one
            "v1x2",
            "v1x2 v2x1", // 10 %: the canary machine beside two old ones is the closest share (33 %)
            "v1x1 v2x1", // 50 %
            "v1x1 v2x2", // 100 %: the new machines are uncordoned before the old one is cordoned,
            "v2x2",      // so serving never drops to nothing
        ]
    );
    let shifts: Vec<String> =
        engine.events(&id).await.unwrap().iter().filter_map(|e| e.note.clone()).filter(|n| n.contains('%')).collect();
    assert!(!shifts.is_empty());
    assert_eq!(alive(&fake), only("v2", 2));
}

#[tokio::test]
async fn an_engine_that_dies_mid_canary_is_rolled_back_by_the_next_from_recorded_machine_ids() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let engine = open(&path, platform(&fake, TOKEN)).await;
    release(&engine, "v1", 2).await;
    let v1: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();
    let id = approved(&engine, "api").await;
    let canary = Strategy::Canary { steps: vec![50], interval_seconds: 60.0 };
    let _handle = engine.start_rollout(&id, plan(canary, "v2", "v2", 2), "ops").await.unwrap();
    // Wait (bounded) until the canary machine takes its share.
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while serving(&fake).get("v2") != Some(&1) {
        assert!(tokio::time::Instant::now() < until, "the canary never took traffic");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.close().await.unwrap(); // suspends the rollout mid-canary, as a crash would
    orphan(&path, &id);
    let recorded = Engine::open(&path).await.unwrap().rollout(&id).await.unwrap();
    let canary_ids: Vec<String> = recorded
        .progress
        .instances
        .iter()
        .filter(|i| i.version == "v2")
        .map(|i| i.platform_id.clone().expect("the machine id was recorded"))
        .collect();
    assert_eq!(canary_ids.len(), 1);
    assert_eq!(serving(&fake), BTreeMap::from([("v1".to_owned(), 1), ("v2".to_owned(), 1)]));

    // A new process: a fresh adapter knows nothing but what the database recorded.
    fake.recorder().clear();
    let engine = open(&path, platform(&fake, TOKEN)).await; // recovers while opening
    let rollout = engine.rollout(&id).await.unwrap();
    assert_rolled_back_on_restart(&rollout);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert_eq!(serving(&fake), only("v1", 2), "both v1 machines serve again");
    assert_eq!(alive(&fake), only("v1", 2));
    let mut kept: Vec<String> = fake.live_machines().into_iter().map(|m| m.id).collect();
    kept.sort();
    let mut before = v1;
    before.sort();
    assert_eq!(kept, before, "the recorded v1 machines were kept");
    let destroyed: Vec<String> = fake
        .recorder()
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE" && !r.path.ends_with("/lease"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(destroyed, canary_ids, "the recorded canary machine, and only it, was destroyed");
    assert_eq!(creates(&fake), 0, "nothing created to recover");
    assert!(engine.recover_rollouts().await.unwrap().is_empty());
    assert!(engine.verify_audit().await.unwrap().valid);
}

#[tokio::test]
async fn storms_of_429_and_5xx_are_survived_without_duplicate_machines() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let engine = open(&path, platform(&fake, TOKEN)).await;
    let unavailable = Fault::Status { status: 503, body: json!({"error": "service unavailable"}) };
    let limited =
        Fault::RateLimited { retry_after_seconds: 0, headers: vec![], body: json!({"error": "rate limit exceeded"}) };
    let slow_down =
        Fault::RateLimited { retry_after_seconds: 1, headers: vec![], body: json!({"error": "rate limit exceeded"}) };
    let faults = fake.faults();
    faults.inject(Some("POST"), Some(MACHINES), &unavailable, 3);
    faults.inject(Some("POST"), Some(MACHINES), &limited, 3);
    // Each call is answered at most max_retries (4) times with an error in a row.
    faults.inject(Some("GET"), Some(MACHINES), &unavailable, 3);
    faults.inject(Some("GET"), Some(MACHINES), &slow_down, 1);
    fake.lose_create_responses(2);
    release(&engine, "v1", 2).await;

    faults.inject(Some("POST"), Some(MACHINES), &limited, 4);
    faults.inject(Some("POST"), Some("/lease"), &unavailable, 2);
    faults.inject(Some("DELETE"), Some(MACHINES), &unavailable, 2);
    faults.inject(Some("GET"), Some(MACHINES), &limited, 3);
    fake.lose_create_responses(1);
    let id = approved(&engine, "api").await;
    let rolling = Strategy::Rolling { max_surge: 1, max_unavailable: 0 };
    let rollout = engine.run_rollout(&id, plan(rolling, "v2", "v2", 2), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    assert_eq!(faults.pending(), 0, "every fault was served");

    assert_eq!(serving(&fake), only("v2", 2));
    assert_eq!(alive(&fake), only("v2", 2));
    let all = fake.machines();
    assert_eq!(all.len(), 4, "two machines per release, never a duplicate: {all:#?}");
    let mut instances: Vec<&str> = all.iter().filter_map(|m| m.meta("loco_instance_id")).collect();
    instances.dedup();
    assert_eq!(instances.len(), 4, "one machine per Loco instance");
    let statuses: Vec<u16> = fake.recorder().matching("POST", MACHINES).iter().map(|r| r.status).collect();
    for status in [429, 503, 504] {
        assert!(statuses.contains(&status), "creates answered {status} too: {statuses:?}");
    }
    assert!(fake.live_machines().iter().all(|m| m.lease_owner.is_none()), "no lease left behind");
    assert_token_kept_out(&engine, &id).await;
}

#[tokio::test]
async fn no_capacity_fails_the_step_and_takes_the_first_release_down() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let engine = open(&path, platform(&fake, TOKEN)).await;
    fake.refuse_creates(CreateRefusal::InsufficientCapacity, 1);
    let id = approved(&engine, "api").await;
    let rollout = engine.run_rollout(&id, plan(Strategy::Immediate {}, "v1", "v1", 2), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert_eq!(failure.code.as_str(), "step_failed");
    assert!(failure.message.contains("insufficient_capacity"), "{}", failure.message);
    assert!(fake.live_machines().is_empty(), "the machine that was made is gone too");
    assert_eq!(fake.machines().len(), 1);
}

#[tokio::test]
async fn a_bad_token_is_named_and_never_recorded() {
    let (_dir, path) = temp_db();
    let fake = fake().await;
    let wrong = "fm2_e2e-secret-token-WRONG-77";
    let bad = platform(&fake, wrong);
    let err = bad.test_connection().await.unwrap_err();
    assert!(err.message.contains("token rejected") && err.message.contains("HTTP 401"), "{err}");
    assert!(!err.message.contains(wrong) && !err.message.contains("e2e-secret"), "{err}");

    // A rollout with it fails at its first call, and nothing recorded holds the token.
    let engine = open(&path, bad).await;
    let id = approved(&engine, "api").await;
    let rollout = engine.run_rollout(&id, plan(Strategy::Immediate {}, "v1", "v1", 1), "ops").await.unwrap();
    // Nothing can be done on Fly with this token, not even checking that nothing runs.
    assert_eq!(rollout.state, RolloutState::RollbackFailed);
    let failure = rollout.failure.unwrap();
    assert!(failure.message.contains("Authenticate: token validation error"), "{}", failure.message);
    eprintln!("{failure:?}");
    for text in [
        serde_json::to_string(&engine.events(&id).await.unwrap()).unwrap(),
        serde_json::to_string(&engine.rollout(&id).await.unwrap()).unwrap(),
    ] {
        assert!(!text.contains(wrong) && !text.contains("e2e-secret"), "the token leaked: {text}");
    }
    assert!(fake.recorder().requests().iter().all(|r| r.status == 401));
    assert!(fake.live_machines().is_empty());
    let good = platform(&fake, TOKEN);
    good.test_connection().await.unwrap();
    let state = fake.machines().iter().map(|m| m.state).collect::<Vec<MachineState>>();
    assert!(state.is_empty());
}

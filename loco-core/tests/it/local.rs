//! The local platform for real: demo-service child processes behind the weighted proxy on
//! 127.0.0.1, requests sent through the proxy, health probes over HTTP, and a rollout engine
//! killed with SIGKILL mid-canary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loco_core::platform::InstanceState;
use loco_core::platform::local::{LocalOptions, LocalPlatform};
use loco_core::rollout::{HealthSpec, Probe, ReleaseSpec, Rollout, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, EventKind, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::request;

pub(crate) const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo-service/app.py");

pub(crate) fn release(version: &str, env: &[(&str, &str)]) -> ReleaseSpec {
    ReleaseSpec {
        version: version.into(),
        command: vec!["python3".into(), APP.into()],
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..ReleaseSpec::default()
    }
}

pub(crate) fn plan(strategy: Strategy, release: ReleaseSpec, instances: u32) -> RolloutPlan {
    RolloutPlan {
        platform: "local".into(),
        strategy,
        release,
        instances,
        health: HealthSpec {
            probes: vec![Probe::Http { path: "/health".into(), expect_status: 200 }],
            timeout_seconds: 2.0,
            retries: 20,
            backoff_initial_seconds: 0.05,
            backoff_max_seconds: 0.2,
            interval_seconds: 0.1,
        },
        analysis: None,
        scale_down_delay_seconds: 0.0,
        on_restart: loco_core::rollout::OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

pub(crate) async fn local_engine(dir: &Path) -> Engine {
    let local = LocalPlatform::new(LocalOptions::new(dir.join("state"))).unwrap();
    Engine::builder().path(dir.join("loco.db")).platform(Arc::new(local)).open().await.unwrap()
}

pub(crate) async fn approved(engine: &Engine) -> String {
    let d = engine.create(request("shop", "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

/// `GET /` through the proxy: the status and the version that answered.
pub(crate) async fn get(endpoint: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(endpoint).await.unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response)).await.unwrap().unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = response
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-loco-version:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    (status, version)
}

/// Sends `n` requests and counts the versions that answered 200.
pub(crate) async fn versions(endpoint: &str, n: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let (status, version) = get(endpoint).await;
        assert_eq!(status, 200, "through the proxy");
        *seen.entry(version).or_default() += 1;
    }
    seen
}

pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

pub(crate) fn pids(rollout: &Rollout, version: &str) -> Vec<u32> {
    rollout.progress.instances.iter().filter(|i| i.version == version).filter_map(|i| i.pid).collect()
}

pub(crate) async fn wait_until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_really_moves_traffic_to_the_new_version() {
    let strategies = [
        Strategy::Immediate {},
        Strategy::Rolling { max_surge: 1, max_unavailable: 0 },
        Strategy::BlueGreen { switch_delay_seconds: 0.1 },
        Strategy::Canary { steps: vec![50], interval_seconds: 1.0 },
    ];
    for strategy in strategies {
        let name = strategy.name();
        let dir = tempfile::tempdir().unwrap();
        let engine = local_engine(dir.path()).await;
        let v1 = approved(&engine).await;
        let first = engine.run_rollout(&v1, plan(Strategy::Immediate {}, release("v1", &[]), 2), "ops").await.unwrap();
        assert_eq!(first.state, RolloutState::Succeeded, "{name}: {:?}", first.failure);
        let endpoint = first.progress.endpoint.clone().expect("proxy endpoint");
        assert_eq!(versions(&endpoint, 6).await, HashMap::from([("v1".to_owned(), 6)]), "{name}");

        let v2 = approved(&engine).await;
        let handle = engine.start_rollout(&v2, plan(strategy, release("v2", &[]), 2), "ops").await.unwrap();
        if name == "canary" {
            // Mid-canary the proxy really splits: every second request goes to v2.
            wait_until("the 50% step", async || {
                engine.rollout(&v2).await.unwrap().progress.traffic.iter().any(|w| w.version == "v2" && w.percent == 50)
            })
            .await;
            assert_eq!(versions(&endpoint, 20).await, HashMap::from([("v1".to_owned(), 10), ("v2".to_owned(), 10)]));
        }
        let rollout = engine.wait_rollout(&handle.deployment_id).await.unwrap();
        assert_eq!(rollout.state, RolloutState::Succeeded, "{name}: {:?}", rollout.failure);
        assert_eq!(engine.get(&v2).await.unwrap().status, Status::Succeeded);
        assert_eq!(versions(&endpoint, 10).await, HashMap::from([("v2".to_owned(), 10)]), "{name}");
        for pid in pids(&first, "v1") {
            assert!(!alive(pid), "{name}: old instance {pid} still runs");
        }
        let new_pids = pids(&rollout, "v2");
        assert_eq!(new_pids.len(), 2);
        assert!(new_pids.iter().all(|p| alive(*p)));
        engine.close().await.unwrap();
        for pid in new_pids {
            assert!(!alive(pid), "{name}: closing the engine leaves no process behind ({pid})");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_turning_unhealthy_mid_canary_is_rolled_back_to_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let v1 = approved(&engine).await;
    let first = engine.run_rollout(&v1, plan(Strategy::Immediate {}, release("v1", &[]), 1), "ops").await.unwrap();
    let endpoint = first.progress.endpoint.clone().unwrap();
    let v2 = approved(&engine).await;
    // v2 passes its first checks, then its /health answers 503 after 1.5 s.
    let bad = release("v2", &[("HEALTH_FAIL_AFTER", "1.5")]);
    let rollout = engine
        .run_rollout(&v2, plan(Strategy::Canary { steps: vec![25, 50], interval_seconds: 30.0 }, bad, 1), "ops")
        .await
        .unwrap();

    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.clone().unwrap();
    assert_eq!((failure.code.as_str(), failure.step), ("health_check_failed", Some(4)), "{failure:?}");
    assert_eq!(engine.get(&v2).await.unwrap().status, Status::RolledBack);
    assert_eq!(versions(&endpoint, 12).await, HashMap::from([("v1".to_owned(), 12)]));
    assert!(pids(&rollout, "v2").iter().all(|p| !alive(*p)), "the bad release was stopped");

    let events = engine.events(&v2).await.unwrap();
    let story: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    let failed_checks =
        events.iter().filter(|e| e.kind == EventKind::HealthCheck && e.data.as_ref().unwrap()["ok"] == false);
    assert_eq!(failed_checks.count(), 3, "three consecutive failed checks trigger the rollback");
    let order = |k: EventKind| story.iter().position(|x| *x == k).unwrap();
    assert!(order(EventKind::Started) < order(EventKind::HealthCheck));
    assert!(order(EventKind::HealthCheck) < order(EventKind::Failed));
    assert!(order(EventKind::Failed) < order(EventKind::RolledBack));
    assert_eq!(*story.last().unwrap(), EventKind::RolledBack);
    // From the first failed check to the rollback being recorded (all traffic already on v1).
    let first_bad =
        events.iter().find(|e| e.kind == EventKind::HealthCheck && e.data.as_ref().unwrap()["ok"] == false).unwrap();
    let third_bad = events.iter().rfind(|e| e.kind == EventKind::HealthCheck).unwrap();
    let rolled_back = events.last().unwrap();
    let ms = |a: &loco_core::Event, b: &loco_core::Event| (b.at.as_datetime() - a.at.as_datetime()).num_milliseconds();
    eprintln!(
        "rollback timing: first failed check -> rolled_back {} ms; deciding check -> rolled_back {} ms",
        ms(first_bad, rolled_back),
        ms(third_bad, rolled_back)
    );
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_cannot_start_never_gets_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let v1 = approved(&engine).await;
    let first = engine.run_rollout(&v1, plan(Strategy::Immediate {}, release("v1", &[]), 1), "ops").await.unwrap();
    let v2 = approved(&engine).await;
    let broken = ReleaseSpec {
        command: vec!["python3".into(), "-c".into(), "import sys; sys.exit(3)".into()],
        ..release("v2", &[])
    };
    let rollout = engine
        .run_rollout(&v2, plan(Strategy::BlueGreen { switch_delay_seconds: 0.0 }, broken, 1), "ops")
        .await
        .unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert!(rollout.failure.unwrap().message.contains("exit status: 3"));
    let endpoint = first.progress.endpoint.unwrap();
    assert_eq!(versions(&endpoint, 4).await, HashMap::from([("v1".to_owned(), 4)]));
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_output_is_streamed_as_logs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let id = approved(&engine).await;
    let rollout = engine.run_rollout(&id, plan(Strategy::Immediate {}, release("v7", &[]), 1), "ops").await.unwrap();
    let instance = rollout.progress.instances.iter().find(|i| i.state == InstanceState::Running).unwrap();
    let mut logs = engine.follow_logs(&id, &instance.id).await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(5), logs.next()).await.unwrap().unwrap();
    assert!(line.line.starts_with("demo-service v7 listening on 127.0.0.1:"), "{line:?}");
    assert_eq!(engine.follow_logs(&id, "ins_nope").await.unwrap_err().code(), "platform_error");
    engine.close().await.unwrap();
}

const CHILD_ENV: &str = "LOCO_ROLLOUT_CHILD_DIR";

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// The child engine: releases v1, starts a canary of v2, reports when v2 takes traffic, then
/// waits to be killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_engine() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let dir = std::path::PathBuf::from(dir);
    let engine = local_engine(&dir).await;
    let v1 = approved(&engine).await;
    let first = engine.run_rollout(&v1, plan(Strategy::Immediate {}, release("v1", &[]), 2), "ops").await.unwrap();
    say(&format!("v1 {}", first.progress.endpoint.unwrap()));
    let v2 = approved(&engine).await;
    let canary = Strategy::Canary { steps: vec![30, 60], interval_seconds: 600.0 };
    let _handle = engine.start_rollout(&v2, plan(canary, release("v2", &[]), 2), "ops").await.unwrap();
    wait_until("the canary to take traffic", async || {
        engine.rollout(&v2).await.unwrap().progress.traffic.iter().any(|w| w.version == "v2")
    })
    .await;
    say(&format!("v2 {v2}"));
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_mid_canary_is_recovered_with_traffic_back_on_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["local::crash_child_engine", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut v2 = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("v2 ") {
            v2 = Some(id.to_owned());
            break;
        }
    }
    let v2 = v2.expect("the child reached the canary");
    child.kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().unwrap();

    // The killed engine's instances outlive it.
    let before = Engine::open(dir.path().join("loco.db")).await.unwrap().rollout(&v2).await.unwrap();
    assert_eq!(before.state, RolloutState::Running);
    let orphans_v2 = pids(&before, "v2");
    let orphans_v1 = before.previous.as_ref().unwrap().instances.iter().filter_map(|i| i.pid).collect::<Vec<_>>();
    assert!(!orphans_v2.is_empty() && orphans_v2.iter().all(|p| alive(*p)));
    assert!(orphans_v1.iter().all(|p| alive(*p)));

    let engine = local_engine(dir.path()).await; // recovers while opening
    let after = engine.rollout(&v2).await.unwrap();
    assert_eq!(after.state, RolloutState::RolledBack, "{:?}", after.failure);
    assert_eq!(after.failure.as_ref().unwrap().code.as_str(), "engine_restarted");
    assert_eq!(engine.get(&v2).await.unwrap().status, Status::RolledBack);
    assert!(orphans_v2.iter().all(|p| !alive(*p)), "the canary's processes were stopped");
    let endpoint = after.progress.endpoint.clone().expect("the new proxy");
    assert_eq!(versions(&endpoint, 10).await, HashMap::from([("v1".to_owned(), 10)]));
    assert!(engine.verify_audit().await.unwrap().valid);

    engine.close().await.unwrap();
    for pid in orphans_v1.iter().chain(&orphans_v2) {
        assert!(!alive(*pid), "process {pid} survived");
    }
}

/// Sends requests through `endpoint` back to back until `stop` turns true; returns every
/// (status, version) seen.
fn keep_asking(
    endpoint: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(u16, String)>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            seen.push(get(&endpoint).await);
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_after_success_never_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let v1 = approved(&engine).await;
    let v1 = engine.run_rollout(&v1, plan(Strategy::Immediate {}, release("v1", &[]), 1), "ops").await.unwrap();
    let endpoint = v1.progress.endpoint.unwrap();
    let v2 = approved(&engine).await;
    let done = engine.run_rollout(&v2, plan(Strategy::Immediate {}, release("v2", &[]), 1), "ops").await.unwrap();
    assert_eq!(done.state, RolloutState::Succeeded);
    // v1's processes are gone: the rollback starts v1 again, checks it, and only then moves traffic.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asking = keep_asking(endpoint.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = engine.rollback(&v2, "carol", "bad release").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = asking.await.unwrap();

    assert_eq!(d.status, Status::RolledBack);
    let failures: Vec<&(u16, String)> = seen.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failures.is_empty(), "{} of {} requests failed: {failures:?}", failures.len(), seen.len());
    let (first_v1, last_v2) = (
        seen.iter().position(|(_, v)| v == "v1").expect("v1 answers in the end"),
        seen.iter().rposition(|(_, v)| v == "v2").expect("v2 answered first"),
    );
    assert!(last_v2 < first_v1, "one switch, from v2 to v1");
    engine.close().await.unwrap();
}

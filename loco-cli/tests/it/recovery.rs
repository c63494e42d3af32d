//! `loco serve` killed mid-canary (SIGKILL, the real binary) and started again on the same
//! database and state directory: the interrupted rollout is recovered by rolling it back, the
//! previous release serves again, and no demo-service process outlives the second server.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::LocoProcess;
use crate::rollout_support::{Api, ServiceGuard, all_on, canary, immediate, plan, service_processes};

const SERVICE: &str = "recovery-shop";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_canary_rolls_it_back_when_it_starts_again() {
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let mut first = LocoProcess::start(&db);
    let api = Api::at(&first.url);
    api.register_demo().await;

    let v1 = api.approved(SERVICE, "1.0.0").await;
    api.start(&v1, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(api.ended(&v1).await["state"], "succeeded");
    let v2 = api.approved(SERVICE, "2.0.0").await;
    api.start(&v2, &plan("v2", canary(&[50], 600.0), json!({}))).await;
    let observing = api
        .wait_for(&v2, "half the traffic on v2", |r| {
            r["progress"]["traffic"].as_array().is_some_and(|t| t.iter().any(|w| w["version"] == "v2"))
        })
        .await;
    assert_eq!(observing["state"], "running");
    // The default state directory sits next to the database and holds one pidfile per instance.
    let pidfiles = std::fs::read_dir(dir.path().join("loco.db.state/instances")).unwrap().count();
    assert_eq!(pidfiles, 2, "v1 and the v2 canary");

    first.child.kill().unwrap(); // SIGKILL: no shutdown, no suspension recorded
    first.child.wait().unwrap();
    assert_eq!(service_processes(SERVICE).len(), 2, "the instances outlive the killed server");

    let second = LocoProcess::start(&db);
    let api = Api::at(&second.url);
    // Recovery finished before the server said it was listening.
    let recovered = api.rollout(&v2).await;
    assert_eq!(recovered["state"], "rolled_back", "{recovered}");
    assert_eq!(recovered["failure"]["code"], "engine_restarted", "{recovered}");
    assert_eq!(recovered["progress"]["traffic"], all_on("v1"));
    assert_ne!(recovered["owner"], observing["owner"], "the new server took it over");
    let (_, d) = api.get(&format!("/api/v1/deployments/{v2}")).await;
    assert_eq!(d["status"], "rolled_back");
    let endpoint = recovered["progress"]["endpoint"].as_str().expect("the new proxy");
    for _ in 0..5 {
        assert_eq!(api.through(endpoint).await, (200, "v1".to_owned()));
    }
    let (_, active) = api.get("/api/v1/rollouts?active=true").await;
    assert_eq!(active["items"], json!([]));

    second.terminate();
    assert_eq!(second.wait(), Some(0));
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new(), "no instance survives the second server");
}

/// Sends a signal to a process through kill(1) (this crate forbids unsafe code).
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Freezes `pid` (SIGSTOP) at a moment it holds no write transaction on `db`. A process frozen
/// inside one keeps SQLite's write lock, and no other process can write the file until it is
/// woken: no engine can take its rollout over then (SQLite's locks belong to the process, and
/// a frozen process still holds them). The owner writes a heartbeat every sixth of a lease, so
/// a freeze lands inside a write now and then; such a freeze is undone and tried again.
fn freeze_outside_a_write(pid: u32, db: &std::path::Path) {
    for _ in 0..50 {
        signal(pid, "STOP");
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.busy_timeout(Duration::from_millis(100)).unwrap();
        if conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok() {
            return;
        }
        signal(pid, "CONT");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("process {pid} held the write lock at each of 50 freezes");
}

/// The rollout as read through `api` once `done` holds, and how long that took (at most 30 s).
async fn once(api: &Api, id: &str, done: impl Fn(&serde_json::Value) -> bool) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    loop {
        let rollout = api.rollout(id).await;
        if done(&rollout) {
            return (rollout, started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "waited too long: {rollout}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_database_takes_a_rollout_over_only_once_its_owner_is_gone() {
    const SHARED: &str = "lease-shop";
    let _guard = ServiceGuard(SHARED);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let lease = ["--lease-seconds", "1"];
    let mut first = LocoProcess::start_with(&db, &lease, std::process::Stdio::inherit(), "warn");
    let api = Api::at(&first.url);
    api.register_demo().await;
    let v1 = api.approved(SHARED, "1.0.0").await;
    api.start(&v1, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(api.ended(&v1).await["state"], "succeeded");
    let v2 = api.approved(SHARED, "2.0.0").await;
    api.start(&v2, &plan("v2", canary(&[50], 600.0), json!({}))).await;
    let (observing, _) = once(&api, &v2, |r| r["progress"]["traffic"].as_array().is_some_and(|t| t.len() == 2)).await;

    // A second server on the same database and state directory, scanning for orphans twice a second.
    let second = LocoProcess::start_with(&db, &lease, std::process::Stdio::inherit(), "warn");
    let other = Api::at(&second.url);
    // Five leases go by, with long health checks and observation in between: the owner beats.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let kept = other.rollout(&v2).await;
    assert_eq!(
        (kept["state"].as_str(), &kept["owner"], &kept["lease"]),
        (Some("running"), &observing["owner"], &json!(0))
    );

    // Frozen (SIGSTOP): alive but silent. After a lease the second server takes over (the
    // fencing token grows) and rolls back; woken up, the first may change nothing any more.
    freeze_outside_a_write(first.child.id(), &db);
    let (taken, after) = once(&other, &v2, |r| r["owner"] != observing["owner"]).await;
    assert_eq!(taken["lease"], 1, "{taken}");
    assert!(after < Duration::from_secs(4), "taken over {after:?} after the owner froze, with a 1 s lease");
    let (recovered, _) = once(&other, &v2, |r| r["state"] != "running" && r["state"] != "rolling_back").await;
    assert_eq!(
        (recovered["state"].as_str(), recovered["failure"]["code"].as_str()),
        (Some("rolled_back"), Some("engine_restarted"))
    );
    signal(first.child.id(), "CONT");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_wake = other.rollout(&v2).await;
    assert_eq!(after_wake, recovered, "the woken owner wrote nothing");
    let endpoint = recovered["progress"]["endpoint"].as_str().unwrap();
    assert_eq!(other.through(endpoint).await, (200, "v1".to_owned()));

    first.child.kill().unwrap();
    first.child.wait().unwrap();
    second.terminate();
    assert_eq!(second.wait(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_is_replaced_within_a_lease() {
    const SHARED: &str = "lease-killed-shop";
    let _guard = ServiceGuard(SHARED);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let lease = ["--lease-seconds", "2"];
    let mut first = LocoProcess::start_with(&db, &lease, std::process::Stdio::inherit(), "warn");
    let api = Api::at(&first.url);
    api.register_demo().await;
    let v1 = api.approved(SHARED, "1.0.0").await;
    api.start(&v1, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(api.ended(&v1).await["state"], "succeeded");
    let v2 = api.approved(SHARED, "2.0.0").await;
    api.start(&v2, &plan("v2", canary(&[50], 600.0), json!({}))).await;
    let (observing, _) = once(&api, &v2, |r| r["progress"]["traffic"].as_array().is_some_and(|t| t.len() == 2)).await;
    let second = LocoProcess::start_with(&db, &lease, std::process::Stdio::inherit(), "warn");
    let other = Api::at(&second.url);

    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let (taken, after) = once(&other, &v2, |r| r["owner"] != observing["owner"]).await;
    assert!(after < Duration::from_secs(2), "a dead owner on this host is noticed at the next scan, took {after:?}");
    assert_eq!(taken["lease"], 1);
    let (recovered, _) = once(&other, &v2, |r| r["state"] == "rolled_back").await;
    let endpoint = recovered["progress"]["endpoint"].as_str().unwrap();
    assert_eq!(other.through(endpoint).await, (200, "v1".to_owned()));
    second.terminate();
    assert_eq!(second.wait(), Some(0));
    assert_eq!(service_processes(SHARED), Vec::<u32>::new());
}

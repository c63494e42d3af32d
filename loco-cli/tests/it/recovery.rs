//! `loco serve` killed mid-canary (SIGKILL, the real binary) and started again on the same
//! database and state directory: the interrupted rollout is recovered by rolling it back, the
//! previous release serves again, and no demo-service process outlives the second server.

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

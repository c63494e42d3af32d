//! Releases you can go back to, and engines that stop and start again, on the local platform for
//! real: a scale-down delay that makes a rollback a traffic switch, rollback to any retained
//! release, the serving release brought back on its port when an engine starts, and a rollout
//! that resumes where its engine stopped.

use std::sync::Arc;

use loco_core::event_data::{EventData, RolloutTurn, StepProgressData};
use loco_core::platform::local::{LocalOptions, LocalPlatform};
use loco_core::rollout::{OnRestart, RolloutState, Strategy};
use loco_core::{Engine, Status};

use crate::local::{alive, approved, get, local_engine, pids, plan, release, wait_until};

/// The rollout turns recorded for a deployment.
async fn turns(engine: &Engine, id: &str) -> Vec<RolloutTurn> {
    let events = engine.events(id).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| serde_json::from_value::<EventData>(serde_json::to_value(e.data?).ok()?).ok())
        .filter_map(|d| match d {
            EventData::StepProgress(StepProgressData::Turn(turn)) => Some(turn),
            _ => None,
        })
        .collect()
}

async fn immediate(engine: &Engine, version: &str, delay: f64) -> (String, loco_core::rollout::Rollout) {
    let id = approved(engine).await;
    let mut plan = plan(Strategy::Immediate {}, release(version, &[]), 1);
    plan.scale_down_delay_seconds = delay;
    let rollout = engine.run_rollout(&id, plan, "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    (id, rollout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_scale_down_delay_a_rollback_only_moves_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let (_, v1) = immediate(&engine, "v1", 0.0).await;
    let endpoint = v1.progress.endpoint.clone().unwrap();
    let v1_pids = pids(&v1, "v1");
    let (v2, _) = immediate(&engine, "v2", 60.0).await;
    assert!(v1_pids.iter().all(|p| alive(*p)), "v1 is kept running without traffic");
    assert_eq!(get(&endpoint).await, (200, "v2".to_owned()));

    let d = engine.rollback(&v2, "carol", "bad release").await.unwrap();
    assert_eq!(d.status, Status::RolledBack);
    assert_eq!(get(&endpoint).await, (200, "v1".to_owned()));
    let current = &engine.releases("shop", "staging", 1).await.unwrap()[0];
    let serving: Vec<u32> = current.instances.iter().filter_map(|i| i.pid).collect();
    assert_eq!((current.version.as_str(), serving), ("v1", v1_pids), "the kept instances serve again");
    let restored = turns(&engine, &v2).await.into_iter().find_map(|t| match t {
        RolloutTurn::Restored { restore_ms, .. } => Some(restore_ms),
        _ => None,
    });
    eprintln!("restore with kept instances: {restored:?} ms");

    // A short delay: the previous release's instances stop on their own, and that is recorded.
    let (v3, after) = immediate(&engine, "v3", 0.3).await;
    let kept = pids(&engine.rollout(&v3).await.unwrap(), "v1");
    assert!(kept.is_empty(), "the v1 instances are the restore point's, not the rollout's");
    wait_until("the scale-down", async || {
        turns(&engine, &v3)
            .await
            .iter()
            .any(|t| matches!(t, RolloutTurn::ScaledDown { version, instances: 1 } if version == "v1"))
    })
    .await;
    let previous = after.previous.unwrap();
    assert!(previous.instances.iter().filter_map(|i| i.pid).all(|p| !alive(p)), "v1 stopped after the delay");
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_rolls_back_to_any_retained_release() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalPlatform::new(LocalOptions::new(dir.path().join("state"))).unwrap();
    let engine = Engine::builder()
        .path(dir.path().join("loco.db"))
        .platform(Arc::new(local))
        .release_retention(3)
        .open()
        .await
        .unwrap();
    let (v1, first) = immediate(&engine, "v1", 0.0).await;
    let endpoint = first.progress.endpoint.unwrap();
    immediate(&engine, "v2", 0.0).await;
    let (v3, _) = immediate(&engine, "v3", 0.0).await;

    let err = engine.rollback_to("shop", "staging", "v3", "carol", "no").await.unwrap_err();
    assert_eq!((err.code(), err.details()[0].field.as_str()), ("validation_error", "version"), "already serving");
    let err = engine.rollback_to("shop", "staging", "v9", "carol", "no").await.unwrap_err();
    assert!(err.to_string().contains("(retained, newest first: v3, v2, v1)"), "{err}");
    let err = engine.rollback_to("shop", "staging", "v1", "carol", "").await.unwrap_err();
    assert_eq!(err.details()[0].field, "note", "a rollback says why");

    let rollout = engine.rollback_to("shop", "staging", "v1", "carol", "v2 and v3 both leak memory").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack, "{:?}", rollout.failure);
    assert_eq!(rollout.deployment_id, v3, "the current release's deployment is the one rolled back");
    assert_eq!(rollout.previous.as_ref().map(|p| p.deployment_id.as_str()), Some(v1.as_str()));
    assert_eq!(engine.get(&v3).await.unwrap().status, Status::RolledBack);
    assert_eq!(get(&endpoint).await, (200, "v1".to_owned()), "v1 was started again and serves");
    let versions: Vec<String> =
        engine.releases("shop", "staging", 10).await.unwrap().into_iter().map(|r| r.version).collect();
    assert_eq!(versions, ["v1", "v3", "v2"], "three kept (v1 again, newest first), the first v1 dropped");
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_starting_again_brings_back_the_serving_release_on_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let (v1, first) = immediate(&engine, "v1", 0.0).await;
    let endpoint = first.progress.endpoint.clone().unwrap();
    engine.close().await.unwrap();
    assert!(pids(&first, "v1").iter().all(|p| !alive(*p)), "a graceful close stops the processes");
    assert!(tokio::net::TcpStream::connect(&endpoint).await.is_err(), "and the proxy");

    let engine = local_engine(dir.path()).await;
    assert_eq!(get(&endpoint).await, (200, "v1".to_owned()), "served again, on the same port");
    let revived = turns(&engine, &v1).await;
    assert!(
        revived.iter().any(|t| matches!(t, RolloutTurn::Revived { version, instances: 1, endpoint: Some(e) } if version == "v1" && *e == endpoint)),
        "{revived:?}"
    );
    let current = &engine.releases("shop", "staging", 1).await.unwrap()[0];
    assert!(current.instances.iter().filter_map(|i| i.pid).all(alive), "the release names the new processes");
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_with_on_restart_resume_continues_where_its_engine_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let engine = local_engine(dir.path()).await;
    let (_, first) = immediate(&engine, "v1", 0.0).await;
    let endpoint = first.progress.endpoint.unwrap();
    let v2 = approved(&engine).await;
    let mut canary = plan(Strategy::Canary { steps: vec![50], interval_seconds: 2.0 }, release("v2", &[]), 1);
    canary.on_restart = OnRestart::Resume;
    engine.start_rollout(&v2, canary, "ops").await.unwrap();
    wait_until("half the traffic on v2", async || engine.rollout(&v2).await.unwrap().progress.traffic.len() == 2).await;
    engine.close().await.unwrap();

    let engine = local_engine(dir.path()).await;
    let resumed = engine.wait_rollout(&v2).await.unwrap();
    assert_eq!(resumed.state, RolloutState::Succeeded, "{:?}", resumed.failure);
    let turns = turns(&engine, &v2).await;
    assert!(
        turns.iter().any(|t| matches!(t, RolloutTurn::Resume { step: 4, instances: 2 })),
        "resumed at the observation of 50 % with v1 and v2 running again: {turns:?}"
    );
    assert_eq!(engine.get(&v2).await.unwrap().status, Status::Succeeded);
    assert_eq!(get(&endpoint).await, (200, "v2".to_owned()));
    engine.close().await.unwrap();
}

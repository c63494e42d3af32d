//! Canary analysis end to end on the local platform: real demo-service processes, real traffic
//! through the proxy, the proxy's own measurements judged against the baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use loco_core::analysis::{Thresholds, Verdict};
use loco_core::platform::local::{LocalOptions, LocalPlatform};
use loco_core::rollout::{AnalysisSpec, HealthSpec, Probe, ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, EventKind, Status};

use crate::common::request;

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo-service/app.py");

fn release(version: &str, failure_rate: &str) -> ReleaseSpec {
    ReleaseSpec {
        version: version.into(),
        command: vec!["python3".into(), APP.into()],
        env: [("FAILURE_RATE".to_owned(), failure_rate.to_owned())].into(),
        ..ReleaseSpec::default()
    }
}

fn plan(steps: Vec<u8>, interval: f64, release: ReleaseSpec, monitor: f64) -> RolloutPlan {
    RolloutPlan {
        platform: "local".into(),
        strategy: Strategy::Canary { steps, interval_seconds: interval },
        release,
        instances: 1,
        health: HealthSpec {
            probes: vec![Probe::Http { path: "/health".into(), expect_status: 200 }],
            retries: 20,
            backoff_initial_seconds: 0.05,
            backoff_max_seconds: 0.2,
            interval_seconds: 0.5,
            ..HealthSpec::default()
        },
        analysis: Some(AnalysisSpec {
            thresholds: Some(Thresholds { min_samples: 20, ..Thresholds::default() }),
            monitor_seconds: monitor,
            pause_timeout_seconds: 60.0,
            poll_seconds: 0.25,
            inconclusive_extensions: 3,
            ..AnalysisSpec::default()
        }),
        scale_down_delay_seconds: 0.0,
        on_restart: loco_core::rollout::OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

/// Keeps `clients` keep-alive connections busy with `GET /` through the proxy until dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

impl Traffic {
    fn start(endpoint: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let uri: hyper::Uri = format!("http://{endpoint}/").parse().unwrap();
        for _ in 0..clients {
            let (stop, sent, client, uri) = (stop.clone(), sent.clone(), client.clone(), uri.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(Ok(response)) =
                        tokio::time::timeout(Duration::from_secs(5), client.get(uri.clone())).await
                    {
                        let _ = http_body_util::BodyExt::collect(response.into_body()).await;
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        Self { stop, sent }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An engine on the local platform with v1 released and traffic flowing through its proxy.
async fn with_v1(dir: &std::path::Path) -> (Engine, Traffic) {
    let local = LocalPlatform::new(LocalOptions::new(dir.join("state"))).unwrap();
    let engine = Engine::builder().path(dir.join("loco.db")).platform(Arc::new(local)).open().await.unwrap();
    let id = approved(&engine).await;
    let mut first = plan(vec![100], 0.0, release("v1", "0"), 0.0);
    first.strategy = Strategy::Immediate {};
    first.analysis = None;
    let r = engine.run_rollout(&id, first, "ops").await.unwrap();
    assert_eq!(r.state, RolloutState::Succeeded);
    let traffic = Traffic::start(&r.progress.endpoint.unwrap(), 4);
    (engine, traffic)
}

async fn approved(engine: &Engine) -> String {
    let d = engine.create(request("shop", "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

async fn wait_for_state(engine: &Engine, id: &str, state: RolloutState) {
    let started = Instant::now();
    while engine.rollout(id).await.unwrap().state != state {
        assert!(started.elapsed() < Duration::from_secs(60), "waited too long for {state}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_percent_errors_roll_back_automatically_on_the_deciding_request() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let rollout = engine.run_rollout(&id, plan(vec![20, 50], 30.0, release("v2", "0.6"), 0.0), "ops").await.unwrap();

    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.clone().unwrap();
    assert_eq!(failure.code.as_str(), "analysis_critical", "{failure:?}");
    assert!(failure.message.contains("above the critical 50%"), "{}", failure.message);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    let events = engine.events(&id).await.unwrap();
    let analysis = events.iter().find(|e| e.kind == EventKind::Analysis).expect("an analysis event");
    assert_eq!(analysis.data.as_ref().unwrap()["judgement"]["severity"], "critical");
    assert!(!events.iter().any(|e| e.kind == EventKind::CanaryPromoted), "never promoted past 20%");
    let restored = events.iter().find(|e| e.data.as_ref().is_some_and(|d| d["action"] == "restored")).unwrap();
    let ms = restored.data.as_ref().unwrap()["trigger_to_rollback_call_ms"].as_f64().unwrap();
    eprintln!("deciding sample -> rollback call: {ms:.2} ms");
    assert!(traffic.sent.load(Ordering::Relaxed) > 0);
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_points_more_errors_pause_until_the_rollback_is_approved() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let handle = engine.start_rollout(&id, plan(vec![30], 3.0, release("v2", "0.15"), 0.0), "ops").await.unwrap();
    wait_for_state(&engine, &id, RolloutState::Paused).await;

    let paused = engine.rollout(&id).await.unwrap();
    let judgement = paused.progress.analysis.clone().unwrap();
    assert_eq!(judgement.verdict, Verdict::Fail);
    assert!(judgement.reasons.iter().any(|r| r.contains("points above the baseline")), "{:?}", judgement.reasons);
    assert!(judgement.error_rate_test.unwrap().p_value < 0.05);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Started, "a pause is not a failure yet");
    // Still paused a moment later: nothing rolls back without a person.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(engine.rollout(&id).await.unwrap().state, RolloutState::Paused);

    let d = engine.rollback(&id, "carol", "approve the rollback: errors up 15 points").await.unwrap();
    assert_eq!(d.status, Status::RolledBack);
    let rollout = engine.wait_rollout(&handle.deployment_id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.progress.traffic[0].version, "v1");
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_continues_a_paused_canary() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let handle = engine.start_rollout(&id, plan(vec![30], 3.0, release("v2", "0.15"), 0.0), "ops").await.unwrap();
    let err = engine.override_rollout(&id, "carol", "too early").await.unwrap_err();
    assert_eq!(err.code(), "rollout_not_paused");
    wait_for_state(&engine, &id, RolloutState::Paused).await;
    assert_eq!(
        engine.override_rollout(&id, "carol", "").await.unwrap_err().code(),
        "validation_error",
        "a reason is required"
    );

    let continued = engine.override_rollout(&id, "carol", "known noisy endpoint; accept").await.unwrap();
    assert_ne!(continued.state, RolloutState::Paused);
    let rollout = engine.wait_rollout(&handle.deployment_id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    let events = engine.events(&id).await.unwrap();
    let over = events.iter().find(|e| e.data.as_ref().is_some_and(|d| d["action"] == "override")).unwrap();
    assert_eq!(over.actor, "carol");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded);
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_release_is_promoted_through_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let mut plan = plan(vec![10, 50], 2.0, release("v2", "0"), 1.0);
    // This test is about the promotion flow; on a loaded 2-core CI machine a fresh Python
    // process shows latency hiccups of tens of ms, which the default 20 ms floor would judge.
    plan.analysis.as_mut().unwrap().thresholds =
        Some(Thresholds { min_samples: 20, latency_noise_floor_ms: 250.0, ..Thresholds::default() });
    let rollout = engine.run_rollout(&id, plan, "ops").await.unwrap();

    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    let events = engine.events(&id).await.unwrap();
    let promotions: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e.kind == EventKind::CanaryPromoted)
        .map(|e| {
            let d = e.data.as_ref().unwrap();
            (d["from_percent"].as_u64().unwrap(), d["to_percent"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(promotions, [(10, 50), (50, 100)]);
    let verdicts: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::Analysis)
        .map(|e| e.data.as_ref().unwrap()["judgement"]["verdict"].as_str().unwrap().to_owned())
        .collect();
    // A window that gathered too few requests on a busy machine is judged `inconclusive` and
    // observed longer; what matters is that nothing failed and every stage passed in the end.
    let passes = verdicts.iter().filter(|v| *v == "pass").count();
    assert!(passes >= 3, "10%, 50% and the monitoring window were judged: {verdicts:?}");
    assert!(verdicts.iter().all(|v| v == "pass" || v == "inconclusive"), "{verdicts:?}");
    let monitored = events.iter().any(|e| e.note.as_deref().is_some_and(|n| n.contains("monitor at 100%")));
    assert!(monitored, "the monitoring window ran before success");
    engine.close().await.unwrap();
}

/// Sends one `GET /` every `every` through the proxy until dropped: a trickle of traffic.
fn trickle(endpoint: &str, every: Duration) -> tokio::task::JoinHandle<()> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = format!("http://{endpoint}/").parse().unwrap();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(5), client.get(uri.clone())).await {
                let _ = http_body_util::BodyExt::collect(response.into_body()).await;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickle_of_traffic_is_judged_on_what_the_extensions_gathered() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalPlatform::new(LocalOptions::new(dir.path().join("state"))).unwrap();
    let engine = Engine::builder().path(dir.path().join("loco.db")).platform(Arc::new(local)).open().await.unwrap();
    let mut first = plan(vec![100], 0.0, release("v1", "0"), 0.0);
    (first.strategy, first.analysis) = (Strategy::Immediate {}, None);
    let v1 = engine.run_rollout(&approved(&engine).await, first, "ops").await.unwrap();
    // Ten requests a second, half to the canary: about 10 canary requests per 2 s window, never the
    // 20 one window needs; the extended window reaches them.
    let sender = trickle(&v1.progress.endpoint.unwrap(), Duration::from_millis(100));
    let id = approved(&engine).await;
    let mut plan = plan(vec![50], 2.0, release("v2", "0"), 0.0);
    let analysis = plan.analysis.as_mut().unwrap();
    analysis.thresholds = Some(Thresholds { min_samples: 20, latency_noise_floor_ms: 250.0, ..Thresholds::default() });
    analysis.inconclusive_extensions = 4;
    engine.start_rollout(&id, plan, "ops").await.unwrap();
    let rollout = engine.wait_rollout(&id).await.unwrap();
    sender.abort();

    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    let events = engine.events(&id).await.unwrap();
    let judged: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Analysis)
        .map(|e| {
            let judgement = &e.data.as_ref().unwrap()["judgement"];
            (judgement["verdict"].as_str().unwrap().to_owned(), judgement["canary"]["requests"].as_u64().unwrap())
        })
        .collect();
    let (last, first) = (judged.last().unwrap(), &judged[0]);
    assert_eq!(first.0, "inconclusive", "one 2 s window is too little: {judged:?}");
    assert_eq!(last.0, "pass", "{judged:?}");
    assert!(last.1 >= 20 && last.1 > first.1, "the window grew: {judged:?}");
    engine.close().await.unwrap();
}

/// The verdicts of a deployment's `analysis` events and the turns of its `step_progress` ones.
async fn verdicts_and_turns(engine: &Engine, id: &str) -> (Vec<String>, Vec<String>) {
    let events = engine.events(id).await.unwrap();
    let verdicts = events
        .iter()
        .filter(|e| e.kind == EventKind::Analysis)
        .map(|e| e.data.as_ref().unwrap()["judgement"]["verdict"].as_str().unwrap().to_owned())
        .collect();
    let turns = events
        .iter()
        .filter_map(|e| e.data.as_ref()?["action"].as_str().map(str::to_owned))
        .filter(|a| ["extend", "pause", "override", "rollback", "restored"].contains(&a.as_str()))
        .collect();
    (verdicts, turns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_that_stay_inconclusive_pause_and_an_unanswered_pause_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let mut plan = plan(vec![50], 0.5, release("v2", "0"), 0.0);
    let analysis = plan.analysis.as_mut().unwrap();
    // Never enough samples: every window is inconclusive.
    analysis.thresholds = Some(Thresholds { min_samples: 1_000_000, ..Thresholds::default() });
    (analysis.inconclusive_extensions, analysis.pause_timeout_seconds) = (1, 1.5);
    engine.start_rollout(&id, plan, "ops").await.unwrap();
    wait_for_state(&engine, &id, RolloutState::Paused).await;
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Started, "paused, waiting for a person");

    let rollout =
        tokio::time::timeout(Duration::from_secs(60), engine.wait_rollout(&id)).await.expect("ended").unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert_eq!(failure.code.as_str(), "pause_timeout", "{failure:?}");
    assert!(failure.message.contains("too few samples"), "{}", failure.message);
    let (verdicts, turns) = verdicts_and_turns(&engine, &id).await;
    assert_eq!(verdicts, ["inconclusive", "inconclusive"], "one window and its one extension");
    assert_eq!(turns, ["extend", "pause", "rollback", "restored"]);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_canary_stays_watched_and_an_override_switches_off_no_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _traffic) = with_v1(dir.path()).await;
    let id = approved(&engine).await;
    let mut plan = plan(vec![10, 50], 0.5, release("v2", "0"), 0.0);
    let analysis = plan.analysis.as_mut().unwrap();
    analysis.thresholds = Some(Thresholds { min_samples: 1_000_000, ..Thresholds::default() });
    (analysis.inconclusive_extensions, analysis.pause_timeout_seconds) = (0, 600.0);
    engine.start_rollout(&id, plan, "ops").await.unwrap();
    wait_for_state(&engine, &id, RolloutState::Paused).await;
    let continued = engine.override_rollout(&id, "carol", "the numbers are fine, go on").await.unwrap();
    assert_ne!(continued.state, RolloutState::Paused);
    // At 50 % the windows are inconclusive again: paused again, for up to ten minutes.
    let started = Instant::now();
    while engine.rollout(&id).await.unwrap().progress.traffic.iter().all(|w| w.percent != 50)
        || engine.rollout(&id).await.unwrap().state != RolloutState::Paused
    {
        assert!(started.elapsed() < Duration::from_secs(60), "never paused at 50 %");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The canary dies while nobody decides: it is rolled back at once, not after the pause.
    let paused = engine.rollout(&id).await.unwrap();
    let canary = paused.progress.instances.iter().find(|i| i.version == "v2").and_then(|i| i.pid).unwrap();
    let status = std::process::Command::new("kill").args(["-KILL", &canary.to_string()]).status().unwrap();
    assert!(status.success());
    let rollout =
        tokio::time::timeout(Duration::from_secs(60), engine.wait_rollout(&id)).await.expect("ended").unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    // Whichever critical rule sees it first: the proxy's 502s, or the failed health check.
    let code = rollout.failure.unwrap().code;
    assert!(matches!(code.as_str(), "analysis_critical" | "health_check_failed"), "{code:?}");
    let (_, turns) = verdicts_and_turns(&engine, &id).await;
    assert_eq!(turns, ["pause", "override", "pause", "rollback", "restored"]);
    engine.close().await.unwrap();
}

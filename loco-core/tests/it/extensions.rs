//! Probes and metric sources the embedding program registers by name: a plan naming them runs
//! them (a failing or hanging probe fails the rollout, a bad canary measured by a host source is
//! rolled back), and a plan naming one that is not registered is refused before anything starts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use loco_core::analysis::{MetricSource, WindowStats};
use loco_core::platform::extensions::HealthProbe;
use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{Instance, PlatformError, PlatformResult, Target};
use loco_core::rollout::{
    AnalysisSpec, HealthSpec, MetricSourceSpec, OnRestart, Probe, ReleaseSpec, RolloutPlan, RolloutState, Strategy,
};
use loco_core::{Engine, Status};

use crate::common::{request, temp_db};

/// Passes every instance except those of the versions in `failing`, and hangs on `hanging` ones;
/// records each call as `version/instance`.
struct VersionProbe {
    failing: &'static str,
    hanging: &'static str,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl HealthProbe for VersionProbe {
    fn name(&self) -> &'static str {
        "version-gate"
    }

    async fn check(&self, target: &Target, instance: &Instance) -> PlatformResult<()> {
        assert_eq!((target.service.as_str(), target.environment.as_str()), ("api", "staging"));
        self.calls.lock().unwrap().push(format!("{}/{}", instance.version, instance.id));
        if instance.version == self.hanging {
            std::future::pending::<()>().await;
        }
        if instance.version == self.failing {
            return Err(PlatformError::new(format!("{} answers 503 on /ready", instance.version)));
        }
        Ok(())
    }
}

/// Reports v2 failing 40 % of 200 requests with a slow tail, every other version healthy.
struct Datadog {
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl MetricSource for Datadog {
    fn name(&self) -> &'static str {
        "datadog"
    }

    async fn stats(&self, _target: &Target, version: &str, _window: Duration) -> PlatformResult<WindowStats> {
        self.asked.lock().unwrap().push(version.to_owned());
        let bad = version == "v2";
        let (errors, p99) = if bad { (80, 950.0) } else { (1, 40.0) };
        Ok(WindowStats {
            requests: 200,
            errors,
            error_rate: errors as f64 / 200.0,
            p50_ms: Some(20.0),
            p95_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
            ..WindowStats::default()
        })
    }
}

fn plan(version: &str, strategy: Strategy, probes: Vec<Probe>, analysis: Option<AnalysisSpec>) -> RolloutPlan {
    RolloutPlan {
        platform: "sim".into(),
        strategy,
        release: ReleaseSpec { version: version.into(), ..ReleaseSpec::default() },
        instances: 2,
        health: HealthSpec {
            probes,
            interval_seconds: 0.05,
            timeout_seconds: 0.3,
            retries: 1,
            backoff_initial_seconds: 0.01,
            ..HealthSpec::default()
        },
        analysis,
        scale_down_delay_seconds: 0.0,
        on_restart: OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

fn host_probe() -> Vec<Probe> {
    vec![Probe::Host { name: "version-gate".into() }]
}

async fn approved(engine: &Engine) -> String {
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

#[tokio::test]
async fn a_host_probe_gates_every_instance_and_its_failure_rolls_back() {
    let (_dir, path) = temp_db();
    let probe = Arc::new(VersionProbe { failing: "v2", hanging: "v3", calls: Mutex::new(Vec::new()) });
    let engine = Engine::builder()
        .path(&path)
        .platform(Arc::new(MemoryPlatform::new("sim")))
        .probe(probe.clone())
        .open()
        .await
        .unwrap();

    let id = approved(&engine).await;
    let v1 = engine.run_rollout(&id, plan("v1", Strategy::Immediate {}, host_probe(), None), "ops").await.unwrap();
    assert_eq!(v1.state, RolloutState::Succeeded);
    let checked: Vec<String> = probe.calls.lock().unwrap().clone();
    assert!(checked.len() >= 2 && checked.iter().all(|c| c.starts_with("v1/ins_")), "{checked:?}");

    let id = approved(&engine).await;
    let v2 = engine
        .run_rollout(&id, plan("v2", Strategy::Rolling { max_surge: 1, max_unavailable: 0 }, host_probe(), None), "ops")
        .await
        .unwrap();
    assert_eq!(v2.state, RolloutState::RolledBack);
    let failure = v2.failure.unwrap();
    assert!(failure.message.contains("host probe version-gate: v2 answers 503 on /ready"), "{}", failure.message);
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);

    // A probe that never answers fails at the health check's time limit, not later.
    let id = approved(&engine).await;
    let started = Instant::now();
    let v3 = engine.run_rollout(&id, plan("v3", Strategy::Immediate {}, host_probe(), None), "ops").await.unwrap();
    assert_eq!(v3.state, RolloutState::RolledBack);
    assert!(v3.failure.unwrap().message.contains("timed out after"));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_host_metric_source_judges_the_canary_and_serves_release_metrics() {
    let (_dir, path) = temp_db();
    let datadog = Arc::new(Datadog { asked: Mutex::new(Vec::new()) });
    // The simulated platform measures nothing: the host's source is the only judge.
    let engine = Engine::builder()
        .path(&path)
        .platform(Arc::new(MemoryPlatform::new("sim")))
        .metric_source(datadog.clone())
        .open()
        .await
        .unwrap();
    let analysis = AnalysisSpec {
        source: MetricSourceSpec::Host { name: "datadog".into() },
        poll_seconds: 0.05,
        monitor_seconds: 0.0,
        ..AnalysisSpec::default()
    };
    let id = approved(&engine).await;
    let v1 = engine.run_rollout(&id, plan("v1", Strategy::Immediate {}, vec![], None), "ops").await.unwrap();
    assert_eq!(v1.state, RolloutState::Succeeded);

    let id = approved(&engine).await;
    let canary = Strategy::Canary { steps: vec![25], interval_seconds: 5.0 };
    let v2 = engine.run_rollout(&id, plan("v2", canary, vec![], Some(analysis)), "ops").await.unwrap();
    assert_eq!(v2.state, RolloutState::RolledBack);
    let failure = v2.failure.unwrap();
    assert_eq!(failure.code.as_str(), "analysis_critical");
    assert!(failure.message.contains("p99 latency 950.0 ms"), "{}", failure.message);
    let asked = datadog.asked.lock().unwrap().clone();
    assert!(asked.contains(&"v2".to_owned()), "{asked:?}");

    let stats = engine.release_metrics(&id, "v2", Duration::from_secs(60)).await.unwrap();
    assert_eq!((stats.requests, stats.errors, stats.p99_ms), (200, 80, Some(950.0)));
}

#[tokio::test]
async fn a_plan_naming_an_unregistered_probe_or_source_is_refused_before_anything_starts() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim.clone()).open().await.unwrap();
    let id = approved(&engine).await;
    let analysis =
        AnalysisSpec { source: MetricSourceSpec::Host { name: "newrelic".into() }, ..AnalysisSpec::default() };
    let canary = Strategy::Canary { steps: vec![25], interval_seconds: 1.0 };
    let err = engine.start_rollout(&id, plan("v1", canary, host_probe(), Some(analysis)), "ops").await.err().unwrap();
    assert_eq!(err.code(), "validation_error");
    let fields: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["health.probes[0].name", "analysis.source.name"]);
    assert!(err.details()[1].message.contains("no metric source named 'newrelic'"), "{err}");
    // Nothing was recorded or started: the deployment is still approved, with no rollout.
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Approved);
    assert_eq!(engine.rollout(&id).await.err().unwrap().code(), "not_found");

    // An empty name is a plan error, whatever is registered.
    let nameless = plan("v1", Strategy::Immediate {}, vec![Probe::Host { name: " ".into() }], None);
    let err = engine.start_rollout(&id, nameless, "ops").await.err().unwrap();
    assert_eq!(err.details()[0].field, "health.probes[0].name");
}

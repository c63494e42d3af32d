//! The Prometheus metric source against a local fake server speaking the documented instant-query
//! API (`GET /api/v1/query?query=…` → `{"status": "success", "data": {"resultType": "vector", …}}`).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use loco_core::analysis::MetricSource;
use loco_core::analysis::prometheus::{PrometheusQueries, PrometheusSource, PrometheusSpec};
use loco_core::platform::Target;
use loco_core::platform::memory::MemoryPlatform;
use loco_core::rollout::{
    AnalysisSpec, HealthSpec, MetricSourceSpec, ReleaseSpec, RolloutPlan, RolloutState, Strategy,
};
use loco_core::{Engine, EventKind};

use crate::common::{request, temp_db};

/// Answers every query with the value `answer(query)` returns (`None` → an empty vector), and
/// keeps the decoded queries.
async fn fake_prometheus(answer: fn(&str) -> Option<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let query = req
                            .uri()
                            .query()
                            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "query"))
                            .map(|(_, v)| v.into_owned())
                            .unwrap_or_default();
                        log.lock().unwrap().push(query.clone());
                        let body = if req.uri().path() != "/api/v1/query" {
                            r#"{"status":"error","errorType":"not_found","error":"unknown path"}"#.to_owned()
                        } else if query.contains("syntax error") {
                            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 1"}"#.to_owned()
                        } else {
                            let result = answer(&query).map_or(String::new(), |v| {
                                format!(r#"{{"metric":{{}},"value":[1700000000.5,"{v}"]}}"#)
                            });
                            format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}"#)
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// v2 fails 60 of 100 requests with a slow tail; v1 is healthy.
fn bad_canary(query: &str) -> String {
    let v2 = query.contains(r#"version="v2""#);
    let value = if query.contains("code=~") {
        if v2 { 60.0 } else { 1.0 }
    } else if query.starts_with("sum(increase") {
        100.0
    } else if query.contains("histogram_quantile(0.99") {
        if v2 { 900.0 } else { 40.0 }
    } else if query.contains("histogram_quantile(0.95") {
        if v2 { 500.0 } else { 30.0 }
    } else {
        20.0
    };
    value.to_string()
}

fn target() -> Target {
    Target { service: "api".into(), environment: "prod".into() }
}

#[tokio::test]
async fn stats_come_from_instant_queries() {
    let (url, seen) = fake_prometheus(|q| Some(bad_canary(q))).await;
    let source = PrometheusSource::new(PrometheusSpec { url, queries: PrometheusQueries::default() });
    let stats = source.stats(&target(), "v2", Duration::from_secs(120)).await.unwrap();
    assert_eq!((stats.requests, stats.errors), (100, 60));
    assert!((stats.error_rate - 0.6).abs() < 1e-12);
    assert_eq!((stats.p50_ms, stats.p95_ms, stats.p99_ms), (Some(20.0), Some(500.0), Some(900.0)));
    assert!(stats.latencies_ms.is_empty(), "Prometheus gives aggregates only");
    let queries = seen.lock().unwrap().clone();
    assert_eq!(queries.len(), 5);
    assert!(
        queries.iter().all(|q| q.contains(r#"service="api",environment="prod",version="v2""#) && q.contains("[120s]")),
        "{queries:?}"
    );
}

#[tokio::test]
async fn empty_results_and_errors_are_reported_not_invented() {
    let (url, _) = fake_prometheus(|_| None).await;
    let source = PrometheusSource::new(PrometheusSpec { url: url.clone(), queries: PrometheusQueries::default() });
    let stats = source.stats(&target(), "v9", Duration::from_secs(60)).await.unwrap();
    assert_eq!((stats.requests, stats.p99_ms), (0, None));

    let broken = PrometheusQueries { requests: "syntax error(".into(), ..PrometheusQueries::default() };
    let err = PrometheusSource::new(PrometheusSpec { url, queries: broken })
        .stats(&target(), "v2", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.message.contains("parse error at char 1"), "{err}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable = PrometheusSource::new(PrometheusSpec {
        url: format!("http://{closed}"),
        queries: PrometheusQueries::default(),
    });
    assert!(
        unreachable.stats(&target(), "v2", Duration::from_secs(60)).await.unwrap_err().message.contains("query failed")
    );
}

#[tokio::test]
async fn a_rollout_judged_by_prometheus_rolls_back_a_bad_canary() {
    let (url, _) = fake_prometheus(|q| Some(bad_canary(q))).await;
    let (_dir, path) = temp_db();
    // The simulated platform measures nothing itself; Prometheus is the only judge.
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim.clone()).open().await.unwrap();
    let plan = |version: &str, strategy: Strategy, analysis: Option<AnalysisSpec>| RolloutPlan {
        platform: "sim".into(),
        strategy,
        release: ReleaseSpec { version: version.into(), ..ReleaseSpec::default() },
        instances: 1,
        health: HealthSpec { interval_seconds: 0.05, ..HealthSpec::default() },
        analysis,
        scale_down_delay_seconds: 0.0,
        on_restart: loco_core::rollout::OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    };
    let mut prod = request("api", "prod");
    prod.risk = Some("payment path".into());
    for (version, strategy, analysis) in [
        ("v1", Strategy::Immediate {}, None),
        (
            "v2",
            Strategy::Canary { steps: vec![10], interval_seconds: 5.0 },
            Some(AnalysisSpec {
                source: MetricSourceSpec::Prometheus(PrometheusSpec {
                    url: url.clone(),
                    queries: PrometheusQueries::default(),
                }),
                poll_seconds: 0.05,
                monitor_seconds: 0.0,
                ..AnalysisSpec::default()
            }),
        ),
    ] {
        let d = engine.create(prod.clone(), None).await.unwrap();
        engine.approve(&d.id, "bob", None).await.unwrap();
        let rollout = engine.run_rollout(&d.id, plan(version, strategy, analysis), "ops").await.unwrap();
        if version == "v1" {
            assert_eq!(rollout.state, RolloutState::Succeeded);
            continue;
        }
        assert_eq!(rollout.state, RolloutState::RolledBack);
        let failure = rollout.failure.unwrap();
        assert_eq!(failure.code.as_str(), "analysis_critical");
        assert!(
            failure.message.contains("error rate 60.0%") && failure.message.contains("p99 latency 900.0 ms"),
            "{}",
            failure.message
        );
        let events = engine.events(&d.id).await.unwrap();
        assert!(events.iter().any(|e| e.kind == EventKind::Analysis));
    }
    // A platform without metrics cannot be analysed with the platform as source.
    let d = engine.create(prod, None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    let err = engine
        .start_rollout(&d.id, plan("v3", Strategy::Immediate {}, Some(AnalysisSpec::default())), "ops")
        .await
        .err()
        .unwrap();
    assert_eq!(err.details()[0].field, "analysis.source");
}

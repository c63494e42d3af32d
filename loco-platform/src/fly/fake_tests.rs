//! The adapter against the Machines fake, method by method: what each call sends, under which
//! lease, and what it concludes from Fly's answers.

use std::collections::BTreeMap;
use std::time::Duration;

use loco_fakes::Fault;
use loco_fakes::fly::{CreateRefusal, FlyFake, FlyFakeOptions, MachineSnapshot, MachineState};
use serde_json::json;

use super::*;

const TOKEN: &str = "fm2_unit-secret-token-9b1d";

fn options() -> FlyOptions {
    FlyOptions {
        http: HttpTuning {
            request_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(5),
            ..HttpTuning::default()
        },
        lease_ttl: Duration::from_secs(13),
        stop_wait: Duration::from_secs(5),
        log_poll_interval: Duration::from_millis(20),
    }
}

fn settings(fake: &FlyFake, app: &str) -> FlySettings {
    FlySettings {
        app: app.to_owned(),
        region: None,
        api_url: Some(fake.base_url().to_owned()),
        logs_url: Some(fake.logs_url().to_owned()),
    }
}

async fn setup() -> (FlyFake, FlyPlatform) {
    let fake = FlyFake::start(FlyFakeOptions { token: TOKEN.into(), ..FlyFakeOptions::default() }).await.unwrap();
    let platform = FlyPlatform::with_options("fly", &settings(&fake, "shop"), TOKEN, options()).unwrap();
    (fake, platform)
}

fn target() -> Target {
    Target { service: "api".into(), environment: "prod".into() }
}

fn release(version: &str, tag: &str) -> ReleaseSpec {
    ReleaseSpec {
        version: version.into(),
        image: Some(format!("registry.fly.io/shop:{tag}")),
        env: BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]),
        secret_env: BTreeMap::from([("DB_PASSWORD".to_owned(), "s3cret".to_owned())]),
        ..ReleaseSpec::default()
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ins_{prefix}{i}")).collect()
}

/// Polls `health` until it is settled (the fake advances per poll, so no sleeping).
async fn settle(platform: &FlyPlatform, instance: &Instance) -> InstanceHealth {
    for _ in 0..30 {
        if let Ok(health) = platform.health(&target(), instance).await {
            return health;
        }
    }
    panic!("{} never settled", instance.id);
}

async fn deployed(platform: &FlyPlatform, version: &str, n: usize) -> Vec<Instance> {
    let instances = platform.deploy(&target(), &release(version, version), &ids(version, n)).await.unwrap();
    for instance in &instances {
        assert_eq!(settle(platform, instance).await, InstanceHealth::Running);
    }
    instances
}

fn routed(fake: &FlyFake) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in fake.live_machines().iter().filter(|m| m.routable()) {
        *counts.entry(m.meta("loco_version").unwrap().to_owned()).or_default() += 1;
    }
    counts
}

fn split(weights: &[(&str, u8)]) -> Vec<TrafficWeight> {
    weights.iter().map(|(v, p)| TrafficWeight { version: (*v).to_owned(), percent: *p }).collect()
}

#[tokio::test]
async fn deploy_creates_cordoned_machines_named_and_tagged_after_their_instances() {
    let (fake, platform) = setup().await;
    let instances = platform.deploy(&target(), &release("v1", "v1"), &ids("a", 2)).await.unwrap();
    assert_eq!(instances.len(), 2);
    let machines = fake.live_machines();
    for instance in &instances {
        let m: &MachineSnapshot = machines.iter().find(|m| Some(&m.id) == instance.platform_id.as_ref()).unwrap();
        assert_eq!(instance.state, InstanceState::Running);
        assert!(m.cordoned, "created out of routing");
        assert_eq!(m.name, instance.id.replace('_', "-"));
        assert_eq!(m.image, "registry.fly.io/shop:v1");
        assert_eq!(
            m.metadata,
            BTreeMap::from([
                ("loco_environment".to_owned(), "prod".to_owned()),
                ("loco_instance_id".to_owned(), instance.id.clone()),
                ("loco_service".to_owned(), "api".to_owned()),
                ("loco_version".to_owned(), "v1".to_owned()),
            ])
        );
        assert_eq!(m.env["DB_PASSWORD"], "s3cret");
        assert_eq!(m.env["GREETING"], "hi");
        assert_eq!(m.env["PORT"], "8080");
        assert_eq!(m.env["LOCO_INSTANCE_ID"], instance.id);
        assert_eq!(m.config["services"][0]["autostop"], "off");
        assert_eq!(m.checks.len(), 0, "not booted yet");
    }
    let creates = fake.recorder().matching("POST", "/v1/apps/shop/machines");
    assert_eq!(creates.len(), 2);
    assert!(creates.iter().all(|c| c.json()["skip_service_registration"] == true));
    assert!(fake.recorder().requests().iter().all(|r| r.header("authorization") == Some(&format!("FlyV1 {TOKEN}"))));

    let no_image = ReleaseSpec { image: None, ..release("v2", "v2") };
    let err = platform.deploy(&target(), &no_image, &ids("b", 1)).await.unwrap_err();
    assert_eq!(
        err.message,
        "release.image is required on Fly.io (the image reference machines of v2 run, e.g. registry.fly.io/app:tag)"
    );
    assert_eq!(fake.live_machines().len(), 2, "nothing created without an image");
}

#[tokio::test]
async fn new_machines_start_from_the_config_of_a_machine_the_app_already_runs() {
    let (fake, platform) = setup().await;
    let foreign = json!({
        "name": "launched-by-flyctl",
        "config": {
            "image": "registry.fly.io/shop:deployment-01",
            "guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 1024},
            "services": [{"protocol": "tcp", "internal_port": 3000, "autostop": "stop",
                          "checks": [{"type": "http", "path": "/healthz", "interval": "10s"}]}],
            "mounts": [{"volume": "vol_1", "path": "/data"}],
            "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
        }
    });
    let path = "/v1/apps/shop/machines";
    platform
        .api
        .machines
        .call(reqwest::Method::POST, path, Some(&foreign), &[], crate::http::Retry::Never)
        .await
        .unwrap();
    let instance = platform.deploy(&target(), &release("v1", "v1"), &ids("t", 1)).await.unwrap().remove(0);
    let m = fake.machine(instance.platform_id.as_deref().unwrap()).unwrap();
    assert_eq!(m.config["guest"]["memory_mb"], 1024);
    assert_eq!(m.config["services"][0]["internal_port"], 3000);
    assert_eq!(m.config["services"][0]["autostop"], "off", "shares count machines: none may auto-stop");
    assert!(m.config.get("mounts").is_none(), "a volume belongs to one machine");
    assert_eq!(m.env["PORT"], "3000");
    assert!(m.meta("fly_platform_version").is_none(), "flyctl's metadata is not claimed");
    assert_eq!(m.checks, [], "not booted yet");
    assert_eq!(settle(&platform, &instance).await, InstanceHealth::Running);
    assert_eq!(
        fake.machine(instance.platform_id.as_deref().unwrap()).unwrap().checks[0].0,
        "servicecheck-00-http-3000"
    );
}

#[tokio::test]
async fn health_waits_for_checks_and_reports_crash_loops_and_failures_as_exits() {
    let (fake, platform) = setup().await;
    let good = platform.deploy(&target(), &release("v1", "v1"), &ids("g", 1)).await.unwrap().remove(0);
    let first = platform.health(&target(), &good).await.unwrap_err();
    assert!(first.message.contains("is starting, not started yet"), "{first}");
    let second = platform.health(&target(), &good).await.unwrap_err();
    assert!(second.message.contains("not healthy: servicecheck-00-tcp-8080 warning"), "{second}");
    assert_eq!(platform.health(&target(), &good).await.unwrap(), InstanceHealth::Running);

    let bad = platform.deploy(&target(), &release("v2", "v2-bad"), &ids("b", 1)).await.unwrap().remove(0);
    for _ in 0..10 {
        let e = platform.health(&target(), &bad).await.unwrap_err();
        assert!(!e.message.contains("passing"), "{e}");
    }
    assert!(platform.health(&target(), &bad).await.unwrap_err().message.contains("critical"));

    let crash = platform.deploy(&target(), &release("v3", "crash-v3"), &ids("c", 1)).await.unwrap().remove(0);
    let InstanceHealth::Exited { reason } = settle(&platform, &crash).await else { panic!("crash loop not seen") };
    assert!(reason.contains("crash-looping: exited with code 1 after 2 restarts"), "{reason}");

    fake.fail_machine(good.platform_id.as_deref().unwrap());
    let InstanceHealth::Exited { reason } = platform.health(&target(), &good).await.unwrap() else { panic!() };
    assert!(reason.contains("is failed"), "{reason}");
    let gone = Instance { platform_id: Some("0000000000dead".into()), ..good.clone() };
    assert!(matches!(platform.health(&target(), &gone).await.unwrap(), InstanceHealth::Exited { .. }));
}

#[tokio::test]
async fn set_traffic_routes_the_closest_machine_counts_each_change_under_a_lease() {
    let (fake, platform) = setup().await;
    deployed(&platform, "v1", 2).await;
    platform.set_traffic(&target(), &split(&[("v1", 100)])).await.unwrap();
    assert_eq!(routed(&fake), BTreeMap::from([("v1".to_owned(), 2)]));
    deployed(&platform, "v2", 1).await;
    assert_eq!(routed(&fake), BTreeMap::from([("v1".to_owned(), 2)]), "a new machine gets no traffic");

    fake.recorder().clear();
    platform.set_traffic(&target(), &split(&[("v2", 10), ("v1", 90)])).await.unwrap();
    assert_eq!(routed(&fake), BTreeMap::from([("v1".to_owned(), 2), ("v2".to_owned(), 1)]), "10% is 1 of 3");
    let paths: Vec<String> = fake
        .recorder()
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.rsplit('/').next().unwrap()))
        .collect();
    assert_eq!(paths, ["GET machines", "POST lease", "POST uncordon", "DELETE lease"]);
    let requests = fake.recorder().requests();
    assert_eq!(requests[1].status, 201);
    let nonce = requests[2].header("fly-machine-lease-nonce").expect("the uncordon carried the lease's nonce");
    assert!(!nonce.is_empty());
    assert_eq!(requests[3].header("fly-machine-lease-nonce"), Some(nonce), "and the release too");

    let status = platform.status(&target()).await.unwrap();
    assert_eq!(status.traffic, split(&[("v1", 67), ("v2", 33)]));
    assert_eq!(status.endpoint.as_deref(), Some("https://shop.fly.dev"));
    assert_eq!(status.instances.len(), 3);

    platform.set_traffic(&target(), &split(&[("v2", 50), ("v1", 50)])).await.unwrap();
    assert_eq!(routed(&fake), BTreeMap::from([("v1".to_owned(), 1), ("v2".to_owned(), 1)]));
    platform.set_traffic(&target(), &split(&[("v2", 100)])).await.unwrap();
    assert_eq!(routed(&fake), BTreeMap::from([("v2".to_owned(), 1)]));
    assert!(fake.live_machines().iter().all(|m| m.lease_owner.is_none()), "every lease was released");

    let err = platform.set_traffic(&target(), &split(&[("v9", 50), ("v2", 50)])).await.unwrap_err();
    assert!(err.message.contains("version v9 of api/prod has no started machine to take its 50%"), "{err}");
    platform.set_traffic(&target(), &[]).await.unwrap();
    assert!(routed(&fake).is_empty(), "an empty split routes nothing");
}

#[tokio::test]
async fn a_lease_held_by_someone_else_fails_the_change_naming_the_holder() {
    let (fake, platform) = setup().await;
    let instances = deployed(&platform, "v1", 1).await;
    let id = instances[0].platform_id.clone().unwrap();
    fake.hold_lease(&id, "someone@else.com", Duration::from_secs(60)).unwrap();
    let err = platform.set_traffic(&target(), &split(&[("v1", 100)])).await.unwrap_err();
    assert!(err.message.contains("lease currently held by someone@else.com"), "{err}");
    assert!(fake.machine(&id).unwrap().cordoned, "nothing changed");
    fake.advance_clock(Duration::from_secs(61));
    platform.set_traffic(&target(), &split(&[("v1", 100)])).await.unwrap();
    assert!(fake.machine(&id).unwrap().routable());
}

#[tokio::test]
async fn stop_cordons_stops_and_destroys_and_is_idempotent() {
    let (fake, platform) = setup().await;
    let instances = deployed(&platform, "v1", 2).await;
    platform.set_traffic(&target(), &split(&[("v1", 100)])).await.unwrap();
    fake.recorder().clear();
    platform.stop(&target(), &instances[..1]).await.unwrap();
    let id = instances[0].platform_id.clone().unwrap();
    assert_eq!(fake.machine(&id).unwrap().state, MachineState::Destroying, "destroyed on its next tick");
    let steps: Vec<String> = fake
        .recorder()
        .requests()
        .iter()
        .map(|r| format!("{} {}?{}", r.method, r.path.rsplit('/').next().unwrap(), r.query))
        .collect();
    assert_eq!(steps[0], "POST lease?ttl=13");
    assert_eq!(&steps[1..3], ["POST cordon?", "POST stop?"]);
    assert!(steps[3].starts_with("GET wait?state=stopped&instance_id="), "{steps:?}");
    assert_eq!(steps[4], format!("DELETE {id}?kill=true"));
    assert_eq!(steps.len(), 5);
    assert!(fake.log_lines(&id).iter().any(|l| l.contains("Sending signal")));

    // Again, and an instance whose machine never came to be: both succeed.
    platform.stop(&target(), &instances[..1]).await.unwrap();
    let never = Instance { id: "ins_never".into(), platform_id: None, ..instances[0].clone() };
    platform.stop(&target(), &[never]).await.unwrap();
    // An instance recorded without its platform id is found by its metadata.
    let unrecorded = Instance { platform_id: None, ..instances[1].clone() };
    platform.stop(&target(), &[unrecorded]).await.unwrap();
    assert!(fake.live_machines().is_empty());
}

#[tokio::test]
async fn restore_keeps_what_runs_and_replaces_the_rest() {
    let (fake, platform) = setup().await;
    let known = deployed(&platform, "v1", 3).await;
    let failed = known[1].platform_id.clone().unwrap();
    fake.fail_machine(&failed);
    platform.stop(&target(), &known[2..]).await.unwrap();
    let before = fake.recorder().matching("POST", "/v1/apps/shop/machines").len();

    let restored = platform.restore(&target(), &release("v1", "v1"), &known, &ids("r", 3)).await.unwrap();
    let restored_ids: Vec<&str> = restored.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(restored_ids, [known[0].id.as_str(), "ins_r0", "ins_r1"]);
    assert_eq!(restored[0].platform_id, known[0].platform_id, "the running machine is kept");
    assert_eq!(fake.machine(&failed).unwrap().state, MachineState::Destroying, "the failed one is retired");
    assert_eq!(fake.recorder().matching("POST", "/v1/apps/shop/machines").len() - before, 2);
    let replacement = fake.machine(restored[1].platform_id.as_deref().unwrap()).unwrap();
    assert!(replacement.cordoned && replacement.image == "registry.fly.io/shop:v1");

    // Nothing known runs: at least one replacement.
    let gone = Instance { platform_id: Some("00000000000000".into()), ..known[0].clone() };
    let restored = platform.restore(&target(), &release("v1", "v1"), &[gone], &ids("s", 1)).await.unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].id, "ins_s0");
}

#[tokio::test]
async fn an_unknown_create_outcome_is_resolved_by_looking_never_by_creating_twice() {
    let (fake, platform) = setup().await;
    let unavailable = Fault::Status { status: 503, body: json!({"error": "service unavailable"}) };
    fake.faults().inject(Some("POST"), Some("/v1/apps/shop/machines"), &unavailable, 1);
    fake.lose_create_responses(1);
    let instances = platform.deploy(&target(), &release("v1", "v1"), &ids("u", 1)).await.unwrap();
    let creates: Vec<u16> =
        fake.recorder().matching("POST", "/v1/apps/shop/machines").iter().map(|r| r.status).collect();
    assert_eq!(creates, [503, 504], "the 503 made nothing: created again; the 504 had: found by its metadata");
    assert_eq!(fake.live_machines().len(), 1);
    assert_eq!(instances[0].platform_id.as_deref(), Some(fake.live_machines()[0].id.as_str()));

    // The same instance again: Fly says name_taken, and the machine is found, not duplicated.
    let again = platform.deploy(&target(), &release("v1", "v1"), &ids("u", 1)).await.unwrap();
    assert_eq!(again[0].platform_id, instances[0].platform_id);
    assert_eq!(fake.live_machines().len(), 1);

    fake.refuse_creates(CreateRefusal::InsufficientCapacity, 1);
    let err = platform.deploy(&target(), &release("v2", "v2"), &ids("x", 1)).await.unwrap_err();
    assert!(err.message.contains("(insufficient_capacity)") && err.message.contains("created 0 of 1"), "{err}");
}

#[tokio::test]
async fn logs_follow_a_machine_until_the_receiver_is_dropped() {
    let (fake, platform) = setup().await;
    let instance = deployed(&platform, "v1", 1).await.remove(0);
    let machine = instance.platform_id.clone().unwrap();
    let mut rx = platform.logs(&target(), &instance.id).await.unwrap();
    let mut lines = Vec::new();
    while lines.len() < 4 {
        lines.push(tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap());
    }
    assert!(lines.iter().all(|l| l.instance_id == instance.id && l.stream == LogStream::Stdout));
    assert!(lines[3].line.contains("listening on 0.0.0.0:8080"), "{lines:?}");
    fake.write_log(&machine, "GET /health 200");
    let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert_eq!(next.line, "GET /health 200");
    let tokens = fake.recorder().matching("GET", "/api/v1/apps/shop/logs");
    assert!(tokens.iter().skip(1).all(|r| r.query.contains("next_token=4") || r.query.contains("next_token=5")));

    platform.stop(&target(), std::slice::from_ref(&instance)).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), async { while rx.recv().await.is_some() {} }).await.is_ok(),
        "ends once the machine is gone"
    );
    assert!(
        platform
            .logs(&target(), "ins_nobody")
            .await
            .unwrap_err()
            .message
            .contains("no Fly machine runs instance ins_nobody")
    );
    platform.shutdown().await.unwrap();
}

#[tokio::test]
async fn test_connection_names_the_problem_and_never_the_token() {
    let (fake, platform) = setup().await;
    platform.test_connection().await.unwrap();
    let wrong = "fm2_wrong-token-xyz-123456";
    let cases = [
        (wrong, "shop", "token rejected"),
        (TOKEN, "nope", "Fly.io app 'nope' not found"),
        (TOKEN, "not-yours", "belongs to another organization"),
    ];
    for (token, app, says) in cases {
        let p = FlyPlatform::with_options("fly", &settings(&fake, app), token, options()).unwrap();
        let err = p.test_connection().await.unwrap_err();
        assert!(err.message.contains(says), "{err}");
        assert!(!err.message.contains(token), "{err}");
        assert!(err.message.contains("request id"), "Fly's request id is kept: {err}");
    }
    let bearer = FlyPlatform::with_options("fly", &settings(&fake, "shop"), "oauth-token-abc", options()).unwrap();
    bearer.test_connection().await.unwrap_err();
    assert_eq!(fake.recorder().requests().last().unwrap().header("authorization"), Some("Bearer oauth-token-abc"));
    assert!(FlyPlatform::new("fly", &settings(&fake, "shop"), " ").is_err());
}

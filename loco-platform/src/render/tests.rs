//! The adapter's calls one by one against the Render fake: what each sends, and how it reads
//! what Render answers.

use std::time::Duration;

use loco_fakes::render::{RenderFake, RenderFakeOptions, ServiceSeed};

use super::*;

const TOKEN: &str = "rnd_unit_Token_0123456789";
const IMAGE: &str = "srv-image000000000000000";
const GIT: &str = "srv-git00000000000000000";

async fn fake_with(tune: impl FnOnce(&mut RenderFakeOptions)) -> RenderFake {
    let mut options = RenderFakeOptions {
        token: TOKEN.to_owned(),
        services: vec![
            ServiceSeed::image(IMAGE, "shop", "docker.io/acme/shop:latest"),
            ServiceSeed::git(GIT, "api", "https://github.com/acme/api", "main"),
        ],
        ..RenderFakeOptions::default()
    };
    tune(&mut options);
    RenderFake::start(options).await.unwrap()
}

async fn fake() -> RenderFake {
    fake_with(|_| {}).await
}

fn adapter(fake: &RenderFake, service: &str) -> RenderPlatform {
    let settings =
        RenderSettings { service_id: service.to_owned(), owner_id: None, api_url: Some(fake.base_url().to_owned()) };
    let tuning = RenderTuning {
        http: HttpTuning {
            request_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(5),
            ..HttpTuning::default()
        },
        log_poll_interval: Duration::from_millis(10),
    };
    RenderPlatform::with_tuning("render", &settings, TOKEN, tuning).unwrap()
}

fn target() -> Target {
    Target { service: "shop".into(), environment: "prod".into() }
}

fn release(version: &str, tag: &str) -> ReleaseSpec {
    ReleaseSpec { version: version.into(), image: Some(format!("docker.io/acme/shop:{tag}")), ..ReleaseSpec::default() }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ins_{i}")).collect()
}

fn only(version: &str) -> Vec<TrafficWeight> {
    vec![TrafficWeight { version: version.into(), percent: 100 }]
}

/// Deploys `version` and polls its health until the deploy is complete.
async fn live(render: &RenderPlatform, version: &str, tag: &str) -> Vec<Instance> {
    let instances = render.deploy(&target(), &release(version, tag), &ids(1)).await.unwrap();
    settle(render, &instances[0]).await;
    instances
}

async fn settle(render: &RenderPlatform, instance: &Instance) -> InstanceHealth {
    for _ in 0..10 {
        if let Ok(health) = render.health(&target(), instance).await {
            return health;
        }
    }
    panic!("the deploy of {} never completed", instance.id);
}

#[tokio::test]
async fn settings_and_keys_are_checked_when_built() {
    let fake = fake().await;
    let mut settings = RenderSettings { service_id: IMAGE.into(), owner_id: None, api_url: None };
    assert!(RenderPlatform::new("render", &settings, "  ").unwrap_err().message.contains("API key is empty"));
    settings.service_id = "srv-1/../../x".into();
    assert!(RenderPlatform::new("render", &settings, TOKEN).unwrap_err().message.contains("not a Render service id"));
    let render = adapter(&fake, IMAGE);
    let capabilities = render.capabilities();
    assert_eq!(capabilities.traffic, TrafficControl::AtomicSwap);
    assert!(capabilities.native_rollback && capabilities.logs && !capabilities.metrics);
    assert!(!render.instances_die_with_engine());
}

#[tokio::test]
async fn one_deploy_per_call_with_the_instance_count_scaled_and_its_id_on_every_instance() {
    let fake = fake().await;
    let render = adapter(&fake, IMAGE);
    let instances = render.deploy(&target(), &release("v1", "v1"), &ids(3)).await.unwrap();
    let deploys = fake.deploys(IMAGE);
    assert_eq!(deploys.len(), 1);
    assert_eq!(instances.len(), 3);
    assert!(instances.iter().all(|i| i.platform_id.as_deref() == Some(deploys[0].id.as_str())));
    assert!(instances.iter().all(|i| i.state == InstanceState::Running && i.version == "v1"));
    let scale = fake.recorder().matching("POST", "/scale");
    assert_eq!((scale.len(), scale[0].json()["numInstances"].as_u64()), (1, Some(3)));
    assert_eq!(fake.num_instances(IMAGE), 3);
    // The same count again: no scale call.
    render.deploy(&target(), &release("v2", "v2"), &ids(3)).await.unwrap();
    assert_eq!(fake.recorder().matching("POST", "/scale").len(), 1);
}

#[tokio::test]
async fn the_release_must_name_what_the_service_deploys() {
    let fake = fake().await;
    let no_image = ReleaseSpec { version: "v1".into(), commit: Some("abc".into()), ..ReleaseSpec::default() };
    let err = adapter(&fake, IMAGE).deploy(&target(), &no_image, &ids(1)).await.unwrap_err();
    assert!(err.message.contains("set release.image"), "{err}");
    let err = adapter(&fake, GIT).deploy(&target(), &release("v1", "v1"), &ids(1)).await.unwrap_err();
    assert!(err.message.contains("set release.commit"), "{err}");
    assert!(fake.recorder().matching("POST", "/deploys").is_empty(), "refused before anything was sent");

    let other_repo = ReleaseSpec { image: Some("docker.io/other/shop:v1".into()), ..release("v1", "v1") };
    let err = adapter(&fake, IMAGE).deploy(&target(), &other_repo, &ids(1)).await.unwrap_err();
    assert!(err.message.contains("HTTP 400") && err.message.contains("only the tag or digest"), "{err}");

    let git = adapter(&fake, GIT);
    let commit = ReleaseSpec { version: "v1".into(), commit: Some("c0ffee".into()), ..ReleaseSpec::default() };
    let instances = git.deploy(&target(), &commit, &ids(1)).await.unwrap();
    let sent = fake.recorder().matching("POST", &format!("{GIT}/deploys"))[0].json();
    assert_eq!(sent, serde_json::json!({"commitId": "c0ffee", "clearCache": "do_not_clear"}));
    assert_eq!(settle(&git, &instances[0]).await, InstanceHealth::Running, "built, then live");
}

#[tokio::test]
async fn health_follows_the_deploy_status() {
    let fake = fake().await;
    let render = adapter(&fake, IMAGE);
    let v1 = render.deploy(&target(), &release("v1", "v1"), &ids(1)).await.unwrap();
    let id = v1[0].platform_id.clone().unwrap();
    let err = render.health(&target(), &v1[0]).await.unwrap_err();
    assert_eq!(err.message, format!("deploy {id} is update_in_progress"));
    assert_eq!(render.health(&target(), &v1[0]).await.unwrap(), InstanceHealth::Running);

    let bad = render.deploy(&target(), &release("v2", "v2-bad"), &ids(1)).await.unwrap();
    let InstanceHealth::Exited { reason } = settle(&render, &bad[0]).await else { panic!("a failed deploy runs") };
    assert!(reason.ends_with("is update_failed"), "{reason}");
    live(&render, "v3", "v3").await;
    let InstanceHealth::Exited { reason } = render.health(&target(), &v1[0]).await.unwrap() else { panic!() };
    assert!(reason.contains("deactivated"), "{reason}");
    let unknown = Instance { platform_id: None, id: "ins_never".into(), ..v1[0].clone() };
    assert!(matches!(render.health(&target(), &unknown).await.unwrap(), InstanceHealth::Exited { .. }));
    let gone = Instance { platform_id: Some("dep-gone".into()), ..v1[0].clone() };
    let InstanceHealth::Exited { reason } = render.health(&target(), &gone).await.unwrap() else { panic!() };
    assert!(reason.contains("not found"), "{reason}");
}

#[tokio::test]
async fn traffic_can_only_follow_the_live_deploy() {
    let fake = fake().await;
    let render = adapter(&fake, IMAGE);
    render.set_traffic(&target(), &[]).await.expect("nothing serves yet");
    let v1 = live(&render, "v1", "v1").await;
    render.set_traffic(&target(), &only("v1")).await.unwrap();
    let err = render.set_traffic(&target(), &only("v2")).await.unwrap_err();
    assert!(err.message.contains("traffic: atomic_swap") && err.message.contains("version v2"), "{err}");
    let split =
        [TrafficWeight { version: "v2".into(), percent: 10 }, TrafficWeight { version: "v1".into(), percent: 90 }];
    let err = render.set_traffic(&target(), &split).await.unwrap_err();
    assert!(err.message.contains("cannot split traffic (traffic: atomic_swap)"), "{err}");
    assert!(render.set_traffic(&target(), &[]).await.unwrap_err().message.contains("still serves"));

    let v2 = render.deploy(&target(), &release("v2", "v2"), &ids(1)).await.unwrap();
    settle(&render, &v2[0]).await;
    render.set_traffic(&target(), &only("v2")).await.unwrap();
    let status = render.status(&target()).await.unwrap();
    assert_eq!((status.traffic, status.endpoint.as_deref()), (only("v2"), Some("https://shop.onrender.com")));
    assert_eq!(status.instances.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["ins_0"]);
    assert_eq!(status.instances[0].platform_id, v2[0].platform_id);
    assert_ne!(v1[0].platform_id, v2[0].platform_id);
}

#[tokio::test]
async fn stopping_the_live_deploy_suspends_the_service_and_other_stops_change_nothing() {
    let fake = fake().await;
    let render = adapter(&fake, IMAGE);
    let v1 = live(&render, "v1", "v1").await;
    let v2 = live(&render, "v2", "v2").await;
    render.stop(&target(), &v1).await.unwrap();
    assert!(!fake.suspended(IMAGE), "v1's deploy is deactivated: nothing to stop");

    let stuck = render.deploy(&target(), &release("v3", "v3-stuck"), &ids(2)).await.unwrap();
    render.stop(&target(), &stuck).await.unwrap();
    let stuck_id = stuck[0].platform_id.clone().unwrap();
    assert_eq!(fake.deploy(IMAGE, &stuck_id).unwrap().status, "canceled");
    assert_eq!(fake.recorder().matching("POST", "/cancel").len(), 1, "one deploy, one cancel");

    render.stop(&target(), &v2).await.unwrap();
    assert!(fake.suspended(IMAGE), "stopping what serves takes the service down");
    render.stop(&target(), &v2).await.unwrap();
    assert_eq!(fake.recorder().matching("POST", "/suspend").len(), 1, "stopping again changes nothing");
    render.set_traffic(&target(), &[]).await.expect("nothing serves now");
    assert!(render.status(&target()).await.unwrap().traffic.is_empty());
    let err = render.set_traffic(&target(), &only("v2")).await.unwrap_err();
    assert!(err.message.contains("(suspended)"), "{err}");

    // Strays without a platform id that this process never started are unknown: nothing to do.
    let stray = Instance { id: "ins_stray".into(), platform_id: None, ..v2[0].clone() };
    render.stop(&target(), &[stray]).await.unwrap();
}

#[tokio::test]
async fn restore_rolls_back_natively_and_falls_back_to_a_new_deploy() {
    let fake = fake_with(|o| o.retained_deploys = 1).await;
    let render = adapter(&fake, IMAGE);
    let v1 = live(&render, "v1", "v1").await;
    live(&render, "v2", "v2").await;
    // v3 is stuck in progress: the restore cancels it so it cannot go live after the rollback.
    let v3 = render.deploy(&target(), &release("v3", "v3-stuck"), &ids(1)).await.unwrap();

    let restored = render.restore(&target(), &release("v1", "v1"), &v1, &["ins_r1".to_owned()]).await.unwrap();
    let v3_id = v3[0].platform_id.clone().unwrap();
    assert_eq!(fake.deploy(IMAGE, &v3_id).unwrap().status, "canceled");
    let rollbacks = fake.recorder().matching("POST", "/rollback");
    assert_eq!(rollbacks[0].status, 400, "only the last live deploy is retained");
    let created = fake.deploys(IMAGE).pop().unwrap();
    assert_eq!((created.trigger.as_str(), created.image.as_deref()), ("api", Some("docker.io/acme/shop:v1")));
    assert_eq!(restored[0].platform_id.as_deref(), Some(created.id.as_str()));
    assert_eq!((restored[0].id.as_str(), restored[0].version.as_str()), ("ins_r1", "v1"));
    assert_eq!(settle(&render, &restored[0]).await, InstanceHealth::Running);
    render.set_traffic(&target(), &only("v1")).await.unwrap();

    // The release now live is retained: rolling back to it is native.
    let again = render.restore(&target(), &release("v1", "v1"), &restored, &["ins_r2".to_owned()]).await.unwrap();
    let last = fake.deploys(IMAGE).pop().unwrap();
    assert_eq!(last.trigger, "rollback");
    assert_eq!(again[0].platform_id.as_deref(), Some(last.id.as_str()));

    // A suspended service is resumed; without a platform id, the release is deployed again.
    fake.tick(IMAGE, 5);
    render.stop(&target(), &again).await.unwrap();
    assert!(fake.suspended(IMAGE));
    let fresh = Instance { platform_id: None, ..v1[0].clone() };
    let back = render.restore(&target(), &release("v1", "v1"), &[fresh], &["ins_r3".to_owned()]).await.unwrap();
    assert!(!fake.suspended(IMAGE));
    assert_eq!(fake.deploys(IMAGE).pop().unwrap().id, back[0].platform_id.clone().unwrap());
}

#[tokio::test]
async fn a_new_process_learns_versions_from_recorded_instances() {
    let fake = fake().await;
    let first = adapter(&fake, IMAGE);
    let v1 = first.deploy(&target(), &release("1.0.0", "sha-abc"), &ids(1)).await.unwrap();
    settle(&first, &v1[0]).await;
    let second = adapter(&fake, IMAGE);
    let err = second.set_traffic(&target(), &only("1.0.0")).await.unwrap_err();
    assert!(err.message.contains("of version sha-abc"), "named by its tag until learned: {err}");
    second.health(&target(), &v1[0]).await.unwrap();
    second.set_traffic(&target(), &only("1.0.0")).await.unwrap();
}

#[tokio::test]
async fn logs_page_through_the_service_lines_then_follow_new_ones() {
    let fake = fake().await;
    let render = adapter(&fake, IMAGE);
    for n in 0..150 {
        fake.push_log(IMAGE, "app", "info", &format!("line {n}"));
    }
    let mut lines = render.logs(&target(), "ins_x").await.unwrap();
    for n in 0..150 {
        let line = tokio::time::timeout(Duration::from_secs(5), lines.recv()).await.unwrap().unwrap();
        assert_eq!((line.line, line.instance_id.as_str()), (format!("line {n}"), "ins_x"));
    }
    fake.push_log(IMAGE, "request", "info", "GET / 200");
    fake.push_log(IMAGE, "app", "error", "boom");
    let line = tokio::time::timeout(Duration::from_secs(5), lines.recv()).await.unwrap().unwrap();
    assert_eq!((line.line.as_str(), line.stream), ("boom", crate::LogStream::Stderr), "request logs are not output");
    let pages = fake.recorder().matching("GET", "/v1/logs");
    assert!(pages.len() >= 3, "100 lines a page, then polls");
    assert!(pages.iter().all(|p| p.query.contains("type=app&type=build") && p.query.contains("direction=forward")));
    drop(lines);
    // The follower stops once the receiver is gone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = fake.recorder().matching("GET", "/v1/logs").len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.recorder().matching("GET", "/v1/logs").len(), after);
}

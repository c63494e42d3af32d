//! The adapter's calls one by one against the Railway fake: what each sends, and how it reads
//! what Railway answers.

use std::time::Duration;

use loco_fakes::railway::{RailwayFake, RailwayFakeOptions, ServiceSeed};

use super::*;

const TOKEN: &str = "rw_unit_Token_0123456789";
const SHOP: &str = "svc-shop";
const API: &str = "svc-api";
const ENV: &str = "env-production";
const HEAD: &str = "4f1c0c5e9d0b8a7f6e5d4c3b2a1908f7e6d5c4b3";

async fn fake() -> RailwayFake {
    RailwayFake::start(RailwayFakeOptions {
        account_token: TOKEN.to_owned(),
        services: vec![
            ServiceSeed::image(SHOP, "shop", "ghcr.io/acme/shop:latest"),
            ServiceSeed::repo(API, "api", "acme/api", &[HEAD]),
        ],
        ..RailwayFakeOptions::default()
    })
    .await
    .unwrap()
}

fn adapter(fake: &RailwayFake, service: &str) -> RailwayPlatform {
    let settings = RailwaySettings {
        project_id: "prj-fake".into(),
        environment_id: ENV.into(),
        service_id: service.into(),
        token_kind: RailwayTokenKind::Account,
        api_url: Some(fake.graphql_url()),
    };
    let tuning = RailwayTuning {
        http: HttpTuning {
            request_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(5),
            ..HttpTuning::default()
        },
        log_poll_interval: Duration::from_millis(10),
    };
    RailwayPlatform::with_tuning("railway", &settings, TOKEN, tuning).unwrap()
}

fn target() -> Target {
    Target { service: "shop".into(), environment: "prod".into() }
}

fn release(version: &str, tag: &str) -> ReleaseSpec {
    ReleaseSpec { version: version.into(), image: Some(format!("ghcr.io/acme/shop:{tag}")), ..ReleaseSpec::default() }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ins_{i}")).collect()
}

/// Polls an instance's health until its deployment has an outcome.
async fn settle(railway: &RailwayPlatform, instance: &Instance) -> InstanceHealth {
    for _ in 0..10 {
        if let Ok(health) = railway.health(&target(), instance).await {
            return health;
        }
    }
    panic!("the deployment of {} never finished", instance.id);
}

#[tokio::test]
async fn an_empty_token_is_refused_and_a_project_token_goes_in_its_own_header() {
    let fake = fake().await;
    let mut settings = RailwaySettings {
        project_id: "prj-fake".into(),
        environment_id: ENV.into(),
        service_id: SHOP.into(),
        token_kind: RailwayTokenKind::Project,
        api_url: Some(fake.graphql_url()),
    };
    assert!(RailwayPlatform::new("railway", &settings, " ").unwrap_err().message.contains("token is empty"));
    let project = RailwayPlatform::new("railway", &settings, "rw_project_secret_123").unwrap();
    let message = project.test_connection().await.unwrap_err().message;
    assert!(message.contains("token rejected") && !message.contains("rw_project_secret_123"), "{message}");
    let sent = &fake.recorder().requests()[0];
    assert_eq!(sent.header("project-access-token"), Some("rw_project_secret_123"));
    assert_eq!(sent.header("authorization"), None);
    settings.token_kind = RailwayTokenKind::Account;
    assert_eq!(adapter(&fake, SHOP).capabilities().traffic, TrafficControl::AtomicSwap);
}

#[tokio::test]
async fn a_release_without_image_or_commit_is_refused_before_anything_is_sent() {
    let fake = fake().await;
    let railway = adapter(&fake, SHOP);
    let bare = ReleaseSpec { version: "v1".into(), ..ReleaseSpec::default() };
    let message = railway.deploy(&target(), &bare, &ids(1)).await.unwrap_err().message;
    assert!(message.contains("release.image"), "{message}");
    assert!(fake.recorder().requests().is_empty());
    let commit_only = ReleaseSpec { commit: Some(HEAD.into()), ..bare };
    let message = railway.deploy(&target(), &commit_only, &ids(1)).await.unwrap_err().message;
    assert!(message.contains("prebuilt image") && message.contains("release.image"), "{message}");
    assert!(fake.deployments().is_empty());
}

#[tokio::test]
async fn a_commit_is_deployed_with_its_sha_and_replicas_follow_the_instance_count() {
    let fake = fake().await;
    let railway = adapter(&fake, API);
    let release = ReleaseSpec { version: "v1".into(), commit: Some(HEAD.into()), ..ReleaseSpec::default() };
    let instances = railway.deploy(&target(), &release, &ids(2)).await.unwrap();
    assert_eq!(instances.len(), 2);
    let update = fake.requests_for("ServiceInstanceUpdate");
    assert_eq!(update[0].json()["variables"]["input"], serde_json::json!({ "numReplicas": 2 }));
    let deploy = fake.requests_for("ServiceInstanceDeployV2");
    assert_eq!(deploy[0].json()["variables"]["commitSha"], HEAD);
    let all = fake.deployments();
    assert_eq!((all[0].commit.as_deref(), all[0].num_replicas), (Some(HEAD), 2));
    assert!(instances.iter().all(|i| i.platform_id.as_deref() == Some(all[0].id.as_str())));
    assert_eq!(settle(&railway, &instances[0]).await, InstanceHealth::Running);
    let unknown = ReleaseSpec { version: "v2".into(), commit: Some("deadbeef".into()), ..ReleaseSpec::default() };
    let message = railway.deploy(&target(), &unknown, &ids(2)).await.unwrap_err().message;
    assert!(message.contains("Commit not found"), "{message}");
}

#[tokio::test]
async fn health_maps_each_status_and_stop_cancels_or_removes() {
    let fake = fake().await;
    let railway = adapter(&fake, SHOP);
    let v1 = railway.deploy(&target(), &release("v1", "v1"), &ids(1)).await.unwrap();
    let first = railway.health(&target(), &v1[0]).await.unwrap_err().message;
    assert!(first.contains("is DEPLOYING"), "in progress is not ready: {first}");
    assert_eq!(settle(&railway, &v1[0]).await, InstanceHealth::Running);
    let bad = railway.deploy(&target(), &release("v2", "v2-bad"), &ids(1)).await.unwrap();
    let InstanceHealth::Exited { reason } = settle(&railway, &bad[0]).await else { panic!("a failed one runs") };
    assert!(reason.contains("FAILED"), "{reason}");
    let stuck = railway.deploy(&target(), &release("v3", "v3-stuck"), &ids(1)).await.unwrap();
    railway.stop(&target(), &stuck).await.unwrap();
    assert_eq!(fake.requests_for("DeploymentCancel").len(), 1);
    let InstanceHealth::Exited { reason } = settle(&railway, &stuck[0]).await else { panic!("canceled runs") };
    assert!(reason.contains("REMOVED"), "{reason}");
    railway.stop(&target(), &bad).await.unwrap();
    assert!(fake.requests_for("DeploymentRemove").is_empty(), "a failed deployment needs nothing");
    railway.stop(&target(), &v1).await.unwrap();
    assert_eq!(fake.requests_for("DeploymentRemove").len(), 1);
    fake.tick(1);
    assert!(fake.active(SHOP, ENV).is_none());
    railway.set_traffic(&target(), &[]).await.unwrap();
}

#[tokio::test]
async fn splits_are_refused_and_a_rollback_past_retention_deploys_the_image_again() {
    let fake = fake().await;
    let railway = adapter(&fake, SHOP);
    let v1 = railway.deploy(&target(), &release("v1", "v1"), &ids(1)).await.unwrap();
    settle(&railway, &v1[0]).await;
    let v2 = railway.deploy(&target(), &release("v2", "v2"), &ids(1)).await.unwrap();
    settle(&railway, &v2[0]).await;
    let split =
        [TrafficWeight { version: "v1".into(), percent: 50 }, TrafficWeight { version: "v2".into(), percent: 50 }];
    let message = railway.set_traffic(&target(), &split).await.unwrap_err().message;
    assert!(message.contains("atomic_swap"), "{message}");
    let only_v1 = [TrafficWeight { version: "v1".into(), percent: 100 }];
    assert!(railway.set_traffic(&target(), &only_v1).await.unwrap_err().message.contains("version v2 is active"));

    fake.expire(v1[0].platform_id.as_deref().unwrap());
    let restored = railway.restore(&target(), &release("v1", "v1"), &v1, &ids(1)).await.unwrap();
    assert!(fake.requests_for("DeploymentRollback").is_empty(), "Railway would refuse it: not sent");
    let all = fake.deployments();
    assert_eq!((all.len(), all[2].reason.as_str()), (3, "deploy"));
    assert_eq!(all[2].image.as_deref(), Some("ghcr.io/acme/shop:v1"));
    assert_eq!(restored[0].platform_id.as_deref(), Some(all[2].id.as_str()));
    assert_eq!(settle(&railway, &restored[0]).await, InstanceHealth::Running);
    railway.set_traffic(&target(), &only_v1).await.unwrap();
}

//! The Render fake on its own, over real HTTP on 127.0.0.1: auth, lists, the deploy state
//! machine and its failures, rollback and retention, cancel, scale, suspend, logs paging, rate
//! limits, injected faults and the request record.

mod support;

use std::time::Duration;

use loco_fakes::render::{DEPLOY_LIMIT, RenderFake, RenderFakeOptions, ServiceSeed};
use serde_json::{Value, json};
use support::Answer;

const TOKEN: &str = "rnd_test_key_abcdefghijklmnop";
const IMAGE_SERVICE: &str = "srv-image0000000000000";
const GIT_SERVICE: &str = "srv-git00000000000000000";

async fn fake_with(tune: impl FnOnce(&mut RenderFakeOptions)) -> RenderFake {
    let mut options = RenderFakeOptions {
        token: TOKEN.to_owned(),
        services: vec![
            ServiceSeed::image(IMAGE_SERVICE, "shop", "docker.io/acme/shop:latest"),
            ServiceSeed::git(GIT_SERVICE, "api", "https://github.com/acme/api", "main"),
        ],
        ..RenderFakeOptions::default()
    };
    tune(&mut options);
    RenderFake::start(options).await.expect("start the fake")
}

async fn fake() -> RenderFake {
    fake_with(|_| {}).await
}

/// One request to the fake, with `Authorization: Bearer token` when a token is given.
async fn send(fake: &RenderFake, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let authorization = token.map(|token| format!("Bearer {token}"));
    support::send(fake.base_url(), method, path, authorization.as_deref(), &[], body.as_ref()).await
}

async fn get(fake: &RenderFake, path: &str) -> Answer {
    send(fake, "GET", path, Some(TOKEN), None).await
}

async fn post(fake: &RenderFake, path: &str, body: Value) -> Answer {
    send(fake, "POST", path, Some(TOKEN), Some(body)).await
}

async fn deploy_image(fake: &RenderFake, tag: &str) -> Value {
    let answer = post(fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys"), json!({"imageUrl": image(tag)})).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.body
}

fn image(tag: &str) -> String {
    format!("docker.io/acme/shop:{tag}")
}

/// Polls a deploy until it is complete; returns every status seen, in order.
async fn statuses_until_complete(fake: &RenderFake, service: &str, id: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let answer = get(fake, &format!("/v1/services/{service}/deploys/{id}")).await;
        assert_eq!(answer.status, 200);
        let status = answer.body["status"].as_str().unwrap().to_owned();
        let done = ["live", "deactivated", "build_failed", "update_failed", "pre_deploy_failed", "canceled"]
            .contains(&status.as_str());
        seen.push(status);
        if done {
            return seen;
        }
    }
    panic!("deploy {id} never completed: {seen:?}");
}

#[tokio::test]
async fn the_bearer_key_is_required_and_errors_have_renders_shape() {
    let fake = fake().await;
    for token in [None, Some("rnd_wrong")] {
        let answer = send(&fake, "GET", "/v1/users", token, None).await;
        assert_eq!(answer.status, 401);
        assert!(answer.body["id"].is_string() && answer.body["message"] == "unauthorized", "{answer:?}");
    }
    let me = get(&fake, "/v1/users").await;
    assert_eq!((me.status, me.body["email"].as_str()), (200, Some("ops@acme.test")));
    let missing = get(&fake, "/v1/services/srv-nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["message"], "service srv-nope not found");
    assert!(missing.body["id"].is_string());
    let recorded = fake.recorder().matching("GET", "/v1/users");
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(recorded.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 401, 200]);
}

#[tokio::test]
async fn lists_are_cursor_wrapped_and_paged() {
    let fake = fake().await;
    let owners = get(&fake, "/v1/owners?limit=20").await;
    assert_eq!(owners.body[0]["owner"]["id"], "tea-fake0owner0000000000");
    assert!(owners.body[0]["cursor"].is_string());

    let first = get(&fake, "/v1/services?limit=1").await;
    assert_eq!(first.body.as_array().unwrap().len(), 1);
    assert_eq!(first.body[0]["service"]["id"], IMAGE_SERVICE);
    let cursor = first.body[0]["cursor"].as_str().unwrap();
    let second = get(&fake, &format!("/v1/services?limit=1&cursor={cursor}")).await;
    assert_eq!(second.body[0]["service"]["id"], GIT_SERVICE);
    let named = get(&fake, "/v1/services?name=api&type=web_service").await;
    assert_eq!(named.body.as_array().unwrap().len(), 1);
    assert_eq!(named.body[0]["service"]["repo"], "https://github.com/acme/api");

    let service = get(&fake, &format!("/v1/services/{IMAGE_SERVICE}")).await.body;
    assert_eq!(service["imagePath"], "docker.io/acme/shop:latest");
    assert_eq!(service["suspended"], "not_suspended");
    assert_eq!(service["serviceDetails"]["numInstances"], 1);
    assert_eq!(service["serviceDetails"]["url"], "https://shop.onrender.com");
    assert_eq!(get(&fake, "/v1/services?limit=0").await.status, 400);
}

#[tokio::test]
async fn an_image_deploy_goes_live_one_status_per_poll_and_deactivates_the_previous_one() {
    let fake = fake().await;
    let first = deploy_image(&fake, "v1").await;
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("dep-"));
    assert_eq!((first["status"].as_str(), first["trigger"].as_str()), (Some("created"), Some("api")));
    assert_eq!(first["image"]["ref"], image("v1"));
    assert!(first["commit"].is_null() && first["finishedAt"].is_null());
    assert_eq!(statuses_until_complete(&fake, IMAGE_SERVICE, id).await, ["update_in_progress", "live"]);
    assert_eq!(fake.service(IMAGE_SERVICE).unwrap()["imagePath"], image("v1"), "the service runs the new tag");

    let second = deploy_image(&fake, "v2").await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(statuses_until_complete(&fake, IMAGE_SERVICE, second_id).await, ["update_in_progress", "live"]);
    assert_eq!(fake.deploy(IMAGE_SERVICE, id).unwrap().status, "deactivated");
    assert_eq!(fake.live_deploy(IMAGE_SERVICE).unwrap().id, second_id);
    let finished = get(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/{second_id}")).await.body;
    assert!(finished["startedAt"].is_string() && finished["finishedAt"].is_string());
}

#[tokio::test]
async fn a_git_deploy_builds_first_and_writes_build_logs() {
    let fake = fake().await;
    let path = format!("/v1/services/{GIT_SERVICE}/deploys");
    let answer = post(&fake, &path, json!({"commitId": "a1b2c3d4", "clearCache": "clear"})).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.body["commit"]["id"], "a1b2c3d4");
    let id = answer.body["id"].as_str().unwrap();
    assert_eq!(
        statuses_until_complete(&fake, GIT_SERVICE, id).await,
        ["build_in_progress", "update_in_progress", "live"]
    );
    let logs =
        get(&fake, &format!("/v1/logs?ownerId=tea-fake0owner0000000000&resource={GIT_SERVICE}&type=build&limit=100"))
            .await
            .body;
    let messages: Vec<&str> = logs["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages[0], "==> Cloning from https://github.com/acme/api");
    assert!(messages.contains(&"==> Checking out commit a1b2c3d4 in branch main"), "{messages:?}");
    assert_eq!(messages.last(), Some(&"==> Your service is live"));

    // Without a commit, the branch's head is built.
    let head = post(&fake, &path, json!({})).await;
    assert_eq!(head.body["commit"]["id"], "4f1c0c5e9d0b8a7f6e5d4c3b2a1908f7e6d5c4b3");
}

#[tokio::test]
async fn deploy_bodies_are_validated_as_render_does() {
    let fake = fake().await;
    let image_path = format!("/v1/services/{IMAGE_SERVICE}/deploys");
    let git_path = format!("/v1/services/{GIT_SERVICE}/deploys");
    let cases = [
        (&image_path, json!({"imageUrl": "docker.io/other/shop:v1"}), "must match the host, repository and image name"),
        (&image_path, json!({"imageUrl": "ghcr.io/acme/shop:v1"}), "docker.io/acme/shop"),
        (&image_path, json!({"commitId": "abc"}), "commitId can only be used"),
        (&git_path, json!({"imageUrl": "docker.io/acme/shop:v1"}), "imageUrl can only be used"),
        (&git_path, json!({"deployMode": "deploy_only", "commitId": "abc"}), "deploy_only cannot be combined"),
        (&git_path, json!({"deployMode": "deploy_only", "clearCache": "clear"}), "deploy_only cannot be combined"),
        (&git_path, json!({"deployMode": "deploy_only"}), "no previous build"),
        (&git_path, json!({"clearCache": "sometimes"}), "clearCache must be one of"),
        (&git_path, json!({"deployMode": "rebuild"}), "deployMode must be one of"),
        (&git_path, json!({"artifactId": "art-1", "commitId": "abc"}), "artifactId cannot be combined"),
        (&git_path, json!({"commitId": 42}), "commitId must be a string"),
    ];
    for (path, body, says) in cases {
        let answer = post(&fake, path, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(fake.deploys(IMAGE_SERVICE).is_empty() && fake.deploys(GIT_SERVICE).is_empty(), "nothing was created");
    let digest = post(&fake, &image_path, json!({"imageUrl": "docker.io/acme/shop@sha256:0123"})).await;
    assert_eq!(digest.status, 201, "a digest of the same repository is fine");
    assert_eq!(post(&fake, "/v1/services/srv-nope/deploys", json!({})).await.status, 404);
}

#[tokio::test]
async fn markers_in_the_tag_or_commit_fail_deploys_at_the_right_step() {
    let fake = fake_with(|o| o.services[1].pre_deploy = true).await;
    let bad = deploy_image(&fake, "v2-bad").await;
    assert_eq!(
        statuses_until_complete(&fake, IMAGE_SERVICE, bad["id"].as_str().unwrap()).await,
        ["update_in_progress", "update_failed"]
    );
    let git = format!("/v1/services/{GIT_SERVICE}/deploys");
    for (commit, expected) in [
        ("buildfail01", vec!["build_in_progress", "build_failed"]),
        ("predeployfail01", vec!["build_in_progress", "pre_deploy_in_progress", "pre_deploy_failed"]),
        ("good01", vec!["build_in_progress", "pre_deploy_in_progress", "update_in_progress", "live"]),
    ] {
        let created = post(&fake, &git, json!({"commitId": commit})).await.body;
        assert_eq!(statuses_until_complete(&fake, GIT_SERVICE, created["id"].as_str().unwrap()).await, expected);
    }
    let logs =
        get(&fake, &format!("/v1/logs?ownerId=tea-fake0owner0000000000&resource={IMAGE_SERVICE}&limit=100")).await.body;
    let errors: Vec<&Value> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["labels"].as_array().unwrap().iter().any(|x| x["name"] == "level" && x["value"] == "error"))
        .collect();
    assert_eq!(errors.len(), 2, "an app line and a build line say the update failed: {logs}");
}

#[tokio::test]
async fn a_stuck_deploy_holds_the_queue_until_it_is_canceled() {
    let fake = fake().await;
    let stuck = deploy_image(&fake, "stuck").await;
    let stuck_id = stuck["id"].as_str().unwrap().to_owned();
    fake.tick(IMAGE_SERVICE, 10);
    assert_eq!(fake.deploy(IMAGE_SERVICE, &stuck_id).unwrap().status, "update_in_progress");
    let next = deploy_image(&fake, "v3").await;
    assert_eq!(next["status"], "queued", "one deploy at a time");
    let next_id = next["id"].as_str().unwrap().to_owned();
    fake.tick(IMAGE_SERVICE, 10);
    assert_eq!(fake.deploy(IMAGE_SERVICE, &next_id).unwrap().status, "queued");

    let cancel = post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/{stuck_id}/cancel"), json!({})).await;
    assert_eq!((cancel.status, cancel.body["status"].as_str()), (200, Some("canceled")));
    assert_eq!(statuses_until_complete(&fake, IMAGE_SERVICE, &next_id).await, ["update_in_progress", "live"]);
    let again = post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/{next_id}/cancel"), json!({})).await;
    assert_eq!(again.status, 409);
    assert!(again.body["message"].as_str().unwrap().contains("is live"));
    let unknown = post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/dep-nope/cancel"), json!({})).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn deploy_lists_filter_by_repeated_statuses_newest_first() {
    let fake = fake().await;
    let mut ids = Vec::new();
    for tag in ["v1", "v2-bad", "v3"] {
        let id = deploy_image(&fake, tag).await["id"].as_str().unwrap().to_owned();
        statuses_until_complete(&fake, IMAGE_SERVICE, &id).await;
        ids.push(id);
    }
    let base = format!("/v1/services/{IMAGE_SERVICE}/deploys");
    let all = get(&fake, &format!("{base}?limit=20")).await.body;
    let listed: Vec<&str> = all.as_array().unwrap().iter().map(|d| d["deploy"]["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ids[2].as_str(), &ids[1], &ids[0]]);
    let some = get(&fake, &format!("{base}?status=live&status=update_failed")).await.body;
    let statuses: Vec<&str> =
        some.as_array().unwrap().iter().map(|d| d["deploy"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["live", "update_failed"]);
    let page = get(&fake, &format!("{base}?limit=1")).await.body;
    let cursor = page[0]["cursor"].as_str().unwrap();
    let next = get(&fake, &format!("{base}?limit=1&cursor={cursor}")).await.body;
    assert_eq!(next[0]["deploy"]["id"], ids[1].as_str());
    assert_eq!(get(&fake, &format!("{base}?status=sleeping")).await.status, 400);
    let created = fake.deploy(IMAGE_SERVICE, &ids[2]).unwrap().created_at;
    let after = get(&fake, &format!("{base}?createdAfter={created}")).await.body;
    assert_eq!(after.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rollback_redeploys_a_retained_live_deploy_without_a_build() {
    let fake = fake_with(|o| o.retained_deploys = 2).await;
    let mut ids = Vec::new();
    for tag in ["v1", "v2", "v3", "v4-bad"] {
        let id = deploy_image(&fake, tag).await["id"].as_str().unwrap().to_owned();
        statuses_until_complete(&fake, IMAGE_SERVICE, &id).await;
        ids.push(id);
    }
    let path = format!("/v1/services/{IMAGE_SERVICE}/rollback");
    let rollback = post(&fake, &path, json!({"deployId": ids[1]})).await;
    assert_eq!(rollback.status, 201, "{rollback:?}");
    assert_eq!(
        (rollback.body["trigger"].as_str(), rollback.body["status"].as_str()),
        (Some("rollback"), Some("created"))
    );
    assert_eq!(rollback.body["image"]["ref"], image("v2"));
    let id = rollback.body["id"].as_str().unwrap();
    assert_eq!(statuses_until_complete(&fake, IMAGE_SERVICE, id).await, ["update_in_progress", "live"]);
    assert_eq!(fake.deploy(IMAGE_SERVICE, &ids[2]).unwrap().status, "deactivated");

    let too_old = post(&fake, &path, json!({"deployId": ids[0]})).await;
    assert_eq!(too_old.status, 400);
    assert!(too_old.body["message"].as_str().unwrap().contains("no longer retained"), "{too_old:?}");
    let never_live = post(&fake, &path, json!({"deployId": ids[3]})).await;
    assert_eq!(never_live.status, 400);
    assert!(never_live.body["message"].as_str().unwrap().contains("never live"));
    assert_eq!(post(&fake, &path, json!({"deployId": "dep-nope"})).await.status, 404);
    assert_eq!(post(&fake, &path, json!({})).await.status, 400);
}

#[tokio::test]
async fn scale_suspend_and_resume_answer_202_and_change_the_service() {
    let fake = fake().await;
    let scale = post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/scale"), json!({"numInstances": 3})).await;
    assert_eq!((scale.status, &scale.body), (202, &Value::Null));
    assert_eq!(fake.num_instances(IMAGE_SERVICE), 3);
    let bad = post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/scale"), json!({"numInstances": "many"})).await;
    assert_eq!(bad.status, 400);

    assert_eq!(post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/suspend"), json!({})).await.status, 202);
    let service = get(&fake, &format!("/v1/services/{IMAGE_SERVICE}")).await.body;
    assert_eq!((service["suspended"].as_str(), &service["suspenders"]), (Some("suspended"), &json!(["user"])));
    assert_eq!(get(&fake, "/v1/services?suspended=suspended").await.body.as_array().unwrap().len(), 1);
    assert_eq!(post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/resume"), json!({})).await.status, 202);
    assert!(!fake.suspended(IMAGE_SERVICE));
}

#[tokio::test]
async fn logs_page_forward_and_backward_without_gaps_or_repeats() {
    let fake = fake().await;
    for n in 0..7 {
        fake.push_log(IMAGE_SERVICE, "app", if n == 3 { "error" } else { "info" }, &format!("line {n}"));
    }
    fake.push_log(GIT_SERVICE, "app", "info", "another service");
    let base = format!("/v1/logs?ownerId=tea-fake0owner0000000000&resource={IMAGE_SERVICE}&type=app");

    let mut seen = Vec::new();
    let mut query = format!("{base}&direction=forward&limit=3");
    loop {
        let page = get(&fake, &query).await.body;
        seen.extend(page["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()));
        if page["hasMore"] == false {
            break;
        }
        query = format!("{base}&direction=forward&limit=3&startTime={}", page["nextStartTime"].as_str().unwrap());
    }
    let expected: Vec<String> = (0..7).map(|n| format!("line {n}")).collect();
    assert_eq!(seen, expected);

    let newest = get(&fake, &format!("{base}&limit=2")).await.body;
    assert_eq!(newest["hasMore"], true);
    let messages: Vec<&str> =
        newest["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["line 5", "line 6"], "backward by default: the newest page, oldest first");
    let older = get(&fake, &format!("{base}&limit=2&endTime={}", newest["nextEndTime"].as_str().unwrap())).await.body;
    assert_eq!(older["logs"][1]["message"], "line 4");

    let errors = get(&fake, &format!("{base}&level=error")).await.body;
    assert_eq!(errors["logs"].as_array().unwrap().len(), 1);
    let both = get(&fake, &format!("{base}&resource={GIT_SERVICE}&limit=100")).await.body;
    assert_eq!(both["logs"].as_array().unwrap().len(), 8);
    assert_eq!(get(&fake, &format!("/v1/logs?resource={IMAGE_SERVICE}")).await.status, 400, "ownerId is required");
    let other = get(&fake, &format!("/v1/logs?ownerId=tea-other&resource={IMAGE_SERVICE}")).await;
    assert_eq!(other.status, 403);
}

#[tokio::test]
async fn the_eleventh_deploy_creating_post_in_a_window_gets_429_with_retry_after() {
    let fake = fake_with(|o| o.rate_window = Duration::from_secs(2)).await;
    let path = format!("/v1/services/{IMAGE_SERVICE}/deploys");
    for n in 0..DEPLOY_LIMIT {
        let answer = post(&fake, &path, json!({"imageUrl": image(&format!("v{n}"))})).await;
        assert_eq!(answer.status, 201);
        assert_eq!(answer.header("ratelimit-limit"), Some("10"));
        assert_eq!(answer.header("ratelimit-remaining"), Some((DEPLOY_LIMIT - n - 1).to_string().as_str()));
        assert!(answer.header("ratelimit-reset").is_some());
    }
    let refused = post(&fake, &path, json!({"imageUrl": image("v11")})).await;
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "whole seconds until the window ends, rounded up: {retry_after}");
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert!(refused.body["message"].as_str().unwrap().contains("rate limit"));
    assert_eq!(fake.deploys(IMAGE_SERVICE).len(), 10, "the refused call did nothing");
    // Other services and other kinds of call have their own allowance.
    assert_eq!(post(&fake, &format!("/v1/services/{GIT_SERVICE}/deploys"), json!({})).await.status, 201);
    let read = get(&fake, "/v1/users").await;
    assert_eq!((read.status, read.header("ratelimit-limit")), (200, Some("400")));
    // Once the window has passed, the allowance is back.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(100)).await;
    assert_eq!(post(&fake, &path, json!({"imageUrl": image("v12")})).await.status, 201);

    fake.exhaust_deploy_budget(IMAGE_SERVICE);
    assert_eq!(post(&fake, &format!("/v1/services/{IMAGE_SERVICE}/suspend"), json!({})).await.status, 429);
}

#[tokio::test]
async fn injected_faults_answer_instead_and_fail_after_acting_creates_first() {
    let fake = fake().await;
    let path = format!("/v1/services/{IMAGE_SERVICE}/deploys");
    fake.faults().inject(Some("POST"), Some("/deploys"), &RenderFake::server_error(503), 1);
    fake.faults().inject(Some("POST"), Some("/deploys"), &RenderFake::rate_limited(7), 1);
    let unavailable = post(&fake, &path, json!({"imageUrl": image("v1")})).await;
    assert_eq!((unavailable.status, unavailable.body["message"].as_str()), (503, Some("internal server error")));
    let limited = post(&fake, &path, json!({"imageUrl": image("v1")})).await;
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("7")));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    assert!(fake.deploys(IMAGE_SERVICE).is_empty(), "faults answer instead of the fake");

    fake.fail_after_acting(1);
    let unknown = post(&fake, &path, json!({"imageUrl": image("v1")})).await;
    assert_eq!(unknown.status, 500);
    assert_eq!(fake.deploys(IMAGE_SERVICE).len(), 1, "the deploy exists although the answer was 500");
    assert_eq!(post(&fake, &path, json!({"imageUrl": image("v2")})).await.status, 201);
    let statuses: Vec<u16> = fake.recorder().matching("POST", "/deploys").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 500, 201]);
    assert_eq!(fake.recorder().matching("POST", "/deploys")[3].json()["imageUrl"], image("v2"));
}

#[tokio::test]
async fn ticks_per_poll_sets_the_pace() {
    let fake = fake_with(|o| o.ticks_per_poll = 0).await;
    let id = deploy_image(&fake, "v1").await["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        get(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/{id}")).await;
    }
    assert_eq!(fake.deploy(IMAGE_SERVICE, &id).unwrap().status, "created", "frozen");
    fake.set_ticks_per_poll(2);
    let answer = get(&fake, &format!("/v1/services/{IMAGE_SERVICE}/deploys/{id}")).await;
    assert_eq!(answer.body["status"], "live", "two steps in one poll");
}

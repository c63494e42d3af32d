//! The Railway fake on its own, over real HTTP on 127.0.0.1: both token kinds and their scope,
//! GraphQL validation (operation names, variables, arguments, selections), the deployment state
//! machine and its markers, supersession, rollback and retention, the other deployment
//! mutations, the deployments connection, logs, rate limits and the request record.

mod support;

use loco_fakes::railway::{RailwayFake, RailwayFakeOptions, ServiceSeed};
use serde_json::{Value, json};
use support::Answer;

const ACCOUNT: &str = "rw_test_account_abcdefghij";
const PROJECT: &str = "rw_test_project_abcdefghij";
const SHOP: &str = "svc-shop";
const API: &str = "svc-api";
const PROD: &str = "env-production";
const HEAD: &str = "4f1c0c5e9d0b8a7f6e5d4c3b2a1908f7e6d5c4b3";

async fn fake() -> RailwayFake {
    RailwayFake::start(RailwayFakeOptions {
        account_token: ACCOUNT.to_owned(),
        project_token: PROJECT.to_owned(),
        services: vec![
            ServiceSeed::image(SHOP, "shop", "ghcr.io/acme/shop:latest"),
            ServiceSeed::repo(API, "api", "acme/api", &["0000000000000000000000000000000000000001", HEAD]),
        ],
        ..RailwayFakeOptions::default()
    })
    .await
    .expect("start the fake")
}

/// Railway's GraphQL errors in an answer.
trait GraphqlErrors {
    /// The first error's message (empty when there is none).
    fn error(&self) -> &str;
}

impl GraphqlErrors for Answer {
    fn error(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or_default()
    }
}

enum Token<'a> {
    Bearer(&'a str),
    Project(&'a str),
    None,
}

/// One GraphQL request to the fake, carrying `token` the way its kind is sent.
async fn send(fake: &RailwayFake, token: &Token<'_>, body: &Value) -> Answer {
    let (authorization, headers) = match token {
        Token::Bearer(t) => (Some(format!("Bearer {t}")), vec![]),
        Token::Project(t) => (None, vec![("Project-Access-Token", *t)]),
        Token::None => (None, vec![]),
    };
    support::send(fake.base_url(), "POST", "/graphql/v2", authorization.as_deref(), &headers, Some(body)).await
}

async fn gql(fake: &RailwayFake, name: &str, query: &str, variables: Value) -> Answer {
    let body = json!({ "query": query, "variables": variables, "operationName": name });
    send(fake, &Token::Bearer(ACCOUNT), &body).await
}

const DEPLOY: &str = "mutation Deploy($s: String!, $e: String!, $sha: String) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e, commitSha: $sha) }";
const UPDATE: &str = "mutation Update($s: String!, $e: String, $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $input) }";
const STATUS: &str =
    "query Status($id: String!) { deployment(id: $id) { id status canRollback deploymentStopped staticUrl meta } }";

async fn deploy_image(fake: &RailwayFake, tag: &str) -> String {
    let input = json!({ "source": { "image": format!("ghcr.io/acme/shop:{tag}") } });
    let updated = gql(fake, "Update", UPDATE, json!({ "s": SHOP, "e": PROD, "input": input })).await;
    assert_eq!(updated.body, json!({ "data": { "serviceInstanceUpdate": true } }));
    let deployed = gql(fake, "Deploy", DEPLOY, json!({ "s": SHOP, "e": PROD })).await;
    deployed.body["data"]["serviceInstanceDeployV2"].as_str().expect("an id").to_owned()
}

/// Polls a deployment until it leaves the in-progress statuses; every status seen, in order.
async fn statuses(fake: &RailwayFake, id: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let answer = gql(fake, "Status", STATUS, json!({ "id": id })).await;
        let status = answer.body["data"]["deployment"]["status"].as_str().expect("a status").to_owned();
        let done = !["INITIALIZING", "BUILDING", "DEPLOYING", "REMOVING"].contains(&status.as_str());
        seen.push(status);
        if done {
            return seen;
        }
    }
    seen
}

#[tokio::test]
async fn tokens_are_checked_per_kind_and_a_bad_one_is_not_authorized_with_http_200() {
    let fake = fake().await;
    let me = json!({ "query": "query UserMeta { me { id name email } }", "operationName": "UserMeta" });
    for token in [Token::None, Token::Bearer("rw_wrong"), Token::Project("rw_wrong")] {
        let answer = send(&fake, &token, &me).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["data"], Value::Null, "{answer:?}");
        assert_eq!(answer.error(), "Not Authorized");
        assert_eq!(answer.body["errors"][0]["path"], json!(["me"]));
        assert!(answer.body["errors"][0]["locations"][0]["line"].is_number());
    }
    let answer = send(&fake, &Token::Bearer(ACCOUNT), &me).await;
    assert_eq!(answer.body["data"]["me"], json!({ "id": "user-fake", "name": "Ops", "email": "ops@acme.test" }));
    // `me` fails with a project token (as the docs say); `projectToken` names its scope.
    assert_eq!(send(&fake, &Token::Project(PROJECT), &me).await.error(), "Not Authorized");
    let scope = json!({ "query": "query ProjectToken { projectToken { projectId environmentId } }", "operationName": "ProjectToken" });
    let answer = send(&fake, &Token::Project(PROJECT), &scope).await;
    assert_eq!(answer.body["data"]["projectToken"], json!({ "projectId": "prj-fake", "environmentId": PROD }));
    assert_eq!(send(&fake, &Token::Bearer(ACCOUNT), &scope).await.error(), "Project Token not found");
    // A project token reaches only its environment.
    let staging = json!({ "query": DEPLOY, "variables": { "s": SHOP, "e": "env-staging" }, "operationName": "Deploy" });
    assert_eq!(send(&fake, &Token::Project(PROJECT), &staging).await.error(), "Not Authorized");
    assert!(fake.deployments().is_empty());
    let recorded = fake.recorder().requests();
    assert_eq!(recorded[4].header("project-access-token"), Some(PROJECT));
}

#[tokio::test]
async fn documents_are_validated_like_the_real_schema() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    let rollback =
        |selection: &str| format!("mutation Rollback($id: String!) {{ deploymentRollback(id: $id){selection} }}");
    // The docs' example selects subfields of a Boolean!: refused, and nothing is rolled back.
    let answer = gql(&fake, "Rollback", &rollback(" { id status }"), json!({ "id": v1 })).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.error(),
        "Field \"deploymentRollback\" must not have a selection since type \"Boolean!\" has no subfields."
    );
    assert!(answer.body.get("data").is_none(), "validation errors carry no data: {answer:?}");
    let cases = [
        ("Other", DEPLOY, json!({ "s": SHOP, "e": PROD }), "Unknown operation named \"Other\"."),
        ("Deploy", DEPLOY, json!({ "s": SHOP }), "Variable \"$e\" of required type \"String!\" was not provided."),
        ("Deploy", DEPLOY, json!({ "s": SHOP, "e": 7 }), "Variable \"$e\" got invalid value 7"),
        (
            "Status",
            "query Status($id: String) { deployment(id: $id) { id } }",
            json!({ "id": v1 }),
            "Variable \"$id\" of type \"String\" used in position expecting type \"String!\".",
        ),
        ("Status", "query Status { deployment(id: $id) { id } }", json!({}), "Variable \"$id\" is not defined."),
        (
            "Status",
            "query Status($id: String!) { deployment(id: $id) }",
            json!({ "id": v1 }),
            "must have a selection of subfields",
        ),
        (
            "Status",
            "query Status($id: String!) { deployment(id: $id) { id colour } }",
            json!({ "id": v1 }),
            "Cannot query field \"colour\" on type \"Deployment\".",
        ),
        (
            "Status",
            "query Status($id: String!) { deployment(uuid: $id) { id } }",
            json!({ "id": v1 }),
            "Unknown argument \"uuid\" on field \"Query.deployment\".",
        ),
        (
            "List",
            "query List { deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }",
            json!({}),
            "Field \"successfulOnly\" is not defined by type \"DeploymentStatusInput\".",
        ),
        (
            "Deploy",
            "mutation Deploy { deploymentRollback }",
            json!({}),
            "argument \"id\" of type \"String!\" is required",
        ),
        (
            "Q",
            "query Q { deploymentRemove(id: \"x\") }",
            json!({}),
            "Cannot query field \"deploymentRemove\" on type \"Query\".",
        ),
    ];
    for (name, query, variables, expected) in cases {
        let answer = gql(&fake, name, query, variables).await;
        assert!(answer.error().contains(expected), "{name}: {expected} ≠ {answer:?}");
    }
    // Without operationName, a one-operation document runs; an inline enum list is accepted.
    let list = json!({ "query": "{ deployments(input: {serviceId: \"svc-shop\", status: {notIn: [REMOVED, FAILED]}}, first: 5) { edges { node { id status } } } }" });
    let answer = send(&fake, &Token::Bearer(ACCOUNT), &list).await;
    assert_eq!(answer.body["data"]["deployments"]["edges"][0]["node"]["id"], v1.as_str(), "{answer:?}");
    assert_eq!(fake.deployments().len(), 1);
}

#[tokio::test]
async fn image_deployments_skip_the_build_and_the_new_success_removes_the_previous() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    assert_eq!(statuses(&fake, &v1).await, ["DEPLOYING", "SUCCESS"]);
    let v2 = deploy_image(&fake, "v2").await;
    let answer = gql(&fake, "Status", STATUS, json!({ "id": v2 })).await;
    assert_eq!(answer.body["data"]["deployment"]["status"], "DEPLOYING");
    assert_eq!(fake.active(SHOP, PROD).unwrap().id, v1, "v1 serves until v2 succeeds");
    assert_eq!(statuses(&fake, &v2).await, ["SUCCESS"]);
    let d = gql(&fake, "Status", STATUS, json!({ "id": v1 })).await.body["data"]["deployment"].clone();
    assert_eq!((d["status"].as_str(), d["canRollback"].as_bool()), (Some("REMOVED"), Some(true)));
    let d = gql(&fake, "Status", STATUS, json!({ "id": v2 })).await.body["data"]["deployment"].clone();
    assert_eq!(d["staticUrl"], "shop-production.up.railway.app");
    assert_eq!(d["meta"]["image"], "ghcr.io/acme/shop:v2");
    assert_eq!(d["canRollback"], false, "the active deployment is not a rollback target");
}

#[tokio::test]
async fn markers_fail_crash_or_stick_and_commits_build_or_are_not_found() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    statuses(&fake, &v1).await;
    let bad = deploy_image(&fake, "v2-bad").await;
    assert_eq!(statuses(&fake, &bad).await, ["DEPLOYING", "FAILED"]);
    assert_eq!(fake.active(SHOP, PROD).unwrap().id, v1, "a failed deployment leaves the previous one active");
    let crash = deploy_image(&fake, "v3-crash").await;
    assert_eq!(statuses(&fake, &crash).await, ["DEPLOYING", "SUCCESS"]);
    assert_eq!(statuses(&fake, &crash).await, ["CRASHED"]);
    assert!(fake.active(SHOP, PROD).is_none(), "it replaced v1, then crashed");
    let stuck = deploy_image(&fake, "v4-stuck").await;
    assert_eq!(statuses(&fake, &stuck).await, vec!["DEPLOYING"; 10]);

    let built = gql(&fake, "Deploy", DEPLOY, json!({ "s": API, "e": PROD, "sha": HEAD })).await;
    let id = built.body["data"]["serviceInstanceDeployV2"].as_str().unwrap().to_owned();
    assert_eq!(statuses(&fake, &id).await, ["BUILDING", "DEPLOYING", "SUCCESS"]);
    assert_eq!(fake.deployment(&id).unwrap().commit.as_deref(), Some(HEAD));
    let unknown = gql(&fake, "Deploy", DEPLOY, json!({ "s": API, "e": PROD, "sha": "deadbeef" })).await;
    assert_eq!((unknown.status, unknown.error()), (200, "Commit not found"));
    assert_eq!(unknown.body["errors"][0]["path"], json!(["serviceInstanceDeployV2"]));
}

#[tokio::test]
async fn rollback_needs_a_retained_image_and_the_other_mutations_answer_booleans() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    statuses(&fake, &v1).await;
    let v2 = deploy_image(&fake, "v2").await;
    statuses(&fake, &v2).await;
    let rollback = "mutation DeploymentRollback($id: String!) { deploymentRollback(id: $id) }";
    let refused = gql(&fake, "DeploymentRollback", rollback, json!({ "id": v2 })).await;
    assert_eq!(refused.error(), "Deployment cannot be rolled back", "the active one");
    let answer = gql(&fake, "DeploymentRollback", rollback, json!({ "id": v1 })).await;
    assert_eq!(answer.body, json!({ "data": { "deploymentRollback": true } }));
    let all = fake.deployments();
    assert_eq!(
        (all.len(), all[2].reason.as_str(), all[2].image.as_deref()),
        (3, "rollback", Some("ghcr.io/acme/shop:v1"))
    );
    assert_eq!(statuses(&fake, &all[2].id).await, ["DEPLOYING", "SUCCESS"]);
    assert_eq!(fake.service_instance(SHOP, PROD).unwrap().0.as_deref(), Some("ghcr.io/acme/shop:v1"));
    fake.expire(&v2);
    assert_eq!(
        gql(&fake, "DeploymentRollback", rollback, json!({ "id": v2 })).await.error(),
        "Deployment cannot be rolled back"
    );

    let one = |name: &str| format!("mutation M($id: String!) {{ {name}(id: $id) }}");
    let active = all[2].id.clone();
    assert_eq!(
        gql(&fake, "M", &one("deploymentCancel"), json!({ "id": active })).await.error(),
        "Deployment is not in progress"
    );
    assert_eq!(
        gql(&fake, "M", &one("deploymentRestart"), json!({ "id": active })).await.body["data"]["deploymentRestart"],
        true
    );
    assert_eq!(
        gql(&fake, "M", &one("deploymentStop"), json!({ "id": active })).await.body["data"]["deploymentStop"],
        true
    );
    assert!(fake.deployment(&active).unwrap().stopped && fake.active(SHOP, PROD).is_none());
    let redeploy = "mutation R($id: String!) { deploymentRedeploy(id: $id) { id status } }";
    let again = gql(&fake, "R", redeploy, json!({ "id": active })).await.body["data"]["deploymentRedeploy"].clone();
    assert_eq!(again["status"], "INITIALIZING");
    let again = again["id"].as_str().unwrap().to_owned();
    assert_eq!(
        gql(&fake, "M", &one("deploymentCancel"), json!({ "id": again })).await.body["data"]["deploymentCancel"],
        true
    );
    assert_eq!(fake.deployment(&again).unwrap().status, "REMOVED");
    let v3 = deploy_image(&fake, "v3").await;
    statuses(&fake, &v3).await;
    assert_eq!(
        gql(&fake, "M", &one("deploymentRemove"), json!({ "id": v3 })).await.body["data"]["deploymentRemove"],
        true
    );
    assert_eq!(statuses(&fake, &v3).await, ["REMOVED"]);
    assert!(fake.active(SHOP, PROD).is_none());
}

#[tokio::test]
async fn deployments_are_listed_newest_first_and_filtered_by_status() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    statuses(&fake, &v1).await;
    let v2 = deploy_image(&fake, "v2-bad").await;
    statuses(&fake, &v2).await;
    let list = "query Deployments($input: DeploymentListInput!, $first: Int) { deployments(input: $input, first: $first) { edges { node { id status } } } }";
    let ids = |answer: &Answer| -> Vec<String> {
        answer.body["data"]["deployments"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = gql(&fake, "Deployments", list, json!({ "input": { "serviceId": SHOP, "environmentId": PROD } })).await;
    assert_eq!(ids(&all), [v2.clone(), v1.clone()]);
    let input = json!({ "serviceId": SHOP, "status": { "in": ["SUCCESS", "SLEEPING"] } });
    assert_eq!(ids(&gql(&fake, "Deployments", list, json!({ "input": input })).await), std::slice::from_ref(&v1));
    let input = json!({ "serviceId": SHOP, "status": { "notIn": ["SUCCESS"] } });
    assert_eq!(ids(&gql(&fake, "Deployments", list, json!({ "input": input, "first": 1 })).await), [v2]);
    assert!(ids(&gql(&fake, "Deployments", list, json!({ "input": { "serviceId": API } })).await).is_empty());
}

#[tokio::test]
async fn logs_follow_the_deployment_and_honour_the_start_date() {
    let fake = fake().await;
    let v1 = deploy_image(&fake, "v1").await;
    statuses(&fake, &v1).await;
    let query = |field: &str| {
        format!(
            "query L($id: String!, $start: DateTime) {{ {field}(deploymentId: $id, startDate: $start) {{ timestamp message severity }} }}"
        )
    };
    let build = gql(&fake, "L", &query("buildLogs"), json!({ "id": v1 })).await;
    let messages: Vec<&str> =
        build.body["data"]["buildLogs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["Pulling image ghcr.io/acme/shop:v1", "Build complete"]);
    let deploy = gql(&fake, "L", &query("deploymentLogs"), json!({ "id": v1 })).await;
    let lines = deploy.body["data"]["deploymentLogs"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 2);
    fake.push_log(&v1, "error", "GET /checkout 500");
    let since = gql(&fake, "L", &query("deploymentLogs"), json!({ "id": v1, "start": lines[1]["timestamp"] })).await;
    let since = since.body["data"]["deploymentLogs"].as_array().unwrap().clone();
    assert_eq!(since.len(), 2, "inclusive of the start: {since:?}");
    assert_eq!(
        (since[1]["message"].as_str(), since[1]["severity"].as_str()),
        (Some("GET /checkout 500"), Some("error"))
    );
    let bad = gql(&fake, "L", &query("buildLogs"), json!({ "id": v1, "start": "yesterday" })).await;
    assert!(
        bad.error().contains("Variable \"$start\" got invalid value") || bad.error().contains("Invalid DateTime"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn rate_limit_headers_are_on_every_answer_and_a_429_says_when_to_retry() {
    let fake = fake().await;
    let me = "query UserMeta { me { id } }";
    let answer = gql(&fake, "UserMeta", me, json!({})).await;
    assert_eq!(answer.header("x-ratelimit-limit"), Some("1000"));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("999"));
    assert!(answer.header("x-ratelimit-reset").unwrap().parse::<u64>().unwrap() > 1_700_000_000);
    fake.throttle("UserMeta", 1, 3);
    let throttled = gql(&fake, "UserMeta", me, json!({})).await;
    assert_eq!((throttled.status, throttled.header("retry-after")), (429, Some("3")));
    assert!(throttled.error().contains("Rate limit"));
    fake.exhaust_rate_limit();
    let limited = gql(&fake, "UserMeta", me, json!({})).await;
    assert_eq!((limited.status, limited.header("x-ratelimit-remaining")), (429, Some("0")));
    assert!(limited.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(fake.operations(), ["UserMeta", "UserMeta", "UserMeta"]);
    assert_eq!(fake.recorder().requests().iter().map(|r| r.status).collect::<Vec<_>>(), [200, 429, 429]);
}

#[tokio::test]
async fn a_deployment_can_be_created_and_then_answered_with_a_500() {
    let fake = fake().await;
    fake.fail_after_acting(1);
    let answer = gql(&fake, "Deploy", DEPLOY, json!({ "s": SHOP, "e": PROD })).await;
    assert_eq!((answer.status, answer.error()), (500, "Internal Server Error"));
    assert_eq!(fake.deployments().len(), 1, "it acted");
    let answer = gql(&fake, "Deploy", DEPLOY, json!({ "s": SHOP, "e": PROD })).await;
    assert_eq!(answer.status, 200);
    assert_eq!(fake.requests_for("Deploy").iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
}

//! The Vercel fake against the reference (`platform-apis.md` §4): auth and team scope, the
//! create body rules and its 200, the deployment state machine, staged builds, promote and
//! rollback jobs, rolling releases with their production split, 429s and build events.

mod support;

use loco_fakes::vercel::{ProjectSeed, VercelFake, VercelFakeOptions};
use serde_json::{Value, json};
use support::Answer;

const TOKEN: &str = "vercel_fake_test_token_42";
const TEAM: &str = "team_acme";
const PROJECT: &str = "prj_web";

async fn fake() -> VercelFake {
    let options = VercelFakeOptions {
        token: TOKEN.to_owned(),
        teams: vec![(TEAM.to_owned(), "acme".to_owned())],
        projects: vec![ProjectSeed::new(PROJECT, "web", Some(TEAM), "acme/web")],
        ..VercelFakeOptions::default()
    };
    VercelFake::start(options).await.unwrap()
}

/// One request to the fake, with `Authorization: Bearer token` when a token is given.
async fn send(fake: &VercelFake, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let authorization = token.map(|token| format!("Bearer {token}"));
    support::send(fake.base_url(), method, path, authorization.as_deref(), &[], body.as_ref()).await
}

/// A call with the token and the team scope: status and body.
async fn call(fake: &VercelFake, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let glue = if path.contains('?') { '&' } else { '?' };
    let answer = send(fake, method, &format!("{path}{glue}teamId={TEAM}"), Some(TOKEN), body).await;
    (answer.status, answer.body)
}

fn production(sha: &str, staged: bool) -> Value {
    json!({
        "name": "web", "project": PROJECT, "target": "production",
        "gitSource": { "type": "github", "org": "acme", "repo": "web", "ref": "main", "sha": sha },
        "meta": { "loco_version": sha }, "autoAssignCustomDomains": !staged,
    })
}

/// Creates a deployment and polls it to its end; returns its id.
async fn built(fake: &VercelFake, body: Value) -> String {
    let (status, created) = call(fake, "POST", "/v13/deployments", Some(body)).await;
    assert_eq!((status, created["readyState"].as_str()), (200, Some("QUEUED")), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    loop {
        let (_, d) = call(fake, "GET", &format!("/v13/deployments/{id}"), None).await;
        let state = d["readyState"].as_str().unwrap().to_owned();
        seen.push(state.clone());
        if matches!(state.as_str(), "READY" | "ERROR") {
            break;
        }
    }
    assert_eq!(seen[..2], ["INITIALIZING", "BUILDING"]);
    id
}

#[tokio::test]
async fn auth_and_team_scope_are_enforced() {
    let fake = fake().await;
    let path = format!("/v9/projects/{PROJECT}?teamId={TEAM}");
    assert_eq!(send(&fake, "GET", &path, None, None).await.status, 401);
    let wrong = send(&fake, "GET", &path, Some("nope"), None).await;
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.body, json!({"error": {"code": "forbidden", "message": "Not authorized"}}));
    let no_team = send(&fake, "GET", &format!("/v9/projects/{PROJECT}"), Some(TOKEN), None).await;
    assert_eq!(no_team.status, 404, "a team's project is not found without its teamId");
    let other = send(&fake, "GET", &format!("{path}x"), Some(TOKEN), None).await;
    assert_eq!(other.status, 403, "a team the token is not in");
    let (status, project) = call(&fake, "GET", &format!("/v8/projects/{PROJECT}"), None).await;
    assert_eq!(
        (status, project["link"]["repo"].as_str(), project["link"]["productionBranch"].as_str()),
        (200, Some("web"), Some("main"))
    );
    let (status, user) = call(&fake, "GET", "/v2/user", None).await;
    assert_eq!((status, user["user"]["defaultTeamId"].as_str()), (200, Some(TEAM)));
}

#[tokio::test]
async fn creates_are_validated_and_builds_follow_the_state_machine() {
    let fake = fake().await;
    let (status, e) = call(&fake, "POST", "/v13/deployments", Some(json!({"target": "production"}))).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("bad_request")));
    let mut other_repo = production("abc", false);
    other_repo["gitSource"]["repo"] = json!("api");
    let (status, e) = call(&fake, "POST", "/v13/deployments", Some(other_repo)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("incorrect_git_source_info")));

    let live = built(&fake, production("a1", false)).await;
    assert_eq!(fake.production_split(PROJECT), [(live.clone(), 100)], "READY production takes the domains");
    let staged = built(&fake, production("b2", true)).await;
    let view = fake.deployment(&staged).unwrap();
    assert_eq!((view.ready_substate.as_deref(), view.alias_assigned), (Some("STAGED"), false));
    assert_eq!(fake.production(PROJECT), Some(live.clone()), "a staged build does not serve");
    let bad = built(&fake, production("bad3", true)).await;
    let (_, d) = call(&fake, "GET", &format!("/v13/deployments/{bad}"), None).await;
    assert_eq!((d["readyState"].as_str(), d["errorCode"].as_str()), (Some("ERROR"), Some("BUILD_FAILED")));
    let (_, events) = call(&fake, "GET", &format!("/v3/deployments/{bad}/events"), None).await;
    assert!(events.as_array().unwrap().iter().any(|e| e["type"] == "stderr"), "{events}");
    let (_, list) = call(&fake, "GET", &format!("/v6/deployments?projectId={PROJECT}&state=READY&limit=1"), None).await;
    assert_eq!(list["deployments"][0]["uid"], staged.as_str());
    assert!(list["pagination"]["next"].is_number());

    // Promote is asynchronous: the domains move when its job succeeds.
    let (status, _) = call(&fake, "POST", &format!("/v10/projects/{PROJECT}/promote/{staged}"), Some(json!({}))).await;
    assert_eq!(status, 202);
    let mut jobs = Vec::new();
    while jobs.last().map(String::as_str) != Some("succeeded") {
        let (_, p) = call(&fake, "GET", &format!("/v9/projects/{PROJECT}"), None).await;
        jobs.push(p["lastAliasRequest"]["jobStatus"].as_str().unwrap().to_owned());
    }
    assert_eq!(jobs, ["in-progress", "succeeded"]);
    assert_eq!(fake.production(PROJECT), Some(staged.clone()));
    // Rollback on both versions; only to a deployment that served.
    let (status, _) = call(&fake, "POST", &format!("/v9/projects/{PROJECT}/rollback/{bad}"), Some(json!({}))).await;
    assert_eq!(status, 400);
    let (status, _) = call(&fake, "POST", &format!("/v1/projects/{PROJECT}/rollback/{live}"), None).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_rolling_release_splits_production_stage_by_stage_and_a_rollback_aborts_it() {
    let fake = fake().await;
    let old = built(&fake, production("a1", false)).await;
    let config = |stages: Value| json!({ "enabled": true, "advancementType": "manual-approval", "stages": stages });
    let path = format!("/v1/projects/{PROJECT}/rolling-release");
    let (status, _) =
        call(&fake, "PATCH", &format!("{path}/config"), Some(config(json!([{"targetPercentage": 50}])))).await;
    assert_eq!(status, 400, "at least 2 stages");
    let (status, _) = call(
        &fake,
        "PATCH",
        &format!("{path}/config"),
        Some(config(json!([{"targetPercentage": 50}, {"targetPercentage": 90}]))),
    )
    .await;
    assert_eq!(status, 400, "the last stage is 100");
    let stages = json!([{"targetPercentage": 10}, {"targetPercentage": 50}, {"targetPercentage": 100}]);
    let (status, _) = call(&fake, "PATCH", &format!("{path}/config"), Some(config(stages))).await;
    assert_eq!(status, 200);

    let canary = built(&fake, production("c2", true)).await;
    let (status, r) = call(&fake, "POST", &format!("{path}/start"), Some(json!({"canaryDeploymentId": canary}))).await;
    assert_eq!((status, r["rollingRelease"]["currentCanaryPercentage"].as_u64()), (200, Some(10)));
    assert_eq!(fake.production_split(PROJECT), [(canary.clone(), 10), (old.clone(), 90)]);
    let served = fake.send_visitors(PROJECT, 2000);
    assert!(served[&canary].abs_diff(200) <= 60, "{served:?}");
    let approve = |next: u64| json!({"nextStageIndex": next, "canaryDeploymentId": canary});
    let (status, _) = call(&fake, "POST", &format!("{path}/approve-stage"), Some(approve(2))).await;
    assert_eq!(status, 400, "stages are approved in order");
    let (status, r) = call(&fake, "POST", &format!("{path}/approve-stage"), Some(approve(1))).await;
    assert_eq!((status, r["rollingRelease"]["currentCanaryPercentage"].as_u64()), (200, Some(50)));
    assert_eq!(fake.production_split(PROJECT), [(canary.clone(), 50), (old.clone(), 50)]);

    let (status, _) = call(&fake, "POST", &format!("/v9/projects/{PROJECT}/rollback/{old}"), Some(json!({}))).await;
    assert_eq!(status, 201);
    assert_eq!(fake.production_split(PROJECT), [(old.clone(), 100)], "aborted: the old deployment serves all");
    assert_eq!(fake.rolling_release(PROJECT, "ABORTED").unwrap()["canaryDeployment"]["id"], canary.as_str());
    let (_, r) = call(&fake, "GET", &path, None).await;
    assert_eq!(r["rollingRelease"], Value::Null, "nothing active");
    // Start again and complete.
    call(&fake, "POST", &format!("{path}/start"), Some(json!({"canaryDeploymentId": canary}))).await;
    let (status, r) =
        call(&fake, "POST", &format!("{path}/complete"), Some(json!({"canaryDeploymentId": canary}))).await;
    assert_eq!((status, r["rollingRelease"]["state"].as_str()), (200, Some("COMPLETE")));
    assert_eq!(fake.production_split(PROJECT), [(canary, 100)]);
}

#[tokio::test]
async fn the_deploy_limit_answers_429_with_vercels_limit_object() {
    let fake = fake().await;
    fake.exhaust_deploy_budget();
    let path = format!("/v13/deployments?teamId={TEAM}");
    let response = send(&fake, "POST", &path, Some(TOKEN), Some(production("a1", true))).await;
    assert_eq!(response.status, 429);
    assert!(response.header("retry-after").is_some() && response.header("x-ratelimit-limit") == Some("100"));
    let body = response.body;
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        (body["error"]["limit"]["remaining"].as_u64(), body["error"]["limit"]["total"].as_u64()),
        (Some(0), Some(100))
    );
    assert!(fake.deployments(PROJECT).is_empty());
    assert_eq!(fake.recorder().requests()[0].status, 429);
}

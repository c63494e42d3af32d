//! Pipelines and promotion over real HTTP on loopback: the conformance vectors of
//! `tests/conformance/pipelines.json` through `PUT|DELETE /api/v1/pipelines/{service}`, the
//! deployment routes, `POST /api/v1/deployments/{id}/promote` and
//! `GET /api/v1/pipelines/{service}/versions/{version}`; on a secured server, who may set a
//! pipeline and promote (a requester in the next stage); and the `loco pipeline` and
//! `loco promote` commands against a database file.

use std::collections::BTreeMap;

use loco_core::Engine;
use loco_core::identity::{Grant, NewToken};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::loco;
use crate::common::{TestServer, text, vectors};
use crate::freeze::{Secured, fields, urlencoding};

/// Runs one step over HTTP: the reply's status and body.
async fn run_step(server: &TestServer, refs: &mut BTreeMap<String, String>, step: &Value) -> (StatusCode, Value) {
    let id = refs
        .get(step["ref"].as_str().unwrap_or_default())
        .cloned()
        .unwrap_or_else(|| "dep_00000000000000000000000000".to_owned());
    let act = |action: &str, body: Value| {
        let path = format!("/api/v1/deployments/{id}/{action}");
        async move { server.post(&path, &body).await }
    };
    match text(step, "op") {
        "pipeline" => {
            let pipeline = &step["pipeline"];
            let service = pipeline["service"].as_str().filter(|s| !s.trim().is_empty()).unwrap_or("blank");
            let path = format!("/api/v1/pipelines/{}", urlencoding(service));
            server.send(reqwest::Method::PUT, &path, Some(pipeline)).await
        }
        "remove_pipeline" => {
            let path = format!("/api/v1/pipelines/{}", urlencoding(text(step, "service")));
            server.send(reqwest::Method::DELETE, &path, None).await
        }
        "create" => {
            let mut body = json!({"service": text(step, "service"), "environment": text(step, "environment"),
                                  "version": text(step, "version"), "requester": "alice", "work_refs": ["PIPE-1"],
                                  "rollback_plan": "redeploy", "risk": "low"});
            if let Some(commit) = step["commit"].as_str() {
                body["commit"] = json!(commit);
            }
            let (status, created) = server.post("/api/v1/deployments", &body).await;
            if let Some(id) = created["id"].as_str() {
                refs.insert(text(step, "ref").to_owned(), id.to_owned());
            }
            (status, created)
        }
        "approve" => act("approve", json!({"actor": "bob"})).await,
        "start" | "succeed" => act(text(step, "op"), json!({"actor": "dana"})).await,
        "fail" | "rollback" => act(text(step, "op"), json!({"actor": "dana", "note": "vector"})).await,
        "promote" => {
            let (status, promoted) = act("promote", json!({"actor": text(step, "actor")})).await;
            if let Some(id) = promoted["id"].as_str() {
                refs.insert(text(step, "as").to_owned(), id.to_owned());
            }
            (status, promoted)
        }
        "view" => {
            let path = format!(
                "/api/v1/pipelines/{}/versions/{}",
                urlencoding(text(step, "service")),
                urlencoding(text(step, "version"))
            );
            server.get(&path).await
        }
        op => panic!("unknown op {op}"),
    }
}

#[tokio::test]
async fn pipeline_vectors_over_http() {
    let vectors = vectors("pipelines.json");
    assert!(vectors.len() >= 35);
    for vector in &vectors {
        let name = text(vector, "name");
        let server = TestServer::start().await;
        let mut refs = BTreeMap::new();
        for (n, step) in vector["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{name}, step {n}");
            let (status, body) = run_step(&server, &mut refs, step).await;
            let expect = &step["expect"];
            let name_of = |id: &Value| {
                id.as_str().map_or(Value::Null, |id| {
                    json!(refs.iter().find(|(_, v)| v.as_str() == id).map_or(id, |(k, _)| k.as_str()))
                })
            };
            if let Some(code) = expect["error"].as_str() {
                assert_eq!(body["error"]["code"].as_str(), Some(code), "{at}: {body}");
                let wanted = match code {
                    "validation_error" => StatusCode::BAD_REQUEST,
                    "not_found" => StatusCode::NOT_FOUND,
                    _ => StatusCode::CONFLICT,
                };
                assert_eq!(status, wanted, "{at}");
                if let Some(expected) = expect.get("fields") {
                    assert_eq!(&json!(fields(&body)), expected, "{at}: fields");
                }
            } else {
                assert!(status.is_success(), "{at}: {status} {body}");
                if text(step, "op") == "promote" {
                    assert_eq!(status, StatusCode::CREATED, "{at}");
                }
                if let Some(stages) = expect.get("stages") {
                    let found: Vec<Value> = body["stages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| json!([s["environment"], name_of(&s["deployment_id"]), s["status"]]))
                        .collect();
                    assert_eq!(&json!(found), stages, "{at}: stages");
                    assert_eq!(body["next"], expect["next"], "{at}: next");
                }
            }
            if let Some(pipelines) = expect.get("pipelines") {
                let (status, listed) = server.get("/api/v1/pipelines").await;
                assert_eq!(status, StatusCode::OK);
                let found: Vec<Value> =
                    listed["items"].as_array().unwrap().iter().map(|p| json!([p["service"], p["stages"]])).collect();
                assert_eq!(&Value::Array(found), pipelines, "{at}: pipelines");
            }
            if let Some([a, b]) = expect["same"].as_array().map(Vec::as_slice) {
                assert_eq!(refs[a.as_str().unwrap()], refs[b.as_str().unwrap()], "{at}: the same deployment");
            }
            for (r, status) in expect["statuses"].as_object().into_iter().flatten() {
                let (_, d) = server.get(&format!("/api/v1/deployments/{}", refs[r])).await;
                assert_eq!(&d["status"], status, "{at}: status of {r}");
            }
            for (r, kinds) in expect["events"].as_object().into_iter().flatten() {
                let (_, events) = server.get(&format!("/api/v1/deployments/{}/events", refs[r])).await;
                let found: Vec<&Value> = events["items"].as_array().unwrap().iter().map(|e| &e["kind"]).collect();
                assert_eq!(&json!(found), kinds, "{at}: events of {r}");
            }
            for (r, subset) in expect["deployment"].as_object().into_iter().flatten() {
                let (_, d) = server.get(&format!("/api/v1/deployments/{}", refs[r])).await;
                for (field, value) in subset.as_object().unwrap() {
                    assert_eq!(&d[field], value, "{at}: {field} of {r}");
                }
            }
        }
        let (_, audit) = server.get("/api/v1/audit/verify").await;
        assert_eq!(audit["valid"], true, "{name}: {audit}");
        server.stop().await;
    }
}

#[tokio::test]
async fn only_an_admin_sets_a_pipeline_and_a_promotion_needs_a_requester_of_the_next_stage() {
    let server = Secured::start().await;
    let pipeline = json!({"service": "demo", "stages": ["staging", "production"]});
    for role in ["viewer", "requester", "approver", "deployer"] {
        let (status, body) = server.call(role, "PUT", "/api/v1/pipelines/demo", Some(&pipeline)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    }
    let (status, body) = server.call("admin", "PUT", "/api/v1/pipelines/other", Some(&pipeline)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["service"]), "path and body differ");
    let many = json!({"service": "demo", "stages": (0..11).map(|i| format!("s{i}")).collect::<Vec<_>>()});
    let (status, body) = server.call("admin", "PUT", "/api/v1/pipelines/demo", Some(&many)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["stages"]));
    let (status, _) = server.call("admin", "PUT", "/api/v1/pipelines/demo", Some(&pipeline)).await;
    assert_eq!(status, StatusCode::OK);

    // A deployment straight to production is refused: the version has not run in staging.
    let direct = json!({"service": "demo", "environment": "production", "version": "2.0.0", "work_refs": ["OPS-1"],
                        "rollback_plan": "redeploy", "risk": "low"});
    let (status, body) = server.call("requester", "POST", "/api/v1/deployments", Some(&direct)).await;
    assert_eq!((status, fields(&body)), (StatusCode::CONFLICT, vec!["promotion_order"]), "{body}");

    let staging = json!({"service": "demo", "environment": "staging", "version": "2.0.0", "work_refs": ["OPS-1"],
                         "rollback_plan": "redeploy", "risk": "low"});
    let (_, created) = server.call("requester", "POST", "/api/v1/deployments", Some(&staging)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let promote = format!("/api/v1/deployments/{id}/promote");
    let (status, body) = server.call("requester", "POST", &promote, Some(&json!({}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::CONFLICT, vec!["promotion_order"]), "not succeeded yet");
    for (role, action) in [("approver", "approve"), ("deployer", "start"), ("deployer", "succeed")] {
        let (status, body) =
            server.call(role, "POST", &format!("/api/v1/deployments/{id}/{action}"), Some(&json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = server.call("viewer", "POST", &promote, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer does not promote");
    let (status, body) = server.call("requester", "POST", &promote, Some(&json!({"actor": "mallory"}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["actor"]), "the token's subject promotes");
    let (status, body) = server.call("requester", "POST", &promote, Some(&json!({"actr": "x"}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["actr"]), "unknown fields are named");
    let (status, promoted) = server.call("requester", "POST", &promote, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{promoted}");
    assert_eq!(
        (promoted["environment"].as_str(), promoted["requester"].as_str()),
        (Some("production"), Some("requester"))
    );
    let (_, view) = server.call("viewer", "GET", "/api/v1/pipelines/demo/versions/2.0.0", None).await;
    assert_eq!(view["stages"][0]["status"], "succeeded");
    assert_eq!(
        (view["stages"][1]["deployment_id"].as_str(), view["next"].as_str()),
        (promoted["id"].as_str(), Some("production"))
    );
    let (status, _) = server.call("viewer", "GET", "/api/v1/pipelines/nothing/versions/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_requester_scoped_to_staging_cannot_promote_into_production() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("loco.db")).await.unwrap();
    let secret = "loco_pipeline-test-secret-staging-only-0123456789";
    let scoped = NewToken {
        name: "staging".into(),
        subject: "sam".into(),
        grants: vec![Grant::parse("requester:staging").unwrap()],
        expires_at: None,
    };
    engine.create_token_with_secret(scoped, "test", secret).await.unwrap();
    let pipeline =
        loco_core::pipeline::Pipeline::from_json(r#"{"service": "web", "stages": ["staging", "production"]}"#).unwrap();
    engine.set_pipeline(pipeline, "root").await.unwrap();
    let new = loco_core::NewDeployment {
        service: "web".into(),
        environment: "staging".into(),
        version: "1.0.0".into(),
        requester: "sam".into(),
        work_refs: vec!["W-1".into()],
        rollback_plan: "redeploy".into(),
        risk: Some("low".into()),
        commit: None,
    };
    let d = engine.create(new, None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    engine.start(&d.id, "dana", None).await.unwrap();
    engine.succeed(&d.id, "dana", None).await.unwrap();
    let session = engine.session(Some(engine.authenticate(secret).await.unwrap()));
    let denied = session.promote(&d.id, String::new()).await.unwrap_err();
    assert_eq!(denied.code(), "permission_denied", "{denied}");
    assert_eq!(engine.list(&loco_core::ListQuery::default()).await.unwrap().items.len(), 1, "nothing was created");
}

#[tokio::test]
async fn the_pipeline_commands_take_a_version_from_dev_to_production() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    let bad = loco(&target, &["pipeline", "set", "web", "--stage", "dev"]).await;
    assert_eq!(bad.code, 3, "validation_error: {}", bad.stderr);
    assert_eq!(bad.error_json()["error"]["details"][0]["field"], "stages");
    let set =
        loco(&target, &["pipeline", "set", "web", "--stage", "dev", "--stage", "staging", "--stage", "production"])
            .await;
    assert_eq!((set.code, set.json()["require_previous_success"].as_bool()), (0, Some(true)), "{}", set.stderr);
    let create = |environment: &'static str| async move {
        loco(
            &target,
            &[
                "create",
                "--service",
                "web",
                "--environment",
                environment,
                "--version",
                "4.0.0",
                "--requester",
                "alice",
                "--work-ref",
                "W-1",
                "--rollback-plan",
                "redo",
                "--risk",
                "low",
                "--commit",
                "f00d",
            ],
        )
        .await
    };
    let skipped = create("staging").await;
    assert_eq!(skipped.code, 25, "policy_violation: {}", skipped.stderr);
    assert_eq!(skipped.error_json()["error"]["details"][0]["field"], "promotion_order");
    let mut id = create("dev").await.json()["id"].as_str().unwrap().to_owned();
    for stage in ["staging", "production"] {
        for (action, actor) in [("approve", "bob"), ("start", "dana"), ("succeed", "dana")] {
            assert_eq!(loco(&target, &[action, &id, "--actor", actor]).await.code, 0, "{action} {id}");
        }
        let anonymous = loco(&target, &["promote", &id]).await;
        assert_eq!(anonymous.code, 3, "an actor is required locally: {}", anonymous.stderr);
        let promoted = loco(&target, &["promote", &id, "--actor", "erin"]).await;
        assert_eq!(promoted.code, 0, "{}", promoted.stderr);
        assert_eq!(promoted.json()["environment"], stage);
        id = promoted.json()["id"].as_str().unwrap().to_owned();
    }
    let shown = loco(&["--db", db.to_str().unwrap()], &["pipeline", "show", "web", "4.0.0"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("pending_approval") && shown.stdout.contains("next: production"), "{}", shown.stdout);
    let events = loco(&target, &["events", &id]).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "promoted"]);
    assert_eq!(loco(&target, &["pipeline", "remove", "web"]).await.code, 0);
    assert_eq!(loco(&target, &["pipeline", "remove", "web"]).await.code, 4, "not_found the second time");
}

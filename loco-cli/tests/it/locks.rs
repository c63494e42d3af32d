//! Deploy locks over real HTTP on loopback: the conformance vectors of
//! `tests/conformance/locks.json` through the deployment routes, `GET /api/v1/locks` and
//! `POST /api/v1/locks/{service}/{environment}/release`; on a secured server, who may force a
//! lock free (an admin of its environment only), attacker-style inputs, and the `loco locks`
//! commands against a server and a database file.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::loco;
use crate::common::TestServer;
use crate::freeze::{SECRET, Secured, fields, urlencoding};

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/locks.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    doc["vectors"].as_array().expect("vectors").clone()
}

fn text<'a>(step: &'a Value, key: &str) -> &'a str {
    step[key].as_str().unwrap_or_else(|| panic!("'{key}' in {step}"))
}

/// Runs one step over HTTP: the reply's status and body.
async fn run_step(server: &TestServer, refs: &mut BTreeMap<String, String>, step: &Value) -> (StatusCode, Value) {
    let actor = step["actor"].as_str().unwrap_or("dana");
    let id = refs.get(step["ref"].as_str().unwrap_or_default()).cloned().unwrap_or_default();
    let act = |action: &str, body: Value| {
        let path = format!("/api/v1/deployments/{id}/{action}");
        async move { server.post(&path, &body).await }
    };
    match text(step, "op") {
        "create" => {
            let body = json!({"service": text(step, "service"), "environment": text(step, "environment"),
                              "version": "1.0.0", "requester": "alice", "work_refs": ["LOCK-1"],
                              "rollback_plan": "redeploy", "risk": "low"});
            let (status, created) = server.post("/api/v1/deployments", &body).await;
            if let Some(id) = created["id"].as_str() {
                refs.insert(text(step, "ref").to_owned(), id.to_owned());
            }
            (status, created)
        }
        "approve" => act("approve", json!({"actor": "bob"})).await,
        "start" | "succeed" => act(text(step, "op"), json!({"actor": actor})).await,
        "fail" | "rollback" => act(text(step, "op"), json!({"actor": actor, "note": "vector"})).await,
        "release" => {
            let path = format!(
                "/api/v1/locks/{}/{}/release",
                urlencoding(text(step, "service")),
                urlencoding(text(step, "environment"))
            );
            server.post(&path, &json!({"actor": "root", "reason": text(step, "reason")})).await
        }
        op => panic!("unknown op {op}"),
    }
}

#[tokio::test]
async fn lock_vectors_over_http() {
    let vectors = vectors();
    assert!(vectors.len() >= 20);
    for vector in &vectors {
        let name = text(vector, "name");
        let server = TestServer::start().await;
        let mut refs = BTreeMap::new();
        for (n, step) in vector["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{name}, step {n}");
            let (status, body) = run_step(&server, &mut refs, step).await;
            let expect = &step["expect"];
            if let Some(code) = expect["error"].as_str() {
                assert_eq!(body["error"]["code"].as_str(), Some(code), "{at}: {body}");
                let wanted = match code {
                    "validation_error" => StatusCode::BAD_REQUEST,
                    "not_found" => StatusCode::NOT_FOUND,
                    _ => StatusCode::CONFLICT,
                };
                assert_eq!(status, wanted, "{at}");
                assert_eq!(json!(fields(&body)), expect["fields"], "{at}: fields");
                if let Some(holder) = expect["holder"].as_str() {
                    let message = body["error"]["message"].as_str().unwrap();
                    assert!(message.contains(&refs[holder]), "{at}: the holder is named: {message}");
                }
            } else {
                assert!(status.is_success(), "{at}: {status} {body}");
                if let Some(released) = expect.get("released") {
                    let mut wanted = json!({"service": released[0], "environment": released[1],
                                            "deployment_id": refs[released[2].as_str().unwrap()],
                                            "holder": released[3]});
                    wanted["since"] = body["since"].clone();
                    assert_eq!(body, wanted, "{at}: released");
                }
            }
            if let Some(locks) = expect.get("locks") {
                let (status, listed) = server.get("/api/v1/locks").await;
                assert_eq!(status, StatusCode::OK);
                let name = |id: &str| refs.iter().find(|(_, v)| v.as_str() == id).map(|(k, _)| k.clone());
                let found: Vec<Value> = listed["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| {
                        let id = l["deployment_id"].as_str().unwrap();
                        json!([l["service"], l["environment"], name(id), l["holder"]])
                    })
                    .collect();
                assert_eq!(&Value::Array(found), locks, "{at}: locks");
            }
            for (r, status) in expect["statuses"].as_object().into_iter().flatten() {
                let (_, d) = server.get(&format!("/api/v1/deployments/{}", refs[r])).await;
                assert_eq!(&d["status"], status, "{at}: status of {r}");
            }
        }
        let (_, audit) = server.get("/api/v1/audit/verify").await;
        assert_eq!(audit["valid"], true, "{name}: {audit}");
        server.stop().await;
    }
}

#[tokio::test]
async fn only_an_admin_of_the_environment_forces_a_lock_free_and_bad_requests_change_nothing() {
    let server = Secured::start().await;
    let holder = server.approved_in_production("1.0.0").await;
    let (status, body) =
        server.call("deployer", "POST", &format!("/api/v1/deployments/{holder}/start"), Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let waiting = server.approved_in_production("1.0.1").await;
    let start = format!("/api/v1/deployments/{waiting}/start");
    let (status, body) = server.call("deployer", "POST", &start, Some(&json!({}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::CONFLICT, vec!["deploy_lock"]), "{body}");
    assert_eq!(body["error"]["code"], "policy_violation");
    assert!(body["error"]["message"].as_str().unwrap().contains(&holder), "{body}");

    // Anyone with a token lists the locks; nobody without one.
    let (status, body) = server.call("viewer", "GET", "/api/v1/locks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["items"],
        json!([{"service": "demo", "environment": "production", "deployment_id": holder,
                                       "holder": "deployer", "since": body["items"][0]["since"]}])
    );
    let anonymous = server.http.get(format!("{}/api/v1/locks", server.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Forcing it free: refused to every role but admin, to an admin of another environment, to a
    // made-up actor, to a body that is not JSON, has unknown fields or no reason.
    let release = "/api/v1/locks/demo/production/release";
    let reason = json!({"reason": "runner died (INC-9)"});
    for role in ["viewer", "requester", "approver", "deployer"] {
        let (status, body) = server.call(role, "POST", release, Some(&reason)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    }
    let grant = json!({"name": "ada", "subject": "ada", "grants": ["admin:staging"]});
    let (status, created) = server.call("admin", "POST", "/api/v1/tokens", Some(&grant)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let staging_admin = created["secret"].as_str().unwrap().to_owned();
    let scoped = server
        .http
        .post(format!("{}{release}", server.url))
        .bearer_auth(&staging_admin)
        .json(&reason)
        .send()
        .await
        .unwrap();
    assert_eq!(scoped.status(), StatusCode::FORBIDDEN);
    let text_body = server
        .http
        .post(format!("{}{release}", server.url))
        .bearer_auth(format!("{SECRET}admin-0123456789abcdef"))
        .header("content-type", "text/plain")
        .body(reason.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for (body, field) in [
        (json!({"reason": "  "}), "reason"),
        (json!({"reason": "r", "force": true}), "force"),
        (json!({"reason": "r", "actor": "mallory"}), "actor"),
        (json!({}), "reason"),
    ] {
        let (status, reply) = server.call("admin", "POST", release, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert!(
            fields(&reply).contains(&field) || reply["error"]["message"].as_str().unwrap().contains(field),
            "{reply}"
        );
    }
    let (_, body) = server.call("viewer", "GET", "/api/v1/locks", None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "nothing was released");
    let (status, body) = server.call("admin", "POST", "/api/v1/locks/demo/staging/release", Some(&reason)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");

    // The admin's release is recorded on the holder, which stays started; the waiting start goes.
    let (status, body) = server.call("admin", "POST", release, Some(&reason)).await;
    assert_eq!((status, body["deployment_id"].as_str()), (StatusCode::OK, Some(holder.as_str())), "{body}");
    let (_, events) = server.call("viewer", "GET", &format!("/api/v1/deployments/{holder}/events"), None).await;
    let last = events["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["actor"].as_str()), (Some("lock_released"), Some("admin")), "{last}");
    assert_eq!(last["note"], "runner died (INC-9)");
    assert_eq!(last["data"]["holder"], "deployer");
    let (_, held) = server.call("viewer", "GET", &format!("/api/v1/deployments/{holder}"), None).await;
    assert_eq!(held["status"], "started");
    let (status, body) = server.call("deployer", "POST", &start, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, audit) = server.call("viewer", "GET", "/api/v1/audit/verify", None).await;
    assert_eq!(audit["valid"], true, "{audit}");
}

#[tokio::test]
async fn the_locks_commands_list_and_release_against_a_server_and_a_database_file() {
    let server = Secured::start().await;
    let holder = server.approved_in_production("1.0.0").await;
    server.call("deployer", "POST", &format!("/api/v1/deployments/{holder}/start"), Some(&json!({}))).await;
    let admin = format!("{SECRET}admin-0123456789abcdef");
    let viewer = format!("{SECRET}viewer-0123456789abcdef");
    let listed = loco(&["--server", &server.url, "--token", &viewer], &["locks"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("SERVICE") && listed.stdout.contains(&holder), "{}", listed.stdout);
    let json_list = loco(&["--json", "--server", &server.url, "--token", &viewer], &["locks", "list"]).await;
    assert_eq!(json_list.json()["items"][0]["holder"], "deployer");
    let denied = loco(
        &["--server", &server.url, "--token", &viewer],
        &["locks", "release", "demo", "production", "--reason", "x"],
    )
    .await;
    assert_eq!(denied.code, 21, "permission_denied: {}", denied.stderr);
    let no_reason =
        loco(&["--server", &server.url, "--token", &admin], &["locks", "release", "demo", "production"]).await;
    assert_eq!(no_reason.code, 2, "a missing --reason is a usage error: {}", no_reason.stderr);
    let released = loco(
        &["--server", &server.url, "--token", &admin],
        &["locks", "release", "demo", "production", "--reason", "runner died"],
    )
    .await;
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert!(released.stdout.contains(&holder), "{}", released.stdout);
    let again = loco(
        &["--server", &server.url, "--token", &admin],
        &["locks", "release", "demo", "production", "--reason", "runner died"],
    )
    .await;
    assert_eq!(again.code, 4, "not_found: {}", again.stderr);

    // Against a database file: a second start exits 25 naming the holder; --actor is required.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    let mut ids = Vec::new();
    for version in ["1", "2"] {
        let created = loco(
            &target,
            &[
                "create",
                "--service",
                "web",
                "--environment",
                "staging",
                "--version",
                version,
                "--requester",
                "alice",
                "--work-ref",
                "W-1",
                "--rollback-plan",
                "redo",
            ],
        )
        .await;
        let id = created.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(loco(&target, &["approve", &id, "--actor", "bob"]).await.code, 0);
        ids.push(id);
    }
    assert_eq!(loco(&target, &["start", &ids[0], "--actor", "carol"]).await.code, 0);
    let refused = loco(&target, &["start", &ids[1], "--actor", "carol"]).await;
    assert_eq!(refused.code, 25, "{}", refused.stderr);
    assert_eq!(refused.error_json()["error"]["details"][0]["field"], "deploy_lock");
    let anonymous = loco(&target, &["locks", "release", "web", "staging", "--reason", "stuck"]).await;
    assert_eq!(anonymous.code, 3, "an actor is required locally: {}", anonymous.stderr);
    let released = loco(&target, &["locks", "release", "web", "staging", "--reason", "stuck", "--actor", "root"]).await;
    assert_eq!(released.json()["deployment_id"], ids[0]);
    assert_eq!(loco(&target, &["start", &ids[1], "--actor", "carol"]).await.code, 0);
    let listed = loco(&target, &["locks"]).await;
    assert_eq!(listed.json()["items"][0]["deployment_id"], ids[1]);
}

//! Approval gates over real HTTP on loopback: the conformance vectors of
//! `tests/conformance/gates.json` through `PUT|DELETE /api/v1/gates/{environment}`, the review
//! routes and `GET /api/v1/deployments/{id}/approvals`; on a secured server, who may set a gate
//! and approve under it, attacker-style inputs; and the `loco gate` commands against a database
//! file, through a two-approver gate to a started deployment.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::loco;
use crate::common::{TestServer, text, vectors};
use crate::freeze::{Secured, fields, urlencoding};

/// Runs one step over HTTP: the reply's status and body.
async fn run_step(server: &TestServer, refs: &mut BTreeMap<String, String>, step: &Value) -> (StatusCode, Value) {
    let id = refs.get(step["ref"].as_str().unwrap_or_default()).cloned().unwrap_or_default();
    let act = |action: &str, body: Value| {
        let path = format!("/api/v1/deployments/{id}/{action}");
        async move { server.post(&path, &body).await }
    };
    match text(step, "op") {
        "gate" => {
            let gate = &step["gate"];
            let environment = gate["environment"].as_str().filter(|e| !e.trim().is_empty()).unwrap_or("blank");
            let path = format!("/api/v1/gates/{}", urlencoding(environment));
            server.send(reqwest::Method::PUT, &path, Some(gate)).await
        }
        "remove_gate" => {
            let mut path = format!("/api/v1/gates/{}", urlencoding(text(step, "environment")));
            if let Some(service) = step["service"].as_str() {
                path = format!("{path}?service={}", urlencoding(service));
            }
            server.send(reqwest::Method::DELETE, &path, None).await
        }
        "group" => {
            let group = &step["group"];
            let path = format!("/api/v1/groups/{}", urlencoding(group["name"].as_str().unwrap_or_default()));
            server.send(reqwest::Method::PUT, &path, Some(group)).await
        }
        "remove_group" => {
            let path = format!("/api/v1/groups/{}", urlencoding(text(step, "name")));
            server.send(reqwest::Method::DELETE, &path, None).await
        }
        "create" => {
            let service = step["service"].as_str().unwrap_or("web");
            let body = json!({"service": service, "environment": text(step, "environment"), "version": "1.0.0",
                              "requester": "alice", "work_refs": ["GATE-1"], "rollback_plan": "redeploy",
                              "risk": "low"});
            let (status, created) = server.post("/api/v1/deployments", &body).await;
            if let Some(id) = created["id"].as_str() {
                refs.insert(text(step, "ref").to_owned(), id.to_owned());
            }
            (status, created)
        }
        "approve" => act("approve", json!({"actor": text(step, "actor")})).await,
        "reject" => act("reject", json!({"actor": text(step, "actor"), "note": "vector"})).await,
        "start" => {
            let mut body = json!({"actor": "dana"});
            if let Some(reason) = step["override_reason"].as_str() {
                body["override_reason"] = json!(reason);
            }
            act("start", body).await
        }
        "status" => {
            let minutes = step["after_minutes"].as_u64().unwrap_or(0);
            let at = loco_core::Timestamp::now().after(Duration::from_secs(minutes * 60));
            server.get(&format!("/api/v1/deployments/{id}/approvals?at={}", urlencoding(&at.to_string()))).await
        }
        op => panic!("unknown op {op}"),
    }
}

#[tokio::test]
async fn gate_vectors_over_http() {
    let vectors = vectors("gates.json");
    assert!(vectors.len() >= 40);
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
                    "self_approval" => StatusCode::FORBIDDEN,
                    _ => StatusCode::CONFLICT,
                };
                assert_eq!(status, wanted, "{at}");
                if let Some(expected) = expect.get("fields") {
                    assert_eq!(&json!(fields(&body)), expected, "{at}: fields");
                }
                if code == "approval_required" {
                    // HTTP carries the count in the one detail, `approvals`.
                    let detail = &body["error"]["details"][0];
                    let count = format!("{} of the {} approvals", expect["approvals"], expect["required"]);
                    assert_eq!(detail["field"], "approvals", "{at}: {body}");
                    assert!(detail["message"].as_str().unwrap().starts_with(&count), "{at}: {body}");
                }
            } else {
                assert!(status.is_success(), "{at}: {status} {body}");
                if text(step, "op") == "status" {
                    let actors: Vec<&Value> =
                        body["approvals"].as_array().unwrap().iter().map(|a| &a["actor"]).collect();
                    assert_eq!(&json!(actors), &expect["approvals"], "{at}: approvals");
                    assert_eq!(body["required"], expect["required"], "{at}: required");
                    if let Some(rejected) = expect.get("rejected") {
                        assert_eq!(&body["rejected"], rejected, "{at}");
                    }
                    if let Some(set) = expect["startable_at_set"].as_bool() {
                        assert_eq!(body["startable_at"].is_string(), set, "{at}: {body}");
                    }
                }
            }
            if let Some(gates) = expect.get("gates") {
                let (status, listed) = server.get("/api/v1/gates").await;
                assert_eq!(status, StatusCode::OK);
                let found: Vec<Value> = listed["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| json!([g["environment"], g["required_approvals"]]))
                    .collect();
                assert_eq!(&Value::Array(found), gates, "{at}: gates");
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
        }
        let (_, audit) = server.get("/api/v1/audit/verify").await;
        assert_eq!(audit["valid"], true, "{name}: {audit}");
        server.stop().await;
    }
}

#[tokio::test]
async fn only_an_admin_sets_a_gate_and_each_approval_carries_the_callers_identity() {
    let server = Secured::start().await;
    let gate = json!({"environment": "production", "required_approvals": 2});
    for role in ["viewer", "requester", "approver", "deployer"] {
        let (status, body) = server.call(role, "PUT", "/api/v1/gates/production", Some(&gate)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
        let (status, _) = server.call(role, "DELETE", "/api/v1/gates/production", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role} may not remove a gate");
    }
    let (status, body) = server.call("admin", "PUT", "/api/v1/gates/staging", Some(&gate)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["environment"]), "path and body differ");
    let unknown = json!({"environment": "production", "required_approvals": 2, "teams": ["sre"]});
    let (status, body) = server.call("admin", "PUT", "/api/v1/gates/production", Some(&unknown)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("validation_error")));
    let raw = server
        .http
        .put(format!("{}/api/v1/gates/production", server.url))
        .bearer_auth(format!("{}admin-0123456789abcdef", crate::freeze::SECRET))
        .header("content-type", "text/plain")
        .body(gate.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"environment": "production", "required_approvals": 2, "approvers": vec!["x".repeat(300); 2]});
    let (status, body) = server.call("admin", "PUT", "/api/v1/gates/production", Some(&huge)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["approvers[0]", "approvers[1]"]), "{body}");
    let (status, listed) = server.call("viewer", "GET", "/api/v1/gates", None).await;
    assert_eq!((status, listed["items"].as_array().unwrap().len()), (StatusCode::OK, 0), "nothing refused was stored");
    let (status, _) = server.call("admin", "PUT", "/api/v1/gates/Production", Some(&gate)).await;
    assert_eq!(status, StatusCode::OK, "the path's environment matches ignoring case");

    // A service's own gate: set in the body, removed with ?service=; bad queries are named.
    let api = json!({"environment": "production", "service": "api", "required_approvals": 1});
    let (status, set) = server.call("admin", "PUT", "/api/v1/gates/production", Some(&api)).await;
    assert_eq!((status, &set["service"]), (StatusCode::OK, &json!("api")), "{set}");
    let (status, _) = server.call("deployer", "DELETE", "/api/v1/gates/production?service=api", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a deployer may not remove a service's gate either");
    for (query, field) in [("servce=api", "servce"), ("service=%20", "service"), ("service=a&service=b", "service")] {
        let (status, body) = server.call("admin", "DELETE", &format!("/api/v1/gates/production?{query}"), None).await;
        assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec![field]), "{query}: {body}");
    }
    let (status, body) = server.call("admin", "DELETE", "/api/v1/gates/production?service=web", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("service 'web'"), "{body}");
    let (status, _) = server.call("admin", "DELETE", "/api/v1/gates/PRODUCTION?service=api", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = server.call("viewer", "GET", "/api/v1/gates", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "the environment's gate stays: {listed}");

    // The first approval (by the approver token) is recorded under its subject, whatever the
    // body says; a second one by the same identity is refused; the admin's completes the gate.
    let id = server.approved_in_production("1.0.0").await;
    let (_, d) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}"), None).await;
    assert_eq!(d["status"], "pending_approval", "one approval of two");
    let approve = format!("/api/v1/deployments/{id}/approve");
    let (status, body) = server.call("approver", "POST", &approve, Some(&json!({"actor": "someone-else"}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["actor"]), "the token's subject is the actor");
    let (status, body) = server.call("approver", "POST", &approve, Some(&json!({}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{body}");
    let start = format!("/api/v1/deployments/{id}/start");
    let (status, body) = server.call("deployer", "POST", &start, Some(&json!({}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("approval_required")));
    assert_eq!(body["error"]["details"][0]["field"], "approvals", "{body}");
    let (status, _) = server.call("viewer", "POST", &approve, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer does not count as a reviewer");
    let (status, body) = server.call("admin", "POST", &approve, Some(&json!({"note": "second pair of eyes"}))).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("approved")), "{body}");
    let (_, review) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/approvals"), None).await;
    let actors: Vec<&str> =
        review["approvals"].as_array().unwrap().iter().map(|a| a["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["approver", "admin"], "{review}");
    assert_eq!(review["approvals"][1]["note"], "second pair of eyes");
    let (status, body) =
        server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/approvals?at=yesterday"), None).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["at"]));
    let (status, body) =
        server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/approvals?since=1"), None).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["since"]));
    let (status, _) = server.call("deployer", "POST", &start, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_gate_commands_take_a_deployment_through_two_approvers_and_a_wait() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    let bad = loco(&target, &["gate", "set", "production", "--approvals", "0"]).await;
    assert_eq!(bad.code, 3, "validation_error: {}", bad.stderr);
    assert_eq!(bad.error_json()["error"]["details"][0]["field"], "required_approvals");
    let set = loco(
        &target,
        &[
            "gate",
            "set",
            "production",
            "--approvals",
            "2",
            "--approver",
            "bob",
            "--approver",
            "carol",
            "--approver",
            "erin",
            "--wait",
            "30",
        ],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["approvers"], json!(["bob", "carol", "erin"]));
    let listed = loco(&target, &["gate", "list"]).await;
    assert_eq!(listed.json()["items"][0]["wait_minutes"], 30);

    let created = loco(
        &target,
        &[
            "create",
            "--service",
            "web",
            "--environment",
            "production",
            "--version",
            "2",
            "--requester",
            "alice",
            "--work-ref",
            "W-1",
            "--rollback-plan",
            "redo",
            "--risk",
            "low",
        ],
    )
    .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let outsider = loco(&target, &["approve", &id, "--actor", "mallory"]).await;
    assert_eq!(outsider.code, 25, "policy_violation: {}", outsider.stderr);
    let first = loco(&target, &["approve", &id, "--actor", "bob"]).await;
    assert_eq!(first.json()["status"], "pending_approval");
    let early = loco(&target, &["start", &id, "--actor", "dana"]).await;
    assert_eq!(early.code, 26, "approval_required: {}", early.stderr);
    let detail = &early.error_json()["error"]["details"][0];
    assert_eq!(
        (detail["field"].as_str(), detail["message"].as_str().map(|m| m.starts_with("1 of the 2"))),
        (Some("approvals"), Some(true))
    );
    let second = loco(&target, &["approve", &id, "--actor", "carol"]).await;
    assert_eq!(second.json()["status"], "approved");
    let status = loco(&["--db", db.to_str().unwrap()], &["gate", "status", &id]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains("2 of 2 approvals") && status.stdout.contains("may start at"), "{}", status.stdout);
    let waiting = loco(&target, &["start", &id, "--actor", "dana"]).await;
    assert_eq!(waiting.code, 25, "the wait: {}", waiting.stderr);
    assert_eq!(waiting.error_json()["error"]["details"][0]["field"], "wait_timer");
    let overridden = loco(&target, &["start", &id, "--actor", "root", "--override", "hotfix"]).await;
    assert_eq!(overridden.json()["status"], "started", "{}", overridden.stderr);
    let events = loco(&target, &["events", &id]).await;
    let kinds: Vec<String> =
        events.json()["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["created", "approval_granted", "approved", "policy_override", "started"], "{}", events.stdout);
    assert_eq!(loco(&target, &["gate", "remove", "production"]).await.code, 0);
    assert_eq!(loco(&target, &["gate", "remove", "production"]).await.code, 4, "not_found the second time");

    // A service's own gate, beside the environment's.
    let own = loco(&target, &["gate", "set", "production", "--service", "web", "--approvals", "3"]).await;
    assert_eq!((own.code, &own.json()["service"]), (0, &json!("web")), "{}", own.stderr);
    let listed = loco(&target, &["gate", "list"]).await;
    assert_eq!(listed.json()["items"][0]["required_approvals"], 3, "{}", listed.stdout);
    let wide = loco(&target, &["gate", "remove", "production"]).await;
    assert_eq!(wide.code, 4, "the environment has no gate of its own: {}", wide.stderr);
    let removed = loco(&["--db", db.to_str().unwrap()], &["gate", "remove", "production", "--service", "web"]).await;
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(removed.stderr.contains("service 'web'"), "{}", removed.stderr);
}

#[tokio::test]
async fn only_an_admin_sets_a_reviewer_group_and_its_members_review_as_themselves() {
    let server = Secured::start().await;
    let group = json!({"name": "sre", "members": ["approver", "carol"]});
    for role in ["viewer", "requester", "approver", "deployer"] {
        let (status, body) = server.call(role, "PUT", "/api/v1/groups/sre", Some(&group)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
        let (status, _) = server.call(role, "DELETE", "/api/v1/groups/sre", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role} may not remove a group");
    }
    let (status, _) = server.call("admin", "PUT", "/api/v1/groups/sre", None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no body");
    let (status, body) = server.call("admin", "PUT", "/api/v1/groups/ops", Some(&group)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["name"]), "path and body differ: {body}");
    let owner = json!({"name": "sre", "members": [], "owner": "mallory"});
    let (status, body) = server.call("admin", "PUT", "/api/v1/groups/sre", Some(&owner)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["group"]), "an unknown field: {body}");
    let crowd: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let (status, body) =
        server.call("admin", "PUT", "/api/v1/groups/sre", Some(&json!({"name": "sre", "members": crowd}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["members"]), "{body}");
    let (status, body) = server.call("admin", "PUT", "/api/v1/groups/s%20re", Some(&json!({"name": "s re"}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["name"]), "{body}");
    let (_, listed) = server.call("viewer", "GET", "/api/v1/groups", None).await;
    assert_eq!(listed["items"], json!([]), "nothing refused was stored");

    let (status, stored) = server.call("admin", "PUT", "/api/v1/groups/SRE", Some(&group)).await;
    assert_eq!((status, &stored), (StatusCode::OK, &group), "the path matches ignoring case");
    let gate = json!({"environment": "production", "required_approvals": 2, "groups": ["sre"]});
    let (status, set) = server.call("admin", "PUT", "/api/v1/gates/production", Some(&gate)).await;
    let shown = json!({"environment": "production", "service": null, "required_approvals": 2, "approvers": [],
                       "groups": ["sre"], "expires_after_minutes": null, "wait_minutes": null});
    assert_eq!((status, &set), (StatusCode::OK, &shown), "members are never shown with the gate");
    let (_, gates) = server.call("viewer", "GET", "/api/v1/gates", None).await;
    assert_eq!(gates["items"], json!([shown]));

    // The approver token's subject is in the group; the deployer's is not, though it may approve.
    let id = server.approved_in_production("1.0.0").await;
    let approve = format!("/api/v1/deployments/{id}/approve");
    let (status, body) = server.call("admin", "POST", &approve, Some(&json!({}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("(group sre)"), "{body}");
    let (_, review) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/approvals"), None).await;
    assert_eq!(review["approvals"].as_array().map(Vec::len), Some(1), "the approver's counts: {review}");
    let (status, body) = server.call("admin", "DELETE", "/api/v1/groups/sre", None).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["name"]), "named by a gate: {body}");
    // Taken out of the group, the approver's approval no longer counts.
    let (status, _) =
        server.call("admin", "PUT", "/api/v1/groups/sre", Some(&json!({"name": "sre", "members": ["carol"]}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, review) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/approvals"), None).await;
    assert_eq!(review["approvals"], json!([]), "{review}");
    let (status, _) = server.call("admin", "DELETE", "/api/v1/gates/production", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call("admin", "DELETE", "/api/v1/groups/sre", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.call("admin", "DELETE", "/api/v1/groups/sre", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn the_group_commands_set_list_and_remove_groups_a_gate_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    let text_target = ["--db", db.to_str().unwrap()];
    let missing = loco(&target, &["gate", "set", "production", "--approvals", "1", "--group", "sre"]).await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert_eq!(missing.error_json()["error"]["details"][0]["field"], "groups[0]");
    let bad = loco(&target, &["group", "set", "sre", "--member", "bob", "--member", "BOB"]).await;
    assert_eq!((bad.code, &bad.error_json()["error"]["details"][0]["field"]), (3, &json!("members[1]")));
    let set = loco(&target, &["group", "set", "sre", "--member", "bob", "--member", "carol"]).await;
    assert_eq!((set.code, set.json()), (0, json!({"name": "sre", "members": ["bob", "carol"]})), "{}", set.stderr);
    assert_eq!(loco(&target, &["group", "set", "oncall"]).await.code, 0);
    let listed = loco(&text_target, &["group", "list"]).await;
    assert_eq!(listed.stdout, "oncall: (nobody)\nsre: bob, carol\n");
    let gate = loco(&target, &["gate", "set", "production", "--approvals", "1", "--group", "sre"]).await;
    assert_eq!((gate.code, &gate.json()["groups"]), (0, &json!(["sre"])), "{}", gate.stderr);
    let named = loco(&target, &["group", "remove", "sre"]).await;
    assert_eq!(named.code, 3, "{}", named.stderr);
    assert!(named.stderr.contains("named by the gate of production"), "{}", named.stderr);
    assert_eq!(loco(&target, &["gate", "remove", "production"]).await.code, 0);
    let removed = loco(&text_target, &["group", "remove", "sre"]).await;
    assert_eq!((removed.code, removed.stderr.as_str()), (0, "removed the reviewer group 'sre'\n"));
    assert_eq!(loco(&target, &["group", "remove", "sre"]).await.code, 4, "not_found the second time");
    assert_eq!(loco(&target, &["group", "list"]).await.json()["items"], json!([{"name": "oncall", "members": []}]));
}

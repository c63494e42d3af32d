//! `service.yaml` manifests over real HTTP on loopback and through the `loco` binary: the vectors
//! of `tests/conformance/manifests.json` through `POST /api/v1/validate/manifest`, that route
//! attacked (no token, wrong content type, wrong body shapes, oversized), and
//! `loco manifest schema|validate|apply` against a database file.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{loco, loco_fed};
use crate::common::{TestServer, text, vectors};
use crate::freeze::Secured;

/// The value at `path` (`stages[1].rollout.instances`) inside `value`.
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut here = value;
    for part in path.split('.') {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        here = &here[name];
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            here = &here[index.trim_end_matches(']').parse::<usize>().expect("index")];
        }
    }
    here
}

/// Checks one reply against a vector's expectation.
fn check(name: &str, expect: &Value, status: StatusCode, body: &Value) {
    if expect["valid"] == true {
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        for (path, value) in expect["values"].as_object().expect("values") {
            assert_eq!(at(body, path), value, "{name}: {path}");
        }
        return;
    }
    assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
    assert_eq!(body["error"]["code"], "validation_error", "{name}");
    let details = body["error"]["details"].as_array().expect("details");
    let got: Vec<(&str, &Value)> = details.iter().map(|d| (text(d, "field"), &d["line"])).collect();
    let want: Vec<(&str, &Value)> =
        expect["problems"].as_array().expect("problems").iter().map(|p| (text(p, "field"), &p["line"])).collect();
    assert_eq!(got, want, "{name}: {body}");
    assert!(details.iter().all(|d| d["column"].as_u64().is_some_and(|c| c >= 1)), "{name}: columns in {body}");
}

#[tokio::test]
async fn manifest_vectors_over_http() {
    let server = TestServer::start().await;
    let vectors = vectors("manifests.json");
    assert!(vectors.len() >= 50);
    for vector in &vectors {
        let body = json!({"manifest": text(vector, "manifest")});
        let (status, reply) = server.post("/api/v1/validate/manifest", &body).await;
        check(text(vector, "name"), &vector["expect"], status, &reply);
    }
    server.stop().await;
}

#[tokio::test]
async fn the_validate_route_refuses_what_an_attacker_would_send() {
    let server = Secured::start().await;
    let good = vectors("manifests.json")[0]["manifest"].as_str().unwrap().to_owned();
    let path = "/api/v1/validate/manifest";
    // Every role may read a manifest; no token may not.
    for role in ["viewer", "requester", "approver", "deployer", "admin"] {
        let (status, body) = server.call(role, "POST", path, Some(&json!({"manifest": good}))).await;
        assert_eq!((status, &body["service"]), (StatusCode::OK, &json!("checkout")), "{role}: {body}");
    }
    let anonymous = server.http.post(format!("{}{path}", server.url)).json(&json!({"manifest": good})).send().await;
    assert_eq!(anonymous.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong = server
        .http
        .post(format!("{}{path}", server.url))
        .bearer_auth(format!("{}viewer-0123456789abcdef", crate::freeze::SECRET))
        .header("content-type", "application/yaml")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "YAML goes inside a JSON string");
    // Wrong body shapes name the field.
    for (body, field) in [
        (json!({"manifest": good, "apply": true}), "apply"),
        (json!({"manifest": 7}), "manifest"),
        (json!({}), "manifest"),
        (json!({"manifest": ""}), "manifest"),
    ] {
        let (status, reply) = server.call("viewer", "POST", path, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["error"]["details"][0]["field"], field, "{reply}");
    }
    // Over the manifest limit but under the body limit: the core refuses it, naming the size.
    let big = format!("{good}# {}\n", "x".repeat(300 * 1024));
    let (status, reply) = server.call("viewer", "POST", path, Some(&json!({"manifest": big}))).await;
    assert_eq!((status, &reply["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("manifest")));
    // Over the body limit: 413 before anything is read.
    let huge = format!("{good}# {}\n", "x".repeat(2 * 1024 * 1024));
    let (status, reply) = server.call("viewer", "POST", path, Some(&json!({"manifest": huge}))).await;
    assert_eq!((status, &reply["error"]["code"]), (StatusCode::PAYLOAD_TOO_LARGE, &json!("payload_too_large")));
    // A billion-laughs manifest is refused at its first anchor, not expanded.
    let laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
    let (status, reply) = server.call("viewer", "POST", path, Some(&json!({"manifest": laughs}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        (&reply["error"]["details"][0]["field"], &reply["error"]["details"][0]["line"]),
        (&json!("a"), &json!(1))
    );
}

#[tokio::test]
async fn manifests_are_applied_in_versions_and_read_back_over_http() {
    let server = Secured::start().await;
    let good = vectors("manifests.json")[0]["manifest"].as_str().unwrap().to_owned();
    let put = |role: &'static str, path: &'static str, text: String| {
        let server = &server;
        async move { server.call(role, "PUT", path, Some(&json!({ "manifest": text }))).await }
    };
    // Who may apply: admins only; a refused caller learns nothing about the body.
    for role in ["viewer", "requester", "approver", "deployer"] {
        let (status, body) = put(role, "/api/v1/manifests/checkout", good.clone()).await;
        assert_eq!((status, &body["error"]["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")), "{role}");
    }
    // A bad manifest: every problem with its line, and nothing stored.
    let bad = good.replace("required_approvals: 2", "required_approvals: 0").replace("Europe/Berlin", "Mars/Base");
    let (status, body) = put("admin", "/api/v1/manifests/checkout", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let lines: Vec<&Value> = body["error"]["details"].as_array().unwrap().iter().map(|d| &d["line"]).collect();
    assert_eq!(lines, [&json!(19), &json!(26)], "{body}");
    let (status, _) = server.call("viewer", "GET", "/api/v1/manifests/checkout", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The path names another service.
    let (status, body) = put("admin", "/api/v1/manifests/payments", good.clone()).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("service")));
    // Applied: 201 with version 1; the same text again: 200, still version 1.
    let (status, first) = put("admin", "/api/v1/manifests/checkout", good.clone()).await;
    assert_eq!((status, &first["version"], &first["applied_by"]), (StatusCode::CREATED, &json!(1), &json!("admin")));
    assert_eq!(first["digest"].as_str().map(str::len), Some(64), "{first}");
    let (status, again) = put("admin", "/api/v1/manifests/checkout", good.clone()).await;
    assert_eq!((status, &again["version"]), (StatusCode::OK, &json!(1)));
    let relaxed = good.replace("required_approvals: 2", "required_approvals: 1");
    let (status, second) = put("admin", "/api/v1/manifests/checkout", relaxed.clone()).await;
    assert_eq!((status, &second["version"]), (StatusCode::CREATED, &json!(2)));
    let (_, gates) = server.call("viewer", "GET", "/api/v1/gates", None).await;
    assert_eq!(gates["items"][0]["required_approvals"], 1, "{gates}");
    // Reading back: the newest, the history, one version; bad and missing versions.
    let (_, newest) = server.call("viewer", "GET", "/api/v1/manifests/checkout", None).await;
    assert_eq!((&newest["version"], &newest["text"]), (&json!(2), &json!(relaxed)));
    assert_eq!(newest["manifest"]["stages"][2]["approval"]["required_approvals"], 1);
    let (_, history) = server.call("viewer", "GET", "/api/v1/manifests/checkout/versions", None).await;
    let versions: Vec<&Value> = history["items"].as_array().unwrap().iter().map(|r| &r["version"]).collect();
    assert_eq!(versions, [&json!(2), &json!(1)]);
    let (_, one) = server.call("viewer", "GET", "/api/v1/manifests/checkout/versions/1", None).await;
    assert_eq!(one["text"], json!(good));
    for bad in ["x", "0", "-1", "4294967296"] {
        let path = format!("/api/v1/manifests/checkout/versions/{bad}");
        let (status, body) = server.call("viewer", "GET", &path, None).await;
        assert_eq!((status, &body["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("version")));
    }
    let (status, body) = server.call("viewer", "GET", "/api/v1/manifests/checkout/versions/9", None).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    let (_, list) = server.call("viewer", "GET", "/api/v1/manifests", None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    // A deployment created under the manifest's pipeline records its version.
    let new = json!({"service": "checkout", "environment": "dev", "version": "1.0.0", "work_refs": ["OPS-1"],
                     "rollback_plan": "redeploy", "risk": "low"});
    let (status, created) = server.call("requester", "POST", "/api/v1/deployments", Some(&new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/api/v1/deployments/{}/events", created["id"].as_str().unwrap());
    let (_, events) = server.call("viewer", "GET", &path, None).await;
    assert_eq!(events["items"][0]["data"]["manifest_version"], 2, "{events}");
}

#[tokio::test]
async fn loco_manifest_validates_locally_and_applies_to_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let good = vectors("manifests.json")[0]["manifest"].as_str().unwrap().to_owned();
    let file = dir.path().join("service.yaml");
    std::fs::write(&file, &good).unwrap();
    let file = file.to_str().unwrap();

    let schema = loco(&[], &["manifest", "schema"]).await;
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    assert_eq!(schema.json(), loco_core::manifest::schema());

    let valid = loco(&[], &["manifest", "validate", file]).await;
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    assert!(valid.stdout.starts_with("checkout (loco/v1): 3 stages"), "{}", valid.stdout);
    assert!(
        valid.stdout.contains("production       no rollout plan; 2 approvals of alice, bob, carol"),
        "{}",
        valid.stdout
    );

    // Every problem, each with its line, in the order of the file; exit 3 (validation_error).
    let bad = good.replacen("service:", "sevrice:", 1).replace("required_approvals: 2", "required_approvals: 0");
    let refused = loco_fed(&[], &["manifest", "validate", "-"], &bad).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    let lines: Vec<&str> = refused.stderr.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(lines.len(), 3, "{}", refused.stderr);
    assert!(lines[0].starts_with("  - service (line 1, column 1): is required"), "{}", refused.stderr);
    assert!(lines[1].starts_with("  - sevrice (line 2, column 1): is not a known field"), "{}", refused.stderr);
    let approvals = "  - stages[2].approval.required_approvals (line 19, column 7): must be 1 to 10";
    assert_eq!(lines[2], approvals, "{}", refused.stderr);
    let as_json = loco_fed(&["--json"], &["manifest", "validate", "-"], &bad).await;
    assert_eq!(as_json.error_json()["error"]["details"][2]["line"], 19);

    // Applying a bad manifest sets nothing; a good one sets the pipeline, the gate and the window.
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    assert_eq!(loco_fed(&target, &["manifest", "apply", "-"], &bad).await.code, 3);
    assert_eq!(loco(&target, &["pipeline", "list"]).await.json()["items"], json!([]));
    let applied = loco(&target, &["manifest", "apply", file]).await;
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!((&applied.json()["version"], &applied.json()["applied_by"]), (&json!(1), &json!("cli")));
    let pipelines = loco(&target, &["pipeline", "list"]).await.json();
    assert_eq!(pipelines["items"][0]["stages"], json!(["dev", "staging", "production"]));
    let gates = loco(&target, &["gate", "list"]).await.json();
    assert_eq!(gates["items"].as_array().map(Vec::len), Some(1), "{gates}");
    assert_eq!(gates["items"][0]["environment"], "production");
    assert_eq!(gates["items"][0]["required_approvals"], 2);
    let windows = loco(&target, &["freeze", "list"]).await.json();
    assert_eq!(windows["items"][0]["name"], "weekend", "{windows}");
    // Applying again changes nothing; a changed manifest is version 2; both are kept.
    let text_target = ["--db", db.to_str().unwrap()];
    let again = loco(&text_target, &["manifest", "apply", file]).await;
    assert!(again.stdout.starts_with("unchanged: version 1 of checkout"), "{}", again.stdout);
    assert_eq!(loco(&target, &["gate", "list"]).await.json(), gates);
    let changed = good.replace("expires_after_minutes: 1440", "expires_after_minutes: 60");
    let second = loco_fed(&text_target, &["manifest", "apply", "-"], &changed).await;
    assert!(second.stdout.starts_with("applied version 2 of checkout"), "{}", second.stdout);
    let history = loco(&text_target, &["manifest", "history", "checkout"]).await;
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", history.stdout);
    assert!(lines[0].starts_with("checkout version 2, applied by cli") && lines[1].starts_with("checkout version 1"));
    let shown = loco(&text_target, &["manifest", "show", "checkout", "--version", "1"]).await;
    assert_eq!(shown.stdout, format!("# {}\n{good}", lines[1]), "the text as applied, under its version line");
    assert_eq!(loco(&target, &["manifest", "list"]).await.json()["items"][0]["version"], 2);
    let missing = loco(&target, &["manifest", "show", "payments"]).await;
    assert_eq!((missing.code, &missing.error_json()["error"]["code"]), (4, &json!("not_found")), "{}", missing.stderr);
}

/// A manifest of `service` whose `staging` stage rolls out `release` (YAML flow text) at once on
/// the local platform, and whose `production` stage sets no rollout.
fn planned(service: &str, release: &str) -> String {
    format!(
        "apiVersion: loco/v1
service: {service}
stages:
  - environment: staging
    rollout:
      platform: local
      strategy: {{type: immediate}}
      release: {release}
      health: {{probes: [{{type: http, path: /health}}], retries: 40, backoff_initial_seconds: 0.05, backoff_max_seconds: 0.2}}
  - environment: production
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_started_without_a_plan_over_http_runs_the_manifest_stage_plan_under_the_network_rules() {
    const SERVICE: &str = "manifest-http";
    let _guard = crate::rollout_support::ServiceGuard(SERVICE);
    let server = TestServer::start_local().await;
    let api = crate::rollout_support::Api::of(&server);
    let unmanaged = api.approved(SERVICE, "0.1.0").await;
    let (status, body) = server.get(&format!("/api/v1/deployments/{unmanaged}/manifest-plan")).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("plan")), "{body}");
    let (status, body) =
        server.post(&format!("/api/v1/deployments/{unmanaged}/rollout"), &json!({"actor": "ops"})).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("plan")), "{body}");

    // A stage plan naming the registered service runs; one with a command is the network's to refuse.
    let put = format!("/api/v1/manifests/{SERVICE}");
    let text = planned(SERVICE, "{service: demo}");
    let reply = server.http.put(server.at(&put)).json(&json!({ "manifest": text })).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let id = api.approved(SERVICE, "2.0.0").await;
    let (status, plan) = server.get(&format!("/api/v1/deployments/{id}/manifest-plan")).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(
        (&plan["platform"], &plan["release"]["service"], &plan["instances"]),
        (&json!("local"), &json!("demo"), &json!(1))
    );
    let (status, started) = server.post(&format!("/api/v1/deployments/{id}/rollout"), &json!({"actor": "ops"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let ended = api.ended(&id).await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    assert_eq!(ended["plan"]["release"]["version"], "2.0.0", "the deployment's version");

    let commanded = planned(SERVICE, &format!("{{command: [python3, '{}']}}", crate::rollout_support::APP));
    let reply = server.http.put(server.at(&put)).json(&json!({ "manifest": commanded })).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let id = api.approved(SERVICE, "3.0.0").await;
    let (status, body) = server.post(&format!("/api/v1/deployments/{id}/rollout"), &json!({"actor": "ops"})).await;
    assert_eq!(
        (status, &body["error"]["details"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("release.command")),
        "{body}"
    );
    let (status, shown) = server.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!((status, &shown["status"]), (StatusCode::OK, &json!("approved")), "nothing started");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loco_rollout_start_without_a_plan_runs_the_manifest_stage_plan_on_a_database_file() {
    const SERVICE: &str = "manifest-cli";
    let _guard = crate::rollout_support::ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--db", db.to_str().unwrap()];
    let text = planned(SERVICE, &format!("{{command: [python3, '{}']}}", crate::rollout_support::APP));
    assert_eq!(loco_fed(&target, &["manifest", "apply", "-"], &text).await.code, 0);
    let create = [
        "--json",
        "create",
        "--service",
        SERVICE,
        "--env",
        "staging",
        "--version",
        "4.2.0",
        "--requester",
        "alice",
        "--work-ref",
        "W-1",
        "--rollback-plan",
        "restore the previous release",
        "--risk",
        "low",
    ];
    let created = loco(&target, &create).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(loco(&target, &["approve", &id, "--actor", "bob"]).await.code, 0);

    let plan = loco(&target, &["manifest", "plan", &id]).await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["release"]["command"][0], "python3", "{}", plan.stdout);
    let run = loco(&target, &["--json", "rollout", "start", &id, "--actor", "ops"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        (&run.json()["state"], &run.json()["plan"]["release"]["version"]),
        (&json!("succeeded"), &json!("4.2.0"))
    );

    let promoted = loco(&target, &["--json", "promote", &id, "--actor", "alice"]).await;
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    let next = promoted.json()["id"].as_str().unwrap().to_owned();
    let none = loco(&target, &["manifest", "plan", &next]).await;
    assert_eq!(none.code, 3, "{}", none.stderr);
    assert!(
        none.stderr.contains("stage 'production' of version 1 of the manifest of 'manifest-cli' sets no rollout"),
        "{}",
        none.stderr
    );
    assert_eq!(loco(&target, &["manifest", "plan", "dep_missing"]).await.code, 4);
}

//! Pre-deployment validation over HTTP and the CLI: a refused start is 422 `validation_failed`
//! with the full report and the blocking findings, the deployment stays approved, no secret
//! value reaches a response; `POST /api/v1/validate` and `loco validate` run the checks alone,
//! and plans from the network may not ask for checks that read files or run programs.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{loco, loco_fed};
use crate::common::TestServer;
use crate::rollout_support::{Api, demo_service_json, immediate, plan};

const SECRET: &str = "Sup3r-Secret-4711-never-shown";

/// The demo service registered as `checked`, with configuration checks of its own.
fn checked_service() -> Value {
    let mut service = demo_service_json();
    service["name"] = json!("checked");
    service["allowed_env"] = json!(["VERSION", "DATABASE_URL", "DB_PASSWORD"]);
    service["validation"] = json!({"config": {
        "required": ["DATABASE_URL"],
        "formats": {"DB_PASSWORD": {"type": "regex", "pattern": "[a-z]+"}}
    }});
    service
}

fn checked_plan(env: Value) -> Value {
    let mut plan = plan("v1", immediate(), env);
    plan["release"]["service"] = json!("checked");
    plan["release"]["secret_env"] = json!({"DB_PASSWORD": SECRET});
    plan
}

#[tokio::test]
async fn a_refused_start_is_422_with_the_report_and_the_deployment_stays_approved() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let response = server.http.put(server.at("/api/v1/services/checked")).json(&checked_service()).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let id = api.approved("checked", "v1").await;

    let body = json!({"actor": "ops", "plan": checked_plan(json!({}))});
    let response = server.http.post(server.at(&format!("/api/v1/deployments/{id}/rollout"))).json(&body).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET), "a secret value reached the response: {text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["code"], "validation_failed");
    let fields: Vec<&str> =
        error["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["release.env.DATABASE_URL", "release.secret_env.DB_PASSWORD"]);
    let report = &error["error"]["report"];
    assert_eq!(report["passed"], false);
    assert_eq!(report["checks"][0]["check"], "config");
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["missing_variable", "bad_format"]);

    let (_, deployment) = server.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(deployment["status"], "approved");
    assert_eq!(server.event_kinds(&id).await, ["created", "approved", "validation"]);
    let (_, events) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    assert!(!events.to_string().contains(SECRET), "a secret value reached the event: {events}");
    let (status, _) = server.get(&format!("/api/v1/deployments/{id}/rollout")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no rollout was recorded");

    // The checks alone: 200 with the report, failed or passed; nothing recorded.
    let (status, report) = server.post("/api/v1/validate", &json!({"plan": checked_plan(json!({}))})).await;
    assert_eq!((status, &report["passed"]), (StatusCode::OK, &json!(false)), "{report}");
    assert!(!report.to_string().contains(SECRET));
    let mut fixed = checked_plan(json!({"DATABASE_URL": "postgres://db/shop"}));
    fixed["release"]["secret_env"] = json!({"DB_PASSWORD": "lowercase"});
    let (status, report) = server.post("/api/v1/validate", &json!({"plan": fixed})).await;
    assert_eq!((status, &report["passed"]), (StatusCode::OK, &json!(true)), "{report}");
    assert_eq!(server.event_kinds(&id).await, ["created", "approved", "validation"]);

    // The same deployment starts once the plan is fixed; the passed report precedes `started`.
    api.start(&id, &fixed).await;
    assert_eq!(api.ended(&id).await["state"], "succeeded");
    let kinds = server.event_kinds(&id).await;
    assert_eq!(kinds[..5], ["created", "approved", "validation", "validation", "started"]);
    server.stop().await;
}

#[tokio::test]
async fn the_network_may_not_ask_for_checks_that_read_files_or_run_programs() {
    let server = TestServer::start().await;
    let mut smuggled = plan("v1", immediate(), json!({}));
    smuggled["validation"] = json!({
        "artifact": {"path": "/etc"},
        "dependencies": [{"name": "d", "format": "npm_audit", "command": ["sh", "-c", "id"]}],
        "smoke_tests": [{"name": "s", "inline": "id"}]
    });
    let (status, error) = server.post("/api/v1/validate", &json!({"plan": smuggled})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let fields: Vec<&str> =
        error["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["validation.artifact", "validation.dependencies", "validation.smoke_tests"]);

    let mut unknown = plan("v1", immediate(), json!({}));
    unknown["validation"] = json!({"config": {"requried": ["X"]}});
    let (status, error) = server.post("/api/v1/validate", &json!({"plan": unknown})).await;
    assert_eq!((status, &error["error"]["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")), "{error}");
    assert!(
        error["error"]["details"][0]["field"].as_str().unwrap().starts_with("validation.config.requried"),
        "{error}"
    );

    let (status, error) = server.post("/api/v1/validate", &json!({})).await;
    assert_eq!((status, &error["error"]["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("plan")), "{error}");
    let response =
        server.http.post(server.at("/api/v1/validate")).header("content-type", "text/plain").body("{}").send().await;
    assert_eq!(response.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    server.stop().await;
}

#[tokio::test]
async fn loco_validate_prints_the_report_and_exits_24_when_it_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let db = db.to_str().unwrap();
    let artifact = dir.path().join("build");
    std::fs::create_dir_all(&artifact).unwrap();
    std::fs::write(artifact.join("app.py"), "print('hi')\n").unwrap();
    let plan = |env: Value| {
        json!({"platform": "local", "strategy": {"type": "immediate"},
               "release": {"version": "1", "command": ["true"], "env": env},
               "validation": {"artifact": {"path": artifact.to_str().unwrap(), "required_files": ["app.py"]},
                              "config": {"required": ["DATABASE_URL"]}}})
        .to_string()
    };
    let refused = loco_fed(&["--db", db], &["validate", "--plan", "-"], &plan(json!({}))).await;
    assert_eq!(refused.code, 24, "{}", refused.stderr);
    assert!(refused.stdout.starts_with("validation FAILED"), "{}", refused.stdout);
    assert!(refused.stdout.contains("missing_variable") && refused.stdout.contains("release.env.DATABASE_URL"));
    let json_refused = loco_fed(&["--db", db, "--json"], &["validate", "--plan", "-"], &plan(json!({}))).await;
    assert_eq!(json_refused.code, 24);
    assert_eq!(json_refused.json()["findings"][0]["rule"], "missing_variable");

    let passed = loco_fed(&["--db", db], &["validate", "--plan", "-"], &plan(json!({"DATABASE_URL": "x"}))).await;
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    assert!(passed.stdout.starts_with("validation PASSED"), "{}", passed.stdout);
    assert!(passed.stdout.contains("artifact") && passed.stdout.contains("config"), "{}", passed.stdout);

    let missing = loco(&["--db", db], &["validate", "--plan", "/nonexistent/plan.json"]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

//! The OpenAPI document: it parses as OpenAPI 3.1 (`oas3`), lists every route with its method,
//! every `$ref` resolves, and the schemas name exactly the fields real responses carry.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::rollout_support::{Api, immediate, plan};

const ROUTES: [(&str, &str); 66] = [
    ("post", "/api/v1/deployments"),
    ("post", "/api/v1/validate"),
    ("get", "/api/v1/deployments"),
    ("get", "/api/v1/deployments/{id}"),
    ("get", "/api/v1/deployments/{id}/events"),
    ("get", "/api/v1/deployments/{id}/events/stream"),
    ("post", "/api/v1/deployments/{id}/approve"),
    ("post", "/api/v1/deployments/{id}/reject"),
    ("post", "/api/v1/deployments/{id}/start"),
    ("post", "/api/v1/deployments/{id}/succeed"),
    ("post", "/api/v1/deployments/{id}/fail"),
    ("post", "/api/v1/deployments/{id}/rollback"),
    ("post", "/api/v1/deployments/{id}/rollout"),
    ("get", "/api/v1/deployments/{id}/rollout"),
    ("post", "/api/v1/deployments/{id}/rollout/override"),
    ("get", "/api/v1/deployments/{id}/rollout/instances/{instance_id}/logs"),
    ("get", "/api/v1/rollouts"),
    ("get", "/api/v1/releases"),
    ("post", "/api/v1/releases/rollback"),
    ("get", "/api/v1/thresholds"),
    ("put", "/api/v1/thresholds/{environment}"),
    ("get", "/api/v1/locks"),
    ("post", "/api/v1/locks/{service}/{environment}/release"),
    ("get", "/api/v1/freezes"),
    ("get", "/api/v1/freezes/active"),
    ("put", "/api/v1/freezes/{name}"),
    ("delete", "/api/v1/freezes/{name}"),
    ("get", "/api/v1/gates"),
    ("put", "/api/v1/gates/{environment}"),
    ("delete", "/api/v1/gates/{environment}"),
    ("get", "/api/v1/deployments/{id}/approvals"),
    ("get", "/api/v1/pipelines"),
    ("put", "/api/v1/pipelines/{service}"),
    ("delete", "/api/v1/pipelines/{service}"),
    ("get", "/api/v1/pipelines/{service}/versions/{version}"),
    ("post", "/api/v1/deployments/{id}/promote"),
    ("post", "/api/v1/validate/manifest"),
    ("get", "/api/v1/manifests"),
    ("put", "/api/v1/manifests/{service}"),
    ("get", "/api/v1/manifests/{service}"),
    ("get", "/api/v1/manifests/{service}/versions"),
    ("get", "/api/v1/manifests/{service}/versions/{version}"),
    ("get", "/api/v1/deployments/{id}/manifest-plan"),
    ("get", "/api/v1/groups"),
    ("put", "/api/v1/groups/{name}"),
    ("delete", "/api/v1/groups/{name}"),
    ("get", "/api/v1/schedules"),
    ("put", "/api/v1/deployments/{id}/schedule"),
    ("delete", "/api/v1/deployments/{id}/schedule"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/audit/head"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens/{id}/revoke"),
    ("get", "/api/v1/services"),
    ("put", "/api/v1/services/{name}"),
    ("delete", "/api/v1/services/{name}"),
    ("get", "/api/v1/whoami"),
    ("get", "/api/v1/platforms"),
    ("put", "/api/v1/platforms/{name}"),
    ("delete", "/api/v1/platforms/{name}"),
    ("post", "/api/v1/platforms/{name}/test"),
];

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn property_names(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema}"))
        .keys()
        .cloned()
        .collect()
}

fn object_keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

#[tokio::test]
async fn document_is_valid_openapi_31_and_lists_every_route() {
    let server = TestServer::start().await;
    let response = server.http.get(server.at("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();

    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let paths = spec.paths.as_ref().expect("paths");
    for (method, path) in ROUTES {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is documented"));
        let operation = match method {
            "get" => item.get.as_ref(),
            "post" => item.post.as_ref(),
            "put" => item.put.as_ref(),
            "delete" => item.delete.as_ref(),
            _ => unreachable!(),
        };
        let operation = operation.unwrap_or_else(|| panic!("{method} {path} is documented"));
        assert!(!operation.responses.as_ref().expect("responses").is_empty(), "{method} {path}");
    }
    let documented: usize = paths
        .values()
        .map(|item| {
            [item.get.is_some(), item.post.is_some(), item.put.is_some(), item.delete.is_some()]
                .into_iter()
                .map(usize::from)
                .sum::<usize>()
        })
        .sum();
    assert_eq!(documented, ROUTES.len(), "no undocumented extras either");

    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("local schema ref {r}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r} resolves");
    }
    // The same document the library builds.
    assert_eq!(doc, serde_json::to_value(loco_cli::server::openapi()).unwrap());
    server.stop().await;
}

#[tokio::test]
async fn schemas_match_real_responses() {
    let server = TestServer::start().await;
    let (_, doc) = server.get("/openapi.json").await;
    let d = server.create("api", "staging").await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(property_names(&doc, "Deployment"), object_keys(&d));
    let (_, events) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    assert_eq!(property_names(&doc, "EventList"), object_keys(&events));
    assert_eq!(property_names(&doc, "Event"), object_keys(&events["items"][0]));
    let (_, page) = server.get("/api/v1/deployments").await;
    assert_eq!(property_names(&doc, "DeploymentPage"), object_keys(&page));
    let (_, error) = server.post(&format!("/api/v1/deployments/{id}/approve"), &json!({})).await;
    assert_eq!(property_names(&doc, "ErrorBody"), object_keys(&error));
    // `report` is there for `validation_failed` only, and optional.
    let mut info = property_names(&doc, "ErrorInfo");
    assert!(info.remove("report"), "the report of validation_failed is documented");
    assert_eq!(info, object_keys(&error["error"]));
    let required = doc["components"]["schemas"]["ErrorInfo"]["required"].as_array().cloned().unwrap_or_default();
    assert!(!required.contains(&json!("report")), "{required:?}");
    let plan = json!({"platform": "local", "strategy": {"type": "immediate"}, "release": {"version": "1"},
                      "validation": {"config": {"required": ["X"]}}});
    let (_, validated) = server.post("/api/v1/validate", &json!({"plan": plan})).await;
    assert_eq!(property_names(&doc, "ValidationReport"), object_keys(&validated));
    assert_eq!(property_names(&doc, "Finding"), object_keys(&validated["findings"][0]));
    assert_eq!(property_names(&doc, "CheckSummary"), object_keys(&validated["checks"][0]));
    // `line` and `column` are there for problems in a text document (a manifest) only.
    let mut field_error = property_names(&doc, "FieldError");
    assert!(field_error.remove("line") && field_error.remove("column"), "{field_error:?}");
    assert_eq!(field_error, object_keys(&error["error"]["details"][0]));
    let manifest = json!({"manifest": "apiVersion: loco/v1\nservice: web\nstages: []\n"});
    let (_, refused) = server.post("/api/v1/validate/manifest", &manifest).await;
    assert_eq!(property_names(&doc, "FieldError"), object_keys(&refused["error"]["details"][0]));
    let (_, report) = server.get("/api/v1/audit/verify").await;
    assert_eq!(property_names(&doc, "AuditReport"), object_keys(&report));
    let (_, head) = server.get("/api/v1/audit/head").await;
    assert_eq!(property_names(&doc, "AuditHead"), object_keys(&head));
    let (_, health) = server.get("/healthz").await;
    assert_eq!(property_names(&doc, "Health"), object_keys(&health));
    // Request bodies document exactly the accepted fields.
    assert_eq!(
        property_names(&doc, "CreateDeployment"),
        object_keys(&crate::common::request("a", "b"))
            .into_iter()
            .chain(["risk".to_owned(), "commit".to_owned()])
            .collect()
    );
    let accepted = ["actor", "note", "override_reason"].map(str::to_owned);
    assert_eq!(property_names(&doc, "ActionRequest"), BTreeSet::from(accepted));
    // Status enums list exactly the lifecycle statuses.
    let statuses: BTreeSet<&str> = doc["components"]["schemas"]["Deployment"]["properties"]["status"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(statuses, loco_core::Status::ALL.iter().map(|s| s.as_str()).collect());
    // The documented statuses of a route include the ones it really returns.
    let create = &doc["paths"]["/api/v1/deployments"]["post"]["responses"];
    for code in ["201", "400", "409", "413", "503"] {
        assert!(create.get(code).is_some(), "create documents {code}");
    }
    let approve = &doc["paths"]["/api/v1/deployments/{id}/approve"]["post"]["responses"];
    for code in ["200", "400", "403", "404", "409", "413", "500", "503"] {
        assert!(approve.get(code).is_some(), "approve documents {code}");
    }
    server.stop().await;
}

#[tokio::test]
async fn rollout_schemas_match_real_responses() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let (_, doc) = server.get("/openapi.json").await;
    let id = api.approved("docs", "1.0.0").await;
    let started = api.start(&id, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(property_names(&doc, "Rollout"), object_keys(&started));
    let rollout = api.ended(&id).await;
    assert_eq!(rollout["state"], "succeeded");
    assert_eq!(property_names(&doc, "Rollout"), object_keys(&rollout));
    assert_eq!(property_names(&doc, "RolloutProgress"), object_keys(&rollout["progress"]));
    assert_eq!(property_names(&doc, "Instance"), object_keys(&rollout["progress"]["instances"][0]));
    assert_eq!(property_names(&doc, "TrafficWeight"), object_keys(&rollout["progress"]["traffic"][0]));
    let (_, rollouts) = server.get("/api/v1/rollouts").await;
    assert_eq!(property_names(&doc, "RolloutList"), object_keys(&rollouts));
    let (_, releases) = server.get("/api/v1/releases?service=docs&environment=staging").await;
    assert_eq!(property_names(&doc, "ReleaseList"), object_keys(&releases));
    assert_eq!(property_names(&doc, "Release"), object_keys(&releases["items"][0]));
    assert_eq!(property_names(&doc, "ReleaseSpec"), object_keys(&releases["items"][0]["spec"]));
    let accepted = ["actor", "override_reason", "plan"].map(str::to_owned);
    assert_eq!(property_names(&doc, "StartRollout"), BTreeSet::from(accepted));
    assert_eq!(
        property_names(&doc, "RolloutFailure"),
        BTreeSet::from(["code".to_owned(), "message".to_owned(), "step".to_owned()])
    );
    // The state enum lists exactly the core's rollout states.
    let states: BTreeSet<&str> = doc["components"]["schemas"]["Rollout"]["properties"]["state"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(states, loco_core::RolloutState::ALL.iter().map(|s| s.as_str()).collect());
    let start = &doc["paths"]["/api/v1/deployments/{id}/rollout"]["post"]["responses"];
    for code in ["202", "400", "404", "409", "413", "422", "503"] {
        assert!(start.get(code).is_some(), "starting a rollout documents {code}");
    }
    let logs = &doc["paths"]["/api/v1/deployments/{id}/rollout/instances/{instance_id}/logs"]["get"]["responses"];
    assert_eq!(logs["200"]["content"].as_object().unwrap().keys().collect::<Vec<_>>(), ["text/event-stream"]);
    server.stop().await;
}

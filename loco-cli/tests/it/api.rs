//! Request/response tests for every route and every error code of the HTTP API, over real
//! loopback HTTP and a real SQLite file.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, decode, request};

const DEPLOYMENT_FIELDS: [&str; 14] = [
    "id",
    "service",
    "environment",
    "version",
    "requester",
    "work_refs",
    "rollback_plan",
    "risk",
    "commit",
    "status",
    "reviewed_by",
    "reviewed_at",
    "created_at",
    "updated_at",
];

const EVENT_FIELDS: [&str; 12] = [
    "seq",
    "id",
    "deployment_id",
    "kind",
    "actor",
    "request_id",
    "note",
    "from_status",
    "to_status",
    "at",
    "hash",
    "data",
];

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().expect("object").keys().map(String::as_str).collect()
}

#[tokio::test]
async fn create_returns_201_with_exactly_the_documented_fields() {
    let server = TestServer::start().await;
    let d = server.create("checkout", "staging").await;
    assert_eq!(keys(&d), DEPLOYMENT_FIELDS.into_iter().collect());
    assert!(d["id"].as_str().unwrap().starts_with("dep_"));
    assert_eq!(d["status"], "pending_approval");
    assert_eq!(d["risk"], Value::Null);
    assert_eq!(d["commit"], Value::Null);
    assert_eq!(d["reviewed_by"], Value::Null);
    assert_eq!(d["reviewed_at"], Value::Null);
    assert_eq!(d["work_refs"], json!(["PROJ-1"]));
    let created = d["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == "2026-11-23T08:36:00.123456Z".len(), "{created}");
    assert_eq!(d["created_at"], d["updated_at"]);
    server.stop().await;
}

#[tokio::test]
async fn get_returns_the_current_state_and_404_for_an_unknown_id() {
    let server = TestServer::start().await;
    let d = server.create("checkout", "staging").await;
    let id = d["id"].as_str().unwrap();
    let (status, got) = server.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!((status, &got), (StatusCode::OK, &d));
    let (status, body) = server.get("/api/v1/deployments/dep_00000000000000000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    let (status, body) = server.get("/api/v1/deployments/dep_missing/events").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    server.stop().await;
}

#[tokio::test]
async fn every_action_route_moves_the_lifecycle_and_records_one_event() {
    let server = TestServer::start().await;
    // approve → start → succeed → rollback
    let a = server.create("a", "staging").await;
    let a = a["id"].as_str().unwrap();
    let approved = server.act(a, "approve", "bob").await;
    assert_eq!((approved["status"].as_str(), approved["reviewed_by"].as_str()), (Some("approved"), Some("bob")));
    assert!(approved["reviewed_at"].is_string());
    assert_eq!(server.act(a, "start", "ops").await["status"], "started");
    assert_eq!(server.act(a, "succeed", "ops").await["status"], "succeeded");
    assert_eq!(server.act(a, "rollback", "ops").await["status"], "rolled_back");
    assert_eq!(server.event_kinds(a).await, ["created", "approved", "started", "succeeded", "rolled_back"]);
    // reject
    let b = server.create("b", "staging").await;
    let b = b["id"].as_str().unwrap();
    let rejected = server.act(b, "reject", "carol").await;
    assert_eq!((rejected["status"].as_str(), rejected["reviewed_by"].as_str()), (Some("rejected"), Some("carol")));
    assert_eq!(server.event_kinds(b).await, ["created", "rejected"]);
    // fail
    let c = server.create("c", "staging").await;
    let c = c["id"].as_str().unwrap();
    server.act(c, "approve", "bob").await;
    server.act(c, "start", "ops").await;
    assert_eq!(server.act(c, "fail", "ops").await["status"], "failed");
    assert_eq!(server.event_kinds(c).await, ["created", "approved", "started", "failed"]);
    server.stop().await;
}

#[tokio::test]
async fn events_are_oldest_first_with_seq_and_every_field() {
    let server = TestServer::start().await;
    let d = server.create("checkout", "staging").await;
    let id = d["id"].as_str().unwrap();
    let (status, _) =
        server.post(&format!("/api/v1/deployments/{id}/approve"), &json!({"actor": "bob", "note": "lgtm"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&body), BTreeSet::from(["items"]));
    let events = body["items"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    for e in events {
        assert_eq!(keys(e), EVENT_FIELDS.into_iter().collect());
        assert_eq!(e["deployment_id"], id);
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }
    let request = request("checkout", "staging");
    let fields = ["service", "environment", "version", "requester", "work_refs", "rollback_plan"];
    for field in fields {
        assert_eq!(events[0]["data"][field], request[field], "created carries the request's {field}");
    }
    assert_eq!(events[0]["data"]["risk"], Value::Null);
    assert_eq!(events[1]["data"], Value::Null, "later lifecycle events carry no data");
    assert_eq!((events[0]["seq"].as_i64(), events[1]["seq"].as_i64()), (Some(1), Some(2)));
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["from_status"], Value::Null);
    assert_eq!(events[0]["to_status"], "pending_approval");
    assert_eq!(events[0]["actor"], "alice");
    assert_eq!(events[1]["kind"], "approved");
    assert_eq!(events[1]["note"], "lgtm");
    assert_eq!(events[1]["from_status"], "pending_approval");
    assert_eq!(events[1]["to_status"], "approved");
    server.stop().await;
}

#[tokio::test]
async fn rule_errors_have_their_codes_and_statuses() {
    let server = TestServer::start().await;
    let d = server.create("checkout", "staging").await;
    let id = d["id"].as_str().unwrap();
    let path = |action: &str| format!("/api/v1/deployments/{id}/{action}");

    let (status, body) = server.post(&path("approve"), &json!({"actor": " ALICE "})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "self_approval", &[]);

    let (status, body) = server.post(&path("start"), &json!({"actor": "ops"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "invalid_transition", &[]);
    assert!(body["error"]["message"].as_str().unwrap().contains("pending_approval"), "{body}");

    let (status, body) = server.post(&path("reject"), &json!({"actor": "bob"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["note"]);

    let (status, body) = server.post(&path("approve"), &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["actor"]);

    // Nothing above changed anything.
    assert_eq!(server.event_kinds(id).await, ["created"]);
    server.stop().await;
}

#[tokio::test]
async fn checks_run_input_then_existence_then_rules() {
    let server = TestServer::start().await;
    let missing = "/api/v1/deployments/dep_00000000000000000000000000/fail";
    // Bad input on an unknown id is still a 400.
    let (status, body) = server.post(missing, &json!({"actor": "ops"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["note"]);
    let (status, body) = server.post_raw(missing, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["body"]);
    // Good input on an unknown id is a 404.
    let (status, body) = server.post(missing, &json!({"actor": "ops", "note": "broken"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    // The requester approving an already started deployment breaks the transition rule first.
    let d = server.create("checkout", "staging").await;
    let id = d["id"].as_str().unwrap();
    server.act(id, "approve", "bob").await;
    server.act(id, "start", "alice").await;
    let (status, body) = server.post(&format!("/api/v1/deployments/{id}/approve"), &json!({"actor": "alice"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "invalid_transition", &[]);
    server.stop().await;
}

#[tokio::test]
async fn missing_create_fields_are_named_by_the_core() {
    let server = TestServer::start().await;
    let (status, body) = server.post("/api/v1/deployments", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(
        &body,
        "validation_error",
        &["service", "environment", "version", "requester", "work_refs", "rollback_plan"],
    );
    // An empty body is an empty object too.
    let (status, body) = server.post_raw("/api/v1/deployments", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 6, "{body}");
    // null means absent; production needs risk.
    let mut req = request("api", "Production");
    req["risk"] = Value::Null;
    let (status, body) = server.post("/api/v1/deployments", &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["risk"]);
    let (status, body) = server.get("/api/v1/deployments").await;
    assert_eq!((status, body["items"].as_array().unwrap().len()), (StatusCode::OK, 0), "nothing was stored");
    server.stop().await;
}

#[tokio::test]
async fn malformed_unknown_and_mistyped_bodies_name_the_field() {
    let server = TestServer::start().await;
    let create = "/api/v1/deployments";
    let cases: Vec<(String, &str)> = vec![
        ("{\"service\": ".to_owned(), "body"),
        ("not json at all".to_owned(), "body"),
        ("[\"api\"]".to_owned(), "body"),
        ("\"a string\"".to_owned(), "body"),
        ("{} {}".to_owned(), "body"),
        (json!({"service": 42}).to_string(), "service"),
        (json!({"work_refs": "PROJ-1"}).to_string(), "work_refs"),
        (json!({"work_refs": ["PROJ-1", 7]}).to_string(), "work_refs[1]"),
        (json!({"risk": {"level": "high"}}).to_string(), "risk"),
        (json!({"colour": "red"}).to_string(), "colour"),
        (json!({"service": "api", "Service": "api"}).to_string(), "Service"),
    ];
    for (raw, field) in cases {
        let (status, body) = server.post_raw(create, raw.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_error(&body, "validation_error", &[field]);
    }
    let d = server.create("checkout", "staging").await;
    let approve = format!("/api/v1/deployments/{}/approve", d["id"].as_str().unwrap());
    for (raw, field) in [
        (json!({"actor": "bob", "notes": "typo"}).to_string(), "notes"),
        (json!({"actor": ["bob"]}).to_string(), "actor"),
        (json!({"actor": "bob", "note": 3}).to_string(), "note"),
        ("{\"actor\": \"bob\"".to_owned(), "body"),
    ] {
        let (status, body) = server.post_raw(&approve, raw.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_error(&body, "validation_error", &[field]);
    }
    assert_eq!(server.event_kinds(d["id"].as_str().unwrap()).await, ["created"]);
    server.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let server = TestServer::start().await;
    // A syntactically valid body just over the limit.
    let mut big = request("api", "staging");
    big["rollback_plan"] = Value::String("x".repeat(1024 * 1024));
    let (status, body) = server.post("/api/v1/deployments", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "payload_too_large", &[]);
    let d = server.create("api", "staging").await;
    let (status, body) = server.post(&format!("/api/v1/deployments/{}/approve", d["id"].as_str().unwrap()), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "payload_too_large", &[]);
    // Under the body limit but over the core's 64 KiB text limit: a validation error, not truncation.
    big["rollback_plan"] = Value::String("x".repeat(64 * 1024 + 1));
    let (status, body) = server.post("/api/v1/deployments", &big).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["rollback_plan"]);
    server.stop().await;
}

#[tokio::test]
async fn unicode_and_sql_looking_strings_are_stored_verbatim() {
    let server = TestServer::start().await;
    let body = json!({
        "service": "支付-サービス 🚀",
        "environment": "staging'; DROP TABLE deployments; --",
        "version": "v1.0.0\" OR 1=1 --",
        "requester": "zoë@example.com",
        "work_refs": ["\" OR 1=1 --", "%s%n{}", "  padded  "],
        "rollback_plan": "line 1\nline 2\ttabbed — ünïcode \\ backslash",
        "risk": "<script>alert(1)</script>",
    });
    let (status, created) = server.post("/api/v1/deployments", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for (k, v) in body.as_object().unwrap() {
        assert_eq!(&created[k], v, "{k}");
    }
    let id = created["id"].as_str().unwrap();
    let (_, fetched) = server.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(fetched, created);
    // Filters match the exact strings, percent-encoded in the query.
    let url = reqwest::Url::parse_with_params(
        &server.at("/api/v1/deployments"),
        &[("service", "支付-サービス 🚀"), ("environment", "staging'; DROP TABLE deployments; --")],
    )
    .unwrap();
    let page: Value = server.http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["id"], id);
    server.stop().await;
}

#[tokio::test]
async fn idempotent_create_replays_and_conflicts() {
    let server = TestServer::start().await;
    let post = |key: &'static str, body: Value| {
        let request = server.http.post(server.at("/api/v1/deployments")).header("Idempotency-Key", key).json(&body);
        async move { decode(request.send().await.unwrap()).await }
    };
    let (status, first) = post("req-1", request("api", "staging")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = post("req-1", request("api", "staging")).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first), "same key, same body: the original");
    let id = first["id"].as_str().unwrap();
    server.act(id, "approve", "bob").await;
    let (status, later) = post("req-1", request("api", "staging")).await;
    assert_eq!(
        (status, later["id"].as_str(), later["status"].as_str()),
        (StatusCode::CREATED, Some(id), Some("approved"))
    );
    let (status, body) = post("req-1", request("api", "dev")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "idempotency_conflict", &[]);
    let (status, body) = post("   ", request("api", "staging")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["idempotency_key"]);
    let (status, other) = post("req-2", request("api", "staging")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(other["id"], first["id"]);
    assert_eq!(server.event_kinds(id).await, ["created", "approved"], "replays wrote nothing");
    let (_, page) = server.get("/api/v1/deployments").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn cursor_walk_returns_every_row_once_newest_first() {
    let server = TestServer::start().await;
    let mut created = Vec::new();
    for i in 0..11 {
        created.push(server.create(&format!("svc-{i}"), "staging").await["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/deployments?limit=4&cursor={c}"),
            None => "/api/v1/deployments?limit=4".to_owned(),
        };
        let (status, page) = server.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(keys(&page), BTreeSet::from(["items", "next_cursor"]));
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        // Rows created during the walk are newer than the cursor and must not show up.
        server.create("during-walk", "staging").await;
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{c}");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "each row exactly once, newest first");
    server.stop().await;
}

#[tokio::test]
async fn filters_select_by_service_environment_and_status() {
    let server = TestServer::start().await;
    let a = server.create("api", "staging").await;
    server.create("api", "dev").await;
    server.create("web", "staging").await;
    server.act(a["id"].as_str().unwrap(), "approve", "bob").await;
    let count = |path: &'static str| {
        let server = &server;
        async move {
            let (status, page) = server.get(path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/api/v1/deployments").await, 3);
    assert_eq!(count("/api/v1/deployments?service=api").await, 2);
    assert_eq!(count("/api/v1/deployments?environment=staging").await, 2);
    assert_eq!(count("/api/v1/deployments?service=api&environment=staging").await, 1);
    assert_eq!(count("/api/v1/deployments?status=approved").await, 1);
    assert_eq!(count("/api/v1/deployments?status=pending_approval").await, 2);
    assert_eq!(count("/api/v1/deployments?status=rolled_back").await, 0);
    assert_eq!(count("/api/v1/deployments?service=API").await, 0, "exact match");
    assert_eq!(count("/api/v1/deployments?service=&limit=").await, 3, "empty values are absent");
    server.stop().await;
}

#[tokio::test]
async fn bad_query_values_are_400_naming_the_parameter() {
    let server = TestServer::start().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("limit=99999999999", "limit"),
        ("status=done", "status"),
        ("status=Approved", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=%27%20OR%201%3D1%20--", "cursor"),
        ("stauts=approved", "stauts"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (status, body) = server.get(&format!("/api/v1/deployments?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_error(&body, "validation_error", &[field]);
    }
    server.stop().await;
}

#[tokio::test]
async fn storage_failure_is_503_storage_error() {
    use loco_cli::server::{ServerConfig, router};
    let dir = tempfile::tempdir().unwrap();
    let engine = loco_core::Engine::open(dir.path().join("loco.db")).await.unwrap();
    let (_closing_tx, closing) = tokio::sync::watch::channel(false);
    let app = router(engine.clone(), ServerConfig { auth: false, ..ServerConfig::default() }, closing);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // The store is closed underneath the server, so every write fails in the database layer.
    engine.close().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/deployments"))
        .json(&request("api", "dev"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = decode(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&body, "storage_error", &[]);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    let (status, body) = server.post("/api/v1/deployments/dep_x/promote", &json!({"actor": "a"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    // An id that is not valid UTF-8 once percent-decoded is bad input, not a missing deployment.
    let (status, body) = server.get("/api/v1/deployments/%FF%FE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["id"]);
    let response = server.http.delete(server.at("/api/v1/deployments")).send().await.unwrap();
    let (status, body) = decode(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed", &[]);
    server.stop().await;
}

#[tokio::test]
async fn healthz_and_audit_verify() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let d = server.create("api", "staging").await;
    server.act(d["id"].as_str().unwrap(), "approve", "bob").await;
    let (status, report) = server.get("/api/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["valid"], true);
    assert_eq!(report["events_checked"], 2);
    assert_eq!(report["first_broken"], Value::Null);
    assert_eq!(report["head_hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        (report["deployments_checked"].as_u64(), report["deployments_status_only"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(report["exported_head_seq"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn audit_head_and_verify_against_it() {
    let server = TestServer::start().await;
    let (status, empty) = server.get("/api/v1/audit/head").await;
    assert_eq!((status, empty), (StatusCode::OK, json!({"seq": 0, "hash": "", "hmac": null, "at": null})));
    let d = server.create("api", "staging").await;
    server.act(d["id"].as_str().unwrap(), "approve", "bob").await;
    let (status, head) = server.get("/api/v1/audit/head").await;
    assert_eq!(status, StatusCode::OK);
    let (_, report) = server.get("/api/v1/audit/verify").await;
    assert_eq!((head["seq"].as_i64(), &head["hash"], &head["hmac"]), (Some(2), &report["head_hash"], &Value::Null));
    let (_, events) = server.get(&format!("/api/v1/deployments/{}/events", d["id"].as_str().unwrap())).await;
    assert_eq!(head["at"], events["items"][1]["at"]);

    let query = |head: &Value| {
        format!(
            "/api/v1/audit/verify?seq={}&hash={}&at={}",
            head["seq"],
            head["hash"].as_str().unwrap(),
            head["at"].as_str().unwrap().replace(':', "%3A")
        )
    };
    let (status, report) = server.get(&query(&head)).await;
    assert_eq!(
        (status, report["valid"].as_bool(), report["exported_head_seq"].as_i64()),
        (StatusCode::OK, Some(true), Some(2))
    );
    let mut ahead = head.clone();
    ahead["seq"] = json!(3);
    let (_, report) = server.get(&query(&ahead)).await;
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["first_broken"]["reason"],
        "the exported head is event #3 but the chain ends at #2 (events after it were deleted)"
    );

    let (status, body) = server.get("/api/v1/audit/verify?seq=two&hash=abc&colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["colour"]);
    let (status, body) = server.get("/api/v1/audit/verify?seq=two&hash=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["seq", "hash"]);
    let signed = format!("{}&hmac={}", query(&head), "ab".repeat(32));
    let (status, body) = server.get(&signed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "this server has no LOCO_AUDIT_KEY to check it with");
    assert_error(&body, "validation_error", &["head.hmac"]);
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let server = TestServer::start().await;
    let response = server.http.get(server.at("/healthz")).header("X-Request-Id", "trace-abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
    let response = server.http.get(server.at("/healthz")).send().await.unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 26, "a ULID: {generated}");
    // Errors carry it too; an unusable id is replaced.
    let response = server.http.get(server.at("/nope")).header("X-Request-Id", "has space").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_ne!(response.headers()["x-request-id"], "has space");
    server.stop().await;
}

#[tokio::test]
async fn every_event_names_the_request_that_caused_it_and_the_chain_covers_it() {
    let server = TestServer::start().await;
    let response = server
        .http
        .post(server.at("/api/v1/deployments"))
        .header("X-Request-Id", "req-create-1")
        .json(&request("api", "staging"))
        .send()
        .await
        .unwrap();
    let (status, created) = decode(response).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Without a header the server's generated id is recorded: the one the response echoes.
    let response = server
        .http
        .post(server.at(&format!("/api/v1/deployments/{id}/approve")))
        .json(&json!({"actor": "bob"}))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), StatusCode::OK);
    // A refused action records nothing, under any id.
    let response = server
        .http
        .post(server.at(&format!("/api/v1/deployments/{id}/approve")))
        .header("X-Request-Id", "req-refused")
        .json(&json!({"actor": "carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let (status, events) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Vec<(&str, &str)> = events["items"]
        .as_array()
        .or(events.as_array())
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["request_id"].as_str().unwrap_or("<null>")))
        .collect();
    assert_eq!(seen, vec![("created", "req-create-1"), ("approved", generated.as_str())]);
    let (status, report) = server.get("/api/v1/audit/verify").await;
    assert_eq!((status, report["valid"].as_bool()), (StatusCode::OK, Some(true)), "{report}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_then_engine_metrics_then_eof() {
    let server = TestServer::start().await;
    let d = server.create("api", "staging").await;
    let id = d["id"].as_str().unwrap();
    server.get(&format!("/api/v1/deployments/{id}")).await;
    server.get("/api/v1/deployments/dep_missing").await;
    server.post("/api/v1/deployments", &json!({})).await;
    let response = server.http.get(server.at("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let line = |needle: &str| text.lines().find(|l| l.starts_with(needle)).map(str::to_owned);
    assert_eq!(
        line(r#"loco_http_requests_total{method="GET",route="/api/v1/deployments/{id}",status="200"}"#).as_deref(),
        Some(r#"loco_http_requests_total{method="GET",route="/api/v1/deployments/{id}",status="200"} 1"#),
        "{text}"
    );
    assert!(
        line(r#"loco_http_requests_total{method="GET",route="/api/v1/deployments/{id}",status="404"} 1"#).is_some()
    );
    assert!(line(r#"loco_http_requests_total{method="POST",route="/api/v1/deployments",status="201"} 1"#).is_some());
    assert!(line(r#"loco_http_requests_total{method="POST",route="/api/v1/deployments",status="400"} 1"#).is_some());
    assert!(!text.contains(id), "raw paths never become labels");
    assert!(line(r#"loco_http_request_duration_seconds_count{method="POST",route="/api/v1/deployments"} 2"#).is_some());
    assert!(
        line(r#"sparki_deployment_total{stage="staging",platform="none",strategy="none",status="pending_approval"} 1"#)
            .is_some(),
        "{text}"
    );
    let http_at = text.find("loco_http_requests_total").unwrap();
    let engine_at = text.find("sparki_deployment_total").unwrap();
    assert!(http_at < engine_at, "HTTP metrics first, then the engine's");
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.ends_with("# EOF\n"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn json_logs_carry_the_request_id_in_the_span() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = crate::common::LocoProcess::start_with(
        &dir.path().join("loco.db"),
        &["--log-format", "json"],
        log.into(),
        "info",
    );
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/deployments", server.url))
        .header("X-Request-Id", "req-log-test-1")
        .json(&request("api", "staging"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    server.terminate();
    assert_eq!(server.wait(), Some(0));
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let finished = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "req-log-test-1")
        .unwrap_or_else(|| panic!("a line in the request's span: {text}"));
    assert_eq!(finished["fields"]["message"], "request finished");
    assert_eq!(finished["fields"]["status"], 201);
    assert_eq!(finished["span"]["route"], "/api/v1/deployments");
    assert_eq!(finished["span"]["method"], "POST");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "SIGTERM received"), "{text}");
}

/// Every metric `docs/grafana/loco.json` and `docs/grafana/alerts.yml` query is one `/metrics`
/// exports (by its family name), and the dashboard is valid JSON with a panel per query.
#[tokio::test]
async fn the_grafana_dashboard_and_alerts_query_only_exported_metrics() {
    // Every family has a series once a real rollout ran and a request was refused.
    let server = TestServer::start_local().await;
    let api = crate::rollout_support::Api::of(&server);
    let id = api.approved("demo", "v1").await;
    api.start(&id, &crate::rollout_support::plan("v1", crate::rollout_support::immediate(), json!({}))).await;
    assert_eq!(api.ended(&id).await["state"], "succeeded");
    // A plain lifecycle rolled back by hand: the manual rollback and the lifecycle's duration.
    let plain = server.create("plain", "staging").await["id"].as_str().expect("id").to_owned();
    server.act(&plain, "approve", "bob").await;
    server.act(&plain, "start", "ops").await;
    let (status, _) =
        server.post(&format!("/api/v1/deployments/{plain}/rollback"), &json!({"actor": "ops", "note": "bad"})).await;
    assert_eq!(status, StatusCode::OK);
    // Production needs a risk: a refusal the engine counts.
    let (status, _) = server.post("/api/v1/deployments", &request("demo", "production")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let response = server.http.get(server.at("/metrics")).send().await.expect("GET /metrics");
    let text = response.text().await.expect("body");
    let families: BTreeSet<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{docs}loco.json")).expect("dashboard")).expect("JSON");
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().expect("targets").iter())
        .map(|t| t["expr"].as_str().expect("expr").to_owned())
        .collect();
    assert!(exprs.len() >= 9, "{exprs:?}");
    let alerts = std::fs::read_to_string(format!("{docs}alerts.yml")).expect("alerts");
    exprs.push(alerts);
    let mut named = BTreeSet::new();
    for expr in &exprs {
        for (start, _) in expr.match_indices(['s', 'l']) {
            let rest = &expr[start..];
            if !(rest.starts_with("sparki_deployment") || rest.starts_with("loco_")) {
                continue;
            }
            if start > 0 && expr[..start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let family = ["_bucket", "_count", "_sum", "_total"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name)
                .to_owned();
            named.insert(family);
        }
    }
    for family in [
        "sparki_deployment",
        "sparki_deployment_duration_seconds",
        "sparki_deployment_health_check_duration_seconds",
        "sparki_deployment_validation_errors",
        "sparki_deployment_rollback",
        "loco_rollouts_executing",
    ] {
        assert!(named.contains(family), "the dashboard or alerts should use {family}: {named:?}");
    }
    for family in &named {
        assert!(families.contains(family.as_str()), "{family} is not exported; /metrics has {families:?}");
    }
    server.stop().await;
}

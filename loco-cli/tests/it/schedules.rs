//! Scheduled starts over real HTTP on loopback and through the `loco` binary: who may schedule
//! and cancel (a deployer of the environment; an admin to override a freeze), attacker-style
//! bodies, a window at the scheduled time, and the server starting a due schedule on its own as
//! the caller who scheduled it; `loco schedule set|list|cancel` against a database file.

use std::time::Duration;

use loco_core::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::loco;
use crate::freeze::{SECRET, Secured, fields};

fn in_(seconds: u64) -> String {
    Timestamp::now().after(Duration::from_secs(seconds)).to_string()
}

#[tokio::test]
async fn a_deployer_schedules_a_start_the_server_makes_when_it_falls_due() {
    let server = Secured::start().await;
    let id = server.approved_in_production("1.0.0").await;
    let path = format!("/api/v1/deployments/{id}/schedule");
    let body = json!({"at": in_(3600)});
    for role in ["viewer", "requester", "approver"] {
        let (status, reply) = server.call(role, "PUT", &path, Some(&body)).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    }
    let (status, reply) =
        server.call("deployer", "PUT", &path, Some(&json!({"at": in_(60), "actor": "mallory"}))).await;
    assert_eq!((status, fields(&reply)), (StatusCode::BAD_REQUEST, vec!["actor"]), "the caller is the actor");
    let past = Timestamp::now().before(Duration::from_secs(5)).to_string();
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": past}))).await;
    assert_eq!((status, fields(&reply)), (StatusCode::BAD_REQUEST, vec!["at"]), "{reply}");
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": in_(60), "when": "now"}))).await;
    assert_eq!((status, fields(&reply)), (StatusCode::BAD_REQUEST, vec!["schedule"]), "an unknown field: {reply}");
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": "tomorrow"}))).await;
    assert_eq!((status, fields(&reply)), (StatusCode::BAD_REQUEST, vec!["schedule"]), "{reply}");
    let raw = server
        .http
        .put(format!("{}{path}", server.url))
        .bearer_auth(format!("{SECRET}deployer-0123456789abcdef"))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A freeze of production from 30 minutes to 2 hours from now: a start in it is refused, and
    // only an admin may schedule one anyway.
    let window = json!({"name": "launch", "environments": ["production"], "reason": "launch day",
                        "schedule": {"type": "once", "start": in_(1800), "end": in_(7200)}});
    assert_eq!(server.call("admin", "PUT", "/api/v1/freezes/launch", Some(&window)).await.0, StatusCode::OK);
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": in_(3600)}))).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{reply}");
    let overriding = json!({"at": in_(3600), "override_reason": "the launch itself"});
    let (status, _) = server.call("deployer", "PUT", &path, Some(&overriding)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "overriding takes an admin");
    let (status, reply) = server.call("admin", "PUT", &path, Some(&overriding)).await;
    assert_eq!((status, &reply["override_reason"]), (StatusCode::OK, &json!("the launch itself")), "{reply}");

    // Rescheduled by the deployer a second ahead: the server starts it as the deployer.
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": in_(1)}))).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        (&reply["state"], &reply["actor"], &reply["scheduled_by"]),
        (&json!("pending"), &json!("deployer"), &json!("deployer"))
    );
    let mut ran = Value::Null;
    for _ in 0..100 {
        let (_, list) = server.call("viewer", "GET", "/api/v1/schedules", None).await;
        ran = list["items"].as_array().unwrap().iter().find(|s| s["deployment_id"] == json!(id)).cloned().unwrap();
        if ran["state"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((&ran["state"], &ran["outcome"]), (&json!("started"), &Value::Null), "{ran}");
    let (_, deployment) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}"), None).await;
    assert_eq!(deployment["status"], "started");
    let (_, events) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/events"), None).await;
    let last = events["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&last["kind"], &last["actor"]), (&json!("started"), &json!("deployer")), "{last}");
    let (status, reply) = server.call("deployer", "DELETE", &path, None).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "nothing pending"
    );
    let (status, reply) = server.call("deployer", "PUT", &path, Some(&json!({"at": in_(60)}))).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));

    let other = server.approved_in_production("1.0.1").await;
    let other_path = format!("/api/v1/deployments/{other}/schedule");
    assert_eq!(server.call("deployer", "PUT", &other_path, Some(&json!({"at": in_(600)}))).await.0, StatusCode::OK);
    assert_eq!(server.call("requester", "DELETE", &other_path, None).await.0, StatusCode::FORBIDDEN);
    let (status, reply) = server.call("deployer", "DELETE", &other_path, None).await;
    assert_eq!((status, &reply["state"]), (StatusCode::OK, &json!("cancelled")), "{reply}");
    let (status, _) = server.call("deployer", "DELETE", &other_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_schedule_commands_set_list_and_cancel_on_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let target = ["--json", "--db", db.to_str().unwrap()];
    let text_target = ["--db", db.to_str().unwrap()];
    let create = [
        "create",
        "--service",
        "web",
        "--env",
        "staging",
        "--version",
        "1",
        "--requester",
        "alice",
        "--work-ref",
        "W-1",
        "--rollback-plan",
        "redo",
    ];
    let id = loco(&target, &create).await.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(loco(&target, &["approve", &id, "--actor", "bob"]).await.code, 0);
    let bad = loco(&target, &["schedule", "set", &id, "--at", "soon", "--actor", "ops"]).await;
    assert_eq!((bad.code, &bad.error_json()["error"]["details"][0]["field"]), (3, &json!("at")), "{}", bad.stderr);
    let no_plan = loco(&target, &["schedule", "set", &id, "--at", &in_(3600), "--actor", "ops", "--rollout"]).await;
    assert_eq!((no_plan.code, &no_plan.error_json()["error"]["details"][0]["field"]), (3, &json!("plan")));
    let at = in_(3600);
    let set = loco(&target, &["schedule", "set", &id, "--at", &at, "--actor", "ops"]).await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!((&set.json()["state"], &set.json()["at"]), (&json!("pending"), &json!(at)));
    let listed = loco(&text_target, &["schedule", "list"]).await;
    assert_eq!(listed.stdout, format!("{id} start at {at} by ops: pending\n"));
    let cancelled = loco(&target, &["schedule", "cancel", &id]).await;
    assert_eq!((cancelled.code, &cancelled.json()["state"]), (0, &json!("cancelled")));
    assert_eq!(loco(&target, &["schedule", "cancel", &id]).await.code, 4, "not_found the second time");
}

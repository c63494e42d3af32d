//! `loco platforms add|list|test|remove` on a database file and against a server: the token is
//! read from the environment variable named, sealed, and never printed, logged or stored in the
//! clear; a failed connection test exits with the platform code and the provider's answer.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::TestServer;

const TOKEN: &str = "rnd_cli-secret-token-0123456789abcdef";

fn loco(target: &[&str], args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(target)
        .args(["--json"])
        .args(args)
        .env("RENDER_TEST_TOKEN", TOKEN)
        .env_remove("LOCO_SERVER")
        .env_remove("LOCO_DB")
        .output()
        .expect("run loco")
}

fn json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is JSON ({e}): {text}"))
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn everything_printed(outputs: &[&Output]) -> String {
    let mut all = String::new();
    for output in outputs {
        all.push_str(&String::from_utf8_lossy(&output.stdout));
        all.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    all
}

fn add_render(target: &[&str], name: &str, port: u16) -> Output {
    let url = format!("http://127.0.0.1:{port}");
    loco(
        target,
        &[
            "platforms",
            "add",
            "render",
            "--name",
            name,
            "--service-id",
            "srv-cli",
            "--api-url",
            &url,
            "--token-env",
            "RENDER_TEST_TOKEN",
        ],
    )
}

/// The whole story on one target (`--db PATH` or `--server URL`).
fn drive(target: &[&str]) -> Vec<Output> {
    let port = closed_port();
    let added = add_render(target, "render-prod", port);
    assert_eq!(added.status.code(), Some(0), "{}", String::from_utf8_lossy(&added.stderr));
    let config = json(&added);
    assert_eq!((config["name"].as_str(), config["token"].as_str()), (Some("render-prod"), Some("***")));
    assert_eq!(config["settings"]["kind"], "render");

    let listed = loco(target, &["platforms", "list"]);
    assert_eq!(json(&listed)["items"].as_array().map(Vec::len), Some(1));

    let tested = loco(target, &["platforms", "test", "render-prod"]);
    assert_eq!(tested.status.code(), Some(14), "platform_error exits 14");
    let error: Value =
        serde_json::from_slice(String::from_utf8_lossy(&tested.stderr).trim().as_bytes()).expect("JSON error");
    assert_eq!(error["error"]["code"], "platform_error");

    let unknown = loco(target, &["platforms", "test", "nope"]);
    assert_eq!(unknown.status.code(), Some(4), "not_found exits 4");

    let missing_env = loco(
        target,
        &["platforms", "add", "render", "--name", "r2", "--service-id", "srv-x", "--token-env", "NO_SUCH_VARIABLE_SET"],
    );
    assert_eq!(missing_env.status.code(), Some(3), "a missing token variable is a validation error");

    let removed = loco(target, &["platforms", "remove", "render-prod"]);
    assert_eq!(removed.status.code(), Some(0));
    assert_eq!(json(&loco(target, &["platforms", "list"]))["items"], Value::Array(Vec::new()));
    vec![added, listed, tested, unknown, missing_env, removed]
}

fn assert_sealed(db: &Path) {
    for file in [db.to_path_buf(), db.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(!bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "the token is in {}", file.display());
        }
    }
}

#[test]
fn platforms_on_a_database_file_keep_the_token_sealed_and_unprinted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("loco.db");
    let db_text = db.to_str().expect("UTF-8 path");
    let outputs = drive(&["--db", db_text]);
    assert!(!everything_printed(&outputs.iter().collect::<Vec<_>>()).contains(TOKEN), "the token was printed");
    let again = add_render(&["--db", db_text], "render-prod", closed_port());
    assert_eq!(again.status.code(), Some(0));
    assert_sealed(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platforms_over_http_never_return_the_token() {
    let server = TestServer::start().await;
    let url = server.url.clone();
    let outputs = tokio::task::spawn_blocking(move || drive(&["--server", &url])).await.expect("drive");
    assert!(!everything_printed(&outputs.iter().collect::<Vec<_>>()).contains(TOKEN), "the token was printed");
    let added = tokio::task::spawn_blocking({
        let url = server.url.clone();
        move || add_render(&["--server", &url], "render-prod", closed_port())
    })
    .await
    .expect("add");
    assert_eq!(added.status.code(), Some(0));
    let listed = server.http.get(format!("{}/api/v1/platforms", server.url)).send().await.expect("list");
    let body = listed.text().await.expect("body");
    assert!(body.contains("\"token\":\"***\"") && !body.contains(TOKEN), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platforms_test_passes_against_the_fly_fake_and_names_a_rejected_token() {
    use loco_fakes::fly::{FlyFake, FlyFakeOptions};
    let token = "fm2_cli-fly-secret-0123456789";
    let fake = FlyFake::start(FlyFakeOptions { token: token.into(), ..FlyFakeOptions::default() }).await.unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("loco.db");
    let db = db.to_str().expect("UTF-8 path").to_owned();
    let (api, logs) = (fake.base_url().to_owned(), fake.logs_url().to_owned());
    let outputs = tokio::task::spawn_blocking(move || {
        let add = |name: &str, secret: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_loco"))
                .args(["--db", &db, "--json", "platforms", "add", "fly", "--name", name, "--app", "shop"])
                .args(["--api-url", &api, "--logs-url", &logs, "--token-env", "FLY_TEST_TOKEN"])
                .env("FLY_TEST_TOKEN", secret)
                .output()
                .expect("run loco")
        };
        let good = add("fly-prod", token);
        let bad = add("fly-wrong", "fm2_wrong-token-0123456789");
        let tested = loco(&["--db", &db], &["platforms", "test", "fly-prod"]);
        let refused = loco(&["--db", &db], &["platforms", "test", "fly-wrong"]);
        (good, bad, tested, refused)
    })
    .await
    .expect("the CLI runs");
    let (good, bad, tested, refused) = outputs;
    assert_eq!((good.status.code(), bad.status.code()), (Some(0), Some(0)));
    assert_eq!(tested.status.code(), Some(0), "{}", String::from_utf8_lossy(&tested.stderr));
    assert_eq!(json(&tested), serde_json::json!({"name": "fly-prod", "ok": true}));
    assert_eq!(refused.status.code(), Some(14));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("token") && !said.contains("fm2_wrong-token"), "{said}");
    let auth: Vec<String> = fake
        .recorder()
        .matching("GET", "/v1/apps/shop")
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(auth, [format!("FlyV1 {token}"), "FlyV1 fm2_wrong-token-0123456789".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_added_over_http_runs_a_rollout_started_over_http() {
    use crate::rollout_support::Api;
    use loco_fakes::fly::{FlyFake, FlyFakeOptions};
    use serde_json::json;
    let token = "fm2_http-fly-secret-0123456789";
    let fake = FlyFake::start(FlyFakeOptions { token: token.into(), ..FlyFakeOptions::default() }).await.unwrap();
    let server = TestServer::start().await;
    let api = Api::of(&server);
    let config = json!({"name": "fly-prod", "token": token,
                        "settings": {"kind": "fly", "app": "shop", "api_url": fake.base_url(), "logs_url": fake.logs_url()}});
    let put = server.http.put(format!("{}/api/v1/platforms/fly-prod", server.url)).json(&config).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let (status, tested) = api.post("/api/v1/platforms/fly-prod/test", &json!({})).await;
    assert_eq!((status.as_u16(), &tested), (200, &json!({"name": "fly-prod", "ok": true})));

    let id = api.approved("shop", "1.0.0").await;
    let plan = json!({"platform": "fly-prod", "strategy": {"type": "canary", "steps": [50], "interval_seconds": 0.1},
                      "instances": 2, "release": {"version": "v1", "image": "registry.fly.io/shop:v1"},
                      "health": {"timeout_seconds": 3, "retries": 20, "backoff_initial_seconds": 0.02,
                                 "backoff_max_seconds": 0.2, "interval_seconds": 0.1}});
    api.start(&id, &plan).await;
    let done = api.ended(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let machines: Vec<&str> =
        done["progress"]["instances"].as_array().unwrap().iter().filter_map(|i| i["platform_id"].as_str()).collect();
    assert_eq!(machines.len(), 2, "every instance records its machine id: {done}");
    assert_eq!(fake.live_machines().len(), 2);
    let (_, everything) = api.get(&format!("/api/v1/deployments/{id}/events")).await;
    assert!(!everything.to_string().contains(token), "the token is in no event");

    // Over the network a url probe may not point at this machine.
    let id = api.approved("shop", "1.1.0").await;
    let probing = json!({"platform": "fly-prod", "strategy": {"type": "immediate"}, "instances": 2,
                         "release": {"version": "v2", "image": "registry.fly.io/shop:v2"},
                         "health": {"probes": [{"type": "url", "url": "http://127.0.0.1:9/health"}]}});
    let (status, refused) =
        api.post(&format!("/api/v1/deployments/{id}/rollout"), &json!({"actor": "ops", "plan": probing})).await;
    assert_eq!(status.as_u16(), 400, "{refused}");
    assert_eq!(refused["error"]["details"][0]["field"], "health.probes[0].url");
}

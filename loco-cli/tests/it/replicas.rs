//! `loco serve` replicas on one PostgreSQL database (`--db postgres://…`): writes through any
//! replica are read through any other, event streams on one see every replica's events,
//! conflicting approvals spread over replicas let exactly one through, a replica killed
//! mid-canary has its rollout taken over by another within a lease, and `loco verify` finds the
//! shared chain valid. Needs the PostgreSQL server at `LOCO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a schema of its own.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{LocoProcess, SseReader, decode, request};
use crate::rollout_support::{Api, ServiceGuard, canary, immediate, plan, service_processes};

/// The key every replica seals secrets with (base64 of 32 bytes).
const MASTER_KEY: &str = "aGVyZSBhcmUgdGhpcnR5LXR3byBieXRlcyBvZiBrZXkh";

fn server_url() -> String {
    std::env::var("LOCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own on the test server, dropped at the end.
struct Schema {
    name: String,
}

impl Schema {
    async fn new(test: &str) -> Self {
        let name = format!("loco_it_{test}_{}", ulid::Ulid::new().to_string().to_lowercase());
        admin().await.batch_execute(&format!("CREATE SCHEMA \"{name}\"")).await.expect("create schema");
        Self { name }
    }

    /// The database URL whose search path starts with this schema.
    fn url(&self) -> String {
        let base = server_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block: clean up from a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let _ = admin().await.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
            });
        })
        .join();
    }
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&server_url(), tokio_postgres::NoTls).await.expect("the test PostgreSQL server");
    tokio::spawn(connection);
    client
}

/// A replica: `loco serve --no-auth` on the schema, sharing the state directory and the key.
fn replica(schema: &Schema, state_dir: &std::path::Path, lease_seconds: &str) -> LocoProcess {
    let db = schema.url();
    let state = state_dir.to_string_lossy().into_owned();
    LocoProcess::start_secured(
        std::path::Path::new(&db),
        &["--no-auth", "--state-dir", &state, "--lease-seconds", lease_seconds],
        &[("LOCO_MASTER_KEY", MASTER_KEY), ("RUST_LOG", "warn")],
        std::process::Stdio::inherit(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_records_events_and_one_winner_of_conflicting_approvals() {
    let schema = Schema::new("share").await;
    let state = tempfile::tempdir().unwrap();
    let replicas: Vec<LocoProcess> = (0..3).map(|_| replica(&schema, state.path(), "2")).collect();
    let apis: Vec<Api> = replicas.iter().map(|r| Api::at(&r.url)).collect();
    let http = reqwest::Client::new();

    // A stream on the third replica sees what the first and second write.
    let mut stream = SseReader::open_url(&http, &format!("{}/api/v1/events", replicas[2].url), None).await;
    let (status, created) = apis[0].post("/api/v1/deployments", &request("shared", "staging")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, read) = apis[1].get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!((status, &read["status"]), (StatusCode::OK, &json!("pending_approval")));
    let mut first = Vec::new();
    while first.is_empty() {
        let frame = stream.next().await.expect("open");
        if !frame.data.is_empty() {
            first.push(serde_json::from_str::<serde_json::Value>(&frame.data).unwrap());
        }
    }
    assert_eq!((first[0]["kind"].as_str(), first[0]["deployment_id"].as_str()), (Some("created"), Some(id.as_str())));

    // 64 approvals at once, spread over the three replicas: exactly one wins.
    let approvals =
        (0..64).map(|i| {
            let url = format!("{}/api/v1/deployments/{id}/approve", replicas[i % 3].url);
            let http = http.clone();
            async move {
                decode(http.post(url).json(&json!({"actor": format!("reviewer-{i}")})).send().await.unwrap()).await
            }
        });
    let answers = futures_join_all(approvals).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let conflicts = answers
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["error"]["code"] == "invalid_transition")
        .count();
    assert_eq!((ok, conflicts), (1, 63), "{answers:?}");
    let (_, events) = apis[2].get(&format!("/api/v1/deployments/{id}/events")).await;
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "approved"]);

    // The chain all three wrote verifies, from any replica and from the CLI.
    let (status, audit) = apis[1].get("/api/v1/audit/verify").await;
    assert_eq!((status, &audit["valid"]), (StatusCode::OK, &json!(true)), "{audit}");
    let verify = crate::cli::loco(&["--db", &schema.url()], &["verify"]).await;
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    for replica in replicas {
        replica.terminate();
        assert_eq!(replica.wait(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_canary_has_its_rollout_taken_over_within_a_lease() {
    const SHARED: &str = "replica-shop";
    let _guard = ServiceGuard(SHARED);
    let schema = Schema::new("takeover").await;
    let state = tempfile::tempdir().unwrap();
    let mut first = replica(&schema, state.path(), "2");
    let api = Api::at(&first.url);
    api.register_demo().await;
    let v1 = api.approved(SHARED, "1.0.0").await;
    api.start(&v1, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(api.ended(&v1).await["state"], "succeeded");
    let v2 = api.approved(SHARED, "2.0.0").await;
    api.start(&v2, &plan("v2", canary(&[50], 600.0), json!({}))).await;
    let observing =
        api.wait_for(&v2, "traffic split", |r| r["progress"]["traffic"].as_array().is_some_and(|t| t.len() == 2)).await;
    let second = replica(&schema, state.path(), "2");
    let other = Api::at(&second.url);

    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let killed = Instant::now();
    let taken = other.wait_for(&v2, "a new owner", |r| r["owner"] != observing["owner"]).await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(4), "taken over {took:?} after the owner died, with a 2 s lease");
    assert_eq!(taken["lease"], 1, "{taken}");
    eprintln!("replicas on PostgreSQL: rollout taken over {took:?} after SIGKILL of its owner (lease 2 s)");
    let recovered = other.wait_for(&v2, "rolled back", |r| r["state"] == "rolled_back").await;
    assert_eq!(recovered["failure"]["code"], "engine_restarted");
    let endpoint = recovered["progress"]["endpoint"].as_str().unwrap();
    assert_eq!(other.through(endpoint).await, (200, "v1".to_owned()));
    second.terminate();
    assert_eq!(second.wait(), Some(0));
    assert_eq!(service_processes(SHARED), Vec::<u32>::new());
}

#[tokio::test]
async fn the_cli_on_postgresql_keeps_records_needs_the_shared_key_and_reports_an_unreachable_server() {
    let schema = Schema::new("cli").await;
    let db = schema.url();
    let created = crate::cli::loco(
        &["--db", &db, "--json"],
        &[
            "create",
            "--service",
            "keyed",
            "--env",
            "staging",
            "--version",
            "1.0.0",
            "--requester",
            "alice",
            "--work-ref",
            "K-1",
            "--rollback-plan",
            "redeploy",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let approved = crate::cli::loco(&["--db", &db], &["approve", &id, "--actor", "bob"]).await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    // Another process reads what the first wrote.
    let shown = crate::cli::loco(&["--db", &db, "--json"], &["show", &id]).await;
    assert_eq!(shown.json()["status"], "approved");
    // A secret needs the key every replica shares; without it the start is refused, naming it.
    let plan = json!({"platform": "local", "strategy": {"type": "immediate"},
                      "release": {"version": "1.0.0", "command": ["true"], "secret_env": {"TOKEN": "t0k3n-value"}}});
    let refused =
        crate::cli::loco_fed(&["--db", &db, "--json"], &["rollout", "start", &id, "--plan", "-"], &plan.to_string())
            .await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert_eq!(refused.error_json()["error"]["details"][0]["field"], "LOCO_MASTER_KEY");
    let again = crate::cli::loco(&["--db", &db, "--json"], &["show", &id]).await;
    assert_eq!(again.json()["status"], "approved", "nothing was started");
    // A server that does not answer is a storage error (exit 9), not a hang.
    let started = Instant::now();
    let unreachable = crate::cli::loco(&["--db", "postgres://postgres@127.0.0.1:1/test"], &["ls"]).await;
    assert_eq!(unreachable.code, 9, "storage_error: {}", unreachable.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Runs futures concurrently (a tiny `join_all`, so the tests need no extra crate).
async fn futures_join_all<F: Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

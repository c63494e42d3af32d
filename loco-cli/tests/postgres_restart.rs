//! PostgreSQL stopped and started again under a `loco serve` taking writes: while it is down every
//! write is answered `503 storage_error` (with `Retry-After`), nothing acknowledged is lost, and
//! the server serves again once PostgreSQL is back — without a restart of its own.
//!
//! A test binary of its own, so no other test shares the moments the server is down. It controls
//! the local cluster with `pg_ctlcluster` (as root, as on this project's machines) and skips, saying
//! so, where it cannot.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MASTER_KEY: &str = "aGVyZSBhcmUgdGhpcnR5LXR3byBieXRlcyBvZiBrZXkh";

fn server_url() -> String {
    std::env::var("LOCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The local cluster's version directory (`15`), when this process may stop and start it.
fn controllable_cluster() -> Option<String> {
    if !server_url().contains("@127.0.0.1:5432/")
        || !Command::new("id").arg("-u").output().ok()?.stdout.starts_with(b"0")
    {
        return None;
    }
    let version = std::fs::read_dir("/etc/postgresql").ok()?.find_map(Result::ok)?.file_name();
    Some(version.to_string_lossy().into_owned())
}

fn cluster(version: &str, action: &str) {
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", action])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action} failed");
}

/// Starts the cluster again when dropped, whatever happened to the test.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &self.0, "main", "start"]).status();
    }
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

struct Serve(Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &str, state: &std::path::Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(["serve", "--no-auth", "--addr", "127.0.0.1:0", "--db", db, "--state-dir"])
        .arg(state)
        .env("LOCO_MASTER_KEY", MASTER_KEY)
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn loco");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("listening line");
    let url = line.trim().strip_prefix("loco listening on ").expect("listening line").to_owned();
    Serve(child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_postgresql_restart_are_503_and_none_acknowledged_is_lost() {
    let Some(version) = controllable_cluster() else {
        eprintln!("skipped: this process cannot stop and start the local PostgreSQL cluster");
        return;
    };
    let schema = format!("loco_restart_{}", ulid::Ulid::new().to_string().to_lowercase());
    admin().await.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("schema");
    let db = format!("{}?options=-csearch_path%3D{schema}", server_url());
    let state = tempfile::tempdir().expect("state dir");
    let server = serve(&db, state.path());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let create = |n: usize| {
        json!({"service": "restart", "environment": "staging", "version": format!("1.0.{n}"), "requester": "alice",
               "work_refs": ["R-1"], "rollback_plan": "redeploy"})
    };

    let mut acknowledged: Vec<String> = Vec::new();
    let (mut unavailable, mut other) = (0, Vec::new());
    let restart = Restart(version.clone());
    let started = Instant::now();
    let mut stopped_at = None;
    let mut restarted_at = None;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(60) {
        n += 1;
        match http.post(format!("{}/api/v1/deployments", server.1)).json(&create(n)).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                match status {
                    201 => acknowledged.push(body["id"].as_str().expect("id").to_owned()),
                    503 if body["error"]["code"] == "storage_error" && retry_after.is_some() => unavailable += 1,
                    _ => other.push((status, body)),
                }
            }
            Err(e) => other.push((0, json!(e.to_string()))),
        }
        if stopped_at.is_none() && acknowledged.len() >= 20 {
            cluster(&version, "stop");
            stopped_at = Some(Instant::now());
        }
        if let Some(at) = stopped_at
            && restarted_at.is_none()
            && at.elapsed() > Duration::from_secs(2)
        {
            cluster(&version, "start");
            restarted_at = Some(Instant::now());
        }
        if restarted_at.is_some() && acknowledged.len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(restart);
    let back = restarted_at.map(|at| at.elapsed());
    eprintln!(
        "PostgreSQL restart: {} writes acknowledged, {unavailable} answered 503 while it was down; serving again \
         {back:?} after it started",
        acknowledged.len()
    );
    assert!(unavailable > 0, "writes while PostgreSQL was down were refused with 503");
    assert!(other.is_empty(), "only 201 or 503 storage_error: {other:?}");
    assert!(acknowledged.len() >= 40, "writes were acknowledged again after the restart");
    for id in &acknowledged {
        let response = http.get(format!("{}/api/v1/deployments/{id}", server.1)).send().await.expect("get");
        assert_eq!(response.status().as_u16(), 200, "acknowledged {id} survived");
    }
    let audit: Value =
        http.get(format!("{}/api/v1/audit/verify", server.1)).send().await.expect("audit").json().await.expect("json");
    assert_eq!(audit["valid"], true, "{audit}");
    assert_eq!(audit["events_checked"], acknowledged.len(), "one created event per acknowledged write, no more");
    drop(server);
    let _ = admin().await.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
}

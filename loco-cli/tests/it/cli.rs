//! The `loco` binary as a client: a full lifecycle against a running server and against a
//! database file, `--json` output, human output, and the documented exit codes.

use std::path::Path;

use serde_json::Value;

use crate::common::TestServer;

/// What one `loco` invocation produced.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", self.stdout))
    }

    /// Stderr as JSON.
    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("stderr is JSON ({e}): {}", self.stderr))
    }
}

/// Runs `loco` with `target` and `args` and no stdin.
pub async fn loco(target: &[&str], args: &[&str]) -> Run {
    loco_fed(target, args, "").await
}

/// Runs `loco` with `target` and `args`, writing `stdin` to its standard input.
pub async fn loco_fed(target: &[&str], args: &[&str], stdin: &str) -> Run {
    run_loco(target, args, stdin, None).await
}

/// Runs `loco` with `target` and `args` and `LOCO_AUDIT_KEY` set to `key`.
pub async fn loco_keyed(target: &[&str], args: &[&str], key: &str) -> Run {
    run_loco(target, args, "", Some(key)).await
}

async fn run_loco(target: &[&str], args: &[&str], stdin: &str, audit_key: Option<&str>) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_loco"));
    command
        .args(target)
        .args(args)
        .env_remove("LOCO_SERVER")
        .env_remove("LOCO_DB")
        .env_remove("LOCO_ACTOR")
        .env_remove("LOCO_STATE_DIR")
        .env_remove("LOCO_AUDIT_KEY");
    if let Some(key) = audit_key {
        command.env("LOCO_AUDIT_KEY", key);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run loco");
    let mut input = child.stdin.take().expect("stdin");
    // A command that does not read stdin may exit first; a broken pipe then is fine.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let output = child.wait_with_output().await.expect("loco finishes");
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// Runs the whole lifecycle through the binary with `target` (`--server URL` or `--db PATH`).
async fn drive_lifecycle(target: &[&str]) {
    let created = loco(
        target,
        &[
            "create",
            "--json",
            "--service",
            "checkout",
            "--environment",
            "staging",
            "--version",
            "2.4.0",
            "--requester",
            "alice",
            "--work-ref",
            "PAY-1",
            "--work-ref",
            "PAY-2",
            "--rollback-plan",
            "redeploy 2.3.9",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let d = created.json();
    assert_eq!(d["status"], "pending_approval");
    assert_eq!(d["work_refs"], serde_json::json!(["PAY-1", "PAY-2"]));
    assert_eq!(d["version"], "2.4.0");
    let id = d["id"].as_str().unwrap();

    for (args, status) in [
        (vec!["approve", id, "--actor", "bob", "--note", "lgtm"], "approved"),
        (vec!["start", id, "--actor", "ops"], "started"),
        (vec!["succeed", id, "--actor", "ops"], "succeeded"),
        (vec!["rollback", id, "--actor", "ops", "--note", "error budget burned"], "rolled_back"),
    ] {
        let mut with_json = vec!["--json"];
        with_json.extend(args);
        let run = loco(target, &with_json).await;
        assert_eq!(run.code, 0, "{with_json:?}: {}", run.stderr);
        assert_eq!(run.json()["status"], status);
    }

    let show = loco(target, &["show", id, "--json"]).await;
    assert_eq!((show.code, show.json()["status"].as_str()), (0, Some("rolled_back")));
    let events = loco(target, &["events", id, "--json"]).await;
    assert_eq!(events.code, 0);
    let kinds: Vec<String> =
        events.json()["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["created", "approved", "started", "succeeded", "rolled_back"]);
    let ls = loco(target, &["ls", "--json", "--status", "rolled_back"]).await;
    assert_eq!(ls.code, 0);
    assert_eq!(ls.json()["items"][0]["id"], id);
    assert_eq!(ls.json()["next_cursor"], Value::Null);
    let verify = loco(target, &["verify", "--json"]).await;
    assert_eq!((verify.code, verify.json()["valid"].as_bool()), (0, Some(true)));
    assert_eq!(verify.json()["events_checked"], 5);

    // Human output: a table and a key/value block.
    let table = loco(target, &["ls"]).await;
    assert_eq!(table.code, 0);
    let header = table.stdout.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("SERVICE") && header.contains("STATUS"), "{header}");
    assert!(table.stdout.lines().nth(1).unwrap().starts_with(id));
    let show = loco(target, &["show", id]).await;
    assert!(show.stdout.lines().any(|l| l.starts_with("status") && l.ends_with("rolled_back")), "{}", show.stdout);
    let events = loco(target, &["events", id]).await;
    assert_eq!(events.stdout.lines().count(), 6, "header and five events: {}", events.stdout);
}

/// Runs `scenario` with `--server URL` of a real `loco serve` process, which then exits cleanly.
async fn against_a_server(scenario: impl AsyncFnOnce(&[&str])) {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::common::LocoProcess::start(&dir.path().join("served.db"));
    scenario(&["--server", &server.url]).await;
    server.terminate();
    assert_eq!(server.wait(), Some(0));
}

#[tokio::test]
async fn lifecycle_through_the_binary_against_a_server() {
    // The real `loco serve` process, driven by the real `loco` client.
    against_a_server(drive_lifecycle).await;
}

/// Runs `scenario` with `--db PATH` of a new database file; returns the file (and its folder).
async fn on_a_database_file(scenario: impl AsyncFnOnce(&[&str])) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    scenario(&["--db", db.to_str().unwrap()]).await;
    (dir, db)
}

#[tokio::test]
async fn lifecycle_through_the_binary_on_a_database_file() {
    let (_dir, db) = on_a_database_file(drive_lifecycle).await;
    // The file holds it all for the next process (and for a server).
    let engine = loco_core::Engine::open(&db).await.unwrap();
    assert_eq!(engine.list(&loco_core::ListQuery::default()).await.unwrap().items.len(), 1);
    engine.close().await.unwrap();
}

/// `loco create --commit`: the open deployment of the same target, version and commit comes back.
async fn create_by_commit(target: &[&str]) {
    let create = |commit: &'static str, requester: &'static str| {
        let what = ["create", "--json", "--service", "api", "--env", "staging", "--version", "1.0.0"];
        let who = ["--requester", requester, "--work-ref", "W-1", "--rollback-plan", "redo", "--commit", commit];
        let args: Vec<&str> = what.into_iter().chain(who).collect();
        async move { loco(target, &args).await }
    };
    let sha = "9f2c1e7a4b5d6c8e0f1a2b3c4d5e6f708192a3b4";
    let first = create(sha, "alice").await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let id = first.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(first.json()["commit"], sha);
    let again = create(sha, "carol").await;
    assert_eq!((again.code, again.json()["id"].as_str()), (0, Some(id.as_str())), "{}", again.stderr);
    assert_eq!(again.json()["requester"], "alice", "the open deployment as it is");
    let other = create("0123abc", "alice").await;
    assert_ne!(other.json()["id"].as_str(), Some(id.as_str()));
    let bad = create("9f2c 1e7", "alice").await;
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("commit"), "{}", bad.stderr);
    let show = loco(target, &["show", &id]).await;
    assert!(show.stdout.lines().any(|l| l.starts_with("commit") && l.ends_with(sha)), "{}", show.stdout);
    let ls = loco(target, &["ls", "--json"]).await;
    assert_eq!(ls.json()["items"].as_array().unwrap().len(), 2, "two deployments, not three");
}

#[tokio::test]
async fn create_by_commit_against_a_server() {
    against_a_server(create_by_commit).await;
}

#[tokio::test]
async fn create_by_commit_on_a_database_file() {
    on_a_database_file(create_by_commit).await;
}

async fn create_for(target: &[&str], requester: &str, environment: &str) -> String {
    let run = loco(
        target,
        &[
            "create",
            "--json",
            "--service",
            "api",
            "--env",
            environment,
            "--version",
            "1",
            "--requester",
            requester,
            "--work-ref",
            "W-1",
            "--rollback-plan",
            "redo",
            "--idempotency-key",
            "same-key",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["id"].as_str().unwrap().to_owned()
}

/// Every error class exits with its documented code, same on both backends.
async fn exit_codes(target: &[&str]) {
    let id = create_for(target, "alice", "dev").await;
    // 3: validation, with the core's field names on stderr.
    let run = loco(target, &["create", "--service", "api"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: invalid input"), "{}", run.stderr);
    assert!(run.stderr.contains("  - environment: is required"), "{}", run.stderr);
    let run = loco(target, &["--json", "reject", &id, "--actor", "bob"]).await;
    assert_eq!(run.code, 3);
    assert_eq!(run.error_json()["error"]["details"][0]["field"], "note");
    let run = loco(target, &["ls", "--limit", "0"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    // 4: not found.
    let run = loco(target, &["show", "dep_00000000000000000000000000", "--json"]).await;
    assert_eq!((run.code, run.stdout.as_str()), (4, ""));
    assert_eq!(run.error_json()["error"]["code"], "not_found");
    // 5: invalid transition.
    let run = loco(target, &["start", &id, "--actor", "ops"]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    // 6: self approval.
    let run = loco(target, &["approve", &id, "--actor", "alice"]).await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    // 7: idempotency conflict (same key, different request).
    let run = loco(
        target,
        &[
            "create",
            "--service",
            "web",
            "--env",
            "dev",
            "--version",
            "1",
            "--requester",
            "alice",
            "--work-ref",
            "W-1",
            "--rollback-plan",
            "redo",
            "--idempotency-key",
            "same-key",
        ],
    )
    .await;
    assert_eq!(run.code, 7, "{}", run.stderr);
    // The same key and request replays the original.
    assert_eq!(create_for(target, "alice", "dev").await, id);
    // LOCO_ACTOR stands in for --actor.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(target)
        .args(["approve", &id, "--json"])
        .env("LOCO_ACTOR", "bob")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
}

#[tokio::test]
async fn exit_codes_against_a_server() {
    let server = TestServer::start().await;
    exit_codes(&["--server", &server.url]).await;
    server.stop().await;
}

#[tokio::test]
async fn exit_codes_on_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    exit_codes(&["--db", db.to_str().unwrap()]).await;
}

#[tokio::test]
async fn usage_and_connection_failures_have_their_own_codes() {
    // 2: no target, unknown flag, both targets.
    let run = loco(&[], &["ls"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--server URL or --db PATH"), "{}", run.stderr);
    assert_eq!(loco(&[], &["ls", "--frobnicate"]).await.code, 2);
    assert_eq!(loco(&["--server", "http://127.0.0.1:1", "--db", "x.db"], &["ls"]).await.code, 2);
    assert_eq!(loco(&["--server", "ftp://127.0.0.1"], &["ls"]).await.code, 2);
    // 10: nothing listens there (a port we bound and released).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let run = loco(&["--server", &format!("http://127.0.0.1:{port}")], &["ls", "--json"]).await;
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert_eq!(run.error_json()["error"]["code"], "unreachable");
}

#[tokio::test]
async fn verify_exits_11_on_a_tampered_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let target = ["--db", db.to_str().unwrap()];
    let id = create_for(&target, "alice", "dev").await;
    assert_eq!(loco(&target, &["approve", &id, "--actor", "bob", "--note", "ok"]).await.code, 0);
    tamper(&db);
    let run = loco(&target, &["verify"]).await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("BROKEN at event #2"), "{}", run.stdout);
    let run = loco(&target, &["verify", "--json"]).await;
    assert_eq!((run.code, run.json()["first_broken"]["seq"].as_i64()), (11, Some(2)));
}

#[tokio::test]
async fn verify_exits_11_on_an_edited_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let target = ["--db", db.to_str().unwrap()];
    let id = create_for(&target, "alice", "dev").await;
    assert_eq!(loco(&target, &["approve", &id, "--actor", "bob", "--note", "ok"]).await.code, 0);
    let run = loco(&target, &["verify"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("deployments    1 compared with their history\n"), "{}", run.stdout);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE deployments SET version = '9.9.9', risk = NULL WHERE id = ?1", [&id])
        .unwrap();
    let run = loco(&target, &["verify"]).await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("field          version\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("reason         deployment {id} has version '9.9.9' but its events establish '1'")),
        "{}",
        run.stdout
    );
    let run = loco(&target, &["verify", "--json"]).await;
    let broken = &run.json()["first_broken"];
    assert_eq!(
        (run.code, broken["deployment_id"].as_str(), broken["field"].as_str()),
        (11, Some(id.as_str()), Some("version"))
    );
}

/// Edits a stored event behind the engine's back (dropping the append-only trigger first).
fn tamper(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "DROP TRIGGER deployment_events_are_append_only_update;
         UPDATE deployment_events SET note = 'edited' WHERE seq = 2;",
    )
    .unwrap();
}

#[tokio::test]
async fn ls_all_follows_every_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let target = ["--db", db.to_str().unwrap()];
    {
        let engine = loco_core::Engine::open(&db).await.unwrap();
        for i in 0..7 {
            let body = loco_cli::wire::CreateDeployment {
                service: format!("svc-{i}"),
                environment: "dev".into(),
                version: "1".into(),
                requester: "alice".into(),
                work_refs: vec!["W-1".into()],
                rollback_plan: "redo".into(),
                risk: None,
                commit: None,
            };
            engine.create(body, None).await.unwrap();
        }
        engine.close().await.unwrap();
    }
    let page = loco(&target, &["ls", "--json", "--limit", "3"]).await;
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 3);
    assert!(page.json()["next_cursor"].is_string());
    let human = loco(&target, &["ls", "--limit", "3"]).await;
    assert!(human.stderr.contains("--cursor"), "{}", human.stderr);
    let all = loco(&target, &["ls", "--json", "--limit", "3", "--all"]).await;
    let json = all.json();
    let services: Vec<&str> =
        json["items"].as_array().unwrap().iter().map(|d| d["service"].as_str().unwrap()).collect();
    assert_eq!(services, ["svc-6", "svc-5", "svc-4", "svc-3", "svc-2", "svc-1", "svc-0"]);
    assert_eq!(json["next_cursor"], Value::Null);
}

#[tokio::test]
async fn events_follow_prints_history_then_new_events_as_they_commit() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = TestServer::start().await;
    let d = server.create("api", "staging").await;
    let id = d["id"].as_str().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(["--server", &server.url, "events", id, "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("still running");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(next().await["kind"], "created");
    server.act(id, "approve", "bob").await;
    let approved = next().await;
    assert_eq!((approved["kind"].as_str(), approved["seq"].as_i64()), (Some("approved"), Some(2)));
    server.create("other", "staging").await;
    server.act(id, "start", "ops").await;
    let started = next().await;
    assert_eq!(
        (started["kind"].as_str(), started["seq"].as_i64()),
        (Some("started"), Some(4)),
        "no other deployment's"
    );
    // Ending the server ends the stream, and the command exits cleanly.
    server.stop().await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let run = loco(&["--db", db.to_str().unwrap()], &["events", "dep_x", "--follow"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--follow needs --server"), "{}", run.stderr);
}

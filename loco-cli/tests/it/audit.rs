//! `loco audit head` and `loco verify --head FILE`: an exported head, signed with
//! `LOCO_AUDIT_KEY`, finds events deleted from the end of the chain (which verifies on its own),
//! a wrong key and a forged head; on a database file and against a server.

use std::path::Path;
use std::process::Stdio;

use crate::cli::{Run, loco_keyed};
use crate::common::LocoProcess;

const KEY: &str = "correct horse battery staple, at length";

/// A deployment of `service` created (by `requester`, when the target does not take it from a
/// token) and, when `approve`, approved through the binary; returns its id.
async fn deployment(target: &[&str], service: &str, key: &str, requester: Option<&str>, approve: bool) -> String {
    let mut args = vec![
        "create",
        "--json",
        "--service",
        service,
        "--env",
        "staging",
        "--version",
        "1.0.0",
        "--work-ref",
        "W-1",
        "--rollback-plan",
        "redo",
    ];
    if let Some(requester) = requester {
        args.extend(["--requester", requester]);
    }
    let run = loco_keyed(target, &args, key).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run.json()["id"].as_str().unwrap().to_owned();
    if approve {
        let run = loco_keyed(target, &["approve", &id, "--actor", "bob"], key).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    id
}

/// `loco audit head --json`, written to `file`.
async fn export_head(target: &[&str], key: &str, file: &Path) -> serde_json::Value {
    let run = loco_keyed(target, &["audit", "head", "--json"], key).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(file, &run.stdout).unwrap();
    run.json()
}

/// Deletes deployment `id` and its history, as someone with write access to the file could.
fn truncate(db: &Path, id: &str) {
    let raw = rusqlite::Connection::open(db).unwrap();
    raw.execute_batch("DROP TRIGGER deployment_events_are_append_only_delete").unwrap();
    raw.execute("DELETE FROM deployment_events WHERE deployment_id = ?1", [id]).unwrap();
    raw.execute("DELETE FROM deployments WHERE id = ?1", [id]).unwrap();
}

fn reason(run: &Run) -> String {
    run.json()["first_broken"]["reason"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_exported_head_finds_a_truncated_chain_in_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let head_file = dir.path().join("head.json");
    let target = ["--db", db.to_str().unwrap()];
    deployment(&target, "api", KEY, Some("alice"), true).await;
    let newest = deployment(&target, "web", KEY, Some("alice"), true).await;

    let head = export_head(&target, KEY, &head_file).await;
    assert_eq!((head["seq"].as_i64(), head["hmac"].as_str().map(str::len)), (Some(4), Some(64)));
    let text = loco_keyed(&target, &["audit", "head"], KEY).await;
    assert!(text.stdout.starts_with("seq   4\nhash  "), "{}", text.stdout);
    let run = loco_keyed(&target, &["verify", "--head", head_file.to_str().unwrap()], KEY).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("exported head  #4 found\n"), "{}", run.stdout);

    truncate(&db, &newest);
    let run = loco_keyed(&target, &["verify", "--json"], KEY).await;
    assert_eq!(run.code, 0, "without the head, a truncated chain verifies: {}", run.stdout);
    let run = loco_keyed(&target, &["verify", "--json", "--head", head_file.to_str().unwrap()], KEY).await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert_eq!(reason(&run), "the exported head is event #4 but the chain ends at #2 (events after it were deleted)");
}

#[tokio::test]
async fn a_head_is_only_good_with_the_key_that_signed_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let head_file = dir.path().join("head.json");
    let target = ["--db", db.to_str().unwrap()];
    deployment(&target, "api", KEY, Some("alice"), true).await;
    let head = export_head(&target, KEY, &head_file).await;
    let file = head_file.to_str().unwrap();

    let run = loco_keyed(&target, &["verify", "--json", "--head", file], "some other key").await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert!(reason(&run).contains("HMAC does not match"), "{}", run.stdout);

    // A head forged to match the chain carries no valid HMAC.
    let mut forged = head.clone();
    forged["hmac"] = serde_json::Value::Null;
    std::fs::write(&head_file, forged.to_string()).unwrap();
    let run = loco_keyed(&target, &["verify", "--json", "--head", file], KEY).await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert!(reason(&run).contains("carries no HMAC"), "{}", run.stdout);

    // Without a key, a signed head cannot be checked: a usage problem, not a verdict.
    std::fs::write(&head_file, head.to_string()).unwrap();
    let run = crate::cli::loco(&target, &["verify", "--json", "--head", file]).await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.error_json()["error"]["details"][0]["field"], "head.hmac");

    std::fs::write(&head_file, r#"{"seq": 1, "hash": "abc"}"#).unwrap();
    let run = loco_keyed(&target, &["verify", "--json", "--head", file], KEY).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.error_json()["error"]["details"][0]["field"], "head.hash");
    let missing = dir.path().join("nowhere.json");
    let run = loco_keyed(&target, &["verify", "--head", missing.to_str().unwrap()], KEY).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[tokio::test]
async fn a_server_signs_and_checks_heads_with_its_own_key() {
    const ADMIN: &str = "loco_audit-admin-token-0123456789abcdefghijklmnop";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let head_file = dir.path().join("head.json");
    let env = [("LOCO_ADMIN_TOKEN", ADMIN), ("LOCO_AUDIT_KEY", KEY)];
    let server = LocoProcess::start_secured(&db, &[], &env, Stdio::inherit());
    let target = ["--server", server.url.as_str(), "--token", ADMIN];
    // One admin token is both requester and would-be reviewer: creating is enough here.
    deployment(&target, "api", "", None, false).await;
    let newest = deployment(&target, "web", "", None, false).await;

    // The client has no key (an empty one counts as none): the server's signs and checks.
    let head = export_head(&target, "", &head_file).await;
    assert_eq!(head["hmac"].as_str().map(str::len), Some(64));
    let file = head_file.to_str().unwrap();
    let run = loco_keyed(&target, &["verify", "--json", "--head", file], "").await;
    assert_eq!((run.code, run.json()["exported_head_seq"].as_i64()), (0, Some(2)), "{}", run.stderr);

    truncate(&db, &newest);
    let run = loco_keyed(&target, &["verify", "--json", "--head", file], "").await;
    assert_eq!(run.code, 11, "{}{}", run.stdout, run.stderr);
    assert!(reason(&run).contains("chain ends at #1"), "{}", run.stdout);
    server.terminate();
    assert_eq!(server.wait(), Some(0));
}

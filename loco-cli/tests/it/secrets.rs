//! Secrets sealed at rest, revealed only to the platform, redacted everywhere else: `loco serve`
//! with authentication on runs a release whose `secret_env` holds a random marker, and the marker
//! is looked for in every response, the server's trace log, every file next to the database and
//! the child's `/proc/<pid>/environ` — across a restart and a key rotation.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use loco_core::Vault;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::common::{LocoProcess, PATIENCE, SseReader, assert_error};
use crate::rollout_support::{Api, ServiceGuard, demo_service_json, immediate, plan, service_processes};

/// A well-formed admin token for `LOCO_ADMIN_TOKEN`.
const ADMIN: &str = "loco_secrets-admin-token-0123456789abcdefghijklm";
/// The registered service the plans name; it allows `API_KEY`.
const VAULTED: &str = "vaulted";
/// The variables the local platform itself sets in an instance's environment.
const PLATFORM_VARS: [&str; 4] = ["LOCO_INSTANCE_ID", "LOCO_VERSION", "LOCO_SERVICE", "LOCO_ENVIRONMENT"];

/// A server with authentication on, the admin's API and a deployer's (`bob`, who may approve
/// what the admin requests).
struct Secured {
    server: LocoProcess,
    admin: Api,
    bob: Api,
}

impl Secured {
    /// Starts `loco serve` on `db` with `env` and registers the vaulted service and bob's token.
    async fn start(db: &Path, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut all = vec![("LOCO_ADMIN_TOKEN", ADMIN)];
        all.extend_from_slice(env);
        let server = LocoProcess::start_secured(db, &[], &all, stderr);
        let admin = api_as(&server.url, ADMIN);
        let mut vaulted = demo_service_json();
        vaulted["name"] = json!(VAULTED);
        vaulted["allowed_env"].as_array_mut().expect("allowed_env").push(json!("API_KEY"));
        let response = admin.http.put(format!("{}/api/v1/services/{VAULTED}", admin.url)).json(&vaulted).send();
        let (status, body) = crate::common::decode(response.await.expect("PUT")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, token) = admin
            .post("/api/v1/tokens", &json!({"name": "bob", "subject": "bob", "grants": ["approver", "deployer"]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        let bob = api_as(&server.url, token["secret"].as_str().expect("secret"));
        Self { server, admin, bob }
    }

    /// A deployment of `service` requested by the admin and approved by bob; its id.
    async fn approved(&self, service: &str, version: &str) -> String {
        let body = json!({"service": service, "environment": "staging", "version": version,
                          "work_refs": ["SEC-1"], "rollback_plan": "the previous release is restored"});
        let (status, d) = self.admin.post("/api/v1/deployments", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        let id = d["id"].as_str().expect("id").to_owned();
        let (status, d) = self.bob.post(&format!("/api/v1/deployments/{id}/approve"), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        id
    }

    /// Bob starts the rollout of `id` with `plan`: 202 and the recorded rollout.
    async fn start_rollout(&self, id: &str, plan: &Value) -> Value {
        let (status, rollout) =
            self.bob.post(&format!("/api/v1/deployments/{id}/rollout"), &json!({"plan": plan})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{rollout}");
        rollout
    }

    /// SIGTERM, and a clean exit.
    fn stop(self) {
        self.server.terminate();
        assert_eq!(self.server.wait(), Some(0));
    }
}

/// The API at `url` with `token` sent on every request.
fn api_as(url: &str, token: &str) -> Api {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
    let http = reqwest::Client::builder().tcp_nodelay(true).default_headers(headers).build().expect("client");
    Api { http, url: url.to_owned() }
}

/// A plan running the vaulted service as `version`, with `env` and `secret_env`.
fn vaulted_plan(version: &str, env: Value, secret_env: Value) -> Value {
    let mut plan = plan(version, immediate(), env);
    plan["release"]["service"] = json!(VAULTED);
    plan["release"]["secret_env"] = secret_env;
    plan
}

/// A value nobody else writes anywhere: what the tests look for.
fn marker() -> String {
    format!("sk_live_{}{}", ulid::Ulid::new(), ulid::Ulid::new()).to_lowercase()
}

/// `marker` as it could be written down: as is, in hex, and in standard and URL-safe base64 at
/// every byte alignment (the characters that depend on the marker's bytes only).
fn written_forms(marker: &str) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = marker.bytes().flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]).map(char::from);
    let mut forms = vec![marker.to_owned(), hex.collect()];
    for alphabet in [STANDARD, URL_SAFE] {
        for shift in 0..3 {
            let mut bytes = vec![0_u8; shift];
            bytes.extend_from_slice(marker.as_bytes());
            let encoded = base64(&bytes, alphabet);
            forms.push(encoded[4..encoded.len() - 4].to_owned());
        }
    }
    forms
}

/// Unpadded base64 of `bytes` in `alphabet`.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    bytes
        .chunks(3)
        .flat_map(|chunk| {
            let n = chunk.iter().enumerate().fold(0_u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            (0..=chunk.len()).map(move |i| char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]))
        })
        .collect()
}

/// Asserts that `bytes` (the content of `what`) holds `marker` in none of its written forms.
#[track_caller]
fn assert_no_marker(what: &str, bytes: &[u8], marker: &str) {
    for form in written_forms(marker) {
        let found = bytes.windows(form.len()).any(|w| w == form.as_bytes());
        assert!(!found, "{what} holds the secret (as {form:?})");
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("dir entry").path()) {
        if entry.is_dir() {
            files.extend(files_under(&entry));
        } else {
            files.push(entry);
        }
    }
    files
}

/// Asserts that no file under `dir` holds `marker`, and that `must_exist` are among them.
#[track_caller]
fn assert_no_file_holds(dir: &Path, marker: &str, must_exist: &[&Path]) {
    let files = files_under(dir);
    for file in must_exist {
        assert!(files.iter().any(|f| f == file), "{} exists: {files:?}", file.display());
    }
    for file in &files {
        // A file removed meanwhile (the SQLite -shm at close) has nothing to leak.
        if let Ok(bytes) = std::fs::read(file) {
            assert_no_marker(&file.display().to_string(), &bytes, marker);
        }
    }
}

/// `db` with `suffix` appended (`loco.db-wal`, `loco.db.key`).
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    path.into()
}

/// The pid of the running instance of `version` among `instances` (a rollout's progress or a
/// release).
fn instance_pid(instances: &Value, version: &str) -> u32 {
    let all = instances.as_array().expect("instances");
    let running = all.iter().find(|i| i["version"] == version && i["state"] == "running");
    let pid = running.unwrap_or_else(|| panic!("a running {version} instance in {instances}"))["pid"].as_u64();
    u32::try_from(pid.expect("pid")).expect("a pid")
}

/// The environment process `pid` started with.
fn environment_of(pid: u32) -> BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read environ");
    raw.split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let text = String::from_utf8_lossy(entry);
            let (name, value) = text.split_once('=').unwrap_or((&text, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Every sealed value stored in `db`'s rollouts and releases.
fn stored_secrets(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open db");
    let mut documents = Vec::new();
    for sql in ["SELECT plan FROM rollouts", "SELECT spec FROM releases"] {
        let mut statement = conn.prepare(sql).expect("prepare");
        let rows = statement.query_map([], |r| r.get::<_, String>(0)).expect("query");
        documents.extend(rows.map(|r| serde_json::from_str::<Value>(&r.expect("row")).expect("JSON")));
    }
    documents
        .iter()
        .map(|d| d.get("release").unwrap_or(d))
        .flat_map(|spec| {
            spec["secret_env"].as_object().into_iter().flatten().map(|(_, v)| v.as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reaches_only_its_instance_and_is_redacted_or_sealed_everywhere_else() {
    const SERVICE: &str = "secrets-shop";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let log = dir.path().join("serve.log");
    let secret = marker();
    let master_key = Vault::generate().key_base64();
    let outer = marker();
    let server = Secured::start(
        &db,
        &[
            ("LOCO_MASTER_KEY", master_key.as_str()),
            ("OUTER_SECRET", outer.as_str()),
            ("LOCO_OUTER_SECRET", outer.as_str()),
            ("RUST_LOG", "trace"),
        ],
        Stdio::from(File::create(&log).unwrap()),
    )
    .await;
    let (admin, redacted) = (&server.admin, json!({"API_KEY": "***"}));
    let mut responses: Vec<String> = Vec::new();

    let id = server.approved(SERVICE, "1.0.0").await;
    let started =
        server.start_rollout(&id, &vaulted_plan("v1", json!({"VERSION": "v1"}), json!({"API_KEY": secret}))).await;
    assert_eq!(started["plan"]["release"]["secret_env"], redacted, "{started}");
    assert_eq!(started["plan"]["release"]["env"], json!({"VERSION": "v1"}), "plain env is shown as it is");
    let done = admin.ended(&id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["plan"]["release"]["secret_env"], redacted, "{done}");
    responses.extend([started.to_string(), done.to_string()]);

    // Every read of the rollout, its release and its events.
    for path in [
        format!("/api/v1/deployments/{id}/rollout"),
        "/api/v1/rollouts".to_owned(),
        format!("/api/v1/releases?service={SERVICE}&environment=staging"),
        format!("/api/v1/deployments/{id}/events"),
        format!("/api/v1/deployments/{id}"),
    ] {
        let (status, body) = admin.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        responses.push(body.to_string());
    }
    let (_, rollouts) = admin.get("/api/v1/rollouts").await;
    assert_eq!(rollouts["items"][0]["plan"]["release"]["secret_env"], redacted, "{rollouts}");
    let (_, releases) = admin.get(&format!("/api/v1/releases?service={SERVICE}&environment=staging")).await;
    assert_eq!(releases["items"][0]["spec"]["secret_env"], redacted, "{releases}");
    let (_, events) = admin.get(&format!("/api/v1/deployments/{id}/events")).await;
    let last_seq = events["items"].as_array().unwrap().last().expect("events")["seq"].as_i64().unwrap();
    // The all-events stream replayed from the start.
    let mut stream = SseReader::open_url(&admin.http, &format!("{}/api/v1/events?after=0", admin.url), None).await;
    loop {
        let (seq, event) = stream.event().await;
        responses.push(event.to_string());
        if seq >= last_seq {
            break;
        }
    }
    drop(stream);
    let metrics = admin.http.get(format!("{}/metrics", admin.url)).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    responses.push(metrics.text().await.unwrap());
    for body in &responses {
        assert_no_marker("a response", body.as_bytes(), &secret);
        assert!(!body.contains("loco:v1:"), "no response shows a sealed value either: {body}");
    }

    // The instance, and only it, has the value; nothing of the server's own environment.
    let pid = instance_pid(&done["progress"]["instances"], "v1");
    assert!(service_processes(SERVICE).contains(&pid), "the recorded instance {pid} runs");
    let child = environment_of(pid);
    assert_eq!(child.get("API_KEY"), Some(&secret), "{child:?}");
    assert_eq!(child.get("VERSION").map(String::as_str), Some("v1"));
    for name in ["LOCO_ADMIN_TOKEN", "LOCO_MASTER_KEY", "OUTER_SECRET", "LOCO_OUTER_SECRET", "RUST_LOG"] {
        assert!(!child.contains_key(name), "{name} reached the instance: {child:?}");
    }
    for (name, value) in &child {
        assert!(!name.starts_with("LOCO_") || PLATFORM_VARS.contains(&name.as_str()), "{name} reached the instance");
        assert!(
            ![ADMIN, master_key.as_str(), outer.as_str()].contains(&value.as_str()),
            "{name} holds a server secret"
        );
    }

    // At rest: the database, its WAL, the state directory (and the log) hold no trace of it.
    assert_no_file_holds(dir.path(), &secret, &[&db, &beside(&db, "-wal"), &log]);
    assert!(!beside(&db, ".key").exists(), "LOCO_MASTER_KEY is the key: no key file");
    server.stop();
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new(), "no instance survives the server");
    assert_no_file_holds(dir.path(), &secret, &[&db, &log]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("deployment created") && text.contains("rollout started"), "a verbose log: {text}");
    for server_secret in [ADMIN, master_key.as_str(), outer.as_str()] {
        assert!(!text.contains(server_secret), "the log holds a server secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redaction_placeholder_and_a_variable_both_plain_and_secret_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let server = Secured::start(&db, &[], Stdio::null()).await;
    let id = server.approved("secrets-refused", "1.0.0").await;
    let path = format!("/api/v1/deployments/{id}/rollout");
    for (env, secret_env) in [
        // A plan copied from a response must not overwrite the secret with the placeholder.
        (json!({}), json!({"API_KEY": "***"})),
        (json!({"API_KEY": "plain"}), json!({"API_KEY": "sealed"})),
    ] {
        let (status, error) = server.bob.post(&path, &json!({"plan": vaulted_plan("v1", env, secret_env)})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_error(&error, "validation_error", &["release.secret_env.API_KEY"]);
    }
    let (status, _) = server.admin.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no rollout was started");
    assert!(!beside(&db, ".key").exists(), "nothing was sealed, so no key was needed");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_survives_a_restart_and_a_key_rotation() {
    const SERVICE: &str = "secrets-rotated";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let key_file = beside(&db, ".key");
    let secret = marker();

    let first = Secured::start(&db, &[], Stdio::null()).await;
    let v1 = first.approved(SERVICE, "1.0.0").await;
    first.start_rollout(&v1, &vaulted_plan("v1", json!({}), json!({"API_KEY": secret}))).await;
    let done = first.admin.ended(&v1).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(environment_of(instance_pid(&done["progress"]["instances"], "v1")).get("API_KEY"), Some(&secret));
    first.stop();

    // Sealed with the key file's key, created private on first use.
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let old_text = std::fs::read_to_string(&key_file).unwrap();
    let old = Vault::from_base64(old_text.lines().next().unwrap()).unwrap();
    let stored = stored_secrets(&db);
    assert_eq!(stored.len(), 2, "the rollout's plan and the release: {stored:?}");
    for sealed in &stored {
        assert!(sealed.starts_with(&format!("loco:v1:{}:", old.key_id())), "{sealed}");
        assert_eq!(old.open(sealed).unwrap(), secret);
    }

    // A restarted server still shows it redacted.
    let second = Secured::start(&db, &[], Stdio::null()).await;
    let rollout = second.admin.rollout(&v1).await;
    assert_eq!(rollout["plan"]["release"]["secret_env"], json!({"API_KEY": "***"}), "{rollout}");
    second.stop();

    let rotated = Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(["secrets", "rotate-key", "--db"])
        .arg(&db)
        .env_remove("LOCO_MASTER_KEY")
        .env_remove("LOCO_SERVER")
        .env_remove("LOCO_DB")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(rotated.status.success(), "{said} {}", String::from_utf8_lossy(&rotated.stderr));
    assert!(said.contains("re-sealed 2 secret(s)"), "{said}");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let new_text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(new_text.lines().count(), 1, "only the new key is kept");
    assert!(!beside(&db, ".key.tmp").exists(), "the key file was replaced, not left half-written");
    let new = Vault::from_base64(new_text.trim()).unwrap();
    assert_ne!(new.key_id(), old.key_id());
    assert!(said.contains(new.key_id()), "{said}");
    for sealed in stored_secrets(&db) {
        assert!(sealed.starts_with(&format!("loco:v1:{}:", new.key_id())), "{sealed}");
        assert_eq!(new.open(&sealed).unwrap(), secret);
        assert!(old.open(&sealed).is_err(), "the old key opens nothing");
    }
    let old_id = format!("loco:v1:{}:", old.key_id());
    for file in [db.clone(), beside(&db, "-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            let found = bytes.windows(old_id.len()).any(|w| w == old_id.as_bytes());
            assert!(!found, "{} still holds a value sealed with the old key", file.display());
        }
    }
    assert_no_file_holds(dir.path(), &secret, &[&db]);

    // A release whose health fails is rolled back: v1 is started again from its stored spec, and
    // its secret, re-sealed under the new key, reaches the instance.
    let third = Secured::start(&db, &[], Stdio::null()).await;
    let v2 = third.approved(SERVICE, "2.0.0").await;
    let mut failing = vaulted_plan("v2", json!({"HEALTH_FAIL_AFTER": "0"}), json!({}));
    failing["health"]["retries"] = json!(1);
    third.start_rollout(&v2, &failing).await;
    let done = third.admin.ended(&v2).await;
    assert_eq!(done["state"], "rolled_back", "{done}");
    assert_eq!(done["previous"]["spec"]["secret_env"], json!({"API_KEY": "***"}), "{done}");
    let (_, releases) = third.admin.get(&format!("/api/v1/releases?service={SERVICE}&environment=staging")).await;
    let restored = &releases["items"][0];
    assert_eq!(
        (restored["version"].as_str(), &restored["spec"]["secret_env"]),
        (Some("v1"), &json!({"API_KEY": "***"}))
    );
    let child = environment_of(instance_pid(&restored["instances"], "v1"));
    assert_eq!((child.get("LOCO_VERSION").map(String::as_str), child.get("API_KEY")), (Some("v1"), Some(&secret)));
    let endpoint = done["progress"]["endpoint"].as_str().expect("the proxy endpoint");
    let serving = async {
        while third.admin.through(endpoint).await != (200, "v1".to_owned()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, serving).await.expect("the restored v1 serves");
    third.stop();
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new(), "no instance survives the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_value_copied_into_another_plan_is_never_revealed() {
    const SOURCE: &str = "secrets-replay-source";
    const OTHER: &str = "secrets-replay-other";
    let _guards = (ServiceGuard(SOURCE), ServiceGuard(OTHER));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let secret = marker();
    let server = Secured::start(&db, &[], Stdio::null()).await;
    let source = server.approved(SOURCE, "1.0.0").await;
    server.start_rollout(&source, &vaulted_plan("v1", json!({}), json!({"API_KEY": secret}))).await;
    assert_eq!(server.admin.ended(&source).await["state"], "succeeded");
    // What someone who read the database file (but not the key) holds.
    let sealed = stored_secrets(&db).pop().expect("a sealed value");

    // A deployer submits it as the value of another release's secret: refused like "***", so it
    // is never opened for that release.
    let other = server.approved(OTHER, "1.0.0").await;
    let replay = json!({"plan": vaulted_plan("v1", json!({}), json!({"API_KEY": sealed}))});
    let (status, body) = server.bob.post(&format!("/api/v1/deployments/{other}/rollout"), &replay).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_error", &["release.secret_env.API_KEY"]);
    assert_eq!(service_processes(OTHER), Vec::<u32>::new(), "nothing of {OTHER} started");
    server.stop();
}

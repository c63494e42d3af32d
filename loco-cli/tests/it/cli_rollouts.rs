//! The rollout commands of the `loco` binary against a real `loco serve` and on a database
//! file: `rollout start --wait`, `rollout status`, `rollout wait`, `rollouts`, `releases`, the
//! exit code of a rolled-back rollout, and Ctrl-C on a rollout running in the CLI process.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{Run, loco, loco_fed};
use crate::common::LocoProcess;
use crate::rollout_support::{ServiceGuard, all_on, canary, demo_service_json, immediate, plan, service_processes};

const ROLLOUT_FIELDS: [&str; 16] = [
    "deployment_id",
    "service",
    "environment",
    "platform",
    "plan",
    "state",
    "progress",
    "previous",
    "failure",
    "actor",
    "owner",
    "lease",
    "heartbeat_at",
    "started_at",
    "updated_at",
    "finished_at",
];

/// Creates and approves a deployment of `service` through the binary; its id.
async fn approved(target: &[&str], service: &str, version: &str) -> String {
    let created = loco(
        target,
        &[
            "--json",
            "create",
            "--service",
            service,
            "--env",
            "staging",
            "--version",
            version,
            "--requester",
            "alice",
            "--work-ref",
            "W-1",
            "--rollback-plan",
            "restore the previous release",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let approved = loco(target, &["approve", &id, "--actor", "bob"]).await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    id
}

/// Registers the demo service through the binary (`loco services register`).
async fn register_demo(target: &[&str], dir: &Path) {
    let file = write_plan(dir, "demo-service.json", &demo_service_json());
    let run = loco(target, &["services", "register", &file]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A plan whose instance never passes its health check (so the rollout rolls back).
fn unhealthy(version: &str) -> Value {
    let mut p = plan(version, immediate(), json!({"HEALTH_FAIL_AFTER": "0"}));
    p["health"]["retries"] = json!(1);
    p
}

fn write_plan(dir: &Path, name: &str, plan: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, plan.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[track_caller]
fn assert_rolled_back_exit(run: &Run, failure: &str) {
    assert_eq!(run.code, 17, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let error = run.error_json();
    assert_eq!(error["error"]["code"], "rollout_rolled_back");
    assert!(error["error"]["message"].as_str().unwrap().contains(failure), "{error}");
    let rollout = run.json();
    assert_eq!((rollout["state"].as_str(), rollout["failure"]["code"].as_str()), (Some("rolled_back"), Some(failure)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_commands_against_a_server() {
    const SERVICE: &str = "cli-remote";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let server = LocoProcess::start(&dir.path().join("served.db"));
    let target = ["--server", server.url.as_str()];
    register_demo(&target, dir.path()).await;
    let v1 = approved(&target, SERVICE, "1.0.0").await;
    let v1_plan = write_plan(dir.path(), "v1.json", &plan("v1", immediate(), json!({})));

    let run = loco(&target, &["--json", "rollout", "start", &v1, "--plan", &v1_plan, "--actor", "ops", "--wait"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let done = run.json();
    assert_eq!((done["state"].as_str(), done["deployment_id"].as_str()), (Some("succeeded"), Some(v1.as_str())));
    assert_eq!(done["progress"]["traffic"], all_on("v1"));

    let status = loco(&target, &["--json", "rollout", "status", &v1]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let mut expected = ROLLOUT_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys(&status.json()), expected);
    assert_eq!(status.json()["state"], "succeeded");
    let human = loco(&target, &["rollout", "status", &v1]).await;
    assert!(human.stdout.lines().any(|l| l == "state        succeeded"), "{}", human.stdout);
    assert!(human.stdout.lines().any(|l| l == "traffic      v1 100%"), "{}", human.stdout);
    let watch = loco(&target, &["--json", "rollout", "status", &v1, "--watch"]).await;
    assert_eq!(watch.code, 0, "{}", watch.stderr);
    let lines: Vec<Value> = watch.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "an ended rollout is one line: {}", watch.stdout);
    assert_eq!(lines[0]["state"], "succeeded");

    // A release that never turns healthy: started without --wait, then waited for.
    let v2 = approved(&target, SERVICE, "2.0.0").await;
    let v2_plan = write_plan(dir.path(), "v2.json", &unhealthy("v2"));
    let run = loco(&target, &["--json", "rollout", "start", &v2, "--plan", &v2_plan, "--actor", "ops"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["plan"]["release"]["version"], "v2");
    let wait = loco(&target, &["rollout", "wait", &v2]).await;
    assert_eq!(wait.code, 17, "{}", wait.stderr);
    assert!(wait.stdout.lines().any(|l| l == "state        rolled_back"), "{}", wait.stdout);
    assert!(wait.stderr.contains("ended rolled_back: health_check_failed"), "{}", wait.stderr);
    assert!(wait.stderr.trim_end().ends_with("(rollout_rolled_back)"), "{}", wait.stderr);
    assert_rolled_back_exit(&loco(&target, &["--json", "rollout", "wait", &v2]).await, "health_check_failed");

    let releases = loco(&target, &["--json", "releases", "--service", SERVICE, "--env", "staging"]).await;
    assert_eq!(releases.code, 0, "{}", releases.stderr);
    let items = releases.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "the unhealthy release never served: {items}");
    assert_eq!(items[0]["version"], "v1");
    let table = loco(&target, &["releases", "--service", SERVICE, "--env", "staging"]).await;
    assert!(table.stdout.starts_with("VERSION"), "{}", table.stdout);
    let row = table.stdout.lines().nth(1).unwrap();
    assert!(row.starts_with("v1 ") && row.contains(&v1), "{}", table.stdout);
    let missing = loco(&target, &["releases", "--service", SERVICE]).await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("  - environment: is required"), "{}", missing.stderr);
    let all = loco(&target, &["--json", "rollouts"]).await;
    assert_eq!(all.json()["items"].as_array().unwrap().len(), 2);
    let active = loco(&target, &["--json", "rollouts", "--active"]).await;
    assert_eq!(active.json()["items"], json!([]));
    let not_paused = loco(&target, &["rollout", "override", &v1, "--actor", "carol", "--note", "go"]).await;
    assert_eq!(not_paused.code, 16, "{}", not_paused.stderr);

    server.terminate();
    assert_eq!(server.wait(), Some(0));
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_commands_on_a_database_file_run_in_the_foreground() {
    const SERVICE: &str = "cli-local";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let target = ["--db", db.to_str().unwrap()];
    register_demo(&target, dir.path()).await;
    let v1 = approved(&target, SERVICE, "1.0.0").await;

    // The plan from stdin; the rollout runs in the command, which prints its progress.
    let v1_plan = plan("v1", immediate(), json!({})).to_string();
    let run = loco_fed(&target, &["rollout", "start", &v1, "--plan", "-", "--actor", "ops"], &v1_plan).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l.starts_with("succeeded     step 3/3 ")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l == "state        succeeded"), "{}", run.stdout);
    assert!(dir.path().join("cli.db.state/instances").is_dir(), "the default state directory");
    // The command closed its engine, which stopped the instance it ran.
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new());
    let status = loco(&target, &["--json", "rollout", "status", &v1]).await;
    assert_eq!((status.code, status.json()["state"].as_str()), (0, Some("succeeded")));

    let v2 = approved(&target, SERVICE, "2.0.0").await;
    let v2_plan = write_plan(dir.path(), "v2.json", &unhealthy("v2"));
    let run = loco(&target, &["--json", "rollout", "start", &v2, "--plan", &v2_plan, "--actor", "ops"]).await;
    assert_rolled_back_exit(&run, "health_check_failed");
    assert_eq!(run.json()["progress"]["traffic"], all_on("v1"));

    // v1's instance stopped with the command that started it; this command brought v1 back when it
    // opened the file (its release names the new instance), so the rollback kept it serving and
    // recorded no release of its own; the unhealthy v2 never served.
    let releases = loco(&target, &["--json", "releases", "--service", SERVICE, "--environment", "staging"]).await;
    let versions: Vec<String> = releases.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions, ["v1"]);
    let active = loco(&target, &["--json", "rollouts", "--active"]).await;
    assert_eq!((active.code, active.json()["items"].clone()), (0, json!([])));
    // Only the process running a rollout holds its instances and pauses.
    let run = loco(&target, &["rollout", "override", &v2, "--actor", "carol", "--note", "go"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = loco(&target, &["logs", &v2, "ins_x"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run =
        loco(&target, &["rollout", "start", &v2, "--plan", &dir.path().join("none.json").display().to_string()]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = loco_fed(&target, &["rollout", "start", &v2, "--plan", "-", "--actor", "ops"], "{not json").await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("  - plan: is not valid JSON"), "{}", run.stderr);
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_suspends_a_rollout_on_a_database_file_and_the_next_command_recovers_it() {
    const SERVICE: &str = "cli-interrupted";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let target = ["--db", db.to_str().unwrap()];
    register_demo(&target, dir.path()).await;
    let v1 = approved(&target, SERVICE, "1.0.0").await;
    let v1_plan = write_plan(dir.path(), "v1.json", &plan("v1", immediate(), json!({})));
    assert_eq!(loco(&target, &["rollout", "start", &v1, "--plan", &v1_plan, "--actor", "ops"]).await.code, 0);

    let v2 = approved(&target, SERVICE, "2.0.0").await;
    let v2_plan = write_plan(dir.path(), "v2.json", &plan("v2", canary(&[50], 600.0), json!({})));
    let running = tokio::process::Command::new(env!("CARGO_BIN_EXE_loco"))
        .args(target)
        .args(["rollout", "start", &v2, "--plan", &v2_plan, "--actor", "ops"])
        .env_remove("LOCO_STATE_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the file from this process until the canary takes its share.
    let reader = loco_core::Engine::open(&db).await.unwrap();
    let observing = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if let Ok(r) = reader.rollout(&v2).await
                && r.progress.traffic.iter().any(|w| w.version == "v2" && w.percent == 50)
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the canary takes half the traffic");
    assert_eq!(observing.state, loco_core::RolloutState::Running);
    // v1's instance stopped when the command that released it closed its engine; this command
    // brought v1 back as the canary's baseline, then started the canary.
    assert_eq!(service_processes(SERVICE).len(), 2, "v1 and the canary run in the command");

    let pid = running.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let interrupted = running.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert_eq!(interrupted.status.code(), Some(19), "{stderr}");
    assert!(stderr.contains("the next engine on this database recovers it"), "{stderr}");
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new(), "closing the engine stopped its instances");
    assert_eq!(reader.rollout(&v2).await.unwrap().state, loco_core::RolloutState::Running, "suspended, not ended");
    reader.close().await.unwrap();

    // The next command that opens the file with the platform recovers it: rolled back.
    assert_rolled_back_exit(&loco(&target, &["--json", "rollout", "wait", &v2]).await, "engine_restarted");
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_any_retained_release_over_the_server() {
    const SERVICE: &str = "cli-rollback-to";
    let _guard = ServiceGuard(SERVICE);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fixed = format!("{SERVICE}/staging={port}");
    let flags = ["--proxy-port", fixed.as_str()];
    let server = LocoProcess::start_with(&dir.path().join("served.db"), &flags, std::process::Stdio::inherit(), "warn");
    let target = ["--server", server.url.as_str()];
    register_demo(&target, dir.path()).await;
    let mut ids = Vec::new();
    for version in ["v1", "v2", "v3"] {
        let id = approved(&target, SERVICE, &format!("{}.0.0", &version[1..])).await;
        let file = write_plan(dir.path(), &format!("{version}.json"), &plan(version, immediate(), json!({})));
        let run =
            loco(&target, &["--json", "rollout", "start", &id, "--plan", &file, "--actor", "ops", "--wait"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        ids.push(id);
    }
    let back = ["rollback-to", "--service", SERVICE, "--env", "staging", "--actor", "oncall"];

    let missing_note = loco(&target, &[&["--json"], &back[..], &["--version", "v1"]].concat()).await;
    assert_eq!(missing_note.code, 3, "{}", missing_note.stderr);
    let unknown = loco(&target, &[&["--json"], &back[..], &["--version", "v7", "--note", "n"]].concat()).await;
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("newest first: v3, v2, v1)"),
        "the retained versions are listed: {}",
        unknown.stderr
    );

    let run = loco(&target, &[&["--json"], &back[..], &["--version", "v1", "--note", "v2 and v3 leak"]].concat()).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rolled = run.json();
    assert_eq!(
        (rolled["deployment_id"].as_str(), rolled["state"].as_str()),
        (Some(ids[2].as_str()), Some("rolled_back"))
    );
    assert_eq!(rolled["progress"]["traffic"], all_on("v1"));
    assert_eq!(rolled["previous"]["deployment_id"], ids[0].as_str(), "the restore point is v1's release");
    let endpoint = rolled["progress"]["endpoint"].as_str().unwrap();
    assert_eq!(endpoint, format!("127.0.0.1:{port}"), "the proxy listens on the port given");
    let answer = reqwest::get(format!("http://{endpoint}/")).await.unwrap();
    assert_eq!(answer.headers()["x-loco-version"], "v1");
    let shown = loco(&target, &["--json", "show", &ids[2]]).await;
    assert_eq!(shown.json()["status"], "rolled_back");
    server.terminate();
    assert_eq!(server.wait(), Some(0));
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_set_at_runtime_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let server = LocoProcess::start(&db);
    let target = ["--server", server.url.as_str()];
    let set = loco_fed(&target, &["--json", "thresholds", "set", "Production", "-"], r#"{"min_samples": 120}"#).await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["min_samples"], 120);
    let bad = loco_fed(&target, &["--json", "thresholds", "set", "staging", "-"], r#"{"alpha": 7}"#).await;
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("\"field\":\"alpha\""), "{}", bad.stderr);
    server.terminate();
    assert_eq!(server.wait(), Some(0));

    let server = LocoProcess::start(&db);
    let target = ["--server", server.url.as_str()];
    let listed = loco(&target, &["--json", "thresholds", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["production"], "{listed}");
    assert_eq!(listed["production"]["min_samples"], 120, "saved, and loaded by the next server");
    server.terminate();
    assert_eq!(server.wait(), Some(0));
    let on_file = loco(&["--db", db.to_str().unwrap()], &["--json", "thresholds", "list"]).await;
    assert_eq!(on_file.json()["production"]["min_samples"], 120, "also for commands on the file");
}

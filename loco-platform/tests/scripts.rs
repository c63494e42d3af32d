//! Deployment scripts as real child processes: the environment is exactly what Loco gives, a
//! time limit stops the whole process tree (a forked grandchild included), output streams live
//! in order with secrets redacted, and a missing interpreter is a clear error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use loco_platform::scripts::{self, ScriptLog};
use loco_types::plan::{ScriptLanguage, ScriptSpec};

fn shell(name: &str, text: &str) -> ScriptSpec {
    ScriptSpec {
        name: name.into(),
        language: ScriptLanguage::Shell,
        inline: Some(text.into()),
        file: None,
        working_dir: None,
        timeout_seconds: 10.0,
        continue_on_error: false,
        env: BTreeMap::new(),
        secrets: Vec::new(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn lines(log: &ScriptLog) -> Vec<String> {
    let mut rx = log.follow();
    let mut out = Vec::new();
    while let Some(line) = rx.recv().await {
        out.push(line.line);
    }
    out
}

#[tokio::test]
async fn the_environment_is_exactly_path_loco_declared_and_secrets() {
    let log = ScriptLog::new("script:pre_deploy:env");
    let env = map(&[("LOCO_DEPLOYMENT_ID", "dep_1"), ("LOCO_STAGE", "staging"), ("MIGRATE", "yes")]);
    let secrets = map(&[("DB_PASSWORD", "hunter2-very-secret")]);
    let outcome = scripts::run(&shell("env", "env; echo password is $DB_PASSWORD"), &env, &secrets, &log).await;
    assert!(outcome.ok(), "{outcome:?}");
    let output = lines(&log).await;
    let mut names: Vec<&str> = output.iter().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    names.retain(|n| !matches!(*n, "PWD" | "SHLVL" | "_"));
    names.sort_unstable();
    assert_eq!(names, ["DB_PASSWORD", "LOCO_DEPLOYMENT_ID", "LOCO_STAGE", "MIGRATE", "PATH"], "{output:?}");
    assert!(output.iter().all(|l| !l.contains("hunter2")), "the secret is redacted: {output:?}");
    assert!(output.contains(&"password is ***".to_owned()));
    assert!(output.contains(&"DB_PASSWORD=***".to_owned()));
}

#[tokio::test]
async fn a_timeout_stops_the_whole_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild.pid");
    let log = ScriptLog::new("script:pre_deploy:hang");
    // The grandchild ignores SIGTERM and would outlive a kill of the script alone.
    let text = format!("sh -c 'trap \"\" TERM; echo $$ > {}; sleep 60' & echo started; wait", marker.display());
    let mut spec = shell("hang", &text);
    spec.timeout_seconds = 0.5;
    let started = Instant::now();
    let outcome = scripts::run(&spec, &BTreeMap::new(), &BTreeMap::new(), &log).await;
    let took = started.elapsed();
    assert!(outcome.timed_out && !outcome.ok() && outcome.exit_code.is_none(), "{outcome:?}");
    assert!(took < Duration::from_secs(5), "the grandchild did not keep it waiting: {took:?}");
    assert!(outcome.describe().starts_with("timed out after"), "{}", outcome.describe());
    let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "grandchild {pid} still runs");
    assert_eq!(lines(&log).await, ["started"]);
}

#[tokio::test]
async fn output_streams_live_and_in_order() {
    let log = ScriptLog::new("script:post_deploy:count");
    let spec = shell("count", "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; echo oops >&2; exit 3");
    let mut follower = log.follow();
    let runner = {
        let log = log.clone();
        tokio::spawn(async move { scripts::run(&spec, &BTreeMap::new(), &BTreeMap::new(), &log).await })
    };
    let first = tokio::time::timeout(Duration::from_secs(5), follower.recv()).await.unwrap().unwrap();
    assert_eq!(first.line, "line 1");
    assert!(!runner.is_finished(), "the first line arrived while the script still ran");
    let mut rest = Vec::new();
    while let Some(line) = follower.recv().await {
        rest.push((line.line, line.stream));
    }
    let outcome = runner.await.unwrap();
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.describe(), "exited with code 3");
    let texts: Vec<&str> = rest.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(texts, ["line 2", "line 3", "line 4", "line 5", "oops"]);
    assert_eq!(rest[4].1, loco_types::platform::LogStream::Stderr);
    assert_eq!((log.written(), log.tail(2)), (6, vec!["line 5".to_owned(), "oops".to_owned()]));
}

#[tokio::test]
async fn python_and_files_run_in_their_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("migrate.sh"), "echo migrating in $(pwd)\n").unwrap();
    let mut spec = shell("file", "unused");
    spec.inline = None;
    spec.file = Some("migrate.sh".into());
    spec.working_dir = Some(dir.path().to_string_lossy().into_owned());
    let log = ScriptLog::new("script:pre_deploy:file");
    assert!(scripts::run(&spec, &BTreeMap::new(), &BTreeMap::new(), &log).await.ok());
    let real = dir.path().canonicalize().unwrap();
    assert_eq!(lines(&log).await, [format!("migrating in {}", real.display())]);

    let mut python =
        shell("py", "import os, sys; print(sorted(k for k in os.environ if k.startswith('LOCO_'))); sys.exit(0)");
    python.language = ScriptLanguage::Python;
    let log = ScriptLog::new("script:pre_deploy:py");
    let outcome = scripts::run(&python, &map(&[("LOCO_APP_NAME", "shop")]), &BTreeMap::new(), &log).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(lines(&log).await, ["['LOCO_APP_NAME']"]);
}

#[tokio::test]
async fn a_missing_interpreter_or_file_is_a_clear_failure() {
    let mut go = shell("go", "package main\nfunc main() {}\n");
    go.language = ScriptLanguage::Go;
    let log = ScriptLog::new("script:pre_deploy:go");
    let outcome = scripts::run(&go, &BTreeMap::new(), &BTreeMap::new(), &log).await;
    let has_go = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("go").is_file());
    if has_go {
        assert!(outcome.ok(), "{outcome:?}");
    } else {
        assert_eq!(outcome.error.as_deref(), Some("a Go script needs `go` on PATH, and there is none"));
        assert!(outcome.describe().starts_with("could not start"));
    }

    let mut missing = shell("missing", "unused");
    missing.inline = None;
    missing.file = Some("/nonexistent/loco/migrate.sh".into());
    let log = ScriptLog::new("script:pre_deploy:missing");
    let outcome = scripts::run(&missing, &BTreeMap::new(), &BTreeMap::new(), &log).await;
    assert_eq!(outcome.error.as_deref(), Some("there is no file /nonexistent/loco/migrate.sh"), "{outcome:?}");
    assert!(!outcome.ok() && lines(&log).await.is_empty());
}

#[tokio::test]
async fn a_script_whose_caller_stops_waiting_takes_its_process_group_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild.pid");
    let text = format!("sh -c 'echo $$ > {}; sleep 60' & wait", marker.display());
    let spec = shell("dropped", &text);
    let log = ScriptLog::new("script:post_deploy:dropped");
    let none = BTreeMap::new();
    let run = scripts::run(&spec, &none, &none, &log);
    assert!(tokio::time::timeout(Duration::from_millis(500), run).await.is_err(), "it was still running");
    let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "grandchild {pid} outlived the dropped script");
}

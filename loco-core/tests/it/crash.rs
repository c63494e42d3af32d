//! A writer process killed with SIGKILL loses no acknowledged write and leaves a consistent,
//! verifiable database. The test re-runs this test binary as the child writer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loco_core::{Engine, Status};

use crate::common::{request, temp_db};

const CHILD_ENV: &str = "LOCO_CRASH_CHILD_DB";

/// The child: walks deployments through their lifecycle with 8 concurrent tasks forever,
/// printing `<id> <status>` after each acknowledged write. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let engine = Engine::open(path).await.unwrap();
    let ack = |id: &str, status: Status| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{id} {status}").unwrap();
        out.flush().unwrap();
    };
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let engine = engine.clone();
            tokio::spawn(async move {
                // Runs until the parent kills the process.
                loop {
                    let d = engine.create(request(&format!("svc-{t}"), "staging"), None).await.unwrap();
                    ack(&d.id, d.status);
                    let d = engine.approve(&d.id, "bob", None).await.unwrap();
                    ack(&d.id, d.status);
                    let d = engine.start(&d.id, "ops", None).await.unwrap();
                    ack(&d.id, d.status);
                    let d = engine.succeed(&d.id, "ops", None).await.unwrap();
                    ack(&d.id, d.status);
                }
            })
        })
        .collect();
    futures_util::future::join_all(tasks).await;
}

fn rank(status: Status) -> usize {
    [Status::PendingApproval, Status::Approved, Status::Started, Status::Succeeded]
        .iter()
        .position(|s| *s == status)
        .expect("lifecycle status on the happy path")
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_write() {
    let (_dir, path) = temp_db();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_child_writer", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked: HashMap<String, Status> = HashMap::new();
    let started = Instant::now();
    // Let it write for a while, then kill it mid-stream.
    while acked.len() < 150 && started.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some((id, status)) = line.split_once(' ')
            && let Ok(status) = status.parse()
        {
            acked.insert(id.to_owned(), status);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acks printed before the kill are still in the pipe.
    for line in lines.map_while(Result::ok) {
        if let Some((id, status)) = line.split_once(' ')
            && let Ok(status) = status.parse()
        {
            acked.insert(id.to_owned(), status);
        }
    }
    assert!(acked.len() >= 150, "the child acknowledged only {} deployments", acked.len());

    let engine = Engine::open(&path).await.unwrap();
    for (id, acked_status) in &acked {
        let d = engine.get(id).await.unwrap_or_else(|e| panic!("acknowledged {id} is gone: {e}"));
        assert!(rank(d.status) >= rank(*acked_status), "{id}: acknowledged {acked_status}, found {}", d.status);
        let events = engine.events(id).await.unwrap();
        assert_eq!(events.last().unwrap().to_status, Some(d.status), "{id}: state matches its last event");
        assert_eq!(events.len(), rank(d.status) + 1, "{id}: one event per step");
    }
    let report = engine.verify_audit().await.unwrap();
    assert!(report.valid, "{report:?}");
    // The reopened database takes writes again.
    let d = engine.create(request("after-crash", "dev"), None).await.unwrap();
    assert_eq!(engine.events(&d.id).await.unwrap().len(), 1);
}

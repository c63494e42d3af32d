//! Following a Railway deployment's logs: its build lines (`buildLogs`) and its deploy lines
//! (`deploymentLogs`), read now and then polled with `startDate` at a bounded interval until the
//! receiver is dropped.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::mpsc;

use super::api::{self, Api, Log};
use super::ops::{self, Op};
use crate::{LogLine, LogStream, PlatformResult};

/// Lines asked for per call.
const PAGE: u32 = 500;
/// The longest wait between two polls after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the follower reads and how often.
pub(super) struct Follow {
    pub(super) api: Api,
    pub(super) token: String,
    pub(super) deployment: String,
    pub(super) instance_id: String,
    pub(super) poll: Duration,
}

/// Where one of the two streams is: the newest timestamp sent, and the lines sent with it (a
/// `startDate` includes that instant again).
#[derive(Default)]
struct Cursor {
    start: Option<String>,
    seen: HashSet<(String, String)>,
}

impl Cursor {
    /// The lines of `batch` not sent yet; moves the cursor past them.
    fn fresh(&mut self, batch: Vec<Log>) -> Vec<Log> {
        let mut out = Vec::new();
        for log in batch {
            let key = (log.timestamp.clone(), log.message.clone());
            if self.seen.contains(&key) {
                continue;
            }
            if self.start.as_deref() != Some(log.timestamp.as_str()) {
                self.seen.clear();
                self.start = Some(log.timestamp.clone());
            }
            self.seen.insert(key);
            out.push(log);
        }
        out
    }
}

/// Reads both streams once now (so a refused token fails the call), then follows in a task that
/// ends when the receiver is dropped.
pub(super) async fn follow(follow: Follow) -> PlatformResult<mpsc::Receiver<LogLine>> {
    let mut cursors = [Cursor::default(), Cursor::default()];
    let mut first = Vec::new();
    for (op, cursor) in [ops::BUILD_LOGS, ops::DEPLOYMENT_LOGS].into_iter().zip(cursors.iter_mut()) {
        let batch = follow
            .api
            .logs(op, &follow.deployment, None, PAGE)
            .await
            .map_err(|e| api::platform_error(&e, &follow.token))?;
        first.extend(cursor.fresh(batch).into_iter().map(|l| (op, l)));
    }
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(run(follow, cursors, first, tx));
    Ok(rx)
}

async fn run(follow: Follow, mut cursors: [Cursor; 2], first: Vec<(Op, Log)>, tx: mpsc::Sender<LogLine>) {
    for (op, log) in first {
        if tx.send(line(&follow.instance_id, op, &log)).await.is_err() {
            return;
        }
    }
    let mut wait = follow.poll;
    loop {
        tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = follow.poll;
        for (op, cursor) in [ops::BUILD_LOGS, ops::DEPLOYMENT_LOGS].into_iter().zip(cursors.iter_mut()) {
            match follow.api.logs(op, &follow.deployment, cursor.start.as_deref(), PAGE).await {
                Ok(batch) => {
                    for log in cursor.fresh(batch) {
                        if tx.send(line(&follow.instance_id, op, &log)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %api::platform_error(&e, &follow.token), "reading Railway logs failed; trying again");
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

fn line(instance_id: &str, op: Op, log: &Log) -> LogLine {
    let error = matches!(log.severity.as_deref(), Some("error" | "err" | "fatal" | "critical"));
    let stream = if error && op.name == ops::DEPLOYMENT_LOGS.name { LogStream::Stderr } else { LogStream::Stdout };
    LogLine { instance_id: instance_id.to_owned(), stream, line: log.message.trim_end_matches('\n').to_owned() }
}

//! Following a Render service's logs: `GET /v1/logs` pages, oldest first, from a start time on,
//! then polling for new lines at a bounded interval until the receiver is dropped.

use std::collections::HashSet;
use std::time::Duration;

use loco_types::model::Timestamp;
use tokio::sync::mpsc;

use super::api::{Api, LogEntry, LogsPage};
use crate::{LogLine, LogStream, PlatformResult};

/// Lines asked for per page.
const PAGE: u32 = 100;
/// The longest wait between two polls after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the follower reads and how often.
pub(super) struct Follow {
    pub(super) api: Api,
    pub(super) owner: String,
    pub(super) instance_id: String,
    /// Where to begin (RFC 3339); Render's default window when `None`.
    pub(super) start: Option<String>,
    pub(super) poll: Duration,
}

/// Reads the first page now (so a refused token or a missing owner fails the call), then
/// follows in a task that ends when the receiver is dropped.
pub(super) async fn follow(follow: Follow) -> PlatformResult<mpsc::Receiver<LogLine>> {
    let first = follow.api.logs(&follow.owner, follow.start.as_deref(), &now(), PAGE).await?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(run(follow, first, tx));
    Ok(rx)
}

fn now() -> String {
    Timestamp::now().to_string()
}

async fn run(follow: Follow, mut page: LogsPage, tx: mpsc::Sender<LogLine>) {
    let began = now();
    let mut start = follow.start.clone();
    // Ids sent from the last page, in case the provider's next start time includes its last line.
    let mut recent: HashSet<String> = HashSet::new();
    loop {
        let mut sent = HashSet::new();
        for entry in &page.logs {
            if !entry.id.is_empty() && recent.contains(&entry.id) {
                continue;
            }
            if tx.send(line(&follow.instance_id, entry)).await.is_err() {
                return;
            }
            sent.insert(entry.id.clone());
        }
        if !sent.is_empty() {
            recent = sent;
        }
        // Without a next start time, go on from the last line or, failing that, from when the
        // follow began: never read the default window twice.
        start = Some(
            page.next_start_time
                .clone()
                .or_else(|| page.logs.last().map(|l| l.timestamp.clone()))
                .or(start)
                .unwrap_or_else(|| began.clone()),
        );
        if !page.has_more && !pause(&tx, follow.poll).await {
            return;
        }
        let mut backoff = follow.poll;
        page = loop {
            match follow.api.logs(&follow.owner, start.as_deref(), &now(), PAGE).await {
                Ok(page) => break page,
                Err(e) => {
                    tracing::debug!(error = %e, "reading Render logs failed; trying again");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if !pause(&tx, backoff).await {
                        return;
                    }
                }
            }
        };
    }
}

/// Waits `how_long`; false when the receiver was dropped meanwhile.
async fn pause(tx: &mpsc::Sender<LogLine>, how_long: Duration) -> bool {
    tokio::select! {
        () = tx.closed() => false,
        () = tokio::time::sleep(how_long) => true,
    }
}

fn line(instance_id: &str, entry: &LogEntry) -> LogLine {
    let stream = match entry.label("level") {
        Some("error" | "fatal" | "critical") => LogStream::Stderr,
        _ => LogStream::Stdout,
    };
    LogLine { instance_id: instance_id.to_owned(), stream, line: entry.message.trim_end_matches('\n').to_owned() }
}

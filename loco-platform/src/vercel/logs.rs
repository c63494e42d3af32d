//! Following a Vercel deployment's build events: `GET /v3/deployments/{id}/events` from the
//! start, then polled for newer ones (`since` the last seen) until the receiver is dropped.

use std::time::Duration;

use tokio::sync::mpsc;

use super::api::{Api, Event};
use crate::{LogLine, LogStream, PlatformResult};

/// The longest wait between two polls after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads the events so far now (so a refused token fails the call), then follows in a task.
pub(super) async fn follow(
    api: Api,
    deployment: String,
    instance_id: String,
    poll: Duration,
) -> PlatformResult<mpsc::Receiver<LogLine>> {
    let first = api.events(&deployment, None).await?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut events = first;
        let mut since = None;
        let mut wait = poll;
        loop {
            for event in &events {
                since = Some(since.unwrap_or(i64::MIN).max(event.created));
                if let Some(line) = line(&instance_id, event)
                    && tx.send(line).await.is_err()
                {
                    return;
                }
            }
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match api.events(&deployment, since).await {
                Ok(next) => {
                    events = next;
                    wait = poll;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reading Vercel events failed; trying again");
                    events = Vec::new();
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
    Ok(rx)
}

fn line(instance_id: &str, event: &Event) -> Option<LogLine> {
    let text = event.payload.as_ref().and_then(|p| p.text.clone()).or_else(|| event.text.clone())?;
    let stream = if matches!(event.kind.as_str(), "stderr" | "fatal") { LogStream::Stderr } else { LogStream::Stdout };
    Some(LogLine { instance_id: instance_id.to_owned(), stream, line: text.trim_end_matches('\n').to_owned() })
}

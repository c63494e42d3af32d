//! Following a rollout as it moves ([`RolloutWatch`]) and an instance's output as it is written
//! ([`LogFollower`]): the streams every surface (the CLI's `--watch` and `logs`, SSE, Python and
//! Node iterators) reads instead of re-implementing them.

use std::sync::Arc;
use std::time::Duration;

use loco_platform::LogLine;
use loco_store::Store;
use loco_types::Result;
use loco_types::model::Event;
use loco_types::rollout::Rollout;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

/// How often a watched rollout is re-read besides this engine's own events: another process
/// writing the same database (a `loco rollout start` next to a `loco --db … rollout status`)
/// sends none.
const REREAD_EVERY: Duration = Duration::from_millis(500);

/// The states of one rollout, from now until it ends; see
/// [`Engine::watch_rollout`](crate::Engine::watch_rollout).
pub struct RolloutWatch {
    store: Arc<dyn Store>,
    id: String,
    events: Option<broadcast::Receiver<Event>>,
    last: Option<Rollout>,
    ended: bool,
}

impl RolloutWatch {
    pub(crate) async fn start(store: Arc<dyn Store>, id: &str) -> Result<Self> {
        // Subscribed before the first read, so no change in between is missed.
        let events = Some(store.subscribe());
        store.rollout(id).await?;
        Ok(Self { store, id: id.to_owned(), events, last: None, ended: false })
    }

    /// The rollout the first time, then each time it changed; `None` after the state that ended
    /// it (not active) was returned.
    pub async fn next(&mut self) -> Option<Result<Rollout>> {
        if self.ended {
            return None;
        }
        loop {
            let rollout = match self.store.rollout(&self.id).await {
                Ok(rollout) => rollout,
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            };
            if self.last.as_ref() != Some(&rollout) {
                self.ended = !rollout.state.is_active();
                self.last = Some(rollout.clone());
                return Some(Ok(rollout.redacted()));
            }
            self.wait_for_change().await;
        }
    }

    async fn wait_for_change(&mut self) {
        let Some(events) = self.events.as_mut() else {
            tokio::time::sleep(REREAD_EVERY).await;
            return;
        };
        tokio::select! {
            received = events.recv() => match received {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                // The engine closed: what another writer does is still seen by re-reading.
                Err(RecvError::Closed) => self.events = None,
            },
            () = tokio::time::sleep(REREAD_EVERY) => {}
        }
    }
}

/// The output of one instance; see [`Engine::follow_logs`](crate::Engine::follow_logs).
#[derive(Debug)]
pub struct LogFollower {
    lines: mpsc::Receiver<LogLine>,
}

impl LogFollower {
    pub(crate) fn new(lines: mpsc::Receiver<LogLine>) -> Self {
        Self { lines }
    }

    /// The next line; `None` once the instance stopped and every line was delivered, or after
    /// [`close`](Self::close).
    pub async fn next(&mut self) -> Option<LogLine> {
        self.lines.recv().await
    }

    /// Stops following: lines not yet delivered are dropped and `next` returns `None`.
    pub fn close(&mut self) {
        self.lines.close();
        while self.lines.try_recv().is_ok() {}
    }
}

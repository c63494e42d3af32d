//! [`EventSubscription`]: every committed event in commit order, catching up from the store when
//! a subscriber falls behind the in-memory broadcast, so it never misses one.

use std::collections::VecDeque;
use std::sync::Arc;

use loco_store::Store;
use loco_types::Result;
use loco_types::model::Event;
use tokio::sync::broadcast::{self, error::RecvError};

/// Events fetched per query while a subscription catches up from the database.
const CATCH_UP_BATCH: u32 = 512;

/// A stream of committed events; see [`Engine::subscribe`](crate::Engine::subscribe).
pub struct EventSubscription {
    store: Arc<dyn Store>,
    live: broadcast::Receiver<Event>,
    pending: VecDeque<Event>,
    last_delivered: Option<i64>,
    replay_from: Option<i64>,
    missed_before_first: u64,
}

impl EventSubscription {
    pub(crate) fn new(store: Arc<dyn Store>, after: Option<i64>) -> Self {
        // Subscribe before any replay query so nothing committed in between is lost.
        let live = store.subscribe();
        Self {
            store,
            live,
            pending: VecDeque::new(),
            last_delivered: after,
            replay_from: after.map(|seq| seq + 1),
            missed_before_first: 0,
        }
    }

    /// The next committed event; `None` once the engine is closed and every event was delivered.
    /// An `Err` means catching up from the database failed; calling again retries.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last_delivered = Some(event.seq);
                return Some(Ok(event));
            }
            if let Some(from) = self.replay_from {
                match self.store.events_after(from - 1, CATCH_UP_BATCH).await {
                    Ok(batch) => {
                        // A short batch reached the head: no need to ask again.
                        let more = batch.len() == CATCH_UP_BATCH as usize;
                        self.replay_from = batch.last().filter(|_| more).map(|e| e.seq + 1);
                        self.pending.extend(batch);
                    }
                    // The engine closed while catching up: the stream ends like a live one does.
                    Err(_) if self.live.is_closed() => {
                        self.replay_from = None;
                        return None;
                    }
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            match self.live.recv().await {
                Ok(event) => match self.last_delivered {
                    Some(last) if event.seq <= last => {}
                    Some(last) if event.seq > last + 1 => self.replay_from = Some(last + 1),
                    None if self.missed_before_first > 0 => {
                        // Seqs have no gaps and arrive in order, so the missed ones are the
                        // `missed` seqs just before this one.
                        self.replay_from = Some(event.seq - self.missed_before_first as i64);
                        self.missed_before_first = 0;
                    }
                    _ => {
                        self.last_delivered = Some(event.seq);
                        return Some(Ok(event));
                    }
                },
                Err(RecvError::Lagged(missed)) => match self.last_delivered {
                    Some(last) => self.replay_from = Some(last + 1),
                    None => self.missed_before_first += missed,
                },
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

//! The event listener: one dedicated `LISTEN loco_events` connection per store, whose task — woken
//! by a notification from any process, by this store's own commits, or every half second — reads
//! the events committed after the last one it published and broadcasts them in `seq` order, each
//! exactly once; when its connection drops it reconnects and catches up from there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::Config;

use loco_types::Result as LocoResult;
use loco_types::model::Event;

use super::error::Result;
use super::pool::{Conn, Tls, connect_conn};
use super::reads::events_after;

/// How often the listener looks for new events when nothing woke it (a lost notification, a
/// commit whose `NOTIFY` has not arrived yet).
const POLL: Duration = Duration::from_millis(500);

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT: Duration = Duration::from_millis(500);

/// Events read per query while catching up.
const BATCH: u32 = 1000;

/// The listener task of one store.
pub(crate) struct Listener {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The listening connection and the signal of its notifications (closed when the connection ends).
struct Session {
    conn: Conn,
    notified: mpsc::UnboundedReceiver<()>,
}

impl Session {
    async fn open(config: &Config, tls: &Tls) -> LocoResult<Self> {
        let (signal, notified) = mpsc::unbounded_channel();
        let mut conn = connect_conn(config, tls, Some(signal)).await?;
        conn.batch("LISTEN loco_events").await?;
        Ok(Self { conn, notified })
    }
}

/// What the listener task works with.
struct Feed {
    config: Config,
    tls: Tls,
    last_seen: i64,
    events: broadcast::Sender<Event>,
    committed: Arc<Notify>,
}

impl Listener {
    /// Connects and listens, then publishes every event after `last_seen` to `events` until
    /// stopped. `committed` is signalled by this store's own commits.
    pub async fn start(
        config: Config,
        tls: Tls,
        last_seen: i64,
        events: broadcast::Sender<Event>,
        committed: Arc<Notify>,
    ) -> LocoResult<Self> {
        let session = Session::open(&config, &tls).await?;
        let (stop, stopped) = oneshot::channel();
        let feed = Feed { config, tls, last_seen, events, committed };
        let task = tokio::spawn(run(feed, session, stopped));
        Ok(Self { stop: Mutex::new(Some(stop)), task: Mutex::new(Some(task)) })
    }

    /// Publishes what is committed so far, then stops (its subscriptions end once the store's own
    /// sender is dropped too).
    pub async fn stop(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut stop| stop.take()) {
            let _ = stop.send(());
        }
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The listener task; it also ends when the store is dropped (the stop sender with it).
async fn run(mut feed: Feed, session: Session, mut stopped: oneshot::Receiver<()>) {
    let mut session = Some(session);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(live) = session.as_mut() else {
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(RECONNECT) => {}
            }
            session = match Session::open(&feed.config, &feed.tls).await {
                Ok(live) => Some(live),
                Err(e) => {
                    tracing::warn!(error = %e, "event listener cannot reconnect to PostgreSQL; retrying");
                    None
                }
            };
            continue;
        };
        if let Err(e) = publish_new(&mut live.conn, &mut feed).await {
            tracing::warn!(error = %loco_types::Error::from(e), "event listener lost PostgreSQL; reconnecting");
            session = None;
            continue;
        }
        let woke = tokio::select! {
            _ = &mut stopped => Wake::Stop,
            signal = live.notified.recv() => if signal.is_some() { Wake::Notified } else { Wake::Lost },
            () = feed.committed.notified() => Wake::Look,
            _ = tick.tick() => Wake::Look,
        };
        match woke {
            Wake::Stop => {
                let _ = publish_new(&mut live.conn, &mut feed).await;
                return;
            }
            // One catch-up covers every notification already queued.
            Wake::Notified => while live.notified.try_recv().is_ok() {},
            Wake::Lost => session = None,
            Wake::Look => {}
        }
    }
}

/// Why the listener task woke up.
enum Wake {
    /// The store is closing or was dropped.
    Stop,
    /// Some process committed events.
    Notified,
    /// The listening connection ended.
    Lost,
    /// This store committed, or it is time to look anyway.
    Look,
}

/// Broadcasts every event committed after the last one published, in `seq` order. Appends are
/// serialized on the chain head and become visible in order, so the events read always continue
/// the sequence; should one ever not, nothing after the gap is published until it is filled.
async fn publish_new(conn: &mut Conn, feed: &mut Feed) -> Result<()> {
    loop {
        let batch = events_after(conn, feed.last_seen, BATCH).await?;
        let complete = batch.len() < BATCH as usize;
        for event in batch {
            if event.seq != feed.last_seen + 1 {
                tracing::warn!(after = feed.last_seen, next = event.seq, "gap in the event sequence; waiting");
                return Ok(());
            }
            feed.last_seen = event.seq;
            // No subscribers is not an error.
            let _ = feed.events.send(event);
        }
        if complete {
            return Ok(());
        }
    }
}

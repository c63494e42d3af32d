//! Writes: each runs in one transaction that first locks the head of the audit chain (so appends
//! from every process are totally ordered and gap-free), reads the facts and writes what the rule
//! decided, moves the head, queues a `NOTIFY loco_events` (delivered at commit), and commits — run
//! again, from the start, when PostgreSQL reports a serialization failure or a deadlock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use loco_types::lifecycle::Status;
use loco_types::model::Event;
use loco_types::rules::{ChainedEvent, EventDraft};
use loco_types::{Error, Result as LocoResult};

use super::error::Result;
use super::pool::{Pool, Pooled};

/// How many times a write is run in all when the server keeps rolling it back for a conflict.
const MAX_ATTEMPTS: u32 = 5;

/// What a write sees: its connection, inside the transaction, and the head of the audit chain.
pub(crate) struct WriteCtx {
    /// The connection, inside the write's transaction.
    pub conn: Pooled,
    head_seq: i64,
    head_hash: String,
    appended: bool,
    /// The request the write runs for (`crate::context`).
    request_id: Option<String>,
}

impl WriteCtx {
    /// Appends one event at the head of the audit chain.
    pub async fn append_event(&mut self, mut draft: EventDraft) -> Result<Event> {
        if draft.request_id.is_none() {
            draft.request_id.clone_from(&self.request_id);
        }
        let ChainedEvent { event, data_text } = draft.chain(self.head_seq + 1, &self.head_hash);
        self.conn
            .execute(
                "INSERT INTO deployment_events \
                 (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data, request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &event.seq,
                    &event.id,
                    &event.deployment_id,
                    &event.kind.as_str(),
                    &event.actor,
                    &event.note,
                    &event.from_status.map(Status::as_str),
                    &event.to_status.map(Status::as_str),
                    &event.at.to_string(),
                    &event.hash,
                    &data_text,
                    &event.request_id,
                ],
            )
            .await?;
        self.head_seq = event.seq;
        self.head_hash.clone_from(&event.hash);
        self.appended = true;
        Ok(event)
    }
}

/// The future of one run of a write.
pub(crate) type WriteFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Runs writes on the pool's connections and tells the listener about each commit that appended.
pub(crate) struct Writer {
    pool: Arc<Pool>,
    committed: Arc<Notify>,
}

impl Writer {
    pub fn new(pool: Arc<Pool>, committed: Arc<Notify>) -> Self {
        Self { pool, committed }
    }

    /// Runs `work` in one transaction and commits what it wrote, or nothing. `work` may run more
    /// than once (each time from a fresh transaction), so it must only read and write through its
    /// context.
    pub async fn run<T, F>(&self, work: F) -> LocoResult<T>
    where
        T: Send,
        F: for<'a> Fn(&'a mut WriteCtx) -> WriteFuture<'a, T> + Send + Sync,
    {
        let mut attempt = 1;
        loop {
            let conn = self.pool.get().await?;
            match run_once(conn, &work).await {
                Ok((value, appended)) => {
                    if appended {
                        self.committed.notify_one();
                    }
                    return Ok(value);
                }
                Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %Error::from(e), "write conflicted; running it again");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// One transaction: the write's value, and whether it appended events.
async fn run_once<T, F>(conn: Pooled, work: &F) -> Result<(T, bool)>
where
    F: for<'a> Fn(&'a mut WriteCtx) -> WriteFuture<'a, T>,
{
    // Writes run on the caller's task, so its request scope is in view here.
    let request_id = crate::context::current_request_id();
    let mut ctx = WriteCtx { conn, head_seq: 0, head_hash: String::new(), appended: false, request_id };
    // Read committed: once the head's lock is granted, every later statement sees every write
    // committed before it, and no two writers hold it at once.
    ctx.conn.begin("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
    let result = async {
        let head = ctx.conn.query_one("SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE", &[]).await?;
        (ctx.head_seq, ctx.head_hash) = (head.try_get(0)?, head.try_get(1)?);
        let value = work(&mut ctx).await?;
        if ctx.appended {
            let seq = ctx.head_seq;
            ctx.conn.execute("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1", &[&seq, &ctx.head_hash]).await?;
            ctx.conn.query("SELECT pg_notify('loco_events', $1)", &[&seq.to_string()]).await?;
        }
        Ok(value)
    }
    .await;
    match result {
        Ok(value) => {
            ctx.conn.commit().await?;
            Ok((value, ctx.appended))
        }
        Err(e) => {
            ctx.conn.rollback().await;
            Err(e)
        }
    }
}

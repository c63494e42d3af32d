//! The single writer thread and its group commit: it drains every queued write (up to a bound)
//! into one transaction, runs each inside its own SAVEPOINT so one failing write does not undo its
//! neighbours, commits once, publishes the committed events, and only then answers each caller.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, oneshot};

use loco_types::audit::GENESIS_HASH;
use loco_types::lifecycle::Status;
use loco_types::model::Event;
use loco_types::rules::{ChainedEvent, EventDraft};
use loco_types::{Error, Result as LocoResult};

use crate::error::Result;

/// What a write sees: the open batch transaction and the head of the audit chain.
pub(crate) struct WriteCtx<'c> {
    /// The writer connection, inside the batch transaction and the write's savepoint.
    pub conn: &'c Connection,
    head_seq: i64,
    head_hash: String,
    events: Vec<Event>,
    /// The request the running write was submitted for (`crate::context`).
    request_id: Option<String>,
}

impl WriteCtx<'_> {
    /// Appends one event at the head of the audit chain.
    pub fn append_event(&mut self, mut draft: EventDraft) -> Result<Event> {
        if draft.request_id.is_none() {
            draft.request_id.clone_from(&self.request_id);
        }
        let ChainedEvent { event, data_text } = draft.chain(self.head_seq + 1, &self.head_hash);
        self.conn
            .prepare_cached(
                "INSERT INTO deployment_events \
                 (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data, request_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                event.seq,
                event.id,
                event.deployment_id,
                event.kind.as_str(),
                event.actor,
                event.note,
                event.from_status.map(Status::as_str),
                event.to_status.map(Status::as_str),
                event.at.to_string(),
                event.hash,
                data_text,
                event.request_id,
            ])?;
        self.head_seq = event.seq;
        self.head_hash.clone_from(&event.hash);
        self.events.push(event.clone());
        Ok(event)
    }
}

/// A queued write, type-erased so one channel carries every kind of write.
trait Job: Send {
    /// Runs inside the batch transaction; returns whether it succeeded.
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// Answers the caller once the batch's fate (`commit`) is known.
    fn complete(self: Box<Self>, commit: &LocoResult<()>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    request_id: Option<String>,
    /// Room in the queue, given back when the job is dropped (answered, or discarded).
    _permit: tokio::sync::OwnedSemaphorePermit,
    result: Option<LocoResult<T>>,
    reply: oneshot::Sender<LocoResult<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        ctx.request_id = self.request_id.take();
        let result = match self.work.take() {
            Some(work) => catch_unwind(AssertUnwindSafe(|| work(ctx))).map_or_else(
                |_| Err(Error::storage("a write panicked; it was rolled back")),
                |r| r.map_err(Error::from),
            ),
            None => Err(Error::storage("a write was run twice")),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn complete(self: Box<Self>, commit: &LocoResult<()>) {
        let TypedJob { result, reply, _permit: permit, .. } = *self;
        let result = match (result, commit) {
            (Some(Ok(_)) | None, Err(e)) => Err(e.clone()),
            (Some(result), _) => result,
            (None, Ok(())) => Err(Error::storage("a write was never run")),
        };
        // The room is given back before the answer, so a caller that got its answer finds it free.
        drop(permit);
        // The caller may have gone away (its future dropped); the write stands either way.
        let _ = reply.send(result);
    }
}

enum Msg {
    Job(Box<dyn Job>),
    Close(oneshot::Sender<()>),
}

/// The handle callers use to queue writes.
pub(crate) struct Writer {
    queue: mpsc::Sender<Msg>,
    /// One per write that may be queued or running; a job holds its permit until answered.
    room: Arc<tokio::sync::Semaphore>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

fn closed() -> Error {
    Error::storage("the store is closed")
}

impl Writer {
    /// Starts the writer thread that owns `conn`.
    pub fn start(
        conn: Connection,
        max_batch: usize,
        max_queued: usize,
        events: broadcast::Sender<Event>,
    ) -> LocoResult<Self> {
        let (queue, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("loco-sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx, max_batch.max(1), &events))
            .map_err(|e| Error::storage(format!("cannot start the writer thread: {e}")))?;
        let room = Arc::new(tokio::sync::Semaphore::new(max_queued.max(1)));
        Ok(Self { queue, room, thread: std::sync::Mutex::new(Some(thread)) })
    }

    /// Queues `work` and waits until its batch has committed (or failed).
    pub async fn submit<T, F>(&self, work: F) -> LocoResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        let permit = self.room.clone().acquire_owned().await.map_err(|_| closed())?;
        let (reply, answer) = oneshot::channel();
        let request_id = crate::context::current_request_id();
        let job = TypedJob { work: Some(work), request_id, result: None, reply, _permit: permit };
        self.queue.send(Msg::Job(Box::new(job))).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Lets queued writes finish, then stops the thread and closes the connection.
    pub async fn close(&self) -> LocoResult<()> {
        // Writes still waiting for room are refused; queued ones are committed.
        self.room.close();
        let (done, finished) = oneshot::channel();
        if self.queue.send(Msg::Close(done)).is_ok() {
            let _ = finished.await;
        }
        let thread = self.thread.lock().map_err(|_| closed())?.take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| Error::storage(format!("writer thread did not stop: {e}")))?
                .map_err(|_| Error::storage("writer thread panicked"))?;
        }
        Ok(())
    }
}

fn writer_loop(conn: &Connection, rx: &mpsc::Receiver<Msg>, max_batch: usize, events: &broadcast::Sender<Event>) {
    let mut closing = None;
    while closing.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::new();
        match first {
            Msg::Job(job) => batch.push(job),
            Msg::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < max_batch {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(conn, batch, events);
        }
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn chain_head(conn: &Connection) -> Result<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM deployment_events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS_HASH.to_owned())))
}

fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn commit_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>, events: &broadcast::Sender<Event>) {
    // The chain head is read inside the transaction, so another process writing the same file
    // between batches cannot fork the chain.
    let begun = exec(conn, "BEGIN IMMEDIATE").and_then(|()| chain_head(conn)).map_err(Error::from);
    let (head_seq, head_hash) = match begun {
        Ok(head) => head,
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            let failed = Err(e);
            for job in batch {
                job.complete(&failed);
            }
            return;
        }
    };
    let mut ctx = WriteCtx { conn, head_seq, head_hash, events: Vec::new(), request_id: None };
    // A failing savepoint statement leaves the transaction in an unknown state: the whole batch
    // is then rolled back and every caller told so.
    let mut fatal = None;
    for job in &mut batch {
        let saved = (ctx.head_seq, ctx.head_hash.clone(), ctx.events.len());
        if let Err(e) = exec(conn, "SAVEPOINT loco_write") {
            fatal = Some(e);
            break;
        }
        let ok = job.run(&mut ctx);
        let ended = if ok {
            exec(conn, "RELEASE loco_write")
        } else {
            exec(conn, "ROLLBACK TO loco_write").and_then(|()| exec(conn, "RELEASE loco_write"))
        };
        if let Err(e) = ended {
            fatal = Some(e);
            break;
        }
        if !ok {
            (ctx.head_seq, ctx.head_hash) = (saved.0, saved.1);
            ctx.events.truncate(saved.2);
        }
    }
    let commit = match fatal {
        Some(e) => Err(Error::from(e)),
        None => exec(conn, "COMMIT").map_err(Error::from),
    };
    if commit.is_err() {
        let _ = exec(conn, "ROLLBACK");
    } else {
        for event in ctx.events {
            // No subscribers is not an error.
            let _ = events.send(event);
        }
    }
    for job in batch {
        job.complete(&commit);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_writers_wait_instead_of_growing() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let (events, _) = broadcast::channel(16);
        let writer = Arc::new(Writer::start(conn, 512, 2, events).unwrap());
        // The first write holds the writer thread until told to go. The second is queued only once
        // the first is running: queued together, the writer could run the second alone first and
        // give its room back before the first arrived.
        let (go, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let (running, first_runs) = oneshot::channel::<()>();
        let first = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .submit(move |_| {
                        let _ = running.send(());
                        wait.lock().unwrap().recv().unwrap();
                        Ok(1)
                    })
                    .await
            }
        });
        tokio::time::timeout(Duration::from_secs(10), first_runs)
            .await
            .expect("the first write reaches the writer thread")
            .unwrap();
        let second = tokio::spawn({
            let writer = writer.clone();
            async move { writer.submit(|_| Ok(2)).await }
        });
        let began = std::time::Instant::now();
        while writer.room.available_permits() > 0 {
            assert!(began.elapsed() < Duration::from_secs(10), "two writes fill a queue of two");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let third = writer.submit(|_| Ok(3));
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut third).await.is_err(),
            "the third write waits for room"
        );
        go.send(()).unwrap();
        assert_eq!(third.await.unwrap(), 3);
        assert_eq!((first.await.unwrap().unwrap(), second.await.unwrap().unwrap()), (1, 2));
        assert_eq!(writer.room.available_permits(), 2, "every answered write gave its room back");
        writer.close().await.unwrap();
        assert!(writer.submit(|_| Ok(4)).await.is_err(), "a closed writer refuses writes");
    }
}

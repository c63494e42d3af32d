//! The single writer and its group commit: whoever commits (a caller blocked in `block_on` that
//! found the writer idle, or the writer thread) drains every queued write (up to a bound) into one
//! transaction, runs each inside its own SAVEPOINT so one failing write does not undo its
//! neighbours (a write alone in its batch needs none: it is rolled back whole), commits once,
//! publishes the committed events, and only then answers each caller.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
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

/// What callers and the writer thread share: the queue, and the connection whoever commits uses.
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread: the queue is its to commit, or the store is closing.
    turn: Condvar,
    /// The connection and the sender of committed events; `None` once the writer stopped (which
    /// closes the connection and ends subscriptions, the store holding the other sender).
    committer: Mutex<Option<Committer>>,
    max_batch: usize,
}

struct Committer {
    conn: Connection,
    events: broadcast::Sender<Event>,
}

/// Invariant: a write is queued only while someone is committing (and will take it).
#[derive(Default)]
struct State {
    queue: VecDeque<Box<dyn Job>>,
    committing: Committing,
    closing: bool,
    /// The writer thread ended: writes are refused.
    stopped: bool,
    /// How many writes the last commit held. More than one means callers are concurrent: a
    /// caller leading a commit of its own write alone would then cost the group a flush.
    last_batch: usize,
}

/// Who is committing.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Committing {
    #[default]
    Nobody,
    /// A caller, one batch on its own thread.
    Caller,
    /// The writer thread, until the queue is empty.
    Thread,
}

/// Who commits a write just queued.
enum Turn {
    /// Someone is committing already and will take it.
    Queued,
    /// The caller, on its own thread: the writer was idle (see [`may_lead`]).
    Lead,
    /// The writer thread, woken for it.
    Thread,
}

/// The handle callers use to queue writes.
///
/// A caller blocked in `block_on` that finds the writer idle, after a commit of one write, commits
/// its write (and those its own future queued meanwhile) on its own thread, so a lone caller pays
/// no hand-off to another thread and back. Writes that arrive while a commit is running queue, and
/// the writer thread commits them in batches (group commit). Once commits hold several writes,
/// callers are concurrent and every write goes to the writer thread, which gathers them, until a
/// commit holds one again. Tasks on runtime workers, current-thread runtimes and event loops
/// ([`crate::context::without_blocking`]) always hand off (see [`may_lead`]).
pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// One per write that may be queued or running; a job holds its permit until answered.
    room: Arc<tokio::sync::Semaphore>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn closed() -> Error {
    Error::storage("the store is closed")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Writes run inside `catch_unwind`; a poisoned lock only means a panic elsewhere, after which
    // the state is still consistent (every change to it is a single assignment).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the caller may commit a write on its own thread: it is blocked in `block_on` of a
/// multi-thread runtime (or polls outside any runtime's task). Not a task on a worker: the
/// worker's time would go to the fsync instead of its other tasks (measured: `loco serve` lost
/// 8 % of its requests/s, with or without `block_in_place`). Not a current-thread runtime, whose
/// one thread runs every task, and not an event loop ([`crate::context::without_blocking`]).
fn may_lead() -> bool {
    !crate::context::must_not_block()
        && tokio::task::try_id().is_none()
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// A caller's turn to commit, given to the writer thread if the caller goes away before taking it.
struct Lead<'w> {
    shared: &'w Shared,
    taken: bool,
}

impl Lead<'_> {
    fn take(mut self) {
        self.shared.lead();
        self.taken = true;
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.taken {
            lock(&self.shared.state).committing = Committing::Thread;
            self.shared.turn.notify_one();
        }
    }
}

impl Writer {
    /// Starts the writer thread; `conn` is used by whoever commits.
    pub fn start(
        conn: Connection,
        max_batch: usize,
        max_queued: usize,
        events: broadcast::Sender<Event>,
    ) -> LocoResult<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            turn: Condvar::new(),
            committer: Mutex::new(Some(Committer { conn, events })),
            max_batch: max_batch.max(1),
        });
        let thread = std::thread::Builder::new()
            .name("loco-sqlite-writer".into())
            .spawn({
                let shared = shared.clone();
                move || shared.thread_loop()
            })
            .map_err(|e| Error::storage(format!("cannot start the writer thread: {e}")))?;
        let room = Arc::new(tokio::sync::Semaphore::new(max_queued.max(1)));
        Ok(Self { shared, room, thread: Mutex::new(Some(thread)) })
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
        let turn = {
            let mut state = lock(&self.shared.state);
            if state.stopped {
                return Err(closed());
            }
            state.queue.push_back(Box::new(job));
            if state.committing != Committing::Nobody {
                Turn::Queued
            } else if state.last_batch <= 1 && may_lead() {
                state.committing = Committing::Caller;
                Turn::Lead
            } else {
                state.committing = Committing::Thread;
                Turn::Thread
            }
        };
        match turn {
            Turn::Queued => {}
            Turn::Lead => {
                let lead = Lead { shared: &self.shared, taken: false };
                // Writes the same task makes concurrently (`join!`, `FuturesUnordered`) are polled
                // before the commit and join its batch, instead of each committing alone.
                tokio::task::yield_now().await;
                // The queue was empty, so this write is the first of the batch and answered by it.
                lead.take();
            }
            Turn::Thread => self.shared.turn.notify_one(),
        }
        answer.await.map_err(|_| closed())?
    }

    /// Lets queued writes finish, then stops the thread and closes the connection.
    pub async fn close(&self) -> LocoResult<()> {
        // Writes still waiting for room are refused; queued ones are committed.
        self.room.close();
        self.shared.begin_closing();
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| Error::storage(format!("writer thread did not stop: {e}")))?
                .map_err(|_| Error::storage("writer thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    /// A store dropped without `close` still commits what is queued, then closes its connection.
    fn drop(&mut self) {
        self.shared.begin_closing();
    }
}

impl Shared {
    /// Tells the writer thread to stop once nothing is queued or being committed.
    fn begin_closing(&self) {
        lock(&self.state).closing = true;
        self.turn.notify_one();
    }

    /// Takes the next batch off the queue.
    fn next_batch(&self, state: &mut State) -> Vec<Box<dyn Job>> {
        let n = state.queue.len().min(self.max_batch);
        if n > 0 {
            state.last_batch = n;
        }
        state.queue.drain(..n).collect()
    }

    /// Commits one batch on the caller's thread, then leaves what queued meanwhile to the thread.
    fn lead(&self) {
        let batch = self.next_batch(&mut lock(&self.state));
        self.commit(batch);
        let mut state = lock(&self.state);
        if state.queue.is_empty() {
            state.committing = Committing::Nobody;
            if !state.closing {
                return;
            }
        } else {
            state.committing = Committing::Thread;
        }
        drop(state);
        self.turn.notify_one();
    }

    fn thread_loop(&self) {
        let mut state = lock(&self.state);
        loop {
            if state.committing == Committing::Thread {
                let batch = self.next_batch(&mut state);
                if batch.is_empty() {
                    state.committing = Committing::Nobody;
                } else {
                    drop(state);
                    self.commit(batch);
                    state = lock(&self.state);
                }
                continue;
            }
            if state.closing && state.committing == Committing::Nobody {
                state.stopped = true;
                break;
            }
            state = self.turn.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        // Closes the connection and drops this sender of events.
        lock(&self.committer).take();
    }

    fn commit(&self, batch: Vec<Box<dyn Job>>) {
        let committer = lock(&self.committer);
        let Some(Committer { conn, events }) = committer.as_ref() else {
            let failed = Err(closed());
            for job in batch {
                job.complete(&failed);
            }
            return;
        };
        // Each write runs under `catch_unwind` already; this guards the committer itself, so
        // neither a leading caller nor the thread unwinds with the writer marked as committing.
        // The batch's callers are then told the store is closed (their answers are dropped).
        if catch_unwind(AssertUnwindSafe(|| commit_batch(conn, batch, events))).is_err() {
            let _ = exec(conn, "ROLLBACK");
        }
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
    // A write alone in its batch needs no savepoint: if it fails, the transaction holds nothing
    // else and is rolled back whole. (Two fewer statements, and no copies of the pages it changes
    // into the statement journal, for every write of a lone caller.)
    if let [job] = batch.as_mut_slice() {
        let commit = if job.run(&mut ctx) {
            exec(conn, "COMMIT").map_err(Error::from)
        } else {
            // The write's own error is its answer; the rollback's result does not change it.
            let _ = exec(conn, "ROLLBACK");
            ctx.events.clear();
            Ok(())
        };
        finish(conn, batch, ctx.events, &commit, events);
        return;
    }
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
    finish(conn, batch, ctx.events, &commit, events);
}

/// Ends a batch whose `COMMIT` gave `commit`: rolls back if it failed, else publishes the
/// committed events; then answers every caller.
fn finish(
    conn: &Connection,
    batch: Vec<Box<dyn Job>>,
    committed: Vec<Event>,
    commit: &LocoResult<()>,
    events: &broadcast::Sender<Event>,
) {
    if commit.is_err() {
        let _ = exec(conn, "ROLLBACK");
    } else {
        for event in committed {
            // No subscribers is not an error.
            let _ = events.send(event);
        }
    }
    for job in batch {
        job.complete(commit);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
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
        let wait = Mutex::new(wait);
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
        wait_until("two writes fill a queue of two", || writer.room.available_permits() == 0).await;
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

    /// The name of the thread a write ran on.
    /// Polls `condition` until it holds; fails the test, naming `what`, after 10 s.
    async fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let began = std::time::Instant::now();
        while !condition() {
            assert!(began.elapsed() < Duration::from_secs(10), "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("unnamed").to_owned()
    }

    fn start(max_batch: usize) -> Writer {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let (events, _) = broadcast::channel(16);
        Writer::start(conn, max_batch, 4096, events).unwrap()
    }

    /// Polls the future it wraps as an event loop's thread would: inside `without_blocking`.
    struct OnEventLoop<F>(std::pin::Pin<Box<F>>);

    impl<F: Future> Future for OnEventLoop<F> {
        type Output = F::Output;
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
            crate::context::without_blocking(|| self.0.as_mut().poll(cx))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_in_block_on_commits_on_its_own_thread_tasks_and_event_loops_hand_off() {
        let writer = Arc::new(start(512));
        // In `block_on` (this test's own thread), the writer idle: the caller's own thread.
        assert_eq!(writer.submit(|_| Ok(thread_name())).await.unwrap(), thread_name());
        // A task on a worker hands its write to the writer thread.
        let in_task = tokio::spawn({
            let writer = writer.clone();
            async move { writer.submit(|_| Ok(thread_name())).await.unwrap() }
        });
        assert_eq!(in_task.await.unwrap(), "loco-sqlite-writer");
        let handed = OnEventLoop(Box::pin(writer.submit(|_| Ok(thread_name())))).await.unwrap();
        assert_eq!(handed, "loco-sqlite-writer", "an event loop's thread hands its write to the writer thread");
        writer.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_one_future_makes_together_share_the_commit_its_caller_leads() {
        let writer = start(512);
        let here = thread_name();
        let write = |i: u32| writer.submit(move |_| Ok((i, thread_name())));
        let all = tokio::join!(write(0), write(1), write(2), write(3), write(4), write(5), write(6), write(7));
        let all = [all.0, all.1, all.2, all.3, all.4, all.5, all.6, all.7].map(Result::unwrap);
        assert_eq!(all.clone().map(|(i, _)| i), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(all.iter().all(|(_, t)| *t == here), "one batch, led by the caller: {all:?}");
        assert_eq!(lock(&writer.shared.state).last_batch, 8, "the eight writes were one commit");
        // The last commit held several writes: the next caller hands off, so concurrent callers
        // are gathered by the writer thread.
        assert_eq!(writer.submit(|_| Ok(thread_name())).await.unwrap(), "loco-sqlite-writer");
        writer.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_alone_in_its_batch_that_fails_half_way_leaves_nothing() {
        let writer = start(512);
        writer.submit(|ctx| Ok(ctx.conn.execute_batch("CREATE TABLE t (x INTEGER)")?)).await.unwrap();
        let failed = writer
            .submit(|ctx| {
                ctx.conn.execute("INSERT INTO t VALUES (1)", [])?;
                Err::<(), _>(Error::invalid("x", "refused after its first statement").into())
            })
            .await
            .unwrap_err();
        assert_eq!(failed.code(), "validation_error", "the write's own error is its answer");
        let count =
            |ctx: &mut WriteCtx<'_>| Ok(ctx.conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?);
        assert_eq!(writer.submit(count).await.unwrap(), 0, "its row was rolled back");
        writer.submit(|ctx| Ok(ctx.conn.execute("INSERT INTO t VALUES (2)", [])?)).await.unwrap();
        assert_eq!(writer.submit(count).await.unwrap(), 1, "the writer goes on committing");
        writer.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_current_thread_runtime_hands_its_writes_to_the_writer_thread() {
        let writer = start(512);
        assert_eq!(writer.submit(|_| Ok(thread_name())).await.unwrap(), "loco-sqlite-writer");
        writer.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_each_run_once() {
        let writer = Arc::new(start(16));
        let log = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let (writer, log) = (writer.clone(), log.clone());
                tokio::spawn(async move {
                    writer
                        .submit(move |ctx| {
                            ctx.conn.execute_batch("SELECT 1")?;
                            log.lock().unwrap().push(i);
                            Ok(i)
                        })
                        .await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), i);
        }
        let mut seen = log.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..400).collect::<Vec<_>>(), "every write ran exactly once");
        writer.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_waits_for_a_caller_that_is_committing_then_refuses_writes() {
        let writer = Arc::new(start(512));
        let (go, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let (running, first_runs) = oneshot::channel::<()>();
        // A thread blocked in `block_on` leads the commit of its own write.
        let first = std::thread::spawn({
            let (writer, runtime) = (writer.clone(), tokio::runtime::Handle::current());
            move || {
                runtime.block_on(writer.submit(move |_| {
                    let _ = running.send(());
                    wait.lock().unwrap().recv().unwrap();
                    Ok(thread_name())
                }))
            }
        });
        tokio::time::timeout(Duration::from_secs(10), first_runs).await.unwrap().unwrap();
        let second = tokio::spawn({
            let writer = writer.clone();
            async move { writer.submit(|_| Ok(thread_name())).await }
        });
        // Close only once the second write is queued: a write still waiting for room is refused.
        wait_until("the second write is queued", || !lock(&writer.shared.state).queue.is_empty()).await;
        let closing = tokio::spawn({
            let writer = writer.clone();
            async move { writer.close().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!closing.is_finished(), "close waits for the commit in progress");
        go.send(()).unwrap();
        let led = tokio::task::spawn_blocking(move || first.join().unwrap()).await.unwrap().unwrap();
        assert_ne!(led, "loco-sqlite-writer", "the caller in block_on committed its own write");
        assert_eq!(second.await.unwrap().unwrap(), "loco-sqlite-writer", "the write queued meanwhile is the thread's");
        tokio::time::timeout(Duration::from_secs(10), closing).await.unwrap().unwrap().unwrap();
        assert!(writer.submit(|_| Ok(1)).await.is_err(), "a closed writer refuses writes");
        assert!(lock(&writer.shared.committer).is_none(), "the connection was closed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leading_caller_that_goes_away_before_committing_leaves_its_turn_to_the_thread() {
        let writer = start(512);
        // The caller's future is dropped after its first poll (queued, its turn to lead taken,
        // yielding before the commit): the write it queued is still committed, by the thread.
        let (ran, ran_on) = oneshot::channel();
        let mut write = Box::pin(writer.submit(move |_| {
            let _ = ran.send(thread_name());
            Ok(())
        }));
        let first_poll = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;
        assert!(first_poll.is_pending(), "the leader yields before it commits");
        drop(write);
        let on = tokio::time::timeout(Duration::from_secs(10), ran_on).await.unwrap().unwrap();
        assert_eq!(on, "loco-sqlite-writer");
        assert_eq!(writer.submit(|_| Ok(2)).await.unwrap(), 2, "the writer is idle again");
        writer.close().await.unwrap();
    }
}

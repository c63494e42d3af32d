//! `Engine`, the JavaScript class over `loco_core::Engine`: one Promise-returning method per core
//! operation. Each reads its arguments, awaits the core off the JavaScript thread and converts
//! the result; none holds a lifecycle rule.

use loco_core::{Action, ActionInput, Status};
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::audit::AuditReport;
use crate::error::{self, Failure};
use crate::model::{self, Deployment, DeploymentPage, Event};
use crate::promise::settle;
use crate::subscription::Subscription;

/// The deployment engine over one SQLite database. Open it with `Engine.open(path)` or
/// `Engine.openInMemory()`; every method returns a Promise and runs off the JavaScript thread.
#[napi]
pub struct Engine {
    inner: loco_core::Engine,
}

#[napi]
impl Engine {
    /// Opens (creating if needed) a SQLite database file with fully durable writes.
    #[napi(ts_args_type = "path: string")]
    pub fn open<'env>(env: &'env Env, path: Unknown) -> napi::Result<PromiseRaw<'env, Engine>> {
        let mut args = Args::new();
        let path = args.required(path, "path");
        let path = args.finish(path);
        settle(env, async move { Ok(Engine { inner: loco_core::Engine::open(path?).await? }) })
    }

    /// Opens a private in-memory database, gone when the engine is closed or collected.
    #[napi]
    pub fn open_in_memory(env: &Env) -> napi::Result<PromiseRaw<'_, Engine>> {
        settle(env, async move { Ok(Engine { inner: loco_core::Engine::open_in_memory().await? }) })
    }

    /// Creates a deployment in `pending_approval`. With `idempotencyKey`, repeating the same
    /// request returns the original deployment; the same key with another request fails with
    /// `idempotency_conflict`.
    #[napi(ts_args_type = "request: NewDeployment, idempotencyKey?: string | null")]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        request: Unknown,
        idempotency_key: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        let mut args = Args::new();
        let new = model::new_deployment(&mut args, request);
        let key = args.optional_text(idempotency_key, "idempotencyKey");
        let input = args.finish((new, key));
        let engine = self.inner.clone();
        settle(env, async move {
            let (new, key) = input?;
            Ok(engine.create(new, key.as_deref()).await?.into())
        })
    }

    /// `pending_approval → approved`. The actor must not be the requester.
    #[napi(ts_args_type = "id: string, actor: string, note?: string | null")]
    pub fn approve<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Approve, id, actor, note)
    }

    /// `pending_approval → rejected` (terminal). Needs a note; the actor must not be the requester.
    #[napi(ts_args_type = "id: string, actor: string, note: string")]
    pub fn reject<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Reject, id, actor, note)
    }

    /// `approved → started`.
    #[napi(ts_args_type = "id: string, actor: string, note?: string | null")]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Start, id, actor, note)
    }

    /// `started → succeeded`.
    #[napi(ts_args_type = "id: string, actor: string, note?: string | null")]
    pub fn succeed<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Succeed, id, actor, note)
    }

    /// `started → failed`. Needs a note.
    #[napi(ts_args_type = "id: string, actor: string, note: string")]
    pub fn fail<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Fail, id, actor, note)
    }

    /// `started | succeeded | failed → rolled_back` (terminal). Needs a note.
    #[napi(ts_args_type = "id: string, actor: string, note: string")]
    pub fn rollback<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        self.apply(env, Action::Rollback, id, actor, note)
    }

    /// The current state of one deployment.
    #[napi(ts_args_type = "id: string")]
    pub fn get<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Deployment>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.get(&id?).await?.into()) })
    }

    /// Deployments matching the query's filters, newest first, one page at a time.
    #[napi(ts_args_type = "query?: ListQuery | null")]
    pub fn list<'env>(&self, env: &'env Env, query: Unknown) -> napi::Result<PromiseRaw<'env, DeploymentPage>> {
        let mut args = Args::new();
        let query = model::list_query(&mut args, query);
        let query = args.finish(query);
        let engine = self.inner.clone();
        settle(env, async move {
            let (mut query, status) = query?;
            query.status = status.map(|s| Status::parse_field(&s, "status")).transpose()?;
            Ok(engine.list(&query).await?.into())
        })
    }

    /// Every event of one deployment, oldest first.
    #[napi(ts_args_type = "id: string")]
    pub fn events<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Vec<Event>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.events(&id?).await?.into_iter().map(Event::from).collect()) })
    }

    /// Walks the whole audit chain and checks each deployment's state against its history.
    #[napi]
    pub fn verify_audit<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, AuditReport>> {
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.verify_audit().await?.into()) })
    }

    /// The engine's deployment metrics in Prometheus text format.
    #[napi]
    pub fn metrics_text<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.metrics().render()) })
    }

    /// Every event committed from now on, in commit order, as an async iterator
    /// (`for await (const event of engine.subscribe())`). It ends after `close()`.
    #[napi]
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(self.inner.subscribe())
    }

    /// Every event with a `seq` greater than `seq` (replayed from the database), then every
    /// event committed later; for resuming a stream.
    #[napi(ts_args_type = "seq: number")]
    pub fn subscribe_after(&self, env: Env, seq: Unknown) -> napi::Result<Subscription> {
        let mut args = Args::new();
        let seq = args.integer(seq, "seq");
        match args.finish(seq) {
            Ok(seq) => Ok(Subscription::new(self.inner.subscribe_after(seq))),
            Err(failure) => Err(error::to_js(env, &failure)),
        }
    }

    /// Finishes queued writes and closes the database; later calls fail with `storage_error`
    /// and subscriptions end once they have delivered every committed event.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.close().await?) })
    }
}

impl Engine {
    fn apply<'env>(
        &self,
        env: &'env Env,
        action: Action,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Deployment>> {
        let mut args = Args::new();
        let id = args.required(id, "id");
        let input = ActionInput { actor: args.text(actor, "actor"), note: args.optional_text(note, "note") };
        let checked = args.finish((id, input));
        let engine = self.inner.clone();
        settle(env, async move {
            let (id, input) = checked?;
            Ok(engine.apply(&id, action, input).await?.into())
        })
    }
}

fn read_id(id: Unknown) -> Result<String, Failure> {
    let mut args = Args::new();
    let id = args.required(id, "id");
    args.finish(id)
}

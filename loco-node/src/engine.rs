//! `Engine`, the JavaScript class over `loco_core::Engine`: opening (with the local platform, the
//! platforms, probes and metric sources written in JavaScript, and analysis thresholds), the
//! lifecycle, history, audit and subscriptions, one Promise-returning method per core operation
//! (the rollout methods are in `rollout`). Each reads its arguments, awaits the core off the
//! JavaScript thread and converts the result; none holds a lifecycle rule.

use std::sync::Arc;
use std::time::Duration;

use loco_core::analysis::{MetricSource, Thresholds};
use loco_core::platform::extensions::HealthProbe;
use loco_core::{Action, ActionInput, Error as CoreError, FieldError, Platform};
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::error::{self, Failure};
use crate::host_platform;
use crate::host_platform::metric_source::HostMetricSource;
use crate::host_platform::probe::HostProbe;
use crate::model;
use crate::promise::{settle, settle_record};
use crate::subscription::Subscription;

/// The deployment engine over one SQLite database. Open it with `Engine.open(path, options?)` or
/// `Engine.openInMemory(options?)`; every method returns a Promise and runs off the JavaScript
/// thread.
#[napi]
pub struct Engine {
    pub(crate) inner: loco_core::Engine,
}

/// The properties of the options of `Engine.open` (`OpenOptions` in `dts-api.d.ts`).
const OPEN_OPTIONS_FIELDS: [&str; 7] =
    ["localStateDir", "platforms", "probes", "metricSources", "thresholds", "releaseRetention", "leaseSeconds"];

#[napi]
impl Engine {
    /// Opens (creating if needed) a SQLite database file with fully durable writes. With
    /// `localStateDir`, the local platform (`local`) is registered, and with `platforms`, each
    /// JavaScript object as a platform, so rollouts can run (`probes` and `metricSources` add the
    /// health probes and metric sources plans name as `{ type: 'host', name }`); rollouts
    /// interrupted by an earlier engine are recovered on them before the Promise resolves.
    /// `releaseRetention` and `leaseSeconds` tune the release history and the rollout lease.
    #[napi(ts_args_type = "path: string, options?: OpenOptions | null")]
    pub fn open<'env>(env: &'env Env, path: Unknown, options: Unknown) -> napi::Result<PromiseRaw<'env, Engine>> {
        let mut args = Args::new();
        let (options, problems) = open_options(&mut args, *env, options);
        let input = (args.required(path, "path"), options);
        let input = host_platform::with_problems(args.finish(input), problems);
        settle(env, async move {
            let (path, options) = input?;
            open_engine(Some(path), options).await
        })
    }

    /// Opens a private in-memory database, gone when the engine is closed or collected; the
    /// options are those of `open`.
    #[napi(ts_args_type = "options?: OpenOptions | null")]
    pub fn open_in_memory<'env>(env: &'env Env, options: Unknown) -> napi::Result<PromiseRaw<'env, Engine>> {
        let mut args = Args::new();
        let (options, problems) = open_options(&mut args, *env, options);
        let options = host_platform::with_problems(args.finish(options), problems);
        settle(env, async move { open_engine(None, options?).await })
    }

    /// Registers a JavaScript object as a platform plans may name (replacing one of the same
    /// name); see the `Platform` interface. An object that is not a platform (a missing method,
    /// capabilities the core refuses) throws a `TypeError` with code `validation_error` naming
    /// each problem (`setTraffic`, `capabilities.traffic`).
    #[napi(ts_args_type = "platform: Platform")]
    pub fn register_platform(&self, env: Env, platform: Unknown) -> napi::Result<()> {
        let platform = host_platform::from_object(env, platform, "platform").map_err(|d| refused(env, d))?;
        self.inner.register_platform(platform);
        Ok(())
    }

    /// Registers a function as the health probe `name`, which plans name as `{ type: 'host',
    /// name }` (replacing one of the same name); see the `HealthProbe` type. A name that is empty
    /// or a probe that is not a function throws a `TypeError` with code `validation_error`.
    #[napi(ts_args_type = "name: string, probe: HealthProbe")]
    pub fn register_probe(&self, env: Env, name: Unknown, probe: Unknown) -> napi::Result<()> {
        let mut args = Args::new();
        let name = args.text(name, "name");
        let name = args.finish(name).map_err(|failure| error::to_js(env, &failure))?;
        let probe = HostProbe::new(env, name, probe, "probe").map_err(|d| refused(env, d))?;
        self.inner.register_probe(Arc::new(probe));
        Ok(())
    }

    /// Registers an object with a `stats` method as the metric source of its `name`, which
    /// canary analysis names as `{ type: 'host', name }` (replacing one of the same name); see
    /// the `MetricSource` interface. An object without them throws a `TypeError` with code
    /// `validation_error` naming each problem (`name`, `stats`).
    #[napi(ts_args_type = "source: MetricSource")]
    pub fn register_metric_source(&self, env: Env, source: Unknown) -> napi::Result<()> {
        let source = HostMetricSource::from_object(env, source, "source").map_err(|d| refused(env, d))?;
        self.inner.register_metric_source(Arc::new(source));
        Ok(())
    }

    /// Creates a deployment in `pending_approval`. With `idempotencyKey`, repeating the same
    /// request returns the original deployment; the same key with another request fails with
    /// `idempotency_conflict`.
    #[napi(
        ts_args_type = "request: NewDeployment, idempotencyKey?: string | null",
        ts_return_type = "Promise<Deployment>"
    )]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        request: Unknown,
        idempotency_key: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let new = model::new_deployment(&mut args, request);
        let key = args.optional_text(idempotency_key, "idempotencyKey");
        let input = args.finish((new, key));
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (new, key) = input?;
            Ok(engine.create(new, key.as_deref()).await?)
        })
    }

    /// `pending_approval → approved`. The actor must not be the requester. Under an approval
    /// gate needing more reviewers than have approved, the approval is recorded as an
    /// `approval_granted` event and the deployment stays `pending_approval`; the approval that
    /// completes the count is the `approved` transition.
    #[napi(ts_args_type = "id: string, actor: string, note?: string | null", ts_return_type = "Promise<Deployment>")]
    pub fn approve<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply(env, Action::Approve, id, actor, note)
    }

    /// `pending_approval → rejected` (terminal). Needs a note; the actor must not be the requester.
    #[napi(ts_args_type = "id: string, actor: string, note: string", ts_return_type = "Promise<Deployment>")]
    pub fn reject<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply(env, Action::Reject, id, actor, note)
    }

    /// `approved → started`. While a freeze window is in force for the deployment's environment
    /// the start rejects with `policy_violation` (its `rule`, `policy`, `environment` and `until`
    /// set), unless `overrideReason` says why it must go ahead: then a `policy_override` event
    /// records the reason and the window just before `started`. Under an approval gate, a
    /// deployment still `pending_approval` rejects with `approval_required` (its `approvals` and
    /// `required` set), and one started inside the gate's wait after approval with
    /// `policy_violation` (rule `wait_timer`, `until` when the wait ends), which an override
    /// reason overrides the same way.
    #[napi(
        ts_args_type = "id: string, actor: string, note?: string | null, overrideReason?: string | null",
        ts_return_type = "Promise<Deployment>"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
        override_reason: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply_with(env, Action::Start, id, actor, note, Some(override_reason))
    }

    /// `started → succeeded`.
    #[napi(ts_args_type = "id: string, actor: string, note?: string | null", ts_return_type = "Promise<Deployment>")]
    pub fn succeed<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply(env, Action::Succeed, id, actor, note)
    }

    /// `started → failed`. Needs a note.
    #[napi(ts_args_type = "id: string, actor: string, note: string", ts_return_type = "Promise<Deployment>")]
    pub fn fail<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply(env, Action::Fail, id, actor, note)
    }

    /// `started | succeeded | failed → rolled_back` (terminal). Needs a note.
    #[napi(ts_args_type = "id: string, actor: string, note: string", ts_return_type = "Promise<Deployment>")]
    pub fn rollback<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply(env, Action::Rollback, id, actor, note)
    }

    /// The current state of one deployment.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Deployment>")]
    pub fn get<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.get(&id?).await?) })
    }

    /// Deployments matching the query's filters, newest first, one page at a time.
    #[napi(ts_args_type = "query?: ListQuery | null", ts_return_type = "Promise<DeploymentPage>")]
    pub fn list<'env>(&self, env: &'env Env, query: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let query = model::list_query(&mut args, query);
        let query = args.finish(query);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.list(&query??).await?) })
    }

    /// Every event of one deployment, oldest first.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Array<Event>>")]
    pub fn events<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.events(&id?).await?) })
    }

    /// Walks the whole audit chain and checks each deployment's state against its history.
    #[napi(ts_return_type = "Promise<AuditReport>")]
    pub fn verify_audit<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.verify_audit().await?) })
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
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.apply_with(env, action, id, actor, note, None)
    }

    /// `apply` with a start's override reason (`None` for the other actions).
    fn apply_with<'env>(
        &self,
        env: &'env Env,
        action: Action,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
        override_reason: Option<Unknown>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let id = args.required(id, "id");
        let input = ActionInput {
            note: args.optional_text(note, "note"),
            override_reason: override_reason.and_then(|reason| args.optional_text(reason, "overrideReason")),
            ..ActionInput::new(args.text(actor, "actor"))
        };
        let checked = args.finish((id, input));
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, input) = checked?;
            Ok(engine.apply(&id, action, input).await?)
        })
    }
}

/// The `TypeError` (code `validation_error`) for a host object that is refused.
fn refused(env: Env, details: Vec<FieldError>) -> napi::Error {
    error::to_js(env, &Failure::Argument(CoreError::Validation { details }))
}

/// `Engine.open`'s options as read: the local platform's state directory, the host platforms,
/// probes and metric sources, per environment a thresholds document, the release retention and
/// the rollout lease.
#[derive(Default)]
struct OpenOptions {
    local_state_dir: Option<String>,
    platforms: Vec<Arc<dyn Platform>>,
    probes: Vec<Arc<dyn HealthProbe>>,
    metric_sources: Vec<Arc<dyn MetricSource>>,
    thresholds: Vec<(String, String)>,
    release_retention: Option<u32>,
    lease: Option<Duration>,
}

/// The options, and what is wrong with the host objects among them.
fn open_options(args: &mut Args, env: Env, value: Unknown) -> (OpenOptions, Vec<FieldError>) {
    let mut options = OpenOptions::default();
    let mut problems = Vec::new();
    let Some(object) = args.object(value, "options", &OPEN_OPTIONS_FIELDS) else { return (options, problems) };
    if let Some(dir) = args.property(&object, "localStateDir") {
        options.local_state_dir = args.optional_text(dir, "localStateDir");
    }
    if let Some(platforms) = args.property(&object, "platforms") {
        match host_platform::from_list(env, platforms, "platforms") {
            Ok(platforms) => options.platforms = platforms,
            Err(found) => problems.extend(found),
        }
    }
    if let Some(probes) = args.property(&object, "probes") {
        match host_platform::probe::from_entries(env, args.entries(probes, "probes"), "probes") {
            Ok(probes) => options.probes = probes,
            Err(found) => problems.extend(found),
        }
    }
    if let Some(sources) = args.property(&object, "metricSources") {
        match host_platform::metric_sources(env, sources, "metricSources") {
            Ok(sources) => options.metric_sources = sources,
            Err(found) => problems.extend(found),
        }
    }
    if let Some(by_environment) = args.property(&object, "thresholds") {
        for (environment, thresholds) in args.entries(by_environment, "thresholds") {
            let json = args.document(env, thresholds, &format!("thresholds.{environment}"));
            options.thresholds.push((environment, json));
        }
    }
    if let Some(releases) = args.property(&object, "releaseRetention") {
        options.release_retention = args.optional_u32(releases, "releaseRetention");
    }
    if let Some(seconds) = args.property(&object, "leaseSeconds") {
        options.lease = args.optional_seconds(seconds, "leaseSeconds");
    }
    (options, problems)
}

/// Opens the engine with the core's builder: the local platform and the host platforms, probes
/// and metric sources, per-environment thresholds (every environment's document is checked, so one error names every
/// bad field), the release retention and the lease, then the core recovers interrupted rollouts.
async fn open_engine(path: Option<String>, options: OpenOptions) -> Result<Engine, Failure> {
    let mut builder = loco_core::Engine::builder();
    let mut details = Vec::new();
    for (environment, json) in &options.thresholds {
        match Thresholds::from_json(json, &format!("thresholds.{environment}.")) {
            Ok(thresholds) => builder = builder.thresholds(environment, thresholds),
            Err(CoreError::Validation { details: more }) => details.extend(more),
            Err(other) => return Err(Failure::Document(other)),
        }
    }
    if !details.is_empty() {
        return Err(Failure::Document(CoreError::Validation { details }));
    }
    if let Some(path) = path {
        builder = builder.location(&path);
    }
    if let Some(dir) = options.local_state_dir {
        builder = builder.local_platform(dir);
    }
    for platform in options.platforms {
        builder = builder.platform(platform);
    }
    for probe in options.probes {
        builder = builder.probe(probe);
    }
    for source in options.metric_sources {
        builder = builder.metric_source(source);
    }
    if let Some(releases) = options.release_retention {
        builder = builder.release_retention(releases);
    }
    if let Some(lease) = options.lease {
        builder = builder.lease(lease);
    }
    Ok(Engine { inner: builder.open().await? })
}

pub(crate) fn read_id(id: Unknown) -> Result<String, Failure> {
    let mut args = Args::new();
    let id = args.required(id, "id");
    args.finish(id)
}

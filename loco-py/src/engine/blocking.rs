//! `loco.SyncEngine`: the blocking twin of `loco.Engine`. Each method waits for the core on the
//! calling thread with the GIL released, so other Python threads keep running meanwhile.

use std::collections::HashMap;
use std::path::PathBuf;

use loco_core::Action;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::{Handle, OpenOptions, Operation, list_query, new_deployment};
use crate::convert::{ToPython, into_python};
use crate::document::{Document, ThresholdsByEnvironment};
use crate::error::to_pyerr;
use crate::host_extensions;
use crate::host_platform::{self, EventLoop};
use crate::platform::SyncInstanceLogs;
use crate::runtime;
use crate::subscription::SyncSubscription;

/// Runs `operation` to completion with the GIL released, then converts its outcome.
fn blocking<T: ToPython>(py: Python<'_>, operation: Operation<T>) -> PyResult<Bound<'_, PyAny>> {
    let result = py.detach(|| runtime::block_on(operation));
    into_python(py, result)
}

/// The deployment engine for blocking code: `engine = loco.SyncEngine.open("loco.db")`.
///
/// Same methods as `loco.Engine`, returning results directly. Safe to share between threads;
/// each call releases the GIL while it works. Use `with` to close the engine at the end of a block.
#[pyclass(frozen, module = "loco", name = "SyncEngine")]
pub struct SyncEngine {
    handle: Handle,
}

impl SyncEngine {
    fn open_with(py: Python<'_>, path: Option<PathBuf>, options: OpenOptions) -> PyResult<Self> {
        let opened = py.detach(|| runtime::block_on(Handle::open(path, options)));
        Ok(Self { handle: opened.map_err(|e| to_pyerr(py, &e))? })
    }
}

#[pymethods]
impl SyncEngine {
    /// Opens (creating if needed) the SQLite database file at `path`, fully durable
    /// (`synchronous=FULL`). With `local_state_dir`, the local platform is registered so rollouts
    /// can run, and rollouts interrupted by an earlier engine are recovered before it returns;
    /// `thresholds` sets analysis thresholds per environment, `release_retention` how many releases
    /// each service and environment keeps for `rollback_to` (default 20, at least 2) and
    /// `lease_seconds` how long a rollout's engine may be silent before another engine on the same
    /// file takes the rollout over (default 30, at least 0.3).
    /// `platforms` registers Python objects as platforms (`loco.Platform`), `probes` Python
    /// functions as health probes by name (`loco.HealthProbe`) and `metric_sources` Python objects
    /// as metric sources (`loco.MetricSource`), all before that recovery; their coroutines run on a
    /// private event loop thread of Loco's.
    #[staticmethod]
    #[pyo3(signature = (path, *, local_state_dir=None, thresholds=None, release_retention=None, lease_seconds=None,
                        platforms=None, probes=None, metric_sources=None))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        local_state_dir: Option<PathBuf>,
        thresholds: Option<ThresholdsByEnvironment>,
        release_retention: Option<u32>,
        lease_seconds: Option<f64>,
        platforms: Option<Vec<Bound<'_, PyAny>>>,
        probes: Option<HashMap<String, Bound<'_, PyAny>>>,
        metric_sources: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<Self> {
        let options = OpenOptions::from_python(
            py,
            EventLoop::Private,
            local_state_dir,
            thresholds,
            release_retention,
            lease_seconds,
            platforms,
            probes,
            metric_sources,
        )?;
        Self::open_with(py, Some(path), options)
    }

    /// Opens a private in-memory database, gone when the engine is dropped; the options are those
    /// of `open`.
    #[staticmethod]
    #[pyo3(signature = (*, local_state_dir=None, thresholds=None, release_retention=None, lease_seconds=None,
                        platforms=None, probes=None, metric_sources=None))]
    #[allow(clippy::too_many_arguments)]
    fn open_in_memory(
        py: Python<'_>,
        local_state_dir: Option<PathBuf>,
        thresholds: Option<ThresholdsByEnvironment>,
        release_retention: Option<u32>,
        lease_seconds: Option<f64>,
        platforms: Option<Vec<Bound<'_, PyAny>>>,
        probes: Option<HashMap<String, Bound<'_, PyAny>>>,
        metric_sources: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<Self> {
        let options = OpenOptions::from_python(
            py,
            EventLoop::Private,
            local_state_dir,
            thresholds,
            release_retention,
            lease_seconds,
            platforms,
            probes,
            metric_sources,
        )?;
        Self::open_with(py, None, options)
    }

    /// Creates a deployment in `pending_approval`; the keyword arguments are the HTTP JSON fields.
    /// With `idempotency_key`, repeating the same request returns the original deployment; with
    /// `commit`, so does creating the same service, environment, version and commit while that
    /// deployment is open.
    /// Returns a `Deployment`.
    #[pyo3(signature = (*, service=None, environment=None, version=None, requester=None, work_refs=None,
                        rollback_plan=None, risk=None, commit=None, idempotency_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn create<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        environment: Option<String>,
        version: Option<String>,
        requester: Option<String>,
        work_refs: Option<Vec<String>>,
        rollback_plan: Option<String>,
        risk: Option<String>,
        commit: Option<String>,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let new = new_deployment(service, environment, version, requester, work_refs, rollback_plan, risk, commit);
        blocking(py, self.handle.create(new, idempotency_key))
    }

    /// `pending_approval → approved`; the actor must not be the requester. Under an approval gate
    /// needing more than one approval, each earlier one is recorded as an `approval_granted`
    /// event and the deployment stays `pending_approval`; the approval completing the count
    /// approves it.
    #[pyo3(signature = (id, actor, note=None))]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply(id, Action::Approve, actor, note))
    }

    /// `pending_approval → rejected` (terminal); needs a note; the actor must not be the requester.
    #[pyo3(signature = (id, actor, note=None))]
    fn reject<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply(id, Action::Reject, actor, note))
    }

    /// `approved → started`. A deployment its environment's approval gate has not approved yet
    /// is refused with `ApprovalRequiredError`. A freeze window in force for the deployment's
    /// environment, or the gate's wait after approval still running (rule `wait_timer`), refuses
    /// the start with `PolicyViolationError`; an admin may start anyway by giving
    /// `override_reason`, which a `policy_override` event records just before `started`.
    #[pyo3(signature = (id, actor, note=None, override_reason=None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
        override_reason: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.start(id, actor, note, override_reason))
    }

    /// `started → succeeded`.
    #[pyo3(signature = (id, actor, note=None))]
    fn succeed<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply(id, Action::Succeed, actor, note))
    }

    /// `started → failed`; needs a note.
    #[pyo3(signature = (id, actor, note=None))]
    fn fail<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply(id, Action::Fail, actor, note))
    }

    /// `started | succeeded | failed → rolled_back` (terminal); needs a note. During a rollout,
    /// restores the previous release first.
    #[pyo3(signature = (id, actor, note=None))]
    fn rollback<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply(id, Action::Rollback, actor, note))
    }

    /// The current state of one deployment. Returns a `Deployment`.
    fn get<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.get(id))
    }

    /// Deployments matching the filters, newest first, one page (50 by default, 1–500) at a time.
    /// Returns a `Page`; pass its `next_cursor` as `cursor` for the next one.
    #[pyo3(signature = (service=None, environment=None, status=None, limit=None, cursor=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        environment: Option<String>,
        status: Option<&str>,
        limit: Option<i64>,
        cursor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.list(list_query(service, environment, status, limit, cursor)))
    }

    /// Every event of one deployment, oldest first. Returns a `list[Event]`.
    fn events<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.events(id))
    }

    /// Walks the whole audit chain and checks every deployment against its history.
    /// Returns an `AuditReport`.
    fn verify_audit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.verify_audit())
    }

    /// The engine's deployment metrics in Prometheus/OpenMetrics text format. Returns a `str`.
    fn metrics_text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.metrics_text())
    }

    /// Every event committed from now on, in commit order: `for event in engine.subscribe()`.
    /// The iteration ends once the engine is closed; `next_event(timeout)` waits a bounded time.
    fn subscribe(&self, py: Python<'_>) -> PyResult<SyncSubscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(SyncSubscription::new(engine.subscribe()))
    }

    /// Every event with `seq > after` (replayed from the database), then every later one.
    fn subscribe_after(&self, py: Python<'_>, after: i64) -> PyResult<SyncSubscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(SyncSubscription::new(engine.subscribe_after(after)))
    }

    /// Runs the pre-deployment checks of `plan` (a `dict` or JSON `str`, checked by the core) on
    /// their own, as `start_rollout` runs them first; nothing is recorded and nothing starts.
    /// Returns the `ValidationReport`, passed or not.
    fn validate_plan<'py>(&self, py: Python<'py>, plan: Document) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.validate_plan(plan))
    }

    /// Starts rolling out an approved deployment with `plan` (a `dict` or JSON `str`, checked by
    /// the core; without one, or with `None`, the plan its stage sets in the manifest it was
    /// created under, see `manifest_plan`): its pre-deployment checks run first, and a blocking
    /// finding refuses the start with `ValidationFailedError` (the deployment stays `approved`);
    /// the steps run in the background. A freeze window in force refuses it with
    /// `PolicyViolationError` unless an admin gives `override_reason` (recorded as for `start`).
    /// `actor` is required: omitted, it reaches the core blank and is refused there as a
    /// `ValidationError` on `actor`. Returns the `Rollout` right after the start.
    #[pyo3(signature = (id, plan=None, actor=None, override_reason=None))]
    fn start_rollout<'py>(
        &self,
        py: Python<'py>,
        id: String,
        plan: Option<Document>,
        actor: Option<String>,
        override_reason: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.start_rollout(id, plan, actor.unwrap_or_default(), override_reason))
    }

    /// `start_rollout`, then waits for the outcome (`succeeded`, `rolled_back` or
    /// `rollback_failed`). Returns the `Rollout`.
    fn run_rollout<'py>(
        &self,
        py: Python<'py>,
        id: String,
        plan: Document,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.run_rollout(id, plan, actor))
    }

    /// Waits until the deployment's rollout is no longer active (a paused rollout still is).
    /// Returns the `Rollout`.
    fn wait_rollout<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.wait_rollout(id))
    }

    /// The rollout of one deployment (`NotFoundError` when it has none). Returns a `Rollout`.
    fn rollout<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.rollout(id))
    }

    /// Every rollout, or with `active_only` those running, paused or rolling back.
    /// Returns a `list[Rollout]`.
    #[pyo3(signature = (*, active_only=false))]
    fn rollouts<'py>(&self, py: Python<'py>, active_only: bool) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.rollouts(active_only))
    }

    /// The releases that served a service+environment, newest first (the first is current unless
    /// retired); `limit` is 1–500 (a `ValidationError` otherwise). Returns a `list[Release]`.
    #[pyo3(signature = (service, environment, *, limit=50))]
    fn releases<'py>(
        &self,
        py: Python<'py>,
        service: String,
        environment: String,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.releases(service, environment, limit))
    }

    /// Continues a rollout paused by its analysis, on behalf of `actor`, who must say why.
    /// Returns the `Rollout`.
    fn override_rollout<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.override_rollout(id, actor, note))
    }

    /// Rolls `service` in `environment` back to its retained release `version`, on behalf of
    /// `actor`, who must say why (`note`): the deployment of the release serving now becomes
    /// `rolled_back` and `version` serves again once its instances (kept or started again) pass
    /// their health checks. Returns the rolled-back `Rollout` of the release that served.
    fn rollback_to<'py>(
        &self,
        py: Python<'py>,
        service: String,
        environment: String,
        version: String,
        actor: String,
        note: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.rollback_to(service, environment, version, actor, note))
    }

    /// Sets the analysis thresholds of one environment for rollouts started from now on; a plan's
    /// `analysis.thresholds` still wins.
    fn set_thresholds(&self, py: Python<'_>, environment: &str, thresholds: Document) -> PyResult<()> {
        self.handle.set_thresholds(environment, thresholds).map_err(|e| to_pyerr(py, &e))
    }

    /// The analysis thresholds of every environment, as this engine has them (saved in the
    /// database or set on it): `{environment: {field: value}}`, every field filled in. Not
    /// awaitable.
    fn thresholds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let thresholds = self.handle.thresholds().map_err(|e| to_pyerr(py, &e))?;
        crate::value::to_python(py, &thresholds)
    }

    /// Sets the analysis thresholds of one environment like `set_thresholds` and stores them, so
    /// engines opened on this database later start with them.
    fn save_thresholds<'py>(
        &self,
        py: Python<'py>,
        environment: &str,
        thresholds: Document,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.save_thresholds(environment, thresholds))
    }

    /// The output of one instance of the deployment's rollout:
    /// `for line in engine.logs(id, instance_id)`.
    fn logs(&self, py: Python<'_>, id: String, instance_id: String) -> PyResult<SyncInstanceLogs> {
        self.handle.logs(id, instance_id).map(SyncInstanceLogs::new).map_err(|e| to_pyerr(py, &e))
    }

    /// Configures (or replaces) the cloud platform `name` that plans may name in `platform`:
    /// `settings` is a `dict` or JSON `str` (`{"kind": "fly", "app": "shop"}`), checked by the
    /// core; `token` is sealed before it is stored and never shown again; `by` is who adds it.
    /// Returns the `PlatformConfig` as stored (token `***`).
    fn add_platform<'py>(
        &self,
        py: Python<'py>,
        name: String,
        settings: Document,
        token: String,
        by: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.add_platform(name, settings, token, by))
    }

    /// Every configured platform, by name (tokens `***`). Returns a `list[PlatformConfig]`.
    fn platforms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.platforms())
    }

    /// Tests a configured platform's connection: the token is accepted and the app or service
    /// exists (`PlatformError` with the provider's answer otherwise). Returns `None`.
    fn test_platform<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.test_platform(name))
    }

    /// Registers a Python object as a platform plans may name (`loco.Platform`), replacing one of
    /// the same name; its coroutines run on a private event loop thread of Loco's. A
    /// `ValidationError` names what the object lacks. Not awaitable.
    fn register_platform(&self, py: Python<'_>, platform: &Bound<'_, PyAny>) -> PyResult<()> {
        let platform = host_platform::from_object(py, platform, EventLoop::Private)?;
        self.handle.register_platform(platform).map_err(|e| to_pyerr(py, &e))
    }

    /// Registers a Python function as the health probe `name` that plans may name as
    /// `{"type": "host", "name": name}` (`loco.HealthProbe`), replacing one of the same name; its
    /// coroutines run on a private event loop thread of Loco's.
    fn register_probe(&self, py: Python<'_>, name: String, probe: &Bound<'_, PyAny>) -> PyResult<()> {
        let probe = host_extensions::probe_from(py, name, probe, EventLoop::Private)?;
        self.handle.register_probe(probe).map_err(|e| to_pyerr(py, &e))
    }

    /// Registers a Python object as a metric source that analysis may name as
    /// `{"type": "host", "name": source.name}` (`loco.MetricSource`), replacing one of the same
    /// name; its coroutines run on a private event loop thread of Loco's. A `ValidationError`
    /// names what the object lacks.
    fn register_metric_source(&self, py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<()> {
        let source = host_extensions::metric_source_from(py, source, EventLoop::Private)?;
        self.handle.register_metric_source(source).map_err(|e| to_pyerr(py, &e))
    }

    /// Removes a configured platform (`ValidationError` while a rollout on it is active,
    /// `NotFoundError` when there is none). Returns `None`.
    fn remove_platform<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_platform(name))
    }

    /// Registers (or replaces) a service that rollout plans may name in `release.service`;
    /// `definition` is a `dict` or JSON `str`, checked by the core, and `by` is who registers it.
    /// Returns the `ServiceDefinition` as stored.
    fn register_service<'py>(&self, py: Python<'py>, definition: Document, by: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.register_service(definition, by))
    }

    /// Every registered service, by name. Returns a `list[ServiceDefinition]`.
    fn services<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.services())
    }

    /// Removes a registered service (`NotFoundError` when there is none); rollouts already
    /// started keep running it.
    fn remove_service<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_service(name))
    }

    /// Every deploy lock held (one per service and environment with a started deployment), by
    /// service then environment. Returns a `list` of `loco.DeployLock`.
    fn locks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.locks())
    }

    /// Forces the deploy lock of `service` in `environment` free although its deployment is
    /// still started (say its runner died); `actor` and a non-blank `reason` are recorded as a
    /// `lock_released` event on that deployment. `NotFoundError` when no lock is held there.
    /// Returns the `loco.DeployLock` as it was held.
    fn release_lock<'py>(
        &self,
        py: Python<'py>,
        service: String,
        environment: String,
        actor: String,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.release_lock(service, environment, actor, reason))
    }

    /// Sets (or replaces, by name) a freeze window: a time when deployments to its environments
    /// may not start. `window` is a `dict` or JSON `str` (`name`, `environments`, `reason` and a
    /// `schedule` of `{"type": "once", "start", "end"}` or `{"type": "recurring", "cron",
    /// "duration_minutes", "time_zone"}`), checked by the core; `by` is who sets it.
    /// Returns the window as stored (a `loco.FreezeWindow`).
    fn set_freeze_window<'py>(&self, py: Python<'py>, window: Document, by: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.set_freeze_window(window, by))
    }

    /// Every freeze window, by name. Returns a `list` of `loco.FreezeWindow`.
    fn freeze_windows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.freeze_windows())
    }

    /// Removes a freeze window (`NotFoundError` when there is none). Returns `None`.
    fn remove_freeze_window<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_freeze_window(name))
    }

    /// The freeze in force for `environment` at `at` (an RFC 3339 `str`; now without it): the
    /// occurrence of the window that ends last, as a `loco.ActiveFreeze` (`window`, `reason`, `start`,
    /// `end`), or `None` when deployments there may start. Returns it or `None`.
    #[pyo3(signature = (environment, at=None))]
    fn active_freeze<'py>(
        &self,
        py: Python<'py>,
        environment: String,
        at: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.active_freeze(environment, at))
    }

    /// Sets (or replaces, by environment) an approval gate: how many distinct reviewers a
    /// deployment to its environment needs before it may start. `gate` is a `dict` or JSON `str`
    /// (`environment`, `required_approvals` 1 to 10, and optionally `approvers` and `groups`
    /// (reviewer groups, see `set_group`, that must exist) whose members alone may review,
    /// `expires_after_minutes` after which an approval no longer counts and `wait_minutes` the
    /// start is held back after approval), checked by the core; `by` is who sets it. Returns the
    /// gate as stored (a `loco.ApprovalGate`).
    fn set_gate<'py>(&self, py: Python<'py>, gate: Document, by: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.set_gate(gate, by))
    }

    /// Every approval gate, by environment. Returns a `list` of `loco.ApprovalGate`.
    fn gates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.gates())
    }

    /// Removes the approval gate of `environment`, or `service`'s own gate there when given
    /// (`NotFoundError` when there is none); its deployments then fall back to the environment's
    /// gate (from a service's own) or to the single review.
    #[pyo3(signature = (environment, service=None))]
    fn remove_gate<'py>(
        &self,
        py: Python<'py>,
        environment: String,
        service: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_gate(environment, service))
    }

    /// Sets (or replaces, by name) a reviewer group, which approval gates admit by name (their
    /// `groups`). `group` is a `dict` or JSON `str` (`name`, 1 to 256 letters, digits, `-`, `_`
    /// or `.`, compared case-insensitively, and `members`, at most 100), checked by the core;
    /// `by` is who sets it. Its members count from the next review and count of approvals on.
    /// Returns the group as stored (a `loco.ReviewerGroup`).
    fn set_group<'py>(&self, py: Python<'py>, group: Document, by: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.set_group(group, by))
    }

    /// Every reviewer group, by name. Returns a `list` of `loco.ReviewerGroup`.
    fn groups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.groups())
    }

    /// Removes reviewer group `name` (`NotFoundError` when there is none; `ValidationError` on
    /// `name` while a gate names it). Returns `None`.
    fn remove_group<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_group(name))
    }

    /// Where deployment `id` stands with its environment's review at `at` (an RFC 3339 `str`; now
    /// without it): the approvals required and those that count, whether it was rejected, and
    /// when it may start. Returns a `loco.ApprovalStatus`.
    #[pyo3(signature = (id, at=None))]
    fn approval_status<'py>(&self, py: Python<'py>, id: String, at: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.approval_status(id, at))
    }

    /// Schedules deployment `id` (`pending_approval` or `approved`) to start at `at` (an RFC 3339
    /// `str`, in the future and at most 90 days ahead) as `actor`; `by` is who schedules it (the
    /// actor when not given). With `rollout=True` it starts a rollout with the plan its stage sets
    /// in its manifest (`ValidationError` on `plan` when there is none), otherwise the plain
    /// start. A freeze window of its environment in force at `at` raises `PolicyViolationError`
    /// unless `override_reason` is given; a deployment that can no longer start raises
    /// `InvalidTransitionError`. Scheduling it again replaces its schedule. Nothing starts until
    /// `run_due_starts()` runs once it is due. Returns the `loco.ScheduledStart` (`pending`).
    #[pyo3(signature = (id, at, actor, rollout=false, override_reason=None, by=None))]
    #[allow(clippy::too_many_arguments)]
    fn schedule_start<'py>(
        &self,
        py: Python<'py>,
        id: String,
        at: String,
        actor: String,
        rollout: bool,
        override_reason: Option<String>,
        by: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.schedule_start(id, at, actor, rollout, override_reason, by))
    }

    /// Every deployment's latest scheduled start (`pending`, or how it ended), soonest first.
    /// Returns a `list` of `loco.ScheduledStart`.
    fn scheduled_starts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.scheduled_starts())
    }

    /// Cancels the pending scheduled start of deployment `id` (`NotFoundError` when it has
    /// none). Returns the `loco.ScheduledStart` (`cancelled`).
    fn cancel_scheduled_start<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.cancel_scheduled_start(id))
    }

    /// Starts every scheduled start that is due, each as its actor would start it (the gate, the
    /// deploy lock and the freeze windows in force now apply); each is run once, however many
    /// engines share the database. `loco serve` does this itself; an embedding service calls it on
    /// a timer of its own (every second, say). Returns a `list` of the `loco.ScheduledStart` that
    /// fell due, as they ended: `started`, or `refused` with `outcome` `"code: message"`.
    fn run_due_starts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.run_due_starts())
    }

    /// Sets (or replaces, by service) a pipeline: the environments a service's versions go
    /// through, in order. `pipeline` is a `dict` or JSON `str` (`service`, `stages` 2 to 10
    /// environments each named once, and optionally `require_previous_success`, default `True`),
    /// checked by the core; `by` is who sets it. From then on a version is created in a stage
    /// only once it has succeeded in the stage before (`PolicyViolationError`, rule
    /// `promotion_order`). Returns the pipeline as stored (a `loco.Pipeline`).
    fn set_pipeline<'py>(&self, py: Python<'py>, pipeline: Document, by: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.set_pipeline(pipeline, by))
    }

    /// Every pipeline, by service. Returns a `list` of `loco.Pipeline`.
    fn pipelines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.pipelines())
    }

    /// Removes the pipeline of `service` (`NotFoundError` when there is none); its environments
    /// then take any version again. Returns `None`.
    fn remove_pipeline<'py>(&self, py: Python<'py>, service: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.remove_pipeline(service))
    }

    /// Promotes deployment `id`, which succeeded in one stage of its service's pipeline: creates
    /// the deployment of its version in the next stage (same commit, work references, rollback
    /// plan and risk), requested by `actor`, with a `promoted` event naming `id`. When it names a
    /// commit, promoting again while that deployment is open gives it back. A deployment that has not succeeded raises
    /// `PolicyViolationError` (rule `promotion_order`); the last stage, an environment outside
    /// the pipeline or a service without one raise `ValidationError`. Returns the new
    /// `loco.Deployment` (`pending_approval`).
    fn promote<'py>(&self, py: Python<'py>, id: String, actor: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.promote(id, actor))
    }

    /// Where `version` of `service` stands along its pipeline: the newest deployment of it in
    /// each stage and the stage it goes to next (`None` once it has succeeded everywhere).
    /// `NotFoundError` when the service has no pipeline. Returns a `loco.PipelineView`.
    fn pipeline_view<'py>(&self, py: Python<'py>, service: String, version: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.pipeline_view(service, version))
    }

    /// Applies a `service.yaml` manifest (`text`, YAML or JSON) on behalf of `actor`: the core
    /// reads and checks it (a `ValidationError` lists every problem at once, each detail with its
    /// `field`, `message`, `line` and `column`; nothing is written), then in one transaction sets
    /// the service's pipeline, its stages' approval gates and its freeze windows, removes the
    /// gates and windows the previous version set and this one does not, and stores it as the
    /// service's next version. Deployments of the service created afterwards record that version
    /// (`manifest_version` in their `created` event's data). A blank `actor` raises
    /// `ValidationError` on `by`. Returns the record in force (a `loco.ManifestRecordDict`):
    /// applying the newest version's text again writes nothing and returns that version
    /// unchanged, so compare `version` to tell.
    fn apply_manifest<'py>(&self, py: Python<'py>, text: String, actor: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.apply_manifest(text, actor))
    }

    /// The newest applied manifest of `service`, or its version `version` (from 1);
    /// `NotFoundError` when there is none (a negative `version` raises `ValidationError`).
    /// Returns a `loco.ManifestRecordDict`.
    #[pyo3(signature = (service, version=None))]
    fn manifest<'py>(&self, py: Python<'py>, service: String, version: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.manifest(service, version))
    }

    /// Every applied version of the manifest of `service`, newest first; `NotFoundError` when it
    /// has none. Returns a `list` of `loco.ManifestRecordDict`.
    fn manifest_history<'py>(&self, py: Python<'py>, service: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.manifest_history(service))
    }

    /// The newest applied manifest of every service that has one, by service. Returns a
    /// `list` of `loco.ManifestRecordDict`.
    fn manifests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.manifests())
    }

    /// The rollout plan deployment `id` starts with when `start_rollout` is given none: the one
    /// its stage sets in the version of its service's manifest it was created under (whatever
    /// version is newest now), every default filled in and `release.version` empty (the
    /// deployment's version is used when it runs). `NotFoundError` for an unknown deployment;
    /// `ValidationError` on `plan` when it was created without a manifest or its stage sets no
    /// rollout. Returns a `loco.RolloutPlanDict`.
    fn manifest_plan<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.manifest_plan(id))
    }

    /// Stops running rollouts (the next engine on this file recovers them) and the local
    /// platform's processes, finishes queued writes and closes the database; later operations
    /// raise `StorageError`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.close())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Bound<'py, PyAny>,
        _exc: Bound<'py, PyAny>,
        _traceback: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("SyncEngine({})", PyString::new(py, self.handle.location()).repr()?))
    }

    /// The head of the verified audit chain (`seq`, `hash` and time of its last event), signed
    /// with `LOCO_AUDIT_KEY` when it is set; keep `head.to_dict()` outside the database. A chain
    /// that does not verify raises `StorageError`. Returns an `AuditHead`.
    fn audit_head<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.audit_head())
    }

    /// Verifies the audit chain and that it still contains `head` (what `audit_head()` gave, as
    /// a `dict` or JSON `str`), so events deleted from the end are found; with `LOCO_AUDIT_KEY`
    /// set, the head's HMAC must match it. Returns an `AuditReport`.
    fn verify_audit_against<'py>(&self, py: Python<'py>, head: Document) -> PyResult<Bound<'py, PyAny>> {
        blocking(py, self.handle.verify_audit_against(head))
    }
}

//! The two doors into [`loco_core::Engine`]: `loco.Engine` (asyncio, [`asyncio`]) and
//! `loco.SyncEngine` (blocking, [`blocking`]). Everything they share is here, in [`rollout`],
//! [`service`], [`policy`] and [`schedule`]: the engine [`Handle`], whose methods turn Python
//! arguments into one core [`Operation`] each, and opening through [`loco_core::EngineBuilder`]. The two classes
//! differ only in how they wait for an operation. Neither holds a deployment rule: arguments pass
//! to the core as given (an omitted field is an empty value, so the core reports it as a
//! `validation_error` exactly as for a missing JSON field; numbers the core reads as text, like a
//! URL query, are passed as text).

pub mod asyncio;
pub mod audit;
pub mod blocking;
pub mod platforms;
pub mod policy;
pub mod rollout;
pub mod schedule;
pub mod service;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use loco_core::analysis::MetricSource;
use loco_core::platform::extensions::HealthProbe;
use loco_core::{Action, ActionInput, AuditReport, Deployment, Event, ListQuery, NewDeployment, Page, Timestamp};

use pyo3::prelude::*;

use crate::document::ThresholdsByEnvironment;
use crate::host_extensions;
use crate::host_platform::{self, EventLoop};
use crate::process::ProcessBound;

/// One core call with its arguments moved in, ready to be awaited or blocked on.
pub type Operation<T> = Pin<Box<dyn Future<Output = loco_core::Result<T>> + Send>>;

/// An open engine and where it lives (for `repr`).
pub struct Handle {
    engine: ProcessBound<loco_core::Engine>,
    location: String,
}

/// The location shown for an in-memory engine.
pub const IN_MEMORY: &str = ":memory:";

/// The keyword options of `open` and `open_in_memory`.
pub struct OpenOptions {
    /// Registers the local platform with its state (pidfiles, logs) in this directory.
    pub local_state_dir: Option<PathBuf>,
    /// Analysis thresholds per environment.
    pub thresholds: Option<ThresholdsByEnvironment>,
    /// Releases each service and environment keeps for `rollback_to` (the core's default without).
    pub release_retention: Option<u32>,
    /// Seconds a rollout's owner may be silent before another engine takes the rollout over.
    pub lease_seconds: Option<f64>,
    /// Platforms written in Python (`platforms=[obj]`), registered before recovery runs.
    pub platforms: Vec<Arc<dyn loco_core::Platform>>,
    /// Health probes written in Python (`probes={name: fn}`), registered before recovery runs.
    pub probes: Vec<Arc<dyn HealthProbe>>,
    /// Metric sources written in Python (`metric_sources=[obj]`), registered before recovery runs.
    pub metric_sources: Vec<Arc<dyn MetricSource>>,
}

impl OpenOptions {
    /// The keyword options of `open` as Python gave them, its host objects (`platforms`, `probes`,
    /// `metric_sources`) made the core's, with their coroutines bound to `event_loop`; a
    /// `ValidationError` names what an object lacks.
    #[allow(clippy::too_many_arguments)]
    pub fn from_python(
        py: Python<'_>,
        event_loop: EventLoop,
        local_state_dir: Option<PathBuf>,
        thresholds: Option<ThresholdsByEnvironment>,
        release_retention: Option<u32>,
        lease_seconds: Option<f64>,
        platforms: Option<Vec<Bound<'_, PyAny>>>,
        probes: Option<HashMap<String, Bound<'_, PyAny>>>,
        metric_sources: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<Self> {
        Ok(Self {
            local_state_dir,
            thresholds,
            release_retention,
            lease_seconds,
            platforms: host_platform::from_objects(py, platforms, event_loop)?,
            probes: host_extensions::probes_from(py, probes.into_iter().flatten(), event_loop)?,
            metric_sources: host_extensions::metric_sources_from(py, metric_sources, event_loop)?,
        })
    }
}

impl Handle {
    /// Opens the SQLite file or `postgres://` URL at `path` (a private in-memory database without
    /// one) with the
    /// options' platforms, probes, metric sources, thresholds, release retention and lease; the
    /// core then recovers rollouts interrupted on them.
    pub fn open(path: Option<PathBuf>, options: OpenOptions) -> Operation<Handle> {
        let location =
            path.as_ref().map_or_else(|| IN_MEMORY.to_owned(), |p| loco_core::shown_location(&p.to_string_lossy()));
        Box::pin(async move {
            let mut builder = loco_core::Engine::builder();
            if let Some(thresholds) = options.thresholds {
                builder = builder.thresholds_json(thresholds.json())?;
            }
            if let Some(releases) = options.release_retention {
                builder = builder.release_retention(releases);
            }
            if let Some(seconds) = options.lease_seconds {
                builder = builder.lease(lease(seconds)?);
            }
            if let Some(path) = path {
                builder = builder.location(&path.to_string_lossy());
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
            Ok(Handle { engine: ProcessBound::new(builder.open().await?), location })
        })
    }

    /// A clone of the engine to move into an operation (clones share one store).
    pub fn engine(&self) -> loco_core::Result<loco_core::Engine> {
        self.engine.get().cloned()
    }

    /// The database path, or `:memory:`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// `create(**fields)`.
    pub fn create(&self, new: NewDeployment, idempotency_key: Option<String>) -> Operation<Deployment> {
        let engine = self.engine();
        Box::pin(async move { engine?.create(new, idempotency_key.as_deref()).await })
    }

    /// One lifecycle action (`approve`, `start`, …).
    pub fn apply(&self, id: String, action: Action, actor: String, note: Option<String>) -> Operation<Deployment> {
        let engine = self.engine();
        Box::pin(async move { engine?.apply(&id, action, ActionInput { note, ..ActionInput::new(actor) }).await })
    }

    /// `start(id, actor, note, override_reason)`: with `override_reason`, an admin's start in
    /// spite of a freeze window in force (the core records it before `started`).
    pub fn start(
        &self,
        id: String,
        actor: String,
        note: Option<String>,
        override_reason: Option<String>,
    ) -> Operation<Deployment> {
        let engine = self.engine();
        let input = ActionInput { note, override_reason, ..ActionInput::new(actor) };
        Box::pin(async move { engine?.apply(&id, Action::Start, input).await })
    }

    /// `get(id)`.
    pub fn get(&self, id: String) -> Operation<Deployment> {
        let engine = self.engine();
        Box::pin(async move { engine?.get(&id).await })
    }

    /// `list(...)`; the core parses and checks every filter.
    pub fn list(&self, query: loco_core::Result<ListQuery>) -> Operation<Page<Deployment>> {
        let engine = self.engine();
        Box::pin(async move { engine?.list(&query?).await })
    }

    /// `events(id)`.
    pub fn events(&self, id: String) -> Operation<Vec<Event>> {
        let engine = self.engine();
        Box::pin(async move { engine?.events(&id).await })
    }

    /// `verify_audit()`.
    pub fn verify_audit(&self) -> Operation<AuditReport> {
        let engine = self.engine();
        Box::pin(async move { engine?.verify_audit().await })
    }

    /// `metrics_text()`.
    pub fn metrics_text(&self) -> Operation<String> {
        let engine = self.engine();
        Box::pin(async move { Ok(engine?.metrics().render()) })
    }

    /// `close()`: stops running rollouts and the platforms' processes, finishes queued writes.
    pub fn close(&self) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.close().await })
    }
}

/// `lease_seconds` as a duration; what no duration can be (negative, not finite) is refused.
fn lease(seconds: f64) -> loco_core::Result<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        loco_core::Error::invalid("lease_seconds", format!("must be a number of seconds, 0 or more; got {seconds}"))
    })
}

/// The `at` argument as an instant; text that is not RFC 3339 is a validation error naming `at`
/// (the core's parser calls it a storage error, as it is meant for what the database holds).
fn instant(text: &str) -> loco_core::Result<Timestamp> {
    Timestamp::parse(text.trim()).map_err(|_| {
        loco_core::Error::invalid("at", format!("'{text}' is not an RFC 3339 time such as 2026-12-24T18:00:00+01:00"))
    })
}

/// A create request from the keyword arguments of `create()`.
#[allow(clippy::too_many_arguments)]
pub fn new_deployment(
    service: Option<String>,
    environment: Option<String>,
    version: Option<String>,
    requester: Option<String>,
    work_refs: Option<Vec<String>>,
    rollback_plan: Option<String>,
    risk: Option<String>,
    commit: Option<String>,
) -> NewDeployment {
    NewDeployment {
        service: service.unwrap_or_default(),
        environment: environment.unwrap_or_default(),
        version: version.unwrap_or_default(),
        requester: requester.unwrap_or_default(),
        work_refs: work_refs.unwrap_or_default(),
        rollback_plan: rollback_plan.unwrap_or_default(),
        risk,
        commit,
    }
}

/// A list query from the arguments of `list()`; the core parses and checks every value.
pub fn list_query(
    service: Option<String>,
    environment: Option<String>,
    status: Option<&str>,
    limit: Option<i64>,
    cursor: Option<String>,
) -> loco_core::Result<ListQuery> {
    ListQuery::parse(service, environment, status, limit.map(|n| n.to_string()).as_deref(), cursor)
}

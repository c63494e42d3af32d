//! Python objects as Loco platforms: [`HostPlatform`] implements the core's
//! [`Platform`](loco_core::Platform) trait by calling the methods of an object registered with
//! `Engine.open(path, platforms=[obj])` or `engine.register_platform(obj)` (the contract is the
//! `loco.Platform` protocol, [`protocol`]).
//!
//! The orchestrator stays in charge: it decides every call and limits its time, exactly as for a
//! built-in adapter. Arguments reach Python as the core's snake_case JSON shapes (a release with its
//! secrets revealed, as every platform gets it); results are read back as the core's types
//! ([`shape`]), so a bad shape is a `platform_error` naming the field. How a call runs (which
//! thread, which event loop, what a time limit cancels) is in [`call`].
//!
//! Which event loop runs a host's coroutines: for `loco.Engine`, the loop running when the platform
//! was registered (`open` or `register_platform` inside `async` code); for `loco.SyncEngine` (and
//! an `Engine` registering outside a running loop), a private loop on a daemon thread of its own.
//! Plain (non-`async`) methods run on Loco's blocking threads.
//!
//! A platform with a `stats` method is its own metric source (analysis `{"type": "platform"}`),
//! called like any host metric source ([`crate::host_extensions`]).

pub mod call;
pub mod protocol;
pub mod shape;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use loco_core::analysis::MetricSource;
use loco_core::platform::{
    Capabilities, Instance, InstanceHealth, LogLine, Platform, PlatformError, PlatformResult, PlatformStatus, Target,
    TrafficWeight,
};
use loco_core::rollout::ReleaseSpec;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;

use self::call::Host;
use crate::engine::Handle;
use crate::error::to_pyerr;
use crate::host_extensions::HostMetricSource;

/// The methods every host platform must have.
const REQUIRED: [&str; 7] = ["deploy", "set_traffic", "stop", "health", "status", "restore", "test_connection"];

/// How long the calls no rollout limits (`logs`, `shutdown`) may take.
const UNLIMITED_CALL_CEILING: Duration = Duration::from_secs(60);

/// Which asyncio event loop runs a host's coroutines.
#[derive(Clone, Copy)]
pub enum EventLoop {
    /// The loop running in the registering thread (`loco.Engine`), else the private one.
    Running,
    /// Loco's private loop on its own thread (`loco.SyncEngine`).
    Private,
}

/// The host platforms of `objects` (none without), each bound to `event_loop`; a
/// `ValidationError` names what an object lacks.
pub fn from_objects(
    py: Python<'_>,
    objects: Option<Vec<Bound<'_, PyAny>>>,
    event_loop: EventLoop,
) -> PyResult<Vec<Arc<dyn Platform>>> {
    objects.unwrap_or_default().iter().map(|object| from_object(py, object, event_loop)).collect()
}

/// One host platform; see [`from_objects`].
pub fn from_object(py: Python<'_>, object: &Bound<'_, PyAny>, event_loop: EventLoop) -> PyResult<Arc<dyn Platform>> {
    let platform = HostPlatform::new(py, object, event_loop.get(py)?).map_err(|e| to_pyerr(py, &e))?;
    Ok(Arc::new(platform))
}

impl EventLoop {
    /// The asyncio event loop this choice means, started if it is Loco's private one.
    pub fn get(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            EventLoop::Running => running_loop(py),
            EventLoop::Private => private_loop(py),
        }
    }
}

impl Handle {
    /// `register_platform(obj)`: the platform plans may name from now on (replacing one of the
    /// same name).
    pub fn register_platform(&self, platform: Arc<dyn Platform>) -> loco_core::Result<()> {
        self.engine()?.register_platform(platform);
        Ok(())
    }
}

/// A platform whose work a Python object does.
pub struct HostPlatform {
    name: String,
    capabilities: Capabilities,
    has_logs: bool,
    has_plan_shares: bool,
    has_shutdown: bool,
    /// Its `stats` method, when it has one: the platform's own metrics for canary analysis.
    metric_source: Option<Arc<dyn MetricSource>>,
    host: Arc<Host>,
}

impl HostPlatform {
    /// Reads `object`'s `name` and `capabilities` (an attribute or a method returning the dict) and
    /// checks that it has every required method.
    fn new(py: Python<'_>, object: &Bound<'_, PyAny>, event_loop: Py<PyAny>) -> loco_core::Result<Self> {
        let name = object
            .getattr(intern!(py, "name"))
            .and_then(|n| n.extract::<String>())
            .map_err(|_| loco_core::Error::invalid("name", "a platform needs a `name` string attribute"))?;
        if name.trim().is_empty() {
            return Err(loco_core::Error::invalid("name", "must not be empty"));
        }
        let capabilities = capabilities(py, object)?;
        let has = |method: &str| object.getattr(method).is_ok_and(|m| m.is_callable());
        if let Some(missing) = REQUIRED.into_iter().find(|m| !has(m)) {
            return Err(loco_core::Error::invalid(missing, format!("platform '{name}' has no {missing}() method")));
        }
        let has_logs = has("logs");
        if capabilities.logs && !has_logs {
            return Err(loco_core::Error::invalid(
                "capabilities.logs",
                format!("is true but platform '{name}' has no logs() method"),
            ));
        }
        let has_stats = has("stats");
        if capabilities.metrics && !has_stats {
            return Err(loco_core::Error::invalid(
                "capabilities.metrics",
                format!("is true but platform '{name}' has no stats() method"),
            ));
        }
        let host = Arc::new(Host { object: object.clone().unbind(), event_loop });
        let metric_source = has_stats
            .then(|| Arc::new(HostMetricSource::new(name.clone(), Arc::clone(&host))) as Arc<dyn MetricSource>);
        Ok(Self {
            name,
            capabilities,
            has_logs,
            has_plan_shares: has("plan_shares"),
            has_shutdown: has("shutdown"),
            metric_source,
            host,
        })
    }

    /// Calls `method` and reads its answer as a `T`.
    async fn ask<T: DeserializeOwned>(&self, method: &'static str, args: Vec<Value>) -> PlatformResult<T> {
        let answer = call::call(&self.host, method, args).await?;
        read(method, answer)
    }

    /// Calls `method`, ignoring what it returns.
    async fn tell(&self, method: &'static str, args: Vec<Value>) -> PlatformResult<()> {
        call::call(&self.host, method, args).await.map(drop)
    }
}

/// `method`'s answer as a `T`; a bad shape names the field (`deploy() returned a bad shape:
/// result[1].state: is missing`).
pub fn read<T: DeserializeOwned>(method: &str, answer: Value) -> PlatformResult<T> {
    shape::parse(answer).map_err(|e| {
        PlatformError::new(format!("{method}() returned a bad shape: result{}: {}", e.path(), e.message()))
    })
}

/// The `capabilities` of `object`, checked by the core's type.
fn capabilities(py: Python<'_>, object: &Bound<'_, PyAny>) -> loco_core::Result<Capabilities> {
    let invalid = |field: String, message: String| loco_core::Error::invalid(field, message);
    let mut value = object
        .getattr(intern!(py, "capabilities"))
        .map_err(|_| invalid("capabilities".into(), "is missing (a dict, or a method returning one)".into()))?;
    if value.is_callable() && !value.is_instance_of::<PyDict>() {
        value =
            value.call0().map_err(|e| invalid("capabilities".into(), format!("raised {}", call::describe(py, &e))))?;
    }
    let text: String = py
        .import(intern!(py, "json"))
        .and_then(|json| json.call_method1(intern!(py, "dumps"), (&value,)))
        .and_then(|text| text.extract())
        .map_err(|e| invalid("capabilities".into(), format!("must be a dict ({})", call::describe(py, &e))))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| invalid("capabilities".into(), e.to_string()))?;
    shape::parse(json).map_err(|e| invalid(format!("capabilities{}", e.path()), e.message().to_owned()))
}

/// `value` as JSON, for a host call's argument.
pub fn json(value: &(impl Serialize + ?Sized)) -> PlatformResult<Value> {
    serde_json::to_value(value).map_err(|e| PlatformError::new(format!("cannot pass an argument: {e}")))
}

/// The asyncio event loop running in this thread, or the private one outside a running loop.
fn running_loop(py: Python<'_>) -> PyResult<Py<PyAny>> {
    match py.import(intern!(py, "asyncio"))?.call_method0(intern!(py, "get_running_loop")) {
        Ok(running) => Ok(running.unbind()),
        Err(_) => private_loop(py),
    }
}

/// The private event loop of this process, `(process id, loop)`: a forked child starts its own
/// (the parent's thread does not exist there).
static PRIVATE_LOOP: Mutex<Option<(u32, Py<PyAny>)>> = Mutex::new(None);

/// Loco's private asyncio event loop, started on first use on a daemon thread
/// (`loco-host-platforms`), which runs the coroutines of platforms registered without a running
/// loop.
fn private_loop(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let pid = std::process::id();
    let existing = |py: Python<'_>| match &*PRIVATE_LOOP.lock().unwrap_or_else(PoisonError::into_inner) {
        Some((owner, running)) if *owner == pid => Some(running.clone_ref(py)),
        _ => None,
    };
    if let Some(running) = existing(py) {
        return Ok(running);
    }
    // Started without the lock held: starting a thread lets other Python threads run.
    let started = py.import(intern!(py, "asyncio"))?.call_method0(intern!(py, "new_event_loop"))?;
    let options = PyDict::new(py);
    options.set_item("target", started.getattr(intern!(py, "run_forever"))?)?;
    options.set_item("name", "loco-host-platforms")?;
    options.set_item("daemon", true)?;
    py.import(intern!(py, "threading"))?
        .getattr(intern!(py, "Thread"))?
        .call((), Some(&options))?
        .call_method0("start")?;
    let mut slot = PRIVATE_LOOP.lock().unwrap_or_else(PoisonError::into_inner);
    match &*slot {
        Some((owner, running)) if *owner == pid => {
            // Another thread started one meanwhile: use it, stop ours.
            let running = running.clone_ref(py);
            drop(slot);
            started.call_method1(intern!(py, "call_soon_threadsafe"), (started.getattr(intern!(py, "stop"))?,))?;
            Ok(running)
        }
        _ => {
            *slot = Some((pid, started.clone().unbind()));
            Ok(started.unbind())
        }
    }
}

/// The future every [`Platform`] method returns (what `async_trait` would write).
type Answer<'a, T> = Pin<Box<dyn Future<Output = PlatformResult<T>> + Send + 'a>>;

impl Platform for HostPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn test_connection<'s, 'a>(&'s self) -> Answer<'a, ()>
    where
        's: 'a,
        Self: 'a,
    {
        Box::pin(self.tell("test_connection", Vec::new()))
    }

    fn deploy<'s, 't, 'r, 'i, 'a>(
        &'s self,
        target: &'t Target,
        release: &'r ReleaseSpec,
        instance_ids: &'i [String],
    ) -> Answer<'a, Vec<Instance>>
    where
        's: 'a,
        't: 'a,
        'r: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move { self.ask("deploy", vec![json(target)?, json(release)?, json(instance_ids)?]).await })
    }

    fn set_traffic<'s, 't, 'w, 'a>(&'s self, target: &'t Target, split: &'w [TrafficWeight]) -> Answer<'a, ()>
    where
        's: 'a,
        't: 'a,
        'w: 'a,
        Self: 'a,
    {
        Box::pin(async move { self.tell("set_traffic", vec![json(target)?, json(split)?]).await })
    }

    fn stop<'s, 't, 'i, 'a>(&'s self, target: &'t Target, instances: &'i [Instance]) -> Answer<'a, ()>
    where
        's: 'a,
        't: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move { self.tell("stop", vec![json(target)?, json(instances)?]).await })
    }

    fn health<'s, 't, 'i, 'a>(&'s self, target: &'t Target, instance: &'i Instance) -> Answer<'a, InstanceHealth>
    where
        's: 'a,
        't: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let answer = call::call(&self.host, "health", vec![json(target)?, json(instance)?]).await?;
            // `"running"` is short for `{"state": "running"}`.
            let answer = match answer {
                Value::String(state) => serde_json::json!({ "state": state }),
                other => other,
            };
            read("health", answer)
        })
    }

    fn status<'s, 't, 'a>(&'s self, target: &'t Target) -> Answer<'a, PlatformStatus>
    where
        's: 'a,
        't: 'a,
        Self: 'a,
    {
        Box::pin(async move { self.ask("status", vec![json(target)?]).await })
    }

    fn restore<'s, 't, 'r, 'k, 'i, 'a>(
        &'s self,
        target: &'t Target,
        to: &'r ReleaseSpec,
        known: &'k [Instance],
        replacement_ids: &'i [String],
    ) -> Answer<'a, Vec<Instance>>
    where
        's: 'a,
        't: 'a,
        'r: 'a,
        'k: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            self.ask("restore", vec![json(target)?, json(to)?, json(known)?, json(replacement_ids)?]).await
        })
    }

    fn logs<'s, 't, 'i, 'a>(&'s self, target: &'t Target, instance_id: &'i str) -> Answer<'a, mpsc::Receiver<LogLine>>
    where
        's: 'a,
        't: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            if !self.has_logs {
                return Err(PlatformError::new(format!(
                    "platform '{}' keeps no logs (it has no logs() method)",
                    self.name
                )));
            }
            let lines: Vec<LogLine> =
                tokio::time::timeout(UNLIMITED_CALL_CEILING, self.ask("logs", vec![json(target)?, json(instance_id)?]))
                    .await
                    .map_err(|_| PlatformError::new("logs() did not answer in time"))??;
            let (tx, rx) = mpsc::channel(lines.len().max(1));
            for line in lines {
                // The channel has room for every line, and its receiver is still here.
                let _ = tx.try_send(line);
            }
            Ok(rx)
        })
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        self.metric_source.clone()
    }

    fn shutdown<'s, 'a>(&'s self) -> Answer<'a, ()>
    where
        's: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            if !self.has_shutdown {
                return Ok(());
            }
            tokio::time::timeout(UNLIMITED_CALL_CEILING, self.tell("shutdown", Vec::new()))
                .await
                .map_err(|_| PlatformError::new("shutdown() did not answer in time"))?
        })
    }

    fn plan_shares<'s, 't, 'v, 'h, 'a>(
        &'s self,
        target: &'t Target,
        version: &'v str,
        shares: &'h [u8],
    ) -> Answer<'a, ()>
    where
        's: 'a,
        't: 'a,
        'v: 'a,
        'h: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            if !self.has_plan_shares {
                return Ok(());
            }
            self.tell("plan_shares", vec![json(target)?, json(version)?, json(shares)?]).await
        })
    }
}

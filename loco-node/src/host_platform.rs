//! JavaScript objects as Loco platforms: [`HostPlatform`] implements the core's
//! [`Platform`](loco_core::Platform) trait by calling the methods of an object registered with
//! `Engine.open(path, { platforms: [obj] })`, `Engine.openInMemory({ platforms })` or
//! `engine.registerPlatform(obj)` (the contract is the `Platform` interface of `index.d.ts`).
//!
//! The orchestrator stays in charge: it decides every call and limits its time, exactly as for a
//! built-in adapter. Arguments reach JavaScript as Node records (camelCase keys: `platformId`;
//! the release is a document and keeps its snake_case keys, `secret_env` revealed as every
//! platform gets it); answers are read back as the core's types ([`shape`]), so a bad shape is a
//! `platform_error` naming the field. How a call travels to the JavaScript thread and back is in
//! [`call`]. An object with a `stats` method is also its own metric source for canary analysis
//! (`analysis.source: { type: 'platform' }`, [`metric_source`]).
//!
//! The same machinery calls the health probes ([`probe`]) and metric sources ([`metric_source`])
//! a host registers for plans to name as `{ type: 'host', name }`.

mod call;
pub(crate) mod js;
pub(crate) mod metric_source;
pub(crate) mod probe;
mod shape;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use loco_core::analysis::MetricSource;
use loco_core::platform::{
    Capabilities, Instance, InstanceHealth, LogLine, LogStream, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficWeight,
};
use loco_core::rollout::ReleaseSpec;
use loco_core::{Error as CoreError, FieldError};
use napi::bindgen_prelude::{Env, JsObjectValue, JsValue, Object, Unknown, ValueType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use self::call::{Callee, Host};
use self::js::Js;
use self::metric_source::HostMetricSource;
use crate::error::Failure;
use crate::value::Json;

/// The methods every host platform must have.
const REQUIRED: [&str; 7] = ["deploy", "setTraffic", "stop", "health", "status", "restore", "testConnection"];

/// The optional methods, each called only when the object has it.
const OPTIONAL: [&str; 4] = ["logs", "stats", "planShares", "shutdown"];

/// How long the calls no rollout limits (a log iterator's `next()`, `shutdown`) may take.
const UNLIMITED_CALL_CEILING: Duration = Duration::from_secs(60);

/// Log lines a follower may have waiting before the host's iterator is asked for more.
const LOG_BUFFER: usize = 256;

/// The host platforms of `platforms` (an array, or absent), their problems named from `field`
/// (`platforms[1].setTraffic`).
pub(crate) fn from_list(env: Env, platforms: Unknown, field: &str) -> Result<Vec<Arc<dyn Platform>>, Vec<FieldError>> {
    each(platforms, field, "platform objects", |item, at| from_object(env, item, at))
}

/// One host platform, its problems named from `field` (`platform` for `registerPlatform`'s
/// argument, whose problems are named bare: `name`, `setTraffic`, `capabilities.traffic`).
pub(crate) fn from_object(env: Env, object: Unknown, field: &str) -> Result<Arc<dyn Platform>, Vec<FieldError>> {
    let unreadable = |e: napi::Error| vec![FieldError::new(field, format!("could not be read: {}", e.reason))];
    let js = Js::new(&env).map_err(unreadable)?;
    HostPlatform::read(env, &js, object, field).map(|p| Arc::new(p) as Arc<dyn Platform>)
}

/// The metric sources of `sources` (an array, or absent), their problems named from `field`
/// (`metricSources[0].stats`).
pub(crate) fn metric_sources(
    env: Env,
    sources: Unknown,
    field: &str,
) -> Result<Vec<Arc<dyn MetricSource>>, Vec<FieldError>> {
    each(sources, field, "metric source objects", |item, at| {
        HostMetricSource::from_object(env, item, at).map(|s| Arc::new(s) as Arc<dyn MetricSource>)
    })
}

/// `read` applied to each item of the array `list` (none when it is absent), every problem kept.
fn each<T>(
    list: Unknown,
    field: &str,
    what: &str,
    read: impl Fn(Unknown, &str) -> Result<T, Vec<FieldError>>,
) -> Result<Vec<T>, Vec<FieldError>> {
    let kind = list.get_type();
    if matches!(kind, Ok(ValueType::Undefined | ValueType::Null)) {
        return Ok(Vec::new());
    }
    let items = (kind.is_ok_and(|k| k == ValueType::Object) && list.is_array().unwrap_or(false))
        .then(|| {
            let array: Object = list.coerce_to_object().ok()?;
            (0..array.get_array_length().ok()?)
                .map(|i| array.get_element::<Unknown>(i).ok())
                .collect::<Option<Vec<_>>>()
        })
        .flatten()
        .ok_or_else(|| vec![FieldError::new(field, format!("must be an array of {what}"))])?;
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match read(item, &format!("{field}[{i}]")) {
            Ok(one) => found.push(one),
            Err(more) => problems.extend(more),
        }
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
}

/// `checked` (what `Args::finish` gave) with the problems found in host objects added to its
/// `TypeError`, so that one error names every bad argument.
pub(crate) fn with_problems<T>(checked: Result<T, Failure>, problems: Vec<FieldError>) -> Result<T, Failure> {
    match checked {
        Ok(_) if !problems.is_empty() => Err(Failure::Argument(CoreError::Validation { details: problems })),
        Err(Failure::Argument(CoreError::Validation { mut details })) => {
            details.extend(problems);
            Err(Failure::Argument(CoreError::Validation { details }))
        }
        other => other,
    }
}

/// A platform whose work a JavaScript object does.
struct HostPlatform {
    name: String,
    capabilities: Capabilities,
    has: Optional,
    host: Arc<Host>,
    /// Its `stats` method, when it has one: the platform's own metrics for canary analysis.
    metric_source: Option<Arc<dyn MetricSource>>,
}

/// Which optional methods the object has.
#[derive(Clone, Copy)]
struct Optional {
    logs: bool,
    plan_shares: bool,
    shutdown: bool,
}

impl HostPlatform {
    /// Reads `object`'s `name` and `capabilities` (a property, or a method returning the object)
    /// and checks that it has every required method; every problem is named from `field`.
    fn read(env: Env, js: &Js, object: Unknown, field: &str) -> Result<Self, Vec<FieldError>> {
        let at = |name: &str| if field == "platform" { name.to_owned() } else { format!("{field}.{name}") };
        if !matches!(object.get_type(), Ok(ValueType::Object | ValueType::Function)) {
            return Err(vec![FieldError::new(field, "must be an object with the methods of a Platform")]);
        }
        let mut problems = Vec::new();
        let name = js.get(object, "name").and_then(js::text).ok().flatten().unwrap_or_default();
        if name.trim().is_empty() {
            problems.push(FieldError::new(at("name"), "must be a non-empty string: the name plans use"));
        }
        let shown = if name.is_empty() { "platform".to_owned() } else { format!("platform '{name}'") };
        let is_function =
            |method: &str| js.get(object, method).is_ok_and(|m| m.get_type().is_ok_and(|t| t == ValueType::Function));
        for method in REQUIRED.into_iter().filter(|m| !is_function(m)) {
            problems.push(FieldError::new(at(method), format!("{shown} has no {method}() method")));
        }
        let [logs, stats, plan_shares, shutdown] = OPTIONAL.map(is_function);
        let capabilities = match capabilities(js, object) {
            Ok(capabilities) => Some(capabilities),
            Err((path, message)) => {
                problems.push(FieldError::new(at(&format!("capabilities{path}")), message));
                None
            }
        };
        if let Some(capabilities) = capabilities {
            for (declared, present, capability, method) in
                [(capabilities.logs, logs, "logs", "logs"), (capabilities.metrics, stats, "metrics", "stats")]
            {
                if declared && !present {
                    problems.push(FieldError::new(
                        at(&format!("capabilities.{capability}")),
                        format!("is true but {shown} has no {method}() method"),
                    ));
                }
            }
        }
        let (Some(capabilities), true) = (capabilities, problems.is_empty()) else { return Err(problems) };
        let host = Arc::new(Host::new(env, object).map_err(|e| vec![FieldError::new(field, e.reason)])?);
        let metric_source =
            stats.then(|| Arc::new(HostMetricSource::new(name.clone(), Arc::clone(&host))) as Arc<dyn MetricSource>);
        Ok(Self { name, capabilities, has: Optional { logs, plan_shares, shutdown }, host, metric_source })
    }

    /// Calls `method` and reads its answer as a `T`.
    async fn ask<T: DeserializeOwned>(&self, method: &'static str, args: Vec<Json>) -> PlatformResult<T> {
        read(method, &self.call(method, args).await?)
    }

    /// Calls `method`, ignoring what it returns.
    async fn tell(&self, method: &'static str, args: Vec<Json>) -> PlatformResult<()> {
        self.call(method, args).await.map(drop)
    }

    async fn call(&self, method: &'static str, args: Vec<Json>) -> PlatformResult<Value> {
        self.host.call(Callee::Method(method), method, args).await
    }
}

/// `label`'s answer as a `T`; a bad shape names the field (`deploy() returned a bad shape:
/// result[1].state: is missing`).
fn read<T: DeserializeOwned>(label: &str, answer: &Value) -> PlatformResult<T> {
    shape::parse(answer.clone())
        .map_err(|e| PlatformError::new(format!("{label}() returned a bad shape: result{}: {}", e.path, e.message)))
}

/// The `capabilities` of `object`, checked by the core's type; `Err` is where and what is wrong.
fn capabilities(js: &Js, object: Unknown) -> Result<Capabilities, (String, String)> {
    let whole = |message: String| (String::new(), message);
    let mut value = js.get(object, "capabilities").map_err(|e| whole(format!("could not be read: {}", e.reason)))?;
    if value.get_type().is_ok_and(|t| t == ValueType::Function) {
        value = js.call(value, object, Vec::new()).map_err(|e| whole(format!("() threw {}", e.reason)))?;
    }
    match value.get_type() {
        Ok(ValueType::Undefined | ValueType::Null) => {
            return Err(whole("is missing (an object, or a method returning one)".to_owned()));
        }
        Ok(ValueType::Object) => {}
        _ => return Err(whole("must be an object (or a method returning one)".to_owned())),
    }
    let is_promise = js.get(value, "then").is_ok_and(|then| then.get_type().is_ok_and(|t| t == ValueType::Function));
    if is_promise {
        return Err(whole("must be an object, not a Promise: capabilities are read when registering".to_owned()));
    }
    let text = js
        .stringify(value)
        .map_err(|e| whole(format!("cannot be written as JSON: {}", e.reason)))?
        .unwrap_or_else(|| "null".to_owned());
    let json: Value = serde_json::from_str(&text).map_err(|e| whole(e.to_string()))?;
    shape::parse(json).map_err(|e| (e.path, e.message))
}

/// A record argument (camelCase keys, like every Node record).
fn record(value: &(impl Serialize + ?Sized)) -> PlatformResult<Json> {
    Json::of(value).map_err(argument)
}

/// A document argument (the release: snake_case keys, as in a plan).
fn document(value: &(impl Serialize + ?Sized)) -> PlatformResult<Json> {
    Json::of_document(value).map_err(argument)
}

fn argument(failure: Failure) -> PlatformError {
    let (Failure::Core(e) | Failure::Document(e) | Failure::Argument(e)) = failure;
    PlatformError::new(format!("cannot pass an argument: {e}"))
}

#[async_trait]
impl Platform for HostPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        self.tell("testConnection", Vec::new()).await
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        self.ask("deploy", vec![record(target)?, document(release)?, record(ids)?]).await
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        self.tell("setTraffic", vec![record(target)?, record(split)?]).await
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        self.tell("stop", vec![record(target)?, record(instances)?]).await
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let answer = self.call("health", vec![record(target)?, record(instance)?]).await?;
        // `'running'` is short for `{ state: 'running' }`.
        let answer = match answer {
            Value::String(state) => serde_json::json!({ "state": state }),
            other => other,
        };
        read("health", &answer)
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        self.ask("status", vec![record(target)?]).await
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        self.ask("restore", vec![record(target)?, document(to)?, record(known)?, record(replacement_ids)?]).await
    }

    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        if !self.has.logs {
            return Err(PlatformError::new(format!(
                "platform '{}' keeps no logs (it has no logs() method)",
                self.name
            )));
        }
        let iterator = self.host.iterate("logs", vec![record(target)?, record(instance_id)?]).await?;
        let (tx, rx) = mpsc::channel(LOG_BUFFER);
        tokio::spawn(follow(iterator, instance_id.to_owned(), tx));
        Ok(rx)
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        if !self.has.shutdown {
            return Ok(());
        }
        tokio::time::timeout(UNLIMITED_CALL_CEILING, self.tell("shutdown", Vec::new()))
            .await
            .map_err(|_| PlatformError::new("shutdown() did not answer in time"))?
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        self.metric_source.clone()
    }

    async fn plan_shares(&self, target: &Target, version: &str, shares: &[u8]) -> PlatformResult<()> {
        if !self.has.plan_shares {
            return Ok(());
        }
        self.tell("planShares", vec![record(target)?, record(version)?, record(shares)?]).await
    }
}

/// Forwards the lines of a host's log iterator until it ends or the follower stops listening
/// (then its `return()` lets a generator run its `finally`). A line may be a string (written to
/// stdout) or a `LogLine`-shaped object; a bad line or a failing `next()` ends the output with a
/// line on stderr saying why.
async fn follow(iterator: Host, instance_id: String, tx: mpsc::Sender<LogLine>) {
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(UNLIMITED_CALL_CEILING, iterator.call(Callee::Method("next"), "next", Vec::new())) => next,
            () = tx.closed() => {
                iterator.notify("return");
                return;
            }
        };
        let line = next
            .map_err(|_| PlatformError::new("next() did not answer in time"))
            .and_then(|next| next)
            .and_then(|next| log_line(&instance_id, &next));
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                let why = LogLine { instance_id, stream: LogStream::Stderr, line: format!("[loco] logs(): {e}") };
                // The follower may be gone too; then nobody is left to tell.
                let _ = tx.send(why).await;
                return;
            }
        };
        if tx.send(line).await.is_err() {
            iterator.notify("return");
            return;
        }
    }
}

/// The line an iterator result `{ done, value }` carries (`None` when done).
fn log_line(instance_id: &str, result: &Value) -> PlatformResult<Option<LogLine>> {
    #[derive(Deserialize)]
    struct Step {
        #[serde(default)]
        done: bool,
        #[serde(default)]
        value: Value,
    }
    let step: Step = read("next", result)?;
    if step.done {
        return Ok(None);
    }
    let line = match step.value {
        Value::String(line) => serde_json::json!({ "instanceId": instance_id, "stream": "stdout", "line": line }),
        Value::Object(mut fields) => {
            fields.entry("instanceId").or_insert_with(|| instance_id.into());
            fields.entry("stream").or_insert_with(|| "stdout".into());
            Value::Object(fields)
        }
        other => other,
    };
    read("logs", &line).map(Some)
}

//! [`HostProbe`]: a JavaScript function `(target, instance)` as a health probe, registered with
//! `Engine.open(path, { probes: { name: fn } })` or `engine.registerProbe(name, fn)` and named by
//! plans as `{ type: 'host', name }`. It passes when it returns (or resolves to) `undefined` or
//! `true`, and fails when it gives `false`, throws or rejects (the error, summarized, is why); the
//! health check's `timeout_seconds` limits each call.

use std::sync::Arc;

use async_trait::async_trait;
use loco_core::FieldError;
use loco_core::platform::extensions::HealthProbe;
use loco_core::platform::{Instance, PlatformError, PlatformResult, Target};
use napi::bindgen_prelude::{Env, Unknown, ValueType};

use super::call::{Callee, Host};
use super::js::{self, Js};
use super::{read, record};

/// A health probe whose check a JavaScript function makes.
pub(crate) struct HostProbe {
    name: String,
    /// The function's own name, for messages (`ready() returned false`); the probe's without one.
    label: String,
    host: Host,
}

impl HostProbe {
    /// The probe `name` calling `function`; problems are named from `field` (`probes.ready`; for
    /// `registerProbe`'s arguments, `name` and `probe`).
    pub(crate) fn new(env: Env, name: String, function: Unknown, field: &str) -> Result<Self, Vec<FieldError>> {
        let unreadable = |e: napi::Error| vec![FieldError::new(field, format!("could not be read: {}", e.reason))];
        if name.trim().is_empty() {
            let at = if field == "probe" { "name" } else { field };
            return Err(vec![FieldError::new(at, "a probe's name must not be empty")]);
        }
        if !function.get_type().is_ok_and(|t| t == ValueType::Function) {
            return Err(vec![FieldError::new(field, format!("probe '{name}' must be a function"))]);
        }
        let js = Js::new(&env).map_err(unreadable)?;
        let label = js.get(function, "name").and_then(js::text).ok().flatten().filter(|n| !n.is_empty());
        let host = Host::new(env, function).map_err(unreadable)?;
        Ok(Self { label: label.unwrap_or_else(|| name.clone()), name, host })
    }
}

/// The probes of `probes` (a `Record<string, HealthProbe>` as its entries).
pub(crate) fn from_entries(
    env: Env,
    entries: Vec<(String, Unknown)>,
    field: &str,
) -> Result<Vec<Arc<dyn HealthProbe>>, Vec<FieldError>> {
    let mut found: Vec<Arc<dyn HealthProbe>> = Vec::new();
    let mut problems = Vec::new();
    for (name, function) in entries {
        let at = format!("{field}.{name}");
        match HostProbe::new(env, name, function, &at) {
            Ok(probe) => found.push(Arc::new(probe)),
            Err(more) => problems.extend(more),
        }
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
}

#[async_trait]
impl HealthProbe for HostProbe {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self, target: &Target, instance: &Instance) -> PlatformResult<()> {
        let answer = self.host.call(Callee::Itself, &self.label, vec![record(target)?, record(instance)?]).await?;
        // `undefined` (a function without `return`) passes like `true`.
        match read::<Option<bool>>(&self.label, &answer)? {
            None | Some(true) => Ok(()),
            Some(false) => Err(PlatformError::new(format!("{}() returned false", self.label))),
        }
    }
}

//! What an embedding program plugs in besides platforms: named [`HealthProbe`]s (plans name
//! them as `{"type": "host", "name": …}` probes) and named metric sources (plans name them as
//! `{"type": "host", "name": …}` analysis sources), kept in one [`Extensions`] registry per
//! engine.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use crate::metrics::MetricSource;
use crate::{Instance, PlatformResult, Target};

/// A health check the host implements (a Python callable, a JavaScript function, or Rust code):
/// `Ok` when the instance serves, an error saying why not. The health check's time limit applies
/// to each call.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// The name plans use to ask for it.
    fn name(&self) -> &str;

    /// Checks one instance of `target`.
    async fn check(&self, target: &Target, instance: &Instance) -> PlatformResult<()>;
}

/// The named probes and metric sources registered with one engine.
#[derive(Default)]
pub struct Extensions {
    probes: RwLock<HashMap<String, Arc<dyn HealthProbe>>>,
    metric_sources: RwLock<HashMap<String, Arc<dyn MetricSource>>>,
}

impl Extensions {
    /// Registers `probe` under its name (replacing one of the same name).
    pub fn register_probe(&self, probe: Arc<dyn HealthProbe>) {
        let name = probe.name().to_owned();
        self.probes.write().unwrap_or_else(PoisonError::into_inner).insert(name, probe);
    }

    /// Registers `source` under its name (replacing one of the same name).
    pub fn register_metric_source(&self, source: Arc<dyn MetricSource>) {
        let name = source.name().to_owned();
        self.metric_sources.write().unwrap_or_else(PoisonError::into_inner).insert(name, source);
    }

    /// The probe registered as `name`.
    pub fn probe(&self, name: &str) -> Option<Arc<dyn HealthProbe>> {
        self.probes.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// The metric source registered as `name`.
    pub fn metric_source(&self, name: &str) -> Option<Arc<dyn MetricSource>> {
        self.metric_sources.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// The names of the registered probes, sorted.
    pub fn probe_names(&self) -> Vec<String> {
        sorted(self.probes.read().unwrap_or_else(PoisonError::into_inner).keys())
    }

    /// The names of the registered metric sources, sorted.
    pub fn metric_source_names(&self) -> Vec<String> {
        sorted(self.metric_sources.read().unwrap_or_else(PoisonError::into_inner).keys())
    }
}

fn sorted<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut names: Vec<String> = names.cloned().collect();
    names.sort();
    names
}

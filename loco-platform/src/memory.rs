//! [`MemoryPlatform`]: a simulated platform that keeps instances and traffic in memory, with
//! injectable faults. For tests and benchmarks of the orchestrator, and for embedders' own tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficControl, TrafficWeight,
};
use loco_types::plan::ReleaseSpec;

#[derive(Default)]
struct State {
    targets: HashMap<Target, SimTarget>,
    crashed_versions: HashSet<String>,
    failing_deploys: HashSet<String>,
    fail_rollbacks: bool,
    calls: Vec<String>,
}

#[derive(Default)]
struct SimTarget {
    traffic: Vec<TrafficWeight>,
    instances: BTreeMap<String, Instance>,
}

/// A platform simulated in memory.
pub struct MemoryPlatform {
    name: String,
    record_calls: bool,
    capabilities: Capabilities,
    state: Mutex<State>,
}

impl MemoryPlatform {
    /// A simulated platform registered under `name`, recording every call for [`calls`](Self::calls).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            record_calls: true,
            capabilities: Capabilities {
                traffic: TrafficControl::Percentage,
                native_rollback: false,
                logs: false,
                metrics: false,
            },
            state: Mutex::new(State::default()),
        }
    }

    /// The same platform declaring other capabilities (to test how plans are checked against
    /// what a platform can do); it still splits traffic by percentage internally.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The same without the call log, for benchmarks running many rollouts.
    pub fn without_call_log(name: impl Into<String>) -> Self {
        Self { record_calls: false, ..Self::new(name) }
    }

    /// From now on, instances of `version` report themselves exited.
    pub fn crash_version(&self, version: &str) {
        self.lock().crashed_versions.insert(version.to_owned());
    }

    /// From now on, deploying `version` fails.
    pub fn fail_deploys_of(&self, version: &str) {
        self.lock().failing_deploys.insert(version.to_owned());
    }

    /// Makes [`Platform::restore`] fail (or work again).
    pub fn fail_rollbacks(&self, fail: bool) {
        self.lock().fail_rollbacks = fail;
    }

    /// Every call made so far, e.g. `set_traffic api/prod 2.0.0=25,1.0.0=75`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The current traffic split of a target.
    pub fn traffic(&self, target: &Target) -> Vec<TrafficWeight> {
        self.lock().targets.get(target).map(|t| t.traffic.clone()).unwrap_or_default()
    }

    /// The running instances of a target.
    pub fn running(&self, target: &Target) -> Vec<Instance> {
        self.lock()
            .targets
            .get(target)
            .map(|t| t.instances.values().filter(|i| i.state == InstanceState::Running).cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a test panicked mid-call; the simulated state is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log(&self, state: &mut State, call: String) {
        if self.record_calls {
            state.calls.push(call);
        }
    }
}

fn start(target: &mut SimTarget, version: &str, ids: &[String]) -> Vec<Instance> {
    ids.iter()
        .map(|id| {
            let instance = Instance {
                id: id.clone(),
                version: version.to_owned(),
                address: None,
                pid: None,
                state: InstanceState::Running,
                platform_id: None,
            };
            target.instances.insert(id.clone(), instance.clone());
            instance
        })
        .collect()
}

#[async_trait]
impl Platform for MemoryPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        Ok(())
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        let mut state = self.lock();
        self.log(&mut state, format!("deploy {target} {} x{}", release.version, ids.len()));
        if state.failing_deploys.contains(&release.version) {
            return Err(PlatformError::new(format!("simulated deploy failure of {}", release.version)));
        }
        Ok(start(state.targets.entry(target.clone()).or_default(), &release.version, ids))
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let mut state = self.lock();
        let shown: Vec<String> = split.iter().map(|w| format!("{}={}", w.version, w.percent)).collect();
        self.log(&mut state, format!("set_traffic {target} {}", shown.join(",")));
        state.targets.entry(target.clone()).or_default().traffic = split.to_vec();
        Ok(())
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let mut state = self.lock();
        self.log(&mut state, format!("stop {target} x{}", instances.len()));
        if let Some(t) = state.targets.get_mut(target) {
            for i in instances {
                if let Some(known) = t.instances.get_mut(&i.id) {
                    known.state = InstanceState::Stopped;
                }
            }
        }
        Ok(())
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let state = self.lock();
        let known = state.targets.get(target).and_then(|t| t.instances.get(&instance.id));
        Ok(match known {
            Some(i) if i.state == InstanceState::Running && !state.crashed_versions.contains(&i.version) => {
                InstanceHealth::Running
            }
            Some(_) => InstanceHealth::Exited { reason: "simulated crash".to_owned() },
            None => InstanceHealth::Exited { reason: "unknown instance".to_owned() },
        })
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        let state = self.lock();
        let t = state.targets.get(target);
        Ok(PlatformStatus {
            endpoint: None,
            traffic: t.map(|t| t.traffic.clone()).unwrap_or_default(),
            instances: t.map(|t| t.instances.values().cloned().collect()).unwrap_or_default(),
        })
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let mut state = self.lock();
        self.log(&mut state, format!("restore {target} to {}", to.version));
        if state.fail_rollbacks {
            return Err(PlatformError::new("simulated rollback failure"));
        }
        let t = state.targets.entry(target.clone()).or_default();
        let mut serving: Vec<Instance> = known
            .iter()
            .filter_map(|k| t.instances.get(&k.id).filter(|i| i.state == InstanceState::Running).cloned())
            .collect();
        let missing = known.len().saturating_sub(serving.len()).max(usize::from(serving.is_empty()));
        let ids: Vec<String> = replacement_ids.iter().take(missing).cloned().collect();
        serving.extend(start(t, &to.version, &ids));
        Ok(serving)
    }

    async fn logs(&self, _target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        Err(PlatformError::new(format!("the memory platform keeps no logs (instance {instance_id})")))
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        let mut state = self.lock();
        self.log(&mut state, "shutdown".to_owned());
        for t in state.targets.values_mut() {
            for i in t.instances.values_mut() {
                i.state = InstanceState::Stopped;
            }
        }
        Ok(())
    }
}

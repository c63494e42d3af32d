//! [`ChaosPlatform`]: wraps any platform and injects faults into its calls — errors, hangs, slow
//! calls and instances that die — deterministically from a seed and within a budget, so a caller
//! (Loco's orchestrator, or a host testing its own adapter) can be driven through a bad day and
//! still be held to ending in a clean state.
//!
//! ```
//! use std::sync::Arc;
//! use loco_platform::chaos::{ChaosConfig, ChaosPlatform, Faults};
//! use loco_platform::memory::MemoryPlatform;
//!
//! let inner = Arc::new(MemoryPlatform::new("sim"));
//! let config = ChaosConfig::new(42)
//!     .budget(3)
//!     .rollout_faults(Faults { error: 0.1, hang: 0.05, slow: 0.1 })
//!     .deaths(0.2, 3);
//! let chaos = ChaosPlatform::new(inner, config);
//! // Register `chaos` with the engine in place of the platform it wraps (it keeps its name), run
//! // rollouts, then look at what was injected:
//! assert!(chaos.injected().is_empty());
//! ```
//!
//! # The fault model
//!
//! - **Per operation** ([`Operation`]), a call draws one number and gets at most one fault: an
//!   **error** (a [`PlatformError`]), a **hang** (the call sleeps [`ChaosConfig::hang`], an hour by
//!   default — longer than any sensible time limit — then goes on), or a **slow call** (delayed by
//!   up to [`ChaosConfig::latency`], then made). Chances come from [`ChaosConfig::faults`].
//! - An error or a hang strikes **before** the wrapped call (nothing happened) or **after** it
//!   (it took effect, but the caller never hears so): [`ChaosConfig::after_effect`] is the share of
//!   the latter. A caller must cope with both, e.g. by recording instance ids before `deploy`.
//! - **Instances die**: each instance `deploy` or `restore` returns (of the versions in
//!   [`ChaosConfig::death_versions`], or any) is doomed with chance [`ChaosConfig::deaths`], and
//!   dies at one of its first [`ChaosConfig::die_within`] health queries: it is stopped on the
//!   wrapped platform (so it is gone for every later call, as a crashed process is) and reports
//!   [`InstanceHealth::Exited`] from then on. Deaths happen when the caller asks, so every death is
//!   one the caller sees — a test can demand the outcome.
//! - **Bounded**: at most [`ChaosConfig::budget`] faults (of every kind, deaths included) per
//!   wrapper; after that every call, including those that restore a release, is the wrapped
//!   platform's own. A caller that retries what failed can therefore always finish, and a test can
//!   require that it does.
//! - **Deterministic**: whether a call gets a fault depends only on the seed, the operation and how
//!   many calls of that operation came before (and for deaths, how many instances were returned
//!   before), so the same sequence of calls gets the same faults, whatever the timing.
//! - [`ChaosPlatform::set_armed`] turns injection off (calls pass through, uncounted) and on;
//!   [`ChaosPlatform::injected`] lists what was injected, for test messages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use tokio::sync::mpsc;

use crate::metrics::MetricSource;
use crate::{
    Capabilities, Instance, InstanceHealth, LogLine, Platform, PlatformError, PlatformResult, PlatformStatus, Target,
    TrafficWeight,
};

/// A [`Platform`] call a fault can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// [`Platform::test_connection`].
    TestConnection,
    /// [`Platform::deploy`].
    Deploy,
    /// [`Platform::set_traffic`].
    SetTraffic,
    /// [`Platform::stop`].
    Stop,
    /// [`Platform::health`].
    Health,
    /// [`Platform::status`].
    Status,
    /// [`Platform::restore`].
    Restore,
    /// [`Platform::logs`].
    Logs,
    /// [`Platform::shutdown`].
    Shutdown,
    /// [`Platform::take_failovers`].
    TakeFailovers,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 10] = [
        Operation::TestConnection,
        Operation::Deploy,
        Operation::SetTraffic,
        Operation::Stop,
        Operation::Health,
        Operation::Status,
        Operation::Restore,
        Operation::Logs,
        Operation::Shutdown,
        Operation::TakeFailovers,
    ];

    /// The operations a rollout calls (all but `test_connection`, `logs` and `shutdown`).
    pub const ROLLOUT: [Operation; 7] = [
        Operation::Deploy,
        Operation::SetTraffic,
        Operation::Stop,
        Operation::Health,
        Operation::Status,
        Operation::Restore,
        Operation::TakeFailovers,
    ];

    /// The method's name (`deploy`, `set_traffic`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::TestConnection => "test_connection",
            Operation::Deploy => "deploy",
            Operation::SetTraffic => "set_traffic",
            Operation::Stop => "stop",
            Operation::Health => "health",
            Operation::Status => "status",
            Operation::Restore => "restore",
            Operation::Logs => "logs",
            Operation::Shutdown => "shutdown",
            Operation::TakeFailovers => "take_failovers",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The chances that one call of an operation fails, hangs or is slow (each 0–1; their sum at
/// most 1, as one draw decides between them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Chance of an error.
    pub error: f64,
    /// Chance of a hang.
    pub hang: f64,
    /// Chance of a slow call.
    pub slow: f64,
}

/// What a [`ChaosPlatform`] injects, and how much of it; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosConfig {
    /// Seed of every decision.
    pub seed: u64,
    /// Faults injected at most, deaths included (default 3).
    pub budget: u32,
    /// Fault chances per operation (none for an operation not listed).
    pub faults: BTreeMap<Operation, Faults>,
    /// Share of errors and hangs that strike after the wrapped call took effect (default 0.5).
    pub after_effect: f64,
    /// Longest delay of a slow call (default 50 ms); each is delayed by a share of it.
    pub latency: Duration,
    /// How long a hung call sleeps before it goes on (default one hour).
    pub hang: Duration,
    /// Chance that an instance returned by `deploy` or `restore` is doomed to die (default 0).
    pub deaths: f64,
    /// Only instances of these versions are doomed (any version when empty).
    pub death_versions: Vec<String>,
    /// A doomed instance dies at one of its first this many health queries (default 3, at least 1).
    pub die_within: u32,
}

impl ChaosConfig {
    /// No faults yet, a budget of 3, seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            budget: 3,
            faults: BTreeMap::new(),
            after_effect: 0.5,
            latency: Duration::from_millis(50),
            hang: Duration::from_secs(3600),
            deaths: 0.0,
            death_versions: Vec::new(),
            die_within: 3,
        }
    }

    /// Injects at most `faults` faults.
    #[must_use]
    pub fn budget(mut self, faults: u32) -> Self {
        self.budget = faults;
        self
    }

    /// Sets the fault chances of one operation.
    #[must_use]
    pub fn faults(mut self, operation: Operation, faults: Faults) -> Self {
        self.faults.insert(operation, faults);
        self
    }

    /// Sets the same fault chances for every operation a rollout calls ([`Operation::ROLLOUT`]).
    #[must_use]
    pub fn rollout_faults(mut self, faults: Faults) -> Self {
        for operation in Operation::ROLLOUT {
            self.faults.insert(operation, faults);
        }
        self
    }

    /// Dooms each instance `deploy` or `restore` returns with chance `chance`, to die at one of its
    /// first `within` health queries.
    #[must_use]
    pub fn deaths(mut self, chance: f64, within: u32) -> Self {
        self.deaths = chance;
        self.die_within = within;
        self
    }
}

/// A fault that was injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    /// The operation it struck.
    pub operation: Operation,
    /// Which call of that operation it was (0-based, counting armed calls only).
    pub call: u64,
    /// What it was.
    pub kind: FaultKind,
}

/// The kinds of fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The call failed; with `after_effect`, after the wrapped call took effect.
    Error {
        /// The wrapped call was made (and its result dropped).
        after_effect: bool,
    },
    /// The call hung for [`ChaosConfig::hang`]; with `after_effect`, after the wrapped call.
    Hang {
        /// The wrapped call was made before the hang.
        after_effect: bool,
    },
    /// The call was delayed, then made.
    Slow {
        /// By how much.
        by: Duration,
    },
    /// An instance died at this health query.
    Death {
        /// The instance.
        instance_id: String,
        /// Its version.
        version: String,
    },
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}: ", self.operation, self.call)?;
        let when = |after: bool| if after { "after the call took effect" } else { "before the call" };
        match &self.kind {
            FaultKind::Error { after_effect } => write!(f, "error {}", when(*after_effect)),
            FaultKind::Hang { after_effect } => write!(f, "hang {}", when(*after_effect)),
            FaultKind::Slow { by } => write!(f, "slow by {by:?}"),
            FaultKind::Death { instance_id, version } => write!(f, "instance {instance_id} of {version} died"),
        }
    }
}

/// What one call gets.
enum Fault {
    None,
    Error { after_effect: bool, call: u64 },
    Hang { after_effect: bool },
    Slow(Duration),
}

#[derive(Default)]
struct State {
    armed: bool,
    spent: u32,
    calls: [u64; Operation::ALL.len()],
    /// Instances returned by `deploy` or `restore` so far, in order (their index seeds their fate).
    returned: u64,
    considered: HashSet<String>,
    /// Doomed instances and the health queries each has left; it dies at the last.
    doomed: HashMap<String, u32>,
    dead: HashSet<String>,
    injected: Vec<InjectedFault>,
}

/// A platform that injects faults into the calls it passes to another; see the
/// [module documentation](self).
pub struct ChaosPlatform {
    inner: Arc<dyn Platform>,
    config: ChaosConfig,
    state: Mutex<State>,
}

/// Decisions about instance deaths draw from their own stream, apart from the operations'.
const DEATH_STREAM: u64 = 0xDEAD;

impl ChaosPlatform {
    /// Wraps `inner` (keeping its name), armed.
    pub fn new(inner: Arc<dyn Platform>, config: ChaosConfig) -> Self {
        Self { inner, config, state: Mutex::new(State { armed: true, ..State::default() }) }
    }

    /// Turns injection on or off; while off, calls pass through and are not counted.
    pub fn set_armed(&self, armed: bool) {
        self.lock().armed = armed;
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> Vec<InjectedFault> {
        self.lock().injected.clone()
    }

    /// Faults that may still be injected.
    pub fn remaining_budget(&self) -> u32 {
        self.config.budget.saturating_sub(self.lock().spent)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a caller panicked mid-call; the counters are still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A number in [0, 1) that depends only on the seed and `parts`.
    fn draw(&self, parts: [u64; 3]) -> f64 {
        let bits = parts.iter().fold(self.config.seed, |h, p| splitmix64(h ^ splitmix64(*p)));
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides (and counts) the fault of the next call of `operation`.
    fn decide(&self, operation: Operation) -> Fault {
        let mut state = self.lock();
        if !state.armed {
            return Fault::None;
        }
        let call = state.calls[operation as usize];
        state.calls[operation as usize] += 1;
        if state.spent >= self.config.budget {
            return Fault::None;
        }
        let chances = self.config.faults.get(&operation).copied().unwrap_or_default();
        let op = operation as u64;
        let roll = self.draw([op, call, 0]);
        let after_effect = self.draw([op, call, 1]) < self.config.after_effect;
        let (fault, kind) = if roll < chances.error {
            (Fault::Error { after_effect, call }, FaultKind::Error { after_effect })
        } else if roll < chances.error + chances.hang {
            (Fault::Hang { after_effect }, FaultKind::Hang { after_effect })
        } else if roll < chances.error + chances.hang + chances.slow {
            let by = self.config.latency.mul_f64(self.draw([op, call, 2]));
            (Fault::Slow(by), FaultKind::Slow { by })
        } else {
            return Fault::None;
        };
        state.spent += 1;
        let injected = InjectedFault { operation, call, kind };
        tracing::debug!(platform = self.inner.name(), fault = %injected, "chaos: fault injected");
        state.injected.push(injected);
        fault
    }

    /// Makes the call `call` (a wrapped platform call, not yet started) with the next fault of
    /// `operation`.
    async fn call<T>(&self, operation: Operation, call: impl Future<Output = PlatformResult<T>>) -> PlatformResult<T> {
        match self.decide(operation) {
            Fault::None => call.await,
            Fault::Slow(by) => {
                tokio::time::sleep(by).await;
                call.await
            }
            Fault::Error { after_effect, call: n } => {
                if after_effect {
                    drop(call.await);
                }
                Err(PlatformError::new(format!("chaos: injected failure of {operation} (call {n})")))
            }
            Fault::Hang { after_effect: true } => {
                let result = call.await;
                tokio::time::sleep(self.config.hang).await;
                result
            }
            Fault::Hang { after_effect: false } => {
                tokio::time::sleep(self.config.hang).await;
                call.await
            }
        }
    }

    /// Decides the fate of instances returned for the first time.
    fn consider(&self, instances: &[Instance]) {
        let mut state = self.lock();
        if !state.armed {
            return;
        }
        for instance in instances {
            if !state.considered.insert(instance.id.clone()) {
                continue;
            }
            let index = state.returned;
            state.returned += 1;
            let eligible =
                self.config.death_versions.is_empty() || self.config.death_versions.contains(&instance.version);
            if eligible && self.draw([DEATH_STREAM, index, 0]) < self.config.deaths {
                let within = self.config.die_within.max(1);
                let at = 1 + (self.draw([DEATH_STREAM, index, 1]) * f64::from(within)) as u32;
                state.doomed.insert(instance.id.clone(), at.min(within));
            }
        }
    }

    /// Whether `instance` is dead, or dies at this health query (spending the budget).
    fn dies(&self, instance: &Instance) -> (bool, bool) {
        let mut state = self.lock();
        if state.dead.contains(&instance.id) {
            return (true, false);
        }
        if !state.armed {
            return (false, false);
        }
        let Some(left) = state.doomed.get_mut(&instance.id) else { return (false, false) };
        *left -= 1;
        if *left > 0 {
            return (false, false);
        }
        state.doomed.remove(&instance.id);
        if state.spent >= self.config.budget {
            return (false, false);
        }
        state.spent += 1;
        state.dead.insert(instance.id.clone());
        let call = state.calls[Operation::Health as usize];
        let kind = FaultKind::Death { instance_id: instance.id.clone(), version: instance.version.clone() };
        let injected = InjectedFault { operation: Operation::Health, call, kind };
        tracing::debug!(platform = self.inner.name(), fault = %injected, "chaos: fault injected");
        state.injected.push(injected);
        (true, true)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[async_trait]
impl Platform for ChaosPlatform {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn plan_shares(&self, target: &Target, version: &str, shares: &[u8]) -> PlatformResult<()> {
        self.inner.plan_shares(target, version, shares).await
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        self.call(Operation::TestConnection, self.inner.test_connection()).await
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        let started = self.call(Operation::Deploy, self.inner.deploy(target, release, ids)).await?;
        self.consider(&started);
        Ok(started)
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        self.call(Operation::SetTraffic, self.inner.set_traffic(target, split)).await
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        self.call(Operation::Stop, self.inner.stop(target, instances)).await
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        match self.dies(instance) {
            (true, died_now) => {
                if died_now {
                    // Gone for every later call too, as a crashed process is.
                    drop(self.inner.stop(target, std::slice::from_ref(instance)).await);
                }
                Ok(InstanceHealth::Exited { reason: "chaos: the instance died".to_owned() })
            }
            (false, _) => self.call(Operation::Health, self.inner.health(target, instance)).await,
        }
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        self.call(Operation::Status, self.inner.status(target)).await
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let restored = self.call(Operation::Restore, self.inner.restore(target, to, known, replacement_ids)).await?;
        self.consider(&restored);
        Ok(restored)
    }

    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        self.call(Operation::Logs, self.inner.logs(target, instance_id)).await
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        self.call(Operation::Shutdown, self.inner.shutdown()).await
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        self.inner.metric_source()
    }

    fn instances_die_with_engine(&self) -> bool {
        self.inner.instances_die_with_engine()
    }

    async fn take_failovers(&self, target: &Target) -> PlatformResult<Vec<(String, u64)>> {
        self.call(Operation::TakeFailovers, self.inner.take_failovers(target)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryPlatform;

    fn target() -> Target {
        Target { service: "api".into(), environment: "prod".into() }
    }

    fn release(version: &str) -> ReleaseSpec {
        ReleaseSpec { version: version.into(), ..ReleaseSpec::default() }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ins_{i}")).collect()
    }

    /// The outcome of 50 `set_traffic` calls: `true` for the ones that failed.
    async fn failures(chaos: &ChaosPlatform) -> Vec<bool> {
        let mut failed = Vec::new();
        for _ in 0..50 {
            failed.push(chaos.set_traffic(&target(), &[]).await.is_err());
        }
        failed
    }

    #[tokio::test]
    async fn the_same_seed_injects_the_same_faults_within_the_budget() {
        let config =
            ChaosConfig::new(7).budget(4).faults(Operation::SetTraffic, Faults { error: 0.3, ..Faults::default() });
        let a = ChaosPlatform::new(Arc::new(MemoryPlatform::new("sim")), config.clone());
        let b = ChaosPlatform::new(Arc::new(MemoryPlatform::new("sim")), config);
        let (fa, fb) = (failures(&a).await, failures(&b).await);
        assert_eq!(fa, fb);
        assert_eq!(fa.iter().filter(|f| **f).count(), 4, "the budget caps the faults: {fa:?}");
        assert_eq!(a.remaining_budget(), 0);
        assert_eq!(a.injected(), b.injected());
        let other = ChaosPlatform::new(
            Arc::new(MemoryPlatform::new("sim")),
            ChaosConfig::new(8).budget(4).faults(Operation::SetTraffic, Faults { error: 0.3, ..Faults::default() }),
        );
        assert_ne!(failures(&other).await, fa, "another seed, other faults");
    }

    #[tokio::test]
    async fn an_error_after_the_effect_changes_the_platform_but_reports_failure() {
        let inner = Arc::new(MemoryPlatform::new("sim"));
        let config = ChaosConfig { after_effect: 1.0, ..ChaosConfig::new(1) }
            .faults(Operation::Deploy, Faults { error: 1.0, ..Faults::default() });
        let chaos = ChaosPlatform::new(inner.clone(), config);
        assert!(chaos.deploy(&target(), &release("v1"), &ids(2)).await.is_err());
        assert_eq!(inner.running(&target()).len(), 2, "the instances started all the same");
    }

    #[tokio::test]
    async fn a_hang_outlasts_a_time_limit_and_a_disarmed_platform_passes_calls_through() {
        let inner = Arc::new(MemoryPlatform::new("sim"));
        let config = ChaosConfig::new(3).faults(Operation::Status, Faults { hang: 1.0, ..Faults::default() });
        let chaos = ChaosPlatform::new(inner, config);
        let limit = Duration::from_millis(50);
        assert!(tokio::time::timeout(limit, chaos.status(&target())).await.is_err());
        chaos.set_armed(false);
        assert!(tokio::time::timeout(limit, chaos.status(&target())).await.is_ok());
        assert_eq!(chaos.injected().len(), 1);
    }

    #[tokio::test]
    async fn a_doomed_instance_dies_at_a_health_query_and_stays_dead() {
        let inner = Arc::new(MemoryPlatform::new("sim"));
        let chaos = ChaosPlatform::new(inner.clone(), ChaosConfig::new(5).deaths(1.0, 1));
        let started = chaos.deploy(&target(), &release("v1"), &ids(1)).await.unwrap();
        assert_eq!(inner.running(&target()).len(), 1);
        let health = chaos.health(&target(), &started[0]).await.unwrap();
        assert!(matches!(health, InstanceHealth::Exited { .. }), "{health:?}");
        assert!(inner.running(&target()).is_empty(), "stopped on the wrapped platform");
        chaos.set_armed(false);
        assert!(matches!(chaos.health(&target(), &started[0]).await.unwrap(), InstanceHealth::Exited { .. }));
        let restored = chaos.restore(&target(), &release("v1"), &started, &ids(2)[1..]).await.unwrap();
        assert_eq!(restored[0].id, "ins_1", "restoring replaced the dead instance");
        assert_eq!(chaos.health(&target(), &restored[0]).await.unwrap(), InstanceHealth::Running);
    }

    #[tokio::test]
    async fn deaths_count_against_the_budget_and_respect_the_versions() {
        let inner = Arc::new(MemoryPlatform::new("sim"));
        let config = ChaosConfig { death_versions: vec!["v2".into()], ..ChaosConfig::new(9).budget(1).deaths(1.0, 1) };
        let chaos = ChaosPlatform::new(inner, config);
        let v1 = chaos.deploy(&target(), &release("v1"), &ids(1)).await.unwrap();
        let v2 = chaos.deploy(&target(), &release("v2"), &ids(3)[1..]).await.unwrap();
        assert_eq!(chaos.health(&target(), &v1[0]).await.unwrap(), InstanceHealth::Running, "v1 is spared");
        let mut exited = 0;
        for instance in &v2 {
            if chaos.health(&target(), instance).await.unwrap() != InstanceHealth::Running {
                exited += 1;
            }
        }
        assert_eq!(exited, 1, "one death fits the budget");
    }
}

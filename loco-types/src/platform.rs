//! What platforms run and report: targets, instances, traffic splits, instance health, platform
//! status and log lines — the facts the orchestrator records and every surface shows.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a release runs: one service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The service name.
    pub service: String,
    /// The environment name.
    pub environment: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.environment)
    }
}

/// Lifecycle of one instance as the engine records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Its id is recorded; the platform may or may not have started it yet.
    Starting,
    /// The platform started it.
    Running,
    /// The platform stopped it (retired, rolled back or crashed).
    Stopped,
}

/// One running copy of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Instance {
    /// Chosen by the orchestrator (`ins_` + ULID) before the platform starts it.
    pub id: String,
    /// The release version it runs.
    pub version: String,
    /// Where it listens (`host:port`), when the platform exposes it.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub address: Option<String>,
    /// The process id, for platforms that run local processes.
    #[schemars(with = "crate::schema::Nullable<u32>")]
    pub pid: Option<u32>,
    /// What the engine last recorded about it.
    pub state: InstanceState,
    /// The platform's own id for it (a Fly machine id, a Render deploy id), once the platform
    /// created it; `null` on platforms whose instances are Loco's own (local processes). Records
    /// written before it existed read as `null`.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub platform_id: Option<String>,
}

/// A share of traffic for one release version, in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrafficWeight {
    /// The release version.
    pub version: String,
    /// Its share, 0–100; the shares of one split add up to 100.
    pub percent: u8,
}

/// What the platform says about one instance right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstanceHealth {
    /// Running as far as the platform can tell (probes decide whether it serves well).
    Running,
    /// Gone: the process exited or the platform lost it.
    Exited {
        /// Why, as the platform reports it (exit code, signal, platform status).
        reason: String,
    },
}

/// The platform's view of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlatformStatus {
    /// Where clients reach the target (the local proxy's address, a public URL), if any.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub endpoint: Option<String>,
    /// The current traffic split.
    pub traffic: Vec<TrafficWeight>,
    /// Instances the platform manages for the target.
    pub instances: Vec<Instance>,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of instance output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// The instance that wrote it.
    pub instance_id: String,
    /// Which stream.
    pub stream: LogStream,
    /// The text, without the trailing newline.
    pub line: String,
}

/// The result of checking one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthOutcome {
    /// The instance checked.
    pub instance_id: String,
    /// Whether every probe passed.
    pub ok: bool,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// What was checked.
    pub probes: Vec<String>,
    /// The last failure, or what passed.
    pub detail: String,
    /// The instance is gone (no retry can help).
    pub exited: bool,
    /// Wall time of the whole check, in milliseconds.
    pub duration_ms: u64,
}

/// How a platform can divide a target's traffic between two releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrafficControl {
    /// Any whole percentage (the local proxy; Vercel rolling releases).
    Percentage,
    /// By instance count: a version's share is the share of routable instances that run it (Fly
    /// machines, routed or not by cordon/uncordon). Shares are rounded to what whole instances
    /// can give.
    InstanceCount,
    /// None: a new deploy replaces the serving one at once when it is live (Render, Railway).
    AtomicSwap,
}

impl TrafficControl {
    /// The name used in documents and messages (`percentage`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficControl::Percentage => "percentage",
            TrafficControl::InstanceCount => "instance_count",
            TrafficControl::AtomicSwap => "atomic_swap",
        }
    }
}

/// What a platform can do; the orchestrator refuses a plan that needs more, naming the capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capabilities {
    /// How traffic can be divided between releases.
    pub traffic: TrafficControl,
    /// The platform can go back to an earlier release by itself (a Render rollback, a Fly image
    /// update), without Loco starting it from the recorded spec.
    pub native_rollback: bool,
    /// Instance output can be followed (`logs`).
    pub logs: bool,
    /// The platform measures per-version request metrics for canary analysis.
    pub metrics: bool,
}

impl Capabilities {
    /// The local platform's: percentage split by its proxy, logs and metrics of its own.
    pub const LOCAL: Capabilities =
        Capabilities { traffic: TrafficControl::Percentage, native_rollback: false, logs: true, metrics: true };

    /// Whether `strategy` can run here, as is or mapped explicitly; `Err` says why not, naming
    /// the capability (for a `validation_error` on `strategy`).
    pub fn check(&self, platform: &str, strategy: &crate::plan::Strategy, instances: u32) -> Result<(), String> {
        use crate::plan::Strategy;
        let traffic = self.traffic.as_str();
        match (strategy, self.traffic) {
            // Both releases run side by side everywhere; only the switch differs (on an atomic-swap
            // platform it happens when the new deploy is live).
            (Strategy::Immediate {} | Strategy::BlueGreen { .. }, _)
            | (_, TrafficControl::Percentage)
            | (Strategy::Rolling { .. }, TrafficControl::InstanceCount) => Ok(()),
            (Strategy::Canary { .. }, TrafficControl::InstanceCount) if instances >= 2 => Ok(()),
            (Strategy::Canary { .. }, TrafficControl::InstanceCount) => Err(format!(
                "platform '{platform}' splits traffic by instance count (traffic: {traffic}): a canary needs \
                 instances >= 2 so that old and new instances can serve side by side"
            )),
            (Strategy::Rolling { .. } | Strategy::Canary { .. }, TrafficControl::AtomicSwap) => Err(format!(
                "platform '{platform}' cannot split traffic (traffic: {traffic}): a new deploy replaces the serving \
                 one at once, so the {} strategy cannot run there; use immediate or blue_green",
                strategy.name()
            )),
        }
    }
}

#[cfg(test)]
mod capability_tests {
    use super::*;
    use crate::plan::Strategy;

    #[test]
    fn atomic_swap_platforms_refuse_canary_and_rolling_naming_the_capability() {
        let render = Capabilities { traffic: TrafficControl::AtomicSwap, ..Capabilities::LOCAL };
        let canary = Strategy::Canary { steps: vec![10, 50], interval_seconds: 1.0 };
        let err = render.check("render-prod", &canary, 2).unwrap_err();
        assert!(err.contains("traffic: atomic_swap") && err.contains("canary"), "{err}");
        let rolling = Strategy::Rolling { max_surge: 1, max_unavailable: 0 };
        assert!(render.check("render-prod", &rolling, 2).unwrap_err().contains("rolling"));
        assert_eq!(render.check("render-prod", &Strategy::Immediate {}, 1), Ok(()));
        assert_eq!(render.check("render-prod", &Strategy::BlueGreen { switch_delay_seconds: 0.0 }, 1), Ok(()));
    }

    #[test]
    fn instances_recorded_before_platform_ids_existed_still_read() {
        let old = r#"{"id": "ins_1", "version": "v1", "address": null, "pid": 7, "state": "running"}"#;
        let instance: Instance = serde_json::from_str(old).unwrap();
        assert_eq!((instance.pid, instance.platform_id), (Some(7), None));
    }

    #[test]
    fn instance_count_platforms_map_canary_only_with_two_instances() {
        let fly = Capabilities { traffic: TrafficControl::InstanceCount, ..Capabilities::LOCAL };
        let canary = Strategy::Canary { steps: vec![25], interval_seconds: 1.0 };
        assert!(fly.check("fly", &canary, 1).unwrap_err().contains("instance_count"));
        assert_eq!(fly.check("fly", &canary, 4), Ok(()));
        assert_eq!(Capabilities::LOCAL.check("local", &canary, 1), Ok(()));
    }
}

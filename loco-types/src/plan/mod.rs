//! What a rollout should do: the release to run, the strategy, the instance count and the health
//! checks, the analysis and the scripts — parsed from JSON and validated here, once, for every
//! surface.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};

mod analysis;
mod scripts;
mod validation;

pub use analysis::{AnalysisSpec, MetricSourceSpec, PrometheusQueries, PrometheusSpec};
pub use scripts::{Hook, LOCO_SCRIPT_ENV, MAX_SCRIPT_SECONDS, ScriptHooks, ScriptLanguage, ScriptSpec};
pub use validation::{
    ArtifactCheck, CheckKind, CheckSummary, ConfigCheck, ConfigFormat, DEFAULT_ENTROPY_THRESHOLD, DependencyScan,
    Finding, MAX_FINDINGS, ScanFormat, SecretScan, Severity, ValidationReport, ValidationSpec, is_sha256_hex,
};

/// Longest monitoring window after full promotion (30 minutes, from the requirements).
pub const MAX_MONITOR_SECONDS: f64 = 1800.0;
/// Longest observation or switch delay a plan may ask for (one day).
pub const MAX_WAIT_SECONDS: f64 = 86_400.0;
/// Most instances one rollout may run.
pub const MAX_INSTANCES: u32 = 100;

/// How to run one release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSpec {
    /// The version label; when empty, the deployment's version is used.
    #[serde(default)]
    pub version: String,
    /// For the local platform: the program and its arguments. Each instance gets `PORT`,
    /// `LOCO_INSTANCE_ID`, `LOCO_VERSION` and `LOCO_SERVICE` in its environment.
    #[serde(default)]
    pub command: Vec<String>,
    /// Extra environment variables for every instance.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// For cloud platforms: the image or source reference to deploy.
    #[serde(default)]
    pub image: Option<String>,
    /// For platforms that build from git (Render): the commit to deploy.
    #[serde(default)]
    pub commit: Option<String>,
    /// A service registered by an admin whose command (and working directory, and command
    /// probes) this release runs; plans sent over the network must name one instead of a command.
    #[serde(default)]
    pub service: Option<String>,
    /// For the local platform: the directory the command runs in (the engine's when absent).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Environment variables whose values are secrets: sealed (AES-256-GCM) before they are
    /// stored, revealed only to the platform, and shown everywhere as `"***"`.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
}

/// What every surface shows instead of a secret value.
pub const REDACTED: &str = "***";

impl ReleaseSpec {
    /// This spec with every secret value replaced by [`REDACTED`].
    #[must_use]
    pub fn redacted(mut self) -> Self {
        for value in self.secret_env.values_mut() {
            REDACTED.clone_into(value);
        }
        self
    }
}

/// How traffic moves from the old release to the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Start the new release, check it, send it all traffic, stop the old one.
    Immediate {},
    /// Replace instances in batches, keeping at most `instances + max_surge` running and at least
    /// `instances - max_unavailable` serving.
    Rolling {
        /// Extra instances allowed above the desired count during the rollout.
        max_surge: u32,
        /// Instances allowed to be missing below the desired count during the rollout.
        max_unavailable: u32,
    },
    /// Start the whole new release beside the old one, check it, wait, switch all traffic at once.
    BlueGreen {
        /// Wait between the new release passing its checks and the switch.
        #[serde(default)]
        switch_delay_seconds: f64,
    },
    /// Send growing shares of traffic to the new release, observing each for `interval_seconds`,
    /// then promote it to 100 %.
    Canary {
        /// Traffic percentages, strictly increasing, each 1–100.
        steps: Vec<u8>,
        /// How long each step is observed before the next.
        interval_seconds: f64,
    },
}

impl Strategy {
    /// The strategy's name as used in JSON and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Immediate {} => "immediate",
            Strategy::Rolling { .. } => "rolling",
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Canary { .. } => "canary",
        }
    }
}

/// One way to check that an instance serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Probe {
    /// `GET path` on the instance's address must answer `expect_status`.
    Http {
        /// Request path, starting with `/`.
        path: String,
        /// Expected status code (default 200).
        #[serde(default = "default_status")]
        expect_status: u16,
    },
    /// `GET url` (http or https) must answer `expect_status`: for platforms whose instances have
    /// no address Loco can reach (cloud platforms), the app's public endpoint. It checks whatever
    /// the URL reaches — on an atomic-swap platform, the serving release.
    Url {
        /// An absolute `http://` or `https://` URL.
        url: String,
        /// Expected status code (default 200).
        #[serde(default = "default_status")]
        expect_status: u16,
        /// A PEM certificate to trust besides the system's roots (a self-signed or internal CA).
        #[serde(default)]
        #[schemars(with = "crate::schema::Nullable<String>")]
        ca_pem: Option<String>,
    },
    /// A TCP connection to the instance's address must open.
    Tcp,
    /// A command must exit 0; it gets `LOCO_INSTANCE_ADDRESS` and `LOCO_INSTANCE_ID`.
    Command {
        /// The program and its arguments.
        command: Vec<String>,
    },
    /// `SELECT 1` must succeed on a SQLite database file (the service's database).
    Sqlite {
        /// Path of the database file.
        path: String,
    },
    /// A check the embedding program registered under `name` (a Rust `HealthProbe`, a Python
    /// callable or a JavaScript function) must pass; it gets the target and the instance.
    Host {
        /// The name the probe was registered under.
        name: String,
    },
}

fn default_status() -> u16 {
    200
}

/// The host of an absolute URL (`""` when there is none): what follows `://`, up to the path,
/// without user info and port; an IPv6 literal keeps its brackets.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.split_once(']').map_or(host_port, |(h, _)| &host_port[..=h.len()]);
    }
    host_port.split(':').next().unwrap_or_default()
}

/// Whether a URL's host is this machine or a private network, named literally (`localhost`,
/// 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, `::1`, `fc00::/7`, `fe80::/10`). A plan sent over
/// the network may not probe those: the engine's own network position is not for callers to
/// scan. (A public name that resolves to a private address is not caught.)
pub fn is_private_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback() || ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

impl Probe {
    /// The probe's type name (`http`, `url`, `tcp`, `command`, `sqlite`, `host`): a bounded label.
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http { .. } => "http",
            Probe::Url { .. } => "url",
            Probe::Tcp => "tcp",
            Probe::Command { .. } => "command",
            Probe::Sqlite { .. } => "sqlite",
            Probe::Host { .. } => "host",
        }
    }

    /// A short description for events and logs.
    pub fn describe(&self) -> String {
        match self {
            Probe::Http { path, expect_status } => format!("http GET {path} expects {expect_status}"),
            Probe::Url { url, expect_status, .. } => format!("GET {url} expects {expect_status}"),
            Probe::Tcp => "tcp connect".to_owned(),
            Probe::Command { command } => format!("command {}", command.first().map_or("", String::as_str)),
            Probe::Sqlite { path } => format!("sqlite SELECT 1 on {path}"),
            Probe::Host { name } => format!("host probe {name}"),
        }
    }
}

/// Health checking of new instances: which probes, and how patiently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSpec {
    /// Probes that must all pass; with none, only the platform's own view (process alive) counts.
    pub probes: Vec<Probe>,
    /// Time limit of one probe attempt (default 10 s).
    pub timeout_seconds: f64,
    /// Further attempts after a failed one (default 5), with exponential backoff.
    pub retries: u32,
    /// Wait before the first retry (default 0.5 s); doubles each retry.
    pub backoff_initial_seconds: f64,
    /// Longest wait between retries (default 10 s).
    pub backoff_max_seconds: f64,
    /// How often instances are re-checked while a step is observed (default 1 s).
    pub interval_seconds: f64,
}

impl Default for HealthSpec {
    fn default() -> Self {
        Self {
            probes: Vec::new(),
            timeout_seconds: 10.0,
            retries: 5,
            backoff_initial_seconds: 0.5,
            backoff_max_seconds: 10.0,
            interval_seconds: 1.0,
        }
    }
}

impl Probe {
    /// What is wrong with this probe, each problem named under `field` (`health.probes[0]`).
    pub fn problems(&self, field: &str) -> Vec<FieldError> {
        let mut problems = Vec::new();
        match self {
            Probe::Http { path, expect_status } => {
                if !path.starts_with('/') {
                    problems.push(FieldError::new(format!("{field}.path"), "must start with '/'"));
                }
                if !(100..=599).contains(expect_status) {
                    problems
                        .push(FieldError::new(format!("{field}.expect_status"), "must be an HTTP status (100-599)"));
                }
            }
            Probe::Url { url, expect_status, ca_pem } => {
                if !(url.starts_with("https://") || url.starts_with("http://")) || url_host(url).is_empty() {
                    problems
                        .push(FieldError::new(format!("{field}.url"), "must be an absolute http:// or https:// URL"));
                }
                if !(100..=599).contains(expect_status) {
                    problems
                        .push(FieldError::new(format!("{field}.expect_status"), "must be an HTTP status (100-599)"));
                }
                if ca_pem.as_deref().is_some_and(|p| !p.contains("-----BEGIN CERTIFICATE-----")) {
                    problems.push(FieldError::new(format!("{field}.ca_pem"), "must be a PEM certificate"));
                }
            }
            Probe::Command { command } if command.first().is_none_or(String::is_empty) => {
                problems.push(FieldError::new(format!("{field}.command"), "needs a program"));
            }
            Probe::Sqlite { path } if path.trim().is_empty() => {
                problems.push(FieldError::new(format!("{field}.path"), "is required"));
            }
            Probe::Host { name } if name.trim().is_empty() => {
                problems.push(FieldError::new(format!("{field}.name"), "is required"));
            }
            _ => {}
        }
        problems
    }
}

impl HealthSpec {
    /// Time limit of one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds)
    }

    /// Wait before retry number `retry` (0-based): initial × 2^retry, capped.
    pub fn backoff(&self, retry: u32) -> Duration {
        let secs = self.backoff_initial_seconds * 2f64.powi(retry.min(30) as i32);
        Duration::from_secs_f64(secs.min(self.backoff_max_seconds))
    }

    /// The same probes, retried until at least `budget` of backoff has passed: what restoring a
    /// known-good release uses, since giving up early would leave the bad one serving. (An
    /// instance that exits still fails at once.)
    #[must_use]
    pub fn patient(&self, budget: Duration) -> HealthSpec {
        let mut retries = 0;
        let mut waited = Duration::ZERO;
        while waited < budget && retries < 10_000 {
            waited += self.backoff(retries).max(Duration::from_millis(10));
            retries += 1;
        }
        HealthSpec { retries: retries.max(self.retries), ..self.clone() }
    }
}

/// Everything a rollout needs besides the deployment itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutPlan {
    /// Name of a platform registered with the engine (`local`, …).
    pub platform: String,
    /// How traffic moves.
    pub strategy: Strategy,
    /// What to run.
    pub release: ReleaseSpec,
    /// Desired instance count of the new release (default 1).
    #[serde(default = "one")]
    pub instances: u32,
    /// How new instances are checked.
    #[serde(default)]
    pub health: HealthSpec,
    /// Metric analysis of the new release while it is observed; without it only health checks
    /// decide.
    #[serde(default)]
    pub analysis: Option<AnalysisSpec>,
    /// Seconds the previous release's instances keep running (without traffic) after the
    /// rollout succeeded, so that rolling back in that window only moves traffic (default 0:
    /// stopped at once; the rolling strategy always replaces them step by step).
    #[serde(default)]
    pub scale_down_delay_seconds: f64,
    /// What an engine that finds this rollout interrupted (its engine stopped or died) does.
    #[serde(default)]
    pub on_restart: OnRestart,
    /// Scripts run before, after and around the rollout.
    #[serde(default)]
    pub scripts: ScriptHooks,
    /// Checks run before the rollout starts (a failure refuses the start with
    /// `validation_failed`) and smoke tests run once the new release serves.
    #[serde(default)]
    pub validation: ValidationSpec,
}

/// What happens to a rollout whose engine stopped before it ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRestart {
    /// Restore the previous release (the default): the new one was not watched meanwhile.
    #[default]
    Rollback,
    /// Re-check the health of what runs, restore the recorded traffic split, and continue at
    /// the first unfinished step (a step that was observing starts its window again).
    Resume,
}

fn one() -> u32 {
    1
}

impl RolloutPlan {
    /// Parses a plan from JSON; unknown fields, unknown strategies and wrong types are
    /// validation errors naming the field. The result is also [`validate`](Self::validate)d.
    pub fn from_json(json: &str) -> Result<Self> {
        let plan: RolloutPlan = crate::document::parse(json, "", "plan")?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks every rule of a plan and reports all broken ones.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        let mut bad = |field: &str, message: String| details.push(FieldError::new(field, message));
        if self.platform.trim().is_empty() {
            bad("platform", "is required".to_owned());
        }
        if self.instances == 0 || self.instances > MAX_INSTANCES {
            bad("instances", format!("must be between 1 and {MAX_INSTANCES}; got {}", self.instances));
        }
        match &self.strategy {
            Strategy::Immediate {} => {}
            Strategy::Rolling { max_surge, max_unavailable } => {
                if *max_surge == 0 && *max_unavailable == 0 {
                    bad(
                        "strategy.max_surge",
                        "and max_unavailable cannot both be 0; the rollout could never progress".to_owned(),
                    );
                }
                if *max_surge > MAX_INSTANCES {
                    bad("strategy.max_surge", format!("must be at most {MAX_INSTANCES}"));
                }
            }
            Strategy::BlueGreen { switch_delay_seconds } => {
                check_seconds(&mut bad, "strategy.switch_delay_seconds", *switch_delay_seconds);
            }
            Strategy::Canary { steps, interval_seconds } => {
                if steps.is_empty() {
                    bad("strategy.steps", "needs at least one traffic percentage".to_owned());
                }
                for (i, percent) in steps.iter().enumerate() {
                    if *percent == 0 || *percent > 100 {
                        bad(&format!("strategy.steps[{i}]"), format!("must be between 1 and 100; got {percent}"));
                    } else if i > 0 && *percent <= steps[i - 1] {
                        bad(
                            &format!("strategy.steps[{i}]"),
                            format!("must be greater than the step before ({})", steps[i - 1]),
                        );
                    }
                }
                check_seconds(&mut bad, "strategy.interval_seconds", *interval_seconds);
            }
        }
        if self.release.command.iter().any(String::is_empty) {
            bad("release.command", "must not contain empty arguments".to_owned());
        }
        for key in self.release.secret_env.keys().filter(|k| self.release.env.contains_key(*k)) {
            bad(&format!("release.secret_env.{key}"), "is also in release.env; a variable is secret or not".to_owned());
        }
        if self.release.service.as_deref().is_some_and(|s| s.trim().is_empty()) {
            bad("release.service", "must not be blank".to_owned());
        }
        check_seconds(&mut bad, "scale_down_delay_seconds", self.scale_down_delay_seconds);
        let h = &self.health;
        for (field, value) in [
            ("health.timeout_seconds", h.timeout_seconds),
            ("health.backoff_initial_seconds", h.backoff_initial_seconds),
            ("health.backoff_max_seconds", h.backoff_max_seconds),
            ("health.interval_seconds", h.interval_seconds),
        ] {
            check_seconds(&mut bad, field, value);
        }
        if h.timeout_seconds == 0.0 || h.interval_seconds == 0.0 {
            bad("health", "timeout_seconds and interval_seconds must be greater than 0".to_owned());
        }
        if h.retries > 100 {
            bad("health.retries", "must be at most 100".to_owned());
        }
        for (i, probe) in h.probes.iter().enumerate() {
            for problem in probe.problems(&format!("health.probes[{i}]")) {
                bad(&problem.field, problem.message);
            }
        }
        if let Some(analysis) = &self.analysis {
            analysis::validate_analysis(analysis, &mut details);
        }
        details.extend(self.scripts.problems(&self.release.secret_env));
        details.extend(self.validation.problems(&self.release.secret_env));
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// The scripts of `hook`: the `scripts` hooks, and `validation.smoke_tests` for
    /// [`Hook::SmokeTest`].
    pub fn scripts_of(&self, hook: Hook) -> &[ScriptSpec] {
        match hook {
            Hook::SmokeTest => &self.validation.smoke_tests,
            _ => self.scripts.of(hook),
        }
    }

    /// What a health check of this plan runs, as one bounded label: the probe kinds in order
    /// without repeats, joined by `+` (`http`, `http+command`), or `platform` when the plan has
    /// none and the platform's own health decides.
    pub fn check_type(&self) -> String {
        let mut kinds: Vec<&str> = Vec::new();
        for probe in &self.health.probes {
            if !kinds.contains(&probe.kind()) {
                kinds.push(probe.kind());
            }
        }
        if kinds.is_empty() { "platform".to_owned() } else { kinds.join("+") }
    }

    /// The monitoring window after full promotion, if any.
    pub fn monitor_seconds(&self) -> f64 {
        self.analysis.as_ref().map_or(0.0, |a| a.monitor_seconds)
    }
}

pub(crate) fn check_seconds(bad: &mut impl FnMut(&str, String), field: &str, value: f64) {
    if !value.is_finite() || !(0.0..=MAX_WAIT_SECONDS).contains(&value) {
        bad(field, format!("must be between 0 and {MAX_WAIT_SECONDS} seconds; got {value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(strategy: &str) -> String {
        format!(r#"{{"platform": "local", "strategy": {strategy}, "release": {{"command": ["app"]}}}}"#)
    }

    fn fields(json: &str) -> Vec<String> {
        match RolloutPlan::from_json(json) {
            Err(Error::Validation { details }) => details.into_iter().map(|d| d.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn every_strategy_parses_with_defaults() {
        let p = RolloutPlan::from_json(&plan(r#"{"type": "canary", "steps": [5, 25, 50], "interval_seconds": 60}"#))
            .unwrap();
        assert_eq!(p.strategy, Strategy::Canary { steps: vec![5, 25, 50], interval_seconds: 60.0 });
        assert_eq!((p.instances, p.health.retries, p.health.timeout_seconds), (1, 5, 10.0));
        for s in [
            r#"{"type": "immediate"}"#,
            r#"{"type": "rolling", "max_surge": 1, "max_unavailable": 0}"#,
            r#"{"type": "blue_green", "switch_delay_seconds": 0.5}"#,
            r#"{"type": "blue_green"}"#,
        ] {
            RolloutPlan::from_json(&plan(s)).unwrap();
        }
    }

    #[test]
    fn bad_canary_steps_are_named() {
        assert_eq!(
            fields(&plan(r#"{"type": "canary", "steps": [0, 50], "interval_seconds": 1}"#)),
            ["strategy.steps[0]"]
        );
        assert_eq!(
            fields(&plan(r#"{"type": "canary", "steps": [50, 25], "interval_seconds": 1}"#)),
            ["strategy.steps[1]"]
        );
        assert_eq!(fields(&plan(r#"{"type": "canary", "steps": [], "interval_seconds": 1}"#)), ["strategy.steps"]);
        assert_eq!(
            fields(&plan(r#"{"type": "canary", "steps": [10], "interval_seconds": -1}"#)),
            ["strategy.interval_seconds"]
        );
    }

    #[test]
    fn over_100_percent_is_refused() {
        // 101 fits in a u8 and must be refused by the rule, 300 does not fit and fails parsing.
        assert_eq!(
            fields(&plan(r#"{"type": "canary", "steps": [50, 101], "interval_seconds": 1}"#)),
            ["strategy.steps[1]"]
        );
        // Inside a tagged strategy serde reports the strategy as a whole.
        assert_eq!(fields(&plan(r#"{"type": "canary", "steps": [300], "interval_seconds": 1}"#)), ["strategy"]);
    }

    #[test]
    fn rolling_needs_surge_or_unavailability() {
        assert_eq!(
            fields(&plan(r#"{"type": "rolling", "max_surge": 0, "max_unavailable": 0}"#)),
            ["strategy.max_surge"]
        );
    }

    #[test]
    fn unknown_strategy_and_unknown_fields_are_validation_errors() {
        for json in [
            plan(r#"{"type": "yolo"}"#),
            plan(r#"{"type": "immediate", "speed": 11}"#),
            r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {}, "colour": "red"}"#.to_owned(),
            "not json".to_owned(),
        ] {
            let err = RolloutPlan::from_json(&json).unwrap_err();
            assert_eq!(err.code(), "validation_error", "{json}");
        }
    }

    #[test]
    fn instance_count_and_health_bounds() {
        let json = r#"{"platform": " ", "strategy": {"type": "immediate"}, "release": {}, "instances": 0,
            "health": {"timeout_seconds": 0, "probes": [{"type": "http", "path": "health"}]}}"#;
        assert_eq!(fields(json), ["platform", "instances", "health", "health.probes[0].path"]);
    }

    #[test]
    fn analysis_settings_parse_and_validate() {
        let p = RolloutPlan::from_json(
            r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {}, "analysis": {"monitor_seconds": 5,
                "source": {"type": "prometheus", "url": "http://127.0.0.1:9090"}, "thresholds": {"min_samples": 20}}}"#,
        )
        .unwrap();
        let a = p.analysis.unwrap();
        assert_eq!((a.monitor_seconds, a.poll_seconds, a.thresholds.unwrap().min_samples), (5.0, 1.0, 20));
        assert!(matches!(a.source, MetricSourceSpec::Prometheus(_)));
        let bad = r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {}, "analysis": {"monitor_seconds": 4000,
            "source": {"type": "prometheus", "url": "https://x"}, "thresholds": {"alpha": 2}}}"#;
        assert_eq!(fields(bad), ["analysis.monitor_seconds", "analysis.thresholds.alpha", "analysis.source.url"]);
        let default = RolloutPlan::from_json(&plan(r#"{"type": "immediate"}"#)).unwrap();
        assert_eq!(default.analysis, None, "no analysis, no monitoring window");
        assert!(default.monitor_seconds().abs() < f64::EPSILON);
    }

    #[test]
    fn url_hosts_are_found_and_private_ones_named() {
        assert_eq!(url_host("https://shop.fly.dev/health"), "shop.fly.dev");
        assert_eq!(url_host("http://user:pw@127.0.0.1:8080/x?y"), "127.0.0.1");
        assert_eq!(url_host("https://[::1]:443/"), "[::1]");
        assert_eq!(url_host("health"), "");
        for private in [
            "localhost",
            "a.localhost",
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "[::1]",
            "[fd00::1]",
            "[fe80::1]",
            "0.0.0.0",
        ] {
            assert!(is_private_host(private), "{private}");
        }
        for public in ["shop.fly.dev", "8.8.8.8", "[2001:db8::1]", "172.32.0.1"] {
            assert!(!is_private_host(public), "{public}");
        }
        let probe = Probe::Url { url: "ftp://x/".into(), expect_status: 700, ca_pem: Some("nope".into()) };
        let fields: Vec<String> = probe.problems("p").into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["p.url", "p.expect_status", "p.ca_pem"]);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let h = HealthSpec { backoff_initial_seconds: 0.5, backoff_max_seconds: 3.0, ..HealthSpec::default() };
        let waits: Vec<f64> = (0..5).map(|r| h.backoff(r).as_secs_f64()).collect();
        assert_eq!(waits, [0.5, 1.0, 2.0, 3.0, 3.0]);
    }
}

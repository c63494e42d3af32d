//! Pre-deployment validation of a plan — what to check (artifact, configuration, secrets,
//! dependency scanners) and the smoke tests run once the new release serves — and the report the
//! checks produce, recorded in a `validation` event and attached to a `validation_failed` error.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::plan::scripts::{MAX_SCRIPTS_PER_HOOK, ScriptSpec};

/// Most findings one report keeps (the rest are counted in [`ValidationReport::omitted`]).
pub const MAX_FINDINGS: usize = 1000;
/// Default Shannon entropy (bits per character) above which an assigned value counts as a
/// generic secret.
pub const DEFAULT_ENTROPY_THRESHOLD: f64 = 4.0;

/// What to check before a rollout starts, and the smoke tests run after the new release serves
/// all traffic. Empty (the default) checks nothing and records no `validation` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationSpec {
    /// The build artifact: a directory, a `.tar`, `.tar.gz`/`.tgz` or `.zip` archive.
    #[schemars(with = "crate::schema::Nullable<ArtifactCheck>")]
    pub artifact: Option<ArtifactCheck>,
    /// Rules about the release's environment variables.
    #[schemars(with = "crate::schema::Nullable<ConfigCheck>")]
    pub config: Option<ConfigCheck>,
    /// Secrets detection in the artifact's files and the release's (non-secret) environment.
    #[schemars(with = "crate::schema::Nullable<SecretScan>")]
    pub secrets: Option<SecretScan>,
    /// Dependency vulnerability scanners, each a command printing a known JSON report.
    pub dependencies: Vec<DependencyScan>,
    /// Test programs run against the new release (`LOCO_APP_URL`) after the `post_deploy`
    /// scripts, before the rollout succeeds; a failure rolls back.
    pub smoke_tests: Vec<ScriptSpec>,
}

/// Checks of the build artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactCheck {
    /// Path of the artifact: a directory, or a `.tar`, `.tar.gz`/`.tgz` or `.zip` file.
    pub path: String,
    /// The archive's expected SHA-256 (hex); not allowed for a directory.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub sha256: Option<String>,
    /// A `sha256sum`-format file (`<hex>  <name>` per line): a name inside the artifact is
    /// checked against that file's digest, the archive's own file name against the archive's. A
    /// relative path is looked up inside the artifact first, then next to it.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub checksum_file: Option<String>,
    /// Paths (relative to the artifact's root, `/`-separated) that must be present.
    #[serde(default)]
    pub required_files: Vec<String>,
    /// Largest total size of the artifact's files, in bytes.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<u64>")]
    pub max_bytes: Option<u64>,
    /// Largest size of any one file, in bytes.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<u64>")]
    pub max_file_bytes: Option<u64>,
}

/// Rules about the release's environment (`release.env` and `release.secret_env`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigCheck {
    /// Variables that must be set (in `env` or `secret_env`) and not blank.
    pub required: Vec<String>,
    /// The format each variable's value must have, when it is set.
    pub formats: BTreeMap<String, ConfigFormat>,
}

/// The format of one configuration value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConfigFormat {
    /// An absolute `http`, `https`, `postgres`, `redis` … URL with a host.
    Url {},
    /// A base-10 integer, optionally within bounds.
    Integer {
        /// Smallest allowed value.
        #[serde(default)]
        #[schemars(with = "crate::schema::Nullable<i64>")]
        min: Option<i64>,
        /// Largest allowed value.
        #[serde(default)]
        #[schemars(with = "crate::schema::Nullable<i64>")]
        max: Option<i64>,
    },
    /// A duration such as `30s`, `5m`, `1h30m`, `250ms`.
    Duration {},
    /// One of the listed values (exact match).
    Enum {
        /// The allowed values.
        values: Vec<String>,
    },
    /// A regular expression the whole value must match.
    Regex {
        /// The pattern (Rust `regex` syntax; anchored at both ends by Loco).
        pattern: String,
    },
}

/// Secrets detection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecretScan {
    /// Known false positives: a finding's `fingerprint`, or `file:<path>` for every finding in
    /// one artifact file.
    pub allow: Vec<String>,
    /// Shannon entropy (bits per character) above which a value assigned to a secret-sounding
    /// name counts as a generic secret (default 4.0).
    pub entropy_threshold: f64,
}

impl Default for SecretScan {
    fn default() -> Self {
        Self { allow: Vec::new(), entropy_threshold: DEFAULT_ENTROPY_THRESHOLD }
    }
}

/// One dependency scanner: a command whose standard output is a report in `format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependencyScan {
    /// A name for the report, unique among the scanners.
    pub name: String,
    /// The report format the command prints.
    pub format: ScanFormat,
    /// The program and its arguments (`["pip-audit", "-f", "json"]`), run without a shell, with
    /// only `PATH` in its environment.
    pub command: Vec<String>,
    /// The directory it runs in (the artifact's, or the engine's, when absent).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub working_dir: Option<String>,
    /// The lowest severity that refuses the release (default `critical`).
    #[serde(default = "critical")]
    pub fail_on: Severity,
    /// The severity given to a vulnerability its report does not rate (pip-audit rates none;
    /// default `critical`, so an unrated vulnerability is not waved through).
    #[serde(default = "critical")]
    pub unrated: Severity,
    /// Time limit (default 300 s).
    #[serde(default = "default_scan_seconds")]
    pub timeout_seconds: f64,
}

fn critical() -> Severity {
    Severity::Critical
}

fn default_scan_seconds() -> f64 {
    300.0
}

/// A scanner's report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanFormat {
    /// `pip-audit -f json`.
    PipAudit,
    /// `npm audit --json` (npm 7 and later).
    NpmAudit,
    /// `cargo audit --json` (severity from each advisory's CVSS v3 vector).
    CargoAudit,
}

/// How bad a finding is, in increasing order (`FindingSeverity` in the schema, apart from the
/// canary judge's `Severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "FindingSeverity")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Low.
    Low,
    /// Moderate (npm's word; CVSS "medium").
    Moderate,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The name in plans and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Moderate => "moderate",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// [`ValidationSpec::artifact`].
    Artifact,
    /// [`ValidationSpec::config`].
    Config,
    /// [`ValidationSpec::secrets`].
    Secrets,
    /// [`ValidationSpec::dependencies`].
    Dependencies,
}

impl CheckKind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Artifact => "artifact",
            CheckKind::Config => "config",
            CheckKind::Secrets => "secrets",
            CheckKind::Dependencies => "dependencies",
        }
    }
}

/// One thing a check found. Secret values never appear: `message` masks them and
/// `fingerprint` identifies them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The check.
    pub check: CheckKind,
    /// The rule that matched (`checksum_mismatch`, `missing_file`, `too_large`,
    /// `missing_variable`, `bad_format`, `aws_access_key`, `github_token`, `private_key`,
    /// `high_entropy`, `vulnerability`, `scanner_failed`, …).
    pub rule: String,
    /// How bad it is.
    pub severity: Severity,
    /// Whether it refuses the release.
    pub blocking: bool,
    /// Where: `release.env.NAME`, an artifact path, `dependencies.<scanner>:<package>`.
    pub location: String,
    /// The artifact file, when the finding is in one.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub file: Option<String>,
    /// The 1-based line in `file`.
    #[schemars(with = "crate::schema::Nullable<u32>")]
    pub line: Option<u32>,
    /// What is wrong, with any secret value masked.
    pub message: String,
    /// For a secret: a stable id of the value (16 hex digits of its SHA-256) to allow-list it.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub fingerprint: Option<String>,
}

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckSummary {
    /// The check.
    pub check: CheckKind,
    /// Whether it found nothing blocking.
    pub passed: bool,
    /// Findings it reported (blocking or not).
    pub findings: u32,
    /// What it looked at (`412 files, 3.1 MB`, `npm: 734 packages`).
    pub summary: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// The result of validating a plan: recorded in the `validation` event, attached to a
/// `validation_failed` error and returned by `validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationReport {
    /// Whether nothing blocking was found.
    pub passed: bool,
    /// One entry per check that ran, in the order they ran.
    pub checks: Vec<CheckSummary>,
    /// What the checks found, blocking ones first (at most 1,000).
    pub findings: Vec<Finding>,
    /// Findings left out of `findings` past the limit.
    pub omitted: u32,
}

impl ValidationReport {
    /// A report of `checks` and their `findings`, blocking findings first, capped at
    /// [`MAX_FINDINGS`].
    pub fn new(checks: Vec<CheckSummary>, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| (!f.blocking, std::cmp::Reverse(f.severity)));
        let omitted = findings.len().saturating_sub(MAX_FINDINGS);
        findings.truncate(MAX_FINDINGS);
        let passed = checks.iter().all(|c| c.passed) && !findings.iter().any(|f| f.blocking);
        Self { passed, checks, findings, omitted: u32::try_from(omitted).unwrap_or(u32::MAX) }
    }

    /// The blocking findings.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocking)
    }

    /// One line: `passed: 4 checks, 2 findings` or `failed: 3 blocking findings (secrets, artifact)`.
    pub fn describe(&self) -> String {
        let blocking = self.blocking().count();
        if self.passed {
            return format!("passed: {} checks, {} findings", self.checks.len(), self.findings.len());
        }
        let failed: Vec<&str> = self.checks.iter().filter(|c| !c.passed).map(|c| c.check.as_str()).collect();
        format!("failed: {blocking} blocking findings ({})", failed.join(", "))
    }
}

impl ValidationSpec {
    /// Whether there is nothing to check before the start.
    pub fn checks_nothing(&self) -> bool {
        self.artifact.is_none() && self.config.is_none() && self.secrets.is_none() && self.dependencies.is_empty()
    }

    /// Every broken rule of the spec, named under `validation.`; `secret_env` is the release's.
    pub fn problems(&self, secret_env: &BTreeMap<String, String>) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut bad = |field: String, why: String| problems.push(FieldError::new(format!("validation.{field}"), why));
        if let Some(artifact) = &self.artifact {
            if artifact.path.trim().is_empty() {
                bad("artifact.path".to_owned(), "is required".to_owned());
            }
            if let Some(sha) = &artifact.sha256
                && !is_sha256_hex(sha)
            {
                bad("artifact.sha256".to_owned(), "must be 64 hexadecimal digits".to_owned());
            }
            for (i, file) in artifact.required_files.iter().enumerate() {
                if file.trim().is_empty() || file.split('/').any(|part| part == "..") {
                    bad(format!("artifact.required_files[{i}]"), "must be a relative path without '..'".to_owned());
                }
            }
        }
        if let Some(config) = &self.config {
            for (name, format) in &config.formats {
                match format {
                    ConfigFormat::Integer { min: Some(min), max: Some(max) } if min > max => {
                        bad(format!("config.formats.{name}.min"), format!("is greater than max ({max})"));
                    }
                    ConfigFormat::Enum { values } if values.is_empty() => {
                        bad(format!("config.formats.{name}.values"), "needs at least one value".to_owned());
                    }
                    ConfigFormat::Regex { pattern } if pattern.is_empty() || pattern.len() > 1000 => {
                        bad(format!("config.formats.{name}.pattern"), "must be 1 to 1000 characters".to_owned());
                    }
                    _ => {}
                }
            }
        }
        if let Some(secrets) = &self.secrets
            && !(secrets.entropy_threshold.is_finite() && (0.0..=8.0).contains(&secrets.entropy_threshold))
        {
            bad("secrets.entropy_threshold".to_owned(), "must be between 0 and 8 bits per character".to_owned());
        }
        for (i, scan) in self.dependencies.iter().enumerate() {
            let field = format!("dependencies[{i}]");
            if scan.name.trim().is_empty() || scan.name.len() > 100 {
                bad(format!("{field}.name"), "must be 1 to 100 characters".to_owned());
            } else if self.dependencies[..i].iter().any(|s| s.name == scan.name) {
                bad(format!("{field}.name"), "is used twice".to_owned());
            }
            if scan.command.is_empty() || scan.command.iter().any(String::is_empty) {
                bad(format!("{field}.command"), "needs a program and no empty arguments".to_owned());
            }
            if !(scan.timeout_seconds > 0.0 && scan.timeout_seconds <= super::MAX_SCRIPT_SECONDS) {
                bad(
                    format!("{field}.timeout_seconds"),
                    format!("must be greater than 0 and at most {}", super::MAX_SCRIPT_SECONDS),
                );
            }
        }
        if self.smoke_tests.len() > MAX_SCRIPTS_PER_HOOK {
            bad(
                "smoke_tests".to_owned(),
                format!("has {} tests; at most {MAX_SCRIPTS_PER_HOOK}", self.smoke_tests.len()),
            );
        }
        for (i, test) in self.smoke_tests.iter().enumerate() {
            let field = format!("validation.smoke_tests[{i}]");
            if self.smoke_tests[..i].iter().any(|t| t.name == test.name) {
                problems.push(FieldError::new(format!("{field}.name"), "is used twice"));
            }
            problems.extend(test.problems(&field, secret_env));
        }
        problems
    }
}

/// Whether `text` is 64 hexadecimal digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, blocking: bool) -> Finding {
        Finding {
            check: CheckKind::Secrets,
            rule: rule.to_owned(),
            severity,
            blocking,
            location: "x".to_owned(),
            file: None,
            line: None,
            message: "m".to_owned(),
            fingerprint: None,
        }
    }

    fn summary(passed: bool) -> CheckSummary {
        CheckSummary { check: CheckKind::Secrets, passed, findings: 0, summary: String::new(), duration_ms: 0 }
    }

    #[test]
    fn a_report_puts_blocking_findings_first_and_fails_on_any() {
        let report = ValidationReport::new(
            vec![summary(false)],
            vec![finding("a", Severity::Low, false), finding("b", Severity::High, true)],
        );
        assert!(!report.passed);
        assert_eq!(report.findings[0].rule, "b");
        assert_eq!(report.blocking().count(), 1);
        assert_eq!(report.describe(), "failed: 1 blocking findings (secrets)");
        let clean = ValidationReport::new(vec![summary(true)], vec![finding("a", Severity::Low, false)]);
        assert!(clean.passed);
        assert_eq!(clean.describe(), "passed: 1 checks, 1 findings");
    }

    #[test]
    fn a_report_keeps_at_most_a_thousand_findings() {
        let many = (0..1005).map(|i| finding(&i.to_string(), Severity::Info, false)).collect();
        let report = ValidationReport::new(vec![summary(true)], many);
        assert_eq!(report.findings.len(), MAX_FINDINGS);
        assert_eq!(report.omitted, 5);
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Critical > Severity::High && Severity::High > Severity::Moderate);
        assert!(Severity::Moderate > Severity::Low && Severity::Low > Severity::Info);
    }

    #[test]
    fn spec_problems_name_each_field() {
        let spec: ValidationSpec = serde_json::from_value(serde_json::json!({
            "artifact": {"path": "", "sha256": "abc", "required_files": ["../etc/passwd"]},
            "config": {"formats": {"PORT": {"type": "integer", "min": 10, "max": 1}, "MODE": {"type": "enum", "values": []}}},
            "secrets": {"entropy_threshold": 9.0},
            "dependencies": [
                {"name": "npm", "format": "npm_audit", "command": []},
                {"name": "npm", "format": "npm_audit", "command": ["npm", "audit", "--json"], "timeout_seconds": 0}
            ]
        }))
        .unwrap();
        let fields: Vec<String> = spec.problems(&BTreeMap::new()).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "validation.artifact.path",
                "validation.artifact.sha256",
                "validation.artifact.required_files[0]",
                "validation.config.formats.MODE.values",
                "validation.config.formats.PORT.min",
                "validation.secrets.entropy_threshold",
                "validation.dependencies[0].command",
                "validation.dependencies[1].name",
                "validation.dependencies[1].timeout_seconds",
            ]
        );
    }

    #[test]
    fn unknown_fields_and_formats_are_refused() {
        let unknown = serde_json::from_value::<ValidationSpec>(serde_json::json!({"artefact": {}}));
        assert!(unknown.is_err());
        let format = serde_json::from_value::<ConfigFormat>(serde_json::json!({"type": "email"}));
        assert!(format.is_err());
        let defaults: DependencyScan =
            serde_json::from_value(serde_json::json!({"name": "pip", "format": "pip_audit", "command": ["pip-audit"]}))
                .unwrap();
        assert_eq!(
            (defaults.fail_on, defaults.unrated, defaults.timeout_seconds),
            (Severity::Critical, Severity::Critical, 300.0)
        );
    }
}

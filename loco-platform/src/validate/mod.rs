//! Pre-deployment validation: the checks a plan's [`ValidationSpec`] asks for — the build
//! artifact, the release's configuration, secrets, dependency scanners — run in that order and
//! gathered into one [`ValidationReport`].
//!
//! Every check reads what it needs itself and never changes anything: archives are read without
//! extracting, scanners run in a cleared environment and their own process group. A check that
//! cannot do its work fails closed with a blocking finding. No finding carries a secret value:
//! detected secrets are masked and fingerprinted, and the values of `release.secret_env` are
//! redacted from every message.

mod archive;
mod artifact;
mod checksums;
mod config;
mod cvss;
mod reports;
mod scanners;
mod secrets;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use loco_types::plan::{
    CheckKind, CheckSummary, Finding, REDACTED, ReleaseSpec, Severity, ValidationReport, ValidationSpec,
};
use sha2::{Digest, Sha256};

/// Runs every check `spec` asks for against `release` (whose secret values are revealed) and
/// reports what they found.
pub async fn run(spec: &ValidationSpec, release: &ReleaseSpec) -> ValidationReport {
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    let mut record = |kind: CheckKind, outcome: Outcome, started: Instant| {
        let count = u32::try_from(outcome.findings.len()).unwrap_or(u32::MAX);
        checks.push(CheckSummary {
            check: kind,
            passed: !outcome.findings.iter().any(|f| f.blocking),
            findings: count,
            summary: outcome.summary,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        findings.extend(outcome.findings);
    };

    if let Some(check) = &spec.artifact {
        let started = Instant::now();
        let check = check.clone();
        record(
            CheckKind::Artifact,
            off_the_runtime(CheckKind::Artifact, move || artifact::check(&check)).await,
            started,
        );
    }
    if let Some(check) = &spec.config {
        let started = Instant::now();
        record(CheckKind::Config, config::check(check, release), started);
    }
    if let Some(scan) = &spec.secrets {
        let started = Instant::now();
        let scan = scan.clone();
        let artifact = spec.artifact.as_ref().map(|a| a.path.clone());
        let env = release.env.clone();
        let outcome =
            off_the_runtime(CheckKind::Secrets, move || secrets::check(&scan, artifact.as_deref(), &env)).await;
        record(CheckKind::Secrets, outcome, started);
    }
    if !spec.dependencies.is_empty() {
        let started = Instant::now();
        let artifact_dir = match spec.artifact.as_ref().map(|a| PathBuf::from(&a.path)) {
            Some(path) => tokio::task::spawn_blocking(move || path.is_dir().then_some(path)).await.ok().flatten(),
            None => None,
        };
        record(CheckKind::Dependencies, scanners::check(&spec.dependencies, artifact_dir.as_deref()).await, started);
    }

    redact(&mut findings, release);
    ValidationReport::new(checks, findings)
}

/// What one check found, and one line about what it looked at.
struct Outcome {
    findings: Vec<Finding>,
    summary: String,
}

/// Runs a check that reads files on a blocking thread; a check that panicked fails closed.
async fn off_the_runtime(kind: CheckKind, work: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
    match tokio::task::spawn_blocking(work).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome {
            findings: vec![finding(
                kind,
                "check_failed",
                Severity::High,
                true,
                kind.as_str(),
                format!("the {} check stopped unexpectedly: {e}", kind.as_str()),
            )],
            summary: "failed".to_owned(),
        },
    }
}

/// A finding outside any file; callers set `file`, `line` and `fingerprint` when they apply.
fn finding(
    check: CheckKind,
    rule: &str,
    severity: Severity,
    blocking: bool,
    location: impl Into<String>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        check,
        rule: rule.to_owned(),
        severity,
        blocking,
        location: location.into(),
        file: None,
        line: None,
        message: message.into(),
        fingerprint: None,
    }
}

/// Declared secrets never reach a report, whatever printed them (a scanner's stderr, a file
/// name). Values shorter than four characters are left alone: replacing them would mangle every
/// message while hiding next to nothing.
fn redact(findings: &mut [Finding], release: &ReleaseSpec) {
    let secrets: Vec<&str> = release.secret_env.values().map(String::as_str).filter(|v| v.len() >= 4).collect();
    for finding in findings {
        for secret in &secrets {
            for text in [&mut finding.message, &mut finding.location] {
                if text.contains(secret) {
                    *text = text.replace(secret, REDACTED);
                }
            }
            if let Some(file) = &mut finding.file
                && file.contains(secret)
            {
                *file = file.replace(secret, REDACTED);
            }
        }
    }
}

/// Lower-case hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The SHA-256 of `bytes`, in hexadecimal.
fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A size as people read it: `512 B`, `1.2 kB`, `3.1 MB` (powers of 1000).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `n thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// The first line of `text`, at most `max` characters (cut with `…`).
fn first_line(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_powers_of_a_thousand() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        assert_eq!(human_bytes(999_990), "1.0 MB");
        assert_eq!(human_bytes(4 << 30), "4.3 GB");
    }

    #[test]
    fn first_lines_are_cut_to_length() {
        assert_eq!(first_line("  Title\nmore text", 200), "Title");
        assert_eq!(first_line("abcdef", 4), "abc…");
        assert_eq!(first_line("", 4), "");
    }

    #[test]
    fn declared_secrets_are_redacted_from_every_field() {
        let mut release = ReleaseSpec::default();
        release.secret_env.insert("DB_PASSWORD".into(), "hunter2-secret".into());
        release.secret_env.insert("SHORT".into(), "x".into());
        let mut found = finding(CheckKind::Dependencies, "scanner_failed", Severity::High, true, "a", "");
        found.message = "stderr: could not log in with hunter2-secret (x)".into();
        found.file = Some("hunter2-secret.txt".into());
        redact(std::slice::from_mut(&mut found), &release);
        assert_eq!(found.message, "stderr: could not log in with *** (x)");
        assert_eq!(found.file.as_deref(), Some("***.txt"));
    }
}

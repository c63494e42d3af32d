//! The dependencies check: runs each dependency scanner as a child process (no shell, only
//! `PATH` in its environment, its own process group, a time limit that stops the whole group)
//! and turns the vulnerabilities its JSON report lists into findings. A scanner that cannot
//! start, times out or prints something else fails closed.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

use loco_types::plan::{CheckKind, DependencyScan, Finding, ScanFormat, Severity};

use super::reports::{self, Vulnerability};
use super::{Outcome, finding, first_line};
use crate::scripts::STOP_GRACE;

/// Most standard output kept; a report this big is refused rather than half read.
const MAX_STDOUT: usize = 16 << 20;
/// Lines of standard error kept for failure messages, and the longest one kept.
const STDERR_LINES: usize = 5;
const STDERR_LINE_CHARS: usize = 300;
/// Longest title or description in a message.
const MAX_TITLE: usize = 200;

/// Runs every scanner (concurrently) and reports their vulnerabilities; a scanner without a
/// `working_dir` runs in `artifact_dir` when the artifact is a directory.
pub(super) async fn check(scans: &[DependencyScan], artifact_dir: Option<&Path>) -> Outcome {
    let runs = futures_util::future::join_all(scans.iter().map(|scan| run(scan, artifact_dir))).await;
    let mut findings = Vec::new();
    let mut parts = Vec::new();
    for (scan, result) in scans.iter().zip(runs) {
        match result {
            Ok(vulnerabilities) => {
                parts.push(summary(scan, &vulnerabilities));
                findings.extend(vulnerabilities.iter().map(|v| vulnerability(scan, v)));
            }
            Err(why) => {
                parts.push(format!("{}: failed", scan.name));
                let location = format!("dependencies.{}", scan.name);
                let message = format!("scanner {} failed: {why}", scan.name);
                findings.push(finding(
                    CheckKind::Dependencies,
                    "scanner_failed",
                    Severity::High,
                    true,
                    location,
                    message,
                ));
            }
        }
    }
    Outcome { findings, summary: parts.join("; ") }
}

/// The scan's severity for `vulnerability`: the report's, or the scan's `unrated` one.
fn severity_of(scan: &DependencyScan, vulnerability: &Vulnerability) -> Severity {
    vulnerability.severity.unwrap_or(scan.unrated)
}

fn vulnerability(scan: &DependencyScan, v: &Vulnerability) -> Finding {
    let severity = severity_of(scan, v);
    // A package vulnerable only through a dependency (npm) has no advisory of its own.
    let subject = format!("{}@{}", v.package, v.version);
    let mut message = if v.ids.is_empty() { subject } else { format!("{} in {subject}", v.ids.join(", ")) };
    let title = first_line(&v.title, MAX_TITLE);
    if !title.is_empty() {
        let _ = write!(message, ": {title}");
    }
    let _ = write!(message, "; {}", v.fix);
    let _ = match (&v.basis, v.severity) {
        (Some(basis), _) => write!(message, " ({severity}, {basis})"),
        (None, Some(_)) => write!(message, " ({severity})"),
        (None, None) => write!(message, " (unrated; counted as {severity})"),
    };
    let location = format!("dependencies.{}:{}@{}", scan.name, v.package, v.version);
    finding(CheckKind::Dependencies, "vulnerability", severity, severity >= scan.fail_on, location, message)
}

/// `npm: 5 vulnerabilities (1 critical, 2 high, 2 low)`.
fn summary(scan: &DependencyScan, vulnerabilities: &[Vulnerability]) -> String {
    let count = match vulnerabilities.len() {
        1 => "1 vulnerability".to_owned(),
        n => format!("{n} vulnerabilities"),
    };
    let mut text = format!("{}: {count}", scan.name);
    let counts: Vec<String> = [Severity::Critical, Severity::High, Severity::Moderate, Severity::Low, Severity::Info]
        .into_iter()
        .filter_map(|level| {
            let n = vulnerabilities.iter().filter(|v| severity_of(scan, v) == level).count();
            (n > 0).then(|| format!("{n} {level}"))
        })
        .collect();
    if !counts.is_empty() {
        let _ = write!(text, " ({})", counts.join(", "));
    }
    text
}

/// Runs one scanner and reads its report.
async fn run(scan: &DependencyScan, artifact_dir: Option<&Path>) -> Result<Vec<Vulnerability>, String> {
    let Some((program, args)) = scan.command.split_first() else { return Err("its command is empty".to_owned()) };
    let mut command = crate::child_env::clean_command(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.process_group(0).kill_on_drop(true);
    let dir = scan.working_dir.as_deref().map(Path::new).or(artifact_dir);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|e| {
        let place = dir.map(|d| format!(" in {}", d.display())).unwrap_or_default();
        format!("could not start {program}{place}: {e}")
    })?;
    let Some(pid) = child.id() else { return Err(format!("{program} exited before it could be watched")) };
    let group = Pid::from_raw(pid as i32);
    // Dropped before the end (the validation was abandoned): the whole group goes.
    let mut guard = GroupGuard(Some(group));
    let mut stdout = tokio::spawn(read_capped(child.stdout.take()));
    let mut stderr = tokio::spawn(read_tail(child.stderr.take()));

    // A limit `problems()` would refuse (NaN, negative, huge) must not panic here.
    let limit = Duration::try_from_secs_f64(scan.timeout_seconds).unwrap_or(Duration::from_secs(300));
    let (status, timed_out) = if let Ok(status) = tokio::time::timeout(limit, child.wait()).await {
        (status.ok(), false)
    } else {
        let _ = killpg(group, Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait().await;
        }
        (None, true)
    };
    // Whatever it left running in its group goes too, so that the pipes close.
    let _ = killpg(group, Signal::SIGKILL);
    guard.0 = None;
    let (out, overflowed) = match tokio::time::timeout(STOP_GRACE, &mut stdout).await {
        Ok(Ok(read)) => read,
        _ => (Vec::new(), false),
    };
    let tail = match tokio::time::timeout(STOP_GRACE, &mut stderr).await {
        Ok(Ok(tail)) => tail,
        _ => Vec::new(),
    };
    // A grandchild that left the group may still hold a pipe: stop waiting for it.
    stdout.abort();
    stderr.abort();
    let tail = if tail.is_empty() { String::new() } else { format!("; stderr: {}", tail.join(" | ")) };
    if timed_out {
        return Err(format!("{program} timed out after {:.1} s and was stopped{tail}", limit.as_secs_f64()));
    }
    let ended = match status.and_then(|s| s.code()) {
        Some(code) => format!("exited with code {code}"),
        None => "was killed by a signal".to_owned(),
    };
    if overflowed {
        return Err(format!("{program} {ended} after printing more than 16 MiB{tail}"));
    }
    // A non-zero exit is how npm audit and cargo audit say they found something: the report
    // decides, not the exit code.
    reports::parse(scan.format, &out).map_err(|why| {
        format!("{program} {ended} but its output is not what {} prints: {why}{tail}", format_name(scan.format))
    })
}

/// The command whose output `format` is.
fn format_name(format: ScanFormat) -> &'static str {
    match format {
        ScanFormat::PipAudit => "`pip-audit -f json`",
        ScanFormat::NpmAudit => "`npm audit --json`",
        ScanFormat::CargoAudit => "`cargo audit --json`",
    }
}

/// Kills a process group when dropped, unless disarmed (`None`).
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Everything `stream` prints, up to [`MAX_STDOUT`]; past that it is read and dropped (so that
/// the scanner is not stuck on a full pipe) and the overflow reported.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut overflowed = false;
    let Some(mut stream) = stream else { return (kept, overflowed) };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, overflowed),
            Ok(read) if kept.len() + read <= MAX_STDOUT => kept.extend_from_slice(&buf[..read]),
            Ok(_) => overflowed = true,
        }
    }
}

/// The last [`STDERR_LINES`] non-blank lines of `stream`, each cut to [`STDERR_LINE_CHARS`].
async fn read_tail(stream: Option<impl AsyncRead + Unpin>) -> Vec<String> {
    let mut lines = VecDeque::new();
    let Some(mut stream) = stream else { return Vec::new() };
    let mut line = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    let mut keep = |line: &mut Vec<u8>| {
        let text = first_line(&String::from_utf8_lossy(line), STDERR_LINE_CHARS);
        line.clear();
        if !text.is_empty() {
            if lines.len() == STDERR_LINES {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    };
    loop {
        let read = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        for byte in &buf[..read] {
            if *byte == b'\n' {
                keep(&mut line);
            } else if line.len() < STDERR_LINE_CHARS * 4 {
                line.push(*byte);
            }
        }
    }
    keep(&mut line);
    lines.into()
}

//! Health checks of rollout instances: the platform's own view (is it running?) plus the plan's
//! probes — HTTP status, TCP connect, a command's exit code, `SELECT 1` on a SQLite file, or a
//! check the host registered ([`crate::extensions`]) — with a time limit per attempt and retries
//! with exponential backoff.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use loco_types::plan::{HealthSpec, Probe};

use crate::extensions::Extensions;
use crate::{HealthOutcome, Instance, InstanceHealth, Platform, Target};

/// Where a health check runs: the platform, and the host's probes that plans may name.
#[derive(Clone, Copy)]
pub struct Checker<'a> {
    /// The platform the instances run on.
    pub platform: &'a dyn Platform,
    /// The probes the host registered.
    pub extensions: &'a Extensions,
}

/// Checks `instance` until it passes or the retries run out. An instance the platform reports
/// as exited fails at once.
pub async fn check_with_retries(
    spec: &HealthSpec,
    checker: Checker<'_>,
    target: &Target,
    instance: &Instance,
) -> HealthOutcome {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (ok, exited, detail) = attempt(spec, checker, target, instance).await;
        if ok || exited || attempts > spec.retries {
            return outcome(spec, instance, ok, exited, attempts, detail, started);
        }
        tokio::time::sleep(spec.backoff(attempts - 1)).await;
    }
}

/// One attempt, no retries (for periodic re-checks while a step is observed).
pub async fn check_once(
    spec: &HealthSpec,
    checker: Checker<'_>,
    target: &Target,
    instance: &Instance,
) -> HealthOutcome {
    let started = Instant::now();
    let (ok, exited, detail) = attempt(spec, checker, target, instance).await;
    outcome(spec, instance, ok, exited, 1, detail, started)
}

fn outcome(
    spec: &HealthSpec,
    instance: &Instance,
    ok: bool,
    exited: bool,
    attempts: u32,
    detail: String,
    started: Instant,
) -> HealthOutcome {
    HealthOutcome {
        instance_id: instance.id.clone(),
        ok,
        attempts,
        probes: spec.probes.iter().map(Probe::describe).collect(),
        detail,
        exited,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// Returns (ok, exited, detail).
async fn attempt(
    spec: &HealthSpec,
    checker: Checker<'_>,
    target: &Target,
    instance: &Instance,
) -> (bool, bool, String) {
    match checker.platform.health(target, instance).await {
        Ok(InstanceHealth::Running) => {}
        Ok(InstanceHealth::Exited { reason }) => return (false, true, format!("instance exited: {reason}")),
        Err(e) => return (false, false, format!("platform health query failed: {e}")),
    }
    for probe in &spec.probes {
        let result =
            match tokio::time::timeout(spec.timeout(), run_probe(probe, checker.extensions, target, instance)).await {
                Ok(result) => result,
                Err(_) => Err(format!("timed out after {:?}", spec.timeout())),
            };
        if let Err(e) = result {
            return (false, false, format!("{}: {e}", probe.describe()));
        }
    }
    (true, false, if spec.probes.is_empty() { "running".to_owned() } else { "all probes passed".to_owned() })
}

async fn run_probe(probe: &Probe, extensions: &Extensions, target: &Target, instance: &Instance) -> Result<(), String> {
    match probe {
        Probe::Host { name } => {
            let probe = extensions.probe(name).ok_or_else(|| format!("no host probe named '{name}' is registered"))?;
            probe.check(target, instance).await.map_err(|e| e.to_string())
        }
        Probe::Http { path, expect_status } => {
            let status = http_get_status(address(instance)?, path).await?;
            if status == *expect_status { Ok(()) } else { Err(format!("answered {status}")) }
        }
        Probe::Url { url, expect_status, ca_pem } => {
            let status = url_status(url, ca_pem.as_deref()).await?;
            if status == *expect_status { Ok(()) } else { Err(format!("answered {status}")) }
        }
        Probe::Tcp => {
            TcpStream::connect(address(instance)?).await.map(drop).map_err(|e| format!("connect failed: {e}"))
        }
        Probe::Command { command } => {
            let (program, args) = command.split_first().ok_or("empty command")?;
            let status = crate::child_env::clean_command(program)
                .args(args)
                .env("LOCO_INSTANCE_ID", &instance.id)
                .env("LOCO_INSTANCE_ADDRESS", instance.address.as_deref().unwrap_or_default())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .map_err(|e| format!("cannot run: {e}"))?;
            if status.success() { Ok(()) } else { Err(format!("exited with {status}")) }
        }
        Probe::Sqlite { path } => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(|e| format!("cannot open: {e}"))?;
                conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .map(drop)
                    .map_err(|e| format!("query failed: {e}"))
            })
            .await
            .map_err(|e| format!("probe task failed: {e}"))?
        }
    }
}

fn address(instance: &Instance) -> Result<&str, String> {
    instance.address.as_deref().ok_or_else(|| "the instance has no network address".to_owned())
}

/// `GET url` over http or https (rustls, the system's roots plus `ca_pem`), without following
/// redirects; returns the status code.
async fn url_status(url: &str, ca_pem: Option<&str>) -> Result<u16, String> {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent("loco-health");
    if let Some(pem) = ca_pem {
        let certificate =
            reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("ca_pem is not a certificate: {e}"))?;
        builder = builder.add_root_certificate(certificate);
    }
    let client = builder.build().map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client.get(url).send().await.map_err(|e| {
        // The innermost causes say what went wrong (a refused connection, an untrusted certificate).
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let what = if e.is_connect() { "connect failed" } else { "request failed" };
        format!("{what}: {}", causes.join(": "))
    })?;
    Ok(response.status().as_u16())
}

/// A minimal HTTP/1.1 GET that returns the status code (the body is not read).
async fn http_get_status(address: &str, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(address).await.map_err(|e| format!("connect failed: {e}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: loco-health\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("write failed: {e}"))?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP response: {:?}", line.lines().next().unwrap_or_default()))
}

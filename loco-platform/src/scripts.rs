//! Runs one deployment script ([`ScriptSpec`]) as a child process in a process group of its own:
//! an environment of exactly `PATH`, Loco's `LOCO_*` variables, the declared ones and the secrets
//! it asked for; output captured line by line into a bounded [`ScriptLog`] that followers read
//! live, with secret values redacted; a time limit that stops the whole group (SIGTERM, then
//! SIGKILL after a grace period), so a grandchild that hangs cannot keep a rollout waiting.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{broadcast, mpsc};

use loco_types::plan::{REDACTED, ScriptLanguage, ScriptSpec};

use crate::{LogLine, LogStream};

/// Lines kept per script for late followers.
pub const KEEP_LINES: usize = 10_000;
/// Lines of the tail recorded in the `script` event.
pub const TAIL_LINES: usize = 20;
/// How long a script's group gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// Longest line kept (longer ones are cut).
const MAX_LINE_BYTES: usize = 16 * 1024;

/// The output of one script: its last [`KEEP_LINES`] lines and a live feed of new ones, which
/// ends when the script does.
pub struct ScriptLog {
    key: String,
    inner: Mutex<LogInner>,
}

struct LogInner {
    lines: VecDeque<LogLine>,
    written: u64,
    /// `None` once the script ended: followers then see the feed close.
    live: Option<broadcast::Sender<LogLine>>,
}

impl ScriptLog {
    /// An empty log; `key` (`script:<hook>:<name>`) is the id its lines carry.
    pub fn new(key: impl Into<String>) -> Arc<Self> {
        let (live, _) = broadcast::channel(1024);
        let inner = LogInner { lines: VecDeque::new(), written: 0, live: Some(live) };
        Arc::new(Self { key: key.into(), inner: Mutex::new(inner) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, stream: LogStream, line: String) {
        let line = LogLine { instance_id: self.key.clone(), stream, line };
        let mut inner = self.lock();
        if inner.lines.len() == KEEP_LINES {
            inner.lines.pop_front();
        }
        inner.lines.push_back(line.clone());
        inner.written += 1;
        if let Some(live) = &inner.live {
            let _ = live.send(line);
        }
    }

    fn end(&self) {
        self.lock().live = None;
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let inner = self.lock();
        inner.lines.iter().skip(inner.lines.len().saturating_sub(n)).map(|l| l.line.clone()).collect()
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.lock().written
    }

    /// The kept lines, then new ones as they are written, until the script ends.
    pub fn follow(&self) -> mpsc::Receiver<LogLine> {
        let (backlog, live) = {
            let inner = self.lock();
            (inner.lines.iter().cloned().collect::<Vec<_>>(), inner.live.as_ref().map(broadcast::Sender::subscribe))
        };
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            for line in backlog {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            let Some(mut live) = live else { return };
            loop {
                match live.recv().await {
                    Ok(next) => {
                        if tx.send(next).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        rx
    }
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutcome {
    /// The exit code (`None` when killed by a signal, timed out, or not started).
    pub exit_code: Option<i32>,
    /// Whether the time limit passed.
    pub timed_out: bool,
    /// Why it could not start.
    pub error: Option<String>,
    /// How long it ran.
    pub duration: Duration,
}

impl ScriptOutcome {
    /// Exited 0 within its time limit.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && self.error.is_none()
    }

    /// One sentence for failure messages.
    pub fn describe(&self) -> String {
        match (&self.error, self.timed_out, self.exit_code) {
            (Some(e), _, _) => format!("could not start: {e}"),
            (None, true, _) => format!("timed out after {:.1} s", self.duration.as_secs_f64()),
            (None, false, Some(code)) => format!("exited with code {code}"),
            (None, false, None) => "was killed by a signal".to_owned(),
        }
    }
}

/// Runs `spec` with exactly `env` (Loco's variables and the declared ones; `PATH` is added) plus
/// `secrets` (redacted from the output), writing its output to `log`.
pub async fn run(
    spec: &ScriptSpec,
    env: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    log: &Arc<ScriptLog>,
) -> ScriptOutcome {
    let started = Instant::now();
    let outcome = match command(spec) {
        Err(error) => ScriptOutcome { exit_code: None, timed_out: false, error: Some(error), duration: Duration::ZERO },
        Ok((mut cmd, _scratch)) => {
            cmd.envs(env).envs(secrets);
            execute(cmd, spec, secrets, log, started).await
        }
    };
    log.end();
    outcome
}

/// The command for `spec`, and a scratch directory that must live until it ends (an inline Go
/// program is written there).
fn command(spec: &ScriptSpec) -> Result<(tokio::process::Command, Option<Scratch>), String> {
    let mut scratch = None;
    if let Some(file) = &spec.file {
        let path =
            spec.working_dir.as_deref().map_or_else(|| Path::new(file).to_owned(), |dir| Path::new(dir).join(file));
        if !path.is_file() {
            return Err(format!("there is no file {}", path.display()));
        }
    }
    let mut cmd = match (spec.language, &spec.inline, &spec.file) {
        (ScriptLanguage::Shell, Some(text), _) => with_args("sh", ["-c", text]),
        (ScriptLanguage::Shell, None, Some(file)) => with_args("sh", [file.as_str()]),
        (ScriptLanguage::Python, Some(text), _) => with_args("python3", ["-c", text]),
        (ScriptLanguage::Python, None, Some(file)) => with_args("python3", [file.as_str()]),
        (ScriptLanguage::Go, inline, file) => {
            let go = find_on_path("go").ok_or("a Go script needs `go` on PATH, and there is none")?;
            let main = if let Some(text) = inline {
                let dir = Scratch::new().map_err(|e| format!("cannot write the Go program: {e}"))?;
                let main = dir.0.join("main.go");
                std::fs::write(&main, text).map_err(|e| format!("cannot write the Go program: {e}"))?;
                scratch = Some(dir);
                main.to_string_lossy().into_owned()
            } else {
                file.clone().unwrap_or_default()
            };
            let mut cmd = with_args(go, ["run".to_owned(), main]);
            // `go` keeps its build cache under the user's home, which a cleared environment
            // lacks; a private one per script keeps the environment otherwise exact.
            if let Some(dir) = &scratch {
                cmd.env("GOCACHE", dir.0.join("cache")).env("GOPATH", dir.0.join("gopath"));
            } else {
                cmd.env("GOCACHE", std::env::temp_dir().join("loco-go-cache"));
            }
            cmd
        }
        (_, None, None) => return Err("the script has neither inline text nor a file".to_owned()),
    };
    if let Some(dir) = &spec.working_dir {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    Ok((cmd, scratch))
}

/// A private directory, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("loco-script-{}", ulid::Ulid::new()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn with_args<I, S>(program: impl AsRef<std::ffi::OsStr>, args: I) -> tokio::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = crate::child_env::clean_command(program);
    cmd.args(args);
    cmd
}

fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join(program)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|candidate| Path::new(candidate).is_file())
}

async fn execute(
    mut cmd: tokio::process::Command,
    spec: &ScriptSpec,
    secrets: &BTreeMap<String, String>,
    log: &Arc<ScriptLog>,
    started: Instant,
) -> ScriptOutcome {
    let failed = |error: String| ScriptOutcome {
        exit_code: None,
        timed_out: false,
        error: Some(error),
        duration: started.elapsed(),
    };
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("{e}")),
    };
    let Some(pid) = child.id() else { return failed("it exited before it could be watched".to_owned()) };
    let group = Pid::from_raw(pid as i32);
    // Dropped before the end (the caller stopped waiting): the whole group goes, not only the
    // child that `kill_on_drop` reaches.
    let mut guard = GroupGuard(Some(group));
    let redact: Arc<Vec<String>> = Arc::new(secrets.values().filter(|v| !v.is_empty()).cloned().collect());
    let readers = [
        child.stdout.take().map(|out| capture(out, LogStream::Stdout, log.clone(), redact.clone())),
        child.stderr.take().map(|err| capture(err, LogStream::Stderr, log.clone(), redact.clone())),
    ];
    let limit = Duration::from_secs_f64(spec.timeout_seconds);
    let (status, timed_out) = if let Ok(status) = tokio::time::timeout(limit, child.wait()).await {
        (status.ok(), false)
    } else {
        let _ = killpg(group, Signal::SIGTERM);
        let status = if let Ok(status) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
            status.ok()
        } else {
            let _ = killpg(group, Signal::SIGKILL);
            child.wait().await.ok()
        };
        (status, true)
    };
    let duration = started.elapsed();
    // Whatever the script left running in its group goes with it; the pipes then close.
    let _ = killpg(group, Signal::SIGKILL);
    guard.0 = None;
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(STOP_GRACE, reader).await;
    }
    ScriptOutcome {
        exit_code: if timed_out { None } else { status.and_then(|s| s.code()) },
        timed_out,
        error: None,
        duration,
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

fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    which: LogStream,
    log: Arc<ScriptLog>,
    redact: Arc<Vec<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    buf.truncate(MAX_LINE_BYTES);
                    let mut line = String::from_utf8_lossy(&buf).into_owned();
                    for secret in redact.iter() {
                        if line.contains(secret.as_str()) {
                            line = line.replace(secret.as_str(), REDACTED);
                        }
                    }
                    log.push(which, line);
                }
            }
        }
    })
}

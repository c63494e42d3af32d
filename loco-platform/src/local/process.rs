//! Instance processes of the local platform: each runs in its own process group, has a pidfile
//! (so an engine restarted after a crash can still stop it), and has its output captured as logs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::broadcast;

use crate::local::procfs::process_start_time;
use crate::{LogLine, LogStream, PlatformError, PlatformResult};

/// Lines of output kept per instance for late log readers.
const LOG_BACKLOG: usize = 500;
/// How long an instance gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a pidfile records: enough to find the process again, and to be sure it is the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PidRecord {
    pub pid: u32,
    /// The kernel's start time of the process (clock ticks since boot), which tells a reused pid apart.
    pub start_time: Option<u64>,
}

/// A process the platform started in this engine run.
pub(crate) struct ManagedProcess {
    child: Mutex<Option<Child>>,
    pub pid: u32,
    /// Set when the instance is taken out of service, so a late readiness check cannot put it back.
    retired: AtomicBool,
    logs: broadcast::Sender<LogLine>,
    backlog: Arc<Mutex<VecDeque<LogLine>>>,
    pidfile: PathBuf,
}

impl ManagedProcess {
    /// Starts `command` with `env` in a new process group and writes its pidfile.
    pub fn spawn(
        instance_id: &str,
        command: &[String],
        working_dir: Option<&str>,
        env: &[(String, String)],
        pid_dir: &Path,
    ) -> PlatformResult<Arc<ManagedProcess>> {
        let (program, args) =
            command.split_first().ok_or_else(|| PlatformError::new("the release has no command to run"))?;
        let mut cmd = crate::child_env::clean_command(program);
        if let Some(dir) = working_dir {
            cmd.current_dir(dir);
        }
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| PlatformError::new(format!("cannot start '{program}': {e}")))?;
        let pid = child.id().ok_or_else(|| PlatformError::new("the process exited before it could be recorded"))?;
        let pidfile = pid_dir.join(format!("{instance_id}.json"));
        write_pidfile(&pidfile, &PidRecord { pid, start_time: process_start_time(pid) })?;

        let (logs, _) = broadcast::channel(256);
        let backlog = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_BACKLOG)));
        if let Some(out) = child.stdout.take() {
            capture(out, LogStream::Stdout, instance_id, logs.clone(), backlog.clone());
        }
        if let Some(err) = child.stderr.take() {
            capture(err, LogStream::Stderr, instance_id, logs.clone(), backlog.clone());
        }
        Ok(Arc::new(ManagedProcess {
            child: Mutex::new(Some(child)),
            pid,
            retired: AtomicBool::new(false),
            logs,
            backlog,
            pidfile,
        }))
    }

    /// Marks the instance as out of service (before it is removed from the routes).
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    /// Whether the instance was taken out of service.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// `None` while running, else why it exited.
    pub fn exit_reason(&self) -> Option<String> {
        let mut guard = self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_mut().map(Child::try_wait) {
            None => Some("stopped".to_owned()),
            Some(Ok(None)) => None,
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Err(e)) => Some(format!("unknown ({e})")),
        }
    }

    /// Recent output, then a live feed.
    pub fn logs(&self) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let receiver = self.logs.subscribe();
        let backlog = self.backlog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect();
        (backlog, receiver)
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL after a grace period. Idempotent.
    pub async fn stop(&self) {
        self.retire();
        let child = self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(mut child) = child {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
                    let _ = child.wait().await;
                }
            }
            // Children of the instance that ignored SIGTERM go with the group.
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    which: LogStream,
    instance_id: &str,
    logs: broadcast::Sender<LogLine>,
    backlog: Arc<Mutex<VecDeque<LogLine>>>,
) {
    let instance_id = instance_id.to_owned();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = LogLine { instance_id: instance_id.clone(), stream: which, line };
            {
                let mut b = backlog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if b.len() == LOG_BACKLOG {
                    b.pop_front();
                }
                b.push_back(line.clone());
            }
            let _ = logs.send(line);
        }
    });
}

fn write_pidfile(path: &Path, record: &PidRecord) -> PlatformResult<()> {
    let text = serde_json::to_string(record).map_err(PlatformError::new)?;
    // Write then rename, so a crash never leaves a half-written pidfile.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| PlatformError::new(format!("cannot write pidfile {}: {e}", path.display())))
}

/// Reads the pidfile of an instance started by an earlier engine run.
pub(crate) fn read_pidfile(pid_dir: &Path, instance_id: &str) -> Option<PidRecord> {
    let text = std::fs::read_to_string(pid_dir.join(format!("{instance_id}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// True when the process recorded in `record` is still the same live process.
pub(crate) fn is_alive(record: &PidRecord) -> bool {
    match (process_start_time(record.pid), record.start_time) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Stops a process group started by an earlier engine run (found through its pidfile).
pub(crate) async fn stop_orphan(pid_dir: &Path, instance_id: &str) {
    let Some(record) = read_pidfile(pid_dir, instance_id) else { return };
    if is_alive(&record) {
        let group = Pid::from_raw(record.pid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while is_alive(&record) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(pid_dir.join(format!("{instance_id}.json")));
}

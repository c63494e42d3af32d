//! What the numbers were measured on: cores, CPU model, memory and load from `/proc`, and the
//! versions of rustc, SQLite, Loco, Python and Node.

use std::path::Path;
use std::process::Command;

/// The machine, as read from `/proc` when the run starts.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub cores: usize,
    /// The first `model name` in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` in GiB.
    pub memory_gib: f64,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads the machine description (unknown parts read as `unknown`).
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |line: &str| line.split_once(':').map(|(_, v)| v.trim().to_owned());
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(field)
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|kib| kib.parse::<f64>().ok()))
            .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
        let cores = if cores == 0 { std::thread::available_parallelism().map_or(0, usize::from) } else { cores };
        Self { cores, cpu_model, memory_gib, kernel }
    }
}

/// The 1-minute load average right now.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The versions of everything that shapes the numbers.
#[derive(Debug, Clone)]
pub struct Versions {
    /// `rustc --version`.
    pub rustc: String,
    /// The bundled SQLite library.
    pub sqlite: String,
    /// The workspace version plus the git commit (with `-dirty` when tracked files differ).
    pub loco: String,
    /// `python3 --version`, or `not found`.
    pub python: String,
    /// `node --version`, or `not found`.
    pub node: String,
}

impl Versions {
    /// Asks each tool for its version.
    pub fn detect(root: &Path, python: &str) -> Self {
        let commit = command_output(Command::new("git").arg("-C").arg(root).args(["rev-parse", "--short", "HEAD"]));
        let dirty = command_output(Command::new("git").arg("-C").arg(root).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]))
        .is_some_and(|s| !s.is_empty());
        let loco = match commit {
            Some(c) => format!("{} (git {c}{})", env!("CARGO_PKG_VERSION"), if dirty { "-dirty" } else { "" }),
            None => env!("CARGO_PKG_VERSION").to_owned(),
        };
        Self {
            rustc: command_output(Command::new("rustc").arg("--version")).unwrap_or_else(|| "unknown".to_owned()),
            sqlite: rusqlite::version().to_owned(),
            loco,
            python: command_output(Command::new(python).arg("--version")).unwrap_or_else(|| "not found".to_owned()),
            node: command_output(Command::new("node").arg("--version")).unwrap_or_else(|| "not found".to_owned()),
        }
    }
}

fn command_output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok().filter(|o| o.status.success())?;
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    Some(String::from_utf8_lossy(&text).trim().to_owned())
}

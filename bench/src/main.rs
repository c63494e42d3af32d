//! `loco-bench`: measures Loco against baselines taken in the same run on the same machine and
//! prints one markdown table of ratios, with the machine, the versions and the raw numbers.
//!
//! Run it with `./scripts/bench [--quick]` (or `cargo run --release -p loco-bench -- [--quick]`).
//! Progress goes to stderr, the report to stdout. Targets are reported, never asserted: the
//! command fails only when something errors.

mod child;
mod host;
mod http;
mod lifecycles;
mod machine;
mod postgres;
mod raw;
mod reads;
mod restore;
mod rollouts;
mod scripts;
mod seed;
mod stats;
mod table;
mod writes;

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::table::Row;

/// Any error; it ends the run with its message.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every measurement either happened or the run failed.
pub(crate) type Result<T, E = BoxError> = std::result::Result<T, E>;

const USAGE: &str = "usage: loco-bench [--quick] [--only P1,P3,...]

  --quick   CI smoke run: smaller counts, P3 at 100,000 rows only (under 2 minutes on 2 cores)
  --only    run only these rows (P1 and P2 run together, and so do P4 and P5; P10 is P10a and P10b)

environment: LOCO_BENCH_PYTHON (default python3; use the venv where `loco` is installed),
LOCO_NODE_PACKAGE (the loco-node package directory; default loco-node/), LOCO_BIN (the `loco`
binary for P7; default target/release/loco), TMPDIR (where the throwaway databases go; a real disk),
LOCO_TEST_POSTGRES_URL (the PostgreSQL server for P10; default postgres://postgres@127.0.0.1:5432/test)";

/// How big a run is.
#[derive(Debug, Clone, Copy)]
struct Scale {
    quick: bool,
    writes: writes::WritesScale,
    reads: reads::ReadsScale,
    rollouts: rollouts::RolloutsScale,
    lifecycles: usize,
    lifecycle_reps: usize,
    host_rollouts: usize,
    scripts: usize,
    http: http::HttpScale,
    restore: restore::RestoreScale,
    postgres: postgres::PostgresScale,
}

const FULL: Scale = Scale {
    quick: false,
    writes: writes::WritesScale { reps: 3, p1_deployments: 500, p2_deployments_per_caller: 100 },
    reads: reads::ReadsScale { get_rows: 100_000, list_rows: 1_000_000, get_samples: 20_000, list_samples: 10_000 },
    rollouts: rollouts::RolloutsScale { concurrent: 10_000, failures: 200 },
    lifecycles: 1_000,
    lifecycle_reps: 3,
    host_rollouts: 1_000,
    scripts: 500,
    http: http::HttpScale { pairs_per_client: 50, limit: Duration::from_secs(120) },
    restore: restore::RestoreScale { reps: 20 },
    postgres: postgres::PostgresScale { reps: 3, deployments_per_caller: 24 },
};

const QUICK: Scale = Scale {
    quick: true,
    writes: writes::WritesScale { reps: 2, p1_deployments: 250, p2_deployments_per_caller: 25 },
    reads: reads::ReadsScale { get_rows: 100_000, list_rows: 100_000, get_samples: 5_000, list_samples: 3_000 },
    rollouts: rollouts::RolloutsScale { concurrent: 1_000, failures: 50 },
    lifecycles: 250,
    lifecycle_reps: 1,
    host_rollouts: 100,
    scripts: 100,
    http: http::HttpScale { pairs_per_client: 10, limit: Duration::from_secs(30) },
    restore: restore::RestoreScale { reps: 5 },
    postgres: postgres::PostgresScale { reps: 2, deployments_per_caller: 6 },
};

/// Command-line arguments.
struct Args {
    quick: bool,
    only: Option<Vec<String>>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>> {
        let mut parsed = Args { quick: false, only: None };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--only" => {
                    let rows = args.next().ok_or("--only needs a list such as P1,P3")?;
                    parsed.only = Some(rows.split(',').map(|r| r.trim().to_ascii_uppercase()).collect());
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument '{other}'\n{USAGE}").into()),
            }
        }
        Ok(Some(parsed))
    }

    fn wants(&self, row: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|r| r == row))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loco-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `future` as a task on `runtime`'s workers (where a server's handlers run) and waits.
pub(crate) fn on_runtime<F>(runtime: &Runtime, future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(runtime.block_on(runtime.spawn(future))?)
}

/// Everything the report says besides the rows.
struct Context {
    machine: machine::Machine,
    versions: machine::Versions,
    load_at_start: String,
}

fn run() -> Result<()> {
    let mut command_line = std::env::args().skip(1).peekable();
    if command_line.peek().map(String::as_str) == Some(rollouts::CHILD_ARG) {
        let db = command_line.nth(1).ok_or("no database")?;
        let count = command_line.next().ok_or("no count")?.parse()?;
        let line = rollouts::child_main(Path::new(&db), count)?;
        std::io::stdout().lock().write_all(format!("{line}\n").as_bytes())?;
        return Ok(());
    }
    let Some(args) = Args::parse(command_line)? else {
        eprintln!("{USAGE}");
        return Ok(());
    };
    let scale = if args.quick { QUICK } else { FULL };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("bench/ has no parent")?.to_owned();
    let python = std::env::var("LOCO_BENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let context = Context {
        machine: machine::Machine::detect(),
        versions: machine::Versions::detect(&root, &python),
        load_at_start: machine::load_average(),
    };
    let started = Instant::now();
    let (rows, notes) = measure(&args, &scale, &root, &python)?;
    let report = report(&context, &scale, started.elapsed(), &rows, &notes);
    std::io::stdout().lock().write_all(report.as_bytes())?;
    Ok(())
}

/// Runs every requested row in a temporary directory that is removed afterwards.
fn measure(args: &Args, scale: &Scale, root: &Path, python: &str) -> Result<(Vec<Row>, Vec<String>)> {
    let dir = tempfile::Builder::new().prefix("loco-bench-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    eprintln!("loco-bench: {} run in {}", if scale.quick { "quick" } else { "full" }, dir.path().display());
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut p2_rate = None;
    if args.wants("P1") || args.wants("P2") {
        eprintln!("P1/P2: durable transitions");
        let w = writes::run(&runtime, dir.path(), scale.writes)?;
        p2_rate = Some(w.engine_64_rate);
        rows.extend(w.rows);
        notes.push(w.note);
    }
    if args.wants("P3") {
        eprintln!("P3: reads");
        let r = reads::run(&runtime, dir.path(), scale.reads)?;
        rows.extend(r.rows);
        notes.push(r.note);
    }
    if args.wants("P4") || args.wants("P5") {
        eprintln!("P4/P5: rollouts");
        let r = rollouts::run(&runtime, dir.path(), scale.rollouts)?;
        rows.extend(r.rows);
        notes.push(r.note);
    }
    if args.wants("P6") {
        eprintln!("P6: full lifecycles");
        let node_package = std::env::var_os("LOCO_NODE_PACKAGE").map_or_else(|| root.join("loco-node"), PathBuf::from);
        let setup = lifecycles::Setup {
            root,
            python,
            node_package: &node_package,
            count: scale.lifecycles,
            reps: scale.lifecycle_reps,
        };
        let l = lifecycles::run(&runtime, dir.path(), &setup)?;
        rows.extend(l.rows);
        notes.push(l.note);
        eprintln!("P6: rollouts on host platforms");
        let setup = host::Setup { root, python, node_package: &node_package, count: scale.host_rollouts };
        let h = host::run(&runtime, dir.path(), &setup)?;
        rows.extend(h.rows);
        notes.push(h.note);
    }
    if args.wants("P7") {
        eprintln!("P7: HTTP");
        let loco_bin = std::env::var_os("LOCO_BIN")
            .map(PathBuf::from)
            .or_else(|| Some(root.join("target/release/loco")).filter(|p| p.is_file()));
        let setup = http::Setup { root, python, loco_bin };
        let h = http::run(dir.path(), &setup, scale.http, p2_rate)?;
        rows.extend(h.rows);
        notes.push(h.note);
    }
    if args.wants("P8") {
        eprintln!("P8: rollback to a retained release");
        let setup = restore::Setup { root, python };
        let r = restore::run(&runtime, dir.path(), &setup, scale.restore)?;
        rows.extend(r.rows);
        notes.push(r.note);
    }
    if args.wants("P9") {
        eprintln!("P9: deployment scripts");
        let s = scripts::run(&runtime, scale.scripts)?;
        rows.extend(s.rows);
        notes.push(s.note);
    }
    if args.wants("P10") || args.wants("P10A") || args.wants("P10B") {
        eprintln!("P10: durable transitions on PostgreSQL");
        let p = postgres::run(&runtime, scale.postgres)?;
        rows.extend(p.rows);
        notes.push(p.note);
    }
    Ok((rows, notes))
}

/// The whole report: machine, versions, the one table, and how things were measured.
fn report(context: &Context, scale: &Scale, took: Duration, rows: &[Row], notes: &[String]) -> String {
    let (machine, versions) = (&context.machine, &context.versions);
    let mut out = String::new();
    let kind = if scale.quick {
        "quick (CI smoke: smaller counts; P3 list at 100,000 rows instead of 1,000,000; P4 with 1,000 rollouts \
         instead of 10,000; fewer repetitions)"
    } else {
        "full"
    };
    let _ = writeln!(out, "## Loco benchmark — {}\n", if scale.quick { "quick run" } else { "full run" });
    let _ = writeln!(
        out,
        "- Machine: {} cores, {}, {:.1} GiB RAM, Linux {}; load average {} at start, {} at end",
        machine.cores,
        machine.cpu_model,
        machine.memory_gib,
        machine.kernel,
        context.load_at_start,
        machine::load_average()
    );
    let _ = writeln!(
        out,
        "- Versions: loco {}, {}, SQLite {} (bundled by rusqlite), {}, Node {}",
        versions.loco, versions.rustc, versions.sqlite, versions.python, versions.node
    );
    let _ = writeln!(
        out,
        "- Run: {kind}; {:.0} s; databases in a temporary directory on the same disk (removed afterwards)\n",
        took.as_secs_f64()
    );
    out.push_str(&table::render(rows));
    out.push('\n');
    let measured = rows.iter().filter(|r| r.met().is_some()).count();
    let met = rows.iter().filter(|r| r.met() == Some(true)).count();
    let pending = rows.iter().filter(|r| r.ratio.is_none() && r.loco.starts_with("not yet")).count();
    let _ = writeln!(out, "Targets met: {met} of {measured} measured; {pending} rows not yet measurable.\n");
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

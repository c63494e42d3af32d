//! `loco demo`: a real canary rollout on this machine in one command. It runs the demo service
//! (embedded, Python standard library) as v1 behind the local platform's proxy on a fresh SQLite
//! file, sends it traffic, rolls out a bad v2 by canary (rolled back automatically) and a good v3
//! (promoted step by step to 100 %), shows live progress with the traffic split, error rate and
//! latency per version, prints the event history, and stops every process it started.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use loco_core::analysis::Thresholds;
use loco_core::event_data::{EventData, RolloutTurn, StepProgressData};
use loco_core::rollout::{AnalysisSpec, HealthSpec, Probe, ReleaseSpec, Rollout, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, Event, EventKind, NewDeployment};

use crate::cli::exit::CliError;

/// The demo service, written next to the database at start so the binary works from anywhere.
const DEMO_SERVICE: &str = include_str!("../../../examples/demo-service/app.py");
const SERVICE: &str = "shop";
const ENVIRONMENT: &str = "production";

/// Options of `loco demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Shorter observation windows (about 25 s in all), for automated runs.
    #[arg(long)]
    pub quick: bool,
    /// Keep the demo's database and state directory instead of deleting them.
    #[arg(long)]
    pub keep: bool,
    /// Where the demo deploys: `local` (child processes behind the local proxy) or `fly` (Fly.io
    /// Machines, against a local fake of the Machines API).
    #[arg(long, value_enum, default_value_t = DemoPlatform::Local)]
    pub platform: DemoPlatform,
}

/// The platforms `loco demo` can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoPlatform {
    /// Child processes on this machine.
    Local,
    /// Fly.io Machines (a local fake of the API).
    Fly,
}

/// Timings of one demo run.
struct Pace {
    interval: f64,
    monitor: f64,
}

/// Runs the demo; everything it started is stopped before it returns, even on failure or Ctrl-C.
pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    if args.platform == DemoPlatform::Fly {
        return crate::cli::demo_fly::run(&args).await;
    }
    let python = which_python()?;
    let dir =
        tempfile::Builder::new().prefix("loco-demo-").tempdir().map_err(|e| internal("temporary directory", e))?;
    let script = dir.path().join("demo-service.py");
    std::fs::write(&script, DEMO_SERVICE).map_err(|e| internal("demo service", e))?;
    let engine =
        Engine::builder().path(dir.path().join("loco.db")).local_platform(dir.path().join("state")).open().await?;
    let demo = Demo {
        engine: engine.clone(),
        python,
        script: script.display().to_string(),
        pace: if args.quick { Pace { interval: 4.0, monitor: 3.0 } } else { Pace { interval: 8.0, monitor: 6.0 } },
        started: Instant::now(),
        fancy: std::io::stderr().is_terminal(),
    };
    say(&format!(
        "Loco demo: a real canary rollout on this machine\n  database  {}",
        dir.path().join("loco.db").display()
    ));
    let outcome = tokio::select! {
        outcome = demo.run() => outcome,
        _ = tokio::signal::ctrl_c() => Err(CliError::Usage("interrupted".to_owned())),
    };
    engine.close().await?; // stops every instance and the proxy
    if args.keep {
        say(&format!("kept {}", dir.keep().display()));
    }
    outcome
}

struct Demo {
    engine: Engine,
    python: String,
    script: String,
    pace: Pace,
    started: Instant,
    fancy: bool,
}

impl Demo {
    async fn run(&self) -> Result<(), CliError> {
        say("\n[1/3] v1: first release, 2 instances, immediate");
        let v1 = self.deploy("1.0.0", "v1", "0", 2, Strategy::Immediate {}, None).await?;
        let endpoint =
            v1.progress.endpoint.clone().ok_or_else(|| CliError::Internal("no proxy endpoint".to_owned()))?;
        say(&format!("      succeeded; the proxy serves it at http://{endpoint}"));
        let traffic = Traffic::start(&endpoint, 6);
        say("      traffic: 6 clients through the proxy");
        tokio::time::sleep(Duration::from_secs(2)).await;

        let steps = vec![10, 25, 50];
        say(&format!("\n[2/3] v2 fails 60% of its requests; canary {steps:?}% with {}s per step", self.pace.interval));
        let canary = Strategy::Canary { steps: steps.clone(), interval_seconds: self.pace.interval };
        let v2 = self.deploy("2.0.0", "v2", "0.6", 1, canary.clone(), Some(self.analysis())).await?;
        self.report(&v2, "v1").await?;

        say(&format!(
            "\n[3/3] v3 is healthy; canary {steps:?}% with {}s per step, then {}s of monitoring at 100%",
            self.pace.interval, self.pace.monitor
        ));
        let v3 = self.deploy("3.0.0", "v3", "0", 2, canary, Some(self.analysis())).await?;
        self.report(&v3, "v3").await?;
        let sent = traffic.stop();

        for (title, rollout) in [("v2 (rolled back)", &v2), ("v3 (promoted)", &v3)] {
            say(&format!("\nEvent history of {title}, deployment {}:", rollout.deployment_id));
            print_events(&self.engine.events(&rollout.deployment_id).await?);
        }
        let audit = self.engine.verify_audit().await?;
        say(&format!(
            "\nDone in {:.0}s: {sent} requests served, audit chain of {} events {}.",
            self.started.elapsed().as_secs_f64(),
            audit.events_checked,
            if audit.valid { "verified" } else { "BROKEN" }
        ));
        if v2.state != RolloutState::RolledBack || v3.state != RolloutState::Succeeded || !audit.valid {
            return Err(CliError::Internal("the demo did not end as intended (see above)".to_owned()));
        }
        Ok(())
    }

    fn analysis(&self) -> AnalysisSpec {
        AnalysisSpec {
            // The demo shares two cores with its own Python instances and load generator (and, on a
            // busy laptop or CI machine, with whatever else runs): latency jitter of a few tens of
            // ms is noise, not a regression, and a good release measured 573 ms at p99 once with
            // both cores compiling. What the demo shows is v2's error rate tripping the critical
            // trigger, so its absolute latency limit is generous.
            thresholds: Some(Thresholds { latency_noise_floor_ms: 100.0, max_p99_ms: 2000.0, ..Thresholds::default() }),
            monitor_seconds: self.pace.monitor,
            poll_seconds: 0.5,
            pause_timeout_seconds: 60.0,
            ..AnalysisSpec::default()
        }
    }

    /// Creates, approves and rolls out one version, showing progress until it ends.
    async fn deploy(
        &self,
        version: &str,
        label: &str,
        failure_rate: &str,
        instances: u32,
        strategy: Strategy,
        analysis: Option<AnalysisSpec>,
    ) -> Result<Rollout, CliError> {
        let request = NewDeployment {
            service: SERVICE.to_owned(),
            environment: ENVIRONMENT.to_owned(),
            version: version.to_owned(),
            requester: "alice@example.com".to_owned(),
            work_refs: vec![format!("SHOP-{}", 100 + version.len())],
            rollback_plan: "the canary rolls back automatically; else roll back to the previous release".to_owned(),
            risk: Some(format!("demo release {label}")),
            commit: None,
        };
        let d = self.engine.create(request, None).await?;
        self.engine.approve(&d.id, "bob@example.com", Some("reviewed in the demo")).await?;
        let plan = RolloutPlan {
            platform: "local".to_owned(),
            strategy,
            release: ReleaseSpec {
                version: label.to_owned(),
                command: vec![self.python.clone(), self.script.clone()],
                env: [("FAILURE_RATE".to_owned(), failure_rate.to_owned())].into(),
                ..ReleaseSpec::default()
            },
            instances,
            health: HealthSpec {
                probes: vec![Probe::Http { path: "/health".to_owned(), expect_status: 200 }],
                timeout_seconds: 2.0,
                retries: 20,
                backoff_initial_seconds: 0.05,
                backoff_max_seconds: 0.5,
                interval_seconds: 1.0,
            },
            analysis,
            scale_down_delay_seconds: 0.0,
            on_restart: loco_core::rollout::OnRestart::default(),
            scripts: loco_core::rollout::ScriptHooks::default(),
            validation: loco_core::rollout::ValidationSpec::default(),
        };
        self.engine.start_rollout(&d.id, plan, "deploy-bot").await?;
        let bar = self.bar();
        loop {
            let rollout = self.engine.rollout(&d.id).await?;
            self.show(&bar, &rollout).await;
            if !rollout.state.is_active() {
                bar.finish_and_clear();
                break;
            }
            tokio::time::sleep(Duration::from_millis(if self.fancy { 150 } else { 1500 })).await;
        }
        Ok(self.engine.wait_rollout(&d.id).await?)
    }

    fn bar(&self) -> ProgressBar {
        if !self.fancy {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(1);
        let style = ProgressStyle::with_template("  {spinner} [{bar:20}] step {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// One progress update: step, traffic split, and per-version requests, errors and p99 over
    /// the last 5 seconds as the proxy measured them.
    async fn show(&self, bar: &ProgressBar, rollout: &Rollout) {
        let p = &rollout.progress;
        let split: Vec<String> = p.traffic.iter().map(|w| format!("{} {}%", w.version, w.percent)).collect();
        let mut line = format!("{} | {}", p.step, if split.is_empty() { "-".to_owned() } else { split.join(" / ") });
        for w in &p.traffic {
            if let Ok(s) = self.engine.release_metrics(&rollout.deployment_id, &w.version, Duration::from_secs(5)).await
                && s.requests > 0
            {
                let p99 = s.p99_ms.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}ms"));
                let _ = write!(
                    line,
                    " | {}: {:.0} req/s {:.1}% err p99 {p99}",
                    w.version,
                    s.requests as f64 / 5.0,
                    s.error_rate * 100.0
                );
            }
        }
        if self.fancy {
            bar.set_length(u64::from(p.total_steps.max(1)));
            bar.set_position(u64::from(p.completed_steps));
            bar.set_message(line);
        } else {
            say(&format!("      step {}/{} {line}", p.completed_steps, p.total_steps));
        }
    }

    /// Says how a rollout ended, with the decision and its timing.
    async fn report(&self, rollout: &Rollout, serving: &str) -> Result<(), CliError> {
        let took = rollout
            .finished_at
            .map_or(0.0, |f| (f.as_datetime() - rollout.started_at.as_datetime()).num_milliseconds() as f64 / 1000.0);
        match (rollout.state, &rollout.failure) {
            (RolloutState::RolledBack, Some(f)) => {
                let events = self.engine.events(&rollout.deployment_id).await?;
                let timing = events.iter().find_map(|e| match e.typed_data() {
                    Ok(Some(EventData::StepProgress(StepProgressData::Turn(RolloutTurn::Restored {
                        trigger_to_rollback_call_ms,
                        ..
                    })))) => trigger_to_rollback_call_ms,
                    _ => None,
                });
                say(&format!("  ✗ rolled back automatically after {took:.1}s: {}", f.message));
                if let Some(ms) = timing {
                    say(&format!(
                        "    the rollback was called {ms:.1} ms after the deciding request; {serving} serves 100% again"
                    ));
                }
            }
            (RolloutState::Succeeded, _) => {
                let promotions = self
                    .engine
                    .events(&rollout.deployment_id)
                    .await?
                    .iter()
                    .filter(|e| e.kind == EventKind::CanaryPromoted)
                    .count();
                say(&format!(
                    "  ✓ {promotions} promotions, monitored at 100%, succeeded after {took:.1}s; {serving} serves 100%"
                ));
            }
            (state, failure) => say(&format!("  ! ended {state}: {failure:?}")),
        }
        Ok(())
    }
}

/// Keep-alive clients sending `GET /` through the proxy, about 40 requests per second each.
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

impl Traffic {
    fn start(endpoint: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap_or_default();
        let url = format!("http://{endpoint}/");
        for _ in 0..clients {
            let (stop, sent, client, url) = (stop.clone(), sent.clone(), client.clone(), url.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if client.get(&url).timeout(Duration::from_secs(5)).send().await.is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            });
        }
        Self { stop, sent }
    }

    fn stop(&self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn print_events(events: &[Event]) {
    for e in events {
        let note = e.note.as_deref().unwrap_or_default();
        let note = if note.chars().count() > 110 {
            format!("{}…", note.chars().take(109).collect::<String>())
        } else {
            note.to_owned()
        };
        say(&format!("  #{:<4} {:<16} {:<18} {note}", e.seq, e.kind.as_str(), e.actor));
    }
}

pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Internal(format!("{what}: {e}"))
}

/// The Python the demo service runs on: `python3` on PATH.
fn which_python() -> Result<String, CliError> {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| Path::new(&dir).join("python3").is_file()));
    if found {
        Ok("python3".to_owned())
    } else {
        Err(CliError::Usage("loco demo runs its demo service with python3, which is not on PATH".to_owned()))
    }
}

//! `loco demo --platform fly`: the demo's story on Fly.io Machines — against the local fake of
//! the Machines API in `loco-fakes`, since the demo must run without an account or a network. A
//! platform is configured the way a user would (`add_platform`, sealed token, connection test),
//! then v1 is released on two machines, a v2 whose health checks never pass is rolled out by
//! canary and rolled back, and a good v3 is promoted by machine count. Every API call is printed
//! as it happens, and the requests per release are counted at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loco_core::platform_config::{FlySettings, PlatformSettings};
use loco_core::rollout::{HealthSpec, ReleaseSpec, Rollout, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, NewDeployment};
use loco_fakes::fly::{FlyFake, FlyFakeOptions};

use crate::cli::demo::{DemoArgs, internal, print_events, say};
use crate::cli::exit::CliError;

const PLATFORM: &str = "fly-demo";
const APP: &str = "shop";

/// Runs the Fly.io demo; the fake and the engine are stopped before it returns.
pub async fn run(args: &DemoArgs) -> Result<(), CliError> {
    let dir =
        tempfile::Builder::new().prefix("loco-demo-fly-").tempdir().map_err(|e| internal("temporary directory", e))?;
    let token = format!("fm2_demo-{}", ulid::Ulid::new());
    let fake =
        FlyFake::start(FlyFakeOptions { token: token.clone(), app: APP.to_owned(), ..FlyFakeOptions::default() })
            .await
            .map_err(|e| internal("the Fly.io fake", e))?;
    let engine = Engine::builder().path(dir.path().join("loco.db")).open().await?;
    say(&format!(
        "Loco demo on Fly.io Machines (a local fake of the Machines API at {})\n  database  {}",
        fake.base_url(),
        dir.path().join("loco.db").display()
    ));
    let calls = CallPrinter::start(&fake);
    let outcome = tokio::select! {
        outcome = story(&engine, &fake, &token, args.quick, &calls) => outcome,
        _ = tokio::signal::ctrl_c() => Err(CliError::Usage("interrupted".to_owned())),
    };
    calls.stop();
    engine.close().await?;
    if args.keep {
        say(&format!("kept {}", dir.keep().display()));
    }
    outcome
}

async fn story(engine: &Engine, fake: &FlyFake, token: &str, quick: bool, calls: &CallPrinter) -> Result<(), CliError> {
    let started = Instant::now();
    say("\n[0/3] configure the platform (the token is sealed before it is stored) and test it");
    let settings = PlatformSettings::Fly(FlySettings {
        app: APP.to_owned(),
        region: None,
        api_url: Some(fake.base_url().to_owned()),
        logs_url: Some(fake.logs_url().to_owned()),
    });
    let config = engine.add_platform(PLATFORM, settings, token, "demo").await?;
    engine.test_platform(PLATFORM).await?;
    calls.flush();
    say(&format!("      '{}' configured (token {}) and reachable", config.name, config.token));

    let interval = if quick { 1.0 } else { 3.0 };
    let mut requests = BTreeMap::new();
    say("\n[1/3] v1: first release, 2 machines, immediate");
    let before = fake.recorder().requests().len();
    let v1 = release(engine, "1.0.0", "v1", Strategy::Immediate {}).await?;
    requests.insert("v1 (immediate)", fake.recorder().requests().len() - before);
    calls.flush();
    report(&v1, fake);

    say(&format!("\n[2/3] v2: its health checks never pass; canary [50]% with {interval}s per step"));
    let before = fake.recorder().requests().len();
    let canary = Strategy::Canary { steps: vec![50], interval_seconds: interval };
    let v2 = release(engine, "2.0.0", "v2-bad", canary.clone()).await?;
    requests.insert("v2 (canary, rolled back)", fake.recorder().requests().len() - before);
    calls.flush();
    report(&v2, fake);

    say(&format!("\n[3/3] v3 is healthy; canary [50]% by machine count with {interval}s per step"));
    let before = fake.recorder().requests().len();
    let v3 = release(engine, "3.0.0", "v3", canary).await?;
    requests.insert("v3 (canary, promoted)", fake.recorder().requests().len() - before);
    calls.flush();
    report(&v3, fake);

    calls.stop();
    for (title, rollout) in [("v2 (rolled back)", &v2), ("v3 (promoted)", &v3)] {
        say(&format!("\nEvent history of {title}, deployment {}:", rollout.deployment_id));
        print_events(&engine.events(&rollout.deployment_id).await?);
    }
    say("\nMachines API requests per release:");
    for (what, count) in &requests {
        say(&format!("  {what:<26} {count}"));
    }
    let audit = engine.verify_audit().await?;
    say(&format!(
        "\nDone in {:.0}s: audit chain of {} events {}.",
        started.elapsed().as_secs_f64(),
        audit.events_checked,
        if audit.valid { "verified" } else { "BROKEN" }
    ));
    if v1.state != RolloutState::Succeeded
        || v2.state != RolloutState::RolledBack
        || v3.state != RolloutState::Succeeded
        || !audit.valid
    {
        return Err(CliError::Internal("the demo did not end as intended (see above)".to_owned()));
    }
    Ok(())
}

/// Creates, approves and rolls out image tag `tag` on two machines, to its end.
async fn release(engine: &Engine, version: &str, tag: &str, strategy: Strategy) -> Result<Rollout, CliError> {
    let request = NewDeployment {
        service: APP.to_owned(),
        environment: "production".to_owned(),
        version: version.to_owned(),
        requester: "alice@example.com".to_owned(),
        work_refs: vec!["SHOP-7".to_owned()],
        rollback_plan: "the canary rolls back automatically; else roll back to the previous release".to_owned(),
        risk: Some(format!("demo release {tag}")),
        commit: None,
    };
    let d = engine.create(request, None).await?;
    engine.approve(&d.id, "bob@example.com", Some("reviewed in the demo")).await?;
    let plan = RolloutPlan {
        platform: PLATFORM.to_owned(),
        strategy,
        release: ReleaseSpec {
            version: tag.to_owned(),
            image: Some(format!("registry.fly.io/{APP}:{tag}")),
            ..ReleaseSpec::default()
        },
        instances: 2,
        health: HealthSpec {
            probes: Vec::new(),
            timeout_seconds: 2.0,
            retries: 12,
            backoff_initial_seconds: 0.05,
            backoff_max_seconds: 0.3,
            interval_seconds: 0.5,
        },
        analysis: None,
        scale_down_delay_seconds: 0.0,
        on_restart: loco_core::rollout::OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    };
    Ok(engine.run_rollout(&d.id, plan, "deploy-bot").await?)
}

fn report(rollout: &Rollout, fake: &FlyFake) {
    let took = rollout
        .finished_at
        .map_or(0.0, |f| (f.as_datetime() - rollout.started_at.as_datetime()).num_milliseconds() as f64 / 1000.0);
    let machines: Vec<String> = fake
        .live_machines()
        .iter()
        .map(|m| {
            let tag = m.image.rsplit(':').next().unwrap_or_default().to_owned();
            format!("{} {tag}{}", m.id, if m.cordoned { " (cordoned)" } else { "" })
        })
        .collect();
    match (rollout.state, &rollout.failure) {
        (RolloutState::RolledBack, Some(f)) => say(&format!("  ✗ rolled back after {took:.1}s: {}", f.message)),
        (state, _) => {
            let mark = if state == RolloutState::Succeeded { "✓" } else { "!" };
            say(&format!("  {mark} {state} after {took:.1}s"));
        }
    }
    say(&format!("    machines now: {}", machines.join(", ")));
}

/// Prints each request the fake receives, as it arrives (a background task flushes every
/// 100 ms; the story flushes before it speaks, so calls and commentary stay in order).
#[derive(Clone)]
struct CallPrinter {
    recorder: loco_fakes::Recorder,
    shown: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
}

impl CallPrinter {
    fn start(fake: &FlyFake) -> Self {
        let printer =
            Self { recorder: fake.recorder().clone(), shown: Arc::default(), stop: Arc::new(AtomicBool::new(false)) };
        let background = printer.clone();
        tokio::spawn(async move {
            while !background.stop.load(Ordering::Relaxed) {
                background.flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        printer
    }

    /// Prints the requests not printed yet.
    fn flush(&self) {
        let mut shown = self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let requests = self.recorder.requests();
        for r in requests.iter().skip(*shown) {
            let query = if r.query.is_empty() { String::new() } else { format!("?{}", r.query) };
            say(&format!("        → {} {}{query} {}", r.method, r.path, r.status));
        }
        *shown = requests.len();
    }

    /// Prints what is left and stops the background task.
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.flush();
    }
}

//! P4 and P5: many concurrent rollouts against the in-process simulated platform (peak RSS and
//! CPU time per step, measured in a child process so nothing else the benchmark did inflates its
//! peak), and the delay from a failing health sample to the platform's rollback call.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{
    Capabilities, Instance, InstanceHealth, LogLine, Platform, PlatformResult, PlatformStatus, Target, TrafficWeight,
};
use loco_core::rollout::ReleaseSpec;
use loco_core::{Engine, NewDeployment, RolloutPlan, RolloutState};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::child::{self, Outcome};
use crate::raw::{OPERATOR, REVIEWER};
use crate::stats::Latencies;
use crate::table::{Row, Target as Goal, micros, thousands};
use crate::{Result, on_runtime, seed};

/// The hidden argument that makes `loco-bench` the P4 child process.
pub const CHILD_ARG: &str = "--rollouts-child";
/// Callers creating and approving deployments at once while P4 prepares.
const PREPARE_CALLERS: usize = 64;
/// Linux reports `/proc` CPU times in ticks of 1/100 s (`USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// How much P4/P5 do.
#[derive(Debug, Clone, Copy)]
pub struct RolloutsScale {
    /// Concurrent rollouts in P4.
    pub concurrent: usize,
    /// Failing rollouts timed in P5.
    pub failures: usize,
}

/// P4/P5 results.
pub struct Rollouts {
    /// The P4 and P5 rows.
    pub rows: Vec<Row>,
    /// How they were run.
    pub note: String,
}

/// A canary plan (10 % then 50 %, each observed for `interval_seconds`) on `platform`, built
/// from JSON, the form every surface accepts.
fn canary_plan(platform: &str, version: &str, interval_seconds: f64, health_interval: f64) -> Result<RolloutPlan> {
    plan(
        platform,
        version,
        &format!(r#"{{"type": "canary", "steps": [10, 50], "interval_seconds": {interval_seconds}}}"#),
        health_interval,
    )
}

fn plan(platform: &str, version: &str, strategy: &str, health_interval: f64) -> Result<RolloutPlan> {
    Ok(RolloutPlan::from_json(&format!(
        r#"{{"platform": "{platform}", "strategy": {strategy}, "release": {{"version": "{version}"}}, "instances": 1,
            "health": {{"interval_seconds": {health_interval}}}}}"#
    ))?)
}

/// A deployment request of `service` at `version` in staging.
pub(crate) fn new_deployment(service: String, version: &str) -> NewDeployment {
    NewDeployment {
        service,
        environment: "staging".to_owned(),
        version: version.to_owned(),
        requester: seed::REQUESTER.to_owned(),
        work_refs: vec!["PAY-1".to_owned()],
        rollback_plan: "redeploy the previous version".to_owned(),
        risk: None,
        commit: None,
    }
}

/// Runs P4 (in a child process) and P5 (here) in `dir`.
pub fn run(runtime: &Runtime, dir: &Path, scale: RolloutsScale) -> Result<Rollouts> {
    eprintln!("  P4 {} concurrent rollouts (child process)", thousands(scale.concurrent as f64));
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_ARG).arg(dir.join("p4.db")).arg(scale.concurrent.to_string());
    let result = match child::run_script(&mut cmd, Duration::from_secs(600))? {
        Outcome::Results(mut r) if !r.is_empty() => r.remove(0),
        _ => return Err("the P4 child reported nothing".into()),
    };
    let field = |name: &str| -> Result<f64> {
        result.get(name).and_then(|v| v.parse().ok()).ok_or_else(|| format!("P4 child: no {name}").into())
    };
    let (steps, cpu, peak_kib, before_kib, wall) = (
        field("steps")?,
        field("cpu_seconds")?,
        field("peak_rss_kib")?,
        field("rss_before_kib")?,
        field("wall_seconds")?,
    );
    let n = thousands(scale.concurrent as f64);
    let peak_mb = peak_kib / 1024.0;
    let per_step = Duration::from_secs_f64(cpu / steps);
    let mut rows = vec![
        Row::absolute(
            "P4",
            format!(
                "{n} concurrent canary rollouts (10 % → 50 % → 100 %, 1 s observation per step) in one process against \
                 the in-process simulated platform: peak RSS of that process"
            ),
            format!("{peak_mb:.0} MB"),
            format!("{:.0} MB before the rollouts started ({n} deployments created and approved)", before_kib / 1024.0),
            peak_mb,
            Goal::Below(200.0, "200 MB"),
        ),
        Row::absolute(
            "P4",
            format!(
                "the same: process CPU time (user + system, every thread) per completed rollout step; {} steps in \
                 {wall:.1} s",
                thousands(steps)
            ),
            micros(per_step),
            format!("{cpu:.1} s CPU in total"),
            per_step.as_secs_f64() * 1e3,
            Goal::Below(1.0, "1 ms"),
        ),
    ];

    eprintln!("  P5 {} failing canaries", thousands(scale.failures as f64));
    let mut delays = failure_delays(runtime, &dir.join("p5.db"), scale.failures)?;
    let (p50, p99) = (delays.percentile(50.0), delays.percentile(99.0));
    rows.push(Row::absolute(
        "P5",
        format!(
            "failing health sample → platform rollback call, p50 / p99 over {} canaries whose new instance exits \
             while observed (sequential, simulated platform, `synchronous=FULL`)",
            thousands(delays.len() as f64)
        ),
        format!("p50 {} / p99 {}", micros(p50), micros(p99)),
        "—".to_owned(),
        p99.as_secs_f64() * 1e3,
        Goal::Below(10.0, "10 ms (p99)"),
    ));
    let note = format!(
        "P4 runs in a child process (`loco-bench {CHILD_ARG}`) so its peak RSS (`VmHWM`) is its own: it creates and \
         approves {n} deployments on distinct services, starts every rollout at once (`max_concurrent_rollouts` = \
         {n}) on `MemoryPlatform::without_call_log`, and waits for all to succeed; CPU time is read from \
         `/proc/self/stat` around the rollouts only. P5 first rolls each service out to a good version, then rolls \
         out a bad one that passes its first health check and exits at the next sample during the canary's \
         observation; the delay runs from that sample's return to the start of the platform's `rollback` call (it \
         includes recording the health event and the decision to roll back, two durable commits)."
    );
    Ok(Rollouts { rows, note })
}

/// The P4 child: prints `RESULT steps=… cpu_seconds=… peak_rss_kib=… rss_before_kib=… wall_seconds=…`.
pub fn child_main(db: &Path, count: usize) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let platform = Arc::new(MemoryPlatform::without_call_log("sim"));
    let engine =
        runtime.block_on(Engine::builder().path(db).platform(platform).max_concurrent_rollouts(count).open())?;
    let e = engine.clone();
    let ids = on_runtime(&runtime, async move {
        let tasks: Vec<_> = (0..PREPARE_CALLERS)
            .map(|caller| {
                let e = e.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for i in (caller..count).step_by(PREPARE_CALLERS) {
                        let d = e.create(new_deployment(format!("svc-{i:05}"), "2.0.0"), None).await?;
                        e.approve(&d.id, REVIEWER, None).await?;
                        ids.push(d.id);
                    }
                    Ok::<_, loco_core::Error>(ids)
                })
            })
            .collect();
        let mut ids = Vec::with_capacity(count);
        for task in tasks {
            ids.extend(task.await??);
        }
        Ok::<_, crate::BoxError>(ids)
    })??;
    let rss_before = proc_status_kib("VmRSS")?;
    let (cpu_before, started) = (cpu_seconds()?, Instant::now());
    let e = engine.clone();
    let plan = canary_plan("sim", "2.0.0", 1.0, 0.5)?;
    let steps = on_runtime(&runtime, async move {
        let mut handles = Vec::with_capacity(ids.len());
        for id in &ids {
            handles.push(e.start_rollout(id, plan.clone(), OPERATOR).await?);
        }
        let mut steps = 0u64;
        for handle in handles {
            let rollout = e.wait_rollout(&handle.deployment_id).await?;
            if rollout.state != RolloutState::Succeeded {
                return Err(format!("rollout {} ended {:?}", rollout.deployment_id, rollout.state).into());
            }
            steps += u64::from(rollout.progress.completed_steps);
        }
        Ok::<_, crate::BoxError>(steps)
    })??;
    let (cpu, wall) = (cpu_seconds()? - cpu_before, started.elapsed());
    runtime.block_on(engine.close())?;
    let peak = proc_status_kib("VmHWM")?;
    Ok(format!(
        "RESULT steps={steps} cpu_seconds={cpu:.3} peak_rss_kib={peak} rss_before_kib={rss_before} wall_seconds={:.3}",
        wall.as_secs_f64()
    ))
}

fn proc_status_kib(field: &str) -> Result<u64> {
    std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

/// User + system CPU time of the whole process (all threads, live or exited) so far.
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).ok_or("bad /proc/self/stat");
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}

/// A simulated platform whose `-bad` releases pass their first health check and exit at the next
/// sample; it timestamps that failing sample and the rollback call that follows.
struct FailingCanaries {
    inner: MemoryPlatform,
    samples: Mutex<HashMap<String, u32>>,
    failed_at: Mutex<HashMap<Target, Instant>>,
    delays: Mutex<Latencies>,
}

#[async_trait]
impl Platform for FailingCanaries {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn plan_shares(&self, target: &Target, version: &str, shares: &[u8]) -> PlatformResult<()> {
        self.inner.plan_shares(target, version, shares).await
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        self.inner.test_connection().await
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        self.inner.deploy(target, release, ids).await
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        self.inner.set_traffic(target, split).await
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        self.inner.stop(target, instances).await
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let health = self.inner.health(target, instance).await?;
        if !instance.version.ends_with("-bad") {
            return Ok(health);
        }
        let sample = {
            let mut samples = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = samples.entry(instance.id.clone()).or_default();
            *n += 1;
            *n
        };
        if sample == 1 {
            return Ok(health);
        }
        self.failed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(target.clone())
            .or_insert_with(Instant::now);
        Ok(InstanceHealth::Exited { reason: "simulated crash under canary traffic".to_owned() })
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        self.inner.status(target).await
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let failed = self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(target);
        if let Some(at) = failed {
            self.delays.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(at.elapsed());
        }
        self.inner.restore(target, to, known, replacement_ids).await
    }

    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        self.inner.logs(target, instance_id).await
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        self.inner.shutdown().await
    }
}

/// Sample → rollback-call delays of `count` failing canaries, one at a time.
fn failure_delays(runtime: &Runtime, db: &Path, count: usize) -> Result<Latencies> {
    let platform = Arc::new(FailingCanaries {
        inner: MemoryPlatform::without_call_log("timed"),
        samples: Mutex::default(),
        failed_at: Mutex::default(),
        delays: Mutex::new(Latencies::with_capacity(count)),
    });
    let engine = runtime.block_on(Engine::builder().path(db).platform(platform.clone()).open())?;
    let good_plan = plan("timed", "1.0.0", r#"{"type": "immediate"}"#, 0.01)?;
    let bad_plan = canary_plan("timed", "2.0.0-bad", 1.0, 0.01)?;
    let e = engine.clone();
    on_runtime(runtime, async move {
        for i in 0..count {
            let service = format!("svc-{i:05}");
            let good = e.create(new_deployment(service.clone(), "1.0.0"), None).await?;
            e.approve(&good.id, REVIEWER, None).await?;
            let done = e.run_rollout(&good.id, good_plan.clone(), OPERATOR).await?;
            if done.state != RolloutState::Succeeded {
                return Err(format!("the good rollout of {service} ended {:?}", done.state).into());
            }
            let bad = e.create(new_deployment(service.clone(), "2.0.0-bad"), None).await?;
            e.approve(&bad.id, REVIEWER, None).await?;
            let done = e.run_rollout(&bad.id, bad_plan.clone(), OPERATOR).await?;
            if done.state != RolloutState::RolledBack {
                return Err(format!("the bad rollout of {service} ended {:?}, not rolled back", done.state).into());
            }
        }
        Ok::<_, crate::BoxError>(())
    })??;
    runtime.block_on(engine.close())?;
    let delays = std::mem::take(&mut *platform.delays.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    if delays.len() != count {
        return Err(format!("expected {count} timed rollbacks, saw {}", delays.len()).into());
    }
    Ok(delays)
}

//! Observing a step (a canary share, a switch delay, or the monitoring window at 100 %): the new
//! instances' health is re-checked every health interval and, when the plan has analysis, their
//! metrics are judged — a critical problem rolls back the moment the deciding request arrives,
//! a high one (or a window that stays inconclusive) pauses the rollout for a person. An
//! inconclusive window is extended, not restarted: the extension is judged on everything since the
//! step's observation began, so a low-traffic canary gathers `min_samples` instead of falling just
//! short of it window after window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loco_platform::metrics::{MetricSource, RequestSample};
use loco_platform::{Instance, health};
use loco_store::{NewEvent, RolloutUpdate};
use loco_types::Result;
use loco_types::analysis::{Judgement, Severity, Verdict, WindowStats};
use loco_types::event_data::{AnalysisData, EventData, RolloutTurn};
use loco_types::rollout::{FailureCode, RolloutFailure, RolloutState};
use tokio::sync::broadcast;

use super::execution::{Execution, running, turn};
use super::{CONSECUTIVE_FAILURES, Halt, Interrupt};
use crate::analysis::{CriticalWatch, judge};

/// How often a long observation or pause refreshes the rollout's heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

type Watched = std::result::Result<Option<Judgement>, Halt>;

fn halt(code: FailureCode, message: String, step: Option<u32>, at: Instant) -> Halt {
    Halt::Failed(RolloutFailure { code, message, step }, Some(at))
}

/// The next live sample, or never when there is no feed.
async fn next_sample(live: &mut Option<broadcast::Receiver<RequestSample>>) -> Option<RequestSample> {
    let Some(rx) = live else { return std::future::pending().await };
    loop {
        match rx.recv().await {
            Ok(sample) => return Some(sample),
            // Missing a few samples only delays a decision; the interval judgement still sees them.
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

impl Execution<'_> {
    /// Observes the new release for `window`; see the module documentation.
    pub(super) async fn observe(
        &mut self,
        window: Duration,
        step_no: Option<u32>,
    ) -> Result<std::result::Result<(), Halt>> {
        let Some(source) = self.metric_source() else {
            return Ok(self.watch(window, step_no, None, Instant::now()).await?.map(drop));
        };
        let spec = self.rollout.plan.analysis.clone().unwrap_or_default();
        let mut extensions = 0;
        let since = Instant::now();
        loop {
            let judgement = match self.watch(window, step_no, Some(&source), since).await? {
                Ok(Some(judgement)) => judgement,
                Ok(None) => return Ok(Ok(())),
                Err(halt) => return Ok(Err(halt)),
            };
            match (judgement.verdict, judgement.severity) {
                (Verdict::Pass, _) => return Ok(Ok(())),
                (Verdict::Fail, Some(Severity::Critical)) => {
                    return Ok(Err(halt(
                        FailureCode::AnalysisCritical,
                        judgement.reasons.join("; "),
                        step_no,
                        Instant::now(),
                    )));
                }
                (Verdict::Inconclusive, _) if extensions < spec.inconclusive_extensions => {
                    extensions += 1;
                    let note = format!(
                        "analysis inconclusive ({}); observing {}s more, judged with what came before",
                        judgement.reasons.join("; "),
                        window.as_secs_f64()
                    );
                    self.save(vec![Self::event(note, turn(RolloutTurn::Extend { extension: extensions }))]).await?;
                }
                _ => return self.pause(&judgement, step_no, Duration::from_secs_f64(spec.pause_timeout_seconds)).await,
            }
        }
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        self.rollout.plan.analysis.as_ref()?;
        self.orch.metric_source(&self.rollout.plan, &self.platform)
    }

    /// One observation window, its metrics judged on everything since `since`. Returns the final
    /// judgement (with a metric source), or why the rollout must stop.
    async fn watch(
        &mut self,
        window: Duration,
        step_no: Option<u32>,
        source: Option<&Arc<dyn MetricSource>>,
        since: Instant,
    ) -> Result<Watched> {
        let started = Instant::now();
        let deadline = started + window;
        let health_every = Duration::from_secs_f64(self.rollout.plan.health.interval_seconds);
        let poll_every =
            self.rollout.plan.analysis.as_ref().map_or(health_every, |a| Duration::from_secs_f64(a.poll_seconds));
        let mut next_health = started + health_every;
        // Metrics are polled only with a source; without one there is no poll time to wake for.
        let mut next_poll = source.map(|_| started + poll_every);
        let mut live = source.and_then(|s| s.samples(&self.target));
        let mut critical = CriticalWatch::new(self.new_version(), self.thresholds.clone());
        let mut streaks: HashMap<String, u32> = HashMap::new();
        loop {
            let tick = next_poll.map_or(next_health, |poll| next_health.min(poll)).min(deadline);
            tokio::select! {
                sample = next_sample(&mut live) => match sample {
                    Some(sample) => {
                        if let (Some(reason), Some(source)) = (critical.observe(&sample), source) {
                            let judgement = self.judge_window(source.as_ref(), since).await;
                            self.note_judgement(&judgement, Some(&reason), since);
                            return Ok(Err(halt(FailureCode::AnalysisCritical, reason, step_no, sample.at)));
                        }
                        continue;
                    }
                    None => live = None,
                },
                interrupt = self.interrupts.recv(), if !self.interrupts.is_closed() => match interrupt {
                    Some(Interrupt::Override(..)) | None => continue,
                    Some(other) => return Ok(Err(Halt::Interrupted(other))),
                },
                () = tokio::time::sleep_until(tick.into()) => {}
            }
            let now = Instant::now();
            let ended = now >= deadline;
            if now >= next_health || ended {
                if let Some(stop) = self.health_round(&mut streaks, step_no).await? {
                    return Ok(Err(stop));
                }
                next_health = now + health_every;
            }
            if let (Some(source), Some(poll)) = (source, next_poll)
                && (now >= poll || ended)
            {
                let judgement = self.judge_window(source.as_ref(), since).await;
                critical.set_baseline_p99(judgement.baseline.as_ref().and_then(|b| b.p99_ms));
                let is_critical = judgement.severity == Some(Severity::Critical);
                if is_critical {
                    self.note_judgement(&judgement, None, since);
                    return Ok(Err(halt(FailureCode::AnalysisCritical, judgement.reasons.join("; "), step_no, now)));
                }
                if ended {
                    self.note_judgement(&judgement, None, since);
                    self.save(Vec::new()).await?;
                    return Ok(Ok(Some(judgement)));
                }
                next_poll = Some(now + poll_every);
            }
            if ended {
                return Ok(Ok(None));
            }
            if self.last_save.elapsed() >= HEARTBEAT_EVERY {
                self.save(Vec::new()).await?;
            }
        }
    }

    /// Judges the new release's metrics since `since` against the old release's over the same
    /// window (when the old release still takes traffic), or against absolute limits.
    async fn judge_window(&self, source: &dyn MetricSource, since: Instant) -> Judgement {
        let window = since.elapsed().max(Duration::from_millis(1));
        let old_serves = self
            .old_version()
            .filter(|old| self.rollout.progress.traffic.iter().any(|w| w.version == *old && w.percent > 0));
        let canary = source.stats(&self.target, self.new_version(), window).await;
        let baseline = match old_serves {
            Some(old) => source.stats(&self.target, old, window).await.map(Some),
            None => Ok(None),
        };
        match (canary, baseline) {
            (Ok(canary), Ok(baseline)) => judge(&canary, baseline.as_ref(), &self.thresholds),
            (Err(e), _) | (_, Err(e)) => Judgement {
                verdict: Verdict::Inconclusive,
                severity: None,
                reasons: vec![format!("metrics unavailable from {}: {e}", source.name())],
                canary: WindowStats::default(),
                baseline: None,
                error_rate_test: None,
                latency_test: None,
            },
        }
    }

    /// Queues an `analysis` event for the next write and keeps the judgement as the rollout's latest.
    fn note_judgement(&mut self, judgement: &Judgement, trigger: Option<&str>, since: Instant) {
        let verdict = match (judgement.verdict, judgement.severity) {
            (Verdict::Fail, Some(Severity::Critical)) => "fail (critical)",
            (Verdict::Fail, _) => "fail (high)",
            (Verdict::Pass, _) => "pass",
            (Verdict::Inconclusive, _) => "inconclusive",
        };
        let reasons = trigger.map_or_else(|| judgement.reasons.join("; "), str::to_owned);
        let traffic = self.rollout.progress.traffic.iter().find(|w| w.version == self.new_version()).map(|w| w.percent);
        let note = format!(
            "analysis of {} at {}% traffic: {verdict}{}",
            self.new_version(),
            traffic.unwrap_or(0),
            if reasons.is_empty() { String::new() } else { format!(" — {reasons}") }
        );
        let data = EventData::Analysis(Box::new(AnalysisData {
            version: self.new_version().to_owned(),
            traffic_percent: traffic,
            window_seconds: since.elapsed().as_secs_f64(),
            trigger: trigger.map(str::to_owned),
            judgement: judgement.clone(),
        }));
        self.rollout.progress.analysis = Some(judgement.clone());
        self.pending.push(Self::event(note, data));
    }

    /// One health re-check of every running new instance; stops the rollout on an exited
    /// instance or on [`CONSECUTIVE_FAILURES`] failed checks in a row.
    async fn health_round(&mut self, streaks: &mut HashMap<String, u32>, step_no: Option<u32>) -> Result<Option<Halt>> {
        let instances: Vec<Instance> =
            running(&self.rollout.progress.instances).filter(|i| i.version == self.new_version()).cloned().collect();
        let spec = &self.rollout.plan.health;
        let checks = instances.iter().map(|i| health::check_once(spec, self.checker(), &self.target, i));
        let mut events = Vec::new();
        let mut stop = None;
        for outcome in futures_util::future::join_all(checks).await {
            let streak = streaks.entry(outcome.instance_id.clone()).or_default();
            if outcome.ok {
                if *streak > 0 {
                    events.push(self.health_event(&outcome));
                }
                *streak = 0;
                continue;
            }
            *streak += 1;
            events.push(self.health_event(&outcome));
            if outcome.exited || *streak >= CONSECUTIVE_FAILURES {
                let why = if outcome.exited { "exited".to_owned() } else { format!("failed {streak} checks in a row") };
                let message = format!("instance {} {why} while observed: {}", outcome.instance_id, outcome.detail);
                stop = Some(halt(FailureCode::HealthCheckFailed, message, step_no, Instant::now()));
            }
        }
        events.extend(self.failover_events().await);
        if !events.is_empty() {
            self.save(events).await?;
        }
        Ok(stop)
    }

    /// One `failover` turn per version whose share went elsewhere since the last round.
    async fn failover_events(&self) -> Vec<NewEvent> {
        let failovers = self.platform.take_failovers(&self.target).await.unwrap_or_default();
        failovers
            .into_iter()
            .map(|(version, requests)| {
                let share = self.rollout.progress.traffic.iter().find(|w| w.version == version).map_or(0, |w| w.percent);
                let note = format!(
                    "{requests} request(s) of {version}'s {share}% share went to another version: {version} had no ready \
                     instance"
                );
                tracing::warn!(deployment_id = %self.rollout.deployment_id, %version, requests, "traffic failed over");
                Self::event(note, turn(RolloutTurn::Failover { version, requests }))
            })
            .collect()
    }

    /// Pauses until a person rolls back or overrides, or the pause times out (then rolls back).
    async fn pause(
        &mut self,
        judgement: &Judgement,
        step_no: Option<u32>,
        timeout: Duration,
    ) -> Result<std::result::Result<(), Halt>> {
        let reason = judgement.reasons.join("; ");
        self.rollout.progress.step = format!("paused: {reason}");
        let note = format!("paused: {reason}. Roll back (rollback action) or override to continue");
        self.update(RolloutUpdate {
            state: Some(RolloutState::Paused),
            progress: Some(self.rollout.progress.clone()),
            events: vec![Self::event(note, turn(RolloutTurn::Pause { reasons: judgement.reasons.clone() }))],
            ..RolloutUpdate::default()
        })
        .await?;
        // While it waits, the new release keeps its share of traffic, so it stays watched: an
        // instance that exits or fails its checks, or a critical metric, rolls it back at once.
        let deadline = Instant::now() + timeout;
        let health_every = Duration::from_secs_f64(self.rollout.plan.health.interval_seconds);
        let mut next_health = Instant::now() + health_every;
        let mut live = self.metric_source().and_then(|source| source.samples(&self.target));
        let mut critical = CriticalWatch::new(self.new_version(), self.thresholds.clone());
        let mut streaks: HashMap<String, u32> = HashMap::new();
        loop {
            let wake = deadline.min(next_health).min(Instant::now() + HEARTBEAT_EVERY);
            tokio::select! {
                interrupt = self.interrupts.recv(), if !self.interrupts.is_closed() => match interrupt {
                    Some(Interrupt::Override(input, request_id)) => {
                        let note = format!("override by {}: {}; continuing", input.actor, input.note.as_deref().unwrap_or_default());
                        let mut event = NewEvent::new(input.actor.clone(), note, turn(RolloutTurn::Override));
                        event.request_id = request_id;
                        self.update(RolloutUpdate { state: Some(RolloutState::Running), events: vec![event], ..RolloutUpdate::default() })
                            .await?;
                        return Ok(Ok(()));
                    }
                    Some(other) => return Ok(Err(Halt::Interrupted(other))),
                    None => {}
                },
                sample = next_sample(&mut live) => match sample {
                    Some(sample) => {
                        if let Some(reason) = critical.observe(&sample) {
                            return Ok(Err(halt(FailureCode::AnalysisCritical, reason, step_no, sample.at)));
                        }
                        continue;
                    }
                    None => live = None,
                },
                () = tokio::time::sleep_until(wake.into()) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                let message = format!("no decision within {}s of pausing ({reason})", timeout.as_secs_f64());
                return Ok(Err(halt(FailureCode::PauseTimeout, message, step_no, now)));
            }
            if now >= next_health {
                if let Some(stop) = self.health_round(&mut streaks, step_no).await? {
                    return Ok(Err(stop));
                }
                next_health = now + health_every;
            }
            if self.last_save.elapsed() >= HEARTBEAT_EVERY {
                self.save(Vec::new()).await?;
            }
        }
    }
}

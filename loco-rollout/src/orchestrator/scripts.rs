//! Running a plan's scripts as part of its rollout: each script of a hook in order, only while
//! this engine holds the rollout's lease, its output kept for followers under
//! `script:<hook>:<name>` and its end recorded as a `script` event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use loco_platform::scripts::{self, ScriptLog, ScriptOutcome, TAIL_LINES};
use loco_types::Result;
use loco_types::event_data::{EventData, ScriptData};
use loco_types::plan::{Hook, ScriptSpec};
use loco_types::rollout::{FailureCode, RolloutFailure};

use super::Interrupt;
use super::execution::Execution;

/// Script outputs kept for followers (the oldest are dropped first).
const KEPT_LOGS: usize = 64;

/// A script run: its deployment and `script:<hook>:<name>`.
type ScriptId = (String, String);

/// The outputs of the latest scripts.
#[derive(Default)]
pub(crate) struct ScriptLogs {
    logs: Mutex<Kept>,
}

/// The logs, and the order their scripts started in.
#[derive(Default)]
struct Kept {
    by_id: HashMap<ScriptId, Arc<ScriptLog>>,
    order: VecDeque<ScriptId>,
}

impl ScriptLogs {
    /// A fresh log for a script about to run (replacing an earlier run's).
    fn start(&self, deployment_id: &str, key: &str) -> Arc<ScriptLog> {
        let log = ScriptLog::new(key);
        let id = (deployment_id.to_owned(), key.to_owned());
        let mut guard = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = &mut *guard;
        if kept.by_id.insert(id.clone(), log.clone()).is_none() {
            kept.order.push_back(id);
        }
        while kept.order.len() > KEPT_LOGS {
            if let Some(oldest) = kept.order.pop_front() {
                kept.by_id.remove(&oldest);
            }
        }
        log
    }

    /// The output of a script of a deployment, if it ran on this engine lately.
    pub(crate) fn get(&self, deployment_id: &str, key: &str) -> Option<Arc<ScriptLog>> {
        let guard = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        guard.by_id.get(&(deployment_id.to_owned(), key.to_owned())).cloned()
    }
}

/// The id a script's output lines carry (and `follow_logs` takes).
pub fn log_key(hook: Hook, name: &str) -> String {
    format!("script:{}:{name}", hook.name())
}

/// How the scripts of a hook ended.
pub(super) enum HookEnd {
    /// Every script succeeded (or failed with `continue_on_error`).
    Done,
    /// A script failed; the later ones did not run.
    Failed(RolloutFailure),
    /// A request stopped the running script (its process group was killed).
    Interrupted(Interrupt),
}

impl Execution<'_> {
    /// Runs the scripts of `hook` in order, stopping at the first that fails without
    /// `continue_on_error`. A rollback request, the engine closing or the rollout's lease lost
    /// stops the running script at once.
    pub(super) async fn run_hook(&mut self, hook: Hook) -> Result<HookEnd> {
        self.scripts_of(hook, |i| !matches!(i, Interrupt::Override(..))).await
    }

    /// Runs the scripts of a hook that cannot change the rollout's outcome any more
    /// (`on_failure`, `on_rollback`, during a rollback): failures are recorded in their events
    /// only, and only the engine closing (or the lease lost) stops a running script.
    pub(super) async fn run_hook_after(&mut self, hook: Hook) -> Result<()> {
        let stops = |i: &Interrupt| matches!(i, Interrupt::Suspend | Interrupt::Abandon);
        if let HookEnd::Failed(failure) = self.scripts_of(hook, stops).await? {
            tracing::warn!(deployment_id = %self.rollout.deployment_id, message = %failure.message, "script failed");
        }
        Ok(())
    }

    async fn scripts_of(&mut self, hook: Hook, stops: impl Fn(&Interrupt) -> bool) -> Result<HookEnd> {
        let scripts: Vec<ScriptSpec> = self.rollout.plan.scripts_of(hook).to_vec();
        if scripts.is_empty() {
            return Ok(HookEnd::Done);
        }
        let release = match self.orch.secrets.reveal(&self.rollout.plan.release) {
            Ok(release) => release,
            Err(e) => {
                return Ok(HookEnd::Failed(script_failure(
                    hook,
                    &scripts[0].name,
                    &format!("secrets do not open: {e}"),
                )));
            }
        };
        for script in &scripts {
            self.fenced().await?;
            self.rollout.progress.step = format!("{} script {}", hook.name(), script.name);
            self.save(Vec::new()).await?;
            let log = self.orch.script_logs.start(&self.rollout.deployment_id, &log_key(hook, &script.name));
            let secrets: BTreeMap<String, String> = script
                .secrets
                .iter()
                .filter_map(|name| release.secret_env.get(name).map(|value| (name.clone(), value.clone())))
                .collect();
            let env = self.script_env(script);
            // One span per script run, inside the rollout's (and so under its deployment and
            // request): an OTLP trace shows each script with its duration and outcome.
            let span = tracing::info_span!(
                "script",
                hook = hook.name(),
                script = %script.name,
                exit_code = tracing::field::Empty,
                ok = tracing::field::Empty,
            );
            let run = tracing::Instrument::instrument(scripts::run(script, &env, &secrets, &log), span.clone());
            tokio::pin!(run);
            let started = std::time::Instant::now();
            let mut stopped_by = None;
            let outcome = loop {
                tokio::select! {
                    outcome = &mut run => break outcome,
                    interrupt = self.interrupts.recv(), if !self.interrupts.is_closed() => match interrupt {
                        Some(interrupt) if stops(&interrupt) => {
                            stopped_by = Some(interrupt);
                            break ScriptOutcome {
                                exit_code: None,
                                timed_out: false,
                                error: Some("stopped: the rollout was interrupted".to_owned()),
                                duration: started.elapsed(),
                            };
                        }
                        _ => {}
                    }
                }
            };
            let (ok, continued) = (outcome.ok(), !outcome.ok() && script.continue_on_error);
            span.record("ok", ok);
            if let Some(code) = outcome.exit_code {
                span.record("exit_code", code);
            }
            drop(span);
            let duration_ms = outcome.duration.as_millis() as u64;
            let note = if ok {
                format!("{} script {} succeeded in {duration_ms} ms", hook.name(), script.name)
            } else {
                let tail = if continued { " (continue_on_error: going on)" } else { "" };
                format!("{} script {} {}{tail}", hook.name(), script.name, outcome.describe())
            };
            let data = EventData::Script(ScriptData {
                hook,
                name: script.name.clone(),
                ok,
                exit_code: outcome.exit_code,
                timed_out: outcome.timed_out,
                error: outcome.error.clone(),
                continued,
                duration_ms,
                lines: log.written(),
                tail: log.tail(TAIL_LINES),
            });
            if let Some(interrupt) = stopped_by {
                // Abandoned: another engine owns the rollout now, so nothing is written.
                if !matches!(interrupt, Interrupt::Abandon) {
                    self.save(vec![Self::event(note, data)]).await?;
                }
                return Ok(HookEnd::Interrupted(interrupt));
            }
            self.save(vec![Self::event(note, data)]).await?;
            if !ok && !continued {
                return Ok(HookEnd::Failed(script_failure(hook, &script.name, &outcome.describe())));
            }
        }
        Ok(HookEnd::Done)
    }

    /// Exactly the variables of seed 000 §5.2 (empty when Loco does not know them) and the
    /// script's own; `PATH` is added by the runner.
    fn script_env(&self, script: &ScriptSpec) -> BTreeMap<String, String> {
        let r = &self.rollout;
        let release = &r.plan.release;
        let mut env: BTreeMap<String, String> = [
            ("LOCO_PLATFORM", r.platform.clone()),
            ("LOCO_DEPLOYMENT_ID", r.deployment_id.clone()),
            ("LOCO_STAGE", r.environment.clone()),
            ("LOCO_STRATEGY", r.plan.strategy.name().to_owned()),
            ("LOCO_BUILD_ID", release.version.clone()),
            ("LOCO_COMMIT_SHA", release.commit.clone().unwrap_or_default()),
            ("LOCO_BRANCH", String::new()),
            ("LOCO_BUILD_ARTIFACTS", release.image.clone().unwrap_or_default()),
            ("LOCO_APP_URL", r.progress.endpoint.as_deref().map(app_url).unwrap_or_default()),
            ("LOCO_APP_NAME", r.service.clone()),
            ("LOCO_DEPLOYED_BY", r.actor.clone()),
            (
                "LOCO_WORKSPACE_ID",
                script.working_dir.clone().or_else(|| release.working_dir.clone()).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(script.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// A platform's endpoint as a URL (the local platform gives `host:port`).
fn app_url(endpoint: &str) -> String {
    if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") }
}

fn script_failure(hook: Hook, name: &str, why: &str) -> RolloutFailure {
    RolloutFailure {
        code: if hook == Hook::SmokeTest { FailureCode::SmokeTestFailed } else { FailureCode::ScriptFailed },
        message: format!("{} script '{name}' {why}", hook.name()),
        step: None,
    }
}

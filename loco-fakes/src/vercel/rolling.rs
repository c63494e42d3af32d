//! Rolling Releases in the Vercel fake: the project's configuration (2–10 stages ending at
//! 100 %, manual approval or automatic), a release's progress from stage to stage, its end
//! (complete, or aborted by a rollback), and the production split it gives — including
//! visitors sent to production and counted per deployment.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::World;
use super::wire::{ApiError, error};

/// One stage of a rolling release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stage {
    pub(super) target_percentage: u8,
    /// Minutes, for automatic advancement.
    pub(super) duration: Option<u64>,
}

/// A project's rolling-release configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RollingConfig {
    pub(super) enabled: bool,
    /// `manual-approval` or `automatic`.
    pub(super) advancement: String,
    pub(super) stages: Vec<Stage>,
}

impl RollingConfig {
    /// Validates a `PATCH …/rolling-release/config` body as Vercel does.
    pub(super) fn parse(body: &Value) -> Result<Self, ApiError> {
        let bad = |message: &str| error(400, "bad_request", message);
        let enabled = body.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        let advancement = body.get("advancementType").and_then(Value::as_str).unwrap_or("manual-approval");
        if !matches!(advancement, "manual-approval" | "automatic") {
            return Err(bad("advancementType must be one of: automatic, manual-approval"));
        }
        let raw = body.get("stages").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut stages = Vec::new();
        for (i, stage) in raw.iter().enumerate() {
            let Some(target) = stage.get("targetPercentage").and_then(Value::as_u64).filter(|p| (1..=100).contains(p))
            else {
                return Err(bad(&format!("stages[{i}].targetPercentage must be an integer between 1 and 100")));
            };
            let duration = stage.get("duration").and_then(Value::as_u64);
            if advancement == "automatic" && target < 100 && !duration.is_some_and(|d| (1..=10_000).contains(&d)) {
                return Err(bad(&format!(
                    "stages[{i}].duration (1-10000 minutes) is required for automatic advancement"
                )));
            }
            stages.push(Stage { target_percentage: target as u8, duration });
        }
        if enabled {
            if !(2..=10).contains(&stages.len()) {
                return Err(bad("a rolling release needs between 2 and 10 stages"));
            }
            if stages.windows(2).any(|w| w[0].target_percentage >= w[1].target_percentage) {
                return Err(bad("stage percentages must increase"));
            }
            if stages.last().map(|s| s.target_percentage) != Some(100) {
                return Err(bad("the last stage must be 100%"));
            }
        }
        Ok(RollingConfig { enabled, advancement: advancement.to_owned(), stages })
    }

    pub(super) fn json(&self) -> Value {
        let stages: Vec<Value> = self
            .stages
            .iter()
            .map(|s| {
                json!({
                    "targetPercentage": s.target_percentage,
                    "duration": s.duration,
                    "requireApproval": self.advancement == "manual-approval" && s.target_percentage < 100,
                })
            })
            .collect();
        json!({ "enabled": self.enabled, "advancementType": self.advancement, "stages": stages })
    }
}

/// One rolling release of a project.
#[derive(Debug, Clone)]
pub(super) struct RollingRelease {
    /// `ACTIVE`, `COMPLETE` or `ABORTED`.
    pub(super) state: &'static str,
    /// The deployment serving before it began.
    pub(super) current: String,
    pub(super) canary: String,
    pub(super) advancement: String,
    pub(super) stages: Vec<Stage>,
    pub(super) active_stage: usize,
    pub(super) started_at: i64,
    pub(super) updated_at: i64,
}

impl RollingRelease {
    /// The canary's share right now (0 unless active).
    pub(super) fn canary_percent(&self) -> u8 {
        if self.state == "ACTIVE" { self.stages.get(self.active_stage).map_or(0, |s| s.target_percentage) } else { 0 }
    }

    fn stage_json(&self, index: usize) -> Value {
        self.stages.get(index).map_or(Value::Null, |s| {
            let last = index + 1 == self.stages.len();
            json!({
                "index": index,
                "isFinalStage": last,
                "targetPercentage": s.target_percentage,
                "requireApproval": self.advancement == "manual-approval" && !last,
                "duration": s.duration,
                "linearShift": false,
            })
        })
    }

    pub(super) fn json(&self, world: &World) -> Value {
        let summary = |id: &str| {
            world.deployments.iter().find(|d| d.id == id).map_or(Value::Null, super::model::Deployment::summary)
        };
        let active = self.state == "ACTIVE";
        json!({
            "state": self.state,
            "substate": null,
            "currentDeployment": summary(&self.current),
            "canaryDeployment": summary(&self.canary),
            "queuedDeploymentId": null,
            "advancementType": self.advancement,
            "stages": (0..self.stages.len()).map(|i| self.stage_json(i)).collect::<Vec<_>>(),
            "activeStage": self.stage_json(self.active_stage),
            "nextStage": if active { self.stage_json(self.active_stage + 1) } else { Value::Null },
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
            "currentCanaryPercentage": self.canary_percent(),
        })
    }
}

impl World {
    /// Starts a rolling release of `canary` (a READY production deployment other than the one
    /// serving) on the project at `index`, at its first stage.
    pub(super) fn start_release(&mut self, index: usize, canary: &str, now: i64) -> Result<(), ApiError> {
        let project = &self.projects[index];
        let config = project
            .rolling_config
            .clone()
            .filter(|c| c.enabled)
            .ok_or_else(|| error(400, "bad_request", "Rolling releases are not enabled for this project"))?;
        if project.active_release().is_some() {
            return Err(error(409, "conflict", "A rolling release is already in progress"));
        }
        let current = project
            .production
            .clone()
            .ok_or_else(|| error(400, "bad_request", "There is no production deployment to roll from"))?;
        let d = self.deployments.iter().find(|d| d.id == canary && d.project_id == project.id);
        let d = d.ok_or_else(|| error(404, "not_found", "Deployment not found"))?;
        if d.state != "READY" || !d.is_production() {
            return Err(error(400, "bad_request", "The canary must be a READY production deployment"));
        }
        if current == canary {
            return Err(error(400, "bad_request", "The canary is already the production deployment"));
        }
        self.projects[index].releases.push(RollingRelease {
            state: "ACTIVE",
            current,
            canary: canary.to_owned(),
            advancement: config.advancement,
            stages: config.stages,
            active_stage: 0,
            started_at: now,
            updated_at: now,
        });
        if let Some(d) = self.deployment_mut(canary) {
            d.substate = Some("ROLLING");
        }
        Ok(())
    }

    /// The active release of the project at `index` for `canary` (400 naming what is wrong).
    fn active_for(&self, index: usize, canary: &str) -> Result<usize, ApiError> {
        let project = &self.projects[index];
        let active =
            project.active_release().ok_or_else(|| error(400, "bad_request", "There is no active rolling release"))?;
        if active.canary != canary {
            return Err(error(
                400,
                "bad_request",
                "canaryDeploymentId is not the canary of the active rolling release",
            ));
        }
        Ok(project.releases.len() - 1)
    }

    /// Moves the active release to stage `next` (the one after the active stage); the final
    /// stage completes it.
    pub(super) fn approve_stage(&mut self, index: usize, canary: &str, next: usize, now: i64) -> Result<(), ApiError> {
        let at = self.active_for(index, canary)?;
        let release = &mut self.projects[index].releases[at];
        if next != release.active_stage + 1 || next >= release.stages.len() {
            return Err(error(
                400,
                "bad_request",
                &format!("nextStageIndex must be {} (the stage after the active one)", release.active_stage + 1),
            ));
        }
        release.active_stage = next;
        release.updated_at = now;
        if next + 1 == release.stages.len() {
            self.complete_release(index, canary, now)?;
        }
        Ok(())
    }

    /// Completes the active release: the canary serves everything.
    pub(super) fn complete_release(&mut self, index: usize, canary: &str, now: i64) -> Result<(), ApiError> {
        let at = self.active_for(index, canary)?;
        let release = &mut self.projects[index].releases[at];
        release.state = "COMPLETE";
        release.active_stage = release.stages.len() - 1;
        release.updated_at = now;
        self.make_production(index, canary);
        Ok(())
    }

    /// Aborts the active release (a rollback does): its canary stops taking traffic.
    pub(super) fn abort_release(&mut self, index: usize, now: i64) {
        let Some(release) = self.projects[index].active_release_mut() else { return };
        release.state = "ABORTED";
        release.updated_at = now;
        let canary = release.canary.clone();
        if let Some(d) = self.deployment_mut(&canary) {
            d.substate = Some("STAGED");
        }
    }

    /// Automatic advancement: one stage per read of the release (stage durations are not
    /// waited out: the fake's clock is its reads).
    pub(super) fn advance_automatic(&mut self, index: usize, now: i64) {
        let Some(release) = self.projects[index].active_release() else { return };
        if release.advancement != "automatic" {
            return;
        }
        let (canary, next) = (release.canary.clone(), release.active_stage + 1);
        let _ = self.approve_stage(index, &canary, next, now);
    }

    /// Which deployment serves what share of production requests now: the canary and the
    /// deployment it rolls from during a release, else the production deployment alone.
    pub(super) fn split(&self, index: usize) -> Vec<(String, u8)> {
        let project = &self.projects[index];
        match project.active_release() {
            Some(r) => vec![(r.canary.clone(), r.canary_percent()), (r.current.clone(), 100 - r.canary_percent())],
            None => project.production.iter().map(|p| (p.clone(), 100)).collect(),
        }
    }

    /// Sends `count` new visitors to production and counts the deployment each is served by.
    /// Each visitor has a stable bucket (0–99, a hash of its id); buckets below the canary's
    /// share go to the canary, so a visitor once on the canary stays there as the share grows.
    pub(super) fn send_visitors(&mut self, index: usize, count: u64) -> BTreeMap<String, u64> {
        let split = self.split(index);
        let mut served = BTreeMap::new();
        for _ in 0..count {
            self.visitors += 1;
            let bucket = (fnv1a(self.visitors) % 100) as u8;
            let mut floor = 0u8;
            for (deployment, share) in &split {
                if bucket < floor.saturating_add(*share) {
                    *served.entry(deployment.clone()).or_insert(0) += 1;
                    break;
                }
                floor = floor.saturating_add(*share);
            }
        }
        served
    }
}

/// FNV-1a over the visitor number's bytes.
fn fnv1a(visitor: u64) -> u64 {
    visitor
        .to_le_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

//! The Vercel fake's world: projects, deployments and their state machine (one state per tick),
//! the asynchronous alias jobs of promote and rollback, and the deploy rate limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::rolling::{RollingConfig, RollingRelease};
use super::wire::{ApiError, error};
use super::{DeploymentView, ProjectSeed, VercelFakeOptions};
use crate::common::ids::random_suffix;
use crate::common::time::StrictClock;

/// States a deployment can no longer leave.
pub(super) const FINAL: [&str; 3] = ["READY", "ERROR", "CANCELED"];

/// One build event of a deployment (`/v3/deployments/{id}/events`).
#[derive(Debug, Clone)]
pub(super) struct BuildEvent {
    pub(super) serial: u64,
    pub(super) created: i64,
    pub(super) kind: &'static str,
    pub(super) text: String,
    pub(super) state: &'static str,
}

/// One deployment.
#[derive(Debug, Clone)]
pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) project_id: String,
    pub(super) name: String,
    pub(super) url: String,
    /// `production`, `staging`, or `None` (a preview).
    pub(super) target: Option<String>,
    pub(super) state: &'static str,
    /// The states still ahead, one per tick; empty while not final: stuck.
    plan: VecDeque<&'static str>,
    pub(super) substate: Option<&'static str>,
    pub(super) alias_assigned: bool,
    /// Created with `autoAssignCustomDomains: false`: READY without taking the domains.
    pub(super) skip_domains: bool,
    pub(super) error: Option<(String, String)>,
    pub(super) meta: Map<String, Value>,
    pub(super) git_source: Value,
    pub(super) sha: String,
    pub(super) created_at: i64,
    pub(super) building_at: Option<i64>,
    pub(super) ready_at: Option<i64>,
    /// It served production at some point: an instant-rollback candidate.
    pub(super) was_production: bool,
    pub(super) events: Vec<BuildEvent>,
}

impl Deployment {
    pub(super) fn is_final(&self) -> bool {
        FINAL.contains(&self.state)
    }

    pub(super) fn is_production(&self) -> bool {
        self.target.as_deref() == Some("production")
    }

    pub(super) fn view(&self) -> DeploymentView {
        DeploymentView {
            id: self.id.clone(),
            ready_state: self.state.to_owned(),
            ready_substate: self.substate.map(str::to_owned),
            target: self.target.clone(),
            sha: self.sha.clone(),
            meta: self.meta.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect(),
            alias_assigned: self.alias_assigned,
        }
    }
}

/// An asynchronous promote or rollback (`lastAliasRequest`), advanced one status per tick.
#[derive(Debug, Clone)]
pub(super) struct AliasJob {
    pub(super) from: Option<String>,
    pub(super) to: String,
    pub(super) kind: &'static str,
    pub(super) status: &'static str,
    pub(super) requested_at: i64,
}

impl AliasJob {
    pub(super) fn json(&self) -> Value {
        json!({
            "fromDeploymentId": self.from,
            "toDeploymentId": self.to,
            "jobStatus": self.status,
            "requestedAt": self.requested_at,
            "type": self.kind,
        })
    }
}

/// One project.
#[derive(Debug, Clone)]
pub(super) struct Project {
    pub(super) seed: ProjectSeed,
    pub(super) id: String,
    pub(super) name: String,
    /// The deployment serving production (its domains), if any.
    pub(super) production: Option<String>,
    pub(super) alias_job: Option<AliasJob>,
    pub(super) last_rollback_target: Option<Value>,
    pub(super) rolling_config: Option<RollingConfig>,
    /// Every rolling release, oldest first; at most the last is `ACTIVE`.
    pub(super) releases: Vec<RollingRelease>,
    pub(super) created_at: i64,
}

impl Project {
    pub(super) fn active_release(&self) -> Option<&RollingRelease> {
        self.releases.last().filter(|r| r.state == "ACTIVE")
    }

    pub(super) fn active_release_mut(&mut self) -> Option<&mut RollingRelease> {
        self.releases.last_mut().filter(|r| r.state == "ACTIVE")
    }
}

/// Everything the fake knows.
#[derive(Debug)]
pub(super) struct World {
    pub(super) options: VercelFakeOptions,
    pub(super) projects: Vec<Project>,
    pub(super) deployments: Vec<Deployment>,
    pub(super) ticks_per_poll: u32,
    /// Deployment creates still to be carried out and then answered 500.
    pub(super) fail_after_acting: u32,
    /// Visitors sent to production so far (each gets a stable bucket).
    pub(super) visitors: u64,
    window_began: Instant,
    deploys_in_window: u32,
    clock: StrictClock,
}

impl World {
    pub(super) fn new(options: VercelFakeOptions) -> Self {
        let mut world = World {
            ticks_per_poll: options.ticks_per_poll,
            options,
            projects: Vec::new(),
            deployments: Vec::new(),
            fail_after_acting: 0,
            visitors: 0,
            window_began: Instant::now(),
            deploys_in_window: 0,
            clock: StrictClock::millis(),
        };
        for seed in world.options.projects.clone() {
            let now = world.now();
            world.projects.push(Project {
                id: seed.id.clone(),
                name: seed.name.clone(),
                seed,
                production: None,
                alias_job: None,
                last_rollback_target: None,
                rolling_config: None,
                releases: Vec::new(),
                created_at: now,
            });
        }
        world
    }

    /// Milliseconds since the epoch, strictly later than any earlier answer.
    pub(super) fn now(&mut self) -> i64 {
        self.clock.now()
    }

    /// The project named by id or name, visible with `team` (a team's project is not found
    /// without its team id).
    pub(super) fn project(&self, id_or_name: &str, team: Option<&str>) -> Result<&Project, ApiError> {
        self.projects
            .iter()
            .find(|p| (p.id == id_or_name || p.name == id_or_name) && p.seed.team_id.as_deref() == team)
            .ok_or_else(|| error(404, "not_found", "Project not found"))
    }

    pub(super) fn project_index(&self, id_or_name: &str, team: Option<&str>) -> Result<usize, ApiError> {
        let id = self.project(id_or_name, team)?.id.clone();
        Ok(self.projects.iter().position(|p| p.id == id).unwrap_or_default())
    }

    pub(super) fn project_by_id(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// A deployment by id or url, visible with `team`.
    pub(super) fn deployment(&self, id_or_url: &str, team: Option<&str>) -> Result<&Deployment, ApiError> {
        self.deployments
            .iter()
            .find(|d| {
                (d.id == id_or_url || d.url == id_or_url)
                    && self.project_by_id(&d.project_id).is_some_and(|p| p.seed.team_id.as_deref() == team)
            })
            .ok_or_else(|| error(404, "not_found", "Deployment not found"))
    }

    pub(super) fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    /// Counts a deployment create against the window's allowance; the seconds to wait when it is
    /// used up.
    pub(super) fn admit_deploy(&mut self) -> Result<(), (u64, u32)> {
        let window = self.options.rate_window;
        if self.window_began.elapsed() >= window {
            self.window_began = Instant::now();
            self.deploys_in_window = 0;
        }
        if self.deploys_in_window >= self.options.deploy_limit {
            let left = window.saturating_sub(self.window_began.elapsed()).max(Duration::from_secs(1));
            return Err((left.as_secs_f64().ceil() as u64, self.options.deploy_limit));
        }
        self.deploys_in_window += 1;
        Ok(())
    }

    /// Uses up the deploy allowance of the current window.
    pub(super) fn exhaust(&mut self) {
        if self.window_began.elapsed() >= self.options.rate_window {
            self.window_began = Instant::now();
        }
        self.deploys_in_window = self.options.deploy_limit;
    }

    /// Creates a deployment (`QUEUED`) of `sha` on the project at `index`.
    pub(super) fn create_deployment(&mut self, index: usize, new: NewDeployment) -> Deployment {
        let now = self.now();
        let project = &self.projects[index];
        let suffix = random_suffix(9);
        let marker =
            format!("{} {}", new.sha, new.meta.values().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
        let mut plan = VecDeque::from(["INITIALIZING", "BUILDING"]);
        if marker.contains("bad") {
            plan.push_back("ERROR");
        } else if !marker.contains("stuck") {
            plan.push_back("READY");
        }
        let deployment = Deployment {
            id: format!("dpl_{}", ulid::Ulid::new()),
            project_id: project.id.clone(),
            name: project.name.clone(),
            url: format!("{}-{suffix}-acme.vercel.app", project.name),
            target: new.target,
            state: "QUEUED",
            plan,
            substate: None,
            alias_assigned: false,
            skip_domains: new.skip_domains,
            error: None,
            meta: new.meta,
            git_source: new.git_source,
            sha: new.sha,
            created_at: now,
            building_at: None,
            ready_at: None,
            was_production: false,
            events: Vec::new(),
        };
        let id = deployment.id.clone();
        self.deployments.push(deployment.clone());
        self.event(&id, "stdout", "Queued");
        self.deployments.last().cloned().unwrap_or(deployment)
    }

    /// Appends a build event to a deployment.
    pub(super) fn event(&mut self, id: &str, kind: &'static str, text: &str) {
        let now = self.now();
        if let Some(d) = self.deployment_mut(id) {
            let serial = d.events.len() as u64 + 1;
            d.events.push(BuildEvent { serial, created: now, kind, text: text.to_owned(), state: d.state });
        }
    }

    /// Advances a deployment by `steps` states; on `READY` applies what production deployments do.
    pub(super) fn tick_deployment(&mut self, id: &str, steps: u32) {
        for _ in 0..steps {
            let now = self.now();
            let Some(d) = self.deployment_mut(id) else { return };
            let Some(next) = d.plan.pop_front() else { return };
            d.state = next;
            let (sha, project_id) = (d.sha.clone(), d.project_id.clone());
            match next {
                "BUILDING" => {
                    d.building_at = Some(now);
                    let repo = self.project_by_id(&project_id).map(|p| p.seed.repo.clone()).unwrap_or_default();
                    let short = &sha[..sha.len().min(7)];
                    self.event(id, "stdout", &format!("Cloning github.com/{repo} (Commit: {short})"));
                    self.event(id, "command", "Running \"npm run build\"");
                }
                "ERROR" => {
                    d.error = Some(("BUILD_FAILED".to_owned(), "Command \"npm run build\" exited with 1".to_owned()));
                    self.event(id, "stderr", "Error: Command \"npm run build\" exited with 1");
                }
                "READY" => {
                    d.ready_at = Some(now);
                    self.event(id, "stdout", "Build Completed in /vercel/output");
                    self.on_ready(id);
                    self.event(id, "deployment-state", "Deployment completed");
                }
                _ => {}
            }
        }
    }

    /// Cancels a deployment that is still building.
    pub(super) fn cancel_deployment(&mut self, id: &str) {
        if let Some(d) = self.deployment_mut(id) {
            d.state = "CANCELED";
            d.plan.clear();
        }
        self.event(id, "deployment-state", "Deployment canceled");
    }

    /// A production deployment that became READY: staged when it skips the domains (or a
    /// rolling release is already running), the canary of a new rolling release when one is
    /// enabled and something serves, else production.
    fn on_ready(&mut self, id: &str) {
        let Some(d) = self.deployments.iter().find(|d| d.id == id).cloned() else { return };
        if !d.is_production() {
            return;
        }
        let Some(index) = self.projects.iter().position(|p| p.id == d.project_id) else { return };
        let project = &self.projects[index];
        let enabled = project.rolling_config.as_ref().is_some_and(|c| c.enabled);
        if d.skip_domains || project.active_release().is_some() {
            if let Some(d) = self.deployment_mut(id) {
                d.substate = Some("STAGED");
            }
        } else if enabled && project.production.is_some() {
            let now = self.now();
            let _ = self.start_release(index, id, now);
        } else {
            self.make_production(index, id);
        }
    }

    /// Points the project's domains at `id` (no job: done).
    pub(super) fn make_production(&mut self, index: usize, id: &str) {
        let previous = self.projects[index].production.replace(id.to_owned());
        if let Some(previous) = previous.filter(|p| p != id)
            && let Some(old) = self.deployment_mut(&previous)
        {
            old.alias_assigned = false;
        }
        if let Some(d) = self.deployment_mut(id) {
            d.alias_assigned = true;
            d.substate = Some("PROMOTED");
            d.was_production = true;
        }
    }

    /// Starts a promote or rollback job to `to` (`pending`; it finishes over the next ticks).
    pub(super) fn start_alias_job(&mut self, index: usize, to: &str, kind: &'static str) {
        let requested_at = self.now();
        let project = &mut self.projects[index];
        project.alias_job = Some(AliasJob {
            from: project.production.clone(),
            to: to.to_owned(),
            kind,
            status: "pending",
            requested_at,
        });
    }

    /// Advances the project's alias job by one status; the domains move when it succeeds.
    pub(super) fn tick_project(&mut self, index: usize, steps: u32) {
        for _ in 0..steps {
            let Some(job) = self.projects[index].alias_job.as_mut() else { return };
            job.status = match job.status {
                "pending" => "in-progress",
                "in-progress" => "succeeded",
                _ => return,
            };
            if job.status == "succeeded" {
                let to = job.to.clone();
                self.make_production(index, &to);
            }
        }
    }
}

/// What `POST /v13/deployments` asked for, validated.
#[derive(Debug, Clone)]
pub(super) struct NewDeployment {
    pub(super) target: Option<String>,
    pub(super) sha: String,
    pub(super) git_source: Value,
    pub(super) meta: Map<String, Value>,
    pub(super) skip_domains: bool,
}

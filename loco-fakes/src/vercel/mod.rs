//! A fake of Vercel's REST API (`https://api.vercel.com`) for the parts a deploy adapter uses:
//! credentials (`/v2/user`), projects, git deployments and their state machine, promote and
//! instant rollback with their asynchronous alias jobs, Rolling Releases (percentage traffic),
//! cancel, build events, and a deploy rate limit.
//!
//! What it models, faithfully to the reference (`platform-apis.md` §4):
//! - `Authorization: Bearer <token>`: 401 without one, 403 `forbidden` "Not authorized" with
//!   another; `teamId` (or `slug`) on every call: a team's project and its deployments are 404
//!   without their team id, a team the token is not in is 403;
//! - `GET /v9|v8/projects/{idOrName}` with `link` (GitHub, `productionBranch`),
//!   `targets.production`, `latestDeployments`, `lastAliasRequest`, `lastRollbackTarget` and
//!   the `rollingRelease` configuration;
//! - `POST /v13/deployments` → **200** with the deployment (`name` required unless `project`;
//!   `gitSource` `github`/`github-limited` by org+repo or repoId, checked against the link, or
//!   `vercel` by sha; `deploymentId` redeploys with `withLatestCommit`; `target`; string `meta`;
//!   `autoAssignCustomDomains: false` builds a production deployment that stays `STAGED`);
//!   deployments go `QUEUED → INITIALIZING → BUILDING → READY | ERROR`, one state per poll of
//!   `GET /v13/deployments/{id}` (a logical clock: [`VercelFakeOptions::ticks_per_poll`], or
//!   [`VercelFake::tick`]); `bad` in the sha or a meta value → `ERROR` with `errorCode` and
//!   `errorMessage`, `stuck` → never leaves `BUILDING`;
//! - a production deployment that becomes READY takes the domains (`aliasAssigned`,
//!   `targets.production`, `readySubstate: PROMOTED`) — unless it skips them (`STAGED`), or a
//!   rolling release is enabled and something serves: then it is the canary of a new rolling
//!   release at stage 0 (`ROLLING`);
//! - `GET /v6|v7/deployments` (newest first; `projectId`, `target`, `state`, `sha`, `until`,
//!   `limit`), `PATCH /v12/deployments/{id}/cancel`, `GET /v3/deployments/{id}/events`
//!   (a JSON array written as the deployment progresses; `since`, `direction`, `limit`);
//! - promote `POST /v10/projects/{id}/promote/{dpl}` (202 empty and a `promote` alias job going
//!   `pending → in-progress → succeeded`, one status per project poll; or, when a rolling
//!   release is enabled and another deployment serves, 201 empty and a rolling release started,
//!   as the CLI's promote does); rollback `POST /v1|v9/projects/{id}/rollback/{dpl}` (201 empty,
//!   only to a READY deployment that served production; aborts an active rolling release;
//!   a `rollback` alias job);
//! - Rolling Releases: `GET|PATCH|DELETE …/rolling-release/config` (2–10 increasing stages
//!   ending at 100, `manual-approval` or `automatic` with durations), `GET …/rolling-release`
//!   (`?state=`), `POST …/start`, `…/approve-stage` (`nextStageIndex` must be the next stage;
//!   approving the final stage completes), `…/complete`; automatic releases advance one stage
//!   per read of their state; [`VercelFake::production_split`] says which deployment serves
//!   what share now and [`VercelFake::send_visitors`] sends requests split that way;
//! - 429 `rate_limited` with the `limit` object, `Retry-After` and `X-RateLimit-*` when more
//!   than [`VercelFakeOptions::deploy_limit`] deployments are created in a window; faults via
//!   [`Faults`](crate::Faults); every request recorded.
//!
//! What it does not model: creating projects or teams, file uploads (`files` deployments are
//! refused), GitLab and Bitbucket links, `follow=1` event streaming, runtime logs, custom
//! environments, `promote/aliases`, checks, `BLOCKED`, deployment deletion, queued rolling
//! releases (a production deployment that becomes READY during an active release stays
//! `STAGED`), stage durations (automatic releases advance per read), and real traffic (nothing
//! listens at a deployment's url).

mod model;
mod rolling;
mod rolling_routes;
mod routes;
mod shapes;
mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Fault, Server};
use model::World;
use routes::{Shared, lock};

/// A project the fake starts with, linked to a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSeed {
    /// `prj_…`.
    pub id: String,
    /// Its name (its `*.vercel.app` domain derives from it).
    pub name: String,
    /// The team it belongs to (`team_…`), or `None` for the user's own.
    pub team_id: Option<String>,
    /// `org/repo` of the linked GitHub repository.
    pub repo: String,
    /// The production branch.
    pub production_branch: String,
    /// The branch's head, built when a deployment names no sha.
    pub head_sha: String,
}

impl ProjectSeed {
    /// A project of `team` linked to `repo` (`org/name`), production branch `main`.
    pub fn new(id: &str, name: &str, team_id: Option<&str>, repo: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            team_id: team_id.map(str::to_owned),
            repo: repo.to_owned(),
            production_branch: "main".to_owned(),
            head_sha: "4f1c0c5e9d0b8a7f6e5d4c3b2a1908f7e6d5c4b3".to_owned(),
        }
    }
}

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct VercelFakeOptions {
    /// The one token accepted.
    pub token: String,
    /// The user's id.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The user's email.
    pub email: String,
    /// The teams the token belongs to: `(team_…, slug)`.
    pub teams: Vec<(String, String)>,
    /// The projects.
    pub projects: Vec<ProjectSeed>,
    /// Deployments created per rate window before 429 (default 100).
    pub deploy_limit: u32,
    /// The rate window (an hour by default; tests shorten it).
    pub rate_window: Duration,
    /// States advanced per poll of a deployment, and alias-job statuses per project poll (1).
    pub ticks_per_poll: u32,
}

impl Default for VercelFakeOptions {
    fn default() -> Self {
        Self {
            token: "vercel_fake_token_0123456789".to_owned(),
            user_id: "usr_fake0000000000000000".to_owned(),
            username: "acme-ops".to_owned(),
            email: "ops@acme.test".to_owned(),
            teams: vec![("team_fake0000000000000000".to_owned(), "acme".to_owned())],
            projects: Vec::new(),
            deploy_limit: 100,
            rate_window: Duration::from_secs(3600),
            ticks_per_poll: 1,
        }
    }
}

/// A deployment as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    /// `dpl_…`.
    pub id: String,
    /// `QUEUED`, `BUILDING`, `READY`, `ERROR`, …
    pub ready_state: String,
    /// `STAGED`, `ROLLING`, `PROMOTED`, when it has one.
    pub ready_substate: Option<String>,
    /// `production`, `staging`, or `None` for a preview.
    pub target: Option<String>,
    /// The commit built.
    pub sha: String,
    /// Its `meta`.
    pub meta: BTreeMap<String, String>,
    /// Whether it holds the production domains.
    pub alias_assigned: bool,
}

/// A running Vercel fake; stops when dropped.
#[derive(Debug)]
pub struct VercelFake {
    server: Server,
    world: Shared,
}

impl VercelFake {
    /// Starts a fake on `127.0.0.1` (an ephemeral port).
    pub async fn start(options: VercelFakeOptions) -> std::io::Result<Self> {
        let world = Arc::new(Mutex::new(World::new(options)));
        let server = Server::start(|instruments| routes::router(world.clone(), instruments)).await?;
        Ok(Self { server, world })
    }

    /// A 429 as Vercel sends it (`rate_limited` with its `limit`, `Retry-After`,
    /// `X-RateLimit-*`), to inject with [`Faults::inject`](crate::Faults::inject).
    pub fn rate_limited(retry_after_seconds: u64) -> Fault {
        Fault::RateLimited {
            retry_after_seconds,
            headers: wire::rate_limit_headers(retry_after_seconds, 100),
            body: wire::rate_limited_body(retry_after_seconds, 100),
        }
    }

    /// A 5xx as Vercel sends it (answered instead of acting: nothing happens).
    pub fn server_error(status: u16) -> Fault {
        Fault::Status {
            status,
            body: wire::error_body("internal_server_error", "An unexpected internal error occurred"),
        }
    }

    /// The deployments of `project` (id), oldest first.
    pub fn deployments(&self, project: &str) -> Vec<DeploymentView> {
        lock(&self.world).deployments.iter().filter(|d| d.project_id == project).map(model::Deployment::view).collect()
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Option<DeploymentView> {
        lock(&self.world).deployments.iter().find(|d| d.id == id).map(model::Deployment::view)
    }

    /// The deployment holding `project`'s production domains, if any.
    pub fn production(&self, project: &str) -> Option<String> {
        lock(&self.world).project_by_id(project).and_then(|p| p.production.clone())
    }

    /// Which deployment serves what share (percent) of `project`'s production requests now:
    /// `[(canary, p), (current, 100 - p)]` during a rolling release, `[(production, 100)]`
    /// otherwise, empty when nothing serves.
    pub fn production_split(&self, project: &str) -> Vec<(String, u8)> {
        let world = lock(&self.world);
        world.projects.iter().position(|p| p.id == project).map(|i| world.split(i)).unwrap_or_default()
    }

    /// Sends `count` new visitors to `project`'s production domain and counts, per deployment,
    /// how many each served (split by the current rolling-release share, per-visitor sticky).
    pub fn send_visitors(&self, project: &str, count: u64) -> BTreeMap<String, u64> {
        let mut world = lock(&self.world);
        match world.projects.iter().position(|p| p.id == project) {
            Some(i) => world.send_visitors(i, count),
            None => BTreeMap::new(),
        }
    }

    /// The project's rolling release in `state` (`ACTIVE`, `COMPLETE`, `ABORTED`), as the API
    /// shows it, if any.
    pub fn rolling_release(&self, project: &str, state: &str) -> Option<Value> {
        let world = lock(&self.world);
        let p = world.project_by_id(project)?;
        p.releases.iter().rev().find(|r| r.state == state).map(|r| r.json(&world))
    }

    /// The project's rolling-release configuration, as `GET …/config` shows it (null when off).
    pub fn rolling_config(&self, project: &str) -> Option<Value> {
        lock(&self.world)
            .project_by_id(project)?
            .rolling_config
            .as_ref()
            .filter(|c| c.enabled)
            .map(rolling::RollingConfig::json)
    }

    /// Advances a deployment by `steps` states, as polls would.
    pub fn tick(&self, deployment: &str, steps: u32) {
        lock(&self.world).tick_deployment(deployment, steps);
    }

    /// Sets how many states each poll advances (0 freezes every deployment and alias job).
    pub fn set_ticks_per_poll(&self, steps: u32) {
        lock(&self.world).ticks_per_poll = steps;
    }

    /// The next `count` deployment creates create their deployment and then answer 500: an
    /// outcome the client cannot know.
    pub fn fail_after_acting(&self, count: u32) {
        lock(&self.world).fail_after_acting = count;
    }

    /// Uses up the deploy allowance of the current window, so the next create gets a real 429.
    pub fn exhaust_deploy_budget(&self) {
        lock(&self.world).exhaust();
    }
}

crate::common::server::deref_to_server!(VercelFake);

//! A fake of Render's REST API v1 (`https://api.render.com/v1`) for the parts a deploy adapter
//! uses: credentials (`/users`, `/owners`), services, deploys and their state machine, rollback,
//! cancel, scale, suspend/resume, logs, and Render's rate limits.
//!
//! What it models, faithfully to the reference (`platform-apis.md` §2):
//! - `Authorization: Bearer <key>`, else 401 with Render's `{"id","message"}` error body;
//! - cursor-wrapped lists (`[{"cursor", "deploy": {…}}]`) with `limit` (1–100) and `cursor`;
//! - deploys: `POST …/deploys` (`commitId` | `imageUrl` | `deployMode`, `clearCache`, with
//!   Render's validation, including 400 when `imageUrl` names another repository than the
//!   service's image), one deploy in progress per service and the others `queued` behind it;
//!   git deploys go `created → build_in_progress → update_in_progress → live` (with
//!   `pre_deploy_in_progress` when the service has a pre-deploy command), image deploys and
//!   rollbacks `created → update_in_progress → live`, one status per poll of the service's
//!   deploys (a logical clock: `ticks_per_poll` steps per `GET …/deploys[/{id}]`, or
//!   [`RenderFake::tick`]); when one goes live the previous live one becomes `deactivated`;
//! - failures chosen by the image tag or commit: `bad` → `update_failed`, `buildfail` →
//!   `build_failed`, `predeployfail` → `pre_deploy_failed`, `stuck` → never finishes (and holds
//!   the queue until canceled);
//! - `POST …/rollback {"deployId"}` → 201 deploy with `trigger: rollback` reusing that deploy's
//!   image or commit, for deploys that were live and are among the last
//!   [`RenderFakeOptions::retained_deploys`] that were (400 otherwise);
//! - `POST …/deploys/{id}/cancel` (200, or 409 for a complete deploy), `POST …/scale` (202),
//!   `POST …/suspend` and `…/resume` (202);
//! - `GET /v1/logs` with `hasMore`/`nextStartTime`/`nextEndTime` paging; deploys write build
//!   lines as they progress and app lines when they go live or fail;
//! - rate limits: 10 deploy-creating POSTs (`…/deploys`, `…/rollback`, `…/suspend`,
//!   `…/resume`) per service, 30 other writes and 400 reads per window (a minute, scalable for
//!   tests); the next one gets 429 with `Retry-After`; every answer carries `Ratelimit-Limit`,
//!   `Ratelimit-Remaining` and `Ratelimit-Reset` (seconds until the window resets — the
//!   reference flags the docs' "epoch seconds" as doubtful).
//!
//! What it does not model: creating, updating or deleting services (`PATCH /v1/services/{id}`
//! included: to switch repository, seed another service), environment variables, custom
//! domains, autoscaling, build artifacts (`artifactId` is refused), per-instance endpoints,
//! the websocket log stream, and real processes (nothing listens at a service's `url`). Resuming
//! a suspended service does not start a deploy here.

mod model;
mod routes;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Fault, Server};
use model::World;
pub use model::{DEPLOY_LIMIT, READ_LIMIT, WRITE_LIMIT};
use routes::{Shared, lock};

const TRIGGER_API: &str = "api";
const TRIGGER_ROLLBACK: &str = "rollback";

/// Where a service's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSource {
    /// A prebuilt image; deploys may change only its tag or digest.
    Image {
        /// The configured image (`docker.io/acme/shop:latest`).
        image_path: String,
    },
    /// A git repository, built on every deploy.
    Git {
        /// The repository URL.
        repo: String,
        /// The linked branch.
        branch: String,
        /// The commit a deploy without `commitId` builds (the branch's head).
        head_commit: String,
    },
}

/// A service the fake starts with (a `web_service` of the fake's owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSeed {
    /// `srv-…`.
    pub id: String,
    /// Its name (its slug and `url` derive from it).
    pub name: String,
    /// Image- or git-backed.
    pub source: ServiceSource,
    /// `serviceDetails.numInstances` at the start.
    pub num_instances: u32,
    /// Whether it has a pre-deploy command (deploys then pass through `pre_deploy_in_progress`).
    pub pre_deploy: bool,
}

impl ServiceSeed {
    /// An image-backed service with one instance.
    pub fn image(id: &str, name: &str, image_path: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            source: ServiceSource::Image { image_path: image_path.to_owned() },
            num_instances: 1,
            pre_deploy: false,
        }
    }

    /// A git-backed service with one instance, deploying `branch` of `repo`.
    pub fn git(id: &str, name: &str, repo: &str, branch: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            source: ServiceSource::Git {
                repo: repo.to_owned(),
                branch: branch.to_owned(),
                head_commit: "4f1c0c5e9d0b8a7f6e5d4c3b2a1908f7e6d5c4b3".to_owned(),
            },
            num_instances: 1,
            pre_deploy: false,
        }
    }
}

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct RenderFakeOptions {
    /// The one API key accepted (`rnd_…`).
    pub token: String,
    /// The workspace every service belongs to (`tea-…`).
    pub owner_id: String,
    /// The workspace's and the user's name.
    pub owner_name: String,
    /// The user's email.
    pub email: String,
    /// The services.
    pub services: Vec<ServiceSeed>,
    /// How many of the most recent deploys that went live can be rolled back to (default 5).
    pub retained_deploys: usize,
    /// The rate-limit window (a minute by default; tests may shorten it — the counts stay).
    pub rate_window: Duration,
    /// Deploy statuses advanced per poll of a service's deploys (default 1).
    pub ticks_per_poll: u32,
}

impl Default for RenderFakeOptions {
    fn default() -> Self {
        Self {
            token: "rnd_fake_token_0123456789".to_owned(),
            owner_id: "tea-fake0owner0000000000".to_owned(),
            owner_name: "Acme".to_owned(),
            email: "ops@acme.test".to_owned(),
            services: Vec::new(),
            retained_deploys: 5,
            rate_window: Duration::from_secs(60),
            ticks_per_poll: 1,
        }
    }
}

/// A deploy as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployView {
    /// `dep-…`.
    pub id: String,
    /// Its `deployStatus`.
    pub status: String,
    /// `api`, `rollback`, …
    pub trigger: String,
    /// The image reference, for image deploys.
    pub image: Option<String>,
    /// The commit, for git deploys.
    pub commit: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A running Render fake; stops when dropped.
#[derive(Debug)]
pub struct RenderFake {
    server: Server,
    world: Shared,
}

impl RenderFake {
    /// Starts a fake on `127.0.0.1` (an ephemeral port).
    pub async fn start(options: RenderFakeOptions) -> std::io::Result<Self> {
        let world = Arc::new(Mutex::new(World::new(options)));
        let server = Server::start(|instruments| routes::router(world.clone(), instruments)).await?;
        Ok(Self { server, world })
    }

    /// A 429 as Render sends it (Render's error body, `Retry-After` and `Ratelimit-*` headers),
    /// to inject with [`Faults::inject`](crate::Faults::inject).
    pub fn rate_limited(retry_after_seconds: u64) -> Fault {
        Fault::RateLimited {
            retry_after_seconds,
            headers: vec![
                ("ratelimit-limit".to_owned(), DEPLOY_LIMIT.to_string()),
                ("ratelimit-remaining".to_owned(), "0".to_owned()),
                ("ratelimit-reset".to_owned(), retry_after_seconds.to_string()),
            ],
            body: wire::error_body("rate limit exceeded, please retry later"),
        }
    }

    /// A 5xx as Render sends it (answered instead of acting: nothing happens).
    pub fn server_error(status: u16) -> Fault {
        Fault::Status { status, body: wire::error_body("internal server error") }
    }

    /// The deploys of `service`, oldest first (empty for an unknown service).
    pub fn deploys(&self, service: &str) -> Vec<DeployView> {
        lock(&self.world)
            .service(service)
            .map(|s| s.deploys.iter().map(model::Deploy::view).collect())
            .unwrap_or_default()
    }

    /// One deploy of `service`.
    pub fn deploy(&self, service: &str, id: &str) -> Option<DeployView> {
        self.deploys(service).into_iter().find(|d| d.id == id)
    }

    /// The deploy of `service` that is live, if any.
    pub fn live_deploy(&self, service: &str) -> Option<DeployView> {
        lock(&self.world).service(service).and_then(|s| s.live().map(model::Deploy::view))
    }

    /// The service as `GET /v1/services/{id}` shows it.
    pub fn service(&self, service: &str) -> Option<Value> {
        let world = lock(&self.world);
        world.service(service).map(|s| s.json(&world.owner_id))
    }

    /// Whether `service` is suspended.
    pub fn suspended(&self, service: &str) -> bool {
        lock(&self.world).service(service).is_some_and(|s| s.suspended)
    }

    /// `serviceDetails.numInstances` of `service`.
    pub fn num_instances(&self, service: &str) -> u32 {
        lock(&self.world).service(service).map_or(0, |s| s.num_instances)
    }

    /// Advances the deploy in progress on `service` by `steps` statuses, as polls would.
    pub fn tick(&self, service: &str, steps: u32) {
        lock(&self.world).tick(service, steps);
    }

    /// Sets how many statuses each poll advances (0 freezes every deploy).
    pub fn set_ticks_per_poll(&self, steps: u32) {
        lock(&self.world).ticks_per_poll = steps;
    }

    /// The next `count` deploy-creating calls (`…/deploys`, `…/rollback`) create their deploy
    /// and then answer 500: an outcome the client cannot know.
    pub fn fail_after_acting(&self, count: u32) {
        lock(&self.world).fail_after_acting = count;
    }

    /// Uses up the deploy-creating allowance of `service` for the current window, so the next
    /// such call gets a real 429 from the limiter.
    pub fn exhaust_deploy_budget(&self, service: &str) {
        lock(&self.world).exhaust(service);
    }

    /// Appends a log line to `service` (`kind`: `app`, `build` or `request`; `level`: `info`,
    /// `error`, …), as the running service would write it.
    pub fn push_log(&self, service: &str, kind: &'static str, level: &'static str, message: &str) {
        lock(&self.world).log(service, kind, level, service, message.to_owned());
    }
}

crate::common::server::deref_to_server!(RenderFake);

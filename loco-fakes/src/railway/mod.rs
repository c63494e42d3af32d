//! A fake of Railway's public GraphQL API (`https://backboard.railway.com/graphql/v2`) for the
//! parts a deploy adapter uses: credentials (`me`, `projectToken`), the project, its services and
//! service instances, deployments with their status machine, rollback, redeploy, restart, cancel,
//! stop and remove, build and deploy logs, and Railway's rate limits.
//!
//! What it models, faithfully to the reference (`platform-apis.md` §1):
//! - one `POST /graphql/v2` taking `{query, variables, operationName}`; the document is parsed
//!   and validated like a GraphQL server would (the operation named by `operationName`, declared
//!   and given variables with their types, each argument's type, selections: a selection on a
//!   `Boolean!` such as `deploymentRollback { id }` is refused before the mutation acts, as the
//!   real schema refuses the docs' example); the schema subset is in `schema.rs`;
//! - tokens: `Authorization: Bearer <account token>` reaches the whole project;
//!   `Project-Access-Token: <project token>` one environment of it (`me` is refused for it, as
//!   the docs say); an unknown or missing token gets HTTP 200 with
//!   `{"data": null, "errors": [{"message": "Not Authorized", …}]}`;
//! - deployments go `INITIALIZING → BUILDING → DEPLOYING → SUCCESS` for commits and
//!   `INITIALIZING → DEPLOYING → SUCCESS` for images and rollbacks (no build), one status per
//!   poll (a logical clock: `ticks_per_poll` steps for every deployment in progress at each
//!   `deployment` or `deployments` query, or [`RailwayFake::tick`]); when one reaches `SUCCESS`
//!   the previous `SUCCESS` (and older ones still in progress) become `REMOVED`;
//! - markers in the image tag or commit: `bad` → `FAILED` (at the build for commits, at the
//!   deploy for images; the previous deployment keeps serving), `crash` → `SUCCESS` then
//!   `CRASHED` at the next tick (it replaced the previous one first), `stuck` → stays
//!   `DEPLOYING`;
//! - `serviceInstanceDeployV2` (the id, a `String!`), "Commit not found" for a commit the
//!   repository does not have, `serviceInstanceUpdate` (source image or repo, `numReplicas`,
//!   applied at once), `deploymentRollback` (`Boolean!`; refused unless `canRollback`: the
//!   deployment was live, is not live now, and its image is retained — see
//!   [`RailwayFake::expire`]), `deploymentRedeploy` (a `Deployment!`), `deploymentCancel` (in
//!   progress → `REMOVED`), `deploymentRemove` (→ `REMOVING` → `REMOVED`), `deploymentStop`
//!   (`deploymentStopped: true`), `deploymentRestart`;
//! - `deployments(input: {projectId, serviceId, environmentId, status: {in, notIn}}, first)`
//!   newest first, as a connection (`edges[].node`); `buildLogs` / `deploymentLogs` with
//!   `startDate`, `endDate`, `filter`, `limit`;
//! - rate limits: `rate_limit` requests per `rate_window`; every answer carries
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds), the
//!   request after the last gets HTTP 429 with `Retry-After`; [`RailwayFake::throttle`] refuses
//!   one named operation the same way.
//!
//! What it does not model: subscriptions (WebSocket), workspaces and their tokens, creating
//! projects, services or environments, variables, domains, volumes, regions and
//! `multiRegionConfig`, `environmentPatchCommit`, `NEEDS_APPROVAL`/`deploymentApprove`,
//! sleeping apps, time-based image retention (an explicit [`RailwayFake::expire`] instead),
//! fragments, aliases and directives in documents, and real processes behind the domains.

mod graphql;
mod model;
mod resolve;
mod routes;
pub mod schema;
mod validate;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Fault, Server};
use model::World;
use routes::{Shared, lock};

/// Where a service's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSource {
    /// A prebuilt image.
    Image {
        /// The image reference (`ghcr.io/acme/shop:latest`).
        image: String,
    },
    /// A git repository, built on every deploy.
    Repo {
        /// `acme/shop`.
        repo: String,
        /// Its known commits, oldest first (the last is the branch head); others are not found.
        commits: Vec<String>,
    },
}

/// A service of the fake's project (it has a service instance in every environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSeed {
    /// Its id (a UUID on Railway).
    pub id: String,
    /// Its name (its domains derive from it).
    pub name: String,
    /// Image or repository.
    pub source: ServiceSource,
    /// `numReplicas` at the start.
    pub num_replicas: u32,
}

impl ServiceSeed {
    /// An image-backed service with one replica.
    pub fn image(id: &str, name: &str, image: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            source: ServiceSource::Image { image: image.to_owned() },
            num_replicas: 1,
        }
    }

    /// A repository-backed service with one replica and these known commits (oldest first).
    pub fn repo(id: &str, name: &str, repo: &str, commits: &[&str]) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            source: ServiceSource::Repo {
                repo: repo.to_owned(),
                commits: commits.iter().map(|c| (*c).to_owned()).collect(),
            },
            num_replicas: 1,
        }
    }
}

/// How the fake starts: one project, its environments and services, the tokens it accepts.
#[derive(Debug, Clone)]
pub struct RailwayFakeOptions {
    /// The account token accepted as `Authorization: Bearer` (empty: none).
    pub account_token: String,
    /// The project token accepted as `Project-Access-Token` (empty: none).
    pub project_token: String,
    /// The environment the project token is scoped to.
    pub project_token_environment: String,
    /// The account's user id, name and email (`me`).
    pub user_id: String,
    /// The user's name.
    pub user_name: String,
    /// The user's email.
    pub email: String,
    /// The project's id.
    pub project_id: String,
    /// The project's name.
    pub project_name: String,
    /// The workspace the project belongs to.
    pub workspace_id: String,
    /// The project's environments: (id, name).
    pub environments: Vec<(String, String)>,
    /// The project's services.
    pub services: Vec<ServiceSeed>,
    /// Deployment statuses advanced per poll (default 1).
    pub ticks_per_poll: u32,
    /// Requests per window (default 1000, Railway's Hobby hourly allowance).
    pub rate_limit: u32,
    /// The rate-limit window (an hour by default; tests may shorten it).
    pub rate_window: Duration,
}

impl Default for RailwayFakeOptions {
    fn default() -> Self {
        Self {
            account_token: "rw_fake_account_token_0123456789".to_owned(),
            project_token: "rw_fake_project_token_0123456789".to_owned(),
            project_token_environment: "env-production".to_owned(),
            user_id: "user-fake".to_owned(),
            user_name: "Ops".to_owned(),
            email: "ops@acme.test".to_owned(),
            project_id: "prj-fake".to_owned(),
            project_name: "acme".to_owned(),
            workspace_id: "ws-fake".to_owned(),
            environments: vec![
                ("env-production".to_owned(), "production".to_owned()),
                ("env-staging".to_owned(), "staging".to_owned()),
            ],
            services: Vec::new(),
            ticks_per_poll: 1,
            rate_limit: 1000,
            rate_window: Duration::from_secs(3600),
        }
    }
}

/// A deployment as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    /// Its id.
    pub id: String,
    /// Its service.
    pub service_id: String,
    /// Its environment.
    pub environment_id: String,
    /// Its `DeploymentStatus`.
    pub status: String,
    /// `deploy`, `rollback` or `redeploy`.
    pub reason: String,
    /// The image, for image deployments.
    pub image: Option<String>,
    /// The commit, for repository deployments.
    pub commit: Option<String>,
    /// Its replicas.
    pub num_replicas: u32,
    /// Whether `deploymentStop` stopped it.
    pub stopped: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A running Railway fake; stops when dropped.
#[derive(Debug)]
pub struct RailwayFake {
    server: Server,
    world: Shared,
}

impl RailwayFake {
    /// Starts a fake on `127.0.0.1` (an ephemeral port).
    pub async fn start(options: RailwayFakeOptions) -> std::io::Result<Self> {
        let world = Arc::new(Mutex::new(World::new(options)));
        let server = Server::start(|instruments| routes::router(world.clone(), instruments)).await?;
        Ok(Self { server, world })
    }

    /// The GraphQL endpoint: `http://127.0.0.1:PORT/graphql/v2`.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql/v2", self.server.base_url())
    }

    /// A 5xx with a GraphQL error body (answered instead of acting: nothing happens).
    pub fn server_error(status: u16) -> Fault {
        Fault::Status { status, body: routes::errors("Internal Server Error") }
    }

    /// The operation names of the requests received, in order (`?` for a body without one).
    pub fn operations(&self) -> Vec<String> {
        self.recorder()
            .requests()
            .iter()
            .map(|r| r.json()["operationName"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// The requests for `operation`, with the status each got.
    pub fn requests_for(&self, operation: &str) -> Vec<crate::RecordedRequest> {
        self.recorder().requests().into_iter().filter(|r| r.json()["operationName"] == operation).collect()
    }

    /// Every deployment, oldest first.
    pub fn deployments(&self) -> Vec<DeploymentView> {
        lock(&self.world).deployments.iter().map(model::Deployment::view).collect()
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Option<DeploymentView> {
        lock(&self.world).deployment(id).map(model::Deployment::view)
    }

    /// The deployment serving `service` in `environment` (`SUCCESS`, not stopped), if any.
    pub fn active(&self, service: &str, environment: &str) -> Option<DeploymentView> {
        let world = lock(&self.world);
        world
            .deployments
            .iter()
            .rev()
            .find(|d| d.service_id == service && d.environment_id == environment && d.serving())
            .map(model::Deployment::view)
    }

    /// The service instance's source image and `numReplicas`.
    pub fn service_instance(&self, service: &str, environment: &str) -> Option<(Option<String>, u32)> {
        lock(&self.world).instance(service, environment).map(|i| (i.image.clone(), i.num_replicas))
    }

    /// Advances every deployment in progress by `steps` statuses, as polls would.
    pub fn tick(&self, steps: u32) {
        lock(&self.world).tick(steps);
    }

    /// Sets how many statuses each poll advances (0 freezes every deployment).
    pub fn set_ticks_per_poll(&self, steps: u32) {
        lock(&self.world).ticks_per_poll = steps;
    }

    /// The next `count` deployment-creating mutations (`serviceInstanceDeployV2`,
    /// `deploymentRollback`, `deploymentRedeploy`) act and then answer HTTP 500: an outcome the
    /// client cannot know.
    pub fn fail_after_acting(&self, count: u32) {
        lock(&self.world).fail_after_acting = count;
    }

    /// The next `count` requests for `operation` get HTTP 429 with `Retry-After: seconds` (and
    /// the rate-limit headers), unprocessed.
    pub fn throttle(&self, operation: &str, count: usize, retry_after_seconds: u64) {
        let mut world = lock(&self.world);
        for _ in 0..count {
            world.throttles.push((operation.to_owned(), retry_after_seconds));
        }
    }

    /// The next `count` requests for `operation` get HTTP `status` (a 5xx) without being
    /// processed.
    pub fn fail_operation(&self, operation: &str, count: usize, status: u16) {
        let mut world = lock(&self.world);
        for _ in 0..count {
            world.failures.push((operation.to_owned(), status));
        }
    }

    /// Uses up the current rate-limit window, so the next request gets a real 429.
    pub fn exhaust_rate_limit(&self) {
        let mut world = lock(&self.world);
        world.rate.1 = world.options.rate_limit;
    }

    /// Marks a deployment's image as past retention: `canRollback` becomes false.
    pub fn expire(&self, id: &str) {
        if let Some(d) = lock(&self.world).deployment_mut(id) {
            d.retained = false;
        }
    }

    /// Appends a deploy log line (`severity`: `info`, `error`, …) to a deployment, as its
    /// running container would write it.
    pub fn push_log(&self, deployment: &str, severity: &'static str, message: &str) {
        let mut world = lock(&self.world);
        let at = world.now();
        if let Some(d) = world.deployment_mut(deployment) {
            d.deploy_logs.push(model::Log { at, message: message.to_owned(), severity });
        }
    }
}

crate::common::server::deref_to_server!(RailwayFake);

//! The Railway GraphQL calls the adapter makes, through the shared [`HttpClient`]: one POST per
//! operation, GraphQL errors (which arrive with HTTP 200) told apart from HTTP failures, and the
//! parts of Railway's shapes the adapter reads.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ops::{self, Op};
use crate::PlatformError;
use crate::http::{HttpClient, HttpError};

/// Statuses of a deployment still on its way to an outcome (`NEEDS_APPROVAL` waits for a person).
pub(super) const IN_PROGRESS: [&str; 6] =
    ["INITIALIZING", "QUEUED", "WAITING", "BUILDING", "DEPLOYING", "NEEDS_APPROVAL"];

/// A failed call.
#[derive(Debug, Clone)]
pub(super) enum CallError {
    /// No answer, or an HTTP error status.
    Http(HttpError),
    /// Railway answered with GraphQL errors: it refused, definitely.
    Graphql { operation: &'static str, message: String },
}

impl CallError {
    /// Whether the call may have acted without saying so (a timeout, a 5xx, a lost connection).
    pub(super) fn outcome_unknown(&self) -> bool {
        matches!(self, CallError::Http(e) if e.status.is_none_or(|s| s >= 500))
    }

    /// Whether Railway said the thing does not exist.
    pub(super) fn not_found(&self) -> bool {
        matches!(self, CallError::Graphql { message, .. } if message.to_lowercase().contains("not found"))
    }

    /// Whether Railway refused the token.
    pub(super) fn unauthorized(&self) -> bool {
        let message = match self {
            CallError::Http(e) => &e.message,
            CallError::Graphql { message, .. } => message,
        };
        let lower = message.to_lowercase();
        lower.contains("not authorized")
            || lower.contains("project token not found")
            || matches!(self, CallError::Http(e) if e.is(401) || e.is(403))
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Http(e) => write!(f, "Railway {e}"),
            CallError::Graphql { operation, message } => write!(f, "Railway {operation}: {message}"),
        }
    }
}

/// `errors[0].message` of a GraphQL error body.
pub(super) fn message_of(body: &Value) -> Option<String> {
    body.get("errors")?.get(0)?.get("message")?.as_str().map(str::to_owned)
}

/// A deployment, the fields read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) status: String,
    #[serde(default)]
    pub(super) created_at: Option<String>,
    #[serde(default, rename = "deploymentStopped")]
    pub(super) stopped: Option<bool>,
    #[serde(default)]
    pub(super) can_rollback: Option<bool>,
    #[serde(default)]
    pub(super) static_url: Option<String>,
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) meta: Option<Value>,
}

impl Deployment {
    fn meta(&self, key: &str) -> Option<&str> {
        self.meta.as_ref()?.get(key)?.as_str()
    }

    /// The image it runs (`meta.image`).
    pub(super) fn image(&self) -> Option<&str> {
        self.meta("image")
    }

    /// The commit it was built from (`meta.commitHash`).
    pub(super) fn commit(&self) -> Option<&str> {
        self.meta("commitHash")
    }

    /// Why it was made: `deploy`, `rollback`, `redeploy` (`meta.reason`).
    pub(super) fn reason(&self) -> Option<&str> {
        self.meta("reason")
    }

    /// Live: `SUCCESS` (or `SLEEPING`) and not stopped.
    pub(super) fn serving(&self) -> bool {
        matches!(self.status.as_str(), "SUCCESS" | "SLEEPING") && self.stopped != Some(true)
    }

    pub(super) fn in_progress(&self) -> bool {
        IN_PROGRESS.contains(&self.status.as_str())
    }
}

/// A `deployments` connection.
#[derive(Debug, Deserialize)]
struct Connection {
    edges: Vec<Edge>,
}

/// One edge of a connection.
#[derive(Debug, Deserialize)]
struct Edge {
    node: Deployment,
}

/// A service instance, the fields read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceInstance {
    #[serde(default)]
    pub(super) num_replicas: Option<u32>,
    #[serde(default)]
    pub(super) source: Option<Source>,
}

/// `ServiceInstance.source`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Source {
    #[serde(default)]
    pub(super) image: Option<String>,
    #[serde(default)]
    pub(super) repo: Option<String>,
}

/// One log line.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Log {
    pub(super) timestamp: String,
    pub(super) message: String,
    #[serde(default)]
    pub(super) severity: Option<String>,
}

/// The calls on one service instance.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) http: HttpClient,
    pub(super) project_id: String,
    pub(super) environment_id: String,
    pub(super) service_id: String,
}

impl std::fmt::Debug for Api {
    /// Never shows the project token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("http", &self.http)
            .field("service_id", &self.service_id)
            .field("environment_id", &self.environment_id)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Runs `op` with `variables`; returns its root field's value.
    pub(super) async fn run(&self, op: Op, variables: Value) -> Result<Value, CallError> {
        let body = json!({ "query": op.document, "variables": variables, "operationName": op.name });
        let reply =
            self.http.call(Method::POST, "", Some(&body), &[], op.retry).await.map_err(|e| {
                CallError::Http(HttpError { call: format!("{} ({})", op.name, e.call.trim_end()), ..e })
            })?;
        if let Some(message) = message_of(&reply.body) {
            return Err(CallError::Graphql { operation: op.name, message });
        }
        match reply.body.get("data").and_then(|d| d.get(op.field)) {
            Some(value) => Ok(value.clone()),
            None => Err(CallError::Graphql { operation: op.name, message: "the answer has no data".to_owned() }),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(op: Op, value: Value) -> Result<T, CallError> {
        serde_json::from_value(value)
            .map_err(|e| CallError::Graphql { operation: op.name, message: format!("unexpected answer: {e}") })
    }

    pub(super) async fn service_instance(&self) -> Result<ServiceInstance, CallError> {
        let vars = json!({ "environmentId": self.environment_id, "serviceId": self.service_id });
        Self::read(ops::SERVICE_INSTANCE, self.run(ops::SERVICE_INSTANCE, vars).await?)
    }

    pub(super) async fn deployment(&self, id: &str) -> Result<Deployment, CallError> {
        Self::read(ops::DEPLOYMENT, self.run(ops::DEPLOYMENT, json!({ "id": id })).await?)
    }

    /// The service instance's newest deployments (newest first), those with one of `statuses`
    /// when any are given.
    pub(super) async fn deployments(&self, statuses: &[&str], first: u32) -> Result<Vec<Deployment>, CallError> {
        let mut input = json!({
            "projectId": self.project_id, "serviceId": self.service_id, "environmentId": self.environment_id,
        });
        if !statuses.is_empty() {
            input["status"] = json!({ "in": statuses });
        }
        let value = self.run(ops::DEPLOYMENTS, json!({ "input": input, "first": first })).await?;
        let connection: Connection = Self::read(ops::DEPLOYMENTS, value)?;
        Ok(connection.edges.into_iter().map(|e| e.node).collect())
    }

    /// The deployment serving now, if any.
    pub(super) async fn active(&self) -> Result<Option<Deployment>, CallError> {
        Ok(self.deployments(&["SUCCESS", "SLEEPING"], 5).await?.into_iter().find(Deployment::serving))
    }

    /// `serviceInstanceUpdate` with `input` (a state: idempotent).
    pub(super) async fn update(&self, input: Value) -> Result<(), CallError> {
        let vars = json!({ "serviceId": self.service_id, "environmentId": self.environment_id, "input": input });
        self.run(ops::UPDATE, vars).await.map(drop)
    }

    /// `serviceInstanceDeployV2`, sent once; the new deployment's id.
    pub(super) async fn deploy(&self, commit: Option<&str>) -> Result<String, CallError> {
        let vars = json!({ "serviceId": self.service_id, "environmentId": self.environment_id, "commitSha": commit });
        Self::read(ops::DEPLOY, self.run(ops::DEPLOY, vars).await?)
    }

    /// `deploymentRollback`, sent once (a Boolean: the new deployment must be looked up).
    pub(super) async fn rollback(&self, id: &str) -> Result<(), CallError> {
        self.run(ops::ROLLBACK, json!({ "id": id })).await.map(drop)
    }

    pub(super) async fn cancel(&self, id: &str) -> Result<(), CallError> {
        self.run(ops::CANCEL, json!({ "id": id })).await.map(drop)
    }

    pub(super) async fn remove(&self, id: &str) -> Result<(), CallError> {
        self.run(ops::REMOVE, json!({ "id": id })).await.map(drop)
    }

    /// Build or deploy log lines of a deployment from `start` on (the newest when `None`).
    pub(super) async fn logs(&self, op: Op, id: &str, start: Option<&str>, limit: u32) -> Result<Vec<Log>, CallError> {
        let value = self.run(op, json!({ "deploymentId": id, "startDate": start, "limit": limit })).await?;
        Self::read(op, value)
    }
}

/// A call error as a platform error: "token rejected" when Railway refused the token, and the
/// token itself never shown (a provider could echo it).
pub(super) fn platform_error(e: &CallError, token: &str) -> PlatformError {
    let text = if e.unauthorized() { format!("Railway: token rejected ({e})") } else { e.to_string() };
    PlatformError::new(if token.len() >= 4 { text.replace(token, "***") } else { text })
}

impl crate::swap::Listed for Deployment {
    fn id(&self) -> &str {
        &self.id
    }

    fn created_at(&self) -> Option<&str> {
        self.created_at.as_deref()
    }
}

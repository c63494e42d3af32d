//! The Render REST API v1 calls the adapter makes, through the shared [`HttpClient`], and the
//! parts of Render's JSON shapes it reads (services, deploys, log pages).

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::http::{HttpClient, HttpError, Reply, Retry};

/// Deploy statuses that are still going somewhere (`queued` included).
pub(super) const IN_PROGRESS: [&str; 5] =
    ["created", "queued", "build_in_progress", "update_in_progress", "pre_deploy_in_progress"];

/// `GET /v1/services/{id}`, the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Service {
    /// `tea-…` or `usr-…`.
    #[serde(default)]
    pub(super) owner_id: Option<String>,
    /// Set for image-backed services.
    #[serde(default)]
    pub(super) image_path: Option<String>,
    /// Set for git-backed services.
    #[serde(default)]
    pub(super) repo: Option<String>,
    /// `suspended` or `not_suspended`.
    #[serde(default)]
    pub(super) suspended: Option<String>,
    #[serde(default, rename = "serviceDetails")]
    pub(super) details: ServiceDetails,
}

impl Service {
    pub(super) fn is_suspended(&self) -> bool {
        self.suspended.as_deref() == Some("suspended")
    }
}

/// `serviceDetails` of a web service, the fields used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceDetails {
    #[serde(default)]
    pub(super) num_instances: Option<u32>,
    #[serde(default)]
    pub(super) url: Option<String>,
}

/// A `Deploy`, the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deploy {
    pub(super) id: String,
    pub(super) status: String,
    #[serde(default)]
    pub(super) trigger: Option<String>,
    #[serde(default)]
    pub(super) image: Option<DeployImage>,
    #[serde(default)]
    pub(super) commit: Option<DeployCommit>,
    #[serde(default)]
    pub(super) created_at: Option<String>,
}

impl Deploy {
    pub(super) fn image_ref(&self) -> Option<&str> {
        self.image.as_ref().and_then(|i| i.reference.as_deref())
    }

    pub(super) fn commit_id(&self) -> Option<&str> {
        self.commit.as_ref().and_then(|c| c.id.as_deref())
    }
}

/// `Deploy.image`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DeployImage {
    #[serde(rename = "ref", default)]
    pub(super) reference: Option<String>,
}

/// `Deploy.commit`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DeployCommit {
    #[serde(default)]
    pub(super) id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DeployWithCursor {
    deploy: Deploy,
}

/// One page of `GET /v1/logs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogsPage {
    #[serde(default)]
    pub(super) has_more: bool,
    #[serde(default)]
    pub(super) next_start_time: Option<String>,
    #[serde(default)]
    pub(super) logs: Vec<LogEntry>,
}

/// One log line.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct LogEntry {
    #[serde(default)]
    pub(super) id: String,
    #[serde(default)]
    pub(super) timestamp: String,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) labels: Vec<Label>,
}

impl LogEntry {
    pub(super) fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|l| l.name == name).map(|l| l.value.as_str())
    }
}

/// A log label.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Label {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

/// Render's message from an error body (`{"id", "message"}`), with the error id when given.
pub(super) fn message_of(body: &Value) -> Option<String> {
    let message = body.get("message")?.as_str()?;
    Some(match body.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => format!("{message} (error id {id})"),
        _ => message.to_owned(),
    })
}

/// The calls on one service.
#[derive(Debug, Clone)]
pub(super) struct Api {
    pub(super) http: HttpClient,
    pub(super) service_id: String,
}

impl Api {
    fn service_path(&self) -> String {
        format!("/v1/services/{}", self.service_id)
    }

    pub(super) async fn service(&self) -> Result<Service, HttpError> {
        self.http.get(&self.service_path()).await
    }

    pub(super) async fn deploy(&self, id: &str) -> Result<Deploy, HttpError> {
        self.http.get(&format!("{}/deploys/{id}", self.service_path())).await
    }

    /// The service's most recent deploys (newest first), those with one of `statuses` when any.
    pub(super) async fn deploys(&self, statuses: &[&str], limit: usize) -> Result<Vec<Deploy>, HttpError> {
        let query = deploys_query(statuses, limit);
        let page: Vec<DeployWithCursor> = self.http.get(&format!("{}/deploys?{query}", self.service_path())).await?;
        Ok(page.into_iter().map(|d| d.deploy).collect())
    }

    /// The live deploy, if any.
    pub(super) async fn live_deploy(&self) -> Result<Option<Deploy>, HttpError> {
        Ok(self.deploys(&["live"], 1).await?.into_iter().next())
    }

    /// A deploy-creating POST (`deploys` or `rollback`), made once: it is not idempotent.
    pub(super) async fn create(&self, what: &str, body: &Value) -> Result<Reply, HttpError> {
        self.http.call(Method::POST, &format!("{}/{what}", self.service_path()), Some(body), &[], Retry::Never).await
    }

    /// Cancels a deploy in progress (repeating it is harmless: the second gets 409).
    pub(super) async fn cancel(&self, id: &str) -> Result<(), HttpError> {
        let path = format!("{}/deploys/{id}/cancel", self.service_path());
        self.http.call(Method::POST, &path, None, &[], Retry::Idempotent).await.map(drop)
    }

    /// Sets the instance count (a full state: idempotent).
    pub(super) async fn scale(&self, instances: usize) -> Result<(), HttpError> {
        let body = serde_json::json!({ "numInstances": instances });
        let path = format!("{}/scale", self.service_path());
        self.http.call(Method::POST, &path, Some(&body), &[], Retry::Idempotent).await.map(drop)
    }

    /// `POST …/suspend` or `…/resume` (a state, not an increment: idempotent).
    pub(super) async fn set_suspended(&self, suspended: bool) -> Result<(), HttpError> {
        let verb = if suspended { "suspend" } else { "resume" };
        let path = format!("{}/{verb}", self.service_path());
        self.http.call(Method::POST, &path, None, &[], Retry::Idempotent).await.map(drop)
    }

    /// One page of the service's app and build lines in `[start, end]`, oldest first (from
    /// Render's default start when `start` is `None`).
    pub(super) async fn logs(
        &self,
        owner: &str,
        start: Option<&str>,
        end: &str,
        limit: u32,
    ) -> Result<LogsPage, HttpError> {
        let query = logs_query(owner, &self.service_id, start, end, limit);
        self.http.get(&format!("/v1/logs?{query}")).await
    }
}

/// `status=…&status=…&limit=…` (built apart: the serializer cannot be held across an await).
fn deploys_query(statuses: &[&str], limit: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for status in statuses {
        query.append_pair("status", status);
    }
    query.append_pair("limit", &limit.to_string()).finish()
}

/// The query of `GET /v1/logs` for one service's app and build lines, oldest first.
fn logs_query(owner: &str, service: &str, start: Option<&str>, end: &str, limit: u32) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("ownerId", owner)
        .append_pair("resource", service)
        .append_pair("type", "app")
        .append_pair("type", "build");
    if let Some(start) = start {
        query.append_pair("startTime", start);
    }
    query.append_pair("endTime", end).append_pair("direction", "forward").append_pair("limit", &limit.to_string());
    query.finish()
}

impl crate::swap::Listed for Deploy {
    fn id(&self) -> &str {
        &self.id
    }

    fn created_at(&self) -> Option<&str> {
        self.created_at.as_deref()
    }
}

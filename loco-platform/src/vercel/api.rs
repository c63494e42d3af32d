//! The Vercel REST calls the adapter makes, through the shared [`HttpClient`] (every path gets
//! the team scope), and the parts of Vercel's JSON shapes it reads.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{HttpClient, HttpError, Retry};

/// `readyState`s still going somewhere.
pub(super) const BUILDING: [&str; 4] = ["QUEUED", "INITIALIZING", "BUILDING", "BLOCKED"];

/// A project, the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Project {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) link: Option<Link>,
    #[serde(default)]
    pub(super) targets: Targets,
    #[serde(default)]
    pub(super) last_alias_request: Option<AliasRequest>,
}

/// `link`: the git repository a project builds from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Link {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) org: Option<String>,
    #[serde(default)]
    pub(super) repo: Option<String>,
    #[serde(default)]
    pub(super) project_id: Option<Value>,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) slug: Option<String>,
    #[serde(default)]
    pub(super) production_branch: Option<String>,
}

/// `targets`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Targets {
    #[serde(default)]
    pub(super) production: Option<Summary>,
}

/// A deployment as projects and rolling releases show it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary {
    pub(super) id: String,
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) alias: Vec<String>,
    #[serde(default)]
    pub(super) meta: BTreeMap<String, Value>,
}

/// `lastAliasRequest`: the latest promote or rollback.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AliasRequest {
    pub(super) to_deployment_id: String,
    pub(super) job_status: String,
}

/// A deployment (`GET /v13/deployments/{id}`, or a list item: `uid`, `state`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deployment {
    #[serde(alias = "uid")]
    pub(super) id: String,
    /// `readyState` (list items may carry only `state`: see [`Api::recent`]).
    #[serde(default)]
    pub(super) ready_state: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    pub(super) ready_substate: Option<String>,
    #[serde(default)]
    pub(super) error_code: Option<String>,
    #[serde(default)]
    pub(super) error_message: Option<String>,
    #[serde(default)]
    pub(super) meta: BTreeMap<String, Value>,
}

impl Deployment {
    pub(super) fn meta(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(Value::as_str)
    }
}

#[derive(Debug, Deserialize)]
struct DeploymentList {
    #[serde(default)]
    deployments: Vec<Deployment>,
}

/// A rolling release, the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RollingRelease {
    pub(super) state: String,
    #[serde(default)]
    pub(super) current_deployment: Option<Summary>,
    #[serde(default)]
    pub(super) canary_deployment: Option<Summary>,
    #[serde(default)]
    pub(super) stages: Vec<Stage>,
    #[serde(default)]
    pub(super) active_stage: Option<Stage>,
    #[serde(default)]
    pub(super) current_canary_percentage: Option<u8>,
}

/// A stage of a rolling release.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stage {
    pub(super) index: usize,
    pub(super) target_percentage: u8,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RollingReleaseReply {
    #[serde(default)]
    rolling_release: Option<RollingRelease>,
}

/// One build event.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Event {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) created: i64,
    #[serde(default)]
    pub(super) payload: Option<EventPayload>,
    #[serde(default)]
    pub(super) text: Option<String>,
}

/// An event's `payload`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct EventPayload {
    #[serde(default)]
    pub(super) text: Option<String>,
}

/// Vercel's message from an error body (`{"error":{"code","message"}}`), with its code.
pub(super) fn message_of(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
    Some(match error.get("code").and_then(Value::as_str) {
        Some(code) => format!("{message} ({code})"),
        None => message.to_owned(),
    })
}

/// The calls on one project.
#[derive(Debug, Clone)]
pub(super) struct Api {
    pub(super) http: HttpClient,
    pub(super) project_id: String,
    pub(super) team_id: Option<String>,
}

impl Api {
    /// `path` with the team scope added to its query.
    fn scoped(&self, path: &str) -> String {
        match &self.team_id {
            Some(team) => {
                let glue = if path.contains('?') { '&' } else { '?' };
                format!("{path}{glue}teamId={}", form_urlencoded::byte_serialize(team.as_bytes()).collect::<String>())
            }
            None => path.to_owned(),
        }
    }

    fn project_path(&self, rest: &str) -> String {
        self.scoped(&format!("/v1/projects/{}{rest}", self.project_id))
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>, retry: Retry) -> Result<Value, HttpError> {
        Ok(self.http.call(method, path, body, &[], retry).await?.body)
    }

    pub(super) async fn project(&self) -> Result<Project, HttpError> {
        self.http.get(&self.scoped(&format!("/v9/projects/{}", self.project_id))).await
    }

    pub(super) async fn deployment(&self, id: &str) -> Result<Deployment, HttpError> {
        self.http.get(&self.scoped(&format!("/v13/deployments/{id}"))).await
    }

    /// The project's most recent production deployments, newest first.
    pub(super) async fn recent(&self, limit: usize) -> Result<Vec<Deployment>, HttpError> {
        let path = format!("/v6/deployments?projectId={}&target=production&limit={limit}", self.project_id);
        let list: DeploymentList = self.http.get(&self.scoped(&path)).await?;
        Ok(list
            .deployments
            .into_iter()
            .map(|mut d| {
                if d.ready_state.is_empty() {
                    d.ready_state = d.state.take().unwrap_or_default();
                }
                d
            })
            .collect())
    }

    /// `POST /v13/deployments`, sent once: it is not idempotent.
    pub(super) async fn create(&self, body: &Value) -> Result<Deployment, HttpError> {
        let reply =
            self.http.call(Method::POST, &self.scoped("/v13/deployments"), Some(body), &[], Retry::Never).await?;
        reply.json("POST /v13/deployments")
    }

    pub(super) async fn cancel(&self, id: &str) -> Result<(), HttpError> {
        let path = self.scoped(&format!("/v12/deployments/{id}/cancel"));
        self.send(Method::PATCH, &path, None, Retry::Idempotent).await.map(drop)
    }

    /// Build events after `since` (ms), oldest first.
    pub(super) async fn events(&self, id: &str, since: Option<i64>) -> Result<Vec<Event>, HttpError> {
        let since = since.map(|s| format!("&since={s}")).unwrap_or_default();
        let path = format!("/v3/deployments/{id}/events?direction=forward&limit=-1&builds=1{since}");
        self.http.get(&self.scoped(&path)).await
    }

    /// `POST /v10/projects/{id}/promote/{dpl}` (201 or 202, empty), sent once.
    pub(super) async fn promote(&self, id: &str) -> Result<(), HttpError> {
        let path = self.scoped(&format!("/v10/projects/{}/promote/{id}", self.project_id));
        self.send(Method::POST, &path, Some(&json!({})), Retry::Never).await.map(drop)
    }

    /// Instant rollback `POST /v1/projects/{id}/rollback/{dpl}` (201, empty), sent once.
    pub(super) async fn rollback(&self, id: &str) -> Result<(), HttpError> {
        let path = self.project_path(&format!("/rollback/{id}"));
        self.send(Method::POST, &path, Some(&json!({})), Retry::Never).await.map(drop)
    }

    /// Sets the rolling-release stages, manual approval (a full state: idempotent).
    pub(super) async fn configure(&self, stages: &[u8]) -> Result<(), HttpError> {
        let stages: Vec<Value> = stages.iter().map(|p| json!({ "targetPercentage": p })).collect();
        let body = json!({ "enabled": true, "advancementType": "manual-approval", "stages": stages });
        let path = self.project_path("/rolling-release/config");
        self.send(Method::PATCH, &path, Some(&body), Retry::Idempotent).await.map(drop)
    }

    /// Turns rolling releases off.
    pub(super) async fn disable_rolling(&self) -> Result<(), HttpError> {
        self.send(Method::DELETE, &self.project_path("/rolling-release/config"), None, Retry::Idempotent)
            .await
            .map(drop)
    }

    /// The active rolling release, if any.
    pub(super) async fn rolling_release(&self) -> Result<Option<RollingRelease>, HttpError> {
        let reply: RollingReleaseReply = self.http.get(&self.project_path("/rolling-release")).await?;
        Ok(reply.rolling_release.filter(|r| r.state == "ACTIVE"))
    }

    /// `POST …/rolling-release/{verb}` (`start`, `approve-stage`, `complete`), sent once.
    pub(super) async fn rolling(&self, verb: &str, body: &Value) -> Result<(), HttpError> {
        let path = self.project_path(&format!("/rolling-release/{verb}"));
        self.send(Method::POST, &path, Some(body), Retry::Never).await.map(drop)
    }
}

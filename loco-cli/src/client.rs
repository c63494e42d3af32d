//! A typed HTTP client for the Loco API (`loco serve`), used by the CLI's `--server` mode and
//! usable from any Rust program.
//!
//! ```no_run
//! # async fn run() -> Result<(), loco_cli::client::ClientError> {
//! let client = loco_cli::client::Client::new("http://127.0.0.1:8080")?;
//! let page = client.list(&loco_cli::wire::ListParams::default()).await?;
//! println!("{} deployments", page.items.len());
//! # Ok(())
//! # }
//! ```

use std::marker::PhantomData;

use loco_core::Action;
use loco_core::analysis::Thresholds;
use loco_core::rollout::{RolloutPlan, ValidationReport};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use loco_core::Timestamp;
use loco_core::freeze::FreezeWindow;
use loco_core::gate::{ApprovalGate, ApprovalStatus, ReviewerGroup};
use loco_core::identity::Token;
use loco_core::lock::DeployLock;
use loco_core::manifest::ManifestRecord;
use loco_core::pipeline::{Pipeline, PipelineView};
use loco_core::platform_config::{NewPlatform, PlatformConfig};
use loco_core::schedule::{ScheduleRequest, ScheduledStart};
use loco_core::service::ServiceDefinition;

use crate::wire::{
    ActionRequest, AuditHead, AuditReport, CreateDeployment, CreateToken, CreatedToken, Deployment, DeploymentPage,
    ErrorBody, Event, EventList, FreezeCheck, FreezeList, GateList, GroupList, HeadParams, ListParams, LockList,
    LockRelease, LogLine, ManifestList, ManifestText, PipelineList, PlatformList, PlatformTest, PromoteRequest,
    ReleaseList, ReleaseParams, RollbackTo, Rollout, RolloutList, ScheduleList, ServiceList, StartRollout, TokenList,
    ValidatePlan, WhoAmI,
};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an API error (the body's `code`, `message` and `details`).
    #[error("{}", .body.error.message)]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The decoded error body.
        body: ErrorBody,
    },
    /// The server could not be reached (refused, reset, timed out).
    #[error("cannot reach the server at {url}: {source}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server answered something that is not the API's JSON.
    #[error("unexpected response from the server ({status}): {detail}")]
    Unexpected {
        /// The HTTP status.
        status: StatusCode,
        /// What was wrong with it.
        detail: String,
    },
    /// The server URL is not usable.
    #[error("invalid server URL '{url}': {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
}

/// A client bound to one server's base URL. Cheap to clone (connections are pooled).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// How a [`Client`] authenticates and which certificates it trusts.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The API token sent as `Authorization: Bearer` (from `--token` or `LOCO_TOKEN`).
    pub token: Option<String>,
    /// A PEM certificate to trust besides the system's (a self-signed server's, or its CA).
    pub ca_cert: Option<std::path::PathBuf>,
}

impl Client {
    /// A client for the server at `base_url` (for example `http://127.0.0.1:8080`), without a
    /// token.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::with_options(base_url, &ClientOptions::default())
    }

    /// A client for the server at `base_url` (`http://` or `https://`) with `options`.
    pub fn with_options(base_url: &str, options: &ClientOptions) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl { url: base_url.to_owned(), reason };
        let base = base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("only http:// and https:// are supported".into()));
        }
        let mut builder = reqwest::Client::builder().tcp_nodelay(true);
        if let Some(token) = &options.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                .map_err(|_| bad("the token is not printable ASCII".into()))?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        if let Some(path) = &options.ca_cert {
            let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| bad(format!("{} holds no usable certificate: {e}", path.display())))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Self { http, base })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        Ok(self.send_with_status(request).await?.1)
    }

    /// [`send`](Self::send), keeping the success status (201 and 200 can mean different things).
    async fn send_with_status<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, T), ClientError> {
        let response =
            request.send().await.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unexpected { status, detail: format!("body could not be read: {e}") })?;
        if status.is_success() {
            serde_json::from_slice(&bytes)
                .map(|body| (status, body))
                .map_err(|e| ClientError::Unexpected { status, detail: format!("body is not the expected JSON: {e}") })
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(ClientError::Api { status, body }),
                Err(_) => Err(ClientError::Unexpected { status, detail: String::from_utf8_lossy(&bytes).into_owned() }),
            }
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// `POST /api/v1/deployments`.
    pub async fn create(
        &self,
        body: &CreateDeployment,
        idempotency_key: Option<&str>,
    ) -> Result<Deployment, ClientError> {
        let mut request = self.request(Method::POST, "/api/v1/deployments").json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    /// `POST /api/v1/deployments/{id}/{action}`.
    pub async fn act(&self, id: &str, action: Action, body: &ActionRequest) -> Result<Deployment, ClientError> {
        self.post(&format!("/api/v1/deployments/{}/{action}", encode_segment(id)), body).await
    }

    /// `GET /api/v1/deployments/{id}`.
    pub async fn get(&self, id: &str) -> Result<Deployment, ClientError> {
        self.send(self.request(Method::GET, &format!("/api/v1/deployments/{}", encode_segment(id)))).await
    }

    /// `GET /api/v1/deployments?…`: one page.
    pub async fn list(&self, params: &ListParams) -> Result<DeploymentPage, ClientError> {
        let query = serde_urlencoded::to_string(params)
            .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
        let path =
            if query.is_empty() { "/api/v1/deployments".to_owned() } else { format!("/api/v1/deployments?{query}") };
        self.send(self.request(Method::GET, &path)).await
    }

    /// `GET /api/v1/deployments/{id}/events`.
    pub async fn events(&self, id: &str) -> Result<EventList, ClientError> {
        self.send(self.request(Method::GET, &format!("/api/v1/deployments/{}/events", encode_segment(id)))).await
    }

    /// `GET /api/v1/deployments/{id}/events/stream` (or `GET /api/v1/events` without an id):
    /// committed events as they happen, starting after `after` when given.
    pub async fn follow(&self, id: Option<&str>, after: Option<i64>) -> Result<EventStream, ClientError> {
        let path = match id {
            Some(id) => format!("/api/v1/deployments/{}/events/stream", encode_segment(id)),
            None => "/api/v1/events".to_owned(),
        };
        let mut request = self.request(Method::GET, &path);
        if let Some(after) = after {
            request = request.header("Last-Event-ID", after.to_string());
        }
        self.stream(request).await
    }

    /// `POST /api/v1/deployments/{id}/rollout`: starts the rollout on the server, which runs it.
    pub async fn start_rollout(&self, id: &str, body: &StartRollout) -> Result<Rollout, ClientError> {
        self.post(&format!("/api/v1/deployments/{}/rollout", encode_segment(id)), body).await
    }

    /// `POST /api/v1/validate`.
    pub async fn validate_plan(&self, body: &ValidatePlan) -> Result<ValidationReport, ClientError> {
        self.post("/api/v1/validate", body).await
    }

    /// `GET /api/v1/deployments/{id}/rollout`.
    pub async fn rollout(&self, id: &str) -> Result<Rollout, ClientError> {
        self.send(self.request(Method::GET, &format!("/api/v1/deployments/{}/rollout", encode_segment(id)))).await
    }

    /// `POST /api/v1/deployments/{id}/rollout/override`.
    pub async fn override_rollout(&self, id: &str, body: &ActionRequest) -> Result<Rollout, ClientError> {
        self.post(&format!("/api/v1/deployments/{}/rollout/override", encode_segment(id)), body).await
    }

    /// `GET /api/v1/rollouts`, optionally only the active ones.
    pub async fn rollouts(&self, active_only: bool) -> Result<RolloutList, ClientError> {
        let path = if active_only { "/api/v1/rollouts?active=true" } else { "/api/v1/rollouts" };
        self.send(self.request(Method::GET, path)).await
    }

    /// `GET /api/v1/releases?service=&environment=&limit=`.
    pub async fn releases(&self, params: &ReleaseParams) -> Result<ReleaseList, ClientError> {
        let query = serde_urlencoded::to_string(params)
            .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
        self.send(self.request(Method::GET, &format!("/api/v1/releases?{query}"))).await
    }

    /// `GET /api/v1/thresholds`.
    pub async fn thresholds(&self) -> Result<std::collections::BTreeMap<String, Thresholds>, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/thresholds")).await
    }

    /// `PUT /api/v1/thresholds/{environment}`.
    pub async fn put_thresholds(&self, environment: &str, thresholds: &Thresholds) -> Result<Thresholds, ClientError> {
        let path = format!("/api/v1/thresholds/{}", encode_segment(environment));
        self.send(self.request(Method::PUT, &path).json(thresholds)).await
    }

    /// `POST /api/v1/releases/rollback`.
    pub async fn rollback_to(&self, body: &RollbackTo) -> Result<Rollout, ClientError> {
        self.post("/api/v1/releases/rollback", body).await
    }

    /// `GET /api/v1/deployments/{id}/rollout/instances/{instance_id}/logs`: the instance's recent
    /// output lines, then new ones until it stops.
    pub async fn logs(&self, id: &str, instance_id: &str) -> Result<LogStream, ClientError> {
        let path = format!(
            "/api/v1/deployments/{}/rollout/instances/{}/logs",
            encode_segment(id),
            encode_segment(instance_id)
        );
        self.stream(self.request(Method::GET, &path)).await
    }

    async fn stream<T>(&self, request: RequestBuilder) -> Result<SseStream<T>, ClientError> {
        let response =
            request.send().await.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ClientError::Api { status, body },
                Err(_) => ClientError::Unexpected { status, detail: String::from_utf8_lossy(&bytes).into_owned() },
            });
        }
        Ok(SseStream { response, buffer: Vec::new(), item: PhantomData })
    }

    /// `GET /api/v1/audit/verify`.
    pub async fn verify_audit(&self) -> Result<AuditReport, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/audit/verify")).await
    }

    /// `GET /api/v1/audit/verify?seq=&hash=&hmac=&at=`: also checks that the chain still contains
    /// an exported head.
    pub async fn verify_audit_against(&self, head: &AuditHead) -> Result<AuditReport, ClientError> {
        let query = serde_urlencoded::to_string(HeadParams::of(head))
            .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
        self.send(self.request(Method::GET, &format!("/api/v1/audit/verify?{query}"))).await
    }

    /// `GET /api/v1/audit/head`.
    pub async fn audit_head(&self) -> Result<AuditHead, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/audit/head")).await
    }

    /// `POST /api/v1/tokens`.
    pub async fn create_token(&self, body: &CreateToken) -> Result<CreatedToken, ClientError> {
        self.post("/api/v1/tokens", body).await
    }

    /// `GET /api/v1/tokens`.
    pub async fn tokens(&self) -> Result<TokenList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/tokens")).await
    }

    /// `POST /api/v1/tokens/{id}/revoke`.
    pub async fn revoke_token(&self, id: &str) -> Result<Token, ClientError> {
        self.post(&format!("/api/v1/tokens/{}/revoke", encode_segment(id)), &serde_json::json!({})).await
    }

    /// `GET /api/v1/services`.
    pub async fn services(&self) -> Result<ServiceList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/services")).await
    }

    /// `PUT /api/v1/services/{name}`.
    pub async fn put_service(&self, definition: &ServiceDefinition) -> Result<ServiceDefinition, ClientError> {
        let path = format!("/api/v1/services/{}", encode_segment(&definition.name));
        self.send(self.request(Method::PUT, &path).json(definition)).await
    }

    /// `DELETE /api/v1/services/{name}`.
    pub async fn remove_service(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/services/{}", encode_segment(name));
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/locks`.
    pub async fn locks(&self) -> Result<LockList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/locks")).await
    }

    /// `POST /api/v1/locks/{service}/{environment}/release`.
    pub async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        body: &LockRelease,
    ) -> Result<DeployLock, ClientError> {
        let path = format!("/api/v1/locks/{}/{}/release", encode_segment(service), encode_segment(environment));
        self.send(self.request(Method::POST, &path).json(body)).await
    }

    /// `GET /api/v1/freezes`.
    pub async fn freeze_windows(&self) -> Result<FreezeList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/freezes")).await
    }

    /// `PUT /api/v1/freezes/{name}`.
    pub async fn put_freeze_window(&self, window: &FreezeWindow) -> Result<FreezeWindow, ClientError> {
        let path = format!("/api/v1/freezes/{}", encode_segment(&window.name));
        self.send(self.request(Method::PUT, &path).json(window)).await
    }

    /// `DELETE /api/v1/freezes/{name}`.
    pub async fn remove_freeze_window(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/freezes/{}", encode_segment(name));
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/freezes/active?environment=…&at=…`.
    pub async fn active_freeze(&self, environment: &str, at: Option<Timestamp>) -> Result<FreezeCheck, ClientError> {
        let mut pairs = vec![("environment", environment.to_owned())];
        pairs.extend(at.map(|at| ("at", at.to_string())));
        let query = serde_urlencoded::to_string(pairs)
            .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
        self.send(self.request(Method::GET, &format!("/api/v1/freezes/active?{query}"))).await
    }

    /// `GET /api/v1/gates`.
    pub async fn gates(&self) -> Result<GateList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/gates")).await
    }

    /// `PUT /api/v1/gates/{environment}`.
    pub async fn put_gate(&self, gate: &ApprovalGate) -> Result<ApprovalGate, ClientError> {
        let path = format!("/api/v1/gates/{}", encode_segment(&gate.environment));
        self.send(self.request(Method::PUT, &path).json(gate)).await
    }

    /// `DELETE /api/v1/gates/{environment}[?service=S]`.
    pub async fn remove_gate(&self, environment: &str, service: Option<&str>) -> Result<(), ClientError> {
        let mut path = format!("/api/v1/gates/{}", encode_segment(environment));
        if let Some(service) = service {
            let query = serde_urlencoded::to_string([("service", service)])
                .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
            path = format!("{path}?{query}");
        }
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/schedules`.
    pub async fn schedules(&self) -> Result<ScheduleList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/schedules")).await
    }

    /// `PUT /api/v1/deployments/{id}/schedule`.
    pub async fn put_schedule(&self, id: &str, request: &ScheduleRequest) -> Result<ScheduledStart, ClientError> {
        let path = format!("/api/v1/deployments/{}/schedule", encode_segment(id));
        self.send(self.request(Method::PUT, &path).json(request)).await
    }

    /// `DELETE /api/v1/deployments/{id}/schedule`.
    pub async fn cancel_schedule(&self, id: &str) -> Result<ScheduledStart, ClientError> {
        let path = format!("/api/v1/deployments/{}/schedule", encode_segment(id));
        self.send(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/groups`.
    pub async fn groups(&self) -> Result<GroupList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/groups")).await
    }

    /// `PUT /api/v1/groups/{name}`.
    pub async fn put_group(&self, group: &ReviewerGroup) -> Result<ReviewerGroup, ClientError> {
        let path = format!("/api/v1/groups/{}", encode_segment(&group.name));
        self.send(self.request(Method::PUT, &path).json(group)).await
    }

    /// `DELETE /api/v1/groups/{name}`.
    pub async fn remove_group(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/groups/{}", encode_segment(name));
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/deployments/{id}/approvals?at=…`.
    pub async fn approval_status(&self, id: &str, at: Option<Timestamp>) -> Result<ApprovalStatus, ClientError> {
        let mut path = format!("/api/v1/deployments/{}/approvals", encode_segment(id));
        if let Some(at) = at {
            let query = serde_urlencoded::to_string([("at", at.to_string())])
                .map_err(|e| ClientError::BadUrl { url: self.base.clone(), reason: e.to_string() })?;
            path = format!("{path}?{query}");
        }
        self.send(self.request(Method::GET, &path)).await
    }

    /// `GET /api/v1/pipelines`.
    pub async fn pipelines(&self) -> Result<PipelineList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/pipelines")).await
    }

    /// `PUT /api/v1/pipelines/{service}`.
    pub async fn put_pipeline(&self, pipeline: &Pipeline) -> Result<Pipeline, ClientError> {
        let path = format!("/api/v1/pipelines/{}", encode_segment(&pipeline.service));
        self.send(self.request(Method::PUT, &path).json(pipeline)).await
    }

    /// `DELETE /api/v1/pipelines/{service}`.
    pub async fn remove_pipeline(&self, service: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/pipelines/{}", encode_segment(service));
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// `GET /api/v1/pipelines/{service}/versions/{version}`.
    pub async fn pipeline_view(&self, service: &str, version: &str) -> Result<PipelineView, ClientError> {
        let path = format!("/api/v1/pipelines/{}/versions/{}", encode_segment(service), encode_segment(version));
        self.send(self.request(Method::GET, &path)).await
    }

    /// `POST /api/v1/deployments/{id}/promote`.
    pub async fn promote(&self, id: &str, body: &PromoteRequest) -> Result<Deployment, ClientError> {
        let path = format!("/api/v1/deployments/{}/promote", encode_segment(id));
        self.send(self.request(Method::POST, &path).json(body)).await
    }

    /// `PUT /api/v1/manifests/{service}`: the version in force, and whether this call stored it.
    pub async fn put_manifest(&self, service: &str, text: &str) -> Result<(ManifestRecord, bool), ClientError> {
        let path = format!("/api/v1/manifests/{}", encode_segment(service));
        let body = ManifestText { manifest: text.to_owned() };
        let (status, record) = self.send_with_status(self.request(Method::PUT, &path).json(&body)).await?;
        Ok((record, status == StatusCode::CREATED))
    }

    /// `GET /api/v1/manifests`.
    pub async fn manifests(&self) -> Result<ManifestList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/manifests")).await
    }

    /// `GET /api/v1/manifests/{service}`, or `…/versions/{version}` for one version.
    pub async fn manifest(&self, service: &str, version: Option<u32>) -> Result<ManifestRecord, ClientError> {
        let mut path = format!("/api/v1/manifests/{}", encode_segment(service));
        if let Some(version) = version {
            path = format!("{path}/versions/{version}");
        }
        self.send(self.request(Method::GET, &path)).await
    }

    /// `GET /api/v1/deployments/{id}/manifest-plan`.
    pub async fn manifest_plan(&self, id: &str) -> Result<RolloutPlan, ClientError> {
        let path = format!("/api/v1/deployments/{}/manifest-plan", encode_segment(id));
        self.send(self.request(Method::GET, &path)).await
    }

    /// `GET /api/v1/manifests/{service}/versions`.
    pub async fn manifest_history(&self, service: &str) -> Result<ManifestList, ClientError> {
        let path = format!("/api/v1/manifests/{}/versions", encode_segment(service));
        self.send(self.request(Method::GET, &path)).await
    }

    /// `GET /api/v1/platforms`.
    pub async fn platforms(&self) -> Result<PlatformList, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/platforms")).await
    }

    /// `PUT /api/v1/platforms/{name}`.
    pub async fn put_platform(&self, platform: &NewPlatform) -> Result<PlatformConfig, ClientError> {
        let path = format!("/api/v1/platforms/{}", encode_segment(&platform.name));
        self.send(self.request(Method::PUT, &path).json(platform)).await
    }

    /// `POST /api/v1/platforms/{name}/test`.
    pub async fn test_platform(&self, name: &str) -> Result<PlatformTest, ClientError> {
        let path = format!("/api/v1/platforms/{}/test", encode_segment(name));
        self.send(self.request(Method::POST, &path).json(&serde_json::json!({}))).await
    }

    /// `DELETE /api/v1/platforms/{name}`.
    pub async fn remove_platform(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/platforms/{}", encode_segment(name));
        self.send_no_content(self.request(Method::DELETE, &path)).await
    }

    /// Sends a request whose success has no body (204).
    async fn send_no_content(&self, request: RequestBuilder) -> Result<(), ClientError> {
        let response =
            request.send().await.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.unwrap_or_default();
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ClientError::Api { status, body },
            Err(_) => ClientError::Unexpected { status, detail: String::from_utf8_lossy(&bytes).into_owned() },
        })
    }

    /// `GET /api/v1/whoami`.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/whoami")).await
    }
}

/// A server-sent event stream whose `data:` frames are JSON `T`s; see [`Client::follow`] and
/// [`Client::logs`].
#[derive(Debug)]
pub struct SseStream<T> {
    response: reqwest::Response,
    buffer: Vec<u8>,
    item: PhantomData<fn() -> T>,
}

/// Committed events as they happen ([`Client::follow`]).
pub type EventStream = SseStream<Event>;

/// An instance's output lines ([`Client::logs`]).
pub type LogStream = SseStream<LogLine>;

impl<T: DeserializeOwned> SseStream<T> {
    /// The next item; `None` when the server ended the stream (for example on shutdown, or when
    /// the instance whose logs it follows stopped).
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                match parse_frame(&String::from_utf8_lossy(&frame)) {
                    Some(item) => return Some(item),
                    // A keep-alive comment.
                    None => continue,
                }
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return None,
                Err(e) => {
                    let status = self.response.status();
                    return Some(Err(ClientError::Unexpected { status, detail: format!("event stream broke: {e}") }));
                }
            }
        }
    }
}

/// One SSE frame: an item, an `event: error` frame, or `None` for a comment-only frame.
fn parse_frame<T: DeserializeOwned>(frame: &str) -> Option<Result<T, ClientError>> {
    let mut kind = None;
    let mut data = String::new();
    for line in frame.lines() {
        if let Some((field, value)) = line.split_once(':') {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => kind = Some(value.to_owned()),
                "data" => data.push_str(value),
                _ => {}
            }
        }
    }
    if data.is_empty() {
        return None;
    }
    let status = StatusCode::OK;
    Some(if kind.as_deref() == Some("error") {
        match serde_json::from_str::<ErrorBody>(&data) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(e) => Err(ClientError::Unexpected { status, detail: format!("bad error frame: {e}") }),
        }
    } else {
        serde_json::from_str::<T>(&data)
            .map_err(|e| ClientError::Unexpected { status, detail: format!("bad event frame: {e}") })
    })
}

/// Percent-encodes one path segment, so an id with `/`, `?` or spaces stays one segment.
fn encode_segment(segment: &str) -> String {
    use std::fmt::Write;
    segment.bytes().fold(String::with_capacity(segment.len()), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(encode_segment("dep_01ABC"), "dep_01ABC");
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn sse_frames_parse_into_events_errors_and_comments() {
        assert!(parse_frame::<Event>(": keep-alive\n\n").is_none());
        let error = parse_frame::<Event>(
            "event: error\ndata: {\"error\":{\"code\":\"storage_error\",\"message\":\"m\",\"details\":[]}}\n\n",
        );
        assert!(matches!(error, Some(Err(ClientError::Api { ref body, .. })) if body.error.code == "storage_error"));
        assert!(matches!(
            parse_frame::<Event>("id: 1\ndata: {\"seq\": 1}\n\n"),
            Some(Err(ClientError::Unexpected { .. }))
        ));
        let line =
            parse_frame::<LogLine>("data: {\"instance_id\":\"ins_1\",\"stream\":\"stdout\",\"line\":\"hi\"}\n\n");
        assert!(
            matches!(line, Some(Ok(ref l)) if l.line == "hi" && l.stream == loco_core::platform::LogStream::Stdout)
        );
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(Client::new("http://127.0.0.1:8080/").is_ok());
        assert!(Client::new("https://loco.example").is_ok());
        for bad in ["ftp://example.com", "not a url", "file:///etc/passwd"] {
            assert!(matches!(Client::new(bad), Err(ClientError::BadUrl { .. })), "{bad}");
        }
        let missing = ClientOptions { ca_cert: Some("/nonexistent/ca.pem".into()), token: None };
        assert!(matches!(Client::with_options("https://x", &missing), Err(ClientError::BadUrl { .. })));
        let bad_token = ClientOptions { token: Some("line\nbreak".into()), ca_cert: None };
        assert!(matches!(Client::with_options("https://x", &bad_token), Err(ClientError::BadUrl { .. })));
    }
}

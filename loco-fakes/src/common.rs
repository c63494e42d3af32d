//! What every fake shares: the record of requests, the faults injected into them, the server
//! they run on, their clocks and times, ids and query strings.

pub(crate) mod ids;
pub(crate) mod query;
pub mod server;
pub(crate) mod time;

pub use server::Server;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// One request a fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    /// Every header, names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, as text (lossy for non-UTF-8 bodies).
    pub body: String,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Every request a fake received, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    /// Everything received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// The requests with this method whose path ends with `suffix`.
    pub fn matching(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.lock().iter().filter(|r| r.method == method && r.path.ends_with(suffix)).cloned().collect()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn push(&self, request: RecordedRequest) {
        self.lock().push(request);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A fault served instead of (or before) the fake's own answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status and body (a provider-shaped error body is the caller's to give).
    Status {
        /// The status, e.g. 500 or 503.
        status: u16,
        /// The JSON body.
        body: serde_json::Value,
    },
    /// Answer 429 with `Retry-After: seconds` and the provider's rate-limit headers and body.
    RateLimited {
        /// The `Retry-After` value, in whole seconds.
        retry_after_seconds: u64,
        /// Extra headers (e.g. `Ratelimit-Remaining: 0`).
        headers: Vec<(String, String)>,
        /// The JSON body.
        body: serde_json::Value,
    },
    /// Wait this long, then answer normally (longer than a client's timeout is a hang).
    Delay(Duration),
}

/// A queued fault: the method and path part it waits for (any when `None`), and the fault.
type Queued = (Option<String>, Option<String>, Fault);

/// Faults queued per route: the next request whose method and path match takes the first fault
/// queued for it. A fault with no route filter matches every request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<VecDeque<Queued>>>,
}

impl Faults {
    /// Queues `fault` for the next `count` requests whose method is `method` (any when `None`)
    /// and whose path contains `path` (any when `None`).
    pub fn inject(&self, method: Option<&str>, path: Option<&str>, fault: &Fault, count: usize) {
        let mut queue = self.lock();
        for _ in 0..count {
            queue.push_back((method.map(str::to_owned), path.map(str::to_owned), fault.clone()));
        }
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many faults are still queued.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut queue = self.lock();
        let at = queue.iter().position(|(m, p, _)| {
            m.as_deref().is_none_or(|m| m == method) && p.as_deref().is_none_or(|p| path.contains(p))
        })?;
        queue.remove(at).map(|(_, _, fault)| fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the recording middleware needs.
#[derive(Debug, Clone, Default)]
pub struct Instruments {
    /// Where requests are recorded.
    pub recorder: Recorder,
    /// Which faults are injected.
    pub faults: Faults,
}

/// Largest request body a fake reads (larger ones are refused with 413).
pub const MAX_BODY: usize = 1 << 20;

/// Axum middleware: records each request (with the status finally answered) and serves the
/// queued fault for it, if any. Install with
/// `axum::middleware::from_fn_with_state(instruments.clone(), record)`.
pub async fn record(State(instruments): State<Instruments>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: headers(&parts.headers),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        status: 0,
    };
    let fault = instruments.faults.take(&recorded.method, &recorded.path);
    let response = match fault {
        Some(Fault::Status { status, body }) => json_response(status, &body, &[]),
        Some(Fault::RateLimited { retry_after_seconds, headers, body }) => {
            let mut all = vec![("retry-after".to_owned(), retry_after_seconds.to_string())];
            all.extend(headers);
            json_response(429, &body, &all)
        }
        Some(Fault::Delay(by)) => {
            tokio::time::sleep(by).await;
            next.run(Request::from_parts(parts, Body::from(Bytes::clone(&bytes)))).await
        }
        None => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    };
    recorded.status = response.status().as_u16();
    instruments.recorder.push(recorded);
    response
}

/// A JSON response with `status`, `body` and extra `headers`.
pub fn json_response(status: u16, body: &serde_json::Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body.clone())).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str()))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// Binds `router` to `127.0.0.1:0` and serves it in the background; returns the base URL
/// (`http://127.0.0.1:PORT`) and the server task (abort it to stop the fake).
pub async fn serve(router: axum::Router) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((base, task))
}

//! [`HttpClient`]: the discipline every cloud adapter's HTTP calls follow. One client per
//! configured platform:
//!
//! - reqwest over rustls; a connect timeout and a per-request timeout; every base URL
//!   configurable (tests and `loco demo` point them at the fakes in `loco-fakes`);
//! - calls marked [`Retry::Idempotent`] are retried on connection errors, timeouts and 5xx, with
//!   exponential backoff and full jitter; a 429 is retried after its `Retry-After` (any call:
//!   the provider did not act on it), never sooner, and at most [`HttpOptions::max_retry_after`];
//! - calls marked [`Retry::Never`] (creates without an idempotency guard) are made once: a
//!   timeout or a 5xx leaves their effect unknown, which the adapter must resolve by looking;
//! - at most [`HttpOptions::concurrency`] calls in flight per platform;
//! - errors ([`HttpError`]) carry the status, the provider's own message and request id, and
//!   never the token: the `Authorization` value is never formatted, and error bodies are cut to
//!   what the provider says.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::PlatformError;

/// Whether a call may be repeated when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating it changes nothing (GET, PUT of a full state, a create guarded by an idempotency
    /// key): retried on connection errors, timeouts, 5xx and 429.
    Idempotent,
    /// Repeating it could act twice: retried only on 429 (the provider refused it unprocessed).
    Never,
}

/// How a client talks to one provider.
#[derive(Clone)]
pub struct HttpOptions {
    /// The provider's name in messages (`Fly.io`, `Render`).
    pub provider: &'static str,
    /// The API's base URL, without a trailing slash (`https://api.machines.dev`).
    pub base_url: String,
    /// The credentials header's value (`Bearer …`, `FlyV1 …`, a bare project token); never shown.
    pub authorization: String,
    /// The header the credentials go in (default `authorization`; Railway project tokens use
    /// `project-access-token`).
    pub auth_header: &'static str,
    /// The response header naming the provider's request id (`fly-request-id`), if any.
    pub request_id_header: Option<&'static str>,
    /// Timeouts, retries and concurrency.
    pub tuning: HttpTuning,
}

/// The timeouts, retries and concurrency of a client: what every adapter lets its users (and its
/// tests) change, embedded in each adapter's own tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTuning {
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one attempt may take, answer included.
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it (capped at 8×), with full jitter.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one fails the call with the provider's 429.
    pub max_retry_after: Duration,
    /// Calls in flight at most.
    pub concurrency: usize,
}

impl Default for HttpTuning {
    /// 5 s to connect, 30 s per attempt, 4 retries from 250 ms, `Retry-After` up to 60 s, 4 calls
    /// at once.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 4,
            backoff: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(60),
            concurrency: 4,
        }
    }
}

impl HttpOptions {
    /// Defaults for `provider` at `base_url` with this `Authorization` value, tuned as
    /// [`HttpTuning::default`].
    pub fn new(provider: &'static str, base_url: impl Into<String>, authorization: impl Into<String>) -> Self {
        Self {
            provider,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            authorization: authorization.into(),
            auth_header: "authorization",
            request_id_header: None,
            tuning: HttpTuning::default(),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("authorization", &"***")
            .field("tuning", &self.tuning)
            .finish_non_exhaustive()
    }
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// `GET /v1/apps/x/machines`, for messages.
    pub call: String,
    /// The HTTP status, when the provider answered.
    pub status: Option<u16>,
    /// The provider's message (from its error body), or what went wrong on the way.
    pub message: String,
    /// The provider's request id, when it sent one.
    pub request_id: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

impl HttpError {
    /// Whether the provider answered with this status.
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.call)?;
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl From<HttpError> for PlatformError {
    fn from(e: HttpError) -> Self {
        PlatformError::new(e)
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status (2xx).
    pub status: u16,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: serde_json::Value,
    /// The response headers.
    pub headers: HeaderMap,
}

impl Reply {
    /// The body as `T`; a shape the provider should not send is an error naming the call.
    pub fn json<T: DeserializeOwned>(&self, call: &str) -> Result<T, HttpError> {
        serde_json::from_value(self.body.clone()).map_err(|e| HttpError {
            call: call.to_owned(),
            status: Some(self.status),
            message: format!("unexpected response: {e}"),
            request_id: None,
            attempts: 1,
        })
    }
}

/// One provider's HTTP client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    options: Arc<HttpOptions>,
    permits: Arc<Semaphore>,
    message_of: fn(&serde_json::Value) -> Option<String>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("options", &self.options).finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with `options`; `message_of` finds the provider's message in an error body
    /// (`{"error": …}` for Fly, `{"message": …}` for Render).
    pub fn new(
        options: HttpOptions,
        message_of: fn(&serde_json::Value) -> Option<String>,
    ) -> Result<Self, PlatformError> {
        let inner = reqwest::Client::builder()
            .connect_timeout(options.tuning.connect_timeout)
            .timeout(options.tuning.request_timeout)
            .user_agent(concat!("loco/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PlatformError::new(format!("{}: cannot build an HTTP client: {e}", options.provider)))?;
        let permits = Arc::new(Semaphore::new(options.tuning.concurrency.max(1)));
        Ok(Self { inner, options: Arc::new(options), permits, message_of })
    }

    /// The options it was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// `GET path` (idempotent), the body as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        let reply = self.call(reqwest::Method::GET, path, None, &[], Retry::Idempotent).await?;
        reply.json(&format!("GET {path}"))
    }

    /// Makes one call: `path` (with its query) under the base URL, an optional JSON body, extra
    /// headers, retried as `retry` allows. Any 2xx is a [`Reply`]; anything else an [`HttpError`].
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, String)],
        retry: Retry,
    ) -> Result<Reply, HttpError> {
        let call = format!("{method} {path}");
        let url = format!("{}{path}", self.options.base_url);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = self.attempt(&method, &url, body, headers).await;
            let last = attempt > self.options.tuning.max_retries;
            let wait = match outcome {
                Ok(Attempt::Answered { status, body, headers }) if (200..300).contains(&status) => {
                    return Ok(Reply { status, body, headers });
                }
                Ok(Attempt::Answered { status, body, headers }) => {
                    let error = self.error(&call, Some(status), &body, &headers, attempt);
                    let retry_after = retry_after(&headers);
                    match status {
                        429 if !last => match retry_after {
                            Some(after) if after <= self.options.tuning.max_retry_after => after,
                            None => self.backoff(attempt),
                            Some(_) => return Err(error),
                        },
                        500..=599 if retry == Retry::Idempotent && !last => self.backoff(attempt),
                        _ => return Err(error),
                    }
                }
                Err(message) if retry == Retry::Idempotent && !last => {
                    tracing::debug!(provider = self.options.provider, %call, %message, "retrying");
                    self.backoff(attempt)
                }
                Err(message) => {
                    return Err(HttpError { call, status: None, message, request_id: None, attempts: attempt });
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: &reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, String)],
    ) -> Result<Attempt, String> {
        let _permit = self.permits.acquire().await.map_err(|_| "the client is closed".to_owned())?;
        let mut request =
            self.inner.request(method.clone(), url).header(self.options.auth_header, &self.options.authorization);
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (HeaderName::try_from(*name), HeaderValue::try_from(value.as_str())) else {
                return Err(format!("header {name} has a value that cannot be sent"));
            };
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| describe(&e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Attempt::Answered { status, body, headers })
    }

    fn error(
        &self,
        call: &str,
        status: Option<u16>,
        body: &serde_json::Value,
        headers: &HeaderMap,
        attempts: u32,
    ) -> HttpError {
        let message = (self.message_of)(body).unwrap_or_else(|| "no message".to_owned());
        let message = redact(&message, &self.options.authorization);
        let request_id = self
            .options
            .request_id_header
            .and_then(|name| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        HttpError { call: call.to_owned(), status, message, request_id, attempts }
    }

    /// Exponential backoff with full jitter: a random share of `backoff × 2^(attempt-1)`, capped
    /// at 8 × `backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.options.tuning.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(3));
        ceiling.mul_f64(jitter())
    }
}

enum Attempt {
    Answered { status: u16, body: serde_json::Value, headers: HeaderMap },
}

/// A connection-level failure, without the URL's query (which could hold a token).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let source = std::error::Error::source(e).map(ToString::to_string).unwrap_or_default();
    if source.is_empty() { format!("the request {kind}") } else { format!("the request {kind}: {source}") }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by these providers).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?;
    value.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// `text` with the token (the `Authorization` value without its scheme) blanked, in case a
/// provider echoes it.
fn redact(text: &str, authorization: &str) -> String {
    let token = authorization.split_once(' ').map_or(authorization, |(_, t)| t).trim();
    if token.len() >= 8 { text.replace(token, "***") } else { text.to_owned() }
}

/// A number in [0.5, 1): half the ceiling at least, so retries never bunch at zero.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let bits = ulid::Ulid::new().random() as u64 ^ u64::from(nanos);
    0.5 + (bits % 1_000_000) as f64 / 2_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn a_token_echoed_by_a_provider_is_blanked() {
        let said = redact("token fm2_abcdefghij is not valid", "FlyV1 fm2_abcdefghij");
        assert_eq!(said, "token *** is not valid");
    }

    #[test]
    fn jitter_stays_in_its_band() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.5..1.0).contains(&j), "{j}");
        }
    }
}

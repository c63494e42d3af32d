//! The one place where errors become HTTP responses: each `loco_core::Error` variant gets its
//! status code here, and the body is always `{"error": {"code", "message", "details"}}`.

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use loco_core::Error;

use crate::wire::{ErrorBody, ErrorInfo};

/// An error a handler returns; rendered as the JSON error body with its status code.
#[derive(Debug)]
pub enum ApiError {
    /// Anything the engine (or input parsing, which speaks the core's `validation_error`) reported.
    Core(Error),
    /// No route matches the path.
    RouteNotFound {
        /// The requested path.
        path: String,
    },
    /// The path exists but not with this method.
    MethodNotAllowed {
        /// The requested method.
        method: Method,
        /// The requested path.
        path: String,
    },
    /// The `Host` header names another server (DNS rebinding, or a misdirected request).
    HostNotAllowed {
        /// The header's value.
        host: String,
    },
    /// The request ran longer than the server's limit; what it wrote stands.
    Timeout {
        /// The limit.
        seconds: f64,
    },
    /// A bug in the server (a handler panicked); nothing about the request was wrong.
    Internal {
        /// What happened.
        message: String,
    },
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

/// The HTTP status of a core error. The core enum is `#[non_exhaustive]`, so a variant added
/// later falls to the last arm (500, still carrying its own code) until it is mapped here.
#[allow(clippy::match_same_arms)] // Every known variant is named so its mapping is explicit, not implied by `_`.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Validation { .. } => StatusCode::BAD_REQUEST,
        Error::NotFound { .. }
        | Error::RolloutNotFound { .. }
        | Error::TokenNotFound { .. }
        | Error::ServiceNotFound { .. }
        | Error::FreezeWindowNotFound { .. }
        | Error::LockNotFound { .. }
        | Error::GateNotFound { .. }
        | Error::GroupNotFound { .. }
        | Error::ScheduleNotFound { .. }
        | Error::PipelineNotFound { .. }
        | Error::ManifestNotFound { .. }
        | Error::PlatformNotFound { .. } => StatusCode::NOT_FOUND,
        Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        Error::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::ValidationFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::InvalidTransition { .. }
        | Error::IdempotencyConflict { .. }
        | Error::RolloutConflict { .. }
        | Error::RolloutInProgress { .. }
        | Error::RolloutNotPaused { .. }
        | Error::PolicyViolation { .. }
        | Error::ApprovalRequired { .. } => StatusCode::CONFLICT,
        Error::SelfApproval { .. } => StatusCode::FORBIDDEN,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        // The deployment platform (an upstream service) failed, not this server.
        Error::Platform { .. } => StatusCode::BAD_GATEWAY,
        // The database is down or failing (a PostgreSQL server restarting, a full disk): nothing
        // was written, and the same request may succeed shortly.
        Error::Storage { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::RollbackFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The status code and JSON body of this error.
    pub fn parts(&self) -> (StatusCode, ErrorBody) {
        match self {
            ApiError::Core(e) => (status_of(e), ErrorBody::from(e)),
            ApiError::RouteNotFound { path } => {
                (StatusCode::NOT_FOUND, plain("not_found", format!("no route for path '{path}'")))
            }
            ApiError::MethodNotAllowed { method, path } => (
                StatusCode::METHOD_NOT_ALLOWED,
                plain("method_not_allowed", format!("{method} is not allowed on '{path}'")),
            ),
            ApiError::HostNotAllowed { host } => (
                StatusCode::MISDIRECTED_REQUEST,
                plain("host_not_allowed", format!("this server does not answer to host '{host}'")),
            ),
            ApiError::Timeout { seconds } => (
                StatusCode::SERVICE_UNAVAILABLE,
                plain("timeout", format!("the request took longer than {seconds} s; what it wrote stands")),
            ),
            ApiError::Internal { message } => {
                (StatusCode::INTERNAL_SERVER_ERROR, plain("internal_error", message.clone()))
            }
        }
    }
}

fn plain(code: &str, message: String) -> ErrorBody {
    ErrorBody { error: ErrorInfo { code: code.to_owned(), message, details: Vec::new(), report: None } }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        if status.is_server_error() {
            tracing::error!(code = %body.error.code, message = %body.error.message, "request failed");
        }
        let retry_after = match &self {
            ApiError::Core(Error::RateLimited { retry_after_seconds }) => Some(*retry_after_seconds),
            ApiError::Core(Error::Storage { .. }) => Some(1),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Fallback for paths no route matches.
pub async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound { path: uri.path().to_owned() }
}

/// Fallback for a known path called with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { method, path: uri.path().to_owned() }
}

#[cfg(test)]
mod tests {
    use loco_core::{Action, Status};

    use super::*;

    #[test]
    fn every_core_error_has_its_documented_status() {
        let cases = [
            (Error::invalid("service", "is required"), 400),
            (Error::NotFound { id: "dep_x".into() }, 404),
            (Error::InvalidTransition { id: "d".into(), from: Status::RolledBack, action: Action::Approve }, 409),
            (Error::SelfApproval { id: "d".into(), actor: "a".into(), action: Action::Approve }, 403),
            (Error::IdempotencyConflict { key: "k".into() }, 409),
            (Error::PayloadTooLarge { limit_bytes: 1 }, 413),
            (Error::storage("disk I/O error"), 503),
            (Error::RolloutNotFound { id: "d".into() }, 404),
            (Error::RolloutConflict { service: "s".into(), environment: "e".into(), active: "d".into() }, 409),
            (Error::RolloutInProgress { id: "d".into() }, 409),
            (Error::RolloutNotPaused { id: "d".into(), state: loco_core::rollout::RolloutState::Running }, 409),
            (Error::Platform { platform: "local".into(), message: "m".into() }, 502),
            (Error::RollbackFailed { id: "d".into(), message: "m".into() }, 500),
            (Error::Unauthenticated { reason: "r".into() }, 401),
            (Error::permission_denied("a", loco_core::identity::Role::Admin, None), 403),
            (Error::UnsupportedMediaType { content_type: None }, 415),
            (Error::validation_failed("d", loco_core::rollout::ValidationReport::default()), 422),
            (Error::RateLimited { retry_after_seconds: 2 }, 429),
            (Error::TokenNotFound { id: "t".into() }, 404),
            (Error::ServiceNotFound { name: "s".into() }, 404),
            (Error::PlatformNotFound { name: "p".into() }, 404),
            (Error::FreezeWindowNotFound { name: "w".into() }, 404),
            (Error::LockNotFound { service: "s".into(), environment: "e".into() }, 404),
            (Error::GateNotFound { environment: "e".into(), service: None }, 404),
            (Error::GroupNotFound { name: "g".into() }, 404),
            (Error::ScheduleNotFound { id: "d".into() }, 404),
            (Error::PipelineNotFound { service: "s".into() }, 404),
            (Error::ManifestNotFound { service: "s".into(), version: Some(2) }, 404),
            (
                Error::ApprovalRequired {
                    id: "d".into(),
                    environment: "e".into(),
                    approvals: 1,
                    required: 2,
                    details: vec![loco_core::FieldError::new("approvals", "1 of 2")],
                },
                409,
            ),
            (
                Error::PolicyViolation {
                    rule: "freeze_window".into(),
                    name: "w".into(),
                    environment: "production".into(),
                    until: None,
                    details: vec![loco_core::FieldError::new("freeze_window", "frozen")],
                },
                409,
            ),
        ];
        for (error, status) in cases {
            let (got, body) = ApiError::Core(error.clone()).parts();
            assert_eq!(got.as_u16(), status, "{error}");
            assert_eq!(body.error.code, error.code());
            assert_eq!(body.error.details.len(), error.details().len());
        }
    }
}

//! Request parsing that reports problems the way the core does: as `validation_error` with the
//! offending field named (`work_refs[1]`, `limit`, `body`), or `payload_too_large` over 1 MiB.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use loco_core::Error;
use serde::de::DeserializeOwned;

use crate::server::error::ApiError;
use crate::wire::{BODY_LIMIT_BYTES, HeadParams, ListParams, ReleaseParams, RolloutsParams, StreamParams};

/// A JSON request body parsed strictly (unknown fields, wrong types and malformed JSON are
/// validation errors naming the field). An empty body counts as `{}` so that the core, not the
/// parser, reports which required fields are missing.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// The body of a request, once `session` may do `operation` at all: a caller without the role is
/// refused (403) before anything it sent is parsed or echoed back in a validation error.
pub fn gated<T>(
    session: &loco_core::Session,
    operation: loco_core::session::Operation,
    body: Result<JsonBody<T>, ApiError>,
) -> Result<T, ApiError> {
    session.may(operation)?;
    Ok(body?.0)
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            // The body limit layer reports an oversized body as 413; anything else is a broken body.
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge { limit_bytes: BODY_LIMIT_BYTES }
            } else {
                Error::invalid("body", format!("could not be read: {}", rejection.body_text()))
            }
        })?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

/// Parses a JSON object into `T`, naming the field of the first problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let bytes: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => b"{}",
        // serde would also accept a struct written as an array of its fields; the API does not.
        Some(b'{') => bytes,
        Some(_) => return Err(Error::invalid("body", "must be a JSON object")),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // The path names the offending key, including an unknown one (`colour`, `work_refs[1]`).
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::invalid("body", format!("is not valid JSON: {inner}"))
        } else {
            Error::invalid(if path == "." || path.is_empty() { "body".to_owned() } else { path }, inner.to_string())
        }
    })?;
    de.end().map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
    Ok(value)
}

/// The parameters of a query string, checked against the names a route accepts: an unknown
/// name or a repeated one is a validation error naming it; an empty value counts as absent.
fn query_pairs(raw: Option<&str>, names: &[&str]) -> Result<BTreeMap<String, String>, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| Error::invalid("query", format!("is not a valid query string: {e}")))?;
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if !names.contains(&name.as_str()) {
            let message = format!("is not a query parameter here; expected one of {}", names.join(", "));
            return Err(Error::invalid(if name.is_empty() { "query".to_owned() } else { name }, message));
        }
        if params.contains_key(&name) {
            return Err(Error::invalid(name, "is given more than once"));
        }
        params.insert(name, value);
    }
    params.retain(|_, value| !value.is_empty());
    Ok(params)
}

/// Parses the query string of `GET /api/v1/deployments`.
pub fn list_params(raw: Option<&str>) -> Result<ListParams, Error> {
    let mut p = query_pairs(raw, &ListParams::NAMES)?;
    Ok(ListParams {
        service: p.remove("service"),
        environment: p.remove("environment"),
        status: p.remove("status"),
        limit: p.remove("limit"),
        cursor: p.remove("cursor"),
    })
}

/// Parses the query string of `GET /api/v1/audit/verify`.
pub fn head_params(raw: Option<&str>) -> Result<HeadParams, Error> {
    let mut p = query_pairs(raw, &HeadParams::NAMES)?;
    Ok(HeadParams { seq: p.remove("seq"), hash: p.remove("hash"), hmac: p.remove("hmac"), at: p.remove("at") })
}

/// Parses the query string of the event streams.
pub fn stream_params(raw: Option<&str>) -> Result<StreamParams, Error> {
    let mut p = query_pairs(raw, &["after"])?;
    Ok(StreamParams { after: p.remove("after") })
}

/// Parses the query string of `GET /api/v1/rollouts`.
pub fn rollouts_params(raw: Option<&str>) -> Result<RolloutsParams, Error> {
    let mut p = query_pairs(raw, &["active"])?;
    Ok(RolloutsParams { active: p.remove("active") })
}

/// Parses the query string of `GET /api/v1/freezes/active`.
pub fn freeze_params(raw: Option<&str>) -> Result<crate::wire::FreezeParams, Error> {
    let mut p = query_pairs(raw, &["environment", "at"])?;
    Ok(crate::wire::FreezeParams { environment: p.remove("environment"), at: p.remove("at") })
}

/// Parses the query string of `GET /api/v1/deployments/{id}/approvals`: the instant asked about,
/// if given.
pub fn approval_params(raw: Option<&str>) -> Result<Option<loco_core::Timestamp>, Error> {
    let mut p = query_pairs(raw, &["at"])?;
    crate::wire::ApprovalParams { at: p.remove("at") }.at()
}

/// Parses the query string of `DELETE /api/v1/gates/{environment}`: the service whose own gate
/// is meant, if any.
pub fn gate_params(raw: Option<&str>) -> Result<crate::wire::GateParams, Error> {
    let mut p = query_pairs(raw, &["service"])?;
    Ok(crate::wire::GateParams { service: p.remove("service") })
}

/// Parses the query string of `GET /api/v1/releases`.
pub fn release_params(raw: Option<&str>) -> Result<ReleaseParams, Error> {
    let mut p = query_pairs(raw, &["service", "environment", "limit"])?;
    Ok(ReleaseParams { service: p.remove("service"), environment: p.remove("environment"), limit: p.remove("limit") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ActionRequest, CreateDeployment};

    fn field_of<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        let err = parse_json::<T>(json.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "validation_error");
        err.details()[0].field.clone()
    }

    #[test]
    fn problems_name_their_field() {
        assert_eq!(field_of::<CreateDeployment>(r#"{"service": 5}"#), "service");
        assert_eq!(field_of::<CreateDeployment>(r#"{"work_refs": ["a", 7]}"#), "work_refs[1]");
        assert_eq!(field_of::<CreateDeployment>(r#"{"colour": "red"}"#), "colour");
        assert_eq!(field_of::<CreateDeployment>(r#"{"service": "a""#), "body");
        assert_eq!(field_of::<CreateDeployment>("[1, 2]"), "body");
        assert_eq!(field_of::<CreateDeployment>(r#"["api", "dev", "1", "al", ["W-1"], "plan", null]"#), "body");
        assert_eq!(field_of::<ActionRequest>("null"), "body");
        assert_eq!(field_of::<ActionRequest>(r#"{"actor": null, "note": ["x"]}"#), "note");
        assert_eq!(field_of::<CreateDeployment>(r#"{"service": "a"} trailing"#), "body");
        assert_eq!(field_of::<ActionRequest>(r#"{"actor": "bob", "notes": "x"}"#), "notes");
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        assert_eq!(parse_json::<ActionRequest>(b"  ").unwrap(), ActionRequest::new(""));
    }

    #[test]
    fn query_names_are_checked() {
        let p = list_params(Some("service=a%20b&status=&limit=5")).unwrap();
        assert_eq!((p.service.as_deref(), p.status, p.limit.as_deref()), (Some("a b"), None, Some("5")));
        assert_eq!(list_params(Some("stauts=approved")).unwrap_err().details()[0].field, "stauts");
        assert_eq!(list_params(Some("limit=1&limit=2")).unwrap_err().details()[0].field, "limit");
        assert_eq!(list_params(None).unwrap(), ListParams::default());
        assert_eq!(stream_params(Some("after=3")).unwrap().after.as_deref(), Some("3"));
        assert_eq!(stream_params(Some("since=3")).unwrap_err().details()[0].field, "since");
        assert!(rollouts_params(Some("active=true")).unwrap().active_only().unwrap());
        assert!(!rollouts_params(None).unwrap().active_only().unwrap());
        assert_eq!(
            rollouts_params(Some("active=yes")).unwrap().active_only().unwrap_err().details()[0].field,
            "active"
        );
        let releases = release_params(Some("service=shop&environment=prod&limit=3")).unwrap();
        assert_eq!(releases.parts().unwrap(), ("shop", "prod", 3));
        let missing: Vec<String> = release_params(Some("limit=x"))
            .unwrap()
            .parts()
            .unwrap_err()
            .details()
            .iter()
            .map(|d| d.field.clone())
            .collect();
        assert_eq!(missing, ["service", "environment", "limit"]);
    }

    #[test]
    fn a_rollout_plan_is_kept_as_its_json_text() {
        let body: crate::wire::StartRollout =
            parse_json(br#"{"actor": "ops", "plan": {"platform": "local", "instances": 2}}"#).unwrap();
        assert_eq!(
            body.plan.as_deref().map(serde_json::value::RawValue::get),
            Some(r#"{"platform": "local", "instances": 2}"#)
        );
        assert!(parse_json::<crate::wire::StartRollout>(b"{}").unwrap().plan.is_none(), "absent: the manifest's");
        assert_eq!(field_of::<crate::wire::StartRollout>(r#"{"actor": "ops", "plna": {}}"#), "plna");
        assert_eq!(field_of::<crate::wire::StartRollout>(r#"{"actor": 1, "plan": {}}"#), "actor");
    }
}

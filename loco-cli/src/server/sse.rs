//! Server-sent event streams of committed events (all, or one deployment's), fed by
//! `Engine::subscribe`; the SSE `id:` is the event's `seq`, so `Last-Event-ID` resumes exactly.

use std::convert::Infallible;
use std::future::ready;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt, stream};
use loco_core::{Error, EventSubscription};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::stream_params;
use crate::server::openapi::refs;
use crate::server::routes::DeploymentId;
use crate::wire::{ErrorBody, StreamParams};

/// The header browsers and SSE clients send when they reconnect.
const LAST_EVENT_ID: &str = "last-event-id";

/// The seq to resume after, from `Last-Event-ID` or `?after=`, or `None` to start live.
fn resume_point(headers: &HeaderMap, params: &StreamParams) -> Result<Option<i64>, Error> {
    let (field, raw) = match headers.get(LAST_EVENT_ID) {
        Some(value) => ("Last-Event-ID", value.to_str().map_err(|_| Error::invalid("Last-Event-ID", "is not ASCII"))?),
        None => match params.after.as_deref() {
            Some(after) => ("after", after),
            None => return Ok(None),
        },
    };
    match raw.trim().parse::<i64>() {
        // The SSE spec lets a client send an empty last event id, which means "none".
        _ if raw.trim().is_empty() => Ok(None),
        Ok(seq) if seq >= 0 => Ok(Some(seq)),
        _ => Err(Error::invalid(field, format!("'{raw}' is not an event seq; expected an integer ≥ 0"))),
    }
}

/// One of the server's stream slots, held for as long as the stream is open; `rate_limited`
/// (429) when every slot is taken.
pub fn stream_slot(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    state.streams.clone().try_acquire_owned().map_err(|_| ApiError::Core(Error::RateLimited { retry_after_seconds: 1 }))
}

/// `stream`, keeping `slot` until the stream is dropped (the client went away or it ended).
pub fn holding<S: Stream>(slot: OwnedSemaphorePermit, stream: S) -> impl Stream<Item = S::Item> {
    stream.map(move |item| {
        let _slot = &slot;
        item
    })
}

fn subscribe(state: &AppState, after: Option<i64>) -> EventSubscription {
    match after {
        Some(seq) => state.engine.subscribe_after(seq),
        None => state.engine.subscribe(),
    }
}

/// Committed events as SSE frames, optionally only one deployment's, ending when the server
/// shuts down so open streams never hold up a graceful shutdown.
fn frames(
    subscription: EventSubscription,
    only: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let events = stream::unfold(Some(subscription), |subscription| async move {
        let mut subscription = subscription?;
        match subscription.next().await? {
            Ok(event) => Some((Ok(event), Some(subscription))),
            // Report the failure and end the stream; the client resumes with Last-Event-ID.
            Err(error) => Some((Err(error), None)),
        }
    });
    let closing = async move {
        // An error means the server (the sender) is gone, which is also the end.
        let _ = shutdown.wait_for(|closing| *closing).await;
    };
    events
        .filter(move |item| {
            ready(match (item, &only) {
                (Ok(event), Some(id)) => event.deployment_id == *id,
                _ => true,
            })
        })
        .map(|item| {
            Ok(match item {
                Ok(event) => {
                    let seq = event.seq;
                    SseEvent::default().id(seq.to_string()).data(to_json(&event))
                }
                Err(error) => SseEvent::default().event("error").data(to_json(&ErrorBody::from(&error))),
            })
        })
        .take_until(closing)
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain data structs with string keys always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn keep_alive(state: &AppState) -> KeepAlive {
    KeepAlive::new().interval(state.config.sse_keep_alive)
}

/// `GET /api/v1/events`: every committed event, in `seq` order.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this seq (sent by SSE clients on reconnect)"),
    ),
    responses(
        (status = 200, description = "An SSE stream; each `data:` is an Event and each `id:` its seq", body = refs::Event,
         content_type = "text/event-stream"),
        (status = 400, description = "Bad `Last-Event-ID` or `after`", body = ErrorBody),
    )
)]
pub async fn all_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    state.engine.session(caller.0).reader()?;
    let after = resume_point(&headers, &stream_params(query.as_deref())?)?;
    let slot = stream_slot(&state)?;
    let subscription = subscribe(&state, after);
    Ok(Sse::new(holding(slot, frames(subscription, None, state.shutdown.clone()))).keep_alive(keep_alive(&state)))
}

/// `GET /api/v1/deployments/{id}/events/stream`: one deployment's committed events.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/events/stream",
    tag = "events",
    params(
        ("id" = String, Path, description = "Deployment id"),
        StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this seq (sent by SSE clients on reconnect)"),
    ),
    responses(
        (status = 200, description = "An SSE stream of this deployment's events", body = refs::Event,
         content_type = "text/event-stream"),
        (status = 400, description = "Bad `Last-Event-ID` or `after`", body = ErrorBody),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn deployment_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    state.engine.session(caller.0).reader()?;
    let after = resume_point(&headers, &stream_params(query.as_deref())?)?;
    let slot = stream_slot(&state)?;
    // Subscribe before the existence check so nothing committed in between is missed.
    let subscription = subscribe(&state, after);
    state.engine.get(&id).await?;
    Ok(Sse::new(holding(slot, frames(subscription, Some(id), state.shutdown.clone()))).keep_alive(keep_alive(&state)))
}

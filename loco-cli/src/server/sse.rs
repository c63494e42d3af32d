//! Server-sent event streams of committed events (all, or one deployment's), fed by
//! `Engine::subscribe`; the SSE `id:` is the event's `seq`, so `Last-Event-ID` resumes exactly.
//! Every stream (these and instance logs) ends when the server shuts down or when the token that
//! opened it is revoked or expires.

use std::convert::Infallible;
use std::future::ready;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt, stream};
use loco_core::{Error, EventSubscription};
use tokio::sync::OwnedSemaphorePermit;

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

/// `stream` for as long as the server runs and the caller's token stays valid, keeping `slot`
/// until the stream is dropped. A revocation by this server is noticed before the next item is
/// sent (and ends an idle stream at once); an expiry, or a revocation by another process on the
/// same database, within [`ServerConfig::credential_recheck`](crate::server::ServerConfig).
pub fn guarded<S: Stream>(
    state: &AppState,
    caller: &Caller,
    slot: OwnedSemaphorePermit,
    stream: S,
) -> impl Stream<Item = S::Item> + use<S> {
    let mut shutdown = state.shutdown.clone();
    let (engine, identity) = (state.engine.clone(), caller.0.clone());
    let every = state.config.credential_recheck;
    let (mut wake, gate) = (engine.revocations(), Arc::new(tokio::sync::Mutex::new(engine.revocations())));
    let (lapse_engine, lapse_identity) = (engine.clone(), identity.clone());
    let lapsed = async move {
        let Some(identity) = lapse_identity else { return std::future::pending::<()>().await };
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                changed = wake.changed() => if changed.is_err() { return },
            }
            if !still_valid(&lapse_engine, &identity).await {
                return;
            }
        }
    };
    let end = async move {
        tokio::select! {
            // An error means the server (the sender) is gone, which is also the end.
            _ = shutdown.wait_for(|closing| *closing) => {}
            () = lapsed => {}
        }
    };
    stream
        .take_until(end)
        .then(move |item| {
            let (engine, identity, gate) = (engine.clone(), identity.clone(), gate.clone());
            async move {
                let Some(identity) = identity else { return Some(item) };
                let mut revocations = gate.lock().await;
                if revocations.has_changed().unwrap_or(true) {
                    revocations.mark_unchanged();
                    if !still_valid(&engine, &identity).await {
                        return None;
                    }
                }
                Some(item)
            }
        })
        .take_while(|item| ready(item.is_some()))
        .filter_map(ready)
        .map(move |item| {
            let _slot = &slot;
            item
        })
}

/// Whether the stream's token still authenticates; a store that cannot answer ends the stream
/// too (the client reconnects and is authenticated afresh).
async fn still_valid(engine: &loco_core::Engine, identity: &loco_core::identity::Identity) -> bool {
    let valid = engine.still_valid(identity).await.unwrap_or(false);
    if !valid {
        tracing::info!(subject = %identity.subject, "event stream ended: its token is no longer valid");
    }
    valid
}

fn subscribe(state: &AppState, after: Option<i64>) -> EventSubscription {
    match after {
        Some(seq) => state.engine.subscribe_after(seq),
        None => state.engine.subscribe(),
    }
}

/// Committed events as SSE frames, optionally only one deployment's.
fn frames(subscription: EventSubscription, only: Option<String>) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let events = stream::unfold(Some(subscription), |subscription| async move {
        let mut subscription = subscription?;
        match subscription.next().await? {
            Ok(event) => Some((Ok(event), Some(subscription))),
            // Report the failure and end the stream; the client resumes with Last-Event-ID.
            Err(error) => Some((Err(error), None)),
        }
    });
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
    state.engine.session(caller.0.clone()).reader()?;
    let after = resume_point(&headers, &stream_params(query.as_deref())?)?;
    let slot = stream_slot(&state)?;
    let subscription = subscribe(&state, after);
    Ok(Sse::new(guarded(&state, &caller, slot, frames(subscription, None))).keep_alive(keep_alive(&state)))
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
    state.engine.session(caller.0.clone()).reader()?;
    let after = resume_point(&headers, &stream_params(query.as_deref())?)?;
    let slot = stream_slot(&state)?;
    // Subscribe before the existence check so nothing committed in between is missed.
    let subscription = subscribe(&state, after);
    state.engine.get(&id).await?;
    Ok(Sse::new(guarded(&state, &caller, slot, frames(subscription, Some(id)))).keep_alive(keep_alive(&state)))
}

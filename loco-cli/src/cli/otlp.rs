//! OTLP export of Loco's `tracing` spans — a request, the rollout it started, each step — to an
//! OpenTelemetry collector over OTLP/HTTP with JSON bodies (`POST {endpoint}/v1/traces`). Off
//! unless `loco serve --otlp-endpoint URL` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) names one: no
//! network otherwise. Spans are batched (every second, or 512 at a time) on a bounded queue; when a
//! collector cannot keep up, spans are dropped and counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, warn};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Spans waiting to be sent, at most.
const QUEUE: usize = 4096;
/// Spans in one export request, at most.
const BATCH: usize = 512;
/// How long a span may wait for its batch.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A `tracing` layer that sends every closed span of Loco's own crates to an OTLP collector.
pub struct OtlpLayer {
    spans: mpsc::Sender<Value>,
    dropped: Arc<AtomicU64>,
}

/// What is kept of an open span.
struct Open {
    trace_id: u128,
    span_id: u64,
    parent_id: Option<u64>,
    start: SystemTime,
    attributes: Vec<(String, String)>,
}

impl OtlpLayer {
    /// The layer, and the task that exports its spans to `endpoint` (the collector's base URL,
    /// `http://127.0.0.1:4318`); call from inside the Tokio runtime.
    pub fn start(endpoint: &str) -> Self {
        let (spans, queue) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        tokio::spawn(export(url, queue, dropped.clone()));
        Self { spans, dropped }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for OtlpLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !span.metadata().target().starts_with("loco") {
            return;
        }
        let parent = span.scope().skip(1).find_map(|p| p.extensions().get::<Open>().map(|o| (o.trace_id, o.span_id)));
        let mut fields = Fields(Vec::new());
        attrs.record(&mut fields);
        let open = Open {
            trace_id: parent.map_or_else(|| ulid::Ulid::new().0, |(trace, _)| trace),
            span_id: random_span_id(),
            parent_id: parent.map(|(_, id)| id),
            start: SystemTime::now(),
            attributes: fields.0,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            let mut fields = Fields(Vec::new());
            values.record(&mut fields);
            open.attributes.extend(fields.0);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else { return };
        let mut otlp = json!({
            "traceId": format!("{:032x}", open.trace_id),
            "spanId": format!("{:016x}", open.span_id),
            "name": span.metadata().name(),
            "kind": 1,
            "startTimeUnixNano": nanos(open.start),
            "endTimeUnixNano": nanos(SystemTime::now()),
            "attributes": open.attributes.iter().map(|(k, v)| json!({"key": k, "value": {"stringValue": v}})).collect::<Vec<_>>(),
        });
        if let Some(parent) = open.parent_id {
            otlp["parentSpanId"] = json!(format!("{parent:016x}"));
        }
        if self.spans.try_send(otlp).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends batches until the layer is gone (the process ends).
async fn export(url: String, mut queue: mpsc::Receiver<Value>, dropped: Arc<AtomicU64>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let more = match tokio::time::timeout(FLUSH_EVERY, queue.recv()).await {
            Ok(Some(span)) => {
                batch.push(span);
                batch.len() < BATCH
            }
            // The layer is gone, or a second passed: send what there is.
            Ok(None) | Err(_) => false,
        };
        if more || batch.is_empty() {
            if queue.is_closed() && queue.is_empty() && batch.is_empty() {
                return;
            }
            continue;
        }
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "loco"}},
                {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            ]},
            "scopeSpans": [{"scope": {"name": "loco"}, "spans": std::mem::take(&mut batch)}],
        }]});
        // Not logged through `tracing` with a span, so exporting never feeds itself.
        if let Err(e) = client.post(&url).json(&body).send().await.and_then(reqwest::Response::error_for_status) {
            warn!(error = %e, dropped = dropped.load(Ordering::Relaxed), "OTLP export failed; those spans are lost");
        }
    }
}

fn nanos(at: SystemTime) -> String {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()).to_string()
}

/// A random, non-zero span id (OTLP forbids zero).
fn random_span_id() -> u64 {
    let id = ulid::Ulid::new().random() as u64;
    if id == 0 { 1 } else { id }
}

/// A span's fields as text attributes.
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

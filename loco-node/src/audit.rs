//! The audit chain verification report as a plain JavaScript object.

use napi_derive::napi;

/// The result of walking the whole audit chain (`Engine.verifyAudit`).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct AuditReport {
    /// True when every link and every deployment's state matched.
    pub valid: bool,
    /// How many events were checked.
    pub events_checked: i64,
    /// The hash of the last event checked; record it elsewhere to detect truncation later.
    pub head_hash: Option<String>,
    /// The first problem found, if any.
    pub first_broken: Option<BrokenLink>,
}

/// Where and why the chain first failed to verify.
#[napi(object, object_from_js = false)]
pub struct BrokenLink {
    /// The sequence number of the offending event.
    pub seq: i64,
    /// The offending event's id.
    pub event_id: String,
    /// The deployment it belongs to.
    pub deployment_id: String,
    /// What is wrong, in one sentence.
    pub reason: String,
}

impl From<loco_core::AuditReport> for AuditReport {
    fn from(r: loco_core::AuditReport) -> Self {
        Self {
            valid: r.valid,
            events_checked: i64::try_from(r.events_checked).unwrap_or(i64::MAX),
            head_hash: r.head_hash,
            first_broken: r.first_broken.map(|b| BrokenLink {
                seq: b.seq,
                event_id: b.event_id,
                deployment_id: b.deployment_id,
                reason: b.reason,
            }),
        }
    }
}

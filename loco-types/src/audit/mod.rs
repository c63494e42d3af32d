//! The tamper-evident audit chain: every event's hash covers the previous event's hash and the
//! event's own canonical bytes, so editing, deleting or reordering any stored event breaks the
//! chain at that point; every deployment's stored row is checked against the state its events
//! establish ([`replay`]); and the chain's head can be exported and later checked ([`head`]), so
//! a truncated tail is found too.
//!
//! [`ChainVerifier`] is the whole check, shared by every storage backend: a backend feeds it the
//! events in `seq` order, then each deployment's row with its events, then any event whose
//! deployment has no row, and reports what it finishes with.

pub mod head;
pub mod replay;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Deployment, Event};

pub use head::AuditHead;
pub use replay::Checked;

/// The hash the first event chains from.
pub const GENESIS_HASH: &str = "";

/// `sha256(prev_hash ‖ canonical(event))` as lowercase hex. The canonical bytes are the JSON array
/// `[seq, id, deployment_id, kind, actor, note, from_status, to_status, at]`, followed by the
/// event's request id (a JSON string) when it has one, then by the event's data as stored —
/// `data_text`, made by [`canonical_data`], always an object — when it has any (events written
/// before request ids were recorded hash exactly as they did). The stored
/// text itself is hashed, never a re-serialization of parsed JSON, so floating-point numbers in
/// the data cannot change the bytes between writing and verifying.
pub fn event_hash(prev_hash: &str, event: &Event, data_text: Option<&str>) -> String {
    let mut fields = vec![
        serde_json::json!(event.seq),
        serde_json::json!(event.id),
        serde_json::json!(event.deployment_id),
        serde_json::json!(event.kind),
        serde_json::json!(event.actor),
        serde_json::json!(event.note),
        serde_json::json!(event.from_status),
        serde_json::json!(event.to_status),
        serde_json::json!(event.at),
    ];
    if let Some(request_id) = &event.request_id {
        fields.push(serde_json::json!(request_id));
    }
    let mut canonical = String::new();
    write_canonical(&serde_json::Value::Array(fields), &mut canonical);
    if let Some(text) = data_text {
        canonical.pop(); // the closing ']'
        canonical.push(',');
        canonical.push_str(text);
        canonical.push(']');
    }
    sha256_hex(&[prev_hash.as_bytes(), canonical.as_bytes()])
}

/// The text an event's data is stored (and hashed) as: JSON with object keys sorted at every level.
pub fn canonical_data(data: &serde_json::Value) -> String {
    let mut text = String::new();
    write_canonical(data, &mut text);
    text
}

/// JSON with object keys sorted at every level, independent of how a `serde_json::Map` orders
/// keys in a given build (the `preserve_order` feature may be on in one binary and off in another).
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The SHA-256 of the concatenated `parts`, as lowercase hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    use std::fmt::Write;
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The result of walking the whole audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditReport {
    /// True when every link, every deployment's state and the exported head (when one was given)
    /// matched.
    pub valid: bool,
    /// How many events were checked.
    pub events_checked: u64,
    /// How many deployments were compared with the state their events establish.
    pub deployments_checked: u64,
    /// How many of those were compared on their status only: their `created` event predates the
    /// audit covering whole records, so their history does not say what was requested.
    pub deployments_status_only: u64,
    /// The hash of the last event checked, when everything matched (export the head with
    /// `audit_head` to detect truncation later).
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub head_hash: Option<String>,
    /// The `seq` of the exported head the chain was checked against; `null` without one.
    #[schemars(with = "crate::schema::Nullable<i64>")]
    pub exported_head_seq: Option<i64>,
    /// The first problem found, if any.
    #[schemars(with = "crate::schema::Nullable<BrokenLink>")]
    pub first_broken: Option<BrokenLink>,
}

impl AuditReport {
    /// Marks the report broken by `link`, unless an earlier problem was already found (for
    /// problems found after the walk, such as an exported head that does not match).
    pub fn break_at(&mut self, link: BrokenLink) {
        if self.first_broken.is_none() {
            self.first_broken = Some(link);
        }
        self.valid = false;
        self.head_hash = None;
    }
}

/// Where and why the chain first failed to verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BrokenLink {
    /// The sequence number of the offending event (or of the last lifecycle event of the
    /// deployment whose current state disagrees with its history, or of a missing exported head;
    /// 0 when there is no such event).
    pub seq: i64,
    /// The offending event's id (empty when there is no such event).
    pub event_id: String,
    /// The deployment it belongs to (empty when the problem is not one deployment's).
    pub deployment_id: String,
    /// The deployment field whose stored value disagrees with its history (`version`,
    /// `reviewed_by`, …); `null` when the problem is not one field.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub field: Option<String>,
    /// What is wrong, in one sentence.
    pub reason: String,
}

impl BrokenLink {
    /// A problem at `event`.
    pub fn at(event: &Event, reason: impl Into<String>) -> Self {
        Self {
            seq: event.seq,
            event_id: event.id.clone(),
            deployment_id: event.deployment_id.clone(),
            field: None,
            reason: reason.into(),
        }
    }
}

/// Walks events in `seq` order and checks every link, then every deployment against its
/// history. Feed it with [`ChainVerifier::check`] (every event, in `seq` order), then
/// [`ChainVerifier::check_deployment`] (every deployment row with its events) and
/// [`ChainVerifier::orphaned`] (events whose deployment has no row), and finish with
/// [`ChainVerifier::finish`]; storage backends share this so the rule exists once.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    prev_hash: String,
    expected_seq: i64,
    checked: u64,
    deployments: u64,
    status_only: u64,
    broken: Option<BrokenLink>,
}

impl ChainVerifier {
    /// A verifier positioned before the first event.
    pub fn new() -> Self {
        Self {
            prev_hash: GENESIS_HASH.to_owned(),
            expected_seq: 1,
            checked: 0,
            deployments: 0,
            status_only: 0,
            broken: None,
        }
    }

    /// Whether no problem has been found so far (once one has, feeding more changes nothing).
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }

    /// Checks the next event, whose data is stored as `data_text`. Returns false once a broken
    /// link has been found (stop feeding).
    pub fn check(&mut self, event: &Event, data_text: Option<&str>) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let reason = if event.seq != self.expected_seq {
            Some(format!("expected event #{} but found #{} (an event is missing)", self.expected_seq, event.seq))
        } else if event_hash(&self.prev_hash, event, data_text) == event.hash {
            None
        } else {
            Some("stored hash does not match the event and its predecessor (edited or reordered)".to_owned())
        };
        if let Some(reason) = reason {
            self.broken = Some(BrokenLink::at(event, reason));
            return false;
        }
        self.prev_hash.clone_from(&event.hash);
        self.expected_seq += 1;
        true
    }

    /// Compares one deployment's stored row with the state its events (all of them, or only its
    /// lifecycle events, oldest first) establish; see [`replay::check_deployment`]. Returns false
    /// once a problem has been found (stop feeding).
    pub fn check_deployment(&mut self, stored: &Deployment, events: &[Event]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        match replay::check_deployment(stored, events) {
            Ok(checked) => {
                self.deployments += 1;
                if checked == Checked::StatusOnly {
                    self.status_only += 1;
                }
                true
            }
            Err(link) => {
                self.broken = Some(link);
                false
            }
        }
    }

    /// Records `event`, whose deployment has no row (deleted, or its id changed), as a problem
    /// unless an earlier one was already found.
    pub fn orphaned(&mut self, event: &Event) {
        if self.broken.is_none() {
            let reason = format!(
                "event #{} belongs to deployment {}, which has no row (deleted, or its id was changed)",
                event.seq, event.deployment_id
            );
            self.broken = Some(BrokenLink::at(event, reason));
        }
    }

    /// The report for everything checked so far.
    pub fn finish(self) -> AuditReport {
        AuditReport {
            valid: self.broken.is_none(),
            events_checked: self.checked,
            deployments_checked: self.deployments,
            deployments_status_only: self.status_only,
            head_hash: (self.checked > 0 && self.broken.is_none()).then_some(self.prev_hash),
            exported_head_seq: None,
            first_broken: self.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Status;
    use crate::model::{EventKind, Timestamp};

    fn chain(n: i64) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = Event {
                    seq,
                    id: format!("evt_{seq}"),
                    deployment_id: "dep_1".into(),
                    kind: EventKind::Created,
                    actor: "alice".into(),
                    request_id: None,
                    note: None,
                    from_status: None,
                    to_status: Some(Status::PendingApproval),
                    at: Timestamp::parse("2026-11-23T00:00:00Z").unwrap(),
                    data: (seq % 2 == 0).then(|| serde_json::json!({"step": seq, "traffic": {"v2": 25}})),
                    hash: String::new(),
                };
                e.hash = event_hash(&prev, &e, text(&e).as_deref());
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    fn text(e: &Event) -> Option<String> {
        e.data.as_ref().map(canonical_data)
    }

    fn verify(events: &[Event]) -> AuditReport {
        let mut v = ChainVerifier::new();
        for e in events {
            if !v.check(e, text(e).as_deref()) {
                break;
            }
        }
        v.finish()
    }

    #[test]
    fn an_event_without_a_request_id_hashes_as_before_and_one_with_it_covers_it() {
        let mut e = chain(2).pop().unwrap();
        let canonical =
            r#"["evt_2","dep_1","created","alice",null,null,"pending_approval","2026-11-23T00:00:00.000000Z"]"#;
        let data = text(&e).unwrap();
        let before = sha256_hex(&[
            b"prev",
            format!("[2,{}", &canonical[1..canonical.len() - 1]).as_bytes(),
            b",",
            data.as_bytes(),
            b"]",
        ]);
        assert_eq!(event_hash("prev", &e, Some(&data)), before, "the bytes of events written before request ids");
        e.request_id = Some("req-1".into());
        let with =
            sha256_hex(&[b"prev", format!("[2,{},\"req-1\",{data}]", &canonical[1..canonical.len() - 1]).as_bytes()]);
        assert_eq!(event_hash("prev", &e, Some(&data)), with);
        assert_ne!(with, before);
    }

    #[test]
    fn intact_chain_verifies() {
        let events = chain(5);
        let report = verify(&events);
        assert!(report.valid);
        assert_eq!(report.events_checked, 5);
        assert_eq!(report.head_hash.as_deref(), Some(events[4].hash.as_str()));
        assert_eq!(events[0].hash.len(), 64);
    }

    #[test]
    fn edited_note_breaks_at_that_event() {
        let mut events = chain(5);
        events[2].note = Some("edited".into());
        let broken = verify(&events).first_broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("does not match"));
    }

    #[test]
    fn canonical_bytes_do_not_depend_on_key_order() {
        let mut a = chain(1).remove(0);
        let mut b = a.clone();
        a.data = Some(serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}}"#).unwrap());
        b.data = Some(serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1}"#).unwrap());
        assert_eq!(event_hash("", &a, text(&a).as_deref()), event_hash("", &b, text(&b).as_deref()));
        assert_eq!(text(&a).unwrap(), r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#);
    }

    #[test]
    fn the_stored_text_is_hashed_not_a_reparse() {
        // 0.1 + 0.2 has a 17-digit shortest form; parsing it back must not be needed to verify.
        let mut e = chain(1).remove(0);
        e.data = Some(serde_json::json!({"p_value": 0.1 + 0.2, "z": 1.0e-300}));
        let stored = text(&e).unwrap();
        let hash = event_hash("", &e, Some(&stored));
        e.data = serde_json::from_str(&stored).ok();
        assert_eq!(event_hash("", &e, Some(&stored)), hash);
        assert_ne!(event_hash("", &e, Some(&stored.replace("0.30000000000000004", "0.3"))), hash);
    }

    #[test]
    fn edited_data_breaks_at_that_event() {
        let mut events = chain(5);
        events[3].data = Some(serde_json::json!({"step": 4, "traffic": {"v2": 100}}));
        assert_eq!(verify(&events).first_broken.unwrap().seq, 4);
        let mut dropped = chain(5);
        dropped[1].data = None;
        assert_eq!(verify(&dropped).first_broken.unwrap().seq, 2, "removing data breaks the link too");
    }

    #[test]
    fn deleted_event_breaks_at_the_gap() {
        let mut events = chain(5);
        events.remove(1);
        let report = verify(&events);
        assert!(!report.valid);
        assert_eq!(report.first_broken.unwrap().seq, 3);
        assert_eq!(report.head_hash, None);
    }

    #[test]
    fn reordered_events_break() {
        let mut events = chain(4);
        events.swap(1, 2);
        assert_eq!(verify(&events).first_broken.unwrap().seq, 3);
    }
}

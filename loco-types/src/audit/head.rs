//! The exported head of the audit chain: the position and hash of its last event, kept outside
//! the database so that a later verification can tell whether the chain still contains it. An
//! attacker who deletes the newest events (and fixes up the rows) leaves a chain that verifies on
//! its own; it no longer contains the exported head.
//!
//! With a key (`LOCO_AUDIT_KEY`), the head also carries `hmac`, the HMAC-SHA256 of
//! [`AuditHead::signed_message`], so a head cannot be forged to match a shortened chain by anyone
//! without the key. Computing it needs the key, so it lives with the engine (`loco_core`); this
//! module holds the record and the rule for checking it against the chain.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AuditReport, BrokenLink};
use crate::error::{Error, FieldError, Result};
use crate::model::{Event, Timestamp};

/// The head of the audit chain as exported: `{"seq", "hash", "hmac", "at"}`.
///
/// Always written with all four fields; read back with `hmac` and `at` optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["seq", "hash", "hmac", "at"]))]
pub struct AuditHead {
    /// The `seq` of the last event (0 for an empty chain).
    pub seq: i64,
    /// That event's hash, lowercase hex (empty for an empty chain).
    pub hash: String,
    /// HMAC-SHA256 of the decimal `seq` followed by `hash`, keyed with `LOCO_AUDIT_KEY`, lowercase
    /// hex; `null` when no key was set.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub hmac: Option<String>,
    /// When that event was recorded; `null` for an empty chain.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub at: Option<Timestamp>,
}

impl AuditHead {
    /// The unsigned head of a chain whose last event is `last` (`None`: an empty chain).
    pub fn of(last: Option<&Event>) -> Self {
        match last {
            Some(event) => Self { seq: event.seq, hash: event.hash.clone(), hmac: None, at: Some(event.at) },
            None => Self { seq: 0, hash: String::new(), hmac: None, at: None },
        }
    }

    /// The bytes the HMAC covers: the decimal `seq` immediately followed by `hash` (unambiguous,
    /// since a hash is always 64 characters or empty).
    pub fn signed_message(&self) -> String {
        format!("{}{}", self.seq, self.hash)
    }

    /// Parses an exported head (the JSON `audit_head` gives), strictly: unknown fields, wrong
    /// types and malformed values are validation errors naming `head.<field>`.
    pub fn from_json(json: &str) -> Result<Self> {
        let head: AuditHead = crate::document::parse(json, "head.", "head")?;
        head.validate()?;
        Ok(head)
    }

    /// A head from text parameters (a URL query): `None` when none is given; `seq` and `hash` are
    /// required together with any other, and each bad value is a validation error naming it.
    pub fn from_params(
        seq: Option<&str>,
        hash: Option<&str>,
        hmac: Option<&str>,
        at: Option<&str>,
    ) -> Result<Option<Self>> {
        if seq.is_none() && hash.is_none() && hmac.is_none() && at.is_none() {
            return Ok(None);
        }
        let mut details = Vec::new();
        let parsed_seq = match seq {
            None => {
                details.push(FieldError::new("seq", "is required with an exported head"));
                None
            }
            Some(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| {
                    details.push(FieldError::new("seq", format!("'{text}' is not an event number")));
                })
                .ok(),
        };
        let parsed_at = match at {
            None => None,
            Some(text) => Timestamp::parse(text)
                .map_err(|_| {
                    details.push(FieldError::new("at", format!("'{text}' is not an RFC 3339 time")));
                })
                .ok(),
        };
        let head = Self {
            // An unreadable seq is already reported; 1 only lets the other fields be checked.
            seq: parsed_seq.unwrap_or(1),
            hash: hash.unwrap_or_default().to_owned(),
            hmac: hmac.map(str::to_owned),
            at: parsed_at,
        };
        if let Err(Error::Validation { details: more }) = head.validate_fields("") {
            details.extend(more);
        }
        if details.is_empty() { Ok(Some(head)) } else { Err(Error::Validation { details }) }
    }

    /// Checks the shape of every field: `seq` ≥ 0, `hash` 64 lowercase hex characters (empty only
    /// with `seq` 0), `hmac` 64 lowercase hex characters when present.
    pub fn validate(&self) -> Result<()> {
        self.validate_fields("head.")
    }

    fn validate_fields(&self, prefix: &str) -> Result<()> {
        let mut details = Vec::new();
        if self.seq < 0 {
            details.push(FieldError::new(format!("{prefix}seq"), format!("must be 0 or more; got {}", self.seq)));
        }
        let empty_chain = self.seq == 0 && self.hash.is_empty();
        if !empty_chain && !is_hex_digest(&self.hash) {
            let message = if self.seq == 0 {
                "must be empty for an empty chain (seq 0)"
            } else {
                "must be a SHA-256 hash: 64 lowercase hex characters"
            };
            details.push(FieldError::new(format!("{prefix}hash"), message));
        }
        if self.hmac.as_deref().is_some_and(|h| !is_hex_digest(h)) {
            details.push(FieldError::new(format!("{prefix}hmac"), "must be 64 lowercase hex characters"));
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// What is wrong with the chain given this exported head: `event` is the chain's event at
    /// `self.seq` (`None` when there is none) and `chain_len` the number of events it has. A head
    /// of seq 0 is in every chain.
    pub fn mismatch(&self, event: Option<&Event>, chain_len: u64) -> Option<BrokenLink> {
        let link = |reason: String| BrokenLink {
            seq: self.seq,
            event_id: event.map(|e| e.id.clone()).unwrap_or_default(),
            deployment_id: event.map(|e| e.deployment_id.clone()).unwrap_or_default(),
            field: None,
            reason,
        };
        if self.seq == 0 {
            return None;
        }
        let Some(event) = event.filter(|e| e.seq == self.seq) else {
            return Some(link(format!(
                "the exported head is event #{} but the chain ends at #{chain_len} (events after it were deleted)",
                self.seq
            )));
        };
        if event.hash != self.hash {
            return Some(link(format!(
                "event #{} has hash {} but the exported head says {} (the history up to the head was rewritten)",
                self.seq, event.hash, self.hash
            )));
        }
        match self.at {
            Some(at) if at != event.at => {
                Some(link(format!("event #{} was recorded at {} but the exported head says {at}", self.seq, event.at)))
            }
            _ => None,
        }
    }
}

impl AuditHead {
    /// The problem of a head whose HMAC does not verify with the key in use (or that carries none
    /// while a key is set).
    pub fn bad_signature(&self) -> BrokenLink {
        let reason = if self.hmac.is_some() {
            "the exported head's HMAC does not match: it was made with another LOCO_AUDIT_KEY, or the head was edited"
        } else {
            "the exported head carries no HMAC but LOCO_AUDIT_KEY is set: it was exported without the key, or its \
             HMAC was removed"
        };
        BrokenLink {
            seq: self.seq,
            event_id: String::new(),
            deployment_id: String::new(),
            field: None,
            reason: reason.to_owned(),
        }
    }
}

impl AuditReport {
    /// Checks this report's chain against an exported `head` (see [`AuditHead::mismatch`]; `event`
    /// is the chain's event at `head.seq`) and records that it did. A chain already broken keeps
    /// its first problem.
    pub fn check_head(&mut self, head: &AuditHead, event: Option<&Event>) {
        self.exported_head_seq = Some(head.seq);
        if !self.valid {
            return;
        }
        if let Some(link) = head.mismatch(event, self.events_checked) {
            self.break_at(link);
        }
    }
}

fn is_hex_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::ChainVerifier;
    use crate::lifecycle::Status;
    use crate::model::EventKind;

    fn event(seq: i64, hash: char) -> Event {
        Event {
            seq,
            id: format!("evt_{seq}"),
            deployment_id: "dep_1".into(),
            kind: EventKind::Approved,
            actor: "bob".into(),
            request_id: None,
            note: None,
            from_status: Some(Status::PendingApproval),
            to_status: Some(Status::Approved),
            at: Timestamp::parse("2026-11-23T08:00:00Z").unwrap(),
            hash: hash.to_string().repeat(64),
            data: None,
        }
    }

    fn report(events: u64) -> AuditReport {
        let mut report = ChainVerifier::new().finish();
        (report.events_checked, report.head_hash) = (events, Some("f".repeat(64)));
        report
    }

    #[test]
    fn a_head_the_chain_still_contains_verifies() {
        let head = AuditHead::of(Some(&event(7, 'a')));
        assert_eq!(head.signed_message(), format!("7{}", "a".repeat(64)));
        let mut r = report(9);
        r.check_head(&head, Some(&event(7, 'a')));
        assert!(r.valid, "{r:?}");
        assert_eq!(r.exported_head_seq, Some(7));
        let empty = AuditHead::of(None);
        assert_eq!((empty.seq, empty.hash.as_str(), empty.at), (0, "", None));
        assert_eq!(empty.mismatch(None, 0), None);
    }

    #[test]
    fn a_truncated_or_rewritten_chain_does_not() {
        let head = AuditHead::of(Some(&event(7, 'a')));
        let mut truncated = report(5);
        truncated.check_head(&head, None);
        let broken = truncated.first_broken.clone().unwrap();
        assert!(!truncated.valid && truncated.head_hash.is_none());
        assert_eq!(
            (broken.seq, broken.reason.as_str()),
            (7, "the exported head is event #7 but the chain ends at #5 (events after it were deleted)")
        );
        let mut rewritten = report(9);
        rewritten.check_head(&head, Some(&event(7, 'b')));
        assert!(rewritten.first_broken.unwrap().reason.contains("rewritten"));
        let mut moved = head.clone();
        moved.at = Some(Timestamp::parse("2026-11-24T08:00:00Z").unwrap());
        assert!(moved.mismatch(Some(&event(7, 'a')), 9).unwrap().reason.contains("recorded at"));
    }

    #[test]
    fn an_exported_head_is_parsed_strictly() {
        let hash = "a".repeat(64);
        let json = format!(r#"{{"seq": 7, "hash": "{hash}", "hmac": null, "at": "2026-11-23T08:00:00Z"}}"#);
        assert_eq!(AuditHead::from_json(&json).unwrap(), AuditHead::of(Some(&event(7, 'a'))));
        assert_eq!(AuditHead::from_json(&format!(r#"{{"seq": 7, "hash": "{hash}"}}"#)).unwrap().hmac, None);
        let field = |json: &str| AuditHead::from_json(json).unwrap_err().details()[0].field.clone();
        assert_eq!(field(r#"{"seq": 7, "hash": "abc"}"#), "head.hash");
        assert_eq!(field(&format!(r#"{{"seq": -1, "hash": "{hash}"}}"#)), "head.seq");
        assert_eq!(field(&format!(r#"{{"seq": 7, "hash": "{hash}", "hmac": "XYZ"}}"#)), "head.hmac");
        assert_eq!(field(&format!(r#"{{"seq": 7, "hash": "{hash}", "colour": 1}}"#)), "head.colour");
        assert_eq!(field("not json"), "head");
    }

    #[test]
    fn a_head_from_query_parameters_names_each_bad_one() {
        let hash = "a".repeat(64);
        assert_eq!(AuditHead::from_params(None, None, None, None).unwrap(), None);
        let head = AuditHead::from_params(Some("7"), Some(&hash), None, Some("2026-11-23T08:00:00Z")).unwrap();
        assert_eq!(head, Some(AuditHead::of(Some(&event(7, 'a')))));
        let fields = |seq, hash, hmac, at| -> Vec<String> {
            let err = AuditHead::from_params(seq, hash, hmac, at).unwrap_err();
            err.details().iter().map(|d| d.field.clone()).collect()
        };
        assert_eq!(fields(None, Some(hash.as_str()), None, None), vec!["seq"]);
        assert_eq!(fields(Some("x"), Some(hash.as_str()), None, None), vec!["seq"]);
        assert_eq!(fields(Some("-3"), Some(hash.as_str()), None, None), vec!["seq"]);
        assert_eq!(fields(Some("7"), None, Some("zz"), Some("soon")), vec!["at", "hash", "hmac"]);
    }
}

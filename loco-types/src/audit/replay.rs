//! What a deployment's history establishes: its lifecycle events replayed through the same rules
//! that wrote them ([`rules::creation`], [`rules::decide_action`]), compared field by field with
//! the deployment's stored row.
//!
//! A `created` event carries the request it accepted, so its hash covers every field the
//! deployment starts with; every later lifecycle event's own fields (`to_status`, `actor`, `at`)
//! are what it changes (status, reviewer, review and update times). A `created` event written
//! before that carries no request: such a deployment is compared on its status only
//! ([`Checked::StatusOnly`]).
//!
//! ```
//! use loco_types::audit::replay::{check_deployment, Checked};
//! use loco_types::model::{Event, NewDeployment, Timestamp};
//! use loco_types::rules::creation;
//!
//! let request = NewDeployment {
//!     service: "api".into(), environment: "dev".into(), version: "1.2.3".into(),
//!     requester: "alice".into(), work_refs: vec!["PAY-1".into()],
//!     rollback_plan: "redeploy 1.2.2".into(), risk: None, commit: Some("9f2c1e7".into()),
//! };
//! let created = creation("dep_1".into(), request, Timestamp::now());
//! let e = created.event;
//! let event = Event {
//!     seq: 1, id: "evt_1".into(), deployment_id: e.deployment_id, kind: e.kind, actor: e.actor,
//!     request_id: e.request_id, note: e.note, from_status: e.from_status, to_status: e.to_status, at: e.at,
//!     hash: String::new(), data: e.data,
//! };
//! let mut stored = created.deployment;
//! assert_eq!(check_deployment(&stored, &[event.clone()]), Ok(Checked::Record));
//! stored.version = "9.9.9".into();
//! let broken = check_deployment(&stored, &[event]).unwrap_err();
//! assert_eq!(broken.field.as_deref(), Some("version"));
//! assert_eq!(broken.reason, "deployment dep_1 has version '9.9.9' but its events establish '1.2.3'");
//! ```

use serde::Serialize;

use super::BrokenLink;
use crate::event_data::{CreatedData, EventData};
use crate::lifecycle::ActionInput;
use crate::model::{Deployment, Event, EventKind};
use crate::rules::{self, EventDraft, Origin};

/// Longest rendering of a value in a report's reason, in characters.
const SHOWN_CHARS: usize = 80;

/// How a deployment was compared with its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Every field: its `created` event carries the request.
    Record,
    /// Its status only: its `created` event predates the audit covering whole records.
    StatusOnly,
}

/// Compares `stored` with the state its `events` establish. `events` are the deployment's
/// events, oldest first; rollout events among them are skipped (they change no deployment field).
/// Returns how the deployment was compared, or the first problem: a history that does not start
/// with `created`, an event the lifecycle rules would not have written, or the first field whose
/// stored value differs from the established one.
pub fn check_deployment(stored: &Deployment, events: &[Event]) -> Result<Checked, BrokenLink> {
    let lifecycle: Vec<&Event> = events.iter().filter(|e| e.kind.is_lifecycle()).collect();
    let (Some(first), Some(last)) = (lifecycle.first(), lifecycle.last()) else {
        return Err(BrokenLink {
            seq: 0,
            event_id: String::new(),
            deployment_id: stored.id.clone(),
            field: None,
            reason: format!("deployment {} has no events (its history is missing)", stored.id),
        });
    };
    if first.kind != EventKind::Created {
        let reason = format!(
            "deployment {}'s history starts with event #{} ({}), not created",
            stored.id, first.seq, first.kind
        );
        return Err(BrokenLink::at(first, reason));
    }
    let Some(request) = &first.data else {
        // Written before the created event carried its request: only the status can be compared.
        return match last.to_status {
            Some(status) if status == stored.status => Ok(Checked::StatusOnly),
            established => Err(mismatch(stored, last, "status", &Some(stored.status), &established)),
        };
    };
    let Ok(Some(EventData::Created(request))) = EventData::parse(first.kind, request) else {
        let reason = format!("event #{} (created) does not carry a readable request", first.seq);
        return Err(BrokenLink::at(first, reason));
    };
    let established = replay(first, request, &lifecycle[1..])?;
    match first_difference(stored, &established) {
        None => Ok(Checked::Record),
        Some(difference) => Err(BrokenLink {
            field: Some(difference.field.to_owned()),
            reason: format!(
                "deployment {} has {} {} but its events establish {}",
                stored.id, difference.field, difference.stored, difference.established
            ),
            ..BrokenLink::at(last, "")
        }),
    }
}

/// The deployment `created` and then `later` (lifecycle events, oldest first) establish, each
/// applied by the rule that writes it; an event the rule would refuse or write differently is a
/// problem.
fn replay(created: &Event, request: CreatedData, later: &[&Event]) -> Result<Deployment, BrokenLink> {
    let manifest_version = request.manifest_version;
    let mut change = rules::creation(created.deployment_id.clone(), request.into(), created.at);
    // The manifest version is a fact of the create's transaction (the pipeline it read), which
    // the hash covers; the rules add it as the store did.
    if let Some(version) = manifest_version {
        change.event.record_manifest_version(version);
    }
    expect(created, &change.event)?;
    let mut state = change.deployment;
    for event in later {
        let Some(action) = event.kind.action() else {
            return Err(BrokenLink::at(event, format!("event #{} is a second created event", event.seq)));
        };
        let input = ActionInput { note: event.note.clone(), ..ActionInput::new(event.actor.clone()) };
        // Who may act while a rollout runs is a rule about callers, not about what the action
        // establishes: replay applies every action as the rollout would.
        let change = rules::decide_action(&state, None, Origin::Rollout, action, &input, event.at).map_err(|e| {
            BrokenLink::at(
                event,
                format!("event #{} ({}) is not allowed by the lifecycle rules: {e}", event.seq, event.kind),
            )
        })?;
        expect(event, &change.event)?;
        state = change.deployment;
    }
    Ok(state)
}

/// Checks that the stored `event` is the event the rules write (`draft`).
fn expect(event: &Event, draft: &EventDraft) -> Result<(), BrokenLink> {
    let recorded = (event.from_status, event.to_status, event.data.as_ref());
    let ruled = (draft.from_status, draft.to_status, draft.data.as_ref());
    if recorded == ruled {
        return Ok(());
    }
    let transition = |from: Option<_>, to: Option<_>, data: Option<_>| {
        let show = |s: Option<crate::lifecycle::Status>| s.map_or("none".to_owned(), |s| s.to_string());
        let data = if data.is_some() { " with data" } else { "" };
        format!("{} -> {}{data}", show(from), show(to))
    };
    let reason = format!(
        "event #{} ({}) records {} but the lifecycle rules give {}",
        event.seq,
        event.kind,
        transition(recorded.0, recorded.1, recorded.2),
        transition(ruled.0, ruled.1, ruled.2)
    );
    Err(BrokenLink::at(event, reason))
}

/// The problem of `stored`'s `field`, whose value differs from the `established` one.
fn mismatch<T: Serialize>(stored: &Deployment, last: &Event, field: &str, value: &T, established: &T) -> BrokenLink {
    BrokenLink {
        field: Some(field.to_owned()),
        reason: format!(
            "deployment {} has {field} {} but its events establish {}",
            stored.id,
            shown(value),
            shown(established)
        ),
        ..BrokenLink::at(last, "")
    }
}

/// A field whose stored value differs from what the history establishes, both rendered.
struct Difference {
    field: &'static str,
    stored: String,
    established: String,
}

fn differs<T: PartialEq + Serialize>(field: &'static str, stored: &T, established: &T) -> Option<Difference> {
    (stored != established).then(|| Difference { field, stored: shown(stored), established: shown(established) })
}

/// The first field, in declaration order, whose stored value differs from the established one.
fn first_difference(stored: &Deployment, established: &Deployment) -> Option<Difference> {
    // Destructured so that a new field of `Deployment` cannot be left out of the comparison.
    let Deployment {
        id,
        service,
        environment,
        version,
        requester,
        work_refs,
        rollback_plan,
        risk,
        commit,
        status,
        reviewed_by,
        reviewed_at,
        created_at,
        updated_at,
    } = stored;
    let e = established;
    [
        differs("id", id, &e.id),
        differs("service", service, &e.service),
        differs("environment", environment, &e.environment),
        differs("version", version, &e.version),
        differs("requester", requester, &e.requester),
        differs("work_refs", work_refs, &e.work_refs),
        differs("rollback_plan", rollback_plan, &e.rollback_plan),
        differs("risk", risk, &e.risk),
        differs("commit", commit, &e.commit),
        differs("status", status, &e.status),
        differs("reviewed_by", reviewed_by, &e.reviewed_by),
        differs("reviewed_at", reviewed_at, &e.reviewed_at),
        differs("created_at", created_at, &e.created_at),
        differs("updated_at", updated_at, &e.updated_at),
    ]
    .into_iter()
    .flatten()
    .next()
}

/// A value as a reason shows it: text in single quotes, `null`, or JSON; cut at
/// [`SHOWN_CHARS`] characters.
fn shown<T: Serialize>(value: &T) -> String {
    let text = match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => format!("'{s}'"),
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    };
    if text.chars().count() <= SHOWN_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(SHOWN_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Action, Status};
    use crate::model::{NewDeployment, Timestamp};

    fn request() -> NewDeployment {
        NewDeployment {
            service: "api".into(),
            environment: "production".into(),
            version: "1.2.3".into(),
            requester: "alice".into(),
            work_refs: vec!["PAY-1".into(), "PAY-2".into()],
            rollback_plan: "redeploy 1.2.2".into(),
            risk: Some("schema change".into()),
            commit: None,
        }
    }

    fn event(seq: i64, draft: EventDraft) -> Event {
        Event {
            seq,
            id: format!("evt_{seq}"),
            deployment_id: draft.deployment_id,
            kind: draft.kind,
            actor: draft.actor,
            request_id: draft.request_id,
            note: draft.note,
            from_status: draft.from_status,
            to_status: draft.to_status,
            at: draft.at,
            hash: String::new(),
            data: draft.data,
        }
    }

    /// A deployment taken through `actions` by the rules, and its events.
    fn history(actions: &[(Action, &str)]) -> (Deployment, Vec<Event>) {
        let t0 = Timestamp::parse("2026-11-23T08:00:00Z").unwrap();
        let created = rules::creation("dep_1".into(), request(), t0);
        let mut events = vec![event(1, created.event)];
        let mut d = created.deployment;
        for (i, (action, actor)) in actions.iter().enumerate() {
            let at = t0.after(std::time::Duration::from_secs(60 * (i as u64 + 1)));
            let input = ActionInput { note: action.requires_note().then(|| "why".into()), ..ActionInput::new(*actor) };
            let change = rules::decide_action(&d, None, Origin::Caller, *action, &input, at).unwrap();
            events.push(event(i as i64 + 2, change.event));
            d = change.deployment;
        }
        (d, events)
    }

    fn reviewed() -> (Deployment, Vec<Event>) {
        history(&[(Action::Approve, "bob"), (Action::Start, "bot"), (Action::Succeed, "bot")])
    }

    #[test]
    fn a_row_that_matches_its_history_is_checked_in_full() {
        let (d, events) = reviewed();
        assert_eq!(check_deployment(&d, &events), Ok(Checked::Record));
        let (d, events) = history(&[(Action::Reject, "carol")]);
        assert_eq!(check_deployment(&d, &events), Ok(Checked::Record));
    }

    /// An edit of one field of a stored row, to a value at this time where it is a time.
    type Edit = fn(&mut Deployment, Timestamp);

    #[test]
    fn every_edited_field_is_named_with_both_values() {
        let (d, events) = reviewed();
        let t = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
        let edits: [(&str, Edit); 13] = [
            ("id", |d, _| d.id = "dep_2".into()),
            ("service", |d, _| d.service = "web".into()),
            ("environment", |d, _| d.environment = "staging".into()),
            ("version", |d, _| d.version = "9.9.9".into()),
            ("requester", |d, _| d.requester = "mallory".into()),
            ("work_refs", |d, _| d.work_refs.truncate(1)),
            ("rollback_plan", |d, _| d.rollback_plan = "none".into()),
            ("risk", |d, _| d.risk = None),
            ("status", |d, _| d.status = Status::RolledBack),
            ("reviewed_by", |d, _| d.reviewed_by = Some("mallory".into())),
            ("reviewed_at", |d, t| d.reviewed_at = Some(t)),
            ("created_at", |d, t| d.created_at = t),
            ("updated_at", |d, t| d.updated_at = t),
        ];
        for (field, edit) in edits {
            let mut edited = d.clone();
            edit(&mut edited, t);
            let broken = check_deployment(&edited, &events).unwrap_err();
            assert_eq!(broken.field.as_deref(), Some(field), "{}", broken.reason);
            assert_eq!((broken.seq, broken.event_id.as_str()), (4, "evt_4"), "the last lifecycle event");
            assert!(broken.reason.starts_with(&format!("deployment {} has {field} ", edited.id)), "{}", broken.reason);
        }
        let mut edited = d.clone();
        edited.version = "9.9.9".into();
        assert_eq!(
            check_deployment(&edited, &events).unwrap_err().reason,
            "deployment dep_1 has version '9.9.9' but its events establish '1.2.3'"
        );
        edited = d;
        edited.risk = None;
        assert_eq!(
            check_deployment(&edited, &events).unwrap_err().reason,
            "deployment dep_1 has risk null but its events establish 'schema change'"
        );
    }

    #[test]
    fn long_values_are_cut_in_the_reason() {
        let (mut d, events) = reviewed();
        d.rollback_plan = "x".repeat(10_000);
        let reason = check_deployment(&d, &events).unwrap_err().reason;
        assert!(reason.len() < 300 && reason.contains("xxx…"), "{reason}");
    }

    #[test]
    fn rollout_events_change_nothing_and_are_skipped() {
        let (d, mut events) = reviewed();
        let mut progress = events[1].clone();
        progress.kind = EventKind::StepProgress;
        (progress.from_status, progress.to_status) = (None, None);
        progress.data = Some(serde_json::json!({"action": "override"}));
        events.insert(3, progress);
        assert_eq!(check_deployment(&d, &events), Ok(Checked::Record));
    }

    #[test]
    fn a_history_the_rules_would_not_write_is_named() {
        let (d, events) = reviewed();
        let mut skipped = events.clone();
        skipped.remove(1); // approved: started now follows created
        let broken = check_deployment(&d, &skipped).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("not allowed by the lifecycle rules"), "{}", broken.reason);

        let mut self_approved = events.clone();
        self_approved[1].actor = " ALICE ".into();
        let broken = check_deployment(&d, &self_approved).unwrap_err();
        assert!(broken.reason.contains("review needs another person"), "{}", broken.reason);

        let mut mislabelled = events.clone();
        mislabelled[2].from_status = Some(Status::PendingApproval);
        let broken = check_deployment(&d, &mislabelled).unwrap_err();
        assert_eq!(
            broken.reason,
            "event #3 (started) records pending_approval -> started but the lifecycle rules give approved -> started"
        );

        let mut second = events.clone();
        second.push(events[0].clone());
        assert!(check_deployment(&d, &second).unwrap_err().reason.contains("second created"));

        let broken = check_deployment(&d, &events[1..]).unwrap_err();
        assert!(broken.reason.contains("not created"), "{}", broken.reason);
        let broken = check_deployment(&d, &[]).unwrap_err();
        assert_eq!((broken.seq, broken.deployment_id.as_str()), (0, "dep_1"));

        let mut unreadable = events;
        unreadable[0].data = Some(serde_json::json!({"service": "api"}));
        assert!(check_deployment(&d, &unreadable).unwrap_err().reason.contains("readable request"));
    }

    #[test]
    fn a_history_without_the_request_is_compared_on_status_only() {
        let (mut d, mut events) = reviewed();
        events[0].data = None;
        d.version = "9.9.9".into();
        d.reviewed_by = Some("mallory".into());
        assert_eq!(check_deployment(&d, &events), Ok(Checked::StatusOnly), "request fields cannot be checked");
        d.status = Status::Failed;
        let broken = check_deployment(&d, &events).unwrap_err();
        assert_eq!(broken.field.as_deref(), Some("status"));
        assert_eq!(broken.reason, "deployment dep_1 has status 'failed' but its events establish 'succeeded'");
    }
}

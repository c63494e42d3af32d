//! Approval gates: kept per environment and service (set, replaced, removed, surviving a reopen;
//! a service's own gate taking precedence over its environment's), and the
//! approvals they count inside the write transaction, so concurrent reviewers neither double
//! count nor leave a deployment one short.

use std::sync::Arc;

use loco_types::gate::{ApprovalGate, ReviewerGroup};
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::EventKind;
use loco_types::{Error, ErrorCode};

use super::{Backend, code, open, request};
use crate::Store;

fn gate(environment: &str, required: u32) -> ApprovalGate {
    ApprovalGate {
        environment: environment.to_owned(),
        service: None,
        required_approvals: required,
        approvers: Vec::new(),
        groups: Vec::new(),
        members: Vec::new(),
        expires_after_minutes: None,
        wait_minutes: None,
    }
}

fn kinds(events: &[loco_types::model::Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

pub(super) async fn gates_are_set_replaced_and_removed(backend: &dyn Backend) {
    let check = "gates_are_set_replaced_and_removed";
    let store = open(backend, check).await;
    store.put_gate(gate("Staging", 3), "root").await.expect("put");
    store.put_gate(gate("production", 2), "root").await.expect("put");
    store.put_gate(gate("staging", 2), "root").await.expect("replace: the same environment in another case");
    let gates = store.gates().await.expect("gates");
    let listed: Vec<(&str, u32)> = gates.iter().map(|g| (g.environment.as_str(), g.required_approvals)).collect();
    assert_eq!(listed, [("production", 2), ("staging", 2)], "{check}");
    store.close().await.expect("close");

    let store = open(backend, check).await;
    assert_eq!(store.gates().await.expect("gates").len(), 2, "{check}: gates survive a reopen");
    store.remove_gate("PRODUCTION", None).await.expect("remove ignores case");
    assert_eq!(code(check, store.remove_gate("production", None).await), ErrorCode::NotFound, "{check}");
    let removed_twice = store.remove_gate("production", None).await.unwrap_err();
    assert!(matches!(removed_twice, Error::GateNotFound { .. }), "{check}: {removed_twice:?}");
    assert_eq!(store.gates().await.expect("gates").len(), 1, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn a_services_own_gate_takes_precedence(backend: &dyn Backend) {
    let check = "a_services_own_gate_takes_precedence";
    let store = open(backend, check).await;
    let web = |required| ApprovalGate { service: Some("web".to_owned()), ..gate("staging", required) };
    store.put_gate(gate("staging", 1), "root").await.expect("the environment's");
    store.put_gate(web(3), "root").await.expect("web's own");
    store.put_gate(web(2), "root").await.expect("replace web's own");
    store.put_gate(ApprovalGate { service: Some("Web".to_owned()), ..gate("STAGING", 4) }, "root").await.expect("Web");
    let listed: Vec<(Option<String>, u32)> =
        store.gates().await.expect("gates").into_iter().map(|g| (g.service, g.required_approvals)).collect();
    let expected = [(None, 1), (Some("Web".to_owned()), 4), (Some("web".to_owned()), 2)];
    assert_eq!(listed, expected, "{check}: environment-wide first, services compared exactly");
    store.close().await.expect("close");

    let store = open(backend, check).await;
    // web's deployments need web's two approvals; api's the environment's one.
    let w = store.create(request("web"), None).await.expect("create").deployment;
    let a = store.create(request("api"), None).await.expect("create").deployment;
    let first = store.apply(&w.id, Action::Approve, ActionInput::new("bob")).await.expect("approve web");
    assert_eq!(first.status, Status::PendingApproval, "{check}: web has its own gate of 2");
    let api = store.apply(&a.id, Action::Approve, ActionInput::new("bob")).await.expect("approve api");
    assert_eq!(api.status, Status::Approved, "{check}: api falls back to the environment's gate of 1");
    let missing = store.remove_gate("staging", Some("api")).await.unwrap_err();
    assert!(
        matches!(&missing, Error::GateNotFound { service: Some(s), .. } if s == "api"),
        "{check}: api has no gate of its own: {missing:?}"
    );
    store.remove_gate("Staging", Some("web")).await.expect("remove web's own");
    store.remove_gate("staging", Some("Web")).await.expect("remove Web's own");
    let second = store.apply(&w.id, Action::Approve, ActionInput::new("carol")).await.expect("approve web");
    assert_eq!(second.status, Status::Approved, "{check}: back under the environment's gate");
    let left: Vec<Option<String>> = store.gates().await.expect("gates").into_iter().map(|g| g.service).collect();
    assert_eq!(left, [None], "{check}: the environment's gate stays");
    store.close().await.expect("close");
}

pub(super) async fn a_gate_counts_approvals_in_the_write(backend: &dyn Backend) {
    let check = "a_gate_counts_approvals_in_the_write";
    let store = open(backend, check).await;
    store.put_gate(gate("staging", 2), "root").await.expect("put");
    let d = store.create(request("web"), None).await.expect("create").deployment;
    let first = store.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("first approval");
    assert_eq!((first.status, first.updated_at), (Status::PendingApproval, d.updated_at), "{check}: row unchanged");
    let again = store.apply(&d.id, Action::Approve, ActionInput::new("Bob")).await;
    assert_eq!(code(check, again), ErrorCode::PolicyViolation, "{check}: one approval per reviewer");
    let second = store.apply(&d.id, Action::Approve, ActionInput::new("carol")).await.expect("second approval");
    assert_eq!((second.status, second.reviewed_by.as_deref()), (Status::Approved, Some("carol")), "{check}");
    let events = store.events(&d.id).await.expect("events");
    assert_eq!(kinds(&events), [EventKind::Created, EventKind::ApprovalGranted, EventKind::Approved], "{check}");
    assert_eq!(events[1].actor, "bob", "{check}");
    assert_eq!(events[1].data, Some(serde_json::json!({"approvals": 1, "required": 2})), "{check}");
    assert!(store.verify_audit().await.expect("verify").valid, "{check}: approvals are in the chain");
    store.close().await.expect("close");
}

pub(super) async fn concurrent_approvals_each_count_once(backend: &dyn Backend) {
    let check = "concurrent_approvals_each_count_once";
    let store: Arc<dyn Store> = open(backend, check).await;
    store.put_gate(gate("staging", 3), "root").await.expect("put");
    let d = store.create(request("web"), None).await.expect("create").deployment;
    let reviewers = ["bob", "carol", "erin", "frank", "grace"];
    let approvals = reviewers.map(|actor| {
        let (store, id) = (Arc::clone(&store), d.id.clone());
        tokio::spawn(async move { store.apply(&id, Action::Approve, ActionInput::new(actor)).await })
    });
    let mut outcomes = Vec::new();
    for approval in approvals {
        outcomes.push(approval.await.expect("join").map(|d| d.status).map_err(|e| e.kind()));
    }
    // Three approvals count (the third approves); the two after it find the deployment approved.
    let approved = outcomes.iter().filter(|o| **o == Ok(Status::Approved)).count();
    let waiting = outcomes.iter().filter(|o| **o == Ok(Status::PendingApproval)).count();
    let late = outcomes.iter().filter(|o| **o == Err(ErrorCode::InvalidTransition)).count();
    assert_eq!((waiting, approved, late), (2, 1, 2), "{check}: {outcomes:?}");
    let events = store.events(&d.id).await.expect("events");
    let granted = events.iter().filter(|e| e.kind == EventKind::ApprovalGranted).count();
    let approvals: Vec<_> = events.iter().filter_map(|e| e.data.as_ref().map(|v| v["approvals"].clone())).collect();
    assert_eq!(granted, 2, "{check}");
    assert_eq!(approvals[1..], [serde_json::json!(1), serde_json::json!(2)], "{check}: counted one after the other");
    store.close().await.expect("close");
}

fn group(name: &str, members: &[&str]) -> ReviewerGroup {
    ReviewerGroup { name: name.to_owned(), members: members.iter().map(|m| (*m).to_owned()).collect() }
}

pub(super) async fn reviewer_groups_admit_their_members_as_they_are_now(backend: &dyn Backend) {
    let check = "reviewer_groups_admit_their_members_as_they_are_now";
    let store = open(backend, check).await;
    let sre_gate =
        ApprovalGate { groups: vec!["SRE".to_owned()], approvers: vec!["dana".to_owned()], ..gate("staging", 2) };
    // A gate may not name a group that does not exist; nothing is set.
    let refused = store.put_gate(sre_gate.clone(), "root").await.unwrap_err();
    assert_eq!(
        (refused.kind(), refused.details()[0].field.as_str()),
        (ErrorCode::ValidationError, "groups[0]"),
        "{check}"
    );
    assert!(store.gates().await.expect("gates").is_empty(), "{check}");
    store.put_group(group("sre", &["bob", "carol"]), "root").await.expect("group");
    store.put_group(group("Sre", &["bob", "erin"]), "root").await.expect("replace: the same name in another case");
    store.put_gate(sre_gate, "root").await.expect("gate");
    let gates = store.gates().await.expect("gates");
    assert_eq!(gates[0].members, ["bob", "erin"], "{check}: listed gates carry their groups' members");
    let json = serde_json::to_value(&gates[0]).expect("json");
    assert!(json.get("members").is_none() && json["groups"] == serde_json::json!(["SRE"]), "{check}: {json}");

    let d = store.create(request("web"), None).await.expect("create").deployment;
    let outsider = store.apply(&d.id, Action::Approve, ActionInput::new("carol")).await.unwrap_err();
    assert_eq!(outsider.kind(), ErrorCode::PolicyViolation, "{check}: carol left the group");
    assert!(outsider.to_string().contains("(dana, group SRE)"), "{check}: {outsider}");
    let first = store.apply(&d.id, Action::Approve, ActionInput::new("ERIN")).await.expect("a member");
    assert_eq!(first.status, Status::PendingApproval, "{check}");
    let second = store.apply(&d.id, Action::Approve, ActionInput::new("dana")).await.expect("an approver");
    assert_eq!(second.status, Status::Approved, "{check}");

    // A group a gate names cannot be removed; once the gate no longer names it, it can.
    let named = store.remove_group("sre").await.unwrap_err();
    assert_eq!((named.kind(), named.details()[0].field.as_str()), (ErrorCode::ValidationError, "name"), "{check}");
    assert!(named.to_string().contains("named by the gate of staging"), "{check}: {named}");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    assert_eq!(store.groups().await.expect("groups"), [group("Sre", &["bob", "erin"])], "{check}: after a reopen");
    store.put_gate(gate("staging", 1), "root").await.expect("a gate without groups");
    store.remove_group("SRE").await.expect("remove ignores case");
    let again = store.remove_group("sre").await.unwrap_err();
    assert!(matches!(again, Error::GroupNotFound { .. }), "{check}: {again:?}");
    assert!(store.groups().await.expect("groups").is_empty(), "{check}");
    store.close().await.expect("close");
}

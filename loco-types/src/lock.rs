//! Deploy locks: at most one deployment of a service is `started` in an environment at a time.
//! Starting a deployment (plainly or with a rollout) takes the lock of its service and
//! environment in the same transaction that writes `started`; a second start there is refused
//! with `policy_violation` (rule `deploy_lock`) naming the deployment that holds it. The lock is
//! given back in the transaction that moves its holder out of `started` (succeeded, failed or
//! rolled back), and an admin may force it free with a reason, which a `lock_released` event on
//! the holder records.
//!
//! ```
//! use loco_types::lifecycle::Status;
//! use loco_types::lock::{effect, LockEffect};
//! assert_eq!(effect(Status::Approved, Status::Started), LockEffect::Acquire);
//! assert_eq!(effect(Status::Started, Status::Succeeded), LockEffect::Release);
//! assert_eq!(effect(Status::Succeeded, Status::RolledBack), LockEffect::Keep);
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::event_data::{EventData, LockReleasedData};
use crate::lifecycle::{self, Status};
use crate::model::{Deployment, Timestamp};
use crate::rules::NewEvent;

/// The rule name a refused start carries (`details[0].field`, the `rule` fact).
pub const RULE: &str = "deploy_lock";

/// Who is deploying a service to an environment right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployLock {
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// The started deployment that holds it.
    pub deployment_id: String,
    /// Who started that deployment.
    pub holder: String,
    /// When it was started.
    pub since: Timestamp,
}

/// What a status change does to its deployment's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEffect {
    /// Nothing.
    Keep,
    /// Take the lock (the change enters `started`).
    Acquire,
    /// Give it back, if this deployment still holds it (the change leaves `started`).
    Release,
}

/// What moving a deployment from `from` to `to` does to its lock.
pub fn effect(from: Status, to: Status) -> LockEffect {
    match (from == Status::Started, to == Status::Started) {
        (false, true) => LockEffect::Acquire,
        (true, false) => LockEffect::Release,
        _ => LockEffect::Keep,
    }
}

/// The lock `deployment` (just moved to `started` by `actor`) takes, given the lock `held` on
/// its service and environment now: `policy_violation` when another deployment holds it.
pub fn decide_acquire(held: Option<DeployLock>, deployment: &Deployment, actor: &str) -> Result<DeployLock> {
    if let Some(held) = held
        && held.deployment_id != deployment.id
    {
        return Err(violation(&held));
    }
    Ok(DeployLock {
        service: deployment.service.clone(),
        environment: deployment.environment.clone(),
        deployment_id: deployment.id.clone(),
        holder: actor.to_owned(),
        since: deployment.updated_at,
    })
}

/// The refusal of a start while `held` is taken.
pub fn violation(held: &DeployLock) -> Error {
    Error::PolicyViolation {
        rule: RULE.to_owned(),
        name: held.deployment_id.clone(),
        environment: held.environment.clone(),
        until: None,
        details: vec![FieldError::new(
            RULE,
            format!(
                "service '{}' is being deployed to '{}' by deployment '{}' (started by {} at {}); one deployment \
                 runs per service and environment until it succeeds, fails or is rolled back, or an admin \
                 releases the lock",
                held.service, held.environment, held.deployment_id, held.holder, held.since
            ),
        )],
    }
}

/// Checks a forced release's inputs: the service, environment, actor and a non-blank reason.
pub fn validate_release(service: &str, environment: &str, actor: &str, reason: &str) -> Result<()> {
    let mut errors = Vec::new();
    for (field, value) in [("service", service), ("environment", environment), ("actor", actor)] {
        if value.trim().is_empty() {
            errors.push(FieldError::new(field, "is required"));
        } else if value.chars().count() > lifecycle::NAME_MAX_CHARS {
            errors.push(FieldError::new(field, format!("must be at most {} characters", lifecycle::NAME_MAX_CHARS)));
        }
    }
    if reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "must say why the lock is released"));
    } else if reason.len() > lifecycle::TEXT_MAX_BYTES {
        errors.push(FieldError::new("reason", format!("must be at most {} bytes", lifecycle::TEXT_MAX_BYTES)));
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation { details: errors }) }
}

/// The `lock_released` event a forced release of `lock` writes on its holder: `actor` is the
/// admin, `reason` becomes the note.
pub fn release_event(lock: &DeployLock, actor: &str, reason: &str) -> NewEvent {
    NewEvent::new(
        actor,
        reason,
        EventData::LockReleased(LockReleasedData {
            service: lock.service.clone(),
            environment: lock.environment.clone(),
            holder: lock.holder.clone(),
            since: lock.since,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(id: &str) -> Deployment {
        let at = Timestamp::parse("2026-12-02T10:00:00Z").unwrap();
        Deployment {
            id: id.into(),
            service: "web".into(),
            environment: "production".into(),
            version: "1".into(),
            requester: "alice".into(),
            work_refs: vec![],
            rollback_plan: "redo".into(),
            risk: None,
            commit: None,
            status: Status::Started,
            reviewed_by: None,
            reviewed_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn only_entering_and_leaving_started_touch_the_lock() {
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = match (from, to) {
                    (f, Status::Started) if f != Status::Started => LockEffect::Acquire,
                    (Status::Started, t) if t != Status::Started => LockEffect::Release,
                    _ => LockEffect::Keep,
                };
                assert_eq!(effect(from, to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_free_lock_is_taken_and_a_held_one_refuses_naming_its_holder() {
        let first = decide_acquire(None, &started("dep_1"), "bob").unwrap();
        assert_eq!((first.deployment_id.as_str(), first.holder.as_str()), ("dep_1", "bob"));
        assert_eq!(first.since, started("dep_1").updated_at);
        let err = decide_acquire(Some(first.clone()), &started("dep_2"), "carol").unwrap_err();
        assert_eq!(err.code(), "policy_violation");
        let Error::PolicyViolation { rule, name, environment, until, details } = err else { panic!() };
        assert_eq!((rule.as_str(), name.as_str(), environment.as_str(), until), (RULE, "dep_1", "production", None));
        assert!(details[0].message.contains("started by bob"), "{}", details[0].message);
        // A lock its own deployment still holds (a stale row) is taken again.
        assert_eq!(decide_acquire(Some(first.clone()), &started("dep_1"), "bob").unwrap(), first);
    }

    #[test]
    fn a_release_needs_every_name_and_a_reason() {
        assert!(validate_release("web", "production", "root", "stuck").is_ok());
        let Err(Error::Validation { details }) = validate_release(" ", "", "root", "  ") else { panic!() };
        let fields: Vec<_> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["service", "environment", "reason"]);
    }
}

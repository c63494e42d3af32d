//! [`Session`]: the engine as one network caller may use it. With an [`Identity`] (a valid API
//! token), every operation checks the role it needs — any grant reads, `requester` creates,
//! `approver` reviews, `deployer` runs, `admin` administers, each optionally limited to an
//! environment — and the caller acts as the token's subject: a `requester` or `actor` naming
//! someone else is refused, so self-approval cannot be dodged with a made-up name. Without an
//! identity (a server run with `--no-auth` on loopback) names are taken as given.
//!
//! Either way a rollout plan from the network may not carry a command, a working directory or a
//! command probe: it names a registered service instead.
//!
//! Checks run in this order: a caller holding the role nowhere is refused first (403); then the
//! input (400), the deployment (404), the role in the deployment's environment (403), and the
//! lifecycle rules (403/409).

use loco_types::identity::{Identity, Role};
use loco_types::lifecycle::{self, Action, ActionInput, same_person};
use loco_types::lock::DeployLock;
use loco_types::model::{Deployment, NewDeployment};
use loco_types::plan::{RolloutPlan, ValidationReport};
use loco_types::rollout::Rollout;
use loco_types::schedule::{ScheduleRequest, ScheduledStart};
use loco_types::{Error, Result};

use crate::engine::Engine;

/// The engine for one network caller; see the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    engine: Engine,
    identity: Option<Identity>,
}

/// The role a lifecycle action needs.
pub fn role_for(action: Action) -> Role {
    if action.is_review() { Role::Approver } else { Role::Deployer }
}

/// What a caller asks to do, for checking its role before its input is even read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read anything.
    Read,
    /// Create a deployment.
    Create,
    /// Apply a lifecycle action.
    Act(Action),
    /// Start a rollout.
    StartRollout,
    /// Continue a paused rollout.
    OverrideRollout,
    /// Force a deploy lock free (an admin of its environment).
    ReleaseLock,
    /// Manage tokens and services (an unscoped admin only).
    Administer,
}

impl Operation {
    /// The role it needs.
    pub fn role(self) -> Role {
        match self {
            Operation::Read => Role::Viewer,
            Operation::Create => Role::Requester,
            Operation::Act(action) => role_for(action),
            Operation::StartRollout | Operation::OverrideRollout => Role::Deployer,
            Operation::Administer | Operation::ReleaseLock => Role::Admin,
        }
    }
}

impl Engine {
    /// This engine as `identity` may use it over the network (`None`: unauthenticated mode).
    pub fn session(&self, identity: Option<Identity>) -> Session {
        Session { engine: self.clone(), identity }
    }
}

impl Session {
    /// Who is calling, when the server authenticates.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Refuses a caller that may not do `operation` anywhere: the first check of every request,
    /// before its body is read (the environment is checked once the deployment is known).
    pub fn may(&self, operation: Operation) -> Result<()> {
        match operation {
            Operation::Administer => self.require(Role::Admin, None),
            other => self.require_somewhere(other.role()),
        }
    }

    /// Refuses a caller that holds `role` in no environment at all.
    pub fn require_somewhere(&self, role: Role) -> Result<()> {
        match &self.identity {
            Some(identity) if !identity.grants.iter().any(|g| g.role == role || g.role == Role::Admin) => {
                if role == Role::Viewer && !identity.grants.is_empty() {
                    return Ok(());
                }
                Err(Error::permission_denied(&identity.subject, role, None))
            }
            _ => Ok(()),
        }
    }

    /// Refuses a caller that lacks `role` for `environment` (`None`: not tied to one).
    pub fn require(&self, role: Role, environment: Option<&str>) -> Result<()> {
        self.identity.as_ref().map_or(Ok(()), |identity| identity.require(role, environment))
    }

    /// The name the caller acts under: the token's subject. A `given` name that is blank takes
    /// it; one naming someone else is refused on `field`.
    fn bind(&self, given: &mut String, field: &str) -> Result<()> {
        let Some(identity) = &self.identity else { return Ok(()) };
        if given.trim().is_empty() {
            given.clone_from(&identity.subject);
            Ok(())
        } else if same_person(given, &identity.subject) {
            Ok(())
        } else {
            Err(Error::invalid(
                field,
                format!("is '{given}' but the token acts as '{}'; leave it out", identity.subject),
            ))
        }
    }

    /// Creates a deployment requested by the caller.
    pub async fn create(&self, mut new: NewDeployment, idempotency_key: Option<&str>) -> Result<Deployment> {
        self.may(Operation::Create)?;
        self.bind(&mut new.requester, "requester")?;
        // Refused here, before the role check, so the caller learns every bad field; counted like
        // a refusal in the engine.
        if let Err(e) = lifecycle::validate_new(&new) {
            self.engine.metrics().record_validation_error(&new.environment, &e);
            return Err(e);
        }
        self.require(Role::Requester, Some(&new.environment))?;
        self.engine.create(new, idempotency_key).await
    }

    /// Promotes a succeeded deployment to the next stage of its pipeline as the caller, who must
    /// be a requester in that stage's environment.
    pub async fn promote(&self, id: &str, mut actor: String) -> Result<Deployment> {
        self.may(Operation::Create)?;
        self.bind(&mut actor, "actor")?;
        if actor.trim().is_empty() {
            return Err(Error::invalid("actor", "is required"));
        }
        // One reading of the source and its pipeline decides both the role check and the write.
        let (new, promoted) = self.engine.promotion(id, &actor).await?;
        self.require(Role::Requester, Some(&new.environment))?;
        self.engine.create_promotion(id, new, promoted).await
    }

    /// Applies a lifecycle action as the caller.
    pub async fn apply(&self, id: &str, action: Action, mut input: ActionInput) -> Result<Deployment> {
        let role = role_for(action);
        self.may(Operation::Act(action))?;
        self.bind(&mut input.actor, "actor")?;
        lifecycle::validate_action(action, &input)?;
        let deployment = self.engine.get(id).await?;
        self.require(role, Some(&deployment.environment))?;
        self.require_override(&input, &deployment.environment)?;
        self.engine.apply(id, action, input).await
    }

    /// Starts a rollout as the caller; the plan must name a registered service, not a command.
    /// `input.override_reason` (an admin of the environment only) starts it in spite of a
    /// freeze window. Without a plan, the deployment's stage's plan in the manifest it was
    /// created under is used, and held to the same rule.
    pub async fn start_rollout(&self, id: &str, plan: Option<RolloutPlan>, mut input: ActionInput) -> Result<Rollout> {
        self.may(Operation::StartRollout)?;
        self.bind(&mut input.actor, "actor")?;
        if let Some(plan) = &plan {
            plan.validate()?;
            plan.check_remote()?;
        }
        lifecycle::validate_action(Action::Start, &input)?;
        let deployment = self.engine.get(id).await?;
        self.require(Role::Deployer, Some(&deployment.environment))?;
        self.require_override(&input, &deployment.environment)?;
        let plan = if let Some(plan) = plan {
            plan
        } else {
            let plan = self.engine.manifest_plan(id).await?;
            plan.check_remote()?;
            plan
        };
        self.engine.start_rollout_with(id, Some(plan), input).await
    }

    /// Schedules a start as the caller (a deployer of the deployment's environment; an admin
    /// there with an override reason). The actor is the caller; a scheduled rollout's manifest
    /// plan must be one the network may start.
    pub async fn schedule_start(&self, id: &str, mut request: ScheduleRequest) -> Result<ScheduledStart> {
        self.may(Operation::Act(Action::Start))?;
        self.bind(&mut request.actor, "actor")?;
        let deployment = self.engine.get(id).await?;
        self.require(Role::Deployer, Some(&deployment.environment))?;
        self.require_override(&request.input(), &deployment.environment)?;
        let by = self.identity.as_ref().map_or_else(|| request.actor.clone(), |i| i.subject.clone());
        self.engine.schedule_start_checked(id, Some(deployment), request, &by, RolloutPlan::check_remote).await
    }

    /// Cancels a scheduled start as the caller (a deployer of the deployment's environment).
    pub async fn cancel_scheduled_start(&self, id: &str) -> Result<ScheduledStart> {
        self.may(Operation::Act(Action::Start))?;
        let deployment = self.engine.get(id).await?;
        self.require(Role::Deployer, Some(&deployment.environment))?;
        self.engine.cancel_scheduled_start(id).await
    }

    /// Overriding a freeze window takes an admin of the environment.
    fn require_override(&self, input: &ActionInput, environment: &str) -> Result<()> {
        if input.override_reason.is_some() { self.require(Role::Admin, Some(environment)) } else { Ok(()) }
    }

    /// Runs a plan's pre-deployment checks as the caller (a deployer somewhere); the plan must
    /// be one the network may send.
    pub async fn validate_plan(&self, plan: RolloutPlan) -> Result<ValidationReport> {
        self.may(Operation::StartRollout)?;
        plan.validate()?;
        plan.check_remote()?;
        self.engine.validate_plan(plan).await
    }

    /// Rolls a target back to a retained release as the caller (a deployer of its environment).
    pub async fn rollback_to(
        &self,
        service: &str,
        environment: &str,
        version: &str,
        mut input: ActionInput,
    ) -> Result<Rollout> {
        self.may(Operation::Act(Action::Rollback))?;
        self.bind(&mut input.actor, "actor")?;
        lifecycle::validate_action(Action::Rollback, &input)?;
        self.require(Role::Deployer, Some(environment))?;
        let note = input.note.as_deref().unwrap_or_default();
        self.engine.rollback_to(service, environment, version, &input.actor, note).await
    }

    /// Continues a paused rollout as the caller.
    pub async fn override_rollout(&self, id: &str, mut input: ActionInput) -> Result<Rollout> {
        self.may(Operation::OverrideRollout)?;
        self.bind(&mut input.actor, "actor")?;
        lifecycle::validate_action(Action::Rollback, &input)?;
        let deployment = self.engine.get(id).await?;
        self.require(Role::Deployer, Some(&deployment.environment))?;
        self.engine.override_rollout(id, &input.actor, input.note.as_deref().unwrap_or_default()).await
    }

    /// Forces the deploy lock of `service` in `environment` free as the caller (an admin of
    /// that environment), recording `reason`.
    pub async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        mut actor: String,
        reason: &str,
    ) -> Result<DeployLock> {
        self.may(Operation::ReleaseLock)?;
        self.bind(&mut actor, "actor")?;
        self.require(Role::Admin, Some(environment))?;
        self.engine.release_lock(service, environment, &actor, reason).await
    }

    /// The engine itself, for reads, once the caller may read (any grant).
    pub fn reader(&self) -> Result<&Engine> {
        self.may(Operation::Read)?;
        Ok(&self.engine)
    }

    /// The engine itself, for administration, once the caller is an unscoped admin.
    pub fn admin(&self) -> Result<&Engine> {
        self.may(Operation::Administer)?;
        Ok(&self.engine)
    }
}

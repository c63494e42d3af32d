//! Making deployments exactly once: deploying a release (source image and replicas set first),
//! sending a deployment-creating mutation and resolving an unknown outcome by looking before
//! sending again, Railway's rollback with its fallback, and stopping one deployment.

use loco_types::model::Timestamp;
use loco_types::plan::ReleaseSpec;
use serde_json::{Value, json};

use super::RailwayPlatform;
use super::api::{self, CallError, Deployment};
use crate::{PlatformError, PlatformResult, swap};

/// Times a deployment-creating mutation is sent when earlier sends failed without creating anything.
const CREATE_ATTEMPTS: u32 = 3;
/// Deployments listed when looking for one whose creation was not confirmed.
const RECENT: u32 = 10;

/// What a deployment-creating call should have created, to recognise it in a list.
struct Wanted<'a> {
    reason: &'static str,
    image: Option<&'a str>,
    commit: Option<&'a str>,
}

impl Wanted<'_> {
    fn matches(&self, d: &Deployment) -> bool {
        let reason = d.reason().is_none_or(|r| r == self.reason);
        let source = match (self.image, self.commit) {
            (Some(image), _) => d.image() == Some(image),
            (None, Some(commit)) => d.commit() == Some(commit),
            (None, None) => true,
        };
        reason && source
    }
}

impl RailwayPlatform {
    /// Deploys `release` with `replicas` replicas: the service instance's image and replicas set
    /// first when they differ, then one deployment.
    pub(super) async fn deploy_release(&self, release: &ReleaseSpec, replicas: usize) -> PlatformResult<String> {
        let image = release.image.as_deref().filter(|s| !s.trim().is_empty());
        let commit = release.commit.as_deref().filter(|s| !s.trim().is_empty());
        if image.is_none() && commit.is_none() {
            return Err(PlatformError::new(format!(
                "release {}: Railway deploys an image or a commit: set release.image (or release.commit for a \
                 service built from its repository)",
                release.version
            )));
        }
        let instance = self.api.service_instance().await.map_err(|e| self.error(&e))?;
        let mut input = serde_json::Map::new();
        let current = instance.source.unwrap_or_default();
        if image.is_none() && current.repo.is_none() {
            return Err(PlatformError::new(format!(
                "release {}: Railway service {} runs a prebuilt image, not a repository: set release.image",
                release.version, self.api.service_id
            )));
        }
        if let Some(image) = image
            && current.image.as_deref() != Some(image)
        {
            input.insert("source".to_owned(), json!({ "image": image }));
        }
        if instance.num_replicas != u32::try_from(replicas).ok() {
            input.insert("numReplicas".to_owned(), json!(replicas));
        }
        if !input.is_empty() {
            self.api.update(Value::Object(input)).await.map_err(|e| self.error(&e))?;
        }
        // An image wins over a commit: the service now runs that image.
        let commit = if image.is_some() { None } else { commit };
        let wanted = Wanted { reason: "deploy", image, commit };
        self.create(&wanted, || self.api.deploy(commit)).await
    }

    /// Sends a deployment-creating mutation until it is known to have created exactly one
    /// deployment: after an unknown outcome, the newest deployments are searched for the one it
    /// would have created before it is sent again. `send` answers the new id, or nothing (a
    /// rollback's Boolean) — then the deployment is looked up the same way.
    async fn create<F, Fut, T>(&self, wanted: &Wanted<'_>, send: F) -> PlatformResult<String>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
        T: Into<Option<String>>,
    {
        let started = Timestamp::now();
        let mut failure = None;
        for _ in 0..CREATE_ATTEMPTS {
            match send().await {
                Ok(id) => {
                    if let Some(id) = id.into() {
                        self.memory().claimed.insert(id.clone());
                        return Ok(id);
                    }
                    return self.find_created(wanted, started).await?.ok_or_else(|| {
                        PlatformError::new(format!(
                            "Railway accepted the {} but lists no new deployment for it",
                            wanted.reason
                        ))
                    });
                }
                Err(e) if !e.outcome_unknown() => return Err(self.error(&e)),
                Err(e) => {
                    tracing::warn!(platform = %self.name, error = %self.error(&e), "deployment outcome unknown; looking for it");
                    if let Some(id) = self.find_created(wanted, started).await? {
                        return Ok(id);
                    }
                    failure = Some(e);
                }
            }
        }
        Err(failure.map_or_else(|| PlatformError::new("no attempt was made"), |e| self.error(&e)))
    }

    /// A recent deployment matching `wanted`, created since `started` (less [`swap::CLOCK_SKEW`]) and
    /// not claimed by another call.
    async fn find_created(&self, wanted: &Wanted<'_>, started: Timestamp) -> PlatformResult<Option<String>> {
        let recent = self.api.deployments(&[], RECENT).await.map_err(|e| self.error(&e))?;
        let found = swap::claim_created(recent, started, &mut self.memory().claimed, |d| wanted.matches(d));
        if let Some(d) = &found {
            tracing::info!(platform = %self.name, deployment = %d.id, "the deployment was created after all");
        }
        Ok(found.map(|d| d.id))
    }

    /// Cancels every deployment in progress, so the one about to be created is the last to finish.
    pub(super) async fn cancel_in_progress(&self) -> PlatformResult<()> {
        let busy = self.api.deployments(&api::IN_PROGRESS, RECENT).await.map_err(|e| self.error(&e))?;
        for d in busy {
            self.memory().claimed.insert(d.id.clone());
            match self.api.cancel(&d.id).await {
                Ok(()) => {
                    tracing::info!(platform = %self.name, deployment = %d.id, "canceled a deployment in progress");
                }
                Err(e @ CallError::Graphql { .. }) if !e.unauthorized() => {} // finished meanwhile
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok(())
    }

    /// Stops one deployment: cancels it in progress, removes it when it serves.
    pub(super) async fn stop_deployment(&self, id: &str) -> PlatformResult<()> {
        let d = match self.api.deployment(id).await {
            Ok(d) => d,
            Err(e) if e.not_found() => return Ok(()),
            Err(e) => return Err(self.error(&e)),
        };
        let d = if d.in_progress() {
            match self.api.cancel(id).await {
                Ok(()) => return Ok(()),
                // It finished meanwhile: look again.
                Err(e @ CallError::Graphql { .. }) if !e.unauthorized() => {
                    self.api.deployment(id).await.map_err(|e| self.error(&e))?
                }
                Err(e) => return Err(self.error(&e)),
            }
        } else {
            d
        };
        if d.serving() {
            tracing::info!(platform = %self.name, deployment = %id, "removing the active deployment");
            self.api.remove(id).await.map_err(|e| self.error(&e))?;
        }
        Ok(())
    }

    /// A deployment of `to` again: Railway's rollback to `previous` when it allows one, else a
    /// new deployment of its image or commit.
    pub(super) async fn bring_back(
        &self,
        to: &ReleaseSpec,
        previous: Option<&str>,
        replicas: usize,
    ) -> PlatformResult<String> {
        if let Some(previous) = previous {
            let d = match self.api.deployment(previous).await {
                Ok(d) => Some(d),
                Err(e) if e.not_found() => None,
                Err(e) => return Err(self.error(&e)),
            };
            if let Some(d) = d.filter(|d| d.can_rollback == Some(true)) {
                let wanted = Wanted { reason: "rollback", image: d.image(), commit: d.commit() };
                match self
                    .create(&wanted, || async { self.api.rollback(previous).await.map(|()| None::<String>) })
                    .await
                {
                    Ok(id) => return Ok(id),
                    Err(e) => {
                        tracing::warn!(platform = %self.name, error = %e, "Railway refused the rollback; deploying the release again");
                    }
                }
            } else {
                tracing::info!(platform = %self.name, deployment = %previous, "Railway cannot roll back to it; deploying the release again");
            }
        }
        self.deploy_release(to, replicas).await
    }
}

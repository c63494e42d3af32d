//! Finding and creating a release's deployment: by this process's memory or the `loco_version`
//! tag, and created once — an unknown outcome is resolved by listing for its `loco_instance` tag.

use loco_types::plan::ReleaseSpec;
use serde_json::{Value, json};

use super::api::Deployment;
use super::{CREATE_ATTEMPTS, RECENT, VercelPlatform};
use crate::http::HttpError;
use crate::{PlatformError, PlatformResult, Target};

impl VercelPlatform {
    /// The deployment of `version`: remembered, else the newest production deployment tagged
    /// with it that did not fail.
    pub(super) async fn deployment_for(&self, version: &str) -> PlatformResult<Deployment> {
        let remembered = self.memory().by_version.get(version).cloned();
        if let Some(id) = remembered {
            return Ok(self.api.deployment(&id).await?);
        }
        let recent = self.api.recent(RECENT).await?;
        let found = recent.into_iter().find(|d| {
            d.meta("loco_version") == Some(version) && !matches!(d.ready_state.as_str(), "ERROR" | "CANCELED")
        });
        let found = found.ok_or_else(|| {
            PlatformError::new(format!(
                "no Vercel deployment of version {version} is known in project {}",
                self.api.project_id
            ))
        })?;
        self.memory().by_version.insert(version.to_owned(), found.id.clone());
        Ok(found)
    }

    /// The id of the deployment of `version`, without reading it when it is remembered.
    pub(super) async fn id_for(&self, version: &str) -> PlatformResult<String> {
        let remembered = self.memory().by_version.get(version).cloned();
        match remembered {
            Some(id) => Ok(id),
            None => Ok(self.deployment_for(version).await?.id),
        }
    }

    /// A new staged production deployment of `release` for the instances `ids`.
    pub(super) async fn build(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        ids: &[String],
    ) -> PlatformResult<Deployment> {
        let commit = release.commit.as_deref().map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
            PlatformError::new(format!(
                "release {}: Vercel builds from the project's git repository: set release.commit (the sha)",
                release.version
            ))
        })?;
        if !release.env.is_empty() || !release.secret_env.is_empty() {
            return Err(PlatformError::new(format!(
                "release {}: Vercel takes environment variables from the project's settings, not per deployment; \
                 release.env and secret_env cannot be applied (set them on the project)",
                release.version
            )));
        }
        let project = self.api.project().await?;
        let link = project.link.as_ref().ok_or_else(|| {
            PlatformError::new(format!("Vercel project {} is not linked to a git repository", project.id))
        })?;
        let reference = link.production_branch.clone().unwrap_or_else(|| "main".to_owned());
        let git_source = match link.kind.as_str() {
            "gitlab" => json!({ "type": "gitlab", "projectId": link.project_id, "ref": reference, "sha": commit }),
            "bitbucket" => {
                json!({ "type": "bitbucket", "owner": link.owner, "slug": link.slug, "ref": reference, "sha": commit })
            }
            _ => json!({ "type": link.kind, "org": link.org, "repo": link.repo, "ref": reference, "sha": commit }),
        };
        let key = ids.first().cloned().unwrap_or_default();
        let body = json!({
            "name": project.name,
            "project": project.id,
            "target": "production",
            "gitSource": git_source,
            "autoAssignCustomDomains": false,
            "meta": {
                "loco_version": release.version,
                "loco_commit": commit,
                "loco_instance": key,
                "loco_target": target.to_string(),
            },
        });
        let deployment = self.create(&body, &key).await?;
        tracing::info!(platform = %self.name, deployment = %deployment.id, version = %release.version, "Vercel deployment created");
        Ok(deployment)
    }

    /// Sends a create until it is known to have made exactly one deployment: after an unknown
    /// outcome, the one tagged `loco_instance = key` is looked for before sending again.
    pub(super) async fn create(&self, body: &Value, key: &str) -> Result<Deployment, HttpError> {
        let mut failure = None;
        for _ in 0..CREATE_ATTEMPTS {
            match self.api.create(body).await {
                Ok(deployment) => return Ok(deployment),
                Err(e) if e.status.is_some_and(|s| s < 500) => return Err(e),
                Err(e) => {
                    tracing::warn!(platform = %self.name, error = %e, "deployment create outcome unknown; looking for it");
                    let recent = self.api.recent(RECENT).await?;
                    if let Some(found) = recent.into_iter().find(|d| d.meta("loco_instance") == Some(key)) {
                        tracing::info!(platform = %self.name, deployment = %found.id, "the deployment was created after all");
                        return Ok(found);
                    }
                    failure = Some(e);
                }
            }
        }
        Err(failure.unwrap_or_else(|| HttpError {
            call: "POST /v13/deployments".to_owned(),
            status: None,
            message: "no attempt was made".to_owned(),
            request_id: None,
            attempts: 0,
        }))
    }
}

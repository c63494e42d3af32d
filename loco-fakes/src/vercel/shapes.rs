//! The JSON shapes the Vercel fake answers with: deployments (full, as list items, as
//! summaries) and projects.

use serde_json::{Map, Value, json};

use super::model::{AliasJob, Deployment, Project, World};
use super::rolling::RollingConfig;

impl Deployment {
    /// `GET /v13/deployments/{id}` (and the create answer).
    pub(super) fn json(&self, project: &Project) -> Value {
        let alias: Vec<String> =
            if self.alias_assigned { vec![format!("{}.vercel.app", project.name)] } else { Vec::new() };
        json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "readyState": self.state,
            "status": self.state,
            "readySubstate": self.substate,
            "target": self.target,
            "alias": alias,
            "aliasAssigned": self.alias_assigned,
            "aliasError": null,
            "errorCode": self.error.as_ref().map(|e| e.0.clone()),
            "errorMessage": self.error.as_ref().map(|e| e.1.clone()),
            "inspectorUrl": format!("https://vercel.com/acme/{}/{}", self.name, self.id.trim_start_matches("dpl_")),
            "createdAt": self.created_at,
            "buildingAt": self.building_at,
            "ready": self.ready_at,
            "projectId": self.project_id,
            "meta": self.meta,
            "gitSource": self.git_source,
            "regions": ["iad1"],
            "version": 2,
            "type": "LAMBDAS",
            "public": false,
            "source": "api",
        })
    }

    /// An item of `GET /v6|v7/deployments`.
    pub(super) fn list_item(&self) -> Value {
        json!({
            "uid": self.id,
            "name": self.name,
            "url": self.url,
            "created": self.created_at,
            "createdAt": self.created_at,
            "buildingAt": self.building_at,
            "ready": self.ready_at,
            "state": self.state,
            "readyState": self.state,
            "readySubstate": self.substate,
            "target": self.target,
            "meta": self.meta,
            "projectId": self.project_id,
            "aliasAssigned": self.alias_assigned,
            "aliasError": null,
            "source": "api",
        })
    }

    /// The summary a rolling release or a project's `targets.production` shows.
    pub(super) fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "readyState": self.state,
            "readySubstate": self.substate,
            "target": self.target,
            "createdAt": self.created_at,
            "readyStateAt": self.ready_at,
            "meta": self.meta,
            "source": "api",
        })
    }
}

impl World {
    /// `GET /v9/projects/{id}`.
    pub(super) fn project_json(&self, project: &Project) -> Value {
        let production = project.production.as_deref().and_then(|id| self.deployments.iter().find(|d| d.id == id));
        let mut targets = Map::new();
        if let Some(d) = production {
            let mut summary = d.summary();
            summary["alias"] = json!([format!("{}.vercel.app", project.name)]);
            targets.insert("production".to_owned(), summary);
        }
        let latest: Vec<Value> = self
            .deployments
            .iter()
            .rev()
            .filter(|d| d.project_id == project.id)
            .take(5)
            .map(Deployment::summary)
            .collect();
        let seed = &project.seed;
        let (org, repo) = seed.repo.split_once('/').unwrap_or(("", seed.repo.as_str()));
        json!({
            "id": project.id,
            "name": project.name,
            "accountId": seed.team_id.clone().unwrap_or_else(|| self.options.user_id.clone()),
            "framework": "nextjs",
            "link": {
                "type": "github",
                "org": org,
                "repo": repo,
                "repoId": 123_456_789,
                "productionBranch": seed.production_branch,
                "gitCredentialId": "",
                "createdAt": project.created_at,
                "deployHooks": [],
            },
            "targets": targets,
            "latestDeployments": latest,
            "live": false,
            "lastRollbackTarget": project.last_rollback_target,
            "lastAliasRequest": project.alias_job.as_ref().map(AliasJob::json),
            "rollingRelease": project.rolling_config.as_ref().map(RollingConfig::json),
            "createdAt": project.created_at,
            "updatedAt": project.created_at,
        })
    }
}

//! Where CLI commands run: against a server over HTTP, or directly on a database file through
//! `Engine`. Both return the API's JSON types, so output is identical either way.

use loco_core::{Action, Engine};

use crate::cli::exit::CliError;
use crate::client::Client;
use crate::wire::{ActionRequest, AuditReport, CreateDeployment, Deployment, DeploymentPage, Event, ListParams};

/// The target of CLI commands.
#[derive(Debug)]
pub enum Backend {
    /// A running `loco serve`.
    Remote(Client),
    /// A database file opened in this process.
    Local(Engine),
}

impl Backend {
    /// Creates a deployment.
    pub async fn create(&self, body: CreateDeployment, key: Option<&str>) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.create(&body, key).await?),
            Backend::Local(engine) => Ok(engine.create(body.into_new(), key).await?.into()),
        }
    }

    /// Applies a lifecycle action.
    pub async fn act(&self, id: &str, action: Action, body: ActionRequest) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.act(id, action, &body).await?),
            Backend::Local(engine) => Ok(engine.apply(id, action, body.into_input()).await?.into()),
        }
    }

    /// One deployment.
    pub async fn get(&self, id: &str) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.get(id).await?),
            Backend::Local(engine) => Ok(engine.get(id).await?.into()),
        }
    }

    /// One page of deployments.
    pub async fn list(&self, params: ListParams) -> Result<DeploymentPage, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.list(&params).await?),
            Backend::Local(engine) => {
                let page = engine.list(&params.into_query()?).await?;
                Ok(DeploymentPage {
                    items: page.items.into_iter().map(Into::into).collect(),
                    next_cursor: page.next_cursor,
                })
            }
        }
    }

    /// Every event of one deployment, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<Event>, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.events(id).await?.items),
            Backend::Local(engine) => Ok(engine.events(id).await?.into_iter().map(Into::into).collect()),
        }
    }

    /// Prints `id`'s events as they are committed, starting after `after`, until the server
    /// ends the stream. Only a server sees every writer's events, so this needs `--server`.
    pub async fn follow(
        &self,
        id: &str,
        after: Option<i64>,
        mut each: impl FnMut(Event) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => {
                let mut stream = client.follow(Some(id), after).await?;
                while let Some(event) = stream.next().await {
                    each(event?)?;
                }
                Ok(())
            }
            Backend::Local(_) => Err(CliError::Usage(
                "--follow needs --server: a database file opened here only sees this process's own writes".to_owned(),
            )),
        }
    }

    /// Verifies the audit chain.
    pub async fn verify_audit(&self) -> Result<AuditReport, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.verify_audit().await?),
            Backend::Local(engine) => Ok(engine.verify_audit().await?.into()),
        }
    }

    /// Releases the backend; for a local database this flushes and closes it.
    pub async fn close(self) -> Result<(), CliError> {
        match self {
            Backend::Remote(_) => Ok(()),
            Backend::Local(engine) => Ok(engine.close().await?),
        }
    }
}

//! [`EngineBuilder`]: opens an [`Engine`] on a store, with platforms (the local one included, by
//! its state directory), per-environment analysis thresholds and a concurrency limit, and
//! recovers rollouts an earlier engine left unfinished before handing it over. Every surface
//! (HTTP server, CLI, Python, Node) assembles its engine here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use loco_platform::Platform;
use loco_platform::extensions::HealthProbe;
use loco_platform::local::{LocalOptions, LocalPlatform};
use loco_platform::metrics::MetricSource;
use loco_store::{SqliteOptions, SqliteStore, Store};
use loco_types::analysis::Thresholds;
use loco_types::{Error, Result};

use crate::engine::{DEFAULT_MAX_CONCURRENT_ROLLOUTS, Engine, key_file_of};
use crate::keys::KeySource;
use crate::vault::Vault;

enum Location {
    File(PathBuf),
    Memory,
    Store(Arc<dyn Store>),
    /// A `postgres://` URL.
    Postgres(String),
}

/// Where a database given as text lives: a `postgres://` (or `postgresql://`) URL, else a SQLite
/// file (a path, or a `sqlite:` URL).
fn parse_location(location: &str) -> Location {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Location::Postgres(location.to_owned());
    }
    let path = location.strip_prefix("sqlite://").or_else(|| location.strip_prefix("sqlite:")).unwrap_or(location);
    Location::File(PathBuf::from(path))
}

/// `location` as it may be shown in logs and `repr`s: a URL's password replaced by `***`.
pub fn shown_location(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => location.to_owned(),
    }
}

/// Whether `location` names a PostgreSQL database (`postgres://…`), not a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    matches!(parse_location(location), Location::Postgres(_))
}

/// Opens an [`Engine`] with platforms registered and interrupted rollouts recovered.
///
/// ```no_run
/// # async fn demo() -> loco_core::Result<()> {
/// let engine = loco_core::Engine::builder().path("loco.db").local_platform("loco.db.state").open().await?;
/// # Ok(()) }
/// ```
pub struct EngineBuilder {
    location: Location,
    sqlite: SqliteOptions,
    platforms: Vec<Arc<dyn Platform>>,
    probes: Vec<Arc<dyn HealthProbe>>,
    metric_sources: Vec<Arc<dyn MetricSource>>,
    local: Option<LocalOptions>,
    thresholds: Vec<(String, Thresholds)>,
    max_concurrent_rollouts: usize,
    vault: Option<Vault>,
    lease: Option<Duration>,
    release_retention: Option<u32>,
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Store>> {
    let options = loco_store::PostgresOptions::default();
    Ok(Arc::new(loco_store::PostgresStore::open(url, options).await?))
}

#[cfg(not(feature = "postgres"))]
#[allow(clippy::unused_async)] // The same signature as the PostgreSQL build's.
async fn open_postgres(_url: &str) -> Result<Arc<dyn Store>> {
    Err(Error::invalid("db", "this build of Loco has no PostgreSQL support (the `postgres` feature of loco-core)"))
}

impl EngineBuilder {
    pub(crate) fn new() -> Self {
        Self {
            location: Location::Memory,
            sqlite: SqliteOptions::default(),
            platforms: Vec::new(),
            probes: Vec::new(),
            metric_sources: Vec::new(),
            local: None,
            thresholds: Vec::new(),
            max_concurrent_rollouts: DEFAULT_MAX_CONCURRENT_ROLLOUTS,
            vault: None,
            lease: None,
            release_retention: None,
        }
    }
}

impl EngineBuilder {
    /// Stores everything in the SQLite file at `path` (the default is a private in-memory database).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.location = Location::File(path.as_ref().to_path_buf());
        self
    }

    /// Stores everything where `location` says: a `postgres://user@host:5432/db` URL (feature
    /// `postgres`; replicas on one database share the work), a `sqlite:` URL, or a SQLite file
    /// path. A PostgreSQL engine takes its secrets key from `LOCO_MASTER_KEY` (every replica
    /// must use the same), or from [`vault`](Self::vault).
    #[must_use]
    pub fn location(mut self, location: &str) -> Self {
        self.location = parse_location(location);
        self
    }

    /// Uses any [`Store`] implementation.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.location = Location::Store(store);
        self
    }

    /// SQLite tuning (durability, pool size, batch size).
    #[must_use]
    pub fn sqlite_options(mut self, options: SqliteOptions) -> Self {
        self.sqlite = options;
        self
    }

    /// Registers a platform that rollout plans can name.
    #[must_use]
    pub fn platform(mut self, platform: Arc<dyn Platform>) -> Self {
        self.platforms.push(platform);
        self
    }

    /// Registers a health probe that plans can name as `{"type": "host", "name": …}` (before
    /// recovery runs, so recovered rollouts find it).
    #[must_use]
    pub fn probe(mut self, probe: Arc<dyn HealthProbe>) -> Self {
        self.probes.push(probe);
        self
    }

    /// Registers a metric source that analysis can name as `{"type": "host", "name": …}` (before
    /// recovery runs).
    #[must_use]
    pub fn metric_source(mut self, source: Arc<dyn MetricSource>) -> Self {
        self.metric_sources.push(source);
        self
    }

    /// Registers the local platform (child processes behind a weighted proxy on 127.0.0.1), keeping
    /// its pidfiles and logs in `state_dir` (created if missing); use the same directory across
    /// restarts so a restarted engine can adopt or stop what an earlier one started.
    #[must_use]
    pub fn local_platform(mut self, state_dir: impl AsRef<Path>) -> Self {
        self.local = Some(LocalOptions::new(state_dir.as_ref()));
        self
    }

    /// Registers the local platform with these options (fixed proxy ports per target, say).
    #[must_use]
    pub fn local_platform_with(mut self, options: LocalOptions) -> Self {
        self.local = Some(options);
        self
    }

    /// Analysis thresholds for every environment of a JSON document mapping environment names to
    /// thresholds (`{"production": {"min_samples": 100}}`), as a thresholds file or a binding's
    /// dictionary gives them. Problems are validation errors naming the full path
    /// (`thresholds.production.alpha`).
    pub fn thresholds_json(mut self, json: &str) -> Result<Self> {
        self.thresholds.extend(Thresholds::by_environment_from_json(json)?);
        Ok(self)
    }

    /// Analysis thresholds for one environment (compared case-insensitively); plans may still
    /// set their own. Without this, the defaults of [`Thresholds`] apply.
    #[must_use]
    pub fn thresholds(mut self, environment: &str, thresholds: Thresholds) -> Self {
        self.thresholds.push((environment.to_owned(), thresholds));
        self
    }

    /// Seals secrets with this vault instead of the default one: `LOCO_MASTER_KEY`, else the
    /// key file next to the database (`loco.db.key`, created with mode 0600 on first use), or a
    /// key that dies with the engine for an in-memory database.
    #[must_use]
    pub fn vault(mut self, vault: Vault) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Most rollouts executing at once; further ones wait their turn (default 1024).
    #[must_use]
    pub fn max_concurrent_rollouts(mut self, limit: usize) -> Self {
        self.max_concurrent_rollouts = limit;
        self
    }

    /// How many releases each service and environment keeps in its history for
    /// [`Engine::rollback_to`] (default 20, at least 2).
    #[must_use]
    pub fn release_retention(mut self, releases: u32) -> Self {
        self.release_retention = Some(releases);
        self
    }

    /// How long a rollout's owner may be silent before another engine on the same store takes
    /// the rollout over (default 30 s, at least 0.3 s). The owner writes a heartbeat six times
    /// per lease; engines sharing a store should use the same lease.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Opens the store, registers the platforms, then recovers rollouts left unfinished by an
    /// engine that stopped (see [`Engine::recover_rollouts`]) before returning. Thresholds are
    /// checked before anything is opened.
    pub async fn open(self) -> Result<Engine> {
        for (environment, thresholds) in &self.thresholds {
            thresholds.validate(&format!("thresholds.{environment}."))?;
        }
        let mut platforms = self.platforms;
        if let Some(options) = self.local {
            let local = LocalPlatform::new(options)
                .map_err(|e| Error::Platform { platform: "local".to_owned(), message: e.message })?;
            platforms.push(Arc::new(local));
        }
        let keys = match (&self.vault, &self.location) {
            (Some(vault), _) => KeySource::Given(Box::new(vault.clone())),
            (None, Location::File(path)) => KeySource::File(key_file_of(path)),
            (None, Location::Postgres(_)) => KeySource::Environment,
            (None, Location::Memory | Location::Store(_)) => KeySource::Ephemeral,
        };
        let store: Arc<dyn Store> = match self.location {
            Location::File(path) => Arc::new(SqliteStore::open(path, self.sqlite).await?),
            Location::Memory => Arc::new(SqliteStore::open_in_memory(self.sqlite).await?),
            Location::Store(store) => store,
            Location::Postgres(url) => open_postgres(&url).await?,
        };
        let engine = Engine::assemble(store, self.max_concurrent_rollouts, keys);
        for platform in platforms {
            engine.register_platform(platform);
        }
        for probe in self.probes {
            engine.register_probe(probe);
        }
        for source in self.metric_sources {
            engine.register_metric_source(source);
        }
        engine.register_configured_platforms().await?;
        // Saved thresholds first; those given here (a thresholds file) are saved over them.
        for (environment, thresholds) in engine.store.thresholds().await? {
            engine.set_thresholds(&environment, thresholds)?;
        }
        for (environment, thresholds) in self.thresholds {
            engine.save_thresholds(&environment, thresholds).await?;
        }
        if let Some(lease) = self.lease {
            engine.orchestrator.set_lease(lease);
        }
        if let Some(releases) = self.release_retention {
            engine.orchestrator.set_release_retention(releases);
        }
        let recovered = engine.orchestrator.recover().await?;
        if !engine.orchestrator.platforms().is_empty() {
            let skip: Vec<(String, String)> = recovered.into_iter().map(|r| (r.service, r.environment)).collect();
            engine.orchestrator.revive_serving(&skip).await?;
            engine.orchestrator.watch_for_orphans();
        }
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_urls_or_files() {
        assert!(is_postgres_url("postgres://loco@db:5432/loco"));
        assert!(is_postgres_url("PostgreSQL://loco@db/loco"));
        assert!(
            !is_postgres_url("loco.db") && !is_postgres_url("sqlite:loco.db") && !is_postgres_url("/srv/postgres.db")
        );
        assert!(matches!(parse_location("sqlite:///srv/loco.db"), Location::File(p) if p == Path::new("/srv/loco.db")));
        assert!(matches!(parse_location("sqlite:loco.db"), Location::File(p) if p == Path::new("loco.db")));
    }

    #[test]
    fn a_database_urls_password_is_never_shown() {
        assert_eq!(
            shown_location("postgres://loco:s3cret@db:5432/loco?sslmode=require"),
            "postgres://loco:***@db:5432/loco?sslmode=require"
        );
        assert_eq!(shown_location("postgres://loco@db/loco"), "postgres://loco@db/loco");
        assert_eq!(shown_location("/var/lib/loco.db"), "/var/lib/loco.db");
    }
}

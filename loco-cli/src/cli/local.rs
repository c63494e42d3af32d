//! Opening a database file in this process with the local platform registered, as `loco serve`
//! and the `--db` commands that run rollouts do: instance pidfiles live in a state directory
//! (by default next to the database, `loco.db.state/`), and opening recovers the rollouts an
//! earlier process left unfinished. The core's `EngineBuilder` does the assembly.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use loco_core::Engine;

use crate::cli::exit::CliError;

/// The state directory used when none is given: the database path with `.state` appended, or
/// `loco.state` (in the working directory) for a PostgreSQL URL.
pub fn default_state_dir(db: &Path) -> PathBuf {
    if loco_core::is_postgres_url(&db.to_string_lossy()) {
        return PathBuf::from("loco.state");
    }
    let mut dir = OsString::from(db.as_os_str());
    dir.push(".state");
    PathBuf::from(dir)
}

/// Engine settings `loco serve` exposes as flags.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// How long a silent rollout owner keeps its rollouts.
    pub lease: Option<std::time::Duration>,
    /// Releases kept per service and environment.
    pub release_retention: Option<u32>,
    /// Fixed proxy ports of the local platform, per service and environment.
    pub proxy_ports: std::collections::HashMap<loco_core::platform::Target, u16>,
}

/// Parses `SERVICE/ENVIRONMENT=PORT` (a `--proxy-port` value).
pub fn parse_proxy_port(text: &str) -> Result<(loco_core::platform::Target, u16), String> {
    let bad = || format!("'{text}' is not SERVICE/ENVIRONMENT=PORT (like shop/production=9000)");
    let (target, port) = text.split_once('=').ok_or_else(bad)?;
    let (service, environment) = target.split_once('/').ok_or_else(bad)?;
    let port: u16 = port.trim().parse().map_err(|_| bad())?;
    if service.trim().is_empty() || environment.trim().is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((
        loco_core::platform::Target { service: service.trim().to_owned(), environment: environment.trim().to_owned() },
        port,
    ))
}

/// Opens `db` with the local platform keeping its state in `state_dir` (default
/// [`default_state_dir`]) and, from a thresholds file (a JSON object mapping environment names to
/// thresholds, `{"production": {"min_samples": 100}}`), the analysis thresholds per environment;
/// a bad file is a validation error naming the full path (`thresholds.production.alpha`).
/// Interrupted rollouts are recovered before this returns.
pub async fn open_engine(
    db: &Path,
    state_dir: Option<&Path>,
    thresholds_file: Option<&Path>,
    tuning: Tuning,
) -> Result<Engine, CliError> {
    let state_dir = state_dir.map_or_else(|| default_state_dir(db), Path::to_path_buf);
    let mut options = loco_core::platform::local::LocalOptions::new(state_dir);
    options.proxy_ports = tuning.proxy_ports;
    let mut builder = Engine::builder().location(&db.to_string_lossy()).local_platform_with(options);
    if let Some(lease) = tuning.lease {
        builder = builder.lease(lease);
    }
    if let Some(releases) = tuning.release_retention {
        builder = builder.release_retention(releases);
    }
    if let Some(file) = thresholds_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read the thresholds file {}: {e}", file.display())))?;
        builder = builder.thresholds_json(&text)?;
    }
    Ok(builder.open().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_sits_next_to_the_database() {
        assert_eq!(default_state_dir(Path::new("loco.db")), PathBuf::from("loco.db.state"));
        assert_eq!(default_state_dir(Path::new("postgres://loco@db:5432/loco")), PathBuf::from("loco.state"));
        assert_eq!(default_state_dir(Path::new("/var/lib/x/app.sqlite")), PathBuf::from("/var/lib/x/app.sqlite.state"));
    }

    #[tokio::test]
    async fn thresholds_files_are_parsed_strictly_with_full_field_paths() {
        let dir = tempfile::tempdir().unwrap();
        let (db, file) = (dir.path().join("loco.db"), dir.path().join("t.json"));
        std::fs::write(&file, r#"{"production": {"min_samples": 100}, "staging": {}}"#).unwrap();
        open_engine(&db, None, Some(&file), Tuning::default()).await.unwrap().close().await.unwrap();
        for (text, field) in [
            (r#"{"production": {"min_sample": 100}}"#, "thresholds.production.min_sample"),
            (r#"{"production": {"alpha": 2}}"#, "thresholds.production.alpha"),
        ] {
            std::fs::write(&file, text).unwrap();
            let Err(CliError::Api(body)) = open_engine(&db, None, Some(&file), Tuning::default()).await else {
                panic!("a validation error")
            };
            assert_eq!(body.error.details[0].field, field);
        }
        let missing = open_engine(&db, None, Some(&dir.path().join("missing.json")), Tuning::default()).await;
        assert!(matches!(missing, Err(CliError::Usage(_))));
    }
}

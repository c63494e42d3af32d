//! Opening a database file in this process with the local platform registered, as `loco serve`
//! and the `--db` commands that run rollouts do: instance pidfiles live in a state directory
//! (by default next to the database, `loco.db.state/`), and opening recovers the rollouts an
//! earlier process left unfinished.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use loco_core::analysis::Thresholds;
use loco_core::platform::local::{LocalOptions, LocalPlatform};
use loco_core::{Engine, Error};

use crate::cli::exit::CliError;

/// The state directory used when none is given: the database path with `.state` appended.
pub fn default_state_dir(db: &Path) -> PathBuf {
    let mut dir = OsString::from(db.as_os_str());
    dir.push(".state");
    PathBuf::from(dir)
}

/// Opens `db` with the local platform keeping its state in `state_dir` (default
/// [`default_state_dir`]) and the given analysis thresholds per environment. Interrupted
/// rollouts are recovered before this returns.
pub async fn open_engine(
    db: &Path,
    state_dir: Option<&Path>,
    thresholds: BTreeMap<String, Thresholds>,
) -> Result<Engine, CliError> {
    let state_dir = state_dir.map_or_else(|| default_state_dir(db), Path::to_path_buf);
    let local = LocalPlatform::new(LocalOptions::new(&state_dir))
        .map_err(|e| Error::Platform { platform: "local".to_owned(), message: e.message })?;
    let mut builder = Engine::builder().path(db).platform(Arc::new(local));
    for (environment, t) in thresholds {
        builder = builder.thresholds(&environment, t);
    }
    Ok(builder.open().await?)
}

/// Reads a thresholds file: a JSON object mapping environment names to [`Thresholds`]
/// (`{"production": {"min_samples": 100}}`). Unknown fields and wrong types are validation errors
/// naming the field (`production.alpha`); the values are checked by the engine when it opens.
pub fn read_thresholds(path: &Path) -> Result<BTreeMap<String, Thresholds>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the thresholds file {}: {e}", path.display())))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let thresholds = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = match e.path().to_string().as_str() {
            "." => "thresholds".to_owned(),
            path => format!("thresholds.{path}"),
        };
        Error::invalid(field, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| Error::invalid("thresholds", e.to_string()))?;
    Ok(thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_sits_next_to_the_database() {
        assert_eq!(default_state_dir(Path::new("loco.db")), PathBuf::from("loco.db.state"));
        assert_eq!(default_state_dir(Path::new("/var/lib/x/app.sqlite")), PathBuf::from("/var/lib/x/app.sqlite.state"));
    }

    #[test]
    fn thresholds_files_are_parsed_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"{"production": {"min_samples": 100}, "staging": {}}"#).unwrap();
        let t = read_thresholds(&file).unwrap();
        assert_eq!((t["production"].min_samples, t["staging"].min_samples), (100, 50));
        std::fs::write(&file, r#"{"production": {"min_sample": 100}}"#).unwrap();
        let Err(CliError::Api(body)) = read_thresholds(&file) else { panic!("a validation error") };
        assert_eq!(body.error.details[0].field, "thresholds.production.min_sample");
        assert!(matches!(read_thresholds(&dir.path().join("missing.json")), Err(CliError::Usage(_))));
    }
}

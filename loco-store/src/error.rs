//! Errors inside the SQLite store: a database failure or a refusal by the rules, so `?` works on
//! both; every public method hands callers a [`loco_types::Error`] (`storage_error` for the first).

use loco_types::Error;

/// A failure inside the store.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The database failed.
    Sql(rusqlite::Error),
    /// The rules (or a store invariant) refused.
    Loco(Error),
}

/// Results inside the store.
pub(crate) type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Loco(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Sql(e) => Error::storage(e),
            StoreError::Loco(e) => e,
        }
    }
}

//! Errors inside the PostgreSQL store: a database failure or a refusal by the rules, so `?` works
//! on both; every public method hands callers a [`loco_types::Error`] (`storage_error` for the
//! first).

use loco_types::Error;
use tokio_postgres::error::SqlState;

/// A failure inside the store.
#[derive(Debug)]
pub(crate) enum PgError {
    /// The database (or the connection to it) failed.
    Db(tokio_postgres::Error),
    /// The rules (or a store invariant) refused.
    Loco(Error),
}

/// Results inside the store.
pub(crate) type Result<T, E = PgError> = std::result::Result<T, E>;

impl PgError {
    /// Whether the server rolled the transaction back because of a concurrent one (a
    /// serialization failure or a deadlock), so running it again is safe.
    pub fn is_retryable(&self) -> bool {
        let PgError::Db(e) = self else { return false };
        e.code().is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        })
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Db(e)
    }
}

impl From<Error> for PgError {
    fn from(e: Error) -> Self {
        PgError::Loco(e)
    }
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Db(e) => Error::storage(describe(&e)),
            PgError::Loco(e) => e,
        }
    }
}

/// The error with every cause after it: tokio-postgres says only "db error" or "error connecting
/// to server" itself and keeps the facts (the server's message, the OS error) in its sources.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = format!("PostgreSQL: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

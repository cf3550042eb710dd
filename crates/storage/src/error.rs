//! Translating database errors into the domain's `RepositoryError` at the edge.

use std::ops::Deref;

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

use fapiao_domain::ports::RepositoryError;

/// Maps a sea-orm error to the variant the workflow can act on.
///
/// Unique violations become `Conflict` on both SQLite and PostgreSQL (sea-orm's `sql_err`
/// reads SQLite's extended code 2067/1555 and PostgreSQL's SQLSTATE 23505); a busy database,
/// a lost connection or a serialization failure becomes `Unavailable`; the rest is `Other`.
pub(crate) fn repository_error(err: DbErr) -> RepositoryError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        return RepositoryError::Conflict(detail);
    }
    if is_transient(&err) {
        return RepositoryError::Unavailable(err.to_string());
    }
    RepositoryError::Other(Box::new(err))
}

/// Stored data that no longer maps to domain types.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Corrupt(format!("{what}: {detail}"))
}

fn is_transient(err: &DbErr) -> bool {
    let sqlx_err = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e.deref(),
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db_err) => {
            let code = db_err.code().unwrap_or_default();
            if let Ok(sqlite_code) = code.parse::<i32>() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                matches!(sqlite_code & 0xff, 5 | 6)
            } else {
                // PostgreSQL: serialization failure, deadlock, lock timeout, too many
                // connections, shutdown, and the whole connection-exception class.
                matches!(
                    code.deref(),
                    "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03"
                ) || code.starts_with("08")
            }
        }
        _ => false,
    }
}

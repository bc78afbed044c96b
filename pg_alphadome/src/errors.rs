//! Errors raised to the client: a SQLSTATE and a message a DBA can act on, never a panic.
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Raises an ERROR with this SQLSTATE; the current transaction aborts.
#[allow(unreachable_code)]
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>) -> ! {
    let message: String = message.into();
    ereport!(ERROR, code, message);
    unreachable!("ereport(ERROR) does not return")
}

//! Errors raised to the client: a SQLSTATE and a message a DBA can act on, never a panic.
use pgrx::pg_sys::panic::{CaughtError, ErrorReport, ErrorReportWithLevel};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Raises an ERROR with this SQLSTATE; the current transaction aborts.
#[allow(unreachable_code)]
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>) -> ! {
    let message: String = message.into();
    ereport!(ERROR, code, message);
    unreachable!("ereport(ERROR) does not return")
}

/// Keeps PostgreSQL's errors as they are on their way through Rust code. pgrx carries an
/// ERROR raised inside a statement (a unique violation in SPI, say), or one raised with
/// `raise`, as a panic, and its panic hook captures a backtrace for every panic: with
/// RUST_BACKTRACE set in the server's environment that is a hundred lines of DETAIL per error
/// and a tenth of a second of symbol lookup. Such errors are not bugs, so they skip the hook
/// and reach the client with their own SQLSTATE and message; a real Rust panic still gets it.
pub fn keep_errors_plain() {
    let pgrx_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let is_error_report = payload.is::<CaughtError>()
            || payload.is::<ErrorReportWithLevel>()
            || payload.is::<ErrorReport>();
        if !is_error_report {
            pgrx_hook(info);
        }
    }));
}

//! Waking the relay's worker (docs/design.md section 1: NOTIFY alphadome_outbox, coalesced). A
//! NOTIFY makes commits queue behind each other, so it is sent at most once per 10 ms across
//! all sessions. The clock is the sequence alphadome._wakeup_clock (ingest.sql): setval is not
//! transactional and takes no row lock. A skipped wake-up is covered by the worker's polling.
//! In Rust, not PL/pgSQL, because ingest calls it for every webhook that queued a job, and a
//! direct call is much cheaper than a statement running a PL/pgSQL function.
use crate::errors::raise;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

const EVERY_MS: i64 = 10;
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_US: i64 = 946_684_800_000_000;

/// Wakes the relay's worker unless a wake-up went out less than 10 ms ago. Owner only (the
/// queue's SECURITY DEFINER functions call it).
#[pg_extern(volatile, parallel_unsafe)]
fn _wake_worker() {
    wake_worker();
}

/// `_wake_worker()` for Rust callers.
pub fn wake_worker() {
    let clock = crate::catalog::relation(c"_wakeup_clock");
    if clock == pg_sys::InvalidOid {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            "sequence alphadome._wakeup_clock is missing: reinstall pg_alphadome",
        );
    }
    // SAFETY: plain calls of PostgreSQL functions with arguments of their types.
    unsafe {
        let now_ms = (pg_sys::GetCurrentTimestamp() + POSTGRES_EPOCH_US) / 1000;
        // NULL before the first setval.
        let last = pgrx::direct_function_call::<i64>(
            pg_sys::pg_sequence_last_value,
            &[Some(clock.into())],
        );
        if now_ms - last.unwrap_or(0) >= EVERY_MS {
            pgrx::direct_function_call_as_datum(
                pg_sys::setval_oid,
                &[Some(clock.into()), Some(now_ms.into())],
            );
            pgrx::direct_function_call_as_datum(
                pg_sys::pg_notify,
                &["alphadome_outbox".into_datum(), "".into_datum()],
            );
        }
    }
}

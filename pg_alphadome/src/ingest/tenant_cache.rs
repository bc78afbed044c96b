//! Each session's copy of the tenants ingest routes to, by phone_number_id: the tenant with its
//! switches and its FAQ's version, so that a webhook does not pay a join statement to read them
//! (docs/internals.md has what it saved).
//!
//! Exact, not timed. A statement trigger on bot_tenants and on bot_control_settings
//! (`_tenants_changed`, ingest.sql) sends PostgreSQL's relation cache invalidation for the
//! table, the message PostgreSQL itself uses to tell every session that a table changed. A
//! session takes such messages in when its next transaction starts, and at once for its own
//! changes (and again when they roll back); the callback below then marks the copy stale. So
//! every session sees each committed change from its next transaction on, its own at once.
//!
//! The same copy keeps the answers rendered with the settings' facts that do not move with the
//! clock ({hours}): rendering them is most of an FAQ answer's ingest, and only a change of
//! the settings changes them.
use super::Tenant;
use crate::catalog::relation;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Beyond this many phone number ids (unknown ones included) a session starts afresh.
const MAX_ENTRIES: usize = 1000;

thread_local! {
    static COPY: RefCell<HashMap<String, Option<Rc<Tenant>>>> = RefCell::new(HashMap::new());
    /// Rendered answers by tenant, language and answer as written.
    static RENDERED: RefCell<HashMap<([u8; 16], String, String), Rc<str>>> = RefCell::new(HashMap::new());
    /// Raised by the invalidation callback, which may run while the copy is in use (SPI takes
    /// locks, and taking a lock takes in invalidations): it only sets this flag.
    static STALE: Cell<bool> = const { Cell::new(true) };
    /// bot_tenants and bot_control_settings, as of the last refill.
    static TABLES: Cell<[pg_sys::Oid; 2]> = const { Cell::new([pg_sys::InvalidOid; 2]) };
    static LISTENING: Cell<bool> = const { Cell::new(false) };
}

/// The tenant that owns `phone_number_id` (None: no tenant does), from the session's copy;
/// `load` reads it when the copy does not have it.
pub fn tenant<E>(
    phone_number_id: &str,
    load: impl FnOnce() -> Result<Option<Tenant>, E>,
) -> Result<Option<Rc<Tenant>>, E> {
    refresh();
    if let Some(known) = COPY.with(|copy| copy.borrow().get(phone_number_id).cloned()) {
        return Ok(known);
    }
    // A change that arrives while loading raises STALE again: this entry goes at the next call.
    let loaded = load()?.map(Rc::new);
    COPY.with(|copy| {
        let mut copy = copy.borrow_mut();
        if copy.len() >= MAX_ENTRIES {
            copy.clear();
        }
        copy.insert(phone_number_id.to_owned(), loaded.clone());
    });
    Ok(loaded)
}

/// `answer` with its placeholders rendered for `tenant` in `language`, from the session's copy;
/// `render` renders it when the copy does not have it. Only for an answer whose rendering
/// depends on the tenant's settings alone (no {opening}).
pub fn rendered<E>(
    tenant: [u8; 16],
    language: &str,
    answer: &str,
    render: impl FnOnce() -> Result<String, E>,
) -> Result<Rc<str>, E> {
    refresh();
    let key = (tenant, language.to_owned(), answer.to_owned());
    if let Some(known) = RENDERED.with(|copy| copy.borrow().get(&key).cloned()) {
        return Ok(known);
    }
    let text: Rc<str> = render()?.into();
    RENDERED.with(|copy| {
        let mut copy = copy.borrow_mut();
        if copy.len() >= MAX_ENTRIES {
            copy.clear();
        }
        copy.insert(key, text.clone());
    });
    Ok(text)
}

/// Empties the copy when a change to the tables made it stale.
fn refresh() {
    listen();
    if STALE.replace(false) {
        COPY.with(|copy| copy.borrow_mut().clear());
        RENDERED.with(|copy| copy.borrow_mut().clear());
        // InvalidOid for a table that is gone: the callback then heeds only "every relation".
        TABLES.set([relation(c"bot_tenants"), relation(c"bot_control_settings")]);
    }
}

fn listen() {
    if !LISTENING.replace(true) {
        // SAFETY: registers a plain function for the life of the backend (there is no way
        // to unregister; the library stays loaded as long).
        unsafe {
            pg_sys::CacheRegisterRelcacheCallback(Some(invalidated), pg_sys::Datum::from(0));
        }
    }
}

/// PostgreSQL's callback for a relation cache invalidation: `relid`, or every relation when it
/// is InvalidOid. Must not fail or touch the catalogs.
unsafe extern "C-unwind" fn invalidated(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || TABLES.get().contains(&relid) {
        STALE.set(true);
    }
}

/// Sends the invalidation that empties every session's copy (see above): the statement trigger
/// of bot_tenants and bot_control_settings.
#[pg_trigger]
fn _tenants_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    // SAFETY: the trigger's own table, locked by the statement that fired it.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(trigger.relid()?) };
    Ok(None)
}

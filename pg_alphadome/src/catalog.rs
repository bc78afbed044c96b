//! The extension's own relations, found by name: its schema is fixed (`schema = alphadome` in
//! the control file, not relocatable).
use pgrx::pg_sys;
use std::ffi::CStr;

/// The oid of relation `alphadome.<name>`, InvalidOid when there is none.
pub fn relation(name: &CStr) -> pg_sys::Oid {
    // SAFETY: catalog lookups by name, inside a transaction; both return InvalidOid for a
    // missing schema or relation.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"alphadome".as_ptr(), true);
        pg_sys::get_relname_relid(name.as_ptr(), schema)
    }
}

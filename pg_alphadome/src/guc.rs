//! Server settings the extension defines.
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Path of the master key file. Superuser-only (SUSET), so a tenant or the relay can never
/// point decryption at a file of its own.
pub static MASTER_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn init() {
    GucRegistry::define_string_guc(
        c"alphadome.master_key_file",
        c"File holding AlphaDome's master keys, one '<key_id>:<64 hex>' per line, the last current.",
        c"Read by the server at each encryption or decryption; never stored in a table.",
        &MASTER_KEY_FILE,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
}

pub fn master_key_file() -> Option<String> {
    MASTER_KEY_FILE
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.trim().is_empty())
}

//! pg_alphadome: everything about each AlphaDome tenant lives here, in schema `alphadome`.
//! Rust holds what SQL cannot do well (phone parsing, the master key file, key derivation) and
//! the message path's hot loop (webhook ingestion); the rest is SQL in `../sql/`, wired in by
//! `schema.rs` in dependency order.
use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod catalog;
mod credentials;
mod errors;
mod faq;
mod faq_learning;
mod guc;
mod ingest;
mod jsonb;
mod language;
mod matching;
mod phone;
mod schema;
mod wake;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    errors::keep_errors_plain();
    guc::init();
}

/// Required by `cargo pgrx test`: configures the throwaway test cluster.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // The Makefile writes a throwaway master key file and names it here.
        match std::env::var("ALPHADOME_TEST_MASTER_KEY_FILE") {
            Ok(path) => {
                let setting = format!("alphadome.master_key_file = '{path}'");
                vec![Box::leak(setting.into_boxed_str())]
            }
            Err(_) => vec![],
        }
    }
}

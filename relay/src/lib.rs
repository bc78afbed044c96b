//! alphadome-relay as a library: the binary (main.rs) and the end-to-end tests use it.
pub mod backoff;
pub mod batch;
pub mod check;
pub mod chores;
pub mod clients;
pub mod config;
pub mod contract;
pub mod http;
pub mod login;
pub mod metrics;
pub mod serve;
pub mod simulate;
pub mod tenant;
pub mod worker;

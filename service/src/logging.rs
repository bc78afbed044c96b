//! Logs: JSON lines on stderr, their level from RUST_LOG (info when unset or not understood).

/// Sets up logging for the process; call once, first thing in main.
pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

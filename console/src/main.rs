//! alphadome-console: the web console of pg_alphadome (docs/console.md).
use alphadome_console::{config::ConsoleArgs, server};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match server::run(ConsoleArgs::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alphadome-console: {e:#}");
            ExitCode::FAILURE
        }
    }
}

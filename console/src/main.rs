//! alphadome-console: the web console of pg_alphadome (docs/console.md).
use alphadome_console::{config::ConsoleArgs, serve};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    alphadome_service::logging::init();
    match serve::run(ConsoleArgs::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alphadome-console: {e:#}");
            ExitCode::FAILURE
        }
    }
}

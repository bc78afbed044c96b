//! alphadome-relay: the HTTP sidecar of pg_alphadome. This first version checks a deployment
//! (`check`); the webhook server and the outbound worker come with the pipeline issue.
mod check;
mod config;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "alphadome-relay",
    version,
    about = "AlphaDome's HTTP sidecar for pg_alphadome"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the configuration and the database: connection, extension version, roles.
    Check(config::DatabaseArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args).await,
    }
}

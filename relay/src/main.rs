//! alphadome-relay: the HTTP sidecar of pg_alphadome (docs/design.md section 5). It takes Meta's
//! webhooks in and hands them to SQL, and carries queued jobs out to Meta and the LLM.
use alphadome_relay::{check, config, login, serve, simulate, tenant};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Serve Meta's webhooks and run the outbound worker until SIGTERM.
    Serve(Box<config::ServeArgs>),
    /// Post a signed Meta-shaped text message to a running relay and print the bot's reply.
    Simulate(simulate::SimulateArgs),
    /// Check the configuration and the database: connection, extension, role, security_check.
    Check(config::DatabaseArgs),
    /// Onboard a tenant or give it new credentials; the secrets come from environment variables
    /// or standard input, never from the command line.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// A console login for an operator or a shop's owner; the password comes from
    /// ALPHADOME_CONSOLE_PASSWORD or standard input, never from the command line.
    ConsoleLogin(login::LoginArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    alphadome_service::logging::init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Check(args) => return check::run(&args).await,
        Command::Tenant(command) => tenant::run(command).await,
        Command::ConsoleLogin(args) => login::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alphadome-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

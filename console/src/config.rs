//! Settings: flags with environment fallbacks. The connection string is hidden from --help.
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "alphadome-console",
    version,
    about = "AlphaDome's web console for shop owners and the operator"
)]
pub struct ConsoleArgs {
    /// PostgreSQL connection string of the console's login: NOINHERIT, a member of
    /// alphadome_console, alphadome_tenant and alphadome_admin (docs/security.md).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// CA certificate (PEM) to trust for the database's TLS certificate, besides the system's.
    #[arg(long, env = "DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// Address the console listens on.
    #[arg(
        long,
        env = "ALPHADOME_CONSOLE_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub listen: SocketAddr,
    /// The URL people reach it at; https makes the session cookie Secure.
    #[arg(long, env = "ALPHADOME_CONSOLE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Database connections.
    #[arg(long, env = "ALPHADOME_CONSOLE_POOL", default_value_t = 8)]
    pub pool_size: usize,
}

impl ConsoleArgs {
    /// Cookies are Secure when the console is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

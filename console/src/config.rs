//! Settings: flags with environment fallbacks. The connection string is hidden from --help and
//! never logged.
use alphadome_service::database::DatabaseArgs;
use alphadome_service::server::HttpArgs;
use clap::Parser;
use std::net::SocketAddr;

/// The console's name in pg_stat_activity, unless the connection string gives another.
pub const APPLICATION_NAME: &str = "alphadome-console";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "alphadome-console",
    version,
    about = "AlphaDome's web console for shop owners and the operator"
)]
pub struct ConsoleArgs {
    /// The console's login: NOINHERIT, a member of alphadome_console, alphadome_tenant and
    /// alphadome_admin (docs/security.md).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Connection cap, header and body timeouts.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Address the console listens on.
    #[arg(
        long,
        env = "ALPHADOME_CONSOLE_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub listen: SocketAddr,
    /// The URL people reach it at (links in alerts name it).
    #[arg(long, env = "ALPHADOME_CONSOLE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Only for plain-http use on this machine (make run): the session cookie without Secure
    /// and the __Host- prefix, and forms expected from http:// rather than https://.
    #[arg(
        long,
        env = "ALPHADOME_CONSOLE_INSECURE_COOKIES",
        default_value_t = false
    )]
    pub insecure_cookies: bool,
    /// SMTP server for password reset links, the relay's for alerts (ALPHADOME_SMTP_URL, same
    /// rules). Without it, "Forgot password" says to ask the operator.
    #[arg(long, env = "ALPHADOME_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of the console's emails.
    #[arg(
        long,
        env = "ALPHADOME_CONSOLE_MAIL_FROM",
        default_value = "AlphaDome console <console@alphadome.invalid>"
    )]
    pub mail_from: String,
    /// Database connections.
    #[arg(long, env = "ALPHADOME_CONSOLE_POOL", default_value_t = 8)]
    pub pool_size: usize,
}

impl ConsoleArgs {
    /// Cookies are Secure and __Host- unless plain http was asked for.
    pub fn secure_cookies(&self) -> bool {
        !self.insecure_cookies
    }
}

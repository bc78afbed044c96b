//! Settings: flags with environment fallbacks (DESIGN.md section 5).
use clap::Args;

#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// PostgreSQL connection string (sslmode is honoured).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

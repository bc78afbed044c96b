//! The database settings, the pool, single sessions (LISTEN, one-off commands) and how a
//! database error is written in a log line. TLS goes through native-tls, as the connection
//! string's sslmode asks, trusting DATABASE_CA_FILE besides the system's certificates.
use anyhow::Context;
use clap::Args;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use postgres_native_tls::{MakeTlsConnector, TlsStream};
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, Connection, Socket};

/// Time to open a connection: a database that does not answer is reported, not waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is. Not Debug-derived: the connection string may hold a password.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL connection string; sslmode is honoured (TLS through native-tls).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// CA certificate (PEM) to trust for the database's TLS certificate, besides the system's.
    #[arg(long, env = "DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database", &self.target())
            .field("database_ca_file", &self.database_ca_file)
            .finish()
    }
}

/// A session of its own, its connection to be driven by the caller.
pub type Session = (Client, Connection<Socket, TlsStream<Socket>>);

impl DatabaseArgs {
    /// A pool of `size` connections (at least one), named `application_name` in pg_stat_activity
    /// unless the connection string names them.
    pub fn pool(&self, application_name: &str, size: usize) -> anyhow::Result<Pool> {
        let manager = Manager::from_config(
            self.config(application_name)?,
            self.tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Ok(Pool::builder(manager).max_size(size.max(1)).build()?)
    }

    /// One session, not pooled.
    pub async fn connect(&self, application_name: &str) -> anyhow::Result<Session> {
        Ok(self.config(application_name)?.connect(self.tls()?).await?)
    }

    /// The database for a log line: user, hosts and database name; never the password or any
    /// other option of the connection string.
    pub fn target(&self) -> String {
        let Ok(config) = self.database_url.parse::<Config>() else {
            return "(DATABASE_URL is not a valid connection string)".into();
        };
        let ports = config.get_ports();
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.display().to_string(),
                };
                // One port for every host, or one each (libpq's rule).
                match ports.get(i).or(ports.first()) {
                    Some(port) => format!("{name}:{port}"),
                    None => name,
                }
            })
            .collect();
        format!(
            "{}@{}/{}",
            config.get_user().unwrap_or("(default user)"),
            hosts.join(","),
            config.get_dbname().unwrap_or("(default database)")
        )
    }

    fn config(&self, application_name: &str) -> anyhow::Result<Config> {
        let mut config: Config = self
            .database_url
            .parse()
            .context("DATABASE_URL is not a valid connection string")?;
        if config.get_application_name().is_none() {
            config.application_name(application_name);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        Ok(config)
    }

    fn tls(&self) -> anyhow::Result<MakeTlsConnector> {
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(path) = &self.database_ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read DATABASE_CA_FILE {}", path.display()))?;
            builder.add_root_certificate(
                native_tls::Certificate::from_pem(&pem)
                    .context("DATABASE_CA_FILE is not a PEM certificate")?,
            );
        }
        Ok(MakeTlsConnector::new(builder.build()?))
    }
}

/// A database error for a log line: its SQLSTATE and message (tokio-postgres' own Display says
/// only "db error"). Messages of pg_alphadome never carry a secret.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> DatabaseArgs {
        DatabaseArgs {
            database_url: url.into(),
            database_ca_file: None,
        }
    }

    #[test]
    fn the_target_names_user_hosts_and_database_but_never_the_password() {
        let url = "postgresql://relay:s3cret-pw@db1:5433,db2/shop?sslmode=require";
        assert_eq!(args(url).target(), "relay@db1:5433,db2:5432/shop");
        let debug = format!("{:?}", args(url));
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        let keywords = args("host=/run/postgresql user=console password=s3cret-pw dbname=shop");
        assert_eq!(keywords.target(), "console@/run/postgresql/shop");
        assert!(!args("postgresql://x:s3cret-pw@[")
            .target()
            .contains("s3cret"));
    }
}

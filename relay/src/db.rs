//! Database connections: a pool for requests and jobs, and single sessions (LISTEN).
//! TLS through native-tls, as the connection string's sslmode asks.
use crate::config::DatabaseArgs;
use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use postgres_native_tls::MakeTlsConnector;

pub fn tls(args: &DatabaseArgs) -> anyhow::Result<MakeTlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &args.database_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read DATABASE_CA_FILE {}", path.display()))?;
        builder.add_root_certificate(
            native_tls::Certificate::from_pem(&pem)
                .context("DATABASE_CA_FILE is not a PEM certificate")?,
        );
    }
    Ok(MakeTlsConnector::new(builder.build()?))
}

pub fn config(args: &DatabaseArgs) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = args
        .database_url
        .parse()
        .context("DATABASE_URL is not a valid connection string")?;
    if config.get_application_name().is_none() {
        config.application_name("alphadome-relay");
    }
    config.connect_timeout(std::time::Duration::from_secs(5));
    Ok(config)
}

pub fn pool(args: &DatabaseArgs, size: usize) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        config(args)?,
        tls(args)?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager).max_size(size).build()?)
}

/// One session of its own (not pooled), with its connection driven by the caller.
pub async fn connect(
    args: &DatabaseArgs,
) -> anyhow::Result<(
    tokio_postgres::Client,
    tokio_postgres::Connection<
        tokio_postgres::Socket,
        postgres_native_tls::TlsStream<tokio_postgres::Socket>,
    >,
)> {
    Ok(config(args)?.connect(tls(args)?).await?)
}

/// A database error for a log line: its SQLSTATE and message (tokio-postgres' own Display
/// says only "db error"). Messages of pg_alphadome never carry a secret.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

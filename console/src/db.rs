//! The database pool (TLS through native-tls, as the connection string's sslmode asks).
use crate::config::ConsoleArgs;
use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use postgres_native_tls::MakeTlsConnector;

pub fn pool(args: &ConsoleArgs) -> anyhow::Result<Pool> {
    let mut config: tokio_postgres::Config = args
        .database_url
        .parse()
        .context("DATABASE_URL is not a valid connection string")?;
    if config.get_application_name().is_none() {
        config.application_name("alphadome-console");
    }
    config.connect_timeout(std::time::Duration::from_secs(5));
    let mut tls = native_tls::TlsConnector::builder();
    if let Some(path) = &args.database_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read DATABASE_CA_FILE {}", path.display()))?;
        tls.add_root_certificate(
            native_tls::Certificate::from_pem(&pem)
                .context("DATABASE_CA_FILE is not a PEM certificate")?,
        );
    }
    let manager = Manager::from_config(
        config,
        MakeTlsConnector::new(tls.build()?),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(args.pool_size.max(1))
        .build()?)
}

/// A database error for a log line or a form: its SQLSTATE and message. pg_alphadome's
/// messages never carry a secret.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The message of an error a person can fix (a value refused by its check: 22xxx, 23xxx,
/// 28P01), or None for anything else.
pub fn user_error(e: &tokio_postgres::Error) -> Option<String> {
    let db = e.as_db_error()?;
    let code = db.code().code();
    (code.starts_with("22") || code.starts_with("23") || code == "28P01" || code == "P0002")
        .then(|| db.message().to_string())
}

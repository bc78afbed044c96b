//! `alphadome-relay check`: can this relay work against this database?
use crate::config::DatabaseArgs;
use std::process::ExitCode;

pub async fn run(args: &DatabaseArgs) -> ExitCode {
    match check(args).await {
        Ok(lines) => {
            for line in lines {
                println!("ok    {line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The error text of tokio-postgres never contains the password of the URL.
            eprintln!("FAIL  {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn check(args: &DatabaseArgs) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let config: tokio_postgres::Config = args
        .database_url
        .parse()
        .context("DATABASE_URL is not a valid connection string")?;
    let tls = postgres_native_tls::MakeTlsConnector::new(native_tls::TlsConnector::new()?);
    let (client, connection) = config
        .connect(tls)
        .await
        .context("cannot connect to the database")?;
    tokio::spawn(connection);
    let mut lines = Vec::new();
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await?
        .get(0);
    lines.push(format!("database: PostgreSQL {version}"));
    let extension = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'",
            &[],
        )
        .await?
        .context(
            "pg_alphadome is not installed in this database: CREATE EXTENSION pg_alphadome CASCADE",
        )?;
    lines.push(format!(
        "extension: pg_alphadome {}",
        extension.get::<_, String>(0)
    ));
    let relay_member: bool = client
        .query_one(
            "SELECT pg_has_role(current_user, 'alphadome_relay', 'MEMBER')",
            &[],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        relay_member,
        "the login role is not a member of alphadome_relay: GRANT alphadome_relay TO <role>"
    );
    lines.push("role: member of alphadome_relay".into());
    Ok(lines)
}

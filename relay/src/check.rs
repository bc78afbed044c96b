//! `alphadome-relay check`: can this relay work against this database, and is the deployment
//! isolated? Prints one line per check; exits non-zero when any fails.
use crate::config::{DatabaseArgs, APPLICATION_NAME};
use std::process::ExitCode;

/// The extension version this relay speaks to: the relay and the extension are released together.
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

struct Line {
    ok: bool,
    text: String,
}

pub async fn run(args: &DatabaseArgs) -> ExitCode {
    let lines = match check(args).await {
        Ok(lines) => lines,
        Err(e) => vec![Line {
            ok: false,
            text: format!("{e:#}"),
        }],
    };
    for line in &lines {
        if line.ok {
            println!("ok    {}", line.text);
        } else {
            // tokio-postgres errors never contain the password of the connection string.
            eprintln!("FAIL  {}", line.text);
        }
    }
    if lines.iter().all(|l| l.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The server reached must be the primary: on a standby every webhook fails (read-only), so
/// a connection string that names a replica (or several hosts without
/// target_session_attrs=read-write) is named here, with the server's address.
async fn role_line(client: &tokio_postgres::Client) -> anyhow::Result<Line> {
    let row = client
        .query_one(
            "SELECT pg_is_in_recovery(), coalesce(host(inet_server_addr()) || ':' || inet_server_port(), 'the local socket of port ' || current_setting('port'))",
            &[],
        )
        .await?;
    let (standby, server): (bool, String) = (row.get(0), row.get(1));
    Ok(Line {
        ok: !standby,
        text: if standby {
            format!(
                "server: {server} is a standby (read-only, in recovery): the relay needs the primary; name every node with target_session_attrs=read-write, or the address that leads to the primary"
            )
        } else {
            format!("server: {server} is the primary")
        },
    })
}

async fn check(args: &DatabaseArgs) -> anyhow::Result<Vec<Line>> {
    use anyhow::Context;
    let (client, connection) = args
        .connect(APPLICATION_NAME)
        .await
        .context("cannot connect to the database")?;
    tokio::spawn(connection);
    let ok = |text: String| Line { ok: true, text };

    let mut lines = Vec::new();
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await?
        .get(0);
    lines.push(ok(format!("database: PostgreSQL {version}")));
    lines.push(role_line(&client).await?);
    let extension = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'",
            &[],
        )
        .await?
        .context(
            "pg_alphadome is not installed in this database: CREATE EXTENSION pg_alphadome CASCADE",
        )?;
    let installed: String = extension.get(0);
    lines.push(Line {
        ok: installed == EXTENSION_VERSION,
        text: if installed == EXTENSION_VERSION {
            format!("extension: pg_alphadome {installed}")
        } else {
            format!(
                "extension: pg_alphadome {installed} is installed, this relay needs {EXTENSION_VERSION}: ALTER EXTENSION pg_alphadome UPDATE"
            )
        },
    });
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
    lines.push(ok("role: member of alphadome_relay".into()));
    // Row-level security does not bind a superuser or a BYPASSRLS role: the relay must not be one.
    let login = client
        .query_one(
            "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?;
    let (name, superuser, bypassrls): (String, bool, bool) =
        (login.get(0), login.get(1), login.get(2));
    lines.push(match (superuser, bypassrls) {
        (false, false) => ok(format!("login: {name} is neither superuser nor BYPASSRLS")),
        _ => Line {
            ok: false,
            text: format!(
                "login: {name} is {}: row-level security does not apply to it; connect as a login that is only granted alphadome_relay",
                if superuser { "a superuser" } else { "BYPASSRLS" }
            ),
        },
    });
    for row in client
        .query(
            "SELECT check_name, ok, detail FROM alphadome.security_check()",
            &[],
        )
        .await
        .context("security_check() failed")?
    {
        let (name, passed, detail): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
        lines.push(Line {
            ok: passed,
            text: format!("security: {name}: {detail}"),
        });
    }
    Ok(lines)
}

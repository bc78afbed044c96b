//! `alphadome-relay console-login`: a console login for an operator or a shop's owner, without
//! its password on a command line or in a statement's text (the first operator has no console to
//! make it in). The password comes from ALPHADOME_CONSOLE_PASSWORD or the first line of standard
//! input and goes to create_operator or create_owner as a bind parameter, as the tenant
//! commands send their secrets (tenant.rs).
use crate::config::DatabaseArgs;
use crate::tenant::{in_transaction, tenant_id};
use anyhow::{bail, Context};
use clap::{ArgGroup, Args};
use std::io::BufRead;

/// The environment variable that may carry the password.
const PASSWORD_VARIABLE: &str = "ALPHADOME_CONSOLE_PASSWORD";

#[derive(Args)]
#[command(group(ArgGroup::new("whose").required(true).args(["operator", "slug"])))]
pub struct LoginArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The login's email address.
    #[arg(long)]
    pub email: String,
    /// An operator's login (every shop).
    #[arg(long)]
    pub operator: bool,
    /// The owner's login of the shop with this slug.
    #[arg(long)]
    pub slug: Option<String>,
    /// Read the password from the first line of standard input instead of
    /// ALPHADOME_CONSOLE_PASSWORD.
    #[arg(long)]
    pub password_on_stdin: bool,
}

pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let password = read_password(args.password_on_stdin)?;
    let (email, slug) = (args.email.clone(), args.slug.clone());
    in_transaction(&args.database, async |tx| {
        match &slug {
            None => {
                tx.execute(
                    "SELECT alphadome.create_operator($1, $2)",
                    &[&email, &password],
                )
                .await?;
            }
            Some(slug) => {
                let id = tenant_id(tx, slug).await?;
                tx.execute(
                    "SELECT alphadome.create_owner($1::text::uuid, $2, $3)",
                    &[&id, &email, &password],
                )
                .await?;
            }
        }
        Ok(())
    })
    .await?;
    match &args.slug {
        None => println!("{}: an operator's console login", args.email),
        Some(slug) => println!("{}: the console login of {slug}'s owner", args.email),
    }
    Ok(())
}

/// The password from standard input's first line or the environment; never part of an error.
fn read_password(on_stdin: bool) -> anyhow::Result<String> {
    let password = if on_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        match std::env::var(PASSWORD_VARIABLE) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => bail!(
                "no password given: set {PASSWORD_VARIABLE} or give it on standard input with --password-on-stdin"
            ),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSWORD_VARIABLE} is not UTF-8"),
        }
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

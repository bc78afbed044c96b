//! `alphadome-relay tenant create` and `tenant set-credentials`: onboarding a tenant, or giving
//! it new credentials, without a secret on a command line or in a statement's text. The
//! secrets come from environment variables or standard input, never from arguments (`ps` shows
//! a process's arguments to every user of the machine), and go to create_tenant and
//! set_credentials as bind parameters (pg_stat_activity and the server log show a statement's
//! text, not its parameters: docs/security.md).
use crate::config::DatabaseArgs;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::io::Read;
use tokio_postgres::types::ToSql;

/// The name in pg_stat_activity.
const APPLICATION_NAME: &str = "alphadome-relay tenant";

/// The secrets a tenant has, by the environment variable (or `NAME=value` line of standard
/// input) that carries each, and the argument of create_tenant and set_credentials it goes to.
const SECRETS: [(&str, &str); 3] = [
    ("WHATSAPP_ACCESS_TOKEN", "whatsapp_access_token"),
    ("AI_API_KEY", "ai_api_key"),
    ("META_APP_SECRET", "app_secret"),
];

#[derive(Subcommand)]
pub enum TenantCommand {
    /// A new tenant. Secrets from WHATSAPP_ACCESS_TOKEN (required), AI_API_KEY and
    /// META_APP_SECRET, or from standard input with --secrets-on-stdin; prints its id.
    Create(CreateArgs),
    /// New credentials for a tenant: those given replace its own, the others stay. Secrets as
    /// for create.
    SetCredentials(SetCredentialsArgs),
}

#[derive(Args)]
pub struct SecretSource {
    /// Read the secrets from standard input, one `NAME=value` line each (NAME one of
    /// WHATSAPP_ACCESS_TOKEN, AI_API_KEY, META_APP_SECRET), instead of the environment.
    #[arg(long)]
    pub secrets_on_stdin: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretSource,
    /// The tenant's slug: lower-case letters, digits and dashes.
    #[arg(long)]
    pub slug: String,
    /// The business's name.
    #[arg(long)]
    pub name: String,
    /// The business's own phone number.
    #[arg(long)]
    pub client_phone: String,
    /// Meta's phone_number_id of the business's WhatsApp number.
    #[arg(long)]
    pub phone_number_id: String,
    #[arg(long)]
    pub client_email: Option<String>,
    /// When the access token expires (a timestamp; 'infinity' for a token that does not).
    #[arg(long)]
    pub token_expires_at: Option<String>,
    #[arg(long)]
    pub ai_model: Option<String>,
    #[arg(long)]
    pub ai_base_url: Option<String>,
    /// The country code that numbers without one are taken in.
    #[arg(long, default_value = "254")]
    pub country_code: String,
}

#[derive(Args)]
pub struct SetCredentialsArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretSource,
    /// The tenant's slug.
    #[arg(long)]
    pub slug: String,
    /// When the new access token expires (a timestamp; 'infinity' for a token that does not).
    #[arg(long)]
    pub token_expires_at: Option<String>,
}

/// The secrets given, in the order of SECRETS (None: not given).
type Secrets = [Option<String>; 3];

pub async fn run(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create(args) => create(args).await,
        TenantCommand::SetCredentials(args) => set_credentials(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let secrets = read_secrets(&args.secrets)?;
    if secrets[0].is_none() {
        bail!("a new tenant needs its WhatsApp access token: set WHATSAPP_ACCESS_TOKEN (or give it on standard input with --secrets-on-stdin)");
    }
    let [token, ai_key, app_secret] = &secrets;
    let id: String = in_transaction(&args.database, async |tx| {
        let params: [&(dyn ToSql + Sync); 12] = [
            &args.slug,
            &args.name,
            &args.client_phone,
            &args.phone_number_id,
            token,
            ai_key,
            app_secret,
            &args.token_expires_at,
            &args.client_email,
            &args.ai_model,
            &args.ai_base_url,
            &args.country_code,
        ];
        let row = tx
            .query_one(
                "SELECT alphadome.create_tenant(slug => $1, client_name => $2, client_phone => $3,
                        whatsapp_phone_number_id => $4, whatsapp_access_token => $5, ai_api_key => $6,
                        app_secret => $7, token_expires_at => $8::text::timestamptz,
                        client_email => $9, ai_model => $10, ai_base_url => $11, country_code => $12)::text",
                &params,
            )
            .await?;
        Ok(row.get(0))
    })
    .await?;
    println!("{id}");
    Ok(())
}

async fn set_credentials(args: SetCredentialsArgs) -> anyhow::Result<()> {
    let secrets = read_secrets(&args.secrets)?;
    if secrets.iter().all(Option::is_none) {
        bail!("no credential given: set WHATSAPP_ACCESS_TOKEN, AI_API_KEY or META_APP_SECRET (or give them on standard input with --secrets-on-stdin)");
    }
    if args.token_expires_at.is_some() && secrets[0].is_none() {
        bail!("--token-expires-at goes with a new WhatsApp access token (WHATSAPP_ACCESS_TOKEN)");
    }
    let [token, ai_key, app_secret] = &secrets;
    let slug = args.slug.clone();
    in_transaction(&args.database, async |tx| {
        let id = tenant_id(tx, &slug).await?;
        tx.execute(
            "SELECT alphadome.set_credentials($1::text::uuid, whatsapp_access_token => $2,
                    ai_api_key => $3, app_secret => $4, token_expires_at => $5::text::timestamptz)",
            &[&id, token, ai_key, app_secret, &args.token_expires_at],
        )
        .await?;
        Ok(())
    })
    .await?;
    let given: Vec<&str> = SECRETS
        .iter()
        .zip(&secrets)
        .filter(|(_, value)| value.is_some())
        .map(|((_, argument), _)| *argument)
        .collect();
    println!("{}: set {}", args.slug, given.join(", "));
    Ok(())
}

/// The id of the tenant with `slug`, or a failure that names the slug.
pub(crate) async fn tenant_id(
    tx: &tokio_postgres::Transaction<'_>,
    slug: &str,
) -> Result<String, Failure> {
    tx.query_opt(
        "SELECT t.id::text FROM alphadome.bot_tenants t WHERE t.slug = $1",
        &[&slug],
    )
    .await?
    .map(|row| row.get(0))
    .ok_or_else(|| Failure::Plain(format!("no tenant has the slug {slug:?}")))
}

/// The secrets from standard input (`NAME=value` lines) or the environment. A value is never
/// part of an error: a line is named by its number.
fn read_secrets(source: &SecretSource) -> anyhow::Result<Secrets> {
    let mut secrets: Secrets = Default::default();
    if source.secrets_on_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the secrets from standard input")?;
        for (number, line) in input.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                bail!("line {} of standard input is not NAME=value", number + 1);
            };
            let Some(slot) = SECRETS.iter().position(|(n, _)| *n == name.trim()) else {
                bail!(
                    "line {} of standard input: its name is none of WHATSAPP_ACCESS_TOKEN, AI_API_KEY, META_APP_SECRET",
                    number + 1
                );
            };
            secrets[slot] = Some(value.to_string());
        }
    } else {
        for (slot, (name, _)) in SECRETS.iter().enumerate() {
            secrets[slot] = match std::env::var(name) {
                Ok(value) => Some(value),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not UTF-8"),
            };
        }
    }
    // An empty value is a variable set by mistake, not a credential.
    for (slot, (name, _)) in SECRETS.iter().enumerate() {
        if secrets[slot]
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            bail!("{name} is empty");
        }
    }
    Ok(secrets)
}

/// Why a command failed: a database error (its SQLSTATE and message, which never carry a
/// parameter's value) or a sentence of ours.
pub(crate) enum Failure {
    Database(tokio_postgres::Error),
    Plain(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Database(e)
    }
}

/// Runs `work` in a transaction of a session of its own, after making sure that the statements
/// that carry secrets cannot have their parameters logged: never with an error
/// (log_parameter_max_length_on_error, which any role may set), and not with the statement
/// either: a superuser's session, or a role granted SET on it, gets log_parameter_max_length = 0
/// for the transaction; any other stops here when the server logs statements with their
/// parameters.
pub(crate) async fn in_transaction<T>(
    database: &DatabaseArgs,
    work: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T, Failure>,
) -> anyhow::Result<T> {
    let (mut client, connection) = database
        .connect(APPLICATION_NAME)
        .await
        .context("cannot connect to the database")?;
    let driver = tokio::spawn(connection);
    let result = async {
        let tx = client.transaction().await?;
        // A refused call logs its parameters with the error unless this is 0; any role may set it.
        tx.batch_execute("SET LOCAL log_parameter_max_length_on_error = 0")
            .await?;
        // Asked first rather than tried: a refused SET is an ERROR in the server's log.
        let (may_set, logged, role): (bool, bool, String) = {
            let row = tx
                .query_one(
                    "SELECT current_setting('is_superuser') = 'on'
                            OR has_parameter_privilege('log_parameter_max_length', 'SET'),
                            current_setting('log_parameter_max_length')::int <> 0
                            AND (current_setting('log_statement') = 'all'
                                 OR current_setting('log_min_duration_statement')::int >= 0
                                 OR current_setting('log_min_duration_sample')::int >= 0
                                 OR current_setting('log_transaction_sample_rate')::float8 > 0),
                            current_user::text",
                    &[],
                )
                .await?;
            (row.get(0), row.get(1), row.get(2))
        };
        if may_set {
            tx.batch_execute("SET LOCAL log_parameter_max_length = 0")
                .await?;
        } else if logged {
            return Err(Failure::Plain(format!(
                "the server logs statements with their parameters and the role {role} may not turn that off: \
                 as a superuser, ALTER ROLE {role} SET log_parameter_max_length = 0 (docs/security.md)"
            )));
        }
        let value = work(&tx).await?;
        tx.commit().await?;
        Ok(value)
    }
    .await;
    drop(client);
    let _ = driver.await;
    result.map_err(|failure| match failure {
        Failure::Database(e) => {
            anyhow::anyhow!("{}", alphadome_service::database::describe(&e))
        }
        Failure::Plain(message) => anyhow::anyhow!(message),
    })
}

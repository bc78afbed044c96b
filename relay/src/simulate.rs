//! `alphadome-relay simulate`: posts one correctly signed, Meta-shaped text message to a
//! running relay, as a customer of a tenant, then prints the bot's reply as the database
//! logged it. The tenant is named by its slug (or its phone number id); its own Meta app's
//! route and secret are used when it has one, else the shared app's.
use crate::config::{DatabaseArgs, APPLICATION_NAME};
use crate::http::signature;
use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The customer's message.
    pub text: String,
    /// The tenant, by slug (default: the only tenant, when there is one).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The tenant, by its WhatsApp phone number id (instead of --tenant).
    #[arg(long, conflicts_with = "tenant")]
    pub phone_number_id: Option<String>,
    /// Base URL of the running relay.
    #[arg(
        long,
        env = "ALPHADOME_RELAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub relay_url: String,
    /// The shared Meta app's secret: needed for a tenant without an app of its own.
    #[arg(long, env = "META_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// The customer's WhatsApp id (phone).
    #[arg(long, default_value = "254700000001")]
    pub from: String,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// An operator's connection (alphadome_admin): it finds the tenant, reads the reply, and
    /// decrypts the tenant's own app secret if it has one (audited).
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where and how to post for the chosen tenant.
struct Target {
    slug: String,
    phone_number_id: String,
    url: String,
    secret: String,
}

async fn target(client: &tokio_postgres::Client, args: &SimulateArgs) -> anyhow::Result<Target> {
    let rows = client
        .query(
            "SELECT t.slug, t.whatsapp_phone_number_id,
                    CASE WHEN t.app_secret IS NOT NULL
                         THEN alphadome.tenant_credential(t.id, 'app_secret', 'alphadome-relay simulate') END
               FROM alphadome.bot_tenants t
              WHERE t.is_active AND ($1::text IS NULL OR t.slug = $1) AND ($2::text IS NULL OR t.whatsapp_phone_number_id = $2)
              ORDER BY t.slug",
            &[&args.tenant, &args.phone_number_id],
        )
        .await
        .context("finding the tenant (simulate needs an operator's connection: a member of alphadome_admin)")?;
    let row = match (rows.len(), &args.tenant, &args.phone_number_id) {
        (1, _, _) => &rows[0],
        (0, None, None) => bail!("there is no active tenant"),
        (0, _, _) => bail!(
            "no active tenant {}",
            args.tenant
                .as_deref()
                .or(args.phone_number_id.as_deref())
                .unwrap_or_default()
        ),
        (_, _, _) => bail!(
            "there are {} tenants: name one with --tenant <slug> ({})",
            rows.len(),
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let (slug, phone_number_id, own_secret): (String, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    let base = args.relay_url.trim_end_matches('/');
    let (url, secret) = match (own_secret, &args.app_secret) {
        (Some(own), _) => (format!("{base}/webhook/{slug}"), own),
        (None, Some(shared)) => (format!("{base}/webhook"), shared.clone()),
        (None, None) => bail!(
            "{slug} has no Meta app of its own: give the shared app's secret (--app-secret or META_APP_SECRET)"
        ),
    };
    Ok(Target {
        slug,
        phone_number_id,
        url,
        secret,
    })
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let (client, connection) = args
        .database
        .connect(APPLICATION_NAME)
        .await
        .context("cannot connect to the database")?;
    let connection = tokio::spawn(connection);
    let outcome = simulate(&client, &args).await;
    // Closed as a client should (a Terminate message), not dropped with the process: the server
    // logged "FATAL: connection to client lost" for every run.
    drop(client);
    let _ = connection.await;
    outcome
}

async fn simulate(client: &tokio_postgres::Client, args: &SimulateArgs) -> anyhow::Result<()> {
    let target = target(client, args).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let wamid = format!("wamid.simulate.{}", now.as_nanos());
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": target.phone_number_id, "phone_number_id": target.phone_number_id},
            "contacts": [{"profile": {"name": "Simulated customer"}, "wa_id": args.from}],
            "messages": [{"from": args.from, "id": wamid, "timestamp": now.as_secs().to_string(),
                          "type": "text", "text": {"body": args.text}}]
        }}]}]
    });
    let body = serde_json::to_vec(&payload)?;
    let response = reqwest::Client::new()
        .post(&target.url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            signature::sign(target.secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the relay at {}", target.url))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the relay answered {status} for {}: {answer}", target.slug);
    }
    if serde_json::from_str::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v["accepted"].as_i64())
        != Some(1)
    {
        bail!(
            "the relay did not accept the message for {} ({answer})",
            target.slug
        );
    }

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let row = client
            .query_one(
                "SELECT i.decision,
                        (SELECT m.body FROM alphadome.outbox o
                           JOIN alphadome.messages m ON m.bot_tenant_id = o.bot_tenant_id AND m.payload ->> 'job_id' = o.id::text
                          WHERE o.bot_tenant_id = i.bot_tenant_id AND o.kind = 'reply.send'
                            AND o.payload ->> 'inbound_message_id' = i.id::text
                          ORDER BY o.id DESC LIMIT 1)
                   FROM alphadome.messages i WHERE i.wamid = $1",
                &[&wamid],
            )
            .await
            .context("reading the reply (simulate needs a connection that may read alphadome.messages)")?;
        let (decision, reply): (Option<String>, Option<String>) = (row.get(0), row.get(1));
        let silent = matches!(
            decision.as_deref(),
            Some("opted_out" | "bot_disabled" | "human_handoff" | "rate_limited" | "recorded")
        );
        if let Some(reply) = reply {
            println!("{reply}");
            eprintln!(
                "(tenant: {}, decision: {})",
                target.slug,
                decision.unwrap_or_default()
            );
            return Ok(());
        }
        if silent {
            println!("(no reply: {})", decision.unwrap_or_default());
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "no reply within {} s (decision: {}); is the relay's worker running?",
                args.timeout,
                decision.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! `alphadome-relay simulate`: posts one correctly signed, Meta-shaped text message to a
//! running relay, then prints the bot's reply as the database logged it.
use crate::config::DatabaseArgs;
use crate::http::signature;
use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The customer's message.
    pub text: String,
    /// Webhook URL of the running relay.
    #[arg(
        long,
        env = "ALPHADOME_WEBHOOK_URL",
        default_value = "http://127.0.0.1:8080/webhook"
    )]
    pub url: String,
    /// The tenant's WhatsApp phone number id (the routing key).
    #[arg(long)]
    pub phone_number_id: String,
    /// The app secret the relay checks signatures with.
    #[arg(long, env = "META_APP_SECRET", hide_env_values = true)]
    pub app_secret: String,
    /// The customer's WhatsApp id (phone).
    #[arg(long, default_value = "254700000001")]
    pub from: String,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// A connection allowed to read the message log (an alphadome_admin login).
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let wamid = format!("wamid.simulate.{}", now.as_nanos());
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": args.phone_number_id, "phone_number_id": args.phone_number_id},
            "contacts": [{"profile": {"name": "Simulated customer"}, "wa_id": args.from}],
            "messages": [{"from": args.from, "id": wamid, "timestamp": now.as_secs().to_string(),
                          "type": "text", "text": {"body": args.text}}]
        }}]}]
    });
    let body = serde_json::to_vec(&payload)?;
    let response = reqwest::Client::new()
        .post(&args.url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            signature::sign(args.app_secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the relay at {}", args.url))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the relay answered {status}: {answer}");
    }
    if serde_json::from_str::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v["accepted"].as_i64())
        != Some(1)
    {
        bail!(
            "the relay did not accept the message ({answer}): is {} a tenant's phone number id?",
            args.phone_number_id
        );
    }

    let (client, connection) = crate::db::connect(&args.database)
        .await
        .context("cannot connect to the database")?;
    tokio::spawn(connection);
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
            eprintln!("(decision: {})", decision.unwrap_or_default());
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

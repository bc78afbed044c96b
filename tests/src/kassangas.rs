//! The Kassangas seed as the end-to-end tests load it, and the webhook of a customer's question.
use crate::Cluster;
use serde_json::{json, Value};

pub const SEED_TOKEN: &str = "EAAtest-e2e-seed-whatsapp-token-31f7";
pub const SEED_AI_KEY: &str = "sk-test-e2e-seed-ai-key-8d02";
pub const SEED_EMAIL: &str = "gideon@kassangas.test";
/// The seed's phone_number_id.
pub const SEED_NUMBER: &str = "109876543210";

/// Loads sql/seed/kassangas.sql into `database` with the test credentials above.
pub fn seed(cluster: &Cluster, database: &str) {
    cluster.seed_kassangas(
        database,
        &[
            ("whatsapp_phone_number_id", SEED_NUMBER),
            ("whatsapp_access_token", SEED_TOKEN),
            ("client_email", SEED_EMAIL),
            ("ai_api_key", SEED_AI_KEY),
        ],
    );
}

/// The seeded Kassangas tenant's id, as text.
pub fn tenant_id(client: &mut postgres::Client) -> String {
    client
        .query_one(
            "SELECT id::text FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A Meta webhook carrying one text message from `from` to phone_number_id `number`.
pub fn text_webhook(number: &str, from: &str, wamid: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number, "phone_number_id": number},
            "messages": [{"from": from, "id": wamid, "timestamp": "1760000000",
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
}

/// Ingests a webhook in `client`'s session; returns ingest's counts.
pub fn ingest(client: &mut postgres::Client, webhook: &Value) -> Result<Value, postgres::Error> {
    let row = client.query_one(
        "SELECT alphadome.ingest_webhook($1::text::jsonb)::text",
        &[&webhook.to_string()],
    )?;
    Ok(serde_json::from_str(&row.get::<_, String>(0)).expect("ingest returns JSON"))
}

/// Ingests a customer's "What are your opening hours?" sent to phone_number_id `number`.
pub fn ingest_question(client: &mut postgres::Client, number: &str, wamid: &str) {
    let webhook = text_webhook(
        number,
        "254711000099",
        wamid,
        "What are your opening hours?",
    );
    ingest(client, &webhook).unwrap();
}

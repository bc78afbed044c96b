//! In-database tests (`#[pg_test]`): each runs in a transaction that is rolled back.
//! Values always travel as SPI arguments; `alphadome_test.outcome` reports the SQLSTATE of a
//! statement that fails, so a test can assert on the error code.
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

mod alerts;
mod campaigns;
mod console;
mod credentials;
mod faq_learning;
mod faq_prompt;
mod inbox;
mod isolation;
mod jsonb;
mod lifecycle;
mod media;
mod money;
mod operations;
mod operator;
mod phone;
mod pipeline;
mod queue;
mod recovery;
mod retention;
mod schema_rules;
mod security_check;
mod selling;
mod semantic;

extension_sql!(
    r#"
CREATE SCHEMA alphadome_test;
GRANT USAGE ON SCHEMA alphadome_test TO PUBLIC;

-- Runs a statement with $1 = args: 'ok <rows>' on success, else the SQLSTATE of its error.
CREATE FUNCTION alphadome_test.outcome(statement text, args text[] DEFAULT '{}') RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE statement USING args;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN 'ok ' || n;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
GRANT EXECUTE ON FUNCTION alphadome_test.outcome(text, text[]) TO PUBLIC;

-- Runs a statement; its error as '<SQLSTATE> <message>', or 'ok'.
CREATE FUNCTION alphadome_test.error_message(statement text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION alphadome_test.error_message(text) TO PUBLIC;
"#,
    name = "test_helpers",
    requires = ["grants"]
);

/// Runs a statement with `$1` bound to `args` (a text[]); "ok <rows>" or the SQLSTATE.
pub fn outcome(statement: &str, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Spi::get_one_with_args::<String>(
        "SELECT alphadome_test.outcome($1, $2)",
        &[statement.into(), args.into()],
    )
    .expect("outcome runs")
    .expect("outcome is never NULL")
}

pub fn one<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid]) -> Option<T> {
    Spi::get_one_with_args(query, args).unwrap_or_else(|e| panic!("{query}: {e}"))
}

pub fn run(query: &str, args: &[DatumWithOid]) {
    Spi::run_with_args(query, args).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// A webhook to phone_number_id `number` carrying one message (its JSON, `from`, `id` and
/// `timestamp` added), as Meta sends them.
pub fn webhook_with(
    number: &str,
    from: &str,
    wamid: &str,
    mut message: serde_json::Value,
) -> String {
    message["from"] = from.into();
    message["id"] = wamid.into();
    message["timestamp"] = "1760000000".into();
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number, "phone_number_id": number},
            "contacts": [{"profile": {"name": "Wanjiku"}, "wa_id": from}],
            "messages": [message]
        }}]}]
    })
    .to_string()
}

pub const TOKEN_A: &str = "EAAtest-token-of-tenant-a-7c1e";
pub const TOKEN_B: &str = "EAAtest-token-of-tenant-b-52d9";
pub const AI_KEY_A: &str = "sk-test-ai-key-of-tenant-a-0b44";

/// Creates a tenant through the public API; returns its id as text. Tests run in parallel,
/// each in a transaction, and many reuse the same slugs, phones and numbers: two of them
/// inserting such keys in different orders would deadlock on each other's unique entries. So
/// every test that creates a tenant first waits for the others that do (a lock held until its
/// transaction ends).
pub fn tenant(
    slug: &str,
    phone: &str,
    phone_number_id: &str,
    token: &str,
    ai_key: Option<&str>,
) -> String {
    run("SELECT pg_advisory_xact_lock(20261129)", &[]);
    one::<String>(
        "SELECT alphadome.create_tenant(slug => $1, client_name => $1 || ' Shop', client_phone => $2,
                 whatsapp_phone_number_id => $3, whatsapp_access_token => $4, ai_api_key => $5)::text",
        &[slug.into(), phone.into(), phone_number_id.into(), token.into(), ai_key.into()],
    )
    .expect("create_tenant returns an id")
}

/// Tenants A and B with a row of their own in every tenant table.
pub fn two_tenants() -> (String, String) {
    let a = tenant(
        "tenant-a",
        "0711000001",
        "100000000000011",
        TOKEN_A,
        Some(AI_KEY_A),
    );
    let b = tenant("tenant-b", "0711000002", "100000000000012", TOKEN_B, None);
    // One audit row each, the fixture's below: not create_tenant's of the first credentials.
    run(
        "DELETE FROM alphadome.credential_audit WHERE purpose = 'create_tenant: a new value'",
        &[],
    );
    for t in [&a, &b] {
        run(
            "INSERT INTO alphadome.bot_templates (bot_tenant_id, template_name, system_prompt, is_default)
             VALUES ($1::uuid, 'default', 'You help customers of ' || $1, true)",
            &[t.as_str().into()],
        );
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, category)
             VALUES ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM', 'Business')",
            &[t.as_str().into()],
        );
        run(
            "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id)
                        VALUES ($1::uuid, '254700000009', '254700000009') RETURNING bot_tenant_id, id)
             INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body)
             SELECT bot_tenant_id, id, 'inbound', 'wamid.test-' || $1, 'hello' FROM c",
            &[t.as_str().into()],
        );
        run(
            "SELECT alphadome.tenant_credential($1::uuid, 'whatsapp_access_token', 'test fixture')",
            &[t.as_str().into()],
        );
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload) VALUES ($1::uuid, 'alert.send', '{\"to\": \"1\"}');
             INSERT INTO alphadome.reply_counters (bot_tenant_id, hour, shard, replies) VALUES ($1::uuid, date_trunc('hour', now()), 0, 1);
             INSERT INTO alphadome.faq_deleted (bot_tenant_id, entry) VALUES ($1::uuid, '{\"question\": \"Deleted?\"}');
             INSERT INTO alphadome.usage_days (bot_tenant_id, day, inbound_messages) VALUES ($1::uuid, current_date - 40, 1);
             INSERT INTO alphadome.faq_embeddings (bot_tenant_id, entry_id, text_sha256, model, embedding)
             SELECT d.bot_tenant_id, d.id, sha256(convert_to(d.question, 'UTF8')), 'test-model', '{1,0}'
               FROM alphadome.bot_training_data d WHERE d.bot_tenant_id = $1::uuid;
             INSERT INTO alphadome.faq_unanswered_handled (bot_tenant_id, question_key, outcome) VALUES ($1::uuid, 'is my order ready', 'dismissed')",
            &[t.as_str().into()],
        );
    }
    (a, b)
}

/// Acts as `role` for the rest of the transaction, with the given tenant context.
pub enum Context<'a> {
    Setting(&'a str),
    JwtClaims(&'a str),
    None,
}

/// Every row of every table of the extension, as text, that contains `needle`.
pub fn rows_naming(needle: &str) -> Vec<String> {
    let tables: Vec<String> = Spi::connect(|c| {
        c.select(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'alphadome' AND c.relkind IN ('r', 'p') ORDER BY 1",
            None,
            &[],
        )
        .unwrap()
        .map(|r| r.get::<String>(1).unwrap().unwrap())
        .collect()
    });
    assert!(tables.len() > 20, "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let query = one::<String>(
            "SELECT format('SELECT string_agg(t::text, '' | '') FROM alphadome.%I t WHERE strpos(t::text, $1) > 0', $1::text)",
            &[table.as_str().into()],
        )
        .unwrap();
        if let Some(rows) = one::<String>(&query, &[needle.into()]) {
            found.push(format!("{table}: {rows}"));
        }
    }
    found
}

pub fn act_as(role: &str, context: Context) {
    run("SELECT set_config('role', $1, true)", &[role.into()]);
    let (setting, claims) = match context {
        Context::Setting(t) => (t.to_string(), String::new()),
        Context::JwtClaims(t) => (
            String::new(),
            format!(r#"{{"role":"authenticated","tenant_id":"{t}"}}"#),
        ),
        Context::None => (String::new(), String::new()),
    };
    run(
        "SELECT set_config('alphadome.tenant_id', $1, true), set_config('request.jwt.claims', $2, true)",
        &[setting.as_str().into(), claims.as_str().into()],
    );
}

pub fn act_as_superuser() {
    run("RESET ROLE", &[]);
}

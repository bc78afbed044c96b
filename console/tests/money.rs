//! What the bot cost, as Gideon reads it: the usage page and the overview show a cost in KES
//! that this test computes itself from the prices stored in the database and the counts it puts
//! there.
mod common;

use common::*;

/// Cents as the owner reads them ("1,234.56"), written here again rather than taken from the
/// console.
fn shillings(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{:02}", cents % 100)
}

/// A price or rate as stored; `$1` (when the query has one) is `arg`.
fn stored(db: &mut alphadome_e2e::Client, sql: &str, arg: &str) -> f64 {
    let row = if sql.contains("$1") {
        db.query_one(sql, &[&arg])
    } else {
        db.query_one(sql, &[])
    };
    row.unwrap().get(0)
}

#[test]
fn the_usage_page_and_the_overview_show_this_months_cost_in_kes() {
    let shop = Shop::start();
    let mut db = shop.db();
    // Sent this month: 40 marketing and 25 utility templates (Meta priced them), 300 free
    // replies; 1,200 AI answers with their tokens.
    db.execute(
        "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id)
                    VALUES ($1::text::uuid, '254711000777', '254711000777') RETURNING bot_tenant_id, id)
         INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, status, pricing_category)
         SELECT c.bot_tenant_id, c.id, 'outbound', 'wamid.cost.' || i, 'delivered',
                CASE WHEN i <= 40 THEN 'marketing' WHEN i <= 65 THEN 'utility' ELSE 'service' END
           FROM c, generate_series(1, 365) i",
        &[&shop.kassangas],
    )
    .unwrap();
    db.execute(
        "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, result)
         SELECT $1::text::uuid, 'reply.generate', '{}', 'done',
                '{\"content\": \"ok\", \"model\": \"gpt-4o-mini\", \"usage\": {\"prompt_tokens\": 2500, \"completion_tokens\": 120}}'
           FROM generate_series(1, 1200)",
        &[&shop.kassangas],
    )
    .unwrap();
    let kes = stored(&mut db, "SELECT per_usd::float8 FROM alphadome.exchange_rates WHERE currency = 'KES' ORDER BY effective_from DESC LIMIT 1", "");
    let price_of = "SELECT price::float8 FROM alphadome.whatsapp_prices WHERE country_code = '254' AND category = $1
                     ORDER BY effective_from DESC LIMIT 1";
    let (marketing, utility, service) = (
        stored(&mut db, price_of, "marketing"),
        stored(&mut db, price_of, "utility"),
        stored(&mut db, price_of, "service"),
    );
    let input = stored(
        &mut db,
        "SELECT input_per_million::float8 FROM alphadome.llm_prices WHERE model = $1",
        "gpt-4o-mini",
    );
    let output = stored(
        &mut db,
        "SELECT output_per_million::float8 FROM alphadome.llm_prices WHERE model = $1",
        "gpt-4o-mini",
    );
    let whatsapp = (40.0 * marketing + 25.0 * utility + 300.0 * service) * kes;
    let ai = 1200.0 * (2500.0 * input + 120.0 * output) / 1_000_000.0 * kes;
    let cents = |x: f64| (x * 100.0).round() as i64;
    let line = format!(
        "This month so far: <strong>KES {}</strong></a> (WhatsApp KES {}, AI KES {})",
        shillings(cents(whatsapp) + cents(ai)),
        shillings(cents(whatsapp)),
        shillings(cents(ai))
    );
    assert!(cents(whatsapp) > 0 && cents(ai) > 0, "{line}");

    let gideon = Visitor::new(&shop);
    assert_eq!(gideon.login(OWNER, PASSWORD), 303);
    let (_, usage) = gideon.get("/usage");
    assert!(
        usage.contains(&line),
        "{line} not in the usage page:\n{usage}"
    );
    assert!(
        usage.contains(&format!(
            "<strong>{}</strong>",
            shillings(cents(whatsapp) + cents(ai))
        )),
        "the week's and month's totals"
    );
    assert!(
        usage.contains("Rest of Africa"),
        "the prices it used are shown"
    );
    let (_, overview) = gideon.get("/");
    assert!(
        overview.contains(&line),
        "{line} not on the overview:\n{overview}"
    );
    // The other shop's owner pays nothing of it.
    let other = Visitor::new(&shop);
    assert_eq!(other.login(OTHER_OWNER, PASSWORD), 303);
    assert!(other
        .get("/")
        .1
        .contains("This month so far: <strong>KES 0.00</strong>"));
}

//! Selling in the chat (issue 24): the products, price questions answered from them, the prompt's
//! products, and what a customer chose on a button or a list.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const NUMBER: &str = "106540352242922";

    /// A music shop with three products and a FAQ entry; returns its id.
    fn music_shop(slug: &str, phone: &str, number: &str, token: &str) -> String {
        let t = tenant(slug, phone, number, token, Some(AI_KEY_A));
        run(
            "INSERT INTO alphadome.products (bot_tenant_id, name, price, in_stock, category, phrasings, description) VALUES
               ($1::uuid, 'Yamaha PSR-E373 keyboard', 32000, true, 'Keyboards', '{kinanda}', '61 keys, touch response'),
               ($1::uuid, 'Casio CT-S300 keyboard', 18500.50, false, 'Keyboards', '{kinanda}', NULL),
               ($1::uuid, 'Yamaha F310 acoustic guitar', 21000, true, 'Guitars', '{gitaa}', NULL)",
            &[t.as_str().into()],
        );
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM')",
            &[t.as_str().into()],
        );
        t
    }

    fn shop() -> String {
        music_shop("shop", "0702245555", NUMBER, TOKEN_A)
    }

    fn text(body: &str, wamid: &str) -> String {
        webhook_with(
            NUMBER,
            "254711000123",
            wamid,
            serde_json::json!({"type": "text", "text": {"body": body}}),
        )
    }

    fn ingest(payload: &str) {
        run("SELECT alphadome.ingest_webhook($1::jsonb)", &[payload.into()]);
    }

    /// The decision recorded for a message, and the text of its reply job.
    fn answered(wamid: &str) -> (Option<String>, Option<String>) {
        Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT m.decision::text, o.payload ->> 'text'
                       FROM alphadome.messages m
                       LEFT JOIN alphadome.outbox o
                         ON o.bot_tenant_id = m.bot_tenant_id AND (o.payload ->> 'inbound_message_id')::bigint = m.id
                      WHERE m.wamid = $1",
                    Some(1),
                    &[wamid.into()],
                )
                .unwrap()
                .first();
            (row.get::<String>(1).unwrap(), row.get::<String>(2).unwrap())
        })
    }

    fn matched(tenant: &str, message: &str) -> Vec<(String, i32)> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT name, more_matches FROM alphadome.match_products($1::uuid, $2, 3)",
                    None,
                    &[tenant.into(), message.into()],
                )
                .unwrap()
                .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<i32>(2).unwrap().unwrap()))
                .collect()
        })
    }

    #[pg_test]
    fn match_products_names_the_best_products_only_and_stays_in_its_tenant() {
        let shop = shop();
        let other = music_shop("other", "0702245556", "100000000000099", TOKEN_B);
        run(
            "INSERT INTO alphadome.products (bot_tenant_id, name, price) VALUES ($1::uuid, 'Yamaha PSR-E473 keyboard', 1)",
            &[other.as_str().into()],
        );
        // Both words name one product; "keyboards" (a plural) names both keyboards, the
        // one in stock first; a word of no product names none.
        assert_eq!(
            matched(&shop, "How much is a Yamaha keyboard?"),
            vec![("Yamaha PSR-E373 keyboard".to_string(), 1)]
        );
        assert_eq!(
            matched(&shop, "prices of your keyboards"),
            vec![
                ("Yamaha PSR-E373 keyboard".to_string(), 2),
                ("Casio CT-S300 keyboard".to_string(), 2)
            ]
        );
        assert_eq!(matched(&shop, "bei ya gitaa"), vec![("Yamaha F310 acoustic guitar".to_string(), 1)]);
        assert_eq!(matched(&shop, "how much is delivery?"), vec![]);
        // An inactive product is never offered.
        run("UPDATE alphadome.products SET is_active = false WHERE name LIKE 'Yamaha F310%'", &[]);
        assert_eq!(matched(&shop, "bei ya gitaa"), vec![]);
    }

    #[pg_test]
    fn a_price_question_is_answered_from_the_products_in_the_customers_language() {
        shop();
        ingest(&text("How much is a Yamaha keyboard?", "w.en"));
        assert_eq!(
            answered("w.en"),
            (
                Some("product".into()),
                Some("Our prices:\n• Yamaha PSR-E373 keyboard: KES 32,000 (in stock)".into())
            )
        );
        ingest(&text("Kinanda ni bei gani?", "w.sw"));
        assert_eq!(
            answered("w.sw"),
            (
                Some("product".into()),
                Some(
                    "Bei zetu:\n• Yamaha PSR-E373 keyboard: KES 32,000 (ipo)\n• Casio CT-S300 keyboard: KES 18,500.50 (imeisha kwa sasa)"
                        .into()
                )
            )
        );
        // A price question that names no product, and a question that is not about prices:
        // the LLM and the FAQ, as before.
        ingest(&text("How much is delivery to Kisumu?", "w.none"));
        assert_eq!(answered("w.none").0.as_deref(), Some("llm"));
        ingest(&text("What are your opening hours?", "w.faq"));
        assert_eq!(answered("w.faq").0.as_deref(), Some("faq"));
        // try_message (the owner's "what would the bot say") agrees.
        let tried = one::<String>(
            "SELECT decision || ': ' || answer FROM alphadome.try_message('how much is the yamaha guitar', $1::uuid)",
            &[one::<String>("SELECT id::text FROM alphadome.bot_tenants WHERE slug = 'shop'", &[])
                .unwrap()
                .as_str()
                .into()],
        );
        assert_eq!(
            tried.as_deref(),
            Some("product: Our prices:\n• Yamaha F310 acoustic guitar: KES 21,000 (in stock)")
        );
    }

    #[pg_test]
    fn the_prompt_gets_the_products_the_question_names_never_the_whole_list() {
        let t = shop();
        let prompt = one::<pgrx::JsonB>(
            "SELECT alphadome.assemble_prompt($1::uuid, '254711000123', 'Which Yamaha keyboard is good for a beginner?')",
            &[t.as_str().into()],
        )
        .unwrap()
        .0;
        let system = prompt["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("Never state a price that is not given below."), "{system}");
        assert!(
            system.contains("- Yamaha PSR-E373 keyboard: KES 32,000, in stock. 61 keys, touch response"),
            "{system}"
        );
        assert!(!system.contains("Casio"), "a product the question does not name: {system}");
        assert!(!system.contains("F310"), "{system}");
        // A question naming no product puts none in.
        let prompt = one::<pgrx::JsonB>(
            "SELECT alphadome.assemble_prompt($1::uuid, '254711000123', 'Do you repair violins?')",
            &[t.as_str().into()],
        )
        .unwrap()
        .0;
        assert!(!prompt.to_string().contains("KES"), "{prompt}");
    }

    #[pg_test]
    fn an_owner_keeps_his_own_products_only() {
        let (a, b) = two_tenants();
        run(
            "INSERT INTO alphadome.products (bot_tenant_id, name, price) VALUES ($1::uuid, 'Drum sticks', 800)",
            &[b.as_str().into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        // His rows go to his tenant without naming it; another tenant's are not there.
        assert_eq!(
            outcome("INSERT INTO alphadome.products (name, price) VALUES ('Capo', 500)", &[]),
            "ok 1"
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM alphadome.products", &[]), Some(1));
        assert_eq!(
            one::<String>("SELECT bot_tenant_id::text FROM alphadome.products", &[]).as_deref(),
            Some(a.as_str())
        );
        assert_eq!(outcome("UPDATE alphadome.products SET price = 1 WHERE name = 'Drum sticks'", &[]), "ok 0");
        assert_eq!(
            outcome("INSERT INTO alphadome.products (bot_tenant_id, name, price) VALUES ($1[1]::uuid, 'Stolen', 1)", &[&b]),
            "42501"
        );
        assert_eq!(
            outcome("UPDATE alphadome.products SET bot_tenant_id = $1[1]::uuid", &[&b]),
            "42501"
        );
        // Prices are whole or in cents, never negative; a currency is ISO's three letters.
        assert_eq!(outcome("INSERT INTO alphadome.products (name, price) VALUES ('Bad', -1)", &[]), "23514");
        assert_eq!(
            outcome("INSERT INTO alphadome.products (name, price, currency) VALUES ('Bad', 1, 'kes')", &[]),
            "23514"
        );
    }

    #[pg_test]
    fn a_chosen_button_or_list_row_is_kept_with_its_id_and_title() {
        let t = shop();
        let choose = |wamid: &str, message: serde_json::Value| {
            ingest(&webhook_with(NUMBER, "254711000123", wamid, message));
            one::<pgrx::JsonB>(
                "SELECT choice FROM alphadome.messages WHERE bot_tenant_id = $1::uuid AND wamid = $2",
                &[t.as_str().into(), wamid.into()],
            )
            .map(|j| j.0)
        };
        assert_eq!(
            choose(
                "w.button",
                serde_json::json!({"type": "interactive", "interactive": {"type": "button_reply",
                    "button_reply": {"id": "pay_mpesa", "title": "Pay with M-Pesa"}}})
            ),
            Some(serde_json::json!({"kind": "button_reply", "id": "pay_mpesa", "title": "Pay with M-Pesa"}))
        );
        assert_eq!(
            choose(
                "w.list",
                serde_json::json!({"type": "interactive", "interactive": {"type": "list_reply",
                    "list_reply": {"id": "product:7", "title": "Yamaha PSR-E373", "description": "KES 32,000"}}})
            ),
            Some(serde_json::json!({"kind": "list_reply", "id": "product:7", "title": "Yamaha PSR-E373"}))
        );
        assert_eq!(
            choose(
                "w.quick",
                serde_json::json!({"type": "button", "button": {"payload": "campaign:12:yes", "text": "Yes please"}})
            ),
            Some(serde_json::json!({"kind": "button", "id": "campaign:12:yes", "title": "Yes please"}))
        );
        // Typed text, and a choice without an id, keep none.
        assert_eq!(choose("w.text", serde_json::json!({"type": "text", "text": {"body": "hi"}})), None);
        assert_eq!(
            choose(
                "w.noid",
                serde_json::json!({"type": "interactive", "interactive": {"type": "button_reply",
                    "button_reply": {"title": "Pay with M-Pesa"}}})
            ),
            None
        );
    }

    fn choose(wamid: &str, kind: &str, id: &str, title: &str) -> String {
        webhook_with(
            NUMBER,
            "254711000123",
            wamid,
            serde_json::json!({"type": "interactive", "interactive": {"type": kind, kind: {"id": id, "title": title}}}),
        )
    }

    /// The reply job answering a message: its text and its choices.
    fn reply_to(wamid: &str) -> (String, Option<serde_json::Value>) {
        Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT o.payload ->> 'text', o.payload -> 'interactive'
                       FROM alphadome.outbox o JOIN alphadome.messages m
                         ON m.bot_tenant_id = o.bot_tenant_id AND m.id = (o.payload ->> 'inbound_message_id')::bigint
                      WHERE m.wamid = $1 AND o.kind = 'reply.send'",
                    Some(1),
                    &[wamid.into()],
                )
                .unwrap()
                .first();
            (
                row.get::<String>(1).unwrap().expect("a reply"),
                row.get::<pgrx::JsonB>(2).unwrap().map(|j| j.0),
            )
        })
    }

    fn selling_shop() -> String {
        let t = shop();
        run(
            "UPDATE alphadome.bot_control_settings SET enable_payment_flow = true WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        t
    }

    fn product_id(name: &str) -> i64 {
        one::<i64>("SELECT id FROM alphadome.products WHERE name = $1", &[name.into()]).unwrap()
    }

    #[pg_test]
    fn a_customer_who_wants_to_buy_chooses_from_a_list_then_how_to_pay() {
        selling_shop();
        // Two keyboards named, one in stock: a list of what can be bought.
        ingest(&text("I want to buy a keyboard", "w.buy"));
        assert_eq!(answered("w.buy").0.as_deref(), Some("payment"));
        let yamaha = product_id("Yamaha PSR-E373 keyboard");
        assert_eq!(
            reply_to("w.buy"),
            (
                "Which one would you like to buy?".to_string(),
                Some(serde_json::json!({"type": "list", "button": "Choose", "rows": [
                    {"id": format!("buy:{yamaha}"), "title": "Yamaha PSR-E373 keyboard", "description": "KES 32,000"}]}))
            )
        );
        // He chooses it: a draft order priced from the products table, and the buttons to pay.
        ingest(&choose("w.row", "list_reply", &format!("buy:{yamaha}"), "Yamaha PSR-E373 keyboard"));
        let (order, reference, total, status) = Spi::connect(|client| {
            let row = client
                .select("SELECT id, reference, total::text, status FROM alphadome.orders", None, &[])
                .unwrap()
                .first();
            (
                row.get::<i64>(1).unwrap().unwrap(),
                row.get::<String>(2).unwrap().unwrap(),
                row.get::<String>(3).unwrap().unwrap(),
                row.get::<String>(4).unwrap().unwrap(),
            )
        });
        assert_eq!((total.as_str(), status.as_str()), ("32000.00", "draft"));
        assert!(reference.len() <= 12 && reference.chars().all(|c| c.is_ascii_alphanumeric()), "{reference}");
        assert_eq!(
            reply_to("w.row"),
            (
                "Yamaha PSR-E373 keyboard: KES 32,000.\nHow would you like to pay?".to_string(),
                Some(serde_json::json!({"type": "button", "buttons": [
                    {"id": format!("pay_mpesa:{order}"), "title": "Pay with M-Pesa"},
                    {"id": format!("pay_shop:{order}"), "title": "Pay in the shop"},
                    {"id": "talk_person", "title": "Talk to a person"}]}))
            )
        );
        // The same webhook again makes no second order.
        ingest(&choose("w.row", "list_reply", &format!("buy:{yamaha}"), "Yamaha PSR-E373 keyboard"));
        assert_eq!(one::<i64>("SELECT count(*) FROM alphadome.orders", &[]), Some(1));
        // Pay in the shop: the order awaits payment, and he is told its reference.
        ingest(&choose("w.shop", "button_reply", &format!("pay_shop:{order}"), "Pay in the shop"));
        assert_eq!(
            reply_to("w.shop").0,
            format!("Your order {reference} (KES 32,000) is kept for you. Pay when you come to the shop.")
        );
        assert_eq!(
            one::<String>("SELECT status FROM alphadome.orders WHERE id = $1", &[order.into()]).as_deref(),
            Some("awaiting_payment")
        );
        // "Talk to a person" asks for one, whatever its title says.
        ingest(&choose("w.person", "button_reply", "talk_person", "Ongea na mtu"));
        assert_eq!(answered("w.person").0.as_deref(), Some("escalated"));
    }

    #[pg_test]
    fn one_product_named_in_swahili_gets_an_order_and_swahili_buttons() {
        selling_shop();
        ingest(&text("Nataka kununua gitaa", "w.sw"));
        let (said, choices) = reply_to("w.sw");
        assert_eq!(said, "Yamaha F310 acoustic guitar: KES 21,000.\nUngependa kulipa vipi?");
        let titles: Vec<String> = choices.unwrap()["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(titles, ["Lipa kwa M-Pesa", "Lipa dukani", "Ongea na mtu"]);
        // An out-of-stock product is not sold: he is told so, and no order is made.
        run("UPDATE alphadome.products SET in_stock = false", &[]);
        ingest(&text("I want to buy the yamaha guitar", "w.out"));
        assert_eq!(
            reply_to("w.out").0,
            "Sorry, Yamaha F310 acoustic guitar is out of stock now. We will tell you when it is back."
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM alphadome.orders", &[]), Some(1));
    }

    #[pg_test]
    fn without_the_payment_flow_nothing_is_sold() {
        shop();
        ingest(&text("I want to buy a keyboard", "w.off"));
        assert_ne!(answered("w.off").0.as_deref(), Some("payment"));
        assert_eq!(one::<i64>("SELECT count(*) FROM alphadome.orders", &[]), Some(0));
    }

    #[pg_test]
    fn an_order_moves_only_forward_and_its_price_is_fixed_once_asked() {
        selling_shop();
        ingest(&text("I want to buy the yamaha guitar", "w.o"));
        let order = one::<i64>("SELECT id FROM alphadome.orders", &[]).unwrap().to_string();
        let set = |status: &str| {
            outcome(
                "UPDATE alphadome.orders SET status = $1[2] WHERE id = $1[1]::bigint",
                &[&order, status],
            )
        };
        assert_eq!(set("paid"), "55000", "a draft is not paid");
        assert_eq!(set("awaiting_payment"), "ok 1");
        assert_eq!(
            outcome("UPDATE alphadome.orders SET total = 1 WHERE id = $1[1]::bigint", &[&order]),
            "55000",
            "the amount asked does not change"
        );
        assert_eq!(set("failed"), "ok 1");
        assert_eq!(set("awaiting_payment"), "ok 1", "try again");
        assert_eq!(set("paid"), "ok 1");
        assert!(one::<bool>("SELECT paid_at IS NOT NULL FROM alphadome.orders", &[]).unwrap());
        assert_eq!(set("cancelled"), "55000", "paid is final");
        assert_eq!(set("draft"), "55000");
    }

    #[pg_test]
    fn choices_meta_would_refuse_are_named_in_sql() {
        let problem = |interactive: serde_json::Value, body: &str| {
            one::<String>(
                "SELECT alphadome._interactive_problem($1::jsonb, $2)",
                &[interactive.to_string().into(), body.into()],
            )
        };
        let button = |title: &str| serde_json::json!({"id": title.to_lowercase(), "title": title});
        assert_eq!(
            problem(serde_json::json!({"type": "button", "buttons": [button("Pay with M-Pesa")]}), "Pay?"),
            None
        );
        for (shape, body, expected) in [
            (serde_json::json!({"type": "button", "buttons": [button("A"), button("B"), button("C"), button("D")]}), "x", "1 to 3 choices"),
            (serde_json::json!({"type": "button", "buttons": [button("Pay with M-Pesa today!")]}), "x", "title of 22 characters (1 to 20)"),
            (serde_json::json!({"type": "button", "buttons": [button("Yes"), button("Yes")]}), "x", "repeats"),
            (serde_json::json!({"type": "list", "button": "Choose", "rows": (0..11).map(|i| button(&format!("Row {i}"))).collect::<Vec<_>>()}), "x", "1 to 10 choices"),
            (serde_json::json!({"type": "list", "rows": [button("A")]}), "x", "button text"),
            (serde_json::json!({"type": "button", "buttons": [button("A")]}), "", "1 to 1024 characters"),
            (serde_json::json!({"type": "cta_url"}), "x", "button or list"),
        ] {
            let found = problem(shape.clone(), body).unwrap_or_default();
            assert!(found.contains(expected), "{shape}: {found}");
        }
    }
}

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
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[payload.into()],
        );
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
                .map(|r| {
                    (
                        r.get::<String>(1).unwrap().unwrap(),
                        r.get::<i32>(2).unwrap().unwrap(),
                    )
                })
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
        assert_eq!(
            matched(&shop, "bei ya gitaa"),
            vec![("Yamaha F310 acoustic guitar".to_string(), 1)]
        );
        assert_eq!(matched(&shop, "how much is delivery?"), vec![]);
        // An inactive product is never offered.
        run(
            "UPDATE alphadome.products SET is_active = false WHERE name LIKE 'Yamaha F310%'",
            &[],
        );
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
        assert!(
            system.contains("Never state a price that is not given below."),
            "{system}"
        );
        assert!(
            system.contains(
                "- Yamaha PSR-E373 keyboard: KES 32,000, in stock. 61 keys, touch response"
            ),
            "{system}"
        );
        assert!(
            !system.contains("Casio"),
            "a product the question does not name: {system}"
        );
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
            outcome(
                "INSERT INTO alphadome.products (name, price) VALUES ('Capo', 500)",
                &[]
            ),
            "ok 1"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.products", &[]),
            Some(1)
        );
        assert_eq!(
            one::<String>("SELECT bot_tenant_id::text FROM alphadome.products", &[]).as_deref(),
            Some(a.as_str())
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.products SET price = 1 WHERE name = 'Drum sticks'",
                &[]
            ),
            "ok 0"
        );
        assert_eq!(
            outcome("INSERT INTO alphadome.products (bot_tenant_id, name, price) VALUES ($1[1]::uuid, 'Stolen', 1)", &[&b]),
            "42501"
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.products SET bot_tenant_id = $1[1]::uuid",
                &[&b]
            ),
            "42501"
        );
        // Prices are whole or in cents, never negative; a currency is ISO's three letters.
        assert_eq!(
            outcome(
                "INSERT INTO alphadome.products (name, price) VALUES ('Bad', -1)",
                &[]
            ),
            "23514"
        );
        assert_eq!(
            outcome(
                "INSERT INTO alphadome.products (name, price, currency) VALUES ('Bad', 1, 'kes')",
                &[]
            ),
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
            Some(
                serde_json::json!({"kind": "button_reply", "id": "pay_mpesa", "title": "Pay with M-Pesa"})
            )
        );
        assert_eq!(
            choose(
                "w.list",
                serde_json::json!({"type": "interactive", "interactive": {"type": "list_reply",
                    "list_reply": {"id": "product:7", "title": "Yamaha PSR-E373", "description": "KES 32,000"}}})
            ),
            Some(
                serde_json::json!({"kind": "list_reply", "id": "product:7", "title": "Yamaha PSR-E373"})
            )
        );
        assert_eq!(
            choose(
                "w.quick",
                serde_json::json!({"type": "button", "button": {"payload": "campaign:12:yes", "text": "Yes please"}})
            ),
            Some(
                serde_json::json!({"kind": "button", "id": "campaign:12:yes", "title": "Yes please"})
            )
        );
        // Typed text, and a choice without an id, keep none.
        assert_eq!(
            choose(
                "w.text",
                serde_json::json!({"type": "text", "text": {"body": "hi"}})
            ),
            None
        );
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
        one::<i64>(
            "SELECT id FROM alphadome.products WHERE name = $1",
            &[name.into()],
        )
        .unwrap()
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
                Some(
                    serde_json::json!({"type": "list", "button": "Choose", "rows": [
                    {"id": format!("buy:{yamaha}"), "title": "Yamaha PSR-E373 keyboard", "description": "KES 32,000"}]})
                )
            )
        );
        // He chooses it: a draft order priced from the products table, and the buttons to pay.
        ingest(&choose(
            "w.row",
            "list_reply",
            &format!("buy:{yamaha}"),
            "Yamaha PSR-E373 keyboard",
        ));
        let (order, reference, total, status) = Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT id, reference, total::text, status FROM alphadome.orders",
                    None,
                    &[],
                )
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
        assert!(
            reference.len() <= 12 && reference.chars().all(|c| c.is_ascii_alphanumeric()),
            "{reference}"
        );
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
        ingest(&choose(
            "w.row",
            "list_reply",
            &format!("buy:{yamaha}"),
            "Yamaha PSR-E373 keyboard",
        ));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.orders", &[]),
            Some(1)
        );
        // Pay in the shop: the order awaits payment, and he is told its reference.
        ingest(&choose(
            "w.shop",
            "button_reply",
            &format!("pay_shop:{order}"),
            "Pay in the shop",
        ));
        assert_eq!(
            reply_to("w.shop").0,
            format!("Your order {reference} (KES 32,000) is kept for you. Pay when you come to the shop.")
        );
        assert_eq!(
            one::<String>(
                "SELECT status FROM alphadome.orders WHERE id = $1",
                &[order.into()]
            )
            .as_deref(),
            Some("awaiting_payment")
        );
        // "Talk to a person" asks for one, whatever its title says.
        ingest(&choose(
            "w.person",
            "button_reply",
            "talk_person",
            "Ongea na mtu",
        ));
        assert_eq!(answered("w.person").0.as_deref(), Some("escalated"));
    }

    #[pg_test]
    fn one_product_named_in_swahili_gets_an_order_and_swahili_buttons() {
        selling_shop();
        ingest(&text("Nataka kununua gitaa", "w.sw"));
        let (said, choices) = reply_to("w.sw");
        assert_eq!(
            said,
            "Yamaha F310 acoustic guitar: KES 21,000.\nUngependa kulipa vipi?"
        );
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
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.orders", &[]),
            Some(1)
        );
    }

    /// A voice note saying he wants to buy is answered as the same words typed are (it was
    /// decided 'payment' and then left unanswered).
    #[pg_test]
    fn a_spoken_wish_to_buy_gets_the_order_and_the_buttons_of_a_typed_one() {
        selling_shop();
        ingest(&webhook_with(
            NUMBER,
            "254711000123",
            "w.voice",
            serde_json::json!({"type": "audio", "audio": {"mime_type": "audio/ogg; codecs=opus",
                "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=", "id": "1234567890987654321", "voice": true}}),
        ));
        let jobs = claim("media.transcribe");
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        run(
            "SELECT alphadome.complete_job($1, '{\"transcript\": \"Nataka kununua gitaa\"}')",
            &[jobs[0]["id"].as_i64().unwrap().into()],
        );
        assert_eq!(answered("w.voice").0.as_deref(), Some("payment"));
        let (said, choices) = reply_to("w.voice");
        assert_eq!(
            said,
            "Yamaha F310 acoustic guitar: KES 21,000.\nUngependa kulipa vipi?"
        );
        assert_eq!(choices.unwrap()["type"], "button");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.orders", &[]),
            Some(1)
        );
        assert_eq!(
            one::<Vec<String>>("SELECT labels FROM alphadome.conversations", &[]).unwrap(),
            ["asked about guitars"]
        );
    }

    /// Answers from the products count in usage (sales_answers), live and once erased.
    #[pg_test]
    fn price_and_buying_answers_are_counted_in_usage_and_the_count_outlives_an_erasure() {
        let t = selling_shop();
        ingest(&text("How much is a Yamaha keyboard?", "w.price"));
        ingest(&text("Nataka kununua gitaa", "w.buy"));
        ingest(&text("What are your opening hours?", "w.faq"));
        let today = |column: &str| {
            one::<i64>(
                &format!(
                    "SELECT sum({column})::bigint FROM alphadome.usage_daily WHERE bot_tenant_id = $1::uuid"
                ),
                &[t.as_str().into()],
            )
        };
        assert_eq!(
            (today("sales_answers"), today("faq_answers")),
            (Some(2), Some(1))
        );
        run(
            "SELECT alphadome.forget_customer($1::uuid, '254711000123')",
            &[t.as_str().into()],
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.messages", &[]),
            Some(0)
        );
        assert_eq!(
            (today("sales_answers"), today("faq_answers")),
            (Some(2), Some(1))
        );
    }

    /// A customer who asks about products, or chooses one, is labelled with their categories
    /// (for campaigns); the labels the owner gave him stay.
    #[pg_test]
    fn asking_about_products_labels_the_customer_with_their_categories() {
        selling_shop();
        let labels = || {
            one::<Vec<String>>(
                "SELECT labels FROM alphadome.conversations WHERE customer_key = '254711000123'",
                &[],
            )
            .unwrap()
        };
        ingest(&text("What are your opening hours?", "w.hours"));
        run("UPDATE alphadome.conversations SET labels = '{vip}'", &[]);
        ingest(&text("How much is a Yamaha keyboard?", "w.price"));
        assert_eq!(labels(), ["asked about keyboards", "vip"]);
        ingest(&text("How much is a Yamaha keyboard?", "w.again"));
        assert_eq!(labels(), ["asked about keyboards", "vip"], "once");
        let guitar = product_id("Yamaha F310 acoustic guitar");
        ingest(&choose(
            "w.row",
            "list_reply",
            &format!("buy:{guitar}"),
            "Yamaha F310 acoustic guitar",
        ));
        assert_eq!(
            labels(),
            ["asked about guitars", "asked about keyboards", "vip"]
        );
        // Only questions about products: the hours question added none.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.conversations WHERE 'asked about business' = ANY (labels)",
                &[]
            ),
            Some(0)
        );
    }

    #[pg_test]
    fn without_the_payment_flow_nothing_is_sold() {
        shop();
        ingest(&text("I want to buy a keyboard", "w.off"));
        assert_ne!(answered("w.off").0.as_deref(), Some("payment"));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.orders", &[]),
            Some(0)
        );
    }

    #[pg_test]
    fn an_order_moves_only_forward_and_its_price_is_fixed_once_asked() {
        selling_shop();
        ingest(&text("I want to buy the yamaha guitar", "w.o"));
        let order = one::<i64>("SELECT id FROM alphadome.orders", &[])
            .unwrap()
            .to_string();
        let set = |status: &str| {
            outcome(
                "UPDATE alphadome.orders SET status = $1[2] WHERE id = $1[1]::bigint",
                &[&order, status],
            )
        };
        assert_eq!(set("paid"), "55000", "a draft is not paid");
        assert_eq!(set("awaiting_payment"), "ok 1");
        assert_eq!(
            outcome(
                "UPDATE alphadome.orders SET total = 1 WHERE id = $1[1]::bigint",
                &[&order]
            ),
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
            problem(
                serde_json::json!({"type": "button", "buttons": [button("Pay with M-Pesa")]}),
                "Pay?"
            ),
            None
        );
        for (shape, body, expected) in [
            (
                serde_json::json!({"type": "button", "buttons": [button("A"), button("B"), button("C"), button("D")]}),
                "x",
                "1 to 3 choices",
            ),
            (
                serde_json::json!({"type": "button", "buttons": [button("Pay with M-Pesa today!")]}),
                "x",
                "title of 22 characters (1 to 20)",
            ),
            (
                serde_json::json!({"type": "button", "buttons": [button("Yes"), button("Yes")]}),
                "x",
                "repeats",
            ),
            (
                serde_json::json!({"type": "list", "button": "Choose", "rows": (0..11).map(|i| button(&format!("Row {i}"))).collect::<Vec<_>>()}),
                "x",
                "1 to 10 choices",
            ),
            (
                serde_json::json!({"type": "list", "rows": [button("A")]}),
                "x",
                "button text",
            ),
            (
                serde_json::json!({"type": "button", "buttons": [button("A")]}),
                "",
                "1 to 1024 characters",
            ),
            (
                serde_json::json!({"type": "cta_url"}),
                "x",
                "button or list",
            ),
        ] {
            let found = problem(shape.clone(), body).unwrap_or_default();
            assert!(found.contains(expected), "{shape}: {found}");
        }
    }

    /// Safaricom's published sandbox passkey for shortcode 174379 (a public test fixture).
    pub const SANDBOX_PASSKEY: &str =
        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
    const SANDBOX_PHONE: &str = "254708374149";

    /// A selling shop with M-Pesa (the sandbox's shortcode and passkey) whose customer, on the
    /// sandbox's test phone, pressed "Pay with M-Pesa" for the Yamaha guitar; returns the tenant
    /// and the order's id.
    fn customer_pressed_pay() -> (String, i64) {
        customer_pressed_pay_saying("I want to buy the yamaha guitar", "Pay with M-Pesa")
    }

    /// The same, in his words and with the pay button's title he got.
    fn customer_pressed_pay_saying(buy: &str, pay: &str) -> (String, i64) {
        let t = selling_shop();
        run(
            "UPDATE alphadome.bot_control_settings SET mpesa_shortcode = '174379' WHERE bot_tenant_id = $1::uuid;
             SELECT alphadome.set_mpesa_credentials($1::uuid, 'consumer-key-x', 'consumer-secret-y', $2, 'sandbox')",
            &[t.as_str().into(), SANDBOX_PASSKEY.into()],
        );
        let say = |wamid: &str, message: serde_json::Value| {
            ingest(&webhook_with(NUMBER, SANDBOX_PHONE, wamid, message))
        };
        say(
            "w.buy",
            serde_json::json!({"type": "text", "text": {"body": buy}}),
        );
        let order = one::<i64>("SELECT id FROM alphadome.orders", &[]).unwrap();
        say(
            "w.pay",
            serde_json::json!({"type": "interactive", "interactive": {"type": "button_reply",
                "button_reply": {"id": format!("pay_mpesa:{order}"), "title": pay}}}),
        );
        (t, order)
    }

    fn claim(kind: &str) -> Vec<serde_json::Value> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT j FROM alphadome.claim_jobs('test', 10, 60, ARRAY[$1]) j",
                    None,
                    &[kind.into()],
                )
                .unwrap()
                .map(|r| r.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
                .collect()
        })
    }

    fn payment() -> (String, Option<String>, Option<i32>) {
        Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT status, receipt, result_code FROM alphadome.payments",
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (
                row.get(1).unwrap().unwrap(),
                row.get(2).unwrap(),
                row.get(3).unwrap(),
            )
        })
    }

    fn order_status() -> String {
        one::<String>("SELECT status FROM alphadome.orders", &[]).unwrap()
    }

    /// The newest message queued for the customer.
    fn last_told() -> (String, Option<serde_json::Value>) {
        Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT payload ->> 'text', payload -> 'interactive' FROM alphadome.outbox
                      WHERE kind = 'reply.send' ORDER BY id DESC LIMIT 1",
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (
                row.get::<String>(1).unwrap().unwrap(),
                row.get::<pgrx::JsonB>(2).unwrap().map(|j| j.0),
            )
        })
    }

    fn callback(
        code: serde_json::Value,
        checkout: &str,
        amount: i64,
        phone: i64,
    ) -> serde_json::Value {
        let mut body = serde_json::json!({"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": checkout,
            "ResultCode": code, "ResultDesc": "The service request is processed successfully."}}});
        if code == serde_json::json!(0) {
            body["Body"]["stkCallback"]["CallbackMetadata"] = serde_json::json!({"Item": [
                {"Name": "Amount", "Value": amount}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                {"Name": "TransactionDate", "Value": 20191219102115_i64}, {"Name": "PhoneNumber", "Value": phone}]});
        }
        body
    }

    fn call_back(path: &str, body: &serde_json::Value) -> bool {
        let (slug, token) = path.split_once('/').unwrap();
        one::<bool>(
            "SELECT alphadome.mpesa_callback($1, $2, $3::jsonb)",
            &[slug.into(), token.into(), body.to_string().into()],
        )
        .unwrap()
    }

    /// Pushes the pending payment: claims its job and reports M-Pesa's acceptance; returns the
    /// claimed job and the callback path.
    fn pushed() -> (serde_json::Value, String) {
        let jobs = claim("payment.stk_push");
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let job = jobs[0].clone();
        run(
            "SELECT alphadome.complete_job($1, '{\"merchant_request_id\": \"29115-34620561-1\", \"checkout_request_id\": \"ws_CO_191220191020363925\"}')",
            &[job["id"].as_i64().unwrap().into()],
        );
        let path = job["mpesa"]["callback_path"].as_str().unwrap().to_string();
        (job, path)
    }

    /// A claim that holds the shop's WhatsApp token for a send gives the push beside it its
    /// M-Pesa context, not the token (the claim's shortcut for sends once skipped the push's).
    #[pg_test]
    fn a_push_claimed_with_a_send_gets_its_mpesa_context_not_the_token() {
        customer_pressed_pay();
        let jobs: Vec<serde_json::Value> = Spi::connect(|client| {
            client
                .select(
                    "SELECT j FROM alphadome.claim_jobs('test', 10, 60, '{reply.send,payment.stk_push}') j",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| r.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
                .collect()
        });
        let kinds: Vec<&str> = jobs.iter().map(|j| j["kind"].as_str().unwrap()).collect();
        let first_send = kinds.iter().position(|k| *k == "reply.send");
        let push = kinds.iter().position(|k| *k == "payment.stk_push");
        assert!(
            matches!((first_send, push), (Some(s), Some(p)) if s < p),
            "a send before the push in one claim: {kinds:?}"
        );
        let push = &jobs[push.unwrap()];
        assert!(push["mpesa"]["callback_path"].is_string(), "{push}");
        assert!(push.get("whatsapp").is_none(), "{push}");
    }

    #[pg_test]
    fn mpesa_credentials_are_kept_encrypted_and_their_setting_audited() {
        let (t, _) = customer_pressed_pay();
        let plain = one::<bool>(
            "SELECT position(convert_to($1, 'UTF8') in passkey) > 0 OR position('consumer-key-x'::bytea in consumer_key) > 0
               FROM alphadome.mpesa_accounts",
            &[SANDBOX_PASSKEY.into()],
        );
        assert_eq!(plain, Some(false));
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid AND purpose = 'set_mpesa_credentials: a new value'",
                &[t.as_str().into()]
            ),
            Some(4)
        );
        // An owner reads neither the ciphertexts nor the credentials.
        act_as("alphadome_tenant", Context::Setting(&t));
        assert_eq!(
            outcome("SELECT passkey FROM alphadome.mpesa_accounts", &[]),
            "42501"
        );
        assert_eq!(
            outcome("SELECT environment FROM alphadome.mpesa_accounts", &[]),
            "ok 1"
        );
    }

    #[pg_test]
    fn a_pressed_pay_button_pushes_once_and_a_paid_callback_tells_the_customer_and_the_owner() {
        let (t, order) = customer_pressed_pay();
        let reference = one::<String>("SELECT reference FROM alphadome.orders", &[]).unwrap();
        assert_eq!(
            last_told().0,
            format!("We are sending an M-Pesa request for KES 21,000 to your phone now: enter your PIN to pay order {reference}.")
        );
        assert_eq!(payment(), ("requested".to_string(), None, None));
        let (job, path) = pushed();
        let mpesa = &job["mpesa"];
        assert_eq!(mpesa["passkey"], SANDBOX_PASSKEY);
        assert_eq!(
            (
                &mpesa["shortcode"],
                &mpesa["party_b"],
                &mpesa["transaction_type"]
            ),
            (
                &serde_json::json!("174379"),
                &serde_json::json!("174379"),
                &serde_json::json!("CustomerPayBillOnline")
            )
        );
        assert_eq!(
            (&mpesa["amount"], &mpesa["phone"]),
            (&serde_json::json!(21000), &serde_json::json!(SANDBOX_PHONE))
        );
        assert_eq!(mpesa["reference"], reference.as_str());
        assert!(
            path.starts_with("shop/") && path.len() == "shop/".len() + 64,
            "{path}"
        );
        // Each credential's decryption is audited with its job.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid AND job_id = $2",
                &[t.as_str().into(), job["id"].as_i64().unwrap().into()]
            ),
            Some(4)
        );
        assert_eq!(payment().0, "pending");
        assert_eq!(order_status(), "awaiting_payment");
        // A second press while it is pending pushes nothing more.
        ingest(&webhook_with(
            NUMBER,
            SANDBOX_PHONE,
            "w.again",
            serde_json::json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": format!("pay_mpesa:{order}"), "title": "Pay with M-Pesa"}}}),
        ));
        assert!(last_told().0.contains("is already on your phone"));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.payments", &[]),
            Some(1)
        );
        // A stranger's token: nothing happens.
        let stranger = format!("shop/{}", "0".repeat(64));
        let paid = callback(
            serde_json::json!(0),
            "ws_CO_191220191020363925",
            21000,
            254708374149,
        );
        assert!(!call_back(&stranger, &paid));
        assert_eq!(payment().0, "pending");
        // The callback: paid, once however often it comes.
        assert!(call_back(&path, &paid));
        assert!(call_back(&path, &paid));
        assert_eq!(
            payment(),
            ("paid".to_string(), Some("NLJ7RT61SV".to_string()), Some(0))
        );
        assert_eq!(order_status(), "paid");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.outbox WHERE payload ->> 'text' LIKE 'Payment received%'", &[]),
            Some(1)
        );
        assert_eq!(
            last_told().0,
            format!("Payment received: KES 21,000 for order {reference}. M-Pesa receipt NLJ7RT61SV. Thank you!")
        );
        let alert = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE kind = 'payment'",
            &[],
        )
        .unwrap();
        assert!(alert.contains(&format!("order {reference} is paid, KES 21,000 by M-Pesa from +254708374149 (receipt NLJ7RT61SV)")), "{alert}");
        // The query queued in case the callback never came is not needed any more.
        assert_eq!(
            one::<String>(
                "SELECT status FROM alphadome.outbox WHERE kind = 'payment.query'",
                &[]
            )
            .as_deref(),
            Some("done")
        );
        assert!(one::<bool>("SELECT callback IS NOT NULL FROM alphadome.payments", &[]).unwrap());
    }

    #[pg_test]
    fn a_callback_with_another_amount_is_flagged_and_the_order_not_paid() {
        customer_pressed_pay();
        let (_, path) = pushed();
        assert!(call_back(
            &path,
            &callback(
                serde_json::json!(0),
                "ws_CO_191220191020363925",
                1,
                254708374149
            )
        ));
        assert_eq!(payment().0, "flagged");
        assert_eq!(order_status(), "awaiting_payment");
        let alert = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE kind = 'payment'",
            &[],
        )
        .unwrap();
        assert!(alert.contains("does not match it"), "{alert}");
    }

    /// Money for no payment the bot waits for (a push whose answer was lost, taken as failed,
    /// yet paid on the phone) is not ignored: the owner gets one alert, however often it comes.
    #[pg_test]
    fn a_paid_callback_for_no_known_payment_alerts_the_owner_once() {
        customer_pressed_pay();
        let (_, path) = pushed();
        for _ in 0..2 {
            assert!(call_back(
                &path,
                &callback(
                    serde_json::json!(0),
                    "ws_CO_unknown_lost_answer",
                    32000,
                    254708374149
                )
            ));
        }
        let alerts = one::<String>(
            "SELECT string_agg(text, ' | ') FROM alphadome.alerts WHERE kind = 'payment'",
            &[],
        )
        .unwrap();
        assert!(alerts.contains("came for no order"), "{alerts}");
        assert!(alerts.contains("32000 from +254708374149"), "{alerts}");
        assert!(!alerts.contains(" | "), "one alert only: {alerts}");
        assert_eq!(order_status(), "awaiting_payment");
    }

    #[pg_test]
    fn a_cancelled_push_tells_the_customer_in_plain_words_with_a_button_to_try_again() {
        let (_, order) = customer_pressed_pay();
        let (_, path) = pushed();
        // ResultCode as a string, as M-Pesa sometimes sends it.
        assert!(call_back(
            &path,
            &callback(serde_json::json!("1032"), "ws_CO_191220191020363925", 0, 0)
        ));
        assert_eq!(payment(), ("failed".to_string(), None, Some(1032)));
        assert_eq!(order_status(), "failed");
        let (text, buttons) = last_told();
        assert_eq!(
            text,
            "You cancelled the M-Pesa request. Try again when you are ready."
        );
        assert_eq!(
            buttons.unwrap()["buttons"][0],
            serde_json::json!({"id": format!("pay_mpesa:{order}"), "title": "Try again"})
        );
        // Try again: a new push for the same order.
        ingest(&webhook_with(
            NUMBER,
            SANDBOX_PHONE,
            "w.retry",
            serde_json::json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": format!("pay_mpesa:{order}"), "title": "Try again"}}}),
        ));
        assert_eq!(order_status(), "awaiting_payment");
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.payments WHERE status = 'requested'",
                &[]
            ),
            Some(1)
        );
    }

    /// A customer who bought in Swahili is told of his payment in Swahili.
    #[pg_test]
    fn a_swahili_customer_hears_of_his_payment_in_swahili() {
        customer_pressed_pay_saying("Nataka kununua gitaa", "Lipa kwa M-Pesa");
        let reference = one::<String>("SELECT reference FROM alphadome.orders", &[]).unwrap();
        let (_, path) = pushed();
        assert!(call_back(
            &path,
            &callback(serde_json::json!(1032), "ws_CO_191220191020363925", 0, 0)
        ));
        let (said, choices) = last_told();
        assert_eq!(said, "Umesitisha ombi la M-Pesa. Jaribu tena ukiwa tayari.");
        let titles: Vec<String> = choices.unwrap()["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(titles, ["Jaribu tena", "Ongea na mtu"]);
        // He presses "Jaribu tena" and pays.
        let order = one::<i64>("SELECT id FROM alphadome.orders", &[]).unwrap();
        ingest(&webhook_with(
            NUMBER,
            SANDBOX_PHONE,
            "w.retry",
            serde_json::json!({"type": "interactive", "interactive": {"type": "button_reply",
                "button_reply": {"id": format!("pay_mpesa:{order}"), "title": "Jaribu tena"}}}),
        ));
        assert!(
            last_told().0.starts_with("Tunatuma ombi la M-Pesa"),
            "{:?}",
            last_told()
        );
        let jobs = claim("payment.stk_push");
        run(
            "SELECT alphadome.complete_job($1, '{\"merchant_request_id\": \"m-2\", \"checkout_request_id\": \"ws_CO_second\"}')",
            &[jobs[0]["id"].as_i64().unwrap().into()],
        );
        assert!(call_back(
            &path,
            &callback(serde_json::json!(0), "ws_CO_second", 21000, 254708374149)
        ));
        assert_eq!(
            last_told().0,
            format!("Malipo yamepokelewa: KES 21,000 kwa oda {reference}. Risiti ya M-Pesa NLJ7RT61SV. Asante!")
        );
    }

    #[pg_test]
    fn without_a_callback_the_query_asks_until_mpesa_knows() {
        customer_pressed_pay();
        pushed();
        run(
            "UPDATE alphadome.outbox SET run_at = now() WHERE kind = 'payment.query'",
            &[],
        );
        let query = claim("payment.query");
        assert_eq!(query.len(), 1);
        assert_eq!(
            query[0]["mpesa"]["checkout_request_id"],
            "ws_CO_191220191020363925"
        );
        run(
            "SELECT alphadome.complete_job($1, '{\"pending\": true}')",
            &[query[0]["id"].as_i64().unwrap().into()],
        );
        assert_eq!(payment().0, "pending");
        run("UPDATE alphadome.outbox SET run_at = now() WHERE kind = 'payment.query' AND status = 'queued'", &[]);
        let query = claim("payment.query");
        assert_eq!(query.len(), 1, "asked again while pending");
        run(
            "SELECT alphadome.complete_job($1, '{\"result_code\": \"1037\", \"result_desc\": \"DS timeout user cannot be reached\"}')",
            &[query[0]["id"].as_i64().unwrap().into()],
        );
        assert_eq!(payment(), ("failed".to_string(), None, Some(1037)));
        assert!(last_told().0.starts_with("We could not reach your phone"));
    }

    /// Erasing a customer (forget_customer) keeps the shop's sale without who bought: no row
    /// names the phone, and a payment whose PIN prompt was out is still settled and reported.
    #[pg_test]
    fn an_erased_customers_sale_stays_without_the_phone_and_a_late_callback_still_settles_it() {
        let (t, order) = customer_pressed_pay();
        let (_, path) = pushed();
        assert!(
            !rows_naming(SANDBOX_PHONE).is_empty(),
            "the fixture names him"
        );
        let removed = one::<pgrx::JsonB>(
            "SELECT alphadome.forget_customer($1::uuid, $2)",
            &[t.as_str().into(), SANDBOX_PHONE.into()],
        )
        .unwrap()
        .0;
        assert_eq!(
            (&removed["orders_unnamed"], &removed["payments_unnamed"]),
            (&serde_json::json!(1), &serde_json::json!(1)),
            "{removed}"
        );
        assert_eq!(rows_naming(SANDBOX_PHONE), Vec::<String>::new());
        assert_eq!(
            one::<bool>(
                "SELECT conversation_id IS NULL AND status = 'awaiting_payment' FROM alphadome.orders WHERE id = $1",
                &[order.into()]
            ),
            Some(true)
        );
        // The query in case no callback comes is still queued; M-Pesa's callback settles it.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.outbox WHERE kind = 'payment.query' AND status = 'queued'",
                &[]
            ),
            Some(1)
        );
        let paid = callback(
            serde_json::json!(0),
            "ws_CO_191220191020363925",
            21000,
            254708374149,
        );
        assert!(call_back(&path, &paid));
        assert_eq!(payment().0, "paid");
        assert_eq!(order_status(), "paid");
        let alert = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE kind = 'payment'",
            &[],
        )
        .unwrap();
        assert!(
            alert.contains("by M-Pesa from a customer since erased (receipt NLJ7RT61SV)"),
            "{alert}"
        );
        // Nobody to tell, and the callback's phone is not kept.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.outbox WHERE kind = 'reply.send'",
                &[]
            ),
            Some(0)
        );
        assert_eq!(rows_naming(SANDBOX_PHONE), Vec::<String>::new());
    }

    #[pg_test]
    fn an_erased_customer_is_not_asked_to_pay_and_his_draft_is_cancelled() {
        let (t, order) = customer_pressed_pay();
        // A second order left as a draft.
        ingest(&webhook_with(
            NUMBER,
            SANDBOX_PHONE,
            "w.buy2",
            serde_json::json!({"type": "text", "text": {"body": "I want to buy the yamaha guitar"}}),
        ));
        run(
            "SELECT alphadome.forget_customer($1::uuid, $2)",
            &[t.as_str().into(), SANDBOX_PHONE.into()],
        );
        assert!(claim("payment.stk_push").is_empty(), "no push");
        assert_eq!(
            one::<String>(
                "SELECT string_agg(status, ',' ORDER BY id) FROM alphadome.orders",
                &[]
            )
            .as_deref(),
            Some("failed,cancelled")
        );
        assert_eq!(
            one::<String>("SELECT status FROM alphadome.payments", &[]).as_deref(),
            Some("failed")
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.orders WHERE id = $1 AND conversation_id IS NULL",
                &[order.into()]
            ),
            Some(1)
        );
        assert_eq!(rows_naming(SANDBOX_PHONE), Vec::<String>::new());
    }

    #[pg_test]
    fn no_push_long_after_the_press_nor_above_the_limit() {
        customer_pressed_pay();
        run(
            "UPDATE alphadome.orders SET pay_chosen_at = now() - interval '6 minutes'",
            &[],
        );
        assert!(
            claim("payment.stk_push").is_empty(),
            "a stale press is not pushed"
        );
        assert_eq!(payment().0, "failed");
        assert_eq!(
            one::<String>(
                "SELECT status FROM alphadome.outbox WHERE kind = 'payment.stk_push'",
                &[]
            )
            .as_deref(),
            Some("dead")
        );
        // Above the shop's limit: a person sends the details, no push.
        run(
            "UPDATE alphadome.bot_control_settings SET max_payment_amount = 1000",
            &[],
        );
        let order = one::<i64>("SELECT id FROM alphadome.orders", &[]).unwrap();
        ingest(&webhook_with(
            NUMBER,
            SANDBOX_PHONE,
            "w.big",
            serde_json::json!({"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": format!("pay_mpesa:{order}"), "title": "Try again"}}}),
        ));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.payments", &[]),
            Some(1)
        );
        assert!(last_told()
            .0
            .starts_with("Thank you! A member of our team will send you the M-Pesa details"));
        let alert = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE kind = 'payment'",
            &[],
        )
        .unwrap();
        assert!(alert.contains("above the shop's limit"), "{alert}");
    }
}

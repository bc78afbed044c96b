//! A person answers (0.3.0): hand-off that holds, replies and templates from the console, the
//! hand-off clocks at their edges, the WhatsApp Business app beside the bot, staff logins.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::json;

    const NUMBER_A: &str = "100000000000011";
    const CUSTOMER: &str = "254711000123";

    fn text(from: &str, wamid: &str, body: &str) -> String {
        webhook_with(
            NUMBER_A,
            from,
            wamid,
            json!({"type": "text", "text": {"body": body}}),
        )
    }

    fn ingest(body: &str) -> serde_json::Value {
        one::<pgrx::JsonB>("SELECT alphadome.ingest_webhook($1::jsonb)", &[body.into()])
            .unwrap()
            .0
    }

    /// A change of `field` for tenant A's number, as Meta sends the coexistence webhooks.
    fn app_webhook(field: &str, value: serde_json::Value) -> String {
        let mut value = value;
        value["messaging_product"] = "whatsapp".into();
        value["metadata"] =
            json!({"display_phone_number": "254711000001", "phone_number_id": NUMBER_A});
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "102290129340398", "changes": [{"field": field, "value": value}]}]})
        .to_string()
    }

    fn decision(wamid: &str) -> Option<String> {
        one::<String>(
            "SELECT decision::text FROM alphadome.messages WHERE wamid = $1",
            &[wamid.into()],
        )
    }

    fn state(customer: &str) -> Option<String> {
        one::<String>(
            "SELECT state FROM alphadome.conversations WHERE customer_key = $1",
            &[customer.into()],
        )
    }

    fn conversation(customer: &str) -> i64 {
        one::<i64>(
            "SELECT id FROM alphadome.conversations WHERE customer_key = $1",
            &[customer.into()],
        )
        .expect("the customer's conversation")
    }

    fn count(query: &str) -> i64 {
        one::<i64>(query, &[]).unwrap_or(0)
    }

    #[pg_test]
    fn a_request_for_a_person_is_acknowledged_once_and_the_bot_stays_silent() {
        two_tenants();
        ingest(&text(CUSTOMER, "w.1", "I ordered a guitar last week and it arrived broken. I want to speak to a person please"));
        assert_eq!(decision("w.1").as_deref(), Some("escalated"));
        assert_eq!(state(CUSTOMER).as_deref(), Some("waiting"));
        let id = conversation(CUSTOMER);
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.alerts WHERE kind = 'handoff' AND conversation_id = $1",
                &[id.into()]
            ),
            Some(1),
            "the alert names the conversation"
        );
        let replies = "SELECT count(*) FROM alphadome.outbox WHERE kind = 'reply.send' AND payload ->> 'customer' = '254711000123'";
        assert_eq!(count(replies), 1, "one acknowledgement");
        ingest(&text(CUSTOMER, "w.2", "Hello? Is anyone there?"));
        ingest(&text(CUSTOMER, "w.3", "human!!"));
        assert_eq!(decision("w.2").as_deref(), Some("waiting"));
        assert_eq!(decision("w.3").as_deref(), Some("waiting"));
        assert_eq!(count(replies), 1, "nothing more while the customer waits");
        // Swahili, from another customer; and opt-out stays absolute for a waiting one.
        ingest(&text(
            "254711000124",
            "w.4",
            "Nataka kuongea na mtu tafadhali",
        ));
        assert_eq!(decision("w.4").as_deref(), Some("escalated"));
        ingest(&text("254711000124", "w.5", "Acha kunitumia messages"));
        assert_eq!(decision("w.5").as_deref(), Some("opt_out"));
        assert_eq!(
            state("254711000124").as_deref(),
            Some("bot"),
            "an opted-out customer waits for nobody: no reminder, no timeout message"
        );
    }

    #[pg_test]
    fn a_person_replies_within_the_window_and_a_template_outside_it() {
        let (a, b) = two_tenants();
        ingest(&text(CUSTOMER, "w.1", "I want a human"));
        let id = conversation(CUSTOMER);
        run(
            "UPDATE alphadome.conversations SET last_inbound_at = now() - interval '1 hour' WHERE id = $1",
            &[id.into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        run(
            "SELECT set_config('alphadome.console_account', '6f1c3a52-0000-4000-8000-000000000001', true)",
            &[],
        );
        let job = one::<i64>(
            "SELECT alphadome.send_human_reply($1, '  Pole sana! We will replace it.  ')",
            &[id.into()],
        )
        .unwrap();
        assert_eq!(state(CUSTOMER).as_deref(), Some("person"));
        assert_eq!(
            outcome(
                "SELECT alphadome.send_human_reply($1[1]::bigint, '')",
                &[&id.to_string()]
            ),
            "22023"
        );
        act_as_superuser();
        let payload = one::<pgrx::JsonB>(
            "SELECT payload FROM alphadome.outbox WHERE id = $1",
            &[job.into()],
        )
        .unwrap()
        .0;
        assert_eq!(payload["text"], "Pole sana! We will replace it.");
        assert_eq!(payload["to"], CUSTOMER);
        assert_eq!(payload["sent_by"], "person");
        // Sent: logged in the conversation as the person's, with the account.
        run(
            "UPDATE alphadome.outbox SET status = 'running' WHERE id = $1",
            &[job.into()],
        );
        run(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.person.1\", \"status\": \"sent\"}')",
            &[job.into()],
        );
        assert_eq!(
            one::<String>(
                "SELECT sent_by || ' ' || sent_by_account || ' ' || conversation_id FROM alphadome.messages WHERE wamid = 'wamid.person.1'",
                &[]
            ),
            Some(format!("person 6f1c3a52-0000-4000-8000-000000000001 {id}"))
        );
        // Another tenant cannot touch it.
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(
            outcome(
                "SELECT alphadome.send_human_reply($1[1]::bigint, 'hi')",
                &[&id.to_string()]
            ),
            "P0002"
        );
        act_as_superuser();

        // Outside the 24-hour window: free text refused, an approved template goes.
        run(
            "UPDATE alphadome.conversations SET last_inbound_at = now() - interval '25 hours' WHERE id = $1",
            &[id.into()],
        );
        run(
            "INSERT INTO alphadome.whatsapp_templates (bot_tenant_id, name, language, status, body) VALUES
               ($1::uuid, 'order_ready', 'en', 'APPROVED', 'Hello {{1}}, your order {{2}} is ready.'),
               ($1::uuid, 'sale', 'en', 'PENDING', 'Sale!')",
            &[a.as_str().into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        assert_eq!(
            outcome(
                "SELECT alphadome.send_human_reply($1[1]::bigint, 'hi')",
                &[&id.to_string()]
            ),
            "22023"
        );
        let message = one::<String>(
            "SELECT alphadome_test.error_message('SELECT alphadome.send_human_reply(' || $1 || ', ''hi'')')",
            &[id.to_string().as_str().into()],
        );
        assert_eq!(
            message.as_deref(),
            Some("22023 outside the 24-hour window: send a template")
        );
        let sent = one::<i64>(
            "SELECT alphadome.send_template($1, 'order_ready', 'en', ARRAY['Jane', 'KMS-104'])",
            &[id.into()],
        )
        .unwrap();
        // Too few parameters, or an empty one: $1 is the conversation, the rest the parameters.
        let id_text = id.to_string();
        for params in [vec!["Jane"], vec!["Jane", " "]] {
            let args: Vec<&str> = std::iter::once(id_text.as_str())
                .chain(params.iter().copied())
                .collect();
            assert_eq!(
                outcome(
                    "SELECT alphadome.send_template($1[1]::bigint, 'order_ready', 'en', $1[2:])",
                    &args
                ),
                "22023",
                "{params:?}"
            );
        }
        assert_eq!(
            outcome(
                "SELECT alphadome.send_template($1[1]::bigint, 'sale', 'en')",
                &[&id.to_string()]
            ),
            "22023",
            "not approved"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.send_template($1[1]::bigint, 'nope', 'en')",
                &[&id.to_string()]
            ),
            "P0002"
        );
        act_as_superuser();
        let payload = one::<pgrx::JsonB>(
            "SELECT payload FROM alphadome.outbox WHERE id = $1",
            &[sent.into()],
        )
        .unwrap()
        .0;
        assert_eq!(payload["text"], "Hello Jane, your order KMS-104 is ready.");
        assert_eq!(
            payload["template"],
            json!({"name": "order_ready", "language": "en", "parameters": ["Jane", "KMS-104"]})
        );

        // Resolved, then the customer writes again: the bot has him back.
        act_as("alphadome_tenant", Context::Setting(&a));
        run("SELECT alphadome.resolve_conversation($1)", &[id.into()]);
        act_as_superuser();
        assert_eq!(state(CUSTOMER).as_deref(), Some("resolved"));
        ingest(&text(CUSTOMER, "w.9", "What are your opening hours?"));
        assert_eq!(state(CUSTOMER).as_deref(), Some("bot"));
        assert_eq!(decision("w.9").as_deref(), Some("faq"));
    }

    /// The conversation's waiting clock started at `since` minutes past 10:00 on a Monday
    /// (Nairobi); the chores judged at `at` minutes past it: {"reminded", "resumed"}.
    fn chores_at(minutes: i32) -> serde_json::Value {
        one::<pgrx::JsonB>(
            "SELECT alphadome.handoff_chores(timestamptz '2026-11-30 10:00 Africa/Nairobi' + make_interval(mins => $1))",
            &[minutes.into()],
        )
        .unwrap()
        .0
    }

    #[pg_test]
    fn the_reminder_and_the_timeout_come_at_their_edges_and_only_while_open() {
        let (a, _) = two_tenants();
        ingest(&text(CUSTOMER, "w.1", "I want a human"));
        run(
            "UPDATE alphadome.conversations SET waiting_since = timestamptz '2026-11-30 10:00 Africa/Nairobi'
              WHERE customer_key = $1",
            &[CUSTOMER.into()],
        );
        run(
            "DELETE FROM alphadome.alerts; DELETE FROM alphadome.outbox",
            &[],
        );
        assert_eq!(chores_at(14), json!({"reminded": 0, "resumed": 0}));
        assert_eq!(chores_at(15), json!({"reminded": 1, "resumed": 0}));
        assert_eq!(chores_at(16), json!({"reminded": 0, "resumed": 0}), "once");
        assert_eq!(
            count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'handoff_reminder'"),
            1
        );
        assert_eq!(chores_at(119), json!({"reminded": 0, "resumed": 0}));
        assert_eq!(chores_at(120), json!({"reminded": 0, "resumed": 1}));
        assert_eq!(state(CUSTOMER).as_deref(), Some("bot"));
        assert_eq!(
            count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'handoff_timeout'"),
            1
        );
        assert_eq!(
            one::<String>("SELECT payload ->> 'text' FROM alphadome.outbox WHERE kind = 'reply.send'", &[])
                .as_deref(),
            Some("Sorry for the wait: nobody from our team could answer yet. I am the shop's assistant and can help you meanwhile, and a person will still get back to you.")
        );

        // While the shop is closed the clocks stand still.
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = '{\"mon\": [[\"09:00\", \"10:30\"]]}'
              WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        run(
            "UPDATE alphadome.conversations SET waiting_since = timestamptz '2026-11-30 10:00 Africa/Nairobi', reminded_at = NULL
              WHERE customer_key = $1",
            &[CUSTOMER.into()],
        );
        assert_eq!(
            chores_at(45),
            json!({"reminded": 0, "resumed": 0}),
            "closed at 10:45"
        );
        assert_eq!(state(CUSTOMER).as_deref(), Some("waiting"));

        // A person who took a conversation and went quiet gives it back after the timeout.
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = NULL WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        run(
            "UPDATE alphadome.conversations SET waiting_since = NULL, handoff_at = timestamptz '2026-11-30 10:00 Africa/Nairobi'
              WHERE customer_key = $1",
            &[CUSTOMER.into()],
        );
        assert_eq!(chores_at(119), json!({"reminded": 0, "resumed": 0}));
        assert_eq!(chores_at(120), json!({"reminded": 0, "resumed": 1}));
        assert_eq!(state(CUSTOMER).as_deref(), Some("bot"));
    }

    #[pg_test]
    fn the_shops_app_beside_the_bot_echoes_contacts_and_history() {
        two_tenants();
        let echo = app_webhook(
            "smb_message_echoes",
            json!({"message_echoes": [{"from": "254711000001", "to": CUSTOMER, "id": "wamid.app.1",
                   "timestamp": "1764500000", "type": "text", "text": {"body": "Niko njiani, nakuja"}}]}),
        );
        let counts = ingest(&echo);
        assert_eq!(
            (counts["accepted"].as_i64(), counts["jobs"].as_i64()),
            (Some(1), Some(0))
        );
        assert_eq!(ingest(&echo)["duplicates"].as_i64(), Some(1));
        assert_eq!(
            state(CUSTOMER).as_deref(),
            Some("person"),
            "the owner has the customer"
        );
        assert_eq!(
            one::<String>(
                "SELECT direction || ' ' || sent_by || ' ' || body FROM alphadome.messages WHERE wamid = 'wamid.app.1'",
                &[]
            )
            .as_deref(),
            Some("outbound app Niko njiani, nakuja")
        );
        ingest(&text(CUSTOMER, "w.1", "What are your opening hours?"));
        assert_eq!(
            decision("w.1").as_deref(),
            Some("human_handoff"),
            "the bot does not talk over the owner"
        );
        ingest(&app_webhook(
            "smb_message_echoes",
            json!({"message_echoes": [{"from": "254711000001", "to": CUSTOMER, "id": "wamid.app.2",
                   "type": "edit", "edit": {"original_message_id": "wamid.app.1",
                                            "message": {"type": "text", "text": {"body": "Niko njiani"}}}}]}),
        ));
        assert_eq!(
            one::<String>(
                "SELECT body FROM alphadome.messages WHERE wamid = 'wamid.app.1'",
                &[]
            )
            .as_deref(),
            Some("Niko njiani")
        );

        ingest(&app_webhook(
            "smb_app_state_sync",
            json!({"state_sync": [{"type": "contact", "action": "add",
                   "contact": {"full_name": "Mama Njeri", "first_name": "Njeri", "phone_number": "254711000555"},
                   "metadata": {"timestamp": "1764500000"}}]}),
        ));
        assert_eq!(
            one::<String>("SELECT customer_name FROM alphadome.conversations WHERE customer_key = '254711000555'", &[])
                .as_deref(),
            Some("Mama Njeri")
        );

        let jobs_before = count("SELECT count(*) FROM alphadome.outbox");
        let history = app_webhook(
            "history",
            json!({"history": [{"metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
                   "threads": [{"id": "254711000777", "messages": [
                       {"from": "254711000777", "id": "wamid.h.1", "timestamp": "1764400000", "type": "text",
                        "text": {"body": "Mna capo?"}, "history_context": {"status": "READ"}},
                       {"from": "254711000001", "id": "wamid.h.2", "timestamp": "1764400100", "type": "text",
                        "text": {"body": "Ndio, KES 800"}, "history_context": {"status": "READ"}}]}]}]}),
        );
        assert_eq!(ingest(&history)["accepted"].as_i64(), Some(2));
        assert_eq!(
            ingest(&history)["duplicates"].as_i64(),
            Some(2),
            "imported once"
        );
        assert_eq!(
            count("SELECT count(*) FROM alphadome.outbox"),
            jobs_before,
            "nothing answered"
        );
        assert_eq!(
            one::<String>(
                "SELECT string_agg(direction || ':' || coalesce(decision::text, sent_by), ' ' ORDER BY created_at)
                   FROM alphadome.messages WHERE wamid LIKE 'wamid.h.%'",
                &[]
            )
            .as_deref(),
            Some("inbound:history outbound:app")
        );
    }

    /// Meta's documented payloads of the three coexistence fields (tests/fixtures/whatsapp 31-33).
    const ECHO: &str =
        include_str!("../../../tests/fixtures/whatsapp/31_meta_smb_message_echoes.json");
    const CONTACTS: &str =
        include_str!("../../../tests/fixtures/whatsapp/32_meta_smb_app_state_sync.json");
    const HISTORY: &str = include_str!("../../../tests/fixtures/whatsapp/33_meta_history.json");

    #[pg_test]
    fn metas_documented_coexistence_payloads_are_read() {
        tenant(
            "meta-example",
            "0711000901",
            "106540352242922",
            TOKEN_A,
            None,
        );
        let counts = ingest(ECHO);
        assert_eq!(
            (counts["accepted"].as_i64(), counts["jobs"].as_i64()),
            (Some(1), Some(0))
        );
        assert_eq!(
            state("16505551234").as_deref(),
            Some("person"),
            "+16505551234 is the customer 16505551234"
        );
        let counts = ingest(CONTACTS);
        assert_eq!(counts["accepted"].as_i64(), Some(2));
        assert_eq!(
            one::<String>("SELECT customer_name FROM alphadome.conversations WHERE customer_key = '16505551234'", &[])
                .as_deref(),
            Some("Pablo Morales")
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM alphadome.conversations WHERE customer_key = '16505550000'"
            ),
            0,
            "a removed contact makes no conversation"
        );
        let counts = ingest(HISTORY);
        assert_eq!(
            (counts["accepted"].as_i64(), counts["jobs"].as_i64()),
            (Some(2), Some(0))
        );
        assert_eq!(
            one::<String>(
                "SELECT string_agg(direction || ' ' || status, ', ' ORDER BY created_at) FROM alphadome.messages
                  WHERE payload ? 'history_context'",
                &[]
            )
            .as_deref(),
            Some("inbound received, outbound delivered")
        );
    }

    #[pg_test]
    fn staff_answer_customers_and_change_nothing_else() {
        let (a, b) = two_tenants();
        ingest(&text(CUSTOMER, "w.1", "I want a human"));
        let id = conversation(CUSTOMER);
        run(
            "UPDATE alphadome.conversations SET last_inbound_at = now() WHERE id = $1",
            &[id.into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        assert!(one::<String>(
            "SELECT alphadome.create_agent($1::uuid, 'amina@kassangas.example', 'a long passphrase 7')::text",
            &[a.as_str().into()]
        )
        .is_some());
        assert_eq!(
            outcome(
                "SELECT alphadome.create_agent($1[1]::uuid, 'x@example.com', 'a long passphrase 7')",
                &[&b]
            ),
            "P0002",
            "an owner makes staff for his own shop only"
        );
        act_as("alphadome_agent", Context::Setting(&a));
        assert_eq!(
            count("SELECT count(*) FROM alphadome.conversations"),
            2,
            "its own shop's"
        );
        assert!(one::<i64>(
            "SELECT alphadome.send_human_reply($1, 'Karibu!')",
            &[id.into()]
        )
        .is_some());
        for statement in [
            "UPDATE alphadome.bot_control_settings SET enable_ai_responses = false",
            "UPDATE alphadome.bot_training_data SET answer = 'x'",
            "SELECT count(*) FROM alphadome.credential_audit",
            "SELECT alphadome.create_agent($1[1]::uuid, 'y@example.com', 'a long passphrase 7')",
        ] {
            assert_eq!(outcome(statement, &[&a]), "42501", "{statement}");
        }
        act_as("alphadome_agent", Context::Setting(&b));
        assert_eq!(
            count("SELECT count(*) FROM alphadome.messages WHERE wamid = 'w.1'"),
            0
        );
        act_as_superuser();
        assert_eq!(
            one::<bool>("SELECT is_agent FROM alphadome.console_accounts WHERE email = 'amina@kassangas.example'", &[]),
            Some(true)
        );
    }
}

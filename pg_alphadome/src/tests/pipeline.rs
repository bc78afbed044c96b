//! Webhook ingestion and the decision list (docs/design.md section 1), on Meta's own payloads.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../tests/fixtures/whatsapp/", $name)),
            )
        };
    }

    /// Every payload of tests/fixtures/whatsapp, by file name.
    pub const FIXTURES: [(&str, &str); 30] = [
        fixture!("01_meta_text.json"),
        fixture!("02_meta_text_context_product_inquiry.json"),
        fixture!("03_meta_text_ctwa_ad_referral.json"),
        fixture!("04_meta_reaction.json"),
        fixture!("05_meta_image_media_id.json"),
        fixture!("06_meta_location.json"),
        fixture!("07_meta_contacts_shared.json"),
        fixture!("08_meta_unsupported_131051.json"),
        fixture!("09_meta_button_template_quick_reply.json"),
        fixture!("10_meta_interactive_list_reply.json"),
        fixture!("11_meta_interactive_button_reply.json"),
        fixture!("12_meta_order.json"),
        fixture!("13_meta_system_user_changed_number.json"),
        fixture!("14_meta_status_sent_marketing_pmp.json"),
        fixture!("15_meta_status_v24_minimal_no_pricing.json"),
        fixture!("16_meta_status_failed_131049.json"),
        fixture!("17_meta_status_delivered_service_cbp.json"),
        fixture!("18_meta_v25_incoming_text_bsuid_username.json"),
        fixture!("19_meta_v25_status_sent_bsuid.json"),
        fixture!("20_pywa_audio_voice_note.json"),
        fixture!("21_pywa_video_reply_with_context.json"),
        fixture!("22_pywa_document_forwarded.json"),
        fixture!("23_pywa_sticker_static.json"),
        fixture!("24_pywa_reaction_removed_empty_emoji.json"),
        fixture!("25_pywa_unsupported_with_subtype.json"),
        fixture!("26_pywa_value_level_errors_131000.json"),
        fixture!("27_pywa_status_failed_130472.json"),
        fixture!("28_pywa_status_played_voice.json"),
        fixture!("29_heyoo_real_text_inbound.json"),
        fixture!("30_sigvec_pywa_raw_body.json"),
    ];

    /// The phone number ids the fixtures are addressed to, each made a tenant.
    const FIXTURE_NUMBERS: [&str; 5] = [
        "106540352242922",
        "123456123",
        "1122334455667",
        "104469288944395",
        "277321005464405",
    ];

    fn fixture_tenants() -> Vec<String> {
        FIXTURE_NUMBERS
            .iter()
            .enumerate()
            .map(|(i, number)| {
                tenant(
                    &format!("fixture-{i}"),
                    &format!("07110009{i:02}"),
                    number,
                    TOKEN_A,
                    Some(AI_KEY_A),
                )
            })
            .collect()
    }

    fn ingest(payload: &str) -> serde_json::Value {
        one::<pgrx::JsonB>(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[payload.into()],
        )
        .unwrap()
        .0
    }

    fn ingest_routed(payload: &str, tenant: &str) -> serde_json::Value {
        one::<pgrx::JsonB>(
            "SELECT alphadome.ingest_webhook($1::jsonb, $2::uuid)",
            &[payload.into(), tenant.into()],
        )
        .unwrap()
        .0
    }

    fn counts(result: &serde_json::Value) -> [i64; 6] {
        [
            "accepted",
            "duplicates",
            "statuses",
            "ignored",
            "refused",
            "jobs",
        ]
        .map(|k| result[k].as_i64().unwrap())
    }

    fn clear_log() {
        run("DELETE FROM alphadome.outbox; DELETE FROM alphadome.messages; DELETE FROM alphadome.conversations", &[]);
    }

    /// (file prefix, accepted messages, statuses, message type, text)
    type Recorded = (
        &'static str,
        i64,
        i64,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[pg_test]
    fn every_fixture_is_recorded_with_its_type_and_text() {
        fixture_tenants();
        let expected: [Recorded; 30] = [
            (
                "01",
                1,
                0,
                Some("text"),
                Some("Does it come in another color?"),
            ),
            ("02", 1, 0, Some("text"), None),
            ("03", 1, 0, Some("text"), None),
            ("04", 1, 0, Some("reaction"), None),
            ("05", 1, 0, Some("image"), None),
            ("06", 1, 0, Some("location"), None),
            ("07", 1, 0, Some("contacts"), None),
            ("08", 1, 0, Some("unsupported"), None),
            ("09", 1, 0, Some("button"), None),
            ("10", 1, 0, Some("interactive"), None),
            ("11", 1, 0, Some("interactive"), None),
            ("12", 1, 0, Some("order"), None),
            ("13", 1, 0, Some("system"), None),
            ("14", 0, 1, None, None),
            ("15", 0, 1, None, None),
            ("16", 0, 1, None, None),
            ("17", 0, 1, None, None),
            ("18", 1, 0, Some("text"), Some("this is a text message")),
            ("19", 0, 1, None, None),
            ("20", 1, 0, Some("audio"), None),
            ("21", 1, 0, Some("video"), None),
            ("22", 1, 0, Some("document"), None),
            ("23", 1, 0, Some("sticker"), None),
            ("24", 1, 0, Some("reaction"), None),
            ("25", 1, 0, Some("unsupported"), None),
            ("26", 1, 0, Some("interactive"), None),
            ("27", 0, 1, None, None),
            ("28", 0, 1, None, None),
            ("29", 1, 0, Some("text"), None),
            ("30", 1, 0, Some("text"), None),
        ];
        let mut kept = 0;
        for ((name, payload), (prefix, accepted, statuses, kind, text)) in
            FIXTURES.iter().zip(expected)
        {
            assert!(name.starts_with(prefix));
            clear_log();
            let events_before =
                one::<i64>("SELECT count(*) FROM alphadome.webhook_events", &[]).unwrap();
            let result = ingest(payload);
            let [acc, dup, sts, ign, refused, _] = counts(&result);
            assert_eq!(
                (acc, dup, sts, ign, refused),
                (accepted, 0, statuses, 0, 0),
                "{name}: {result}"
            );
            let events_after =
                one::<i64>("SELECT count(*) FROM alphadome.webhook_events", &[]).unwrap();
            if result.get("event_id").is_some() {
                assert_eq!(events_after, events_before + 1, "{name}: raw payload kept");
                kept += 1;
            } else {
                // Left to its message rows: each holds its message as Meta sent it.
                assert_eq!(events_after, events_before, "{name}");
                assert_eq!(statuses, 0, "{name}: a status is kept");
                assert_eq!(
                    one::<bool>(
                        "SELECT bool_and(m.payload = x.message) AND count(*) = $2
                           FROM jsonb_path_query($1::jsonb, '$.entry[*].changes[*].value.messages[*]') x(message)
                           LEFT JOIN alphadome.messages m ON m.wamid = x.message ->> 'id'",
                        &[(*payload).into(), accepted.into()],
                    ),
                    Some(true),
                    "{name}: every message is in its row"
                );
            }
            if let Some(kind) = kind {
                let (recorded_kind, body) = Spi::get_two::<String, String>(
                    "SELECT message_type, body FROM alphadome.messages WHERE direction = 'inbound'",
                )
                .unwrap();
                assert_eq!(recorded_kind.as_deref(), Some(kind), "{name}");
                if let Some(text) = text {
                    assert_eq!(body.as_deref(), Some(text), "{name}");
                }
                let decided = one::<bool>(
                    "SELECT bool_and(decision IS NOT NULL) FROM alphadome.messages",
                    &[],
                );
                assert_eq!(
                    decided,
                    Some(true),
                    "{name}: every inbound message gets a decision"
                );
            }
        }
        // Meta's examples with statuses, contacts of no message or members beyond the message's
        // are kept; its plain messages are not.
        assert!((5..25).contains(&kept), "{kept} of 30 kept");
    }

    /// A webhook of new messages only is recorded in its message rows, not kept again whole
    /// (issue 27); one that carries anything more, or again, is kept as before.
    #[pg_test]
    fn only_a_webhook_of_new_messages_is_left_to_its_message_rows() {
        shop();
        let events = || one::<i64>("SELECT count(*) FROM alphadome.webhook_events", &[]).unwrap();
        let plain = text("What are your opening hours?", "wamid.plain");
        let result = ingest(&plain);
        assert_eq!(counts(&result)[0], 1, "{result}");
        assert_eq!(result.get("event_id"), None, "{result}");
        assert_eq!(events(), 0);
        assert_eq!(
            one::<bool>(
                "SELECT m.payload = $1::jsonb #> '{entry,0,changes,0,value,messages,0}'
                        AND c.customer_name IS NOT NULL AND c.wa_id = m.payload ->> 'from'
                   FROM alphadome.messages m JOIN alphadome.conversations c
                     ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
                  WHERE m.wamid = 'wamid.plain'",
                &[plain.as_str().into()],
            ),
            Some(true),
            "the message as Meta sent it, its sender's name and number with the conversation"
        );
        // Again (Meta's redelivery, a replay): a duplicate, kept once and counted after.
        for n in 0..3 {
            let again = ingest(&plain);
            assert_eq!(counts(&again)[1], 1, "{again}");
            assert!(again["event_id"].as_i64().is_some(), "{again}");
            assert_eq!(events(), 1, "replay {n}");
        }
        assert_eq!(
            one::<i32>("SELECT replays FROM alphadome.webhook_events", &[]),
            Some(2)
        );
        // As the relay gives it (text), a duplicate is kept by the sha256 of the body as it came.
        for n in 0..2 {
            let as_text = one::<pgrx::JsonB>(
                "SELECT alphadome.ingest_webhook_text($1)",
                &[plain.as_str().into()],
            )
            .unwrap()
            .0;
            assert_eq!(counts(&as_text)[1], 1, "{as_text}");
            assert_eq!(
                one::<i32>(
                    "SELECT replays FROM alphadome.webhook_events WHERE payload_sha256 = sha256(convert_to($1, 'UTF8'))",
                    &[plain.as_str().into()],
                ),
                Some(n),
                "{as_text}"
            );
        }
        assert_eq!(events(), 2);
        // A member Meta may add beside the message, a contact of no message in it: kept.
        let extra = text("Do you sell guitars?", "wamid.extra").replacen(
            "\"messaging_product\"",
            "\"new_field\": 1, \"messaging_product\"",
            1,
        );
        assert!(ingest(&extra)["event_id"].as_i64().is_some());
        let stranger = text("Do you sell drums?", "wamid.stranger").replacen(
            "\"contacts\": [",
            "\"contacts\": [{\"profile\": {\"name\": \"X\"}, \"wa_id\": \"254700000999\"}, ",
            1,
        );
        assert!(stranger.contains("254700000999"), "{stranger}");
        assert!(ingest(&stranger)["event_id"].as_i64().is_some());
        let odd_contacts = text("Do you sell flutes?", "wamid.odd-contacts").replacen(
            "\"contacts\": [",
            "\"contacts\": {\"list\": [",
            1,
        );
        let odd_contacts = odd_contacts.replacen(
            "],\n            \"messages\"",
            "]},\n            \"messages\"",
            1,
        );
        assert!(odd_contacts.contains("{\"list\""), "{odd_contacts}");
        assert!(ingest(&odd_contacts)["event_id"].as_i64().is_some());
        assert_eq!(events(), 5);
    }

    #[pg_test]
    fn statuses_move_outbound_messages_forward_only() {
        let tenants = fixture_tenants();
        let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";
        run(
            "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key) VALUES ($1::uuid, '16505551234') RETURNING id)
             INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body, status)
             SELECT $1::uuid, id, 'outbound', $2, 'hi', 'sent' FROM c",
            &[tenants[0].as_str().into(), wamid.into()],
        );
        let status = || {
            one::<String>(
                "SELECT status FROM alphadome.messages WHERE wamid = $1",
                &[wamid.into()],
            )
            .unwrap()
        };
        let as_status = |s: &str| FIXTURES[13].1.replace("\"sent\"", &format!("\"{s}\""));
        ingest(&as_status("read"));
        assert_eq!(status(), "read");
        ingest(&as_status("delivered"));
        assert_eq!(status(), "read", "a late delivered does not undo read");
        ingest(
            FIXTURES[15]
                .1
                .replace(
                    "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",
                    wamid,
                )
                .as_str(),
        );
        assert_eq!(status(), "failed");
        let code = one::<i64>(
            "SELECT (error -> 0 ->> 'code')::bigint FROM alphadome.messages WHERE wamid = $1",
            &[wamid.into()],
        );
        assert_eq!(code, Some(131049));
    }

    #[pg_test]
    fn unknown_inactive_and_foreign_numbers_are_logged_not_answered() {
        let tenants = fixture_tenants();
        let unknown = FIXTURES[0].1.replace("106540352242922", "999999999");
        let result = ingest(&unknown);
        assert_eq!(counts(&result), [0, 0, 0, 1, 0, 0]);
        // The raw payload is kept with the same counts and a note of what was ignored.
        let kept = one::<pgrx::JsonB>(
            "SELECT outcome FROM alphadome.webhook_events WHERE id = $1",
            &[result["event_id"].as_i64().unwrap().into()],
        )
        .unwrap()
        .0;
        let mut expected = result.clone();
        expected.as_object_mut().unwrap().remove("event_id");
        expected["notes"] = serde_json::json!([{"unknown_phone_number_id": "999999999"}]);
        assert_eq!(kept, expected);
        // Routed to tenant 1's own endpoint, a change for tenant 0's number is refused.
        assert_eq!(
            counts(&ingest_routed(FIXTURES[0].1, &tenants[1])),
            [0, 0, 0, 0, 1, 0]
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.messages", &[]),
            Some(0)
        );
        run(
            "UPDATE alphadome.bot_tenants SET is_active = false WHERE id = $1::uuid",
            &[tenants[0].as_str().into()],
        );
        assert_eq!(counts(&ingest(FIXTURES[0].1)), [0, 0, 0, 1, 0, 0]);
        // Fields other than messages are kept and ignored.
        let template = FIXTURES[0].1.replace(
            "\"field\": \"messages\"",
            "\"field\": \"message_template_status_update\"",
        );
        assert_eq!(counts(&ingest(&template)), [0, 0, 0, 1, 0, 0]);
    }

    #[pg_test]
    fn malformed_payloads_are_refused_with_22023() {
        for bad in ["[]", "{}", r#"{"entry": {}}"#, "\"text\""] {
            assert_eq!(
                outcome("SELECT alphadome.ingest_webhook($1[1]::jsonb)", &[bad]),
                "22023",
                "{bad}"
            );
        }
        assert_eq!(
            outcome("SELECT alphadome.ingest_webhook(NULL)", &[]),
            "22023"
        );
    }

    /// JSON that jsonb accepts but a serde reader would not (nested 300 deep, a number beyond
    /// double precision, here in fields Meta might add) is read like any other webhook, and
    /// kept as it came.
    #[pg_test]
    fn json_too_deep_or_too_large_for_serde_is_still_read_and_kept() {
        shop();
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let payload = text("What are your opening hours?", "wamid.odd").replacen(
            "\"messaging_product\"",
            &format!("\"n\": 1e400, \"deep\": {deep}, \"messaging_product\""),
            1,
        );
        assert_eq!(counts(&ingest(&payload)), [1, 0, 0, 0, 0, 1]);
        assert_eq!(decision("wamid.odd").as_deref(), Some("faq"));
        let kept = one::<bool>(
            "SELECT payload = $1::jsonb FROM alphadome.webhook_events ORDER BY id DESC LIMIT 1",
            &[payload.as_str().into()],
        );
        assert_eq!(kept, Some(true));
    }

    /// A payload stored compressed and out of line (a large webhook read from a table) is
    /// read in place like one sent by the relay.
    #[pg_test]
    fn a_toasted_payload_is_read() {
        shop();
        let payload = text("What are your opening hours?", "wamid.big").replacen(
            "\"messaging_product\"",
            &format!(
                "\"pad\": \"{}\", \"messaging_product\"",
                "ab".repeat(200_000)
            ),
            1,
        );
        run("CREATE TEMP TABLE big (payload jsonb)", &[]);
        run(
            "INSERT INTO big VALUES ($1::jsonb)",
            &[payload.as_str().into()],
        );
        let stored_compressed = one::<bool>(
            "SELECT pg_column_size(payload) < octet_length(payload::text) / 10 FROM big",
            &[],
        );
        assert_eq!(stored_compressed, Some(true));
        let result = one::<pgrx::JsonB>("SELECT alphadome.ingest_webhook(payload) FROM big", &[]);
        assert_eq!(counts(&result.unwrap().0), [1, 0, 0, 0, 0, 1]);
        assert_eq!(decision("wamid.big").as_deref(), Some("faq"));
    }

    /// The body as text, as the relay hands it over: what jsonb cannot hold is answered by
    /// rule, never with an error Meta would retry; a body deeper than any webhook is refused.
    #[pg_test]
    fn the_text_entry_point_refuses_what_jsonb_cannot_hold_and_keeps_the_rest() {
        // A tenant of its own: the shared fixtures' numbers would make concurrent tests wait
        // on each other's unique keys.
        let t = tenant("text-shop", "0711000077", "106540300000077", TOKEN_A, None);
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM')",
            &[t.as_str().into()],
        );
        let text = |body: &str, wamid: &str| {
            text(body, wamid).replace("106540352242922", "106540300000077")
        };
        let nul = text("hours?", "wamid.text.nul").replace("hours?", "hours\\u0000?");
        let result = one::<pgrx::JsonB>(
            "SELECT alphadome.ingest_webhook_text($1)",
            &[nul.as_str().into()],
        )
        .unwrap();
        assert_eq!(result.0["refused"], 1, "{}", result.0);
        let kept = one::<i64>(
            "SELECT count(*) FROM alphadome.messages WHERE wamid = 'wamid.text.nul'",
            &[],
        );
        assert_eq!(kept, Some(0), "the message holding \\u0000 is refused");
        let clean = text("What are your opening hours?", "wamid.text.ok");
        let result = one::<pgrx::JsonB>(
            "SELECT alphadome.ingest_webhook_text($1)",
            &[clean.as_str().into()],
        )
        .unwrap();
        assert_eq!(counts(&result.0), [1, 0, 0, 0, 0, 1]);
        assert_eq!(decision("wamid.text.ok").as_deref(), Some("faq"));
        let deep = format!("{{\"entry\": {}{}}}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            outcome(
                "SELECT alphadome.ingest_webhook_text($1[1])",
                &[deep.as_str()]
            ),
            "22023"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.ingest_webhook_text($1[1])",
                &["{not json"]
            ),
            "22P02"
        );
    }

    /// Kassangas-like tenant on number 106540352242922 with an opening-hours FAQ.
    fn shop() -> String {
        let t = tenant(
            "shop",
            "0702245555",
            "106540352242922",
            TOKEN_A,
            Some(AI_KEY_A),
        );
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM')",
            &[t.as_str().into()],
        );
        t
    }

    /// Fixture 01 with another text and message id.
    fn text(body: &str, wamid: &str) -> String {
        FIXTURES[0]
            .1
            .replace("Does it come in another color?", body)
            .replace(
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                wamid,
            )
    }

    fn jobs() -> Vec<(String, String)> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT o.kind, coalesce(o.payload ->> 'text', a.text, '') FROM alphadome.outbox o
                       LEFT JOIN alphadome.alerts a ON a.bot_tenant_id = o.bot_tenant_id AND a.id = (o.payload ->> 'alert_id')::bigint
                      ORDER BY o.id",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<String>(2).unwrap().unwrap()))
                .collect()
        })
    }

    fn decision(wamid: &str) -> Option<String> {
        one::<String>(
            "SELECT decision FROM alphadome.messages WHERE wamid = $1",
            &[wamid.into()],
        )
    }

    #[pg_test]
    fn faq_answers_directly_and_other_questions_go_to_the_llm() {
        shop();
        ingest(&text("What are your opening hours?", "w.faq"));
        assert_eq!(decision("w.faq").as_deref(), Some("faq"));
        ingest(&text(
            "Can you recommend a violin for my daughter?",
            "w.llm",
        ));
        assert_eq!(decision("w.llm").as_deref(), Some("llm"));
        assert_eq!(
            jobs(),
            vec![
                ("reply.send".into(), "Monday-Saturday 9 AM - 6 PM".into()),
                (
                    "reply.generate".into(),
                    "Can you recommend a violin for my daughter?".into()
                )
            ]
        );
        let context = one::<String>(
            "SELECT payload ->> 'context_wamid' FROM alphadome.outbox ORDER BY id LIMIT 1",
            &[],
        );
        assert_eq!(
            context.as_deref(),
            Some("w.faq"),
            "the reply quotes the inbound message"
        );
    }

    #[pg_test]
    fn the_same_webhook_five_times_is_one_message_and_one_reply() {
        shop();
        let payload = text("What are your opening hours?", "w.dup");
        let results: Vec<[i64; 6]> = (0..5).map(|_| counts(&ingest(&payload))).collect();
        assert_eq!(results[0], [1, 0, 0, 0, 0, 1]);
        assert!(
            results[1..].iter().all(|r| *r == [0, 1, 0, 0, 0, 0]),
            "{results:?}"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.messages", &[]),
            Some(1)
        );
        assert_eq!(jobs().len(), 1);
        assert_eq!(
            one::<i64>("SELECT sum(replies) FROM alphadome.reply_counters", &[]),
            Some(1),
            "a duplicate's reply is neither queued nor counted against the hourly limit"
        );
    }

    /// Ingest keeps each session's copy of a tenant's FAQ (src/faq/copy.rs): every change to the
    /// FAQ, even in the same transaction, reaches the very next message.
    #[pg_test]
    fn every_faq_change_reaches_the_next_message() {
        let t = shop();
        let ask = |wamid: &str| {
            ingest(&text("What are your opening hours?", wamid));
            let reply = one::<String>(
                "SELECT payload ->> 'text' FROM alphadome.outbox WHERE payload ->> 'context_wamid' = $1",
                &[wamid.into()],
            );
            (decision(wamid).unwrap(), reply.unwrap())
        };
        let faq = |answer: &str| ("faq".to_string(), answer.to_string());
        let llm = (
            "llm".to_string(),
            "What are your opening hours?".to_string(),
        );
        assert_eq!(ask("w.c1"), faq("Monday-Saturday 9 AM - 6 PM"));
        run(
            "UPDATE alphadome.bot_training_data SET answer = 'Every day, 8 AM - 8 PM'",
            &[],
        );
        assert_eq!(ask("w.c2"), faq("Every day, 8 AM - 8 PM"));
        run(
            "UPDATE alphadome.bot_training_data SET is_active = false",
            &[],
        );
        assert_eq!(ask("w.c3"), llm);
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             VALUES ($1::uuid, 'canned_reply', 'opening hours', 'Call us for hours')",
            &[t.as_str().into()],
        );
        assert_eq!(ask("w.c4"), faq("Call us for hours"));
        run(
            "DELETE FROM alphadome.bot_training_data WHERE data_type = 'canned_reply'",
            &[],
        );
        assert_eq!(ask("w.c5"), llm);
        run(
            "UPDATE alphadome.bot_training_data SET is_active = true",
            &[],
        );
        assert_eq!(ask("w.c6"), faq("Every day, 8 AM - 8 PM"));
        run("TRUNCATE alphadome.bot_training_data", &[]);
        assert_eq!(ask("w.c7"), llm);
    }

    /// An answer that states the hours is rendered once per session and settings
    /// (tenant_cache.rs): a change of hours reaches the next message, each language keeps its
    /// words, and {opening} is rendered at every message.
    #[pg_test]
    fn a_change_of_hours_reaches_the_next_answer_that_states_them() {
        let t = shop();
        let ask = |question: &str, wamid: &str| {
            ingest(&text(question, wamid));
            one::<String>(
                "SELECT payload ->> 'text' FROM alphadome.outbox WHERE payload ->> 'context_wamid' = $1",
                &[wamid.into()],
            )
            .unwrap()
        };
        let hours = |value: &str| {
            run(
                "UPDATE alphadome.bot_control_settings SET business_hours = $2::jsonb WHERE bot_tenant_id = $1::uuid",
                &[t.as_str().into(), value.into()],
            )
        };
        run(
            "UPDATE alphadome.bot_training_data SET answer = 'We are open {hours}.'",
            &[],
        );
        hours(r#"{"tue": [["07:30", "12:00"]]}"#);
        let tuesday =
            "We are open Tuesday 7:30 AM - 12 PM; closed on Monday and Wednesday to Sunday.";
        assert_eq!(ask("What are your opening hours?", "h.1"), tuesday);
        assert_eq!(ask("What are your opening hours?", "h.2"), tuesday);
        assert_eq!(
            ask("What are your opening hours? saa ngapi", "h.3"),
            "We are open Jumanne, saa 1:30 asubuhi hadi saa 6 mchana; tumefungwa Jumatatu na Jumatano hadi Jumapili."
        );
        hours(r#"{"sat": [["10:00", "12:00"]]}"#);
        assert_eq!(
            ask("What are your opening hours?", "h.4"),
            "We are open Saturday 10 AM - 12 PM; closed on Monday to Friday and Sunday."
        );
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = NULL WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        assert_eq!(
            ask("What are your opening hours?", "h.5"),
            "We are open every day, at any hour."
        );
        run(
            "UPDATE alphadome.bot_training_data SET answer = 'We open {opening}.'",
            &[],
        );
        assert_eq!(ask("What are your opening hours?", "h.6"), "We open now.");
    }

    /// Ingest's copy ranks exactly as match_faq, and answers only when the first entry stands
    /// out: at least the confidence, and 0.1 above the second (two that fit alike go to the LLM).
    #[pg_test]
    fn ingest_sends_match_faqs_first_answer_when_it_stands_out() {
        let t = shop();
        run(
            "UPDATE alphadome.bot_control_settings SET faq_confidence = 0.01;
             INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, category) VALUES
               ($1::uuid, 'faq', 'Do you deliver on Saturday?', 'We deliver every day but Sunday', 'Delivery'),
               ($1::uuid, 'faq', 'Do you sell guitars?', 'Acoustic and electric guitars, from KSh 8,000', 'Products'),
               ($1::uuid, 'canned_reply', 'guitars for sale', 'Come and try our guitars', 'Products'),
               ($1::uuid, 'faq', 'Where is the shop?', 'Moi Avenue, Nairobi; open hours on our page', 'Business')",
            &[t.as_str().into()],
        );
        let messages = [
            ("What are your opening hours?", true),
            ("do you deliver on saturdays", true),
            ("guitars", false),
            ("Is the shop open on Saturday?", false),
            ("where do you deliver guitars", false),
            ("zebra", false),
        ];
        for (i, (message, stands_out)) in messages.iter().enumerate() {
            let wamid = format!("w.rank{i}");
            let first_two = Spi::connect(|c| {
                c.select(
                    "SELECT answer, score FROM alphadome.match_faq($1::uuid, $2, 2)",
                    None,
                    &[t.as_str().into(), (*message).into()],
                )
                .unwrap()
                .map(|r| {
                    (
                        r.get::<String>(1).unwrap().unwrap(),
                        r.get::<f32>(2).unwrap().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
            });
            let margin =
                first_two.first().map_or(0.0, |f| f.1) - first_two.get(1).map_or(0.0, |s| s.1);
            assert_eq!(margin >= 0.1, *stands_out, "{message}: {first_two:?}");
            ingest(&text(message, &wamid));
            let sent = one::<String>(
                "SELECT (SELECT payload ->> 'text' FROM alphadome.outbox
                          WHERE payload ->> 'context_wamid' = $1 AND kind = 'reply.send')",
                &[wamid.as_str().into()],
            );
            let expected = stands_out.then(|| first_two[0].0.clone());
            assert_eq!(sent, expected, "{message}");
        }
    }

    /// faq_version belongs to the FAQ trigger: neither the operator nor a tenant owner may set
    /// it (a value set back by hand could match a session's old copy), and a new version is
    /// not a change of the settings.
    #[pg_test]
    fn only_the_faq_trigger_sets_faq_version() {
        let t = shop();
        let stamp = || {
            one::<String>(
                "SELECT faq_version::text || ' ' || updated_at::text FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
                &[t.as_str().into()],
            )
        };
        // An updated_at in the past, so that a touch (now()) would show.
        run(
            "ALTER TABLE alphadome.bot_control_settings DISABLE TRIGGER touch_updated_at;
             UPDATE alphadome.bot_control_settings SET updated_at = '2026-01-01';
             ALTER TABLE alphadome.bot_control_settings ENABLE TRIGGER touch_updated_at",
            &[],
        );
        let before = stamp().unwrap();
        run(
            "UPDATE alphadome.bot_training_data SET category = 'Hours'",
            &[],
        );
        let after = stamp().unwrap();
        assert_ne!(
            before.split(' ').next(),
            after.split(' ').next(),
            "a new version"
        );
        assert_eq!(
            before.split_once(' ').unwrap().1,
            after.split_once(' ').unwrap().1,
            "updated_at kept: {before} / {after}"
        );
        for (role, context) in [
            ("alphadome_admin", Context::None),
            ("alphadome_tenant", Context::Setting(&t)),
        ] {
            act_as(role, context);
            assert_eq!(
                outcome(
                    "UPDATE alphadome.bot_control_settings SET faq_version = 1",
                    &[]
                ),
                "42501",
                "{role}"
            );
            act_as_superuser();
        }
    }

    /// The rules on what the message path writes are domains (schema.sql), cheaper than table
    /// CHECKs; they refuse the same values.
    #[pg_test]
    fn the_message_path_columns_refuse_values_outside_their_rules() {
        shop();
        ingest(&text("What are your opening hours?", "w.rules"));
        for bad in [
            "UPDATE alphadome.outbox SET status = 'paused'",
            "UPDATE alphadome.outbox SET kind = 'reply.fax'",
            "UPDATE alphadome.outbox SET max_attempts = 0",
            "UPDATE alphadome.outbox SET dedupe_key = ''",
            "UPDATE alphadome.messages SET decision = 'maybe'",
            "UPDATE alphadome.messages SET direction = 'sideways'",
            "UPDATE alphadome.conversations SET customer_key = ''",
        ] {
            assert_eq!(outcome(bad, &[]), "23514", "{bad}");
        }
        assert_eq!(
            outcome(
                "UPDATE alphadome.outbox SET status = 'dead', max_attempts = 100",
                &[]
            ),
            "ok 1"
        );
    }

    #[pg_test]
    fn stop_confirms_once_then_silence_until_start() {
        shop();
        for (i, body) in [
            "STOP",
            "hello?",
            "stop",
            "What are your opening hours?",
            "Start",
            "What are your opening hours?",
        ]
        .iter()
        .enumerate()
        {
            ingest(&text(body, &format!("w.{i}")));
        }
        let decisions: Vec<Option<String>> = (0..6).map(|i| decision(&format!("w.{i}"))).collect();
        let expected = [
            "opt_out",
            "opted_out",
            "opted_out",
            "opted_out",
            "opt_in",
            "faq",
        ]
        .map(|d| Some(d.to_string()));
        assert_eq!(decisions, expected);
        let sent: Vec<String> = jobs().into_iter().map(|(_, text)| text).collect();
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent[0].contains("Reply START"));
        assert!(sent[1].starts_with("Welcome back"));
    }

    #[pg_test]
    fn bot_disabled_or_human_handoff_records_only() {
        let t = shop();
        run("UPDATE alphadome.bot_control_settings SET is_bot_enabled = false WHERE bot_tenant_id = $1::uuid", &[t.as_str().into()]);
        ingest(&text("What are your opening hours?", "w.off"));
        assert_eq!(decision("w.off").as_deref(), Some("bot_disabled"));
        run("UPDATE alphadome.bot_control_settings SET is_bot_enabled = true WHERE bot_tenant_id = $1::uuid", &[t.as_str().into()]);
        run("UPDATE alphadome.conversations SET handoff_at = now()", &[]);
        ingest(&text("What are your opening hours?", "w.human"));
        assert_eq!(decision("w.human").as_deref(), Some("human_handoff"));
        assert!(jobs().is_empty());
    }

    #[pg_test]
    fn the_201st_reply_in_an_hour_is_not_sent_and_one_alert_is() {
        let t = shop();
        let limit = one::<i32>("SELECT max_messages_per_hour FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid", &[t.as_str().into()]);
        assert_eq!(limit, Some(200), "the default limit");
        for i in 0..202 {
            ingest(&text("What are your opening hours?", &format!("w.{i}")));
        }
        assert_eq!(
            decision("w.199").as_deref(),
            Some("faq"),
            "the 200th is answered"
        );
        assert_eq!(
            decision("w.200").as_deref(),
            Some("rate_limited"),
            "the 201st is not"
        );
        assert_eq!(decision("w.201").as_deref(), Some("rate_limited"));
        let counts = Spi::get_two::<i64, i64>(
            "SELECT count(*) FILTER (WHERE kind = 'reply.send'), count(*) FILTER (WHERE kind = 'alert.send') FROM alphadome.outbox",
        )
        .unwrap();
        assert_eq!(
            counts,
            (Some(200), Some(1)),
            "200 replies and one alert for the hour"
        );
        let alert = one::<String>(
            "SELECT a.kind || ' ' || (a.job_id = o.id)::text FROM alphadome.alerts a
               JOIN alphadome.outbox o ON o.bot_tenant_id = a.bot_tenant_id AND o.kind = 'alert.send'",
            &[],
        );
        assert_eq!(
            alert.as_deref(),
            Some("rate_limit true"),
            "an alert row, carried by the job"
        );
        // A new hour, a new budget.
        run(
            "UPDATE alphadome.reply_counters SET hour = hour - interval '1 hour'",
            &[],
        );
        ingest(&text("What are your opening hours?", "w.next-hour"));
        assert_eq!(decision("w.next-hour").as_deref(), Some("faq"));
    }

    #[pg_test]
    fn asking_for_a_person_replies_with_the_contact_and_alerts() {
        shop();
        ingest(&text("Can I talk to a human please", "w.h"));
        assert_eq!(decision("w.h").as_deref(), Some("escalated"));
        let sent = jobs();
        assert_eq!(sent.len(), 2);
        assert!(
            sent[0].0 == "reply.send" && sent[0].1.contains("+254702245555"),
            "{sent:?}"
        );
        assert!(
            sent[1].0 == "alert.send" && sent[1].1.contains("Can I talk to a human please"),
            "{sent:?}"
        );
        // "humane" is not "human".
        ingest(&text("Is the price humane?", "w.not"));
        assert_ne!(decision("w.not").as_deref(), Some("escalated"));
    }

    #[pg_test]
    fn ai_off_and_no_match_sends_the_fallback_and_alerts() {
        let t = shop();
        run("UPDATE alphadome.bot_control_settings SET enable_ai_responses = false WHERE bot_tenant_id = $1::uuid", &[t.as_str().into()]);
        ingest(&text("Do you buy used drums?", "w.fb"));
        assert_eq!(decision("w.fb").as_deref(), Some("fallback"));
        let kinds: Vec<String> = jobs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["reply.send", "alert.send"]);
    }

    #[pg_test]
    fn media_without_words_gets_the_fallback_and_reactions_and_stickers_are_recorded_only() {
        shop();
        ingest(&FIXTURES[4].1.replace("\"caption\": \"Taj Mahal\",", "")); // image
        ingest(
            FIXTURES[3]
                .1
                .replace(
                    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                    "w.reaction",
                )
                .as_str(),
        );
        let sticker: serde_json::Value = serde_json::from_str(FIXTURES[22].1).unwrap();
        let sticker = sticker["entry"][0]["changes"][0]["value"]["messages"][0].clone();
        ingest(&webhook_with(
            "106540352242922",
            "254711000001",
            "w.sticker",
            sticker,
        ));
        let kinds: Vec<(String, String)> = jobs();
        assert_eq!(kinds.len(), 1, "{kinds:?}");
        assert_eq!(kinds[0].0, "reply.send");
        assert_eq!(decision("w.reaction").as_deref(), Some("recorded"));
        assert_eq!(decision("w.sticker").as_deref(), Some("recorded"));
    }

    #[pg_test]
    fn one_post_for_two_tenants_answers_each_as_itself() {
        let a = shop();
        let b = tenant("other", "0702245556", "555000111", TOKEN_B, None);
        // Two entries in one POST: the second is addressed to B's number.
        let first: serde_json::Value =
            serde_json::from_str(&text("What are your opening hours?", "w.a")).unwrap();
        let second: serde_json::Value = serde_json::from_str(
            &text("hello there", "w.b").replace("106540352242922", "555000111"),
        )
        .unwrap();
        let mut both = first.clone();
        both["entry"]
            .as_array_mut()
            .unwrap()
            .push(second["entry"][0].clone());
        assert_eq!(counts(&ingest(&both.to_string()))[0], 2);
        let owners = Spi::get_two::<String, String>(
            "SELECT (SELECT bot_tenant_id::text FROM alphadome.messages WHERE wamid = 'w.a'),
                    (SELECT bot_tenant_id::text FROM alphadome.messages WHERE wamid = 'w.b')",
        )
        .unwrap();
        assert_eq!(owners, (Some(a.clone()), Some(b.clone())));
        let job_owners: Vec<String> = Spi::connect(|c| {
            c.select("SELECT bot_tenant_id::text FROM alphadome.outbox ORDER BY payload ->> 'context_wamid'", None, &[])
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect()
        });
        assert_eq!(job_owners, vec![a, b]);
    }

    #[pg_test]
    fn a_sender_known_only_by_bsuid_is_answered_by_bsuid() {
        shop();
        let bsuid_only = FIXTURES[17]
            .1
            .replace("123456123", "106540352242922")
            .replace("\"from\": \"16315551181\",", "")
            .replace("\"wa_id\": \"16315551181\",", "")
            .replace("this is a text message", "What are your opening hours?");
        assert_eq!(counts(&ingest(&bsuid_only))[0], 1);
        let (key, recipient) = Spi::get_two::<String, String>(
            "SELECT (SELECT customer_key FROM alphadome.conversations), (SELECT payload ->> 'recipient' FROM alphadome.outbox)",
        )
        .unwrap();
        assert_eq!(key.as_deref(), Some("US.13491208655302741918"));
        assert_eq!(recipient.as_deref(), Some("US.13491208655302741918"));
    }

    /// The message path's tables name their tenant without a foreign key (schema.sql): a
    /// tenant's id cannot change, and a tenant that is or was just made inactive in this
    /// transaction cannot be deleted (webhooks in flight may still write for it).
    #[pg_test]
    fn a_tenant_keeps_its_id_and_an_active_one_is_not_deleted() {
        let t = shop();
        let delete = "DELETE FROM alphadome.bot_tenants WHERE id = $1[1]::uuid";
        assert_eq!(outcome(delete, &[&t]), "55000", "active");
        run(
            "UPDATE alphadome.bot_tenants SET is_active = false WHERE id = $1::uuid",
            &[t.as_str().into()],
        );
        assert_eq!(
            outcome(delete, &[&t]),
            "55000",
            "deactivated, not committed"
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET id = gen_random_uuid() WHERE id = $1[1]::uuid",
                &[&t]
            ),
            "23001"
        );
    }

    #[pg_test]
    fn truncating_tenants_takes_the_message_path_rows_with_them() {
        shop();
        assert_eq!(
            counts(&ingest(&text("What are your opening hours?", "w.t"))),
            [1, 0, 0, 0, 0, 1]
        );
        run("TRUNCATE alphadome.bot_tenants CASCADE", &[]);
        let left = one::<i64>(
            "SELECT (SELECT count(*) FROM alphadome.conversations) + (SELECT count(*) FROM alphadome.messages)
                  + (SELECT count(*) FROM alphadome.outbox) + (SELECT count(*) FROM alphadome.reply_counters)",
            &[],
        );
        assert_eq!(left, Some(0));
    }

    /// Ingest's copy of the tenants (tenant_cache.rs) follows each change at once in the
    /// session that makes it: switches, deactivation, a tenant made for a number seen before.
    #[pg_test]
    fn changes_to_tenants_reach_the_next_webhook() {
        let t = shop();
        let question = "What are your opening hours?";
        ingest(&text(question, "c.1"));
        assert_eq!(decision("c.1").as_deref(), Some("faq"));
        let settings = "UPDATE alphadome.bot_control_settings SET is_bot_enabled = $2 WHERE bot_tenant_id = $1::uuid";
        run(settings, &[t.as_str().into(), false.into()]);
        ingest(&text(question, "c.2"));
        assert_eq!(decision("c.2").as_deref(), Some("bot_disabled"));
        run(settings, &[t.as_str().into(), true.into()]);
        let active = "UPDATE alphadome.bot_tenants SET is_active = $2 WHERE id = $1::uuid";
        run(active, &[t.as_str().into(), false.into()]);
        assert_eq!(counts(&ingest(&text(question, "c.3"))), [0, 0, 0, 1, 0, 0]);
        run(active, &[t.as_str().into(), true.into()]);
        ingest(&text(question, "c.4"));
        assert_eq!(decision("c.4").as_deref(), Some("faq"));

        let elsewhere = text(question, "c.5").replace("106540352242922", "100000000000099");
        assert_eq!(
            counts(&ingest(&elsewhere)),
            [0, 0, 0, 1, 0, 0],
            "unknown number"
        );
        tenant("late", "0711000099", "100000000000099", TOKEN_B, None);
        assert_eq!(counts(&ingest(&elsewhere))[0], 1, "its new tenant");
    }
}

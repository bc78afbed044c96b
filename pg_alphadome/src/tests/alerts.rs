//! Alerts that reach a person (channels by Meta's 24-hour rule, the template, email and the
//! operator, each recorded truthfully) and business hours at their edges.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const KASSANGAS_HOURS: &str = r#"{"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]],
        "wed": [["09:00", "18:00"]], "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]],
        "sat": [["09:00", "18:00"]], "sun": []}"#;

    /// _next_opening for these hours in Nairobi (UTC+3) at a local time; as local text.
    fn opening(hours: &str, holidays: &str, local: &str) -> Option<String> {
        one::<String>(
            "SELECT to_char(alphadome._next_opening($1::jsonb, $2::date[], 'Africa/Nairobi',
                                                    ($3::timestamp AT TIME ZONE 'Africa/Nairobi'))
                            AT TIME ZONE 'Africa/Nairobi', 'Dy YYYY-MM-DD HH24:MI')",
            &[hours.into(), holidays.into(), local.into()],
        )
    }

    #[pg_test]
    fn business_hours_at_their_edges() {
        let h = KASSANGAS_HOURS;
        // 2026-11-30 is a Monday.
        assert_eq!(
            opening(h, "{}", "2026-11-30 09:00").as_deref(),
            Some("Mon 2026-11-30 09:00"),
            "the opening minute is open"
        );
        assert_eq!(
            opening(h, "{}", "2026-11-30 08:59").as_deref(),
            Some("Mon 2026-11-30 09:00")
        );
        assert_eq!(
            opening(h, "{}", "2026-11-30 17:59").as_deref(),
            Some("Mon 2026-11-30 17:59"),
            "open until closing"
        );
        assert_eq!(
            opening(h, "{}", "2026-11-30 18:00").as_deref(),
            Some("Tue 2026-12-01 09:00"),
            "the closing minute is closed"
        );
        assert_eq!(
            opening(h, "{}", "2026-12-05 23:59").as_deref(),
            Some("Mon 2026-12-07 09:00"),
            "Saturday night: Sunday is closed"
        );
        assert_eq!(
            opening(h, "{}", "2026-12-06 00:00").as_deref(),
            Some("Mon 2026-12-07 09:00"),
            "midnight"
        );
        // Jamhuri Day, Saturday 2026-12-12, is a holiday.
        assert_eq!(
            opening(h, "{2026-12-12}", "2026-12-11 19:00").as_deref(),
            Some("Mon 2026-12-14 09:00")
        );
        // Two ranges a day, and a range to midnight.
        let split = r#"{"mon": [["09:00", "12:00"], ["14:00", "24:00"]]}"#;
        assert_eq!(
            opening(split, "{}", "2026-11-30 12:30").as_deref(),
            Some("Mon 2026-11-30 14:00")
        );
        assert_eq!(
            opening(split, "{}", "2026-11-30 23:59").as_deref(),
            Some("Mon 2026-11-30 23:59"),
            "open to midnight"
        );
        assert_eq!(
            opening(split, "{}", "2026-12-01 00:00").as_deref(),
            Some("Mon 2026-12-07 09:00")
        );
        assert_eq!(opening("{}", "{}", "2026-11-30 12:00"), None, "never open");
        // In words, for the customer.
        let words = |at: &str| {
            one::<String>(
                "SELECT alphadome._opening_words(alphadome._next_opening($1::jsonb, '{}', 'Africa/Nairobi', t), 'Africa/Nairobi', t)
                   FROM (SELECT $2::timestamp AT TIME ZONE 'Africa/Nairobi' AS t) x",
                &[split.into(), at.into()],
            )
            .unwrap()
        };
        assert_eq!(words("2026-11-30 12:30"), "today at 2 PM");
        assert_eq!(words("2026-11-29 20:00"), "tomorrow at 9 AM");
        assert_eq!(words("2026-12-01 10:00"), "Monday at 9 AM");
        // In Swahili, by the Swahili clock (its hour 1 is 7 AM).
        let sw = |at: &str| {
            one::<String>(
                "SELECT alphadome._opening_words(alphadome._next_opening($1::jsonb, '{}', 'Africa/Nairobi', t), 'Africa/Nairobi', t, 'sw')
                   FROM (SELECT $2::timestamp AT TIME ZONE 'Africa/Nairobi' AS t) x",
                &[split.into(), at.into()],
            )
            .unwrap()
        };
        assert_eq!(sw("2026-11-30 12:30"), "leo saa 8 mchana");
        assert_eq!(sw("2026-11-29 20:00"), "kesho saa 3 asubuhi");
        assert_eq!(sw("2026-12-01 10:00"), "Jumatatu saa 3 asubuhi");
    }

    /// _message_language is Rust since issue 27; it answers as the regular expression it
    /// replaced (written out here as the reference) on English, Swahili and Sheng messages and
    /// at the edges of a word.
    #[pg_test]
    fn the_language_is_read_as_the_regular_expression_read_it() {
        const REFERENCE: &str = r"SELECT CASE WHEN lower(coalesce($1, '')) ~ ('\m(saa|ngapi|gani|lini|wapi|nini|leo|kesho|jana|sasa|habari|jambo|sijambo|'
            'mambo|vipi|niaje|aje|hujambo|wazi|shukran|nashukuru|asante|tafadhali|naomba|nataka|sitaki|karibu|bei|duka|mko|uko|'
            'niko|tuko|kweli|ndiyo|ndio|hapana|sawa|sana|pia|mimi|wewe|sisi|mna[a-z]+|mme[a-z]+|hamjambo|wikendi|jumapili|'
            'jumamosi|jumatatu|siku|kufungua|mnafungua|mnafunga|funguliwa)\M') THEN 'sw' ELSE 'en' END";
        let mut swahili = 0;
        for message in [
            "What are your opening hours?",
            "Do you sell guitars",
            "Hi, how much is the Yamaha keyboard? I want to pay now",
            "saab salesman beige leopard ukulele mna mme mna1 mme_x",
            "Mnafungua saa ngapi?",
            "mko open leo",
            "Habari, bei ya gitaa ni ngapi?",
            "Asante sana!",
            "Niaje, mnauza keyboards?",
            "Mmefunga?",
            "NATAKA KUNUNUA",
            "poa, uko wapi",
            "jumamosi mko wazi?",
            "(saa) 2 leo «kesho»",
            "leo2 saa_ _sasa",
            "open_leo saa",
            "",
            "🎸 sawa 🎸",
        ] {
            let expected = one::<String>(REFERENCE, &[message.into()]);
            swahili += usize::from(expected.as_deref() == Some("sw"));
            assert_eq!(
                one::<String>("SELECT alphadome._message_language($1)", &[message.into()]),
                expected,
                "{message}"
            );
        }
        assert_eq!(swahili, 12, "the samples hold both languages");
        assert_eq!(
            one::<String>("SELECT alphadome._message_language(NULL)", &[]).as_deref(),
            Some("en")
        );
    }

    /// The week's hours and the next opening in words, in English and Swahili, from the
    /// settings: the one place answers take them from (issue 22).
    #[pg_test]
    fn placeholders_say_the_hours_in_the_customers_language() {
        let hours_words = |hours: Option<&str>, holidays: &str, language: &str| {
            one::<String>(
                "SELECT alphadome._hours_words($1::jsonb, $2::date[], $3)",
                &[hours.into(), holidays.into(), language.into()],
            )
            .unwrap()
        };
        let week = r#"{"mon": [["08:30", "13:00"], ["14:00", "19:00"]], "tue": [["08:30", "13:00"], ["14:00", "19:00"]],
                       "wed": [["08:30", "13:00"], ["14:00", "19:00"]], "thu": [["08:30", "13:00"], ["14:00", "19:00"]],
                       "fri": [["08:30", "13:00"], ["14:00", "19:00"]], "sat": [["09:00", "24:00"]]}"#;
        assert_eq!(
            hours_words(Some(week), "{2026-12-25}", "en"),
            "Monday to Friday 8:30 AM - 1 PM and 2 PM - 7 PM, Saturday 9 AM - midnight; closed on Sunday and on holidays"
        );
        assert_eq!(
            hours_words(Some(week), "{}", "sw"),
            "Jumatatu hadi Ijumaa, saa 2:30 asubuhi hadi saa 7 mchana na saa 8 mchana hadi saa 1 usiku; Jumamosi, saa 3 asubuhi hadi saa 6 usiku; tumefungwa Jumapili"
        );
        assert_eq!(
            hours_words(Some(KASSANGAS_HOURS), "{}", "en"),
            "Monday to Saturday 9 AM - 6 PM; closed on Sunday"
        );
        assert_eq!(
            hours_words(
                Some(r#"{"sat": [["10:00", "12:00"]], "sun": [["10:00", "12:00"]]}"#),
                "{}",
                "en"
            ),
            "Saturday and Sunday 10 AM - 12 PM; closed on Monday to Friday"
        );
        assert_eq!(hours_words(None, "{}", "en"), "every day, at any hour");
        for (message, language) in [
            ("Mnafungua saa ngapi?", "sw"),
            ("mko open leo", "sw"),
            ("What time do you open?", "en"),
            ("Do you sell guitars", "en"),
        ] {
            assert_eq!(
                one::<String>("SELECT alphadome._message_language($1)", &[message.into()])
                    .as_deref(),
                Some(language),
                "{message}"
            );
        }
        // Rendered from a tenant's settings, so a change of hours changes the answer.
        let t = tenant(
            "hours-words",
            "0711000058",
            "100000000000058",
            TOKEN_A,
            None,
        );
        let render = |answer: &str, language: &str| {
            one::<String>(
                "SELECT alphadome.render_placeholders($1::uuid, $2, $3, '2026-11-30 12:30+03')",
                &[t.as_str().into(), answer.into(), language.into()],
            )
            .unwrap()
        };
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = $2::jsonb WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into(), KASSANGAS_HOURS.into()],
        );
        assert_eq!(
            render("Open {hours}.", "en"),
            "Open Monday to Saturday 9 AM - 6 PM; closed on Sunday."
        );
        assert_eq!(render("Open {opening}.", "en"), "Open now.");
        assert_eq!(
            render("No placeholder {here}.", "en"),
            "No placeholder {here}."
        );
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = '{\"tue\": [[\"07:30\", \"12:00\"]]}' WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        assert_eq!(
            render("Open {hours}.", "en"),
            "Open Tuesday 7:30 AM - 12 PM; closed on Monday and Wednesday to Sunday."
        );
        assert_eq!(
            render("Tunafungua {opening}.", "sw"),
            "Tunafungua kesho saa 1:30 asubuhi."
        );
    }

    #[pg_test]
    fn hours_and_time_zones_are_checked_by_name() {
        let (a, _) = two_tenants();
        let set = |column: &str, value: &str| {
            Spi::get_one_with_args::<String>(
                &format!(
                    "SELECT alphadome_test.error_message(format('UPDATE alphadome.bot_control_settings SET {column} = %L WHERE bot_tenant_id = %L', $1::text, $2::text))"
                ),
                &[value.into(), a.as_str().into()],
            )
            .unwrap()
            .unwrap()
        };
        assert_eq!(set("business_hours", KASSANGAS_HOURS), "ok");
        assert_eq!(set("timezone", "America/New_York"), "ok");
        for (column, bad, says) in [
            ("business_hours", r#"{"monday": []}"#, "monday is not a day"),
            (
                "business_hours",
                r#"{"mon": [["18:00", "09:00"]]}"#,
                "must each end after they start",
            ),
            (
                "business_hours",
                r#"{"mon": [["9", "18"]]}"#,
                "not a [\"HH:MM\", \"HH:MM\"] range",
            ),
            (
                "business_hours",
                r#"{"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}"#,
                "without overlapping",
            ),
            (
                "timezone",
                "Nairobi",
                "timezone: 'Nairobi' is not a time zone",
            ),
        ] {
            let error = set(column, bad);
            assert!(
                error.starts_with("22023") && error.contains(says),
                "{column} {bad}: {error}"
            );
        }
    }

    /// An escalation outside business hours: the after-hours reply names the opening, the
    /// decision says after_hours, the alert waits for the opening. FAQ answers go on.
    #[pg_test]
    fn outside_hours_a_request_for_a_person_gets_the_after_hours_reply_and_a_waiting_alert() {
        let t = tenant("hours-shop", "0711000055", "100000000000055", TOKEN_A, None);
        // Open only one hour, three days from now: closed now, whatever the clock says.
        run(
            "UPDATE alphadome.bot_control_settings
                SET business_hours = jsonb_build_object(
                        (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[extract(dow FROM (now() AT TIME ZONE 'Africa/Nairobi') + interval '3 days')::int + 1],
                        '[[\"10:00\", \"11:00\"]]'::jsonb),
                    after_hours_message = 'Closed. Back {opening}.'
              WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        let webhook = |wamid: &str, text: &str| {
            serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "100000000000055"},
                "messages": [{"from": "254711000555", "id": wamid, "timestamp": "1760000000", "type": "text", "text": {"body": text}}]}}]}]})
            .to_string()
        };
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook("w.night", "I want a human").as_str().into()],
        );
        let row = Spi::get_three::<String, String, bool>(
            "SELECT m.decision, o.payload ->> 'text',
                    (SELECT a.due_at > now() + interval '2 days' AND a.kind = 'handoff' FROM alphadome.alerts a)
               FROM alphadome.messages m, alphadome.outbox o
              WHERE m.wamid = 'w.night' AND o.kind = 'reply.send'",
        )
        .unwrap();
        assert_eq!(row.0.as_deref(), Some("after_hours"));
        let reply = row.1.unwrap();
        assert!(
            reply.starts_with("Closed. Back ") && reply.ends_with(" at 10 AM."),
            "{reply}"
        );
        assert_eq!(row.2, Some(true), "the alert waits for the opening");
        let due = one::<bool>(
            "SELECT o.run_at = a.due_at FROM alphadome.alerts a JOIN alphadome.outbox o ON o.id = a.job_id",
            &[],
        );
        assert_eq!(due, Some(true), "its job runs then too");
        assert_eq!(
            one::<String>("SELECT state FROM alphadome.conversations", &[]).as_deref(),
            Some("waiting"),
            "the customer waits for the person, and the bot is silent for him"
        );
        // A person answered in the morning and gave the conversation back.
        run(
            "UPDATE alphadome.conversations SET waiting_since = NULL",
            &[],
        );
        // Open all day every day: the usual escalation.
        run(
            "UPDATE alphadome.bot_control_settings SET business_hours = (SELECT jsonb_object_agg(d, '[[\"00:00\", \"24:00\"]]'::jsonb)
               FROM unnest(ARRAY['sun','mon','tue','wed','thu','fri','sat']) d) WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook("w.day", "I want a human").as_str().into()],
        );
        let decision = one::<String>(
            "SELECT decision FROM alphadome.messages WHERE wamid = 'w.day'",
            &[],
        );
        assert_eq!(decision.as_deref(), Some("escalated"));
    }

    /// Alerts waiting for the opening hour, and what stops them: the owner's "Done", and a
    /// person answering the customer (issue 22: a done alert still went to the phone later).
    #[pg_test]
    fn done_or_a_persons_reply_cancels_an_alert_that_has_not_gone() {
        let t = tenant("hours-done", "0711000056", "100000000000056", TOKEN_A, None);
        // Open only one hour, three days from now: closed now, whatever the clock says.
        run(
            "UPDATE alphadome.bot_control_settings
                SET business_hours = jsonb_build_object(
                        (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[extract(dow FROM (now() AT TIME ZONE 'Africa/Nairobi') + interval '3 days')::int + 1],
                        '[[\"10:00\", \"11:00\"]]'::jsonb)
              WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ask = |wamid: &str, from: &str| {
            let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "100000000000056"},
                "messages": [{"from": from, "id": wamid, "timestamp": now.to_string(), "type": "text", "text": {"body": "I want a human"}}]}}]}]})
            .to_string();
            run(
                "SELECT alphadome.ingest_webhook($1::jsonb)",
                &[body.as_str().into()],
            );
        };
        ask("w.done.1", "254711000561");
        ask("w.done.2", "254711000562");
        let waiting = |customer: &str| {
            one::<String>(
                "SELECT a.status || '/' || coalesce((SELECT o.status::text FROM alphadome.outbox o
                                                       WHERE o.id = a.job_id AND o.bot_tenant_id = a.bot_tenant_id), 'no job')
                   FROM alphadome.alerts a JOIN alphadome.conversations c
                     ON c.bot_tenant_id = a.bot_tenant_id AND c.id = a.conversation_id
                  WHERE c.customer_key = $1",
                &[customer.into()],
            )
        };
        assert_eq!(waiting("254711000561").as_deref(), Some("queued/queued"));
        assert_eq!(waiting("254711000562").as_deref(), Some("queued/queued"));
        let ids = one::<Vec<i64>>(
            "SELECT array_agg(a.id ORDER BY c.customer_key) FROM alphadome.alerts a
               JOIN alphadome.conversations c ON c.bot_tenant_id = a.bot_tenant_id AND c.id = a.conversation_id",
            &[],
        )
        .unwrap();
        let conversation = one::<i64>(
            "SELECT id FROM alphadome.conversations WHERE customer_key = '254711000562'",
            &[],
        )
        .unwrap();
        act_as("alphadome_tenant", Context::Setting(&t));
        // An owner may not set done_at by hand (that would leave the job queued).
        assert_eq!(
            outcome(
                "UPDATE alphadome.alerts SET done_at = now() WHERE id = ($1[1])::bigint",
                &[&ids[0].to_string()]
            ),
            "42501"
        );
        // Done: marked done, and cancelled with its job.
        assert_eq!(
            one::<bool>("SELECT alphadome.alert_done($1)", &[ids[0].into()]),
            Some(true)
        );
        // Done again: still done, nothing more to cancel.
        assert_eq!(
            one::<bool>("SELECT alphadome.alert_done($1)", &[ids[0].into()]),
            Some(false)
        );
        // A person answers the other customer from the inbox: his alert is cancelled too.
        run(
            "SELECT alphadome.send_human_reply($1, 'Hello, Gideon here.')",
            &[conversation.into()],
        );
        act_as_superuser();
        assert_eq!(waiting("254711000561").as_deref(), Some("cancelled/no job"));
        assert_eq!(waiting("254711000562").as_deref(), Some("cancelled/no job"));
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.outbox WHERE bot_tenant_id = $1::uuid AND kind = 'alert.send'",
                &[t.as_str().into()]
            ),
            Some(0),
            "no alert job is left to run"
        );
        assert_eq!(
            one::<bool>(
                "SELECT done_at IS NOT NULL FROM alphadome.alerts WHERE id = $1",
                &[ids[0].into()]
            ),
            Some(true)
        );
        // Another tenant's alert is not found.
        let other = tenant(
            "hours-other",
            "0711000057",
            "100000000000057",
            TOKEN_B,
            None,
        );
        act_as("alphadome_tenant", Context::Setting(&other));
        assert_eq!(
            outcome(
                "SELECT alphadome.alert_done(($1[1])::bigint)",
                &[&ids[1].to_string()]
            ),
            "P0002"
        );
    }

    /// A new alert of `tenant`, claimed alone (the fixtures' jobs and earlier alerts removed).
    fn alert_context(tenant: &str) -> serde_json::Value {
        run(
            "DELETE FROM alphadome.outbox; DELETE FROM alphadome.alerts",
            &[],
        );
        run("SELECT alphadome._alert($1::uuid, 'handoff', 'Customer +254711000001 asked for a person')", &[tenant.into()]);
        let job = one::<pgrx::JsonB>("SELECT alphadome.claim_jobs('test-worker', 1, 60)", &[])
            .unwrap()
            .0;
        assert_eq!(job["kind"], "alert.send");
        job
    }

    #[pg_test]
    fn alert_channels_follow_the_24_hour_rule_the_template_and_the_token() {
        let (a, _) = two_tenants();
        // No window, no template: email and the operator.
        let job = alert_context(&a);
        assert_eq!(
            job["alert"]["channels"],
            serde_json::json!(["email", "operator"])
        );
        assert!(
            job.get("whatsapp").is_none(),
            "no token decrypted when WhatsApp is not used"
        );
        // With a template: the template first.
        run(
            "UPDATE alphadome.bot_control_settings SET alert_template_name = 'owner_alert', alert_template_language = 'en_US'
              WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        let job = alert_context(&a);
        assert_eq!(
            job["alert"]["channels"],
            serde_json::json!(["whatsapp_template", "email", "operator"])
        );
        assert_eq!(
            job["alert"]["template"],
            serde_json::json!({"name": "owner_alert", "language": "en_US"})
        );
        assert_eq!(job["whatsapp"]["access_token"], TOKEN_A);
        // The escalation phone wrote within 24 hours: free-form text first.
        run(
            "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, last_inbound_at)
             SELECT $1::uuid, escalation_phone, now() - interval '23 hours' FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        let job = alert_context(&a);
        assert_eq!(
            job["alert"]["channels"],
            serde_json::json!(["whatsapp_text", "whatsapp_template", "email", "operator"])
        );
        // A token Meta refused (or expired): never WhatsApp, and the alert is not paused.
        run("UPDATE alphadome.bot_tenants SET credential_status = 'needs_reauth' WHERE id = $1::uuid", &[a.as_str().into()]);
        let job = alert_context(&a);
        assert_eq!(
            job["alert"]["channels"],
            serde_json::json!(["email", "operator"])
        );
        assert!(job.get("whatsapp").is_none());
        // An alert.send queued by 0.1.0 (no alert row): the same channels, its text from the job.
        run("DELETE FROM alphadome.outbox", &[]);
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload) VALUES ($1::uuid, 'alert.send', '{\"to\": \"254711000001\", \"text\": \"old alert\"}')",
            &[a.as_str().into()],
        );
        let job = one::<pgrx::JsonB>("SELECT alphadome.claim_jobs('test-worker', 1, 60)", &[])
            .unwrap()
            .0;
        assert_eq!(
            (job["alert"]["text"].as_str(), job["alert"].get("id")),
            (Some("old alert"), None)
        );
    }

    #[pg_test]
    fn an_alert_is_marked_sent_only_by_the_channel_that_took_it_and_failed_when_none_did() {
        let (a, _) = two_tenants();
        run(
            "UPDATE alphadome.bot_tenants SET client_email = 'owner@shop-a.test' WHERE id = $1::uuid",
            &[a.as_str().into()],
        );
        let job = alert_context(&a);
        run(
            "SELECT alphadome.complete_job($1, '{\"channel\": \"email+operator\"}')",
            &[job["id"].as_i64().unwrap().into()],
        );
        let sent = Spi::get_three::<String, String, bool>(
            "SELECT status, channel, sent_at IS NOT NULL FROM alphadome.alerts",
        )
        .unwrap();
        assert_eq!(
            sent,
            (
                Some("sent".into()),
                Some("email+operator".into()),
                Some(true)
            )
        );
        assert_eq!(
            one::<String>(
                "SELECT array_to_string(sent_to, ', ') FROM alphadome.alerts",
                &[]
            ),
            Some("owner@shop-a.test".into()),
            "where it went, for the owner to read"
        );
        let logged = one::<i64>(
            "SELECT count(*) FROM alphadome.messages WHERE direction = 'outbound'",
            &[],
        );
        assert_eq!(logged, Some(0), "an email is no WhatsApp message");
        let job = alert_context(&a);
        let id = job["id"].as_i64().unwrap();
        run("SELECT alphadome.fail_job($1, '{\"class\": \"transient\", \"message\": \"smtp down\"}', 0)", &[id.into()]);
        let retried =
            Spi::get_two::<String, i32>("SELECT status, attempts FROM alphadome.alerts").unwrap();
        assert_eq!(retried, (Some("queued".into()), Some(1)));
        claim_again();
        run("SELECT alphadome.fail_job($1, '{\"class\": \"permanent\", \"message\": \"every channel failed\"}')", &[id.into()]);
        let failed = Spi::get_two::<String, String>(
            "SELECT status, last_error ->> 'message' FROM alphadome.alerts",
        )
        .unwrap();
        assert_eq!(
            failed,
            (Some("failed".into()), Some("every channel failed".into()))
        );
    }

    fn claim_again() {
        run("SELECT alphadome.claim_jobs('test-worker', 1, 60)", &[]);
    }

    /// An unknown tenant is an error, not NULL (NULL says "closed for the next two weeks").
    #[pg_test]
    fn next_opening_of_an_unknown_tenant_is_p0002() {
        assert_eq!(
            outcome(
                "SELECT alphadome.next_opening('00000000-0000-0000-0000-000000000001')",
                &[]
            ),
            "P0002"
        );
    }
}

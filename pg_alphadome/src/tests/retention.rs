//! Data kept on purpose (issue 23, second part): usage that outlives pruning, a tenant's
//! retention of its messages, and the erasure of one customer.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const NUMBER: &str = "106540352242977";
    const CUSTOMER: &str = "254711000077";
    const OTHER: &str = "254722000088";

    fn shop() -> String {
        let t = tenant("keep-shop", "0702245577", NUMBER, TOKEN_A, Some(AI_KEY_A));
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM')",
            &[t.as_str().into()],
        );
        t
    }

    fn say(from: &str, wamid: &str, text: &str) {
        let body = webhook_with(
            NUMBER,
            from,
            wamid,
            serde_json::json!({"type": "text", "text": {"body": text}}),
        );
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[body.as_str().into()],
        );
    }

    /// A day's usage as text, every column but the tenant.
    fn usage_of(tenant: &str, day: &str) -> Option<String> {
        one::<String>(
            "SELECT (to_jsonb(u) - 'bot_tenant_id')::text FROM alphadome.usage_daily u
              WHERE u.bot_tenant_id = $1::uuid AND u.day = $2::date",
            &[tenant.into(), day.into()],
        )
    }

    /// Rows of `days_ago` for the tenant: a conversation with an inbound FAQ question and its
    /// answer, a finished LLM call with its token counts, and a raw webhook.
    fn history(tenant: &str, customer: &str, days_ago: i32) {
        run(
            "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, created_at, updated_at, last_inbound_at)
                        VALUES ($1::uuid, $2, $2, now() - make_interval(days => $3), now() - make_interval(days => $3),
                                now() - make_interval(days => $3))
                        ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE SET wa_id = excluded.wa_id
                        RETURNING bot_tenant_id, id)
             INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body, decision, status, created_at)
             SELECT bot_tenant_id, id, d, 'wamid.old-' || d || $2 || $3, 'from ' || $2, CASE d WHEN 'inbound' THEN 'llm' END,
                    CASE d WHEN 'inbound' THEN 'received' ELSE 'sent' END, now() - make_interval(days => $3)
               FROM c, unnest(ARRAY['inbound', 'outbound']) d;
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, result, created_at, updated_at)
             VALUES ($1::uuid, 'reply.generate', jsonb_build_object('to', $2, 'customer', $2), 'done',
                     '{\"usage\": {\"prompt_tokens\": 5000, \"completion_tokens\": 120}, \"text\": \"Hello\"}',
                     now() - make_interval(days => $3), now() - make_interval(days => $3));
             INSERT INTO alphadome.webhook_events (route_tenant_id, payload, received_at)
             VALUES ($1::uuid, jsonb_build_object('from', $2), now() - make_interval(days => $3))",
            &[tenant.into(), customer.into(), days_ago.into()],
        );
    }

    fn day_ago(days: i32) -> String {
        one::<String>(
            "SELECT ((now() - make_interval(days => $1)) AT TIME ZONE 'Africa/Nairobi')::date::text",
            &[days.into()],
        )
        .unwrap()
    }

    fn prune(batch: i32) -> Vec<serde_json::Value> {
        let mut calls = Vec::new();
        loop {
            let counts = one::<pgrx::JsonB>(
                "SELECT alphadome.prune_history('30 days', $1)",
                &[batch.into()],
            )
            .unwrap()
            .0;
            let done = counts
                .as_object()
                .unwrap()
                .values()
                .all(|n| n.as_i64() == Some(0));
            calls.push(counts);
            if done {
                return calls;
            }
        }
    }

    #[pg_test]
    fn a_days_usage_survives_prune_history() {
        let t = shop();
        history(&t, CUSTOMER, 40);
        let day = day_ago(40);
        let before = usage_of(&t, &day).expect("the day is counted");
        assert!(before.contains(r#""llm_calls": 1"#), "{before}");
        assert!(before.contains(r#""prompt_tokens": 5000"#), "{before}");
        prune(10_000);
        let gone = one::<i64>(
            "SELECT (SELECT count(*) FROM alphadome.outbox WHERE bot_tenant_id = $1::uuid)
                  + (SELECT count(*) FROM alphadome.webhook_events WHERE route_tenant_id = $1::uuid)",
            &[t.as_str().into()],
        );
        assert_eq!(gone, Some(0), "the job and the raw webhook were pruned");
        assert_eq!(usage_of(&t, &day).as_deref(), Some(before.as_str()));
        // Counted once: a second prune (and rollup) adds nothing.
        prune(10_000);
        run("SELECT alphadome.rollup_usage()", &[]);
        assert_eq!(usage_of(&t, &day).as_deref(), Some(before.as_str()));
    }

    #[pg_test]
    fn a_tenants_retention_removes_old_messages_in_batches_and_keeps_their_counts() {
        let t = shop();
        history(&t, CUSTOMER, 40);
        history(&t, OTHER, 3);
        let (old_day, recent_day) = (day_ago(40), day_ago(3));
        let old_usage = usage_of(&t, &old_day).unwrap();
        prune(1);
        let messages = || {
            one::<i64>(
                "SELECT count(*) FROM alphadome.messages WHERE bot_tenant_id = $1::uuid",
                &[t.as_str().into()],
            )
            .unwrap()
        };
        assert_eq!(messages(), 4, "kept for ever by default");
        run(
            "UPDATE alphadome.bot_control_settings SET keep_messages_days = 10 WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        let calls = prune(1);
        let removed: i64 = calls.iter().map(|c| c["messages"].as_i64().unwrap()).sum();
        assert_eq!(removed, 2);
        assert!(
            calls.iter().all(|c| c["messages"].as_i64().unwrap() <= 1),
            "a batch of 1 at a time: {calls:?}"
        );
        assert_eq!(messages(), 2, "the recent ones stay");
        let customers = one::<String>(
            "SELECT string_agg(customer_key, ',') FROM alphadome.conversations WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        assert_eq!(
            customers.as_deref(),
            Some(OTHER),
            "the old conversation went"
        );
        assert_eq!(usage_of(&t, &old_day).as_deref(), Some(old_usage.as_str()));
        assert!(usage_of(&t, &recent_day)
            .unwrap()
            .contains(r#""inbound_messages": 1"#));
    }

    #[pg_test]
    fn forget_customer_leaves_no_row_naming_the_number_and_keeps_the_counts() {
        let t = shop();
        history(&t, CUSTOMER, 40);
        history(&t, CUSTOMER, 2);
        let (old_day, recent_day) = (day_ago(40), day_ago(2));
        for (i, from) in [CUSTOMER, OTHER].iter().enumerate() {
            say(
                from,
                &format!("wamid.keep.{i}.1"),
                "What are your opening hours?",
            );
            say(from, &format!("wamid.keep.{i}.2"), "I want a human");
        }
        // Meta's redelivery of a message: kept as a raw webhook (the first POST is kept as its
        // message row only).
        say(CUSTOMER, "wamid.keep.0.1", "What are your opening hours?");
        run(
            "SELECT alphadome._alert($1::uuid, 'handoff', 'Customer +' || $2 || ' asked for a person')",
            &[t.as_str().into(), CUSTOMER.into()],
        );
        // A question the owner dismissed, whose words hold the number.
        run(
            "INSERT INTO alphadome.faq_unanswered_handled (bot_tenant_id, question_key, outcome)
             VALUES ($1::uuid, 'call me on ' || $2, 'dismissed')",
            &[t.as_str().into(), CUSTOMER.into()],
        );
        prune(10_000);
        let today = one::<String>(
            "SELECT (now() AT TIME ZONE 'Africa/Nairobi')::date::text",
            &[],
        )
        .unwrap();
        let usage: Vec<_> = [&old_day, &recent_day, &today]
            .iter()
            .map(|d| usage_of(&t, d).expect("counted"))
            .collect();
        assert!(
            !rows_naming(CUSTOMER).is_empty(),
            "the fixture names the customer"
        );

        act_as("alphadome_tenant", Context::Setting(&t));
        assert_eq!(
            outcome(
                "SELECT alphadome.forget_customer($1[1]::uuid, $1[2])",
                &[&t, CUSTOMER]
            ),
            "42501",
            "an owner may not"
        );
        act_as("alphadome_admin", Context::None);
        let removed = one::<pgrx::JsonB>(
            "SELECT alphadome.forget_customer($1::uuid, '+254 711 000 077')",
            &[t.as_str().into()],
        )
        .unwrap()
        .0;
        act_as_superuser();
        assert_eq!(removed["conversations"], 1, "{removed}");
        // The recent one of history() and the redelivery.
        assert_eq!(removed["webhook_events"], 2, "{removed}");

        assert_eq!(rows_naming(CUSTOMER), Vec::<String>::new());
        assert!(!rows_naming(OTHER).is_empty(), "the other customer is kept");
        let after: Vec<_> = [&old_day, &recent_day, &today]
            .iter()
            .map(|d| usage_of(&t, d).expect("still counted"))
            .collect();
        assert_eq!(after, usage, "the counts stand");
        let audited = one::<bool>(
            "SELECT number_sha256 = sha256(convert_to($1 || ':' || $2, 'UTF8')) AND erased_by = session_user
                    AND acting_role = 'alphadome_admin'
               FROM alphadome.customer_erasures WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into(), CUSTOMER.into()],
        );
        assert_eq!(audited, Some(true));
        assert_eq!(
            outcome(
                "SELECT alphadome.forget_customer($1[1]::uuid, 'not a number')",
                &[&t]
            ),
            "22023"
        );
    }

    /// Rows read from alphadome.messages in an EXPLAIN ANALYZE's JSON plan: returned, and
    /// removed by a filter or a recheck.
    fn message_rows_read(plan: &serde_json::Value) -> f64 {
        let here = if plan["Relation Name"] == "messages" {
            [
                "Actual Rows",
                "Rows Removed by Filter",
                "Rows Removed by Index Recheck",
            ]
            .iter()
            .map(|k| {
                plan[*k].as_f64().unwrap_or(0.0) * plan["Actual Loops"].as_f64().unwrap_or(1.0)
            })
            .sum()
        } else {
            0.0
        };
        here + plan["Plans"]
            .as_array()
            .map_or(0.0, |children| children.iter().map(message_rows_read).sum())
    }

    #[pg_test]
    fn usage_daily_reads_only_the_messages_after_the_rollup() {
        let t = shop();
        history(&t, CUSTOMER, 10);
        run(
            "INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body, decision, created_at)
             SELECT $1::uuid, c.id, 'inbound', 'wamid.bulk-' || i, 'hello', 'faq', now() - interval '10 days'
               FROM alphadome.conversations c, generate_series(1, 20000) i WHERE c.bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        say(OTHER, "wamid.today", "What are your opening hours?");
        run("SELECT alphadome.rollup_usage()", &[]);
        run("ANALYZE alphadome.messages", &[]);
        let plan = one::<pgrx::Json>(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM alphadome.usage_daily WHERE day > current_date - 2",
            &[],
        )
        .unwrap()
        .0;
        let read = message_rows_read(&plan[0]["Plan"]);
        assert!(read < 1000.0, "read {read} messages: {plan}");
        let old = usage_of(&t, &day_ago(10)).unwrap();
        assert!(old.contains(r#""faq_answers": 20000"#), "{old}");
    }

    /// Without pg_cron the relay keeps the chores: nothing says they are scheduled, and
    /// schedule_chores says what is missing.
    #[pg_test]
    fn without_pg_cron_the_chores_stay_with_the_relay() {
        assert_eq!(
            one::<bool>("SELECT alphadome.chores_scheduled()", &[]),
            Some(false)
        );
        assert_eq!(
            one::<i32>("SELECT alphadome.unschedule_chores()", &[]),
            Some(0)
        );
        let refused = one::<String>(
            "SELECT alphadome_test.error_message('SELECT alphadome.schedule_chores()')",
            &[],
        )
        .unwrap();
        assert!(
            refused.starts_with("55000 pg_cron is not installed"),
            "{refused}"
        );
    }
}

//! An FAQ that learns (issue 29): the questions it did not answer, the owner's one tap, the
//! weekly summary.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const A_NUMBER: &str = "100000000000011";
    const B_NUMBER: &str = "100000000000012";

    /// Two shops; A has an AI key and one FAQ entry (its id).
    fn shops() -> (String, String, i64) {
        let a = tenant("shop-a", "0711000001", A_NUMBER, TOKEN_A, Some(AI_KEY_A));
        let b = tenant("shop-b", "0711000002", B_NUMBER, TOKEN_B, None);
        let entry = one::<i64>(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             VALUES ($1::uuid, 'faq', 'Do you sell drums?', 'Yes: acoustic and electronic kits.') RETURNING id",
            &[a.as_str().into()],
        )
        .unwrap();
        (a, b, entry)
    }

    fn inbound(number: &str, from: &str, wamid: &str, text: &str) {
        let message = serde_json::json!({"type": "text", "text": {"body": text}});
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook_with(number, from, wamid, message).as_str().into()],
        );
    }

    /// The LLM's answer to the oldest reply.generate job of A still queued.
    fn ai_answers(text: &str) {
        let job = one::<i64>(
            "SELECT min(id) FROM alphadome.outbox WHERE kind = 'reply.generate' AND status = 'queued'",
            &[],
        )
        .unwrap();
        run(
            "UPDATE alphadome.outbox SET status = 'running', lease_until = now() + interval '1 minute' WHERE id = $1",
            &[job.into()],
        );
        run(
            "SELECT alphadome.complete_job($1, jsonb_build_object('content', $2::text))",
            &[job.into(), text.into()],
        );
    }

    /// faq_unanswered() as the caller: "message ×times → closest (score > 0) | AI's answer".
    fn unanswered() -> Vec<String> {
        Spi::connect(|c| {
            c.select(
                "SELECT format('%s x%s -> %s (%s) | %s', message, times, closest_question,
                               closest_score > 0, ai_answer)
                   FROM alphadome.faq_unanswered()",
                None,
                &[],
            )
            .unwrap()
            .map(|r| r.get::<String>(1).unwrap().unwrap())
            .collect()
        })
    }

    fn decision_now(message: &str) -> String {
        one::<String>(
            "SELECT decision FROM alphadome.try_message($1)",
            &[message.into()],
        )
        .unwrap()
    }

    #[pg_test]
    fn the_owner_sees_what_the_faq_missed_and_one_tap_makes_it_answer() {
        let (a, b, drums) = shops();
        inbound(
            A_NUMBER,
            "254711000001",
            "w.1",
            "Do you sell violin strings?",
        );
        ai_answers("Yes, for 4/4 violins.");
        inbound(
            A_NUMBER,
            "254711000002",
            "w.2",
            "do you sell VIOLIN strings",
        );
        ai_answers("We do.");
        inbound(A_NUMBER, "254711000003", "w.3", "Hi!");
        inbound(A_NUMBER, "254711000004", "w.4", "STOP");
        inbound(A_NUMBER, "254711000005", "w.5", "Do you sell drums?");
        inbound(B_NUMBER, "254711000006", "w.6", "Can I pay with M-Pesa?");
        act_as("alphadome_tenant", Context::Setting(&a));
        // One question asked twice (the words folded), the greeting, the opt-out and the
        // question the FAQ answered left out; its closest entry and the AI's latest answer.
        assert_eq!(
            unanswered(),
            ["do you sell VIOLIN strings x2 -> Do you sell drums? (t) | We do."]
        );
        assert_eq!(decision_now("Do you sell violin strings?"), "llm");
        // B sees only his own; A's, even named, is nothing of his.
        act_as("alphadome_tenant", Context::Setting(&b));
        let bs = unanswered();
        assert_eq!(bs.len(), 1, "{bs:?}");
        assert!(bs[0].starts_with("Can I pay with M-Pesa? x1"), "{bs:?}");
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.faq_unanswered(tenant_id => $1[1]::uuid)",
                &[&a]
            ),
            "ok 0"
        );
        assert_eq!(
            one::<bool>(
                "SELECT alphadome.add_faq_phrasing($1, 'Do you sell violin strings?')",
                &[drums.into()]
            ),
            Some(false),
            "not B's entry"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.faq_unanswered_done('x', 'dismissed', NULL, $1[1]::uuid)",
                &[&a]
            ),
            "42501",
            "B cannot dismiss A's"
        );
        // B dismisses his: gone from his list.
        assert_eq!(
            one::<bool>(
                "SELECT alphadome.faq_unanswered_done('Can I pay with M-Pesa?', 'dismissed')",
                &[]
            ),
            Some(true)
        );
        assert!(unanswered().is_empty());
        // A's one tap: the message becomes a way of asking the entry, once.
        act_as("alphadome_tenant", Context::Setting(&a));
        for _ in 0..2 {
            assert_eq!(
                one::<bool>(
                    "SELECT alphadome.add_faq_phrasing($1, '  Do you sell  violin strings? ')",
                    &[drums.into()]
                ),
                Some(true)
            );
        }
        assert_eq!(
            one::<Vec<String>>(
                "SELECT phrasings FROM alphadome.bot_training_data WHERE id = $1",
                &[drums.into()]
            ),
            Some(vec!["Do you sell violin strings?".to_string()])
        );
        assert_eq!(decision_now("do you sell violin strings"), "faq");
        assert!(unanswered().is_empty());
        assert_eq!(
            outcome(
                "SELECT alphadome.add_faq_phrasing($1[1]::bigint, '?!')",
                &[&drums.to_string()]
            ),
            "22023",
            "no words to add"
        );
        act_as_superuser();
        assert_eq!(
            one::<String>(
                "SELECT string_agg(outcome || ' ' || question_key, ', ' ORDER BY outcome)
                   FROM alphadome.faq_unanswered_handled WHERE bot_tenant_id IN ($1::uuid, $2::uuid)",
                &[a.as_str().into(), b.as_str().into()]
            )
            .as_deref(),
            Some("added do you sell violin strings, dismissed can i pay with m pesa")
        );
        run("SELECT set_config('alphadome.tenant_id', '', true)", &[]);
        assert_eq!(
            outcome("SELECT * FROM alphadome.faq_unanswered()", &[]),
            "22004",
            "no tenant in context"
        );
    }

    #[pg_test]
    fn the_weekly_summary_tells_the_owner_the_week_and_its_top_missed_questions_once() {
        let (a, b, _) = shops();
        for (n, text) in [
            "Do you sell violin strings?",
            "Do you sell violin strings",
            "Do you tune pianos?",
        ]
        .iter()
        .enumerate()
        {
            inbound(
                A_NUMBER,
                &format!("25471100000{n}"),
                &format!("w.{n}"),
                text,
            );
        }
        inbound(A_NUMBER, "254711000009", "w.9", "Do you sell drums?");
        // B had a customer too, but his time zone is one the server no longer knows (its zone
        // file gone since it was checked): his summary fails, A's still goes.
        inbound(
            B_NUMBER,
            "254711000010",
            "w.10",
            "Do you sell violin strings?",
        );
        run(
            "ALTER TABLE alphadome.bot_control_settings DISABLE TRIGGER settings_normalized",
            &[],
        );
        run(
            "UPDATE alphadome.bot_control_settings SET timezone = 'Mars/Olympus' WHERE bot_tenant_id = $1::uuid",
            &[b.as_str().into()],
        );
        run(
            "ALTER TABLE alphadome.bot_control_settings ENABLE TRIGGER settings_normalized",
            &[],
        );
        // Next Monday at 00:30 in the shop's time zone, this week is the one before.
        let queued = || {
            one::<i32>(
                "SELECT alphadome.enqueue_weekly_summaries(
                            (date_trunc('week', now() AT TIME ZONE s.timezone) + interval '7 days 30 minutes') AT TIME ZONE s.timezone)
                   FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = $1::uuid",
                &[a.as_str().into()],
            )
            .unwrap()
        };
        assert_eq!(queued(), 1, "A's; B's failed");
        assert_eq!(queued(), 0, "once a week");
        let text = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE bot_tenant_id = $1::uuid AND kind = 'weekly_summary'",
            &[a.as_str().into()],
        )
        .unwrap();
        assert!(
            text.contains(": 4 customer messages. The FAQ answered 1, the AI 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "1. \"Do you sell violin strings\" (2 times)\n2. \"Do you tune pianos?\" (once)"
            ),
            "{text}"
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.alerts WHERE bot_tenant_id = $1::uuid AND kind = 'weekly_summary'",
                &[b.as_str().into()]
            ),
            Some(0)
        );
        // It goes on that Monday at 08:00, the shop's time.
        assert_eq!(
            one::<String>(
                "SELECT to_char(a.due_at AT TIME ZONE s.timezone, 'ID HH24:MI') || ' '
                        || (a.due_at - now() BETWEEN interval '0' AND interval '7 days 8 hours')
                   FROM alphadome.alerts a JOIN alphadome.bot_control_settings s USING (bot_tenant_id)
                  WHERE a.kind = 'weekly_summary'",
                &[]
            )
            .as_deref(),
            Some("1 08:00 true")
        );
    }
}

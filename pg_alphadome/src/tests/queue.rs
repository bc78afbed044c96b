//! The job queue: claims with context, completion, retries, dead letters, pauses, fairness.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    fn shop(slug: &str, phone: &str, number: &str, token: &str) -> String {
        let t = tenant(slug, phone, number, token, Some(AI_KEY_A));
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM')",
            &[t.as_str().into()],
        );
        t
    }

    fn inbound(number: &str, from: &str, body: &str, wamid: &str) {
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": number, "phone_number_id": number},
                "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
                "messages": [{"from": from, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": body}}]
            }}]}]
        });
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[payload.to_string().as_str().into()],
        );
    }

    /// A customer of shop-a (number 1001) and one of shop-b (1002) ask the FAQ question.
    fn both_ask_opening_hours() {
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.a",
        );
        inbound(
            "1002",
            "254700000002",
            "What are your opening hours?",
            "w.b",
        );
    }

    fn claim(max: i32) -> Vec<serde_json::Value> {
        Spi::connect_mut(|c| {
            c.update(
                "SELECT alphadome.claim_jobs('test-worker', $1, 60)",
                None,
                &[max.into()],
            )
            .unwrap()
            .map(|r| r.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
            .collect()
        })
    }

    fn job_field(id: i64, field: &str) -> Option<String> {
        one::<String>(
            &format!("SELECT {field}::text FROM alphadome.outbox WHERE id = $1"),
            &[id.into()],
        )
    }

    #[pg_test]
    fn a_claimed_send_carries_the_tenants_own_number_and_token_and_is_audited() {
        let a = shop("shop-a", "0702245555", "1001", TOKEN_A);
        shop("shop-b", "0702245556", "1002", TOKEN_B);
        both_ask_opening_hours();
        let jobs = claim(10);
        assert_eq!(jobs.len(), 2);
        for job in &jobs {
            let (number, token) = if job["tenant_id"] == a.as_str() {
                ("1001", TOKEN_A)
            } else {
                ("1002", TOKEN_B)
            };
            assert_eq!(job["kind"], "reply.send");
            assert_eq!(job["whatsapp"]["phone_number_id"], number);
            assert_eq!(
                job["whatsapp"]["access_token"], token,
                "each tenant's own token"
            );
            assert_eq!(job["payload"]["text"], "Monday-Saturday 9 AM - 6 PM");
            assert_eq!(job["attempt"], 1);
            let audited = one::<i64>(
                "SELECT count(*) FROM alphadome.credential_audit
                  WHERE $1 = ANY (job_ids) AND job_id = $1 AND purpose = 'reply.send'",
                &[job["id"].as_i64().unwrap().into()],
            );
            assert_eq!(audited, Some(1));
        }
        assert!(claim(10).is_empty(), "claimed jobs are leased");
    }

    #[pg_test]
    fn a_claim_decrypts_a_tenants_token_once_and_its_audit_row_names_every_job_it_served() {
        let a = shop("shop-a", "0702245555", "1001", TOKEN_A);
        let b = shop("shop-b", "0702245556", "1002", TOKEN_B);
        for i in 0..3 {
            let (from, wamid) = (format!("25470000010{i}"), format!("w.once.{i}"));
            inbound("1001", &from, "What are your opening hours?", &wamid);
        }
        inbound(
            "1002",
            "254700000200",
            "What are your opening hours?",
            "w.once.b",
        );
        let jobs = claim(10);
        assert_eq!(jobs.len(), 4);
        let mut served_a: Vec<i64> = Vec::new();
        for job in &jobs {
            let token = if job["tenant_id"] == a.as_str() {
                served_a.push(job["id"].as_i64().unwrap());
                TOKEN_A
            } else {
                TOKEN_B
            };
            assert_eq!(
                job["whatsapp"]["access_token"], token,
                "each job its tenant's token"
            );
        }
        served_a.sort();
        let rows = |tenant: &str| {
            one::<String>(
                "SELECT string_agg(credential || ':' || purpose || ':' || job_id || ':' || array_to_string(job_ids, ','), ';')
                   FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid AND job_ids IS NOT NULL",
                &[tenant.into()],
            )
        };
        let ids: Vec<String> = served_a.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            rows(&a),
            Some(format!(
                "whatsapp_access_token:reply.send:{}:{}",
                served_a[0],
                ids.join(",")
            )),
            "one row for shop-a's three sends"
        );
        let only_b = jobs.iter().find(|j| j["tenant_id"] == b.as_str()).unwrap()["id"]
            .as_i64()
            .unwrap();
        assert_eq!(
            rows(&b),
            Some(format!(
                "whatsapp_access_token:reply.send:{only_b}:{only_b}"
            )),
            "shop-b's own row"
        );
    }

    #[pg_test]
    fn generate_then_send_then_status() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "Can you recommend a violin for my daughter?",
            "w.q",
        );
        let job = claim(1).remove(0);
        assert_eq!(job["kind"], "reply.generate");
        assert_eq!(job["llm"]["api_key"], AI_KEY_A);
        let messages = job["llm"]["request"]["messages"].as_array().unwrap();
        assert_eq!(
            messages.last().unwrap()["content"],
            "Can you recommend a violin for my daughter?"
        );
        assert!(
            job.get("whatsapp").is_none(),
            "an LLM job gets no WhatsApp token"
        );
        run("SELECT alphadome.complete_job($1, '{\"content\": \"Our 1/2 size violins fit ages 7-9.\"}')", &[job["id"].as_i64().unwrap().into()]);
        let send = claim(1).remove(0);
        assert_eq!(send["kind"], "reply.send");
        assert_eq!(
            send["payload"]["text"],
            "Our 1/2 size violins fit ages 7-9."
        );
        assert_eq!(send["payload"]["context_wamid"], "w.q");
        run(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.out-1\"}')",
            &[send["id"].as_i64().unwrap().into()],
        );
        let logged = Spi::get_two::<String, String>(
            "SELECT body, status FROM alphadome.messages WHERE wamid = 'wamid.out-1'",
        )
        .unwrap();
        assert_eq!(
            logged,
            (
                Some("Our 1/2 size violins fit ages 7-9.".into()),
                Some("sent".into())
            )
        );
        // The reply is now history for the next prompt.
        let prompt = one::<pgrx::JsonB>("SELECT alphadome.assemble_prompt(bot_tenant_id, '254700000001', 'and cellos?') FROM alphadome.outbox LIMIT 1", &[]).unwrap().0;
        let roles: Vec<&str> = prompt["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(
            outcome(
                "SELECT alphadome.complete_job($1[1]::bigint)",
                &[&send["id"].to_string()]
            ),
            "55000",
            "completing twice"
        );
        assert_eq!(
            outcome("SELECT alphadome.complete_job(999999)", &[]),
            "P0002"
        );
    }

    #[pg_test]
    fn a_retry_runs_when_the_caller_says_then_dead_letter() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.r",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run(
            "SELECT alphadome.fail_job($1, '{\"class\": \"throttle\", \"code\": 130429}', 100)",
            &[id.into()],
        );
        let delay = one::<f64>(
            "SELECT extract(epoch FROM run_at - now())::float8 FROM alphadome.outbox WHERE id = $1",
            &[id.into()],
        )
        .unwrap();
        assert!(
            (99.0..=100.0).contains(&delay),
            "the next attempt runs in the 100 s asked for (the relay adds the jitter): {delay}"
        );
        assert_eq!(job_field(id, "status").as_deref(), Some("queued"));
        assert!(claim(1).is_empty(), "not before its time");
        // Its time comes; the attempts run out.
        for attempt in 2..=5 {
            run(
                "UPDATE alphadome.outbox SET run_at = now() WHERE id = $1",
                &[id.into()],
            );
            let job = claim(1).remove(0);
            assert_eq!(job["attempt"], attempt);
            run(
                "SELECT alphadome.fail_job($1, '{\"class\": \"transient\", \"code\": 131000}', 1)",
                &[id.into()],
            );
        }
        assert_eq!(job_field(id, "status").as_deref(), Some("dead"));
        let failed = Spi::get_two::<String, String>(
            "SELECT status, error ->> 'code' FROM alphadome.messages WHERE direction = 'outbound'",
        )
        .unwrap();
        assert_eq!(
            failed,
            (Some("failed".into()), Some("131000".into())),
            "the dead send is in the message log"
        );
    }

    #[pg_test]
    fn a_closed_window_is_a_permanent_failure_with_its_reason() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.p",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run(
            "SELECT alphadome.fail_job($1, '{\"class\": \"permanent\", \"code\": 131047, \"message\": \"Re-engagement message: more than 24 hours since the customer last replied\"}')",
            &[id.into()],
        );
        assert_eq!(job_field(id, "status").as_deref(), Some("dead"));
        assert_eq!(
            job_field(id, "last_error ->> 'code'").as_deref(),
            Some("131047")
        );
    }

    #[pg_test]
    fn a_refused_token_pauses_that_tenants_sends_only() {
        let a = shop("shop-a", "0702245555", "1001", TOKEN_A);
        shop("shop-b", "0702245556", "1002", TOKEN_B);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.a1",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run(
            "SELECT alphadome.fail_job($1, '{\"class\": \"auth\", \"code\": 190}', 30)",
            &[id.into()],
        );
        assert_eq!(
            one::<String>(
                "SELECT credential_status FROM alphadome.bot_tenants WHERE id = $1::uuid",
                &[a.as_str().into()]
            )
            .as_deref(),
            Some("needs_reauth")
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.outbox WHERE kind = 'alert.send'",
                &[]
            ),
            Some(1),
            "an alert is recorded"
        );
        inbound(
            "1002",
            "254700000002",
            "What are your opening hours?",
            "w.b1",
        );
        let claimed: Vec<(String, String)> = claim(10)
            .iter()
            .map(|j| {
                (
                    j["tenant"].as_str().unwrap().to_string(),
                    j["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            claimed,
            [("shop-a".to_string(), "alert.send".to_string()), ("shop-b".into(), "reply.send".into())],
            "the other tenant's send goes out, and the paused tenant's alert (by email): its sends wait"
        );
        assert_eq!(
            job_field(id, "attempts").as_deref(),
            Some("0"),
            "a paused send is not a spent attempt"
        );
        run("SELECT alphadome.set_credentials($1::uuid, whatsapp_access_token => 'EAAtest-renewed')", &[a.as_str().into()]);
        let resumed: Vec<i64> = claim(10)
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        assert!(
            resumed.contains(&id),
            "a new token resumes the paused sends"
        );
    }

    #[pg_test]
    fn an_llm_that_never_answers_gets_the_fallback_and_an_alert() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound("1001", "254700000001", "Tell me about cellos", "w.l");
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run("SELECT alphadome.fail_job($1, '{\"class\": \"transient\", \"message\": \"LLM timed out\"}')", &[id.into()]);
        let queued: Vec<(String, String)> = Spi::connect(|c| {
            c.select(
                "SELECT o.kind, coalesce(o.payload ->> 'text', a.text) FROM alphadome.outbox o
                   LEFT JOIN alphadome.alerts a ON a.bot_tenant_id = o.bot_tenant_id AND a.id = (o.payload ->> 'alert_id')::bigint
                  WHERE o.status = 'queued' ORDER BY o.id",
                None,
                &[],
            )
                .unwrap()
                .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<String>(2).unwrap().unwrap()))
                .collect()
        });
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[0].0, "reply.send");
        assert!(
            queued[0].1.starts_with("Thanks for your message!"),
            "the fallback: {}",
            queued[0].1
        );
        assert!(queued[1].0 == "alert.send" && queued[1].1.contains("LLM timed out"));
    }

    #[pg_test]
    fn an_empty_llm_answer_sends_the_fallback() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound("1001", "254700000001", "Tell me about cellos", "w.empty");
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run(
            "SELECT alphadome.complete_job($1, '{\"content\": \"  \"}')",
            &[id.into()],
        );
        let send = claim(1).remove(0);
        assert_eq!(send["kind"], "reply.send");
        assert!(
            send["payload"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Thanks for your message!"),
            "{send}"
        );
        assert_eq!(send["payload"]["context_wamid"], "w.empty");
    }

    #[pg_test]
    fn an_expired_lease_makes_a_job_claimable_again() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.e",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        assert!(claim(1).is_empty());
        // A send whose lease just ran out may have reached Meta: it waits 15 s for the status
        // webhook that would name it before it is sent again.
        run(
            "UPDATE alphadome.outbox SET lease_until = now() - interval '10 seconds' WHERE id = $1",
            &[id.into()],
        );
        assert!(
            claim(1).is_empty(),
            "not yet: its status webhook may be on its way"
        );
        run(
            "UPDATE alphadome.outbox SET lease_until = now() - interval '16 seconds' WHERE id = $1",
            &[id.into()],
        );
        let again = claim(1);
        assert_eq!(
            (again[0]["id"].as_i64(), again[0]["attempt"].as_i64()),
            (Some(id), Some(2))
        );
        // A job whose last attempt's lease ran out is dead, not retried forever.
        run("UPDATE alphadome.outbox SET attempts = max_attempts, lease_until = now() - interval '16 seconds' WHERE id = $1", &[id.into()]);
        assert!(claim(1).is_empty());
        assert_eq!(job_field(id, "status").as_deref(), Some("dead"));
    }

    /// Meta's status webhook names the job that sent the message (biz_opaque_callback_data):
    /// it completes a job whose relay died before reporting, so it is never sent again, and the
    /// relay's own late report of the same send changes nothing.
    /// complete_job finds its job by its key however many jobs are finished: it reads no entry
    /// of outbox_finished (it once read all of them: a check of a status webhook's completion
    /// named the status, and the planner took that partial index).
    #[pg_test]
    fn completing_a_job_reads_none_of_the_finished_jobs() {
        let t = shop("shop-a", "0702245555", "1001", TOKEN_A);
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, result)
             SELECT $1::uuid, 'reply.send', jsonb_build_object('to', '254700000009', 'text', 'Old.'), 'done', '{}'
               FROM generate_series(1, 2000)",
            &[t.as_str().into()],
        );
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.finished",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        let read = || {
            one::<i64>(
                "SELECT pg_stat_get_xact_tuples_returned('alphadome.outbox_finished'::regclass)",
                &[],
            )
            .unwrap()
        };
        let before = read();
        run(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.out.finished\", \"status\": \"sent\"}')",
            &[id.into()],
        );
        assert_eq!(read(), before, "finished jobs read to complete one");
        assert_eq!(
            one::<String>(
                "SELECT status FROM alphadome.outbox WHERE id = $1",
                &[id.into()]
            )
            .as_deref(),
            Some("done")
        );
    }

    /// complete_jobs completes a batch in one statement: every running job is done and its send
    /// logged in its own conversation, and a job that cannot be completed gets, in its own row,
    /// the error complete_job raises for it, without failing the others.
    #[pg_test]
    fn a_batch_of_completions_does_the_running_jobs_and_names_the_others_errors() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        shop("shop-b", "0702245556", "1002", TOKEN_B);
        both_ask_opening_hours();
        inbound(
            "1001",
            "254700000003",
            "What are your opening hours?",
            "w.c",
        );
        let ids: Vec<i64> = claim(10)
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        run(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.batch.early\", \"status\": \"sent\"}')",
            &[ids[2].into()],
        );
        // What complete_job raises, as '<SQLSTATE> <message>'.
        let raised = |id: i64| {
            one::<String>(
                "SELECT alphadome_test.error_message('SELECT alphadome.complete_job(' || $1 || ')')",
                &[id.into()],
            )
            .unwrap()
        };
        let (done_already, never_queued) = (raised(ids[2]), raised(999999));
        assert!(done_already.starts_with("55000 "), "{done_already}");
        assert!(never_queued.starts_with("P0002 "), "{never_queued}");
        // In order: a running job, one already done, one never queued, the first named twice.
        let rows: Vec<(i64, Option<String>)> = Spi::connect_mut(|c| {
            c.update(
                "SELECT job_id, error_code || ' ' || error, (error_code IS NULL) = (error IS NULL)
                   FROM alphadome.complete_jobs($1,
                   ARRAY['{\"wamid\": \"wamid.batch.0\", \"status\": \"sent\"}', '{\"wamid\": \"wamid.batch.2\"}',
                         '{}', '{\"wamid\": \"wamid.batch.again\"}', '{\"wamid\": \"wamid.batch.1\"}']::jsonb[])",
                None,
                &[vec![ids[0], ids[2], 999999, ids[0], ids[1]].into()],
            )
            .unwrap()
            .map(|r| {
                assert_eq!(r.get::<bool>(3).unwrap(), Some(true), "a code goes with its message");
                (r.get::<i64>(1).unwrap().unwrap(), r.get::<String>(2).unwrap())
            })
            .collect()
        });
        let again = format!(
            "55000 job {} is done, not running: its lease may have expired and another worker taken it",
            ids[0]
        );
        assert_eq!(
            rows,
            vec![
                (ids[0], None),
                (ids[2], Some(done_already)),
                (999999, Some(never_queued)),
                (ids[0], Some(again)),
                (ids[1], None),
            ]
        );
        for id in &ids {
            assert_eq!(job_field(*id, "status").as_deref(), Some("done"));
        }
        assert_eq!(
            one::<String>(
                "SELECT string_agg(t.slug || ':' || c.customer_key || ':' || m.wamid || ':' || m.status || ':' || m.body,
                                   ' ' ORDER BY m.wamid)
                   FROM alphadome.messages m
                   JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
                   JOIN alphadome.bot_tenants t ON t.id = m.bot_tenant_id
                  WHERE m.direction = 'outbound'",
                &[]
            )
            .as_deref(),
            Some(
                "shop-a:254700000001:wamid.batch.0:sent:Monday-Saturday 9 AM - 6 PM \
                 shop-b:254700000002:wamid.batch.1:sent:Monday-Saturday 9 AM - 6 PM \
                 shop-a:254700000003:wamid.batch.early:sent:Monday-Saturday 9 AM - 6 PM"
            ),
            "each send logged once, in its customer's conversation"
        );
        assert_eq!(
            outcome(
                "SELECT count(*) FROM alphadome.complete_jobs('{1}', '{}')",
                &[]
            ),
            "22023",
            "arrays of different lengths"
        );
    }

    /// Sends that name only their recipient (no conversation, no message they answer) are
    /// logged in that customer's conversation, made once however many of the batch go to him.
    #[pg_test]
    fn a_batch_of_sends_to_recipients_logs_each_in_its_customers_one_conversation() {
        let t = shop("shop-a", "0702245555", "1001", TOKEN_A);
        both_ask_opening_hours(); // customer 254700000001 has a conversation
        let ids: Vec<i64> = Spi::connect_mut(|c| {
            c.update(
                "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, attempts, locked_by, lease_until)
                 SELECT $1::uuid, 'reply.send', jsonb_build_object('to', n.customer, 'text', 'Hello ' || n.i), 'running', 1, 'test',
                        now() + interval '1 minute'
                   FROM (VALUES (1, '254700000009'), (2, '254700000001'), (3, '254700000009')) n (i, customer)
                 ORDER BY n.i
                 RETURNING id",
                None,
                &[t.as_str().into()],
            )
            .unwrap()
            .map(|r| r.get::<i64>(1).unwrap().unwrap())
            .collect()
        });
        assert_eq!(
            outcome(
                "SELECT alphadome.complete_jobs($1::bigint[], ARRAY['{\"wamid\": \"w.to.1\"}', '{\"wamid\": \"w.to.2\"}', '{\"wamid\": \"w.to.3\"}']::jsonb[])",
                &[&ids[0].to_string(), &ids[1].to_string(), &ids[2].to_string()]
            ),
            "ok 3"
        );
        assert_eq!(
            one::<String>(
                "SELECT string_agg(c.customer_key || ':' || m.wamid || ':' || m.body, ' ' ORDER BY m.wamid)
                   FROM alphadome.messages m
                   JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
                  WHERE m.direction = 'outbound'",
                &[]
            )
            .as_deref(),
            Some("254700000009:w.to.1:Hello 1 254700000001:w.to.2:Hello 2 254700000009:w.to.3:Hello 3")
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.conversations WHERE customer_key IN ('254700000001', '254700000009')",
                &[]
            ),
            Some(2),
            "one conversation per customer"
        );
    }

    #[pg_test]
    fn a_status_webhook_naming_its_job_completes_it_once() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.cb",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        let status = |state: &str| {
            serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1001", "phone_number_id": "1001"},
                          "statuses": [{"id": "wamid.cb.sent", "status": state, "timestamp": "1760000001",
                                        "recipient_id": "254700000001", "biz_opaque_callback_data": format!("job:{id}")}]}}]}]})
            .to_string()
        };
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[status("sent").as_str().into()],
        );
        assert_eq!(job_field(id, "status").as_deref(), Some("done"));
        let logged = || {
            one::<String>(
                "SELECT string_agg(status, ',') FROM alphadome.messages WHERE wamid = 'wamid.cb.sent' AND direction = 'outbound'",
                &[],
            )
        };
        assert_eq!(logged().as_deref(), Some("sent"));
        // The relay reports the same send late: nothing changes, no error.
        assert_eq!(
            outcome(
                "SELECT alphadome.complete_job($1[1]::bigint, '{\"wamid\": \"wamid.cb.sent\", \"status\": \"sent\"}')",
                &[&id.to_string()]
            ),
            "ok 1"
        );
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[status("delivered").as_str().into()],
        );
        assert_eq!(
            logged().as_deref(),
            Some("delivered"),
            "one outbound row, moved on by the next status"
        );
        assert!(claim(1).is_empty(), "never sent again");
    }

    #[pg_test]
    fn claims_are_fair_across_tenants() {
        shop("busy", "0702245555", "1001", TOKEN_A);
        shop("quiet", "0702245556", "1002", TOKEN_B);
        for i in 0..10 {
            inbound(
                "1001",
                &format!("2547000001{i:02}"),
                "What are your opening hours?",
                &format!("w.busy.{i}"),
            );
        }
        inbound(
            "1002",
            "254700000999",
            "What are your opening hours?",
            "w.quiet",
        );
        let tenants: Vec<String> = claim(2)
            .iter()
            .map(|j| j["tenant"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(tenants.len(), 2);
        assert!(
            tenants.contains(&"quiet".to_string()),
            "the quiet tenant is not starved: {tenants:?}"
        );
    }

    /// A claim looks for tenants with ready jobs from a random point of the uuid order to the
    /// end, then from the first up to that point: the second scan is bounded, so it does not walk
    /// again through the tenants the first found (each probe walks a tenant's jobs in flight).
    #[pg_test]
    fn the_tenant_scan_finds_each_tenant_with_ready_jobs_once_within_its_bounds() {
        let mut ids = vec![
            shop("shop-a", "0702245555", "1001", TOKEN_A),
            shop("shop-b", "0702245556", "1002", TOKEN_B),
            shop("shop-c", "0702245557", "1003", TOKEN_A),
        ];
        shop("idle", "0702245558", "1004", TOKEN_B);
        for (i, number) in ["1001", "1002", "1003"].iter().enumerate() {
            inbound(
                number,
                &format!("25470000010{i}"),
                "What are your opening hours?",
                &format!("w.scan.{i}"),
            );
        }
        ids.sort();
        let scan = |after: Option<&str>, before: Option<&str>, n: i32| -> Vec<String> {
            one::<Vec<String>>(
                "SELECT alphadome._tenants_with_jobs($1::uuid, $2::uuid, $3)::text[]",
                &[after.into(), before.into(), n.into()],
            )
            .unwrap()
        };
        assert_eq!(
            scan(None, None, 10),
            ids,
            "every tenant with a job, in order, the idle one not"
        );
        assert_eq!(scan(None, None, 2), ids[..2]);
        assert_eq!(scan(Some(&ids[1]), None, 10), ids[1..], "from a tenant on");
        assert_eq!(
            scan(None, Some(&ids[1]), 10),
            ids[..1],
            "before a tenant only"
        );
        assert_eq!(scan(Some(&ids[0]), Some(&ids[2]), 10), ids[..2]);
        // The last uuid of all is in reach of an unbounded scan (outbox names its tenant
        // without a foreign key, so a job alone stands for it here).
        let last = "ffffffff-ffff-ffff-ffff-ffffffffffff";
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload)
             VALUES ($1::uuid, 'reply.send', '{\"to\": \"254700000200\", \"text\": \"hi\"}')",
            &[last.into()],
        );
        assert_eq!(scan(Some(&ids[2]), None, 10), [ids[2].as_str(), last]);
        assert_eq!(scan(None, Some(last), 10), ids, "the bound itself left out");
        run(
            "DELETE FROM alphadome.outbox WHERE bot_tenant_id = $1::uuid",
            &[last.into()],
        );
        // A claim of 3 takes one job of each, wherever its random start falls.
        let mut claimed: Vec<String> = claim(3)
            .iter()
            .map(|j| j["tenant_id"].as_str().unwrap().to_string())
            .collect();
        claimed.sort();
        assert_eq!(claimed, ids);
    }

    /// However deep one tenant's backlog, the quiet tenant's one job comes in the first claim
    /// (a claim reads a share of each tenant's jobs, not the queue: make bench measures it).
    #[pg_test]
    fn a_deep_backlog_does_not_starve_a_quiet_tenant_or_slow_a_claim() {
        let busy = shop("busy", "0702245555", "1001", TOKEN_A);
        shop("quiet", "0702245556", "1002", TOKEN_B);
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload)
             SELECT $1::uuid, 'reply.send', jsonb_build_object('to', (254790000000 + n)::text, 'text', 'backlog')
               FROM generate_series(1, 20000) n",
            &[busy.as_str().into()],
        );
        inbound(
            "1002",
            "254700000999",
            "What are your opening hours?",
            "w.quiet",
        );
        let tenants: Vec<String> = claim(2)
            .iter()
            .map(|j| j["tenant"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(tenants.len(), 2);
        assert!(tenants.contains(&"quiet".to_string()), "{tenants:?}");
        assert_eq!(claim(1).len(), 1);
    }

    /// The bench's later rounds: half the outbox finished, statistics taken. The claim must walk
    /// the ready index in order; an estimate once made the planner read and sort a tenant's whole
    /// backlog per claim (0.3.0 in development: 4,500 jobs/s fell to 94).
    #[pg_test]
    fn a_claim_reads_only_the_jobs_it_takes_whatever_the_statistics() {
        let busy = shop("busy", "0702245555", "1001", TOKEN_A);
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status)
             SELECT $1::uuid, 'reply.send', jsonb_build_object('to', (254790000000 + n)::text, 'text', 'backlog'),
                    CASE WHEN n <= 20000 THEN 'done' ELSE 'queued' END
               FROM generate_series(1, 40000) n",
            &[busy.as_str().into()],
        );
        run("ANALYZE alphadome.outbox", &[]);
        let fetched = || {
            one::<i64>(
                "SELECT pg_stat_get_xact_tuples_fetched('alphadome.outbox'::regclass)",
                &[],
            )
            .unwrap()
        };
        let before = fetched();
        assert_eq!(claim(10).len(), 10);
        let read = fetched() - before;
        assert!(read < 200, "a claim of 10 read {read} jobs");
        // What pins that plan adds a disabled sort's cost to the claim's, which crosses
        // jit_above_cost: JIT compiled every claim (1.9 s each in make bench) unless it is off.
        assert_eq!(
            one::<String>(
                "SELECT array_to_string(proconfig, ',') FROM pg_proc
                  WHERE oid = 'alphadome.claim_jobs(text, integer, integer, text[])'::regprocedure",
                &[],
            )
            .as_deref(),
            Some("search_path=pg_catalog, pg_temp,plan_cache_mode=force_generic_plan,enable_sort=off,jit=off")
        );
    }

    #[pg_test]
    fn a_credential_that_does_not_decrypt_pauses_its_tenant_only() {
        let a = shop("shop-a", "0702245555", "1001", TOKEN_A);
        let b = shop("shop-b", "0702245556", "1002", TOKEN_B);
        both_ask_opening_hours();
        run(
            "UPDATE alphadome.bot_tenants SET whatsapp_access_token = (SELECT whatsapp_access_token FROM alphadome.bot_tenants WHERE id = $2::uuid) WHERE id = $1::uuid",
            &[a.as_str().into(), b.as_str().into()],
        );
        let claimed = claim(10);
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0]["tenant"], "shop-b");
        let waiting = one::<String>(
            "SELECT status || ' ' || (last_error ->> 'sqlstate') FROM alphadome.outbox WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(
            waiting.as_deref(),
            Some("queued XX001"),
            "not dead: its tenant waits"
        );
        assert_eq!(
            one::<String>(
                "SELECT sqlstate FROM alphadome.tenant_pauses WHERE bot_tenant_id = $1::uuid",
                &[a.as_str().into()]
            )
            .as_deref(),
            Some("XX001")
        );
    }

    #[pg_test]
    fn claim_arguments_are_checked() {
        assert_eq!(outcome("SELECT alphadome.claim_jobs('')", &[]), "22004");
        assert_eq!(outcome("SELECT alphadome.claim_jobs('w', 0)", &[]), "22023");
        assert_eq!(
            outcome("SELECT alphadome.claim_jobs('w', 10, 0)", &[]),
            "22023"
        );
        assert_eq!(
            outcome("SELECT alphadome.fail_job(1, '{}', -1)", &[]),
            "P0002"
        );
    }

    #[pg_test]
    fn credential_alerts_go_out_once_per_tenant_per_day() {
        let a = shop("shop-a", "0702245555", "1001", TOKEN_A);
        shop("shop-b", "0702245556", "1002", TOKEN_B);
        run("UPDATE alphadome.bot_tenants SET token_expires_at = now() + interval '10 days', credential_status = 'needs_reauth' WHERE id = $1::uuid", &[a.as_str().into()]);
        assert_eq!(
            one::<i32>("SELECT alphadome.enqueue_credential_alerts()", &[]),
            Some(1)
        );
        assert_eq!(
            one::<i32>("SELECT alphadome.enqueue_credential_alerts()", &[]),
            Some(0),
            "not twice a day"
        );
        let text = one::<String>(
            "SELECT text FROM alphadome.alerts WHERE kind = 'credentials'",
            &[],
        )
        .unwrap();
        assert!(
            text.contains("expires_soon") && text.contains("needs_reauth"),
            "{text}"
        );
    }

    #[pg_test]
    fn queue_status_shows_depth_and_dead_letters_per_tenant() {
        shop("shop-a", "0702245555", "1001", TOKEN_A);
        inbound(
            "1001",
            "254700000001",
            "What are your opening hours?",
            "w.1",
        );
        inbound(
            "1001",
            "254700000002",
            "What are your opening hours?",
            "w.2",
        );
        let id = claim(1)[0]["id"].as_i64().unwrap();
        run(
            "SELECT alphadome.fail_job($1, '{\"class\": \"permanent\"}')",
            &[id.into()],
        );
        let (queued, dead) = Spi::get_two::<i64, i64>(
            "SELECT queued, dead FROM alphadome.queue_status WHERE slug = 'shop-a'",
        )
        .unwrap();
        assert_eq!((queued, dead), (Some(1), Some(1)));
    }

    /// Old payloads, finished jobs and past hours' counters go, in batches; pending jobs,
    /// recent rows, the current hour and every message stay.
    #[pg_test]
    fn prune_history_removes_only_old_finished_rows_in_batches() {
        let t = shop("shop", "0702245555", "106540352242922", TOKEN_A);
        // Twice: a webhook of new messages only is kept as its message rows, Meta's redelivery
        // of it as a raw event too.
        for _ in 0..2 {
            inbound(
                "106540352242922",
                "254711000001",
                "What are your opening hours?",
                "w.keep",
            );
        }
        run(
            "INSERT INTO alphadome.webhook_events (received_at, payload) VALUES
               (now() - interval '40 days', '{}'), (now() - interval '31 days', '{}'), (now() - interval '29 days', '{}');
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, updated_at) VALUES
               ($1::uuid, 'alert.send', '{}', 'done', now() - interval '40 days'),
               ($1::uuid, 'alert.send', '{}', 'dead', now() - interval '40 days'),
               ($1::uuid, 'alert.send', '{}', 'queued', now() - interval '40 days'),
               ($1::uuid, 'alert.send', '{}', 'done', now() - interval '2 days');
             INSERT INTO alphadome.reply_counters (bot_tenant_id, hour, shard, replies) VALUES
               ($1::uuid, date_trunc('hour', now()) - interval '1 hour', 0, 5),
               ($1::uuid, date_trunc('hour', now()) - interval '2 hours', 0, 5)",
            &[t.as_str().into()],
        );
        let prune = |batch: i32| {
            one::<pgrx::JsonB>(
                "SELECT alphadome.prune_history('30 days', $1)",
                &[batch.into()],
            )
            .unwrap()
            .0
        };
        assert_eq!(
            prune(1),
            serde_json::json!({"webhook_events": 1, "outbox": 1, "reply_counters": 1, "messages": 0, "conversations": 0})
        );
        assert_eq!(
            prune(10),
            serde_json::json!({"webhook_events": 1, "outbox": 0, "reply_counters": 1, "messages": 0, "conversations": 0}),
            "the old dead job stays until it is requeued or archived"
        );
        assert_eq!(
            prune(10),
            serde_json::json!({"webhook_events": 0, "outbox": 0, "reply_counters": 0, "messages": 0, "conversations": 0})
        );
        let left = |query: &str| one::<i64>(query, &[]).unwrap();
        assert_eq!(
            left("SELECT count(*) FROM alphadome.webhook_events"),
            2,
            "the redelivered ingest's and the 29-day-old"
        );
        assert_eq!(
            left("SELECT count(*) FROM alphadome.outbox WHERE status IN ('queued', 'dead') OR updated_at > now() - interval '30 days'"),
            left("SELECT count(*) FROM alphadome.outbox"),
            "the old queued and dead jobs and everything recent stay"
        );
        assert_eq!(left("SELECT count(*) FROM alphadome.outbox WHERE status = 'queued' AND updated_at < now() - interval '30 days'"), 1);
        assert_eq!(
            left("SELECT count(*) FROM alphadome.outbox WHERE status = 'dead'"),
            1
        );
        assert_eq!(
            left("SELECT count(*) FROM alphadome.chore_runs WHERE chore = 'prune_history' AND last_run_at = now()"),
            1,
            "the last prune is noted for metrics()"
        );
        assert_eq!(
            left("SELECT count(*) FROM alphadome.reply_counters WHERE hour = date_trunc('hour', now())"),
            left("SELECT count(*) FROM alphadome.reply_counters")
        );
        assert_eq!(
            left("SELECT count(*) FROM alphadome.messages WHERE wamid = 'w.keep'"),
            1
        );
        for bad in [
            "SELECT alphadome.prune_history('23 hours')",
            "SELECT alphadome.prune_history(NULL)",
            "SELECT alphadome.prune_history('30 days', 0)",
        ] {
            assert_eq!(outcome(bad, &[]), "22023", "{bad}");
        }
        act_as("alphadome_tenant", Context::Setting(&t));
        assert_eq!(outcome("SELECT alphadome.prune_history()", &[]), "42501");
    }
}

//! Campaigns (issue 26): marketing consent and its withdrawal, the audience and its exclusions,
//! the pace of the sends, status webhooks on recipient rows, failures recorded, pause, cancel,
//! results, and one tenant kept from another's campaigns.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::json;

    const NUMBER_A: &str = "100000000000011";

    fn text(from: &str, wamid: &str, body: &str) -> String {
        webhook_with(
            NUMBER_A,
            from,
            wamid,
            json!({"type": "text", "text": {"body": body}}),
        )
    }

    fn ingest(body: &str) {
        run("SELECT alphadome.ingest_webhook($1::jsonb)", &[body.into()]);
    }

    /// A status webhook for tenant A's number naming a campaign recipient.
    fn status(recipient: i64, wamid: &str, status: &str, extra: serde_json::Value) -> String {
        let mut s = json!({"id": wamid, "status": status, "timestamp": "1760000001",
                           "recipient_id": "254711000000",
                           "biz_opaque_callback_data": format!("campaign:{recipient}")});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                   "messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": NUMBER_A, "phone_number_id": NUMBER_A},
                   "statuses": [s]}}]}]})
        .to_string()
    }

    fn conversation(customer: &str) -> i64 {
        one::<i64>(
            "SELECT id FROM alphadome.conversations WHERE customer_key = $1",
            &[customer.into()],
        )
        .expect("the customer's conversation")
    }

    fn consents(customer: &str) -> bool {
        one::<bool>(
            "SELECT alphadome._has_marketing_consent(c) FROM alphadome.conversations c WHERE customer_key = $1",
            &[customer.into()],
        )
        .unwrap()
    }

    #[pg_test]
    fn consent_is_the_answer_to_the_shops_question_and_stop_withdraws_it_for_good() {
        let (a, _) = two_tenants();
        let customer = "254711000201";
        ingest(&text(customer, "w.c1", "Do you have keyboards?"));
        let id = conversation(customer);
        // The fixture's webhooks carry a time long past: the customer wrote two minutes ago
        // (one transaction has one now()).
        run(
            "UPDATE alphadome.conversations SET last_inbound_at = now() WHERE id = $1;
             UPDATE alphadome.messages SET created_at = now() - interval '2 minutes' WHERE conversation_id = $1",
            &[id.into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        // Labels as the shop writes them, kept in one form.
        assert_eq!(
            one::<Vec<String>>(
                "SELECT alphadome.set_customer_labels($1, ARRAY[' Keyboards ', 'keyboards', 'Pianos', ''])",
                &[id.into()]
            ),
            Some(vec!["keyboards".to_string(), "pianos".to_string()])
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.set_customer_labels($1[1]::bigint, ARRAY[repeat('x', 41)])",
                &[&id.to_string()]
            ),
            "22023"
        );
        let job = one::<i64>("SELECT alphadome.ask_marketing_consent($1)", &[id.into()]).unwrap();
        act_as_superuser();
        assert_eq!(
            one::<String>("SELECT payload ->> 'text' FROM alphadome.outbox WHERE id = $1", &[job.into()]),
            one::<String>(
                "SELECT marketing_opt_in_question FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
                &[a.as_str().into()]
            ),
            "the shop's question"
        );
        assert!(!consents(customer), "asked is not agreed");
        // Asked a minute ago (one transaction has one now()); then "Ndio".
        run(
            "UPDATE alphadome.conversations SET marketing_asked_at = now() - interval '1 minute' WHERE id = $1",
            &[id.into()],
        );
        ingest(&text(customer, "w.c2", " Ndio "));
        assert_eq!(
            one::<i32>(
                "SELECT alphadome._collect_consent_answers($1::uuid)",
                &[a.as_str().into()]
            ),
            Some(1)
        );
        assert!(consents(customer));
        assert_eq!(
            one::<String>(
                "SELECT marketing_consent_source FROM alphadome.conversations WHERE id = $1",
                &[id.into()]
            )
            .as_deref(),
            Some("answered \"Ndio\" to the opt-in question")
        );
        // Consent a minute old; STOP now withdraws it, and START does not give it back.
        run(
            "UPDATE alphadome.conversations SET marketing_consent_at = now() - interval '30 seconds' WHERE id = $1",
            &[id.into()],
        );
        ingest(&text(customer, "w.c3", "STOP"));
        assert!(!consents(customer), "STOP withdraws it");
        ingest(&text(customer, "w.c4", "START"));
        assert!(
            one::<bool>(
                "SELECT opted_out_at IS NULL FROM alphadome.conversations WHERE id = $1",
                &[id.into()]
            )
            .unwrap(),
            "START opts back in to conversation"
        );
        assert!(!consents(customer), "but not to marketing");

        // A customer who answers something else has not agreed.
        let other = "254711000202";
        ingest(&text(other, "w.o1", "hi"));
        run(
            "UPDATE alphadome.conversations SET marketing_asked_at = now() - interval '1 minute' WHERE customer_key = $1;
             UPDATE alphadome.messages SET created_at = now() - interval '2 minutes' WHERE wamid = 'w.o1'",
            &[other.into()],
        );
        ingest(&text(other, "w.o2", "yes but how much is the piano?"));
        run(
            "SELECT alphadome._collect_consent_answers($1::uuid)",
            &[a.as_str().into()],
        );
        assert!(!consents(other));
    }

    #[pg_test]
    fn an_import_states_its_source_and_leaves_opted_out_customers_alone() {
        let (a, _) = two_tenants();
        ingest(&text("254711000301", "w.i1", "STOP"));
        act_as("alphadome_tenant", Context::Setting(&a));
        let counts = one::<pgrx::JsonB>(
            "SELECT alphadome.import_marketing_consent(ARRAY['0711000301', '+254 711 000 302', 'not a phone'], 'signed form at the shop')",
            &[],
        )
        .unwrap()
        .0;
        assert_eq!(
            counts,
            json!({"recorded": 1, "opted_out": 1, "not_a_number": 1})
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.import_marketing_consent(ARRAY['0711000303'], ' ')",
                &[]
            ),
            "22023",
            "a source is required"
        );
        act_as_superuser();
        assert!(consents("254711000302"));
        assert!(!consents("254711000301"), "opt-out stays absolute");
        assert_eq!(
            one::<String>(
                "SELECT marketing_consent_source FROM alphadome.conversations WHERE customer_key = '254711000302'",
                &[]
            )
            .as_deref(),
            Some("imported: signed form at the shop")
        );
    }

    /// Ten customers of tenant A: 1-6 consented (6 most recently in touch), 7-8 never asked,
    /// 9 consented then opted out, 10 opted out; 1-5 labelled "keyboards".
    fn customers(a: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for i in 1..=10 {
            let key = format!("2547110004{i:02}");
            run(
                "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, customer_name, last_inbound_at,
                                                      marketing_consent_at, marketing_consent_source, opted_out_at, labels)
                 VALUES ($1::uuid, $2, $2, 'Customer ' || $3 || ' Test', now() - make_interval(hours => 20 - $3),
                         CASE WHEN $3 <= 6 OR $3 = 9 THEN now() - interval '1 day' END, 'imported: test',
                         CASE WHEN $3 >= 9 THEN now() END,
                         CASE WHEN $3 <= 5 THEN '{keyboards}'::text[] ELSE '{}' END)",
                &[a.into(), key.as_str().into(), i.into()],
            );
            keys.push(key);
        }
        run(
            "INSERT INTO alphadome.whatsapp_templates (bot_tenant_id, name, language, category, status, body)
             VALUES ($1::uuid, 'december_sale', 'en', 'MARKETING', 'APPROVED', 'Hi {{1}}, 20% off everything this December!')",
            &[a.into()],
        );
        keys
    }

    fn recipient(customer: &str) -> i64 {
        one::<i64>(
            "SELECT r.id FROM alphadome.campaign_recipients r JOIN alphadome.conversations c ON c.id = r.conversation_id
              WHERE c.customer_key = $1",
            &[customer.into()],
        )
        .expect("a recipient row")
    }

    fn recipient_status(customer: &str) -> String {
        one::<String>(
            "SELECT r.status || coalesce(' ' || r.error_code, '') FROM alphadome.campaign_recipients r
               JOIN alphadome.conversations c ON c.id = r.conversation_id WHERE c.customer_key = $1",
            &[customer.into()],
        )
        .unwrap()
    }

    #[pg_test]
    fn a_campaign_reaches_those_who_opted_in_within_the_limit_once_each_at_the_pace() {
        let (a, b) = two_tenants();
        let keys = customers(&a);
        run(
            "UPDATE alphadome.bot_control_settings SET messaging_limit = 5 WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        assert_eq!(
            outcome(
                "SELECT alphadome.create_campaign('Sale', 'december_sale', 'en', '{}')",
                &[]
            ),
            "22023",
            "the template takes one parameter"
        );
        let campaign = one::<i64>(
            "SELECT alphadome.create_campaign('December sale', 'december_sale', 'en', ARRAY['{first_name}'])",
            &[],
        )
        .unwrap();
        let preview =
            one::<pgrx::JsonB>("SELECT alphadome.campaign_preview($1)", &[campaign.into()])
                .unwrap()
                .0;
        assert_eq!(preview["audience"], 10 + 1, "and two_tenants' customer");
        assert_eq!(preview["receive"], 5);
        assert_eq!(
            preview["excluded"],
            json!({"no_opt_in": 3, "opted_out": 2, "beyond_limit": 1})
        );
        // 5 marketing messages to Kenya at USD 0.0225, KES 129.25 to the dollar.
        assert_eq!(preview["currency"], "KES");
        assert_eq!(preview["estimated_cost"], json!(14.54));
        let labelled = one::<i64>(
            "SELECT alphadome.create_campaign('Keyboards', 'december_sale', 'en', ARRAY['{name}'], ARRAY['Keyboards'])",
            &[],
        )
        .unwrap();
        assert_eq!(
            one::<pgrx::JsonB>("SELECT alphadome.campaign_preview($1)", &[labelled.into()])
                .unwrap()
                .0["audience"],
            5,
            "labels choose"
        );
        // Another tenant sees nothing of it.
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(
            outcome(
                "SELECT alphadome.campaign_preview($1[1]::bigint)",
                &[&campaign.to_string()]
            ),
            "P0002"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.campaigns", &[]),
            Some(0)
        );
        act_as("alphadome_tenant", Context::Setting(&a));

        let started = one::<pgrx::JsonB>("SELECT alphadome.start_campaign($1)", &[campaign.into()])
            .unwrap()
            .0;
        assert_eq!(started["receive"], 5);
        assert_eq!(
            outcome(
                "SELECT alphadome.start_campaign($1[1]::bigint)",
                &[&campaign.to_string()]
            ),
            "55000"
        );
        act_as_superuser();
        // The five most recently in touch who agreed: customers 2-6 (6 wrote last).
        let chosen: Vec<String> = (2..=6).map(|i| keys[i - 1].clone()).collect();
        assert_eq!(
            one::<Vec<String>>(
                "SELECT array_agg(c.customer_key::text ORDER BY c.customer_key) FROM alphadome.campaign_recipients r
                   JOIN alphadome.conversations c ON c.id = r.conversation_id WHERE r.campaign_id = $1",
                &[campaign.into()]
            )
            .unwrap(),
            chosen
        );
        assert_eq!(
            one::<Vec<String>>(
                "SELECT parameters FROM alphadome.campaign_recipients WHERE id = $1",
                &[recipient(&keys[1]).into()]
            ),
            Some(vec!["Customer".to_string()])
        );

        // The relay's chore queues them 1/20 s apart: one due now.
        let chores = one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
            .unwrap()
            .0;
        assert_eq!(chores["queued"], 5);
        assert_eq!(
            one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
                .unwrap()
                .0["queued"],
            0,
            "never queued twice"
        );
        assert_eq!(
            one::<Vec<f64>>(
                "SELECT array_agg(extract(epoch FROM run_at - now())::float8 ORDER BY run_at) FROM alphadome.outbox WHERE kind = 'campaign.send'",
                &[]
            )
            .unwrap(),
            vec![0.0, 0.05, 0.1, 0.15, 0.2]
        );
        let claimed = one::<pgrx::JsonB>(
            "SELECT jsonb_agg(j) FROM alphadome.claim_jobs('test', 10, 60, ARRAY['campaign.send']) j",
            &[],
        )
        .unwrap()
        .0;
        assert_eq!(claimed.as_array().unwrap().len(), 1, "only the one due");
        let job = &claimed[0];
        assert_eq!(job["whatsapp"]["phone_number_id"], NUMBER_A);
        assert_eq!(
            job["payload"]["template"],
            json!({"name": "december_sale", "language": "en", "parameters": ["Customer"]})
        );
        assert_eq!(job["payload"]["rate"], 20);
        let first = job["payload"]["to"].as_str().unwrap().to_string();
        let rid = job["payload"]["recipient_id"].as_i64().unwrap();
        assert_eq!(rid, recipient(&first));
        run(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.camp-1\", \"status\": \"sent\"}')",
            &[job["id"].as_i64().unwrap().into()],
        );
        assert_eq!(recipient_status(&first), "sent");
        assert_eq!(
            one::<String>(
                "SELECT m.message_type || ' ' || m.body FROM alphadome.messages m WHERE m.wamid = 'wamid.camp-1'
                    AND m.conversation_id = $1",
                &[conversation(&first).into()]
            )
            .as_deref(),
            Some("template Hi Customer, 20% off everything this December!"),
            "logged in the customer's conversation"
        );

        // Status webhooks name the recipient rows: delivered, read; a send whose relay died
        // before reporting (its job still queued here) is done by its status; 131049 fails one.
        ingest(&status(
            rid,
            "wamid.camp-1",
            "delivered",
            json!({"pricing": {"category": "marketing"}}),
        ));
        ingest(&status(rid, "wamid.camp-1", "read", json!({})));
        ingest(&status(rid, "wamid.camp-1", "delivered", json!({})));
        assert_eq!(recipient_status(&first), "read", "never back");
        let others: Vec<String> = chosen.iter().filter(|k| **k != first).cloned().collect();
        let second = recipient(&others[0]);
        ingest(&status(second, "wamid.camp-2", "sent", json!({})));
        assert_eq!(recipient_status(&others[0]), "sent");
        assert_eq!(
            one::<String>(
                "SELECT o.status || ' ' || (o.result ->> 'by') FROM alphadome.outbox o JOIN alphadome.campaign_recipients r ON r.job_id = o.id WHERE r.id = $1",
                &[second.into()]
            )
            .as_deref(),
            Some("done status_webhook"),
            "never sent again"
        );
        let third = recipient(&others[1]);
        ingest(&status(third, "wamid.camp-3", "sent", json!({})));
        ingest(&status(
            third,
            "wamid.camp-3",
            "failed",
            json!({"errors": [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}]}),
        ));
        assert_eq!(recipient_status(&others[1]), "failed 131049");
        // Meta refuses the fourth at the send: recorded, not a dead letter, not retried.
        let fourth = recipient(&others[2]);
        run(
            "UPDATE alphadome.outbox o SET run_at = now() - interval '1 second' FROM alphadome.campaign_recipients r
              WHERE r.id = $1 AND o.id = r.job_id",
            &[fourth.into()],
        );
        let job4 = one::<i64>(
            "SELECT (j ->> 'id')::bigint FROM alphadome.claim_jobs('test', 10, 60, ARRAY['campaign.send']) j",
            &[],
        )
        .unwrap();
        run(
            "SELECT alphadome.fail_job($1, '{\"class\": \"permanent\", \"code\": 131049, \"message\": \"not delivered\"}', NULL)",
            &[job4.into()],
        );
        assert_eq!(recipient_status(&others[2]), "failed 131049");
        assert_eq!(
            one::<String>(
                "SELECT status::text FROM alphadome.outbox WHERE id = $1",
                &[job4.into()]
            )
            .as_deref(),
            Some("done")
        );

        // Paused: the last one's job is taken back and nothing is queued; resumed, it goes.
        act_as("alphadome_tenant", Context::Setting(&a));
        run("SELECT alphadome.pause_campaign($1)", &[campaign.into()]);
        act_as_superuser();
        assert_eq!(recipient_status(&others[3]), "queued");
        assert_eq!(
            one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
                .unwrap()
                .0["queued"],
            0
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        run("SELECT alphadome.resume_campaign($1)", &[campaign.into()]);
        act_as_superuser();
        assert_eq!(
            one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
                .unwrap()
                .0["queued"],
            1
        );
        assert_eq!(recipient_status(&others[3]), "sending");
        act_as("alphadome_tenant", Context::Setting(&a));
        run("SELECT alphadome.cancel_campaign($1)", &[campaign.into()]);
        act_as_superuser();
        assert_eq!(recipient_status(&others[3]), "cancelled");

        // The first customer answers (an ordinary conversation) and the second stops.
        run("UPDATE alphadome.campaign_recipients SET sent_at = now() - interval '1 minute' WHERE sent_at IS NOT NULL", &[]);
        ingest(&text(&first, "w.r1", "Which keyboards are on sale?"));
        assert_ne!(
            one::<String>(
                "SELECT decision::text FROM alphadome.messages WHERE wamid = 'w.r1'",
                &[]
            )
            .as_deref(),
            Some("opted_out")
        );
        ingest(&text(&others[0], "w.r2", "STOP"));
        act_as("alphadome_tenant", Context::Setting(&a));
        let results = one::<pgrx::JsonB>(
            "SELECT to_jsonb(r) FROM alphadome.campaign_results($1) r",
            &[campaign.into()],
        )
        .unwrap()
        .0;
        assert_eq!(results["status"], "cancelled");
        assert_eq!(
            (
                &results["recipients"],
                &results["sent"],
                &results["delivered"],
                &results["read"]
            ),
            (&json!(5), &json!(2), &json!(1), &json!(1))
        );
        assert_eq!(
            (&results["replied"], &results["opted_out_after"]),
            (&json!(2), &json!(1)),
            "a STOP is a reply too"
        );
        assert_eq!(results["failed"], 2);
        assert_eq!(results["failed_by_reason"], json!({"131049": 2}));
        assert_eq!(results["cancelled"], 1);
        // One delivered marketing message: 0.0225 * 129.25 = 2.91 KES.
        assert_eq!(
            (&results["currency"], &results["cost"]),
            (&json!("KES"), &json!(2.91))
        );
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.campaign_results($1)",
                &[campaign.into()]
            ),
            Some(0),
            "another tenant's campaign: no row"
        );
    }

    #[pg_test]
    fn a_scheduled_campaign_waits_for_its_time_and_chooses_its_customers_then() {
        let (a, _) = two_tenants();
        let keys = customers(&a);
        act_as("alphadome_tenant", Context::Setting(&a));
        let campaign = one::<i64>(
            "SELECT alphadome.create_campaign('Boxing Day', 'december_sale', 'en', ARRAY['{name}'], '{}', NULL,
                                              now() + interval '1 hour')",
            &[],
        )
        .unwrap();
        let started = one::<pgrx::JsonB>("SELECT alphadome.start_campaign($1)", &[campaign.into()])
            .unwrap()
            .0;
        assert_eq!(started["receive"], 6, "{started}");
        act_as_superuser();
        assert_eq!(
            one::<String>(
                "SELECT status FROM alphadome.campaigns WHERE id = $1",
                &[campaign.into()]
            )
            .as_deref(),
            Some("scheduled")
        );
        assert_eq!(
            one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
                .unwrap()
                .0["launched"],
            0
        );
        // A customer who agreed in the meantime is among them when its time comes.
        run(
            "UPDATE alphadome.conversations SET marketing_consent_at = now() - interval '1 minute' WHERE customer_key = $1;
             UPDATE alphadome.campaigns SET scheduled_at = now() - interval '1 second' WHERE id = $2",
            &[keys[6].as_str().into(), campaign.into()],
        );
        let chores = one::<pgrx::JsonB>("SELECT alphadome.campaign_chores()", &[])
            .unwrap()
            .0;
        assert_eq!(
            (&chores["launched"], &chores["queued"]),
            (&json!(1), &json!(7))
        );
        assert_eq!(
            one::<Vec<String>>(
                "SELECT parameters FROM alphadome.campaign_recipients r JOIN alphadome.conversations c ON c.id = r.conversation_id
                  WHERE c.customer_key = $1",
                &[keys[0].as_str().into()]
            ),
            Some(vec!["Customer 1 Test".to_string()])
        );
    }

    #[pg_test]
    fn no_more_than_two_seconds_of_a_campaign_wait_in_the_queue_however_late_they_are() {
        let (a, _) = two_tenants();
        customers(&a);
        run(
            "UPDATE alphadome.bot_control_settings SET campaign_rate = 1 WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        let campaign = one::<i64>(
            "SELECT alphadome.create_campaign('Sale', 'december_sale', 'en', ARRAY['{name}'])",
            &[],
        )
        .unwrap();
        run("SELECT alphadome.start_campaign($1)", &[campaign.into()]);
        act_as_superuser();
        let queued = "SELECT count(*) FROM alphadome.outbox WHERE kind = 'campaign.send' AND status = 'queued'";
        run("SELECT alphadome.campaign_chores()", &[]);
        assert_eq!(
            one::<i64>(queued, &[]),
            Some(2),
            "two seconds at one a second"
        );
        // Nobody claims them (the tenant's token refused, say): however late, no more are queued.
        run(
            "UPDATE alphadome.outbox SET run_at = now() - interval '1 hour' WHERE kind = 'campaign.send'",
            &[],
        );
        run("SELECT alphadome.campaign_chores()", &[]);
        assert_eq!(one::<i64>(queued, &[]), Some(2));
    }
}

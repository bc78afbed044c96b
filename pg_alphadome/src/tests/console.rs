//! The console's accounts and sessions, usage metering and replay, in the database.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const PASSWORD: &str = "correct horse battery";

    fn owner(tenant: &str, email: &str) -> String {
        one::<String>(
            "SELECT alphadome.create_owner($1::uuid, $2, $3)::text",
            &[tenant.into(), email.into(), PASSWORD.into()],
        )
        .unwrap()
    }

    /// (outcome, token, retry_after) of a login.
    fn login(email: &str, password: &str, address: &str) -> (String, Option<String>, Option<i32>) {
        Spi::connect_mut(|c| {
            let row = c
                .update(
                    "SELECT * FROM alphadome.console_login($1, $2, $3)",
                    None,
                    &[email.into(), password.into(), address.into()],
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

    /// The outcome of a password change (changed, wrong, throttled).
    fn change_password(token: &str, current: &str, new: &str, address: &str) -> String {
        one::<String>(
            "SELECT outcome FROM alphadome.console_change_password($1, $2, $3, $4)",
            &[token.into(), current.into(), new.into(), address.into()],
        )
        .unwrap()
    }

    fn session_tenant(token: &str) -> Option<String> {
        one::<String>(
            "SELECT (SELECT tenant_id::text FROM alphadome.console_session($1))",
            &[token.into()],
        )
    }

    #[pg_test]
    fn an_owner_puts_a_deleted_faq_entry_back_within_a_day_and_nobody_else_can() {
        let (a, b) = two_tenants();
        let entry = "SELECT id FROM alphadome.bot_training_data WHERE question = 'What are your opening hours?'";
        act_as("alphadome_tenant", Context::Setting(&a));
        let id = one::<i64>(entry, &[]).unwrap();
        let kept = one::<i64>("SELECT alphadome.delete_faq_entry($1)", &[id.into()]).unwrap();
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.bot_training_data", &[]),
            Some(0),
            "deleted"
        );
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(
            one::<i64>("SELECT alphadome.undo_faq_delete($1)", &[kept.into()]),
            None,
            "not by another tenant"
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        let back = one::<i64>("SELECT alphadome.undo_faq_delete($1)", &[kept.into()]).unwrap();
        assert_eq!(one::<i64>(entry, &[]), Some(back), "put back");
        assert_eq!(
            one::<i64>("SELECT alphadome.undo_faq_delete($1)", &[kept.into()]),
            None,
            "once"
        );
        let kept = one::<i64>("SELECT alphadome.delete_faq_entry($1)", &[back.into()]).unwrap();
        act_as_superuser();
        run(
            "UPDATE alphadome.faq_deleted SET deleted_at = now() - interval '25 hours' WHERE id = $1",
            &[kept.into()],
        );
        act_as("alphadome_tenant", Context::Setting(&a));
        assert_eq!(
            one::<i64>("SELECT alphadome.undo_faq_delete($1)", &[kept.into()]),
            None,
            "not after a day"
        );
        act_as_superuser();
    }

    #[pg_test]
    fn an_owner_logs_in_and_the_session_sets_the_tenant_context_and_ends_at_logout() {
        let (a, _) = two_tenants();
        owner(&a, "Gideon@Kassangas.test");
        let (outcome, token, _) = login(" gideon@kassangas.TEST ", PASSWORD, "10.0.0.1");
        assert_eq!(outcome, "ok");
        let token = token.unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(session_tenant(&token), Some(a.clone()));
        assert_eq!(
            one::<String>("SELECT current_setting('alphadome.tenant_id')", &[]),
            Some(a.clone()),
            "the request's tenant context comes from the session"
        );
        let stored = one::<i64>(
            "SELECT count(*) FROM alphadome.console_sessions WHERE token_sha256 = sha256(convert_to($1, 'UTF8'))",
            &[token.as_str().into()],
        );
        assert_eq!(stored, Some(1), "only the token's hash is kept");
        let plain = one::<i64>(
            "SELECT count(*) FROM alphadome.console_sessions s WHERE encode(s.token_sha256, 'hex') = $1",
            &[token.as_str().into()],
        );
        assert_eq!(plain, Some(0));
        run(
            "SELECT alphadome.console_logout($1)",
            &[token.as_str().into()],
        );
        assert_eq!(session_tenant(&token), None);
        assert_eq!(
            one::<String>("SELECT current_setting('alphadome.tenant_id')", &[]),
            Some(String::new()),
            "an unknown token leaves no tenant context"
        );
    }

    #[pg_test]
    fn the_sixth_wrong_password_in_a_row_is_throttled_and_a_right_one_then_too() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        for _ in 0..5 {
            assert_eq!(
                login("gideon@kassangas.test", "wrong password!", "10.0.0.2").0,
                "wrong"
            );
        }
        let (outcome, token, wait) = login("gideon@kassangas.test", PASSWORD, "10.0.0.3");
        assert_eq!((outcome.as_str(), token), ("throttled", None));
        assert!((890..=900).contains(&wait.unwrap()), "{wait:?}");
        // An unknown account answers like a wrong password.
        assert_eq!(
            login("nobody@kassangas.test", PASSWORD, "10.0.0.4").0,
            "wrong"
        );
        // Twenty failures from one address throttle it, whatever the account.
        for i in 0..20 {
            login(&format!("guess{i}@x.test"), "whatever password", "10.9.9.9");
        }
        owner(&a, "wanjiku@kassangas.test");
        assert_eq!(
            login("wanjiku@kassangas.test", PASSWORD, "10.9.9.9").0,
            "throttled"
        );
        assert_eq!(
            login("wanjiku@kassangas.test", PASSWORD, "10.0.0.5").0,
            "ok"
        );
    }

    #[pg_test]
    fn sessions_end_when_idle_or_old_and_a_password_change_ends_the_others() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        let first = login("gideon@kassangas.test", PASSWORD, "a").1.unwrap();
        let second = login("gideon@kassangas.test", PASSWORD, "b").1.unwrap();
        run(
            "UPDATE alphadome.console_sessions SET last_seen_at = now() - interval '5 hours'
              WHERE token_sha256 = sha256(convert_to($1, 'UTF8'))",
            &[first.as_str().into()],
        );
        assert_eq!(session_tenant(&first), None, "idle for 5 hours");
        run(
            "UPDATE alphadome.console_sessions SET last_seen_at = now(), created_at = now() - interval '25 hours'
              WHERE token_sha256 = sha256(convert_to($1, 'UTF8'))",
            &[first.as_str().into()],
        );
        assert_eq!(session_tenant(&first), None, "25 hours old");
        let third = login("gideon@kassangas.test", PASSWORD, "c").1.unwrap();
        assert_eq!(
            change_password(&third, "not my password", "another good password", "c"),
            "wrong"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.console_change_password($1[1], $1[2], 'short', 'c')",
                &[&third, PASSWORD]
            ),
            "22023"
        );
        assert_eq!(
            change_password(&third, PASSWORD, "another good password", "c"),
            "changed"
        );
        assert_eq!(session_tenant(&second), None, "the other session ended");
        assert_eq!(session_tenant(&third), Some(a), "this one goes on");
        assert_eq!(login("gideon@kassangas.test", PASSWORD, "d").0, "wrong");
        assert_eq!(
            login("gideon@kassangas.test", "another good password", "d").0,
            "ok"
        );
    }

    /// A wrong current password is a failed login: recorded in the same table, under the same
    /// limits, so that guessing through the password form is as slow as through the login.
    #[pg_test]
    fn wrong_current_passwords_are_recorded_and_throttled_like_logins() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        let token = login("gideon@kassangas.test", PASSWORD, "10.0.1.1")
            .1
            .unwrap();
        for _ in 0..5 {
            assert_eq!(
                change_password(
                    &token,
                    "a wrong guess!",
                    "a new long passphrase",
                    "10.0.1.2"
                ),
                "wrong"
            );
        }
        let failures = one::<i64>(
            "SELECT count(*) FROM alphadome.console_login_failures
              WHERE email = 'gideon@kassangas.test' AND client_address = '10.0.1.2'",
            &[],
        );
        assert_eq!(failures, Some(5));
        assert_eq!(
            change_password(&token, PASSWORD, "a new long passphrase", "10.0.1.3"),
            "throttled",
            "not even the right one is checked now"
        );
        assert_eq!(
            login("gideon@kassangas.test", PASSWORD, "10.0.1.4").0,
            "throttled",
            "the account's logins are throttled too"
        );
        // Twenty from one address throttle it for password changes too.
        for i in 0..20 {
            login(&format!("guess{i}@x.test"), "whatever password", "10.0.9.9");
        }
        owner(&a, "wanjiku@kassangas.test");
        let other = login("wanjiku@kassangas.test", PASSWORD, "10.0.1.5")
            .1
            .unwrap();
        assert_eq!(
            change_password(&other, PASSWORD, "a new long passphrase", "10.0.9.9"),
            "throttled"
        );
        assert_eq!(
            change_password(&other, PASSWORD, "a new long passphrase", "10.0.1.5"),
            "changed"
        );
    }

    /// The SQLSTATE of making an owner, a staff login and an operator with this password, and of
    /// changing the password of a logged-in account (gideon@kassangas.test) to it.
    fn everywhere(tenant: &str, password: &str, email: &str) -> [String; 4] {
        let token = login("gideon@kassangas.test", PASSWORD, "10.0.2.1")
            .1
            .unwrap();
        [
            outcome(
                "SELECT alphadome.create_owner($1[1]::uuid, $1[2], $1[3])",
                &[tenant, email, password],
            ),
            outcome(
                "SELECT alphadome.create_agent($1[1]::uuid, $1[2], $1[3])",
                &[tenant, email, password],
            ),
            outcome(
                "SELECT alphadome.create_operator($1[1], $1[2])",
                &[email, password],
            ),
            outcome(
                "SELECT alphadome.console_change_password($1[1], $1[2], $1[3], '10.0.2.1')",
                &[&token, PASSWORD, password],
            ),
        ]
    }

    const REFUSED: [&str; 4] = ["22023", "22023", "22023", "22023"];

    /// bcrypt reads 72 bytes: a longer password would let in anything with the same first 72.
    #[pg_test]
    fn passwords_over_72_bytes_are_refused_with_a_plain_reason() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        let long = format!("{}-tail-one", "Z".repeat(72));
        assert_eq!(everywhere(&a, &long, "new@kassangas.test"), REFUSED);
        // 71 bytes and a two-byte letter: 73 bytes in 72 characters.
        let accented = format!("{}é", "Zz".repeat(35) + "!");
        assert_eq!(everywhere(&a, &accented, "new@kassangas.test"), REFUSED);
        assert_eq!(
            one::<String>("SELECT alphadome._password_problem($1, 'x@y.test')", &[long.as_str().into()]),
            Some(
                "a password has at most 72 bytes: 72 plain letters, digits or signs (an accented letter \
                 or an emoji takes two to four); what comes after would not be checked"
                    .into()
            )
        );
        let exact = "Zz".repeat(35) + "!!";
        assert_eq!(exact.len(), 72);
        assert_eq!(everywhere(&a, &exact, "new@kassangas.test")[0], "ok 1");
    }

    #[pg_test]
    fn common_passwords_are_refused() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        for password in [
            "aaaaaaaaaa",
            "1234567890",
            "password123",
            "          ",
            "Password123!",
            "2024welcome",
            "QWERTYUIOP",
            "abcabcabcabc",
            "iloveyou123",
            "0987654321",
        ] {
            assert_eq!(
                everywhere(&a, password, "new@kassangas.test"),
                REFUSED,
                "{password:?}"
            );
        }
        assert_eq!(
            everywhere(&a, "drums under the mango tree", "new@kassangas.test")[0],
            "ok 1"
        );
    }

    #[pg_test]
    fn the_accounts_own_email_is_refused_as_its_password() {
        let (a, _) = two_tenants();
        owner(&a, "gideon@kassangas.test");
        // Gideon's own email, in another case, for a new account of that email and as his new
        // password; and the part before the @.
        assert_eq!(
            everywhere(&a, "GIDEON@Kassangas.TEST", "gideon@kassangas.test"),
            REFUSED
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.create_owner($1[1]::uuid, 'shop.owner.nairobi@kassangas.test', 'Shop.Owner.Nairobi')",
                &[&a]
            ),
            "22023"
        );
    }

    #[pg_test]
    fn accounts_are_checked_and_their_hashes_are_nobodys_but_the_extensions() {
        let (a, _) = two_tenants();
        assert_eq!(
            outcome(
                "SELECT alphadome.create_owner($1[1]::uuid, 'x@shop.test', 'short')",
                &[&a]
            ),
            "22023"
        );
        assert_eq!(
            outcome("SELECT alphadome.create_owner($1[1]::uuid, 'not an email', 'long enough password')", &[&a]),
            "22023"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.create_owner('00000000-0000-0000-0000-000000000000', 'x@shop.test', 'long enough password')",
                &[]
            ),
            "P0002"
        );
        owner(&a, "x@shop.test");
        assert_eq!(
            outcome(
                "SELECT alphadome.create_operator('X@shop.test', 'long enough password')",
                &[]
            ),
            "23505"
        );
        let hash =
            one::<String>("SELECT password_hash FROM alphadome.console_accounts", &[]).unwrap();
        assert!(hash.starts_with("$2a$10$"), "bcrypt at cost 10");
        for role in [
            "alphadome_admin",
            "alphadome_tenant",
            "alphadome_relay",
            "alphadome_console",
        ] {
            let readable = one::<bool>(
                "SELECT has_column_privilege($1, 'alphadome.console_accounts', 'password_hash', 'SELECT')
                     OR has_table_privilege($1, 'alphadome.console_sessions', 'SELECT')",
                &[role.into()],
            );
            assert_eq!(readable, Some(false), "{role}");
        }
    }

    /// Two tenants with nothing but their settings; A's number is 100000000000011.
    fn shops() -> (String, String) {
        let a = tenant(
            "shop-a",
            "0711000001",
            "100000000000011",
            TOKEN_A,
            Some(AI_KEY_A),
        );
        let b = tenant("shop-b", "0711000002", "100000000000012", TOKEN_B, None);
        (a, b)
    }

    fn inbound(number: &str, from: &str, wamid: &str, text: &str) {
        let message = serde_json::json!({"type": "text", "text": {"body": text}});
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook_with(number, from, wamid, message).as_str().into()],
        );
    }

    fn faq(tenant: &str, question: &str, answer: &str) {
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES ($1::uuid, 'faq', $2, $3)",
            &[tenant.into(), question.into(), answer.into()],
        );
    }

    /// The counts that replay must leave as they were: rows of every table it reads, and the
    /// sequences it could advance.
    fn everything() -> String {
        one::<String>(
            "SELECT format('%s %s %s %s %s %s %s', (SELECT count(*) FROM alphadome.messages),
                    (SELECT count(*) FROM alphadome.outbox), (SELECT count(*) FROM alphadome.conversations),
                    (SELECT count(*) FROM alphadome.alerts), (SELECT count(*) FROM alphadome.reply_counters),
                    (SELECT last_value FROM alphadome.outbox_id_seq), (SELECT last_value FROM alphadome.messages_id_seq))",
            &[],
        )
        .unwrap()
    }

    #[pg_test]
    fn replay_decides_past_messages_with_todays_faq_and_writes_nothing() {
        let (a, b) = shops();
        let number = "100000000000011";
        inbound(number, "254711000001", "w.r1", "Do you sell drums?");
        inbound(number, "254711000002", "w.r2", "STOP");
        faq(
            &a,
            "Do you sell drums?",
            "Yes: acoustic and electronic kits.",
        );
        let before = everything();
        act_as("alphadome_tenant", Context::Setting(&a));
        let rows = Spi::connect(|c| {
            c.select(
                "SELECT message, decision_then, decision_now, answer_now, changed
                   FROM alphadome.replay(now() - interval '1 hour')",
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get::<String>(1).unwrap().unwrap(),
                    r.get::<String>(2).unwrap().unwrap(),
                    r.get::<String>(3).unwrap().unwrap(),
                    r.get::<String>(4).unwrap(),
                    r.get::<bool>(5).unwrap().unwrap(),
                )
            })
            .collect::<Vec<_>>()
        });
        assert_eq!(
            rows,
            [
                (
                    "Do you sell drums?".into(),
                    "llm".into(),
                    "faq".into(),
                    Some("Yes: acoustic and electronic kits.".into()),
                    true
                ),
                (
                    "STOP".into(),
                    "opt_out".into(),
                    "opt_out".into(),
                    rows[1].3.clone(),
                    false
                ),
            ],
            "the changed one first"
        );
        // Another tenant's messages are not the owner's to replay.
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.replay(now() - interval '1 hour', now(), 10, $1[1]::uuid)",
                &[&b]
            ),
            "P0002"
        );
        act_as_superuser();
        assert_eq!(everything(), before, "replay wrote nothing");
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.replay(now() - interval '1 hour', now(), 0, $1[1]::uuid)",
                &[&a]
            ),
            "22023"
        );
        run("SELECT set_config('alphadome.tenant_id', '', true)", &[]);
        assert_eq!(
            outcome("SELECT * FROM alphadome.replay(now())", &[]),
            "22004",
            "no tenant in context"
        );
    }

    #[pg_test]
    fn usage_daily_counts_a_tenants_day_and_an_owner_sees_only_his() {
        let (a, b) = shops();
        let number = "100000000000011";
        faq(&a, "What are your opening hours?", "9 to 6");
        inbound(
            number,
            "254711000001",
            "w.u1",
            "What are your opening hours?",
        );
        inbound(number, "254711000002", "w.u2", "Do you sell violins?");
        // The LLM answered with its usage, and the reply went out, priced by Meta as service.
        let generate = one::<i64>(
            "SELECT id FROM alphadome.outbox WHERE kind = 'reply.generate'",
            &[],
        )
        .unwrap();
        run(
            "UPDATE alphadome.outbox SET status = 'running', lease_until = now() + interval '1 minute' WHERE id = $1",
            &[generate.into()],
        );
        run(
            r#"SELECT alphadome.complete_job($1, '{"content": "Yes, from KES 15,000", "usage": {"prompt_tokens": 412, "completion_tokens": 18}}')"#,
            &[generate.into()],
        );
        run(
            "INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, status)
             SELECT $1::uuid, c.id, 'outbound', 'w.out', 'sent' FROM alphadome.conversations c LIMIT 1",
            &[a.as_str().into()],
        );
        let delivered = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": number, "phone_number_id": number},
                "statuses": [{"id": "w.out", "status": "delivered", "timestamp": "1760000001", "recipient_id": "254711000001",
                              "pricing": {"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}}]}}]}]});
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[delivered.to_string().as_str().into()],
        );
        let day = |tenant: &str| {
            one::<String>(
                "SELECT (SELECT format('%s in, %s faq, %s llm, %s sent, %s calls, %s+%s tokens, %s service', inbound_messages,
                               faq_answers, llm_answers, messages_sent, llm_calls, prompt_tokens, completion_tokens, priced_service)
                   FROM alphadome.usage_daily WHERE bot_tenant_id = $1::uuid)",
                &[tenant.into()],
            )
        };
        assert_eq!(
            day(&a).as_deref(),
            Some("2 in, 1 faq, 1 llm, 1 sent, 1 calls, 412+18 tokens, 1 service")
        );
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(day(&a), None, "B does not see A's usage");
        act_as("alphadome_tenant", Context::Setting(&a));
        assert!(day(&a).is_some());
    }

    #[pg_test]
    fn try_message_says_what_the_bot_would_do_and_records_nothing() {
        let (a, _) = shops();
        faq(
            &a,
            "Do you sell drums?",
            "Yes: acoustic and electronic kits.",
        );
        let before = everything();
        act_as("alphadome_tenant", Context::Setting(&a));
        let tried = |message: &str| {
            Spi::connect(|c| {
                let row = c
                    .select(
                        "SELECT decision, answer FROM alphadome.try_message($1)",
                        None,
                        &[message.into()],
                    )
                    .unwrap()
                    .first();
                (
                    row.get::<String>(1).unwrap().unwrap(),
                    row.get::<String>(2).unwrap(),
                )
            })
        };
        assert_eq!(
            tried("do you sell drums"),
            (
                "faq".into(),
                Some("Yes: acoustic and electronic kits.".into())
            )
        );
        assert_eq!(tried("Which violin suits a child?"), ("llm".into(), None));
        assert_eq!(tried("STOP").0, "opt_out");
        act_as_superuser();
        assert_eq!(everything(), before);
    }
}

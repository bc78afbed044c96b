//! The credential lifecycle: expiry monitoring, master key rotation, verify tokens, the
//! append-only audit.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    fn reasons() -> Vec<(String, String)> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT slug, reason FROM alphadome.expiring_credentials()",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| {
                    (
                        r.get::<String>(1).unwrap().unwrap(),
                        r.get::<String>(2).unwrap().unwrap(),
                    )
                })
                .collect()
        })
    }

    #[pg_test]
    fn expiring_credentials_lists_expiring_old_and_refused_tokens_only() {
        for (slug, phone, number) in [
            ("soon", "0711000101", "101"),
            ("old", "0711000102", "102"),
            ("refused", "0711000103", "103"),
            ("healthy", "0711000104", "104"),
            ("expired", "0711000105", "105"),
            ("inactive", "0711000106", "106"),
        ] {
            tenant(slug, phone, number, TOKEN_A, None);
        }
        run(
            "UPDATE alphadome.bot_tenants SET
                 token_expires_at = CASE slug WHEN 'soon' THEN now() + interval '10 days'
                                              WHEN 'expired' THEN now() - interval '1 day'
                                              WHEN 'inactive' THEN now() + interval '1 day'
                                              ELSE now() + interval '60 days' END,
                 token_rotated_at = CASE slug WHEN 'old' THEN now() - interval '91 days' ELSE now() END,
                 credential_status = CASE slug WHEN 'refused' THEN 'needs_reauth' ELSE 'ok' END,
                 is_active = slug <> 'inactive'",
            &[],
        );
        let expected: Vec<(String, String)> = [
            ("expired", "expired"),
            ("old", "rotation_due"),
            ("refused", "needs_reauth"),
            ("soon", "expires_soon"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(reasons(), expected);
        // A wider window catches the healthy one too.
        let wide = one::<i64>(
            "SELECT count(*) FROM alphadome.expiring_credentials('61 days') WHERE slug = 'healthy'",
            &[],
        );
        assert_eq!(wide, Some(1));
    }

    fn key_line(id: &str, byte: u8) -> String {
        format!("{id}:{}\n", format!("{byte:02x}").repeat(32))
    }

    fn use_key_file(contents: &str) {
        use std::os::unix::fs::PermissionsExt;
        // In the test cluster's data directory, which the next test run removes (a file in
        // /tmp was left behind by every run).
        let data: String = one("SELECT current_setting('data_directory')", &[]).unwrap();
        let path = std::path::Path::new(&data).join("alphadome-rotation-test.key");
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        run(
            "SELECT set_config('alphadome.master_key_file', $1, true)",
            &[path.to_string_lossy().as_ref().into()],
        );
    }

    #[pg_test]
    fn rotate_master_key_reencrypts_everything_under_the_new_key() {
        use_key_file(&key_line("old", 1));
        for i in 0..50 {
            let token = format!("EAAtest-rotation-{i}");
            let key = (i % 2 == 0).then(|| format!("sk-test-rotation-{i}"));
            tenant(
                &format!("rot-{i}"),
                &format!("07110002{i:02}"),
                &format!("2{i:02}"),
                &token,
                key.as_deref(),
            );
        }
        use_key_file(&(key_line("old", 1) + &key_line("new", 2)));
        // 50 tokens and 25 AI keys; nothing left for a second call.
        assert_eq!(
            one::<i64>("SELECT alphadome.rotate_master_key(7)", &[]),
            Some(75)
        );
        assert_eq!(
            one::<i64>("SELECT alphadome.rotate_master_key()", &[]),
            Some(0)
        );
        let stale = one::<i64>(
            "SELECT count(*) FROM alphadome.bot_tenants
              WHERE alphadome._credential_key_id(whatsapp_access_token) <> 'new'
                 OR alphadome._credential_key_id(ai_api_key) <> 'new'",
            &[],
        );
        assert_eq!(stale, Some(0));
        // The old key can go: everything decrypts with the new one alone.
        use_key_file(&key_line("new", 2));
        for i in 0..50 {
            let id = one::<String>(
                "SELECT id::text FROM alphadome.bot_tenants WHERE slug = $1",
                &[format!("rot-{i}").as_str().into()],
            )
            .unwrap();
            let token = one::<String>(
                "SELECT alphadome.tenant_credential($1::uuid, 'whatsapp_access_token', 'rotation test')",
                &[id.as_str().into()],
            );
            assert_eq!(token, Some(format!("EAAtest-rotation-{i}")));
            let key = one::<String>(
                "SELECT alphadome.tenant_credential($1::uuid, 'ai_api_key', 'rotation test')",
                &[id.as_str().into()],
            );
            assert_eq!(key, (i % 2 == 0).then(|| format!("sk-test-rotation-{i}")));
        }
        assert_eq!(
            outcome("SELECT alphadome.rotate_master_key(0)", &[]),
            "22023"
        );
        let audited = one::<i64>(
            "SELECT count(*) FROM alphadome.credential_audit WHERE purpose = 'master key rotation'",
            &[],
        );
        assert_eq!(
            audited,
            Some(75),
            "each re-encryption decrypts, and is audited"
        );
    }

    #[pg_test]
    fn credential_audit_is_append_only() {
        let (a, _) = two_tenants();
        for (role, context) in [
            ("alphadome_admin", Context::None),
            ("alphadome_relay", Context::None),
            ("alphadome_tenant", Context::Setting(&a)),
        ] {
            act_as(role, context);
            let update = outcome(
                "UPDATE alphadome.credential_audit SET purpose = 'rewritten'",
                &[],
            );
            let delete = outcome("DELETE FROM alphadome.credential_audit", &[]);
            let truncate = outcome("TRUNCATE alphadome.credential_audit", &[]);
            act_as_superuser();
            assert_eq!(
                (update.as_str(), delete.as_str(), truncate.as_str()),
                ("42501", "42501", "42501"),
                "{role}"
            );
        }
        run(
            "SELECT alphadome.tenant_credential($1::uuid, 'whatsapp_access_token', 'a second row')",
            &[a.as_str().into()],
        );
        run("UPDATE alphadome.credential_audit SET accessed_at = now() - interval '400 days' WHERE bot_tenant_id = $1::uuid", &[a.as_str().into()]);
        let count = |query: &str| one::<i64>(query, &[a.as_str().into()]).unwrap();
        let old_rows =
            count("SELECT count(*) FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid");
        let others = count(
            "SELECT count(*) FROM alphadome.credential_audit WHERE bot_tenant_id <> $1::uuid",
        );
        assert!(old_rows >= 2 && others >= 1, "{old_rows} {others}");
        act_as("alphadome_tenant", Context::Setting(&a));
        let tenant_prunes = outcome("SELECT alphadome.prune_credential_audit('1 year')", &[]);
        act_as("alphadome_admin", Context::None);
        let too_short = outcome("SELECT alphadome.prune_credential_audit('1 day')", &[]);
        // In batches: A's old rows, one at a time.
        let batches: Vec<i64> = (0..=old_rows)
            .map(|_| {
                one::<i64>("SELECT alphadome.prune_credential_audit('1 year', 1)", &[]).unwrap()
            })
            .collect();
        act_as_superuser();
        assert_eq!(tenant_prunes, "42501");
        assert_eq!(too_short, "22023");
        let mut expected = vec![1; old_rows as usize];
        expected.push(0);
        assert_eq!(batches, expected, "only A's old rows go, one a call");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.credential_audit", &[]),
            Some(others)
        );
    }

    #[pg_test]
    fn webhook_verify_tokens_are_stored_as_hashes_and_matched_per_tenant() {
        let a = one::<String>(
            "SELECT alphadome.create_tenant('hooks-a', 'A', '0711000301', '301', 'EAAtest-x', webhook_verify_token => 'vtok-test-a')::text",
            &[],
        )
        .unwrap();
        tenant("hooks-b", "0711000302", "302", TOKEN_B, None);
        run("SELECT alphadome.set_webhook_verify_token(id, 'vtok-test-b') FROM alphadome.bot_tenants WHERE slug = 'hooks-b'", &[]);
        let stored = one::<Vec<u8>>(
            "SELECT webhook_verify_token FROM alphadome.bot_tenants WHERE slug = 'hooks-a'",
            &[],
        )
        .unwrap();
        assert_eq!(stored.len(), 32);
        assert!(!stored.windows(11).any(|w| w == b"vtok-test-a"));
        let matches = |slug: &str, token: &str| {
            one::<bool>(
                "SELECT alphadome.webhook_verify_token_matches($1, $2)",
                &[slug.into(), token.into()],
            )
            .unwrap()
        };
        assert!(matches("hooks-a", "vtok-test-a"));
        assert!(matches("hooks-b", "vtok-test-b"));
        assert!(
            !matches("hooks-a", "vtok-test-b"),
            "another tenant's token is refused"
        );
        assert!(!matches("hooks-a", ""));
        assert!(!matches("nobody", "vtok-test-a"));
        run(
            "UPDATE alphadome.bot_tenants SET is_active = false WHERE id = $1::uuid",
            &[a.as_str().into()],
        );
        assert!(
            !matches("hooks-a", "vtok-test-a"),
            "an inactive tenant verifies nothing"
        );
    }

    /// PostgREST on Supabase: roles made as Supabase makes them, a JWT's claims in
    /// request.jwt.claims, SET LOCAL ROLE authenticated.
    #[pg_test]
    fn supabase_tenant_owner_edits_own_faq_and_sees_no_other_tenant() {
        let (a, b) = two_tenants();
        run(
            "CREATE ROLE anon NOLOGIN NOINHERIT;
             CREATE ROLE authenticated NOLOGIN NOINHERIT;
             CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
             CREATE ROLE authenticator NOINHERIT LOGIN;
             GRANT anon, authenticated, service_role TO authenticator;
             GRANT alphadome_tenant TO authenticated",
            &[],
        );
        let claims = format!(
            r#"{{"aud":"authenticated","role":"authenticated","sub":"823c3bcd-b66f-4010-9922-4a3b411226cc","app_metadata":{{"tenant_id":"{a}"}}}}"#
        );
        let as_postgrest = |role: &str| {
            run(
                "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
                &[role.into(), claims.as_str().into()],
            );
        };
        // Supabase makes `authenticated` NOINHERIT, so the grant alone gives nothing: fail closed.
        as_postgrest("authenticated");
        let before = outcome("SELECT FROM alphadome.bot_training_data", &[]);
        act_as_superuser();
        assert_eq!(before, "42501");
        // The documented step (docs/security.md): on PostgreSQL 15 let authenticated inherit;
        // from 16 a grant carries its own INHERIT option, fixed when it is made, so the role's
        // attribute changes nothing and the grant is made again WITH INHERIT TRUE.
        #[cfg(feature = "pg15")]
        run("ALTER ROLE authenticated INHERIT", &[]);
        #[cfg(not(feature = "pg15"))]
        run(
            "GRANT alphadome_tenant TO authenticated WITH INHERIT TRUE",
            &[],
        );
        as_postgrest("authenticated");
        let edit = outcome(
            "UPDATE alphadome.bot_training_data SET answer = 'Monday-Saturday 8 AM - 7 PM'",
            &[],
        );
        let add = outcome("INSERT INTO alphadome.bot_training_data (data_type, question, answer) VALUES ('faq', 'Parking?', 'Yes, free.')", &[]);
        let foreign = outcome(
            "SELECT FROM alphadome.bot_training_data WHERE bot_tenant_id = $1[1]::uuid",
            &[&b],
        );
        let foreign_faq = outcome(
            "SELECT FROM alphadome.match_faq($1[1]::uuid, 'opening hours')",
            &[&b],
        );
        let secret = outcome(
            "SELECT alphadome.tenant_credential($1[1]::uuid, 'whatsapp_access_token', 'x')",
            &[&a],
        );
        as_postgrest("anon");
        let anon = outcome("SELECT FROM alphadome.bot_training_data", &[]);
        act_as_superuser();
        assert_eq!((edit.as_str(), add.as_str()), ("ok 1", "ok 1"));
        assert_eq!((foreign.as_str(), foreign_faq.as_str()), ("ok 0", "ok 0"));
        assert_eq!(secret, "42501");
        assert_eq!(anon, "42501");
        let b_answer = one::<String>(
            "SELECT answer FROM alphadome.bot_training_data WHERE bot_tenant_id = $1::uuid",
            &[b.as_str().into()],
        );
        assert_eq!(
            b_answer.as_deref(),
            Some("Monday-Saturday 9 AM - 6 PM"),
            "B's FAQ is untouched"
        );
    }
}

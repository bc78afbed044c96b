use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const CREDENTIAL: &str = "SELECT alphadome.tenant_credential($1::uuid, $2, $3)";

    fn decrypt(tenant: &str, credential: &str) -> Option<String> {
        one::<String>(
            CREDENTIAL,
            &[tenant.into(), credential.into(), "test".into()],
        )
    }

    #[pg_test]
    fn credential_columns_hold_ciphertext_not_plaintext() {
        let (a, _) = two_tenants();
        let stored = one::<Vec<u8>>(
            "SELECT whatsapp_access_token FROM alphadome.bot_tenants WHERE id = $1::uuid",
            &[a.as_str().into()],
        )
        .expect("token stored");
        assert!(
            !stored
                .windows(TOKEN_A.len())
                .any(|w| w == TOKEN_A.as_bytes()),
            "plaintext token in the column"
        );
        assert!(stored.starts_with(b"ADK1"), "not in the AlphaDome envelope");
        let key_id = one::<String>("SELECT alphadome._credential_key_id(ai_api_key) FROM alphadome.bot_tenants WHERE id = $1::uuid", &[a.as_str().into()]);
        assert_eq!(
            key_id,
            one::<String>("SELECT alphadome._current_master_key_id()", &[])
        );
    }

    #[pg_test]
    fn relay_decrypts_and_every_call_is_audited() {
        let (a, _) = two_tenants();
        let audited_before =
            one::<i64>("SELECT count(*) FROM alphadome.credential_audit", &[]).unwrap();
        act_as("alphadome_relay", Context::None);
        let token = one::<String>(
            CREDENTIAL,
            &[
                a.as_str().into(),
                "whatsapp_access_token".into(),
                "reply.send job 7".into(),
            ],
        );
        let ai_key = one::<String>(
            CREDENTIAL,
            &[
                a.as_str().into(),
                "ai_api_key".into(),
                "reply.generate job 8".into(),
            ],
        );
        let secret = one::<String>(
            CREDENTIAL,
            &[
                a.as_str().into(),
                "app_secret".into(),
                "webhook check".into(),
            ],
        );
        act_as_superuser();
        assert_eq!(token.as_deref(), Some(TOKEN_A));
        assert_eq!(ai_key.as_deref(), Some(AI_KEY_A));
        assert_eq!(secret, None, "an unset credential decrypts to NULL");
        let rows = Spi::connect(|client| {
            client
                .select(
                    "SELECT credential, purpose, acting_role FROM alphadome.credential_audit WHERE id > 0 ORDER BY id DESC LIMIT 3",
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| {
                    (
                        row.get::<String>(1).unwrap().unwrap(),
                        row.get::<String>(2).unwrap().unwrap(),
                        row.get::<String>(3).unwrap().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.credential_audit", &[]).unwrap(),
            audited_before + 3
        );
        assert_eq!(
            rows,
            vec![
                (
                    "app_secret".into(),
                    "webhook check".into(),
                    "alphadome_relay".into()
                ),
                (
                    "ai_api_key".into(),
                    "reply.generate job 8".into(),
                    "alphadome_relay".into()
                ),
                (
                    "whatsapp_access_token".into(),
                    "reply.send job 7".into(),
                    "alphadome_relay".into()
                ),
            ]
        );
    }

    #[pg_test]
    fn tenant_owner_and_ungranted_roles_get_42501() {
        let (a, _) = two_tenants();
        run("CREATE ROLE alphadome_test_nobody NOLOGIN", &[]);
        for (role, context) in [
            ("alphadome_tenant", Context::Setting(&a)),
            ("alphadome_tenant", Context::JwtClaims(&a)),
            ("alphadome_test_nobody", Context::None),
        ] {
            act_as(role, context);
            let result = outcome("SELECT alphadome.tenant_credential($1[1]::uuid, 'whatsapp_access_token', 'curious')", &[&a]);
            act_as_superuser();
            assert_eq!(result, "42501", "{role}");
        }
    }

    #[pg_test]
    fn ciphertext_copied_to_another_tenant_does_not_decrypt() {
        let (a, b) = two_tenants();
        run(
            "UPDATE alphadome.bot_tenants SET whatsapp_access_token =
                 (SELECT whatsapp_access_token FROM alphadome.bot_tenants WHERE id = $1::uuid) WHERE id = $2::uuid",
            &[a.as_str().into(), b.as_str().into()],
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'whatsapp_access_token', 'x')",
                &[&b]
            ),
            "XX001"
        );
        // Nor into another credential column of the same tenant.
        run(
            "UPDATE alphadome.bot_tenants SET app_secret = ai_api_key WHERE id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'app_secret', 'x')",
                &[&a]
            ),
            "XX001"
        );
        assert_eq!(
            decrypt(&a, "whatsapp_access_token").as_deref(),
            Some(TOKEN_A)
        );
    }

    #[pg_test]
    fn set_credentials_rotates_and_null_keeps() {
        let (a, _) = two_tenants();
        run("UPDATE alphadome.bot_tenants SET credential_status = 'needs_reauth', token_rotated_at = now() - interval '100 days' WHERE id = $1::uuid", &[a.as_str().into()]);
        run(
            "SELECT alphadome.set_credentials($1::uuid, whatsapp_access_token => $2, token_expires_at => now() + interval '60 days')",
            &[a.as_str().into(), "EAAtest-rotated-token".into()],
        );
        assert_eq!(
            decrypt(&a, "whatsapp_access_token").as_deref(),
            Some("EAAtest-rotated-token")
        );
        assert_eq!(
            decrypt(&a, "ai_api_key").as_deref(),
            Some(AI_KEY_A),
            "NULL leaves the AI key as it was"
        );
        let fresh = one::<bool>(
            "SELECT credential_status = 'ok' AND token_rotated_at > now() - interval '1 minute' AND token_expires_at > now() + interval '59 days'
               FROM alphadome.bot_tenants WHERE id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(fresh, Some(true));
        assert_eq!(
            outcome(
                "SELECT alphadome.set_credentials($1[1]::uuid, ai_api_key => 'k')",
                &["00000000-0000-0000-0000-000000000000"]
            ),
            "P0002"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.set_credentials($1[1]::uuid, ai_api_key => '')",
                &[&a]
            ),
            "22023"
        );
    }

    #[pg_test]
    fn unknown_credential_or_tenant_and_missing_purpose_are_refused() {
        let (a, _) = two_tenants();
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'password', 'x')",
                &[&a]
            ),
            "22023"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'ai_api_key', '')",
                &[&a]
            ),
            "22004"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'ai_api_key', 'x')",
                &["00000000-0000-0000-0000-000000000000"]
            ),
            "P0002"
        );
    }

    #[pg_test]
    fn create_tenant_validates_and_names_duplicates() {
        let (_a, _) = two_tenants();
        let create = "SELECT alphadome.create_tenant($1[1], 'Shop', $1[2], $1[3], 'EAAtest-x')";
        assert_eq!(
            outcome(create, &["tenant-a", "0711000099", "100000000000099"]),
            "23505"
        );
        assert_eq!(
            outcome(create, &["tenant-c", "0711000001", "100000000000099"]),
            "23505"
        );
        assert_eq!(
            outcome(create, &["tenant-c", "0711000099", "100000000000011"]),
            "23505"
        );
        assert_eq!(
            outcome(create, &["Bad Slug", "0711000099", "100000000000099"]),
            "22023"
        );
        assert_eq!(
            outcome(create, &["tenant-c", "not a phone", "100000000000099"]),
            "22023"
        );
        assert_eq!(
            outcome(create, &["tenant-c", "0711000099", "phone-id"]),
            "22023"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.create_tenant('tenant-c', 'Shop', '0711000099', '1', NULL)",
                &[]
            ),
            "22004"
        );
        let controls = one::<bool>(
            "SELECT max_messages_per_hour = 200 AND is_bot_enabled AND escalation_phone = '254711000001'
               FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id
              WHERE t.slug = 'tenant-a'",
            &[],
        );
        assert_eq!(
            controls,
            Some(true),
            "create_tenant makes default control settings"
        );
    }

    #[pg_test]
    fn lookups_find_tenants_by_number_and_phone() {
        let (a, _) = two_tenants();
        assert_eq!(
            one::<String>(
                "SELECT alphadome.tenant_for_phone_number_id('100000000000011')::text",
                &[]
            )
            .as_deref(),
            Some(a.as_str())
        );
        assert_eq!(
            one::<String>(
                "SELECT alphadome.tenant_for_client_phone('+254 711 000 001')::text",
                &[]
            )
            .as_deref(),
            Some(a.as_str())
        );
        assert_eq!(
            one::<String>(
                "SELECT alphadome.tenant_for_phone_number_id('999')::text",
                &[]
            ),
            None
        );
        assert_eq!(
            one::<String>(
                "SELECT alphadome.tenant_for_client_phone('0799999999')::text",
                &[]
            ),
            None
        );
    }

    // ---- the master key file ------------------------------------------------------------------

    fn with_key_file(contents: Option<&[u8]>, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("alphadome-test-key-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        if let Some(bytes) = contents {
            std::fs::write(&path, bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let path = path.to_string_lossy().into_owned();
        run(
            "SELECT set_config('alphadome.master_key_file', $1, true)",
            &[path.as_str().into()],
        );
        path
    }

    const ENCRYPT: &str =
        "SELECT alphadome.set_credentials($1[1]::uuid, ai_api_key => 'sk-test-x')";

    #[pg_test]
    fn missing_unset_unreadable_or_malformed_key_file_is_a_clear_error() {
        let (a, _) = two_tenants();
        run(
            "SELECT set_config('alphadome.master_key_file', '', true)",
            &[],
        );
        assert_eq!(outcome(ENCRYPT, &[&a]), "55000");
        let path = with_key_file(None, 0o600);
        assert_eq!(outcome(ENCRYPT, &[&a]), "58P01");
        with_key_file(Some(format!("k9:{}\n", "ab".repeat(32)).as_bytes()), 0o000);
        assert_eq!(outcome(ENCRYPT, &[&a]), "58030");
        with_key_file(Some(b"k9:not-hex\n"), 0o600);
        assert_eq!(outcome(ENCRYPT, &[&a]), "F0000");
        // A key file that lost the key a ciphertext names.
        with_key_file(Some(format!("k9:{}\n", "ab".repeat(32)).as_bytes()), 0o600);
        assert_eq!(
            outcome(
                "SELECT alphadome.tenant_credential($1[1]::uuid, 'ai_api_key', 'x')",
                &[&a]
            ),
            "F0000"
        );
        let _ = std::fs::remove_file(path);
    }

    #[pg_test]
    fn the_key_file_setting_is_superuser_only() {
        run("SET LOCAL ROLE alphadome_admin", &[]);
        let result = outcome(
            "SELECT set_config('alphadome.master_key_file', '/tmp/evil', true)",
            &[],
        );
        act_as_superuser();
        assert_eq!(result, "42501");
    }

    /// A relay login acts through its membership in alphadome_relay, without SET ROLE: its
    /// audit rows name that role (they said 'none'). create_tenant audits the credentials it
    /// stores, like set_credentials.
    #[pg_test]
    fn audit_rows_name_the_role_and_a_new_tenant_is_audited() {
        let a = tenant(
            "audit-shop",
            "0711000071",
            "100000000000071",
            TOKEN_A,
            Some(AI_KEY_A),
        );
        let created = one::<String>(
            "SELECT string_agg(credential || ':' || purpose || ':' || acting_role, ',' ORDER BY credential)
               FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(
            created.as_deref(),
            Some("ai_api_key:create_tenant: a new value:superuser,whatsapp_access_token:create_tenant: a new value:superuser")
        );
        run(
            "CREATE ROLE audit_relay_login LOGIN IN ROLE alphadome_relay",
            &[],
        );
        run("SET LOCAL SESSION AUTHORIZATION audit_relay_login", &[]);
        let token = one::<String>(
            "SELECT alphadome.tenant_credential($1::uuid, 'whatsapp_access_token', 'reply.send')",
            &[a.as_str().into()],
        );
        run("RESET SESSION AUTHORIZATION", &[]);
        assert_eq!(token.as_deref(), Some(TOKEN_A));
        let relay = one::<String>(
            "SELECT accessed_by || ':' || acting_role FROM alphadome.credential_audit
              WHERE bot_tenant_id = $1::uuid AND purpose = 'reply.send'",
            &[a.as_str().into()],
        );
        assert_eq!(relay.as_deref(), Some("audit_relay_login:alphadome_relay"));
    }
}

//! The operator's and the owner's SQL surface as the docs describe it (docs/sql-api.md): what
//! an alphadome_admin does to a tenant, how values are checked and normalised, what is audited,
//! and that every public object says what it is.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    fn tenant_field(tenant: &str, column: &str) -> Option<String> {
        one::<String>(
            &format!("SELECT {column}::text FROM alphadome.bot_tenants WHERE id = $1::uuid"),
            &[tenant.into()],
        )
    }

    #[pg_test]
    fn create_tenant_takes_email_model_base_url_and_country() {
        act_as("alphadome_admin", Context::None);
        let id = one::<String>(
            "SELECT alphadome.create_tenant('sf-shop', 'SF Shop', '(415) 555-0100', '100000000000099', $1,
                    client_email => ' Owner@SF-Shop.COM ', ai_model => 'llama3.1', ai_base_url => 'http://ollama.lan:11434/v1',
                    country_code => '1', token_expires_at => now() + interval '60 days')::text",
            &[TOKEN_A.into()],
        )
        .unwrap();
        act_as_superuser();
        assert_eq!(
            tenant_field(&id, "client_phone").as_deref(),
            Some("14155550100"),
            "read in the US"
        );
        assert_eq!(
            tenant_field(&id, "client_email").as_deref(),
            Some("Owner@sf-shop.com")
        );
        assert_eq!(tenant_field(&id, "ai_model").as_deref(), Some("llama3.1"));
        assert_eq!(
            tenant_field(&id, "ai_base_url").as_deref(),
            Some("http://ollama.lan:11434/v1")
        );
        let escalation = one::<String>(
            "SELECT escalation_phone FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
            &[id.as_str().into()],
        );
        assert_eq!(escalation.as_deref(), Some("14155550100"));
    }

    #[pg_test]
    fn create_tenant_refuses_bad_emails_urls_countries_and_past_expiries() {
        let create = |extra: &str| {
            outcome(
                &format!(
                    "SELECT alphadome.create_tenant('bad', 'Bad', '0711000009', '100000000000098', 'EAAtest-x', {extra})"
                ),
                &[],
            )
        };
        assert_eq!(create("client_email => 'owner@mamajikoni'"), "22023");
        assert_eq!(create("client_email => 'not an email'"), "22023");
        assert_eq!(create("ai_base_url => 'ftp://x'"), "22023");
        assert_eq!(create("country_code => '+254'"), "22023");
        assert_eq!(
            create("token_expires_at => now() - interval '1 day'"),
            "22023"
        );
        assert_eq!(
            create("client_email => ''"),
            "ok 1",
            "an empty email is no email"
        );
    }

    #[pg_test]
    fn escalation_phones_are_normalised_in_the_tenants_country_or_refused_by_name() {
        let (a, _) = two_tenants();
        act_as("alphadome_tenant", Context::Setting(&a));
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_control_settings SET escalation_phone = '0702 245-555'",
                &[]
            ),
            "ok 1"
        );
        let message = Spi::get_one::<String>(
            "SELECT alphadome_test.error_message('UPDATE alphadome.bot_control_settings SET escalation_phone = ''call Gideon''')",
        )
        .unwrap()
        .unwrap();
        assert!(
            message.starts_with("22023 escalation_phone: not a phone number"),
            "{message}"
        );
        act_as_superuser();
        let phone = one::<String>(
            "SELECT escalation_phone FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(phone.as_deref(), Some("254702245555"));
    }

    #[pg_test]
    fn the_operator_changes_a_tenants_number_slug_and_phone() {
        let (a, b) = two_tenants();
        act_as("alphadome_admin", Context::None);
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET whatsapp_phone_number_id = '109876543210', slug = 'renamed',
                        client_phone = '+254 722 000 111', client_email = 'x@shop.co.ke' WHERE id = $1[1]::uuid",
                &[&a]
            ),
            "ok 1"
        );
        // The same guards as create_tenant: format, uniqueness, the id.
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET slug = 'Bad Slug' WHERE id = $1[1]::uuid",
                &[a.as_str()]
            ),
            "23514"
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET slug = 'tenant-b' WHERE id = $1[1]::uuid",
                &[a.as_str()]
            ),
            "23505"
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET client_email = 'x@y' WHERE id = $1[1]::uuid",
                &[a.as_str()]
            ),
            "22023"
        );
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_tenants SET id = gen_random_uuid() WHERE id = $1[1]::uuid",
                &[a.as_str()]
            ),
            "42501"
        );
        act_as_superuser();
        assert_eq!(
            tenant_field(&a, "whatsapp_phone_number_id").as_deref(),
            Some("109876543210")
        );
        assert_eq!(
            tenant_field(&a, "client_phone").as_deref(),
            Some("254722000111")
        );
        assert_eq!(tenant_field(&a, "slug").as_deref(), Some("renamed"));
        let routed = one::<String>(
            "SELECT alphadome.tenant_for_phone_number_id('109876543210')::text",
            &[],
        );
        assert_eq!(routed.as_deref(), Some(a.as_str()));
        assert_eq!(tenant_field(&b, "slug").as_deref(), Some("tenant-b"));
    }

    #[pg_test]
    fn set_credentials_keeps_what_is_not_given_refuses_past_expiries_and_audits() {
        let (a, _) = two_tenants();
        run(
            "UPDATE alphadome.bot_tenants SET token_expires_at = '2099-01-01' WHERE id = $1::uuid",
            &[a.as_str().into()],
        );
        act_as("alphadome_admin", Context::None);
        run(
            "SELECT alphadome.set_credentials($1::uuid, whatsapp_access_token => 'EAAtest-rotated-token-0001')",
            &[a.as_str().into()],
        );
        assert_eq!(
            outcome("SELECT alphadome.set_credentials($1[1]::uuid, token_expires_at => now() - interval '1 hour')", &[a.as_str()]),
            "22023"
        );
        act_as_superuser();
        assert_eq!(
            tenant_field(&a, "token_expires_at::date").as_deref(),
            Some("2099-01-01"),
            "a new token without an expiry keeps the one set"
        );
        let audited = one::<String>(
            "SELECT string_agg(credential || ':' || purpose || ':' || acting_role, ',')
               FROM alphadome.credential_audit WHERE bot_tenant_id = $1::uuid AND purpose LIKE 'set_credentials%'",
            &[a.as_str().into()],
        );
        assert_eq!(
            audited.as_deref(),
            Some("whatsapp_access_token:set_credentials: a new value:alphadome_admin")
        );
        run(
            "SELECT alphadome.set_credentials($1::uuid, token_expires_at => 'infinity')",
            &[a.as_str().into()],
        );
        let expiring = one::<i64>(
            "SELECT count(*) FROM alphadome.expiring_credentials('10 years') WHERE tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(expiring, Some(0), "infinity never expires");
    }

    #[pg_test]
    fn assemble_prompt_finds_the_customer_however_the_number_is_written_and_skips_dry_run_replies()
    {
        let (a, _) = two_tenants();
        run(
            "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id)
                        VALUES ($1::uuid, '254700000403', '254700000403') RETURNING bot_tenant_id, id)
             INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body, status)
             SELECT bot_tenant_id, id, 'inbound', 'w.1', 'Do you sell violins?', 'received' FROM c
             UNION ALL SELECT bot_tenant_id, id, 'outbound', 'w.2', '(dry run: the AI would answer here)', 'simulated' FROM c
             UNION ALL SELECT bot_tenant_id, id, 'outbound', 'w.3', 'Yes, from KES 15,000.', 'sent' FROM c",
            &[a.as_str().into()],
        );
        let history = |customer: &str| {
            one::<String>(
                "SELECT string_agg(m ->> 'content', ' | ')
                   FROM jsonb_array_elements(alphadome.assemble_prompt($1::uuid, $2, 'And cellos?') -> 'messages') m
                  WHERE m ->> 'role' <> 'system'",
                &[a.as_str().into(), customer.into()],
            )
            .unwrap()
        };
        let expected = "Do you sell violins? | Yes, from KES 15,000. | And cellos?";
        assert_eq!(history("254700000403"), expected);
        assert_eq!(history("+254 700 000 403"), expected, "the same customer");
        assert_eq!(
            history("0700000403"),
            expected,
            "a local number, in the tenant's country"
        );
    }

    /// \d+ and \df+ say what each thing is: every public function, table, view and column of
    /// the schema carries a COMMENT.
    #[pg_test]
    fn every_public_object_is_described() {
        let missing = one::<String>(
            "SELECT string_agg(what, ', ' ORDER BY what) FROM (
                 SELECT p.oid::regprocedure::text AS what FROM pg_proc p
                  WHERE p.pronamespace = 'alphadome'::regnamespace AND p.proname !~ '^_'
                    AND obj_description(p.oid, 'pg_proc') IS NULL
                 UNION ALL
                 SELECT c.oid::regclass::text FROM pg_class c
                  WHERE c.relnamespace = 'alphadome'::regnamespace AND c.relkind IN ('r', 'v')
                    AND obj_description(c.oid, 'pg_class') IS NULL
                 UNION ALL
                 SELECT c.oid::regclass::text || '.' || a.attname FROM pg_class c
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  WHERE c.relnamespace = 'alphadome'::regnamespace AND c.relkind = 'r'
                    AND col_description(c.oid, a.attnum) IS NULL) undescribed",
            &[],
        );
        assert_eq!(missing, None, "objects without a COMMENT");
        assert!(one::<String>(
            "SELECT obj_description('alphadome'::regnamespace, 'pg_namespace')",
            &[]
        )
        .is_some());
    }
}

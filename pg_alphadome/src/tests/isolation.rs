//! The row-level security matrix: every tenant table × SELECT, INSERT, UPDATE, DELETE ×
//! {own context, another tenant's, none, JWT claims} as alphadome_tenant.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    /// (table, tenant column, a column the tenant role may update if any, INSERT of one row for $1[1])
    const TABLES: [(&str, &str, Option<&str>, &str); 13] = [
        ("bot_tenants", "id", None,
         "INSERT INTO alphadome.bot_tenants (id, slug, client_name, client_phone, whatsapp_phone_number_id, whatsapp_access_token)
          VALUES ($1[1]::uuid, 'intruder', 'x', '254799999999', '999', '\\x00')"),
        ("bot_templates", "bot_tenant_id", Some("is_active"),
         "INSERT INTO alphadome.bot_templates (bot_tenant_id, template_name, system_prompt) VALUES ($1[1]::uuid, 'intruder', 'x')"),
        ("bot_training_data", "bot_tenant_id", Some("is_active"),
         "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES ($1[1]::uuid, 'faq', 'intruder?', 'x')"),
        ("bot_control_settings", "bot_tenant_id", Some("is_bot_enabled"),
         "INSERT INTO alphadome.bot_control_settings (bot_tenant_id) VALUES ($1[1]::uuid)"),
        ("conversations", "bot_tenant_id", Some("handoff_at"),
         "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key) VALUES ($1[1]::uuid, 'intruder')"),
        ("messages", "bot_tenant_id", None,
         "INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction) VALUES ($1[1]::uuid, 1, 'inbound')"),
        ("credential_audit", "bot_tenant_id", None,
         "INSERT INTO alphadome.credential_audit (bot_tenant_id, credential, purpose) VALUES ($1[1]::uuid, 'x', 'x')"),
        ("outbox", "bot_tenant_id", None,
         "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload) VALUES ($1[1]::uuid, 'alert.send', '{}')"),
        ("reply_counters", "bot_tenant_id", None,
         "INSERT INTO alphadome.reply_counters (bot_tenant_id, hour, shard) VALUES ($1[1]::uuid, now(), 99)"),
        ("faq_deleted", "bot_tenant_id", None,
         "INSERT INTO alphadome.faq_deleted (bot_tenant_id, entry) VALUES ($1[1]::uuid, '{}')"),
        ("usage_days", "bot_tenant_id", None,
         "INSERT INTO alphadome.usage_days (bot_tenant_id, day) VALUES ($1[1]::uuid, '2026-01-01')"),
        ("faq_embeddings", "bot_tenant_id", None,
         "INSERT INTO alphadome.faq_embeddings (bot_tenant_id, entry_id, text_sha256, model, embedding)
          VALUES ($1[1]::uuid, 1, sha256('x'), 'm', '{1}')"),
        ("faq_unanswered_handled", "bot_tenant_id", Some("outcome"),
         "INSERT INTO alphadome.faq_unanswered_handled (bot_tenant_id, question_key, outcome) VALUES ($1[1]::uuid, 'intruder', 'dismissed')"),
    ];

    fn count(table: &str, column: &str, tenant: &str) -> String {
        outcome(
            &format!("SELECT FROM alphadome.{table} WHERE {column} = $1[1]::uuid"),
            &[tenant],
        )
    }

    #[pg_test]
    fn rls_matrix_keeps_each_tenant_to_its_own_rows() {
        let (a, b) = two_tenants();
        // Every table has rows of both tenants to leak.
        for (table, column, _, _) in TABLES {
            assert_eq!(
                count(table, column, &a),
                "ok 1",
                "{table}: fixture row of A"
            );
            assert!(
                count(table, column, &b).starts_with("ok ") && count(table, column, &b) != "ok 0",
                "{table}: fixture row of B"
            );
        }
        let contexts: [(&str, Context, bool); 4] = [
            ("own setting", Context::Setting(&a), true),
            ("own JWT claims", Context::JwtClaims(&a), true),
            ("another tenant's", Context::Setting(&b), false),
            ("none", Context::None, false),
        ];
        for (label, context, owns_a) in contexts {
            act_as("alphadome_tenant", context);
            for (table, column, updatable, insert) in TABLES {
                let case = format!("{table} with {label} context");
                // SELECT: never a row of another tenant than the context's; with no context, nothing.
                let foreign = outcome(&format!("SELECT FROM alphadome.{table} WHERE {column} IS DISTINCT FROM (SELECT alphadome._current_tenant())"), &[]);
                assert_eq!(foreign, "ok 0", "{case}: SELECT leaks");
                let visible_a = outcome(
                    &format!("SELECT FROM alphadome.{table} WHERE {column} = $1[1]::uuid"),
                    &[&a],
                );
                assert_eq!(
                    visible_a,
                    if owns_a { "ok 1" } else { "ok 0" },
                    "{case}: SELECT of A's rows"
                );
                if label == "none" {
                    assert_eq!(
                        outcome(&format!("SELECT FROM alphadome.{table}"), &[]),
                        "ok 0",
                        "{case}: no context, no rows"
                    );
                }
                // UPDATE and DELETE of A's rows: only with A's context, and only where granted.
                let update = updatable.map(|col| {
                    format!(
                        "UPDATE alphadome.{table} SET {col} = {col} WHERE {column} = $1[1]::uuid"
                    )
                });
                let delete = format!("DELETE FROM alphadome.{table} WHERE {column} = $1[1]::uuid");
                let deletable = matches!(
                    table,
                    "bot_templates"
                        | "bot_training_data"
                        | "faq_deleted"
                        | "faq_unanswered_handled"
                );
                match &update {
                    Some(sql) => assert_eq!(
                        outcome(sql, &[&a]),
                        if owns_a { "ok 1" } else { "ok 0" },
                        "{case}: UPDATE"
                    ),
                    None => assert_eq!(
                        outcome(
                            &format!("UPDATE alphadome.{table} SET {column} = {column}"),
                            &[]
                        ),
                        "42501",
                        "{case}: UPDATE"
                    ),
                }
                // A row never moves to another tenant.
                let target = if owns_a { &b } else { &a };
                assert_eq!(
                    outcome(
                        &format!("UPDATE alphadome.{table} SET {column} = $1[1]::uuid"),
                        &[target]
                    ),
                    "42501",
                    "{case}: move"
                );
                // INSERT for a tenant other than the context's fails.
                assert_eq!(
                    outcome(insert, &[target]),
                    "42501",
                    "{case}: INSERT for another tenant"
                );
                if deletable {
                    assert_eq!(
                        outcome(&delete, &[target]),
                        "ok 0",
                        "{case}: DELETE of another tenant's rows"
                    );
                } else {
                    assert_eq!(outcome(&delete, &[target]), "42501", "{case}: DELETE");
                }
            }
            act_as_superuser();
        }
        // Nothing of B's was touched by any of it.
        for (table, column, _, _) in TABLES {
            assert_ne!(
                count(table, column, &b),
                "ok 0",
                "{table}: B's rows survive"
            );
        }
    }

    #[pg_test]
    fn tenant_owner_edits_own_templates_faq_and_switches() {
        let (a, _) = two_tenants();
        act_as("alphadome_tenant", Context::JwtClaims(&a));
        // Rows inserted without naming the tenant belong to the context's tenant.
        assert_eq!(
            outcome("INSERT INTO alphadome.bot_training_data (data_type, question, answer, category) VALUES ('canned_reply', 'Thanks', 'You are welcome!', 'Business')", &[]),
            "ok 1"
        );
        assert_eq!(outcome("UPDATE alphadome.bot_control_settings SET enable_ai_responses = false, faq_confidence = 0.7", &[]), "ok 1");
        // The hourly limit and the prompt budget are the operator's: an owner cannot raise them.
        for operators in [
            "max_messages_per_hour = 100000",
            "prompt_budget_chars = 200000",
        ] {
            let update = format!("UPDATE alphadome.bot_control_settings SET {operators}");
            assert_eq!(outcome(&update, &[]), "42501", "{operators}");
        }
        assert_eq!(
            outcome(
                "UPDATE alphadome.bot_templates SET tone = 'professional'",
                &[]
            ),
            "ok 1"
        );
        assert_eq!(outcome("DELETE FROM alphadome.bot_templates", &[]), "ok 1");
        // Not is_active, not any credential, not the switch that turns the tenant off.
        assert_eq!(
            outcome("UPDATE alphadome.bot_tenants SET is_active = false", &[]),
            "42501"
        );
        assert_eq!(
            outcome(
                "SELECT whatsapp_access_token FROM alphadome.bot_tenants",
                &[]
            ),
            "42501"
        );
        assert_eq!(
            outcome("SELECT ai_api_key FROM alphadome.bot_tenants", &[]),
            "42501"
        );
        assert_eq!(
            outcome("SELECT app_secret FROM alphadome.bot_tenants", &[]),
            "42501"
        );
        assert_eq!(
            outcome(
                "SELECT webhook_verify_token FROM alphadome.bot_tenants",
                &[]
            ),
            "42501"
        );
        assert_eq!(outcome("SELECT * FROM alphadome.bot_tenants", &[]), "42501");
        assert_eq!(
            outcome(
                "SELECT slug, client_name, credential_status FROM alphadome.bot_tenants",
                &[]
            ),
            "ok 1"
        );
        act_as_superuser();
        let owned = one::<String>(
            "SELECT bot_tenant_id::text FROM alphadome.bot_training_data WHERE question = 'Thanks'",
            &[],
        );
        assert_eq!(owned.as_deref(), Some(a.as_str()));
        let settings = one::<bool>(
            "SELECT max_messages_per_hour = 200 AND NOT enable_ai_responses AND faq_confidence = 0.7::real
               FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(settings, Some(true));
    }

    #[pg_test]
    fn a_malformed_tenant_context_is_an_error_not_a_guess() {
        two_tenants();
        act_as("alphadome_tenant", Context::Setting("not-a-uuid"));
        let result = outcome("SELECT FROM alphadome.bot_templates", &[]);
        act_as_superuser();
        assert_eq!(result, "22023");
    }

    #[pg_test]
    fn relay_role_reads_no_table_directly() {
        two_tenants();
        act_as("alphadome_relay", Context::None);
        for (table, _, _, _) in TABLES {
            assert_eq!(
                outcome(&format!("SELECT FROM alphadome.{table}"), &[]),
                "42501",
                "{table}"
            );
        }
        act_as_superuser();
    }
}

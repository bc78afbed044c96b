//! security_check(): all ok as installed; each deliberate break flips its own row.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    fn failing_checks() -> Vec<String> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT check_name FROM alphadome.security_check() WHERE NOT ok ORDER BY 1",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect()
        })
    }

    fn only_failing(check: &str) {
        assert_eq!(failing_checks(), vec![check.to_string()]);
    }

    /// The detail of a failing check: what is wrong and the fix.
    fn detail(check: &str) -> String {
        one::<String>(
            "SELECT detail FROM alphadome.security_check() WHERE check_name = $1",
            &[check.into()],
        )
        .unwrap()
    }

    #[pg_test]
    fn all_checks_pass_as_installed() {
        two_tenants();
        run(
            "CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
             CREATE ROLE console_login LOGIN NOINHERIT; GRANT alphadome_console, alphadome_tenant, alphadome_admin TO console_login",
            &[],
        );
        assert_eq!(failing_checks(), Vec::<String>::new());
        assert_eq!(
            one::<i64>("SELECT count(*) FROM alphadome.security_check()", &[]),
            Some(10)
        );
    }

    #[pg_test]
    fn rls_not_forced_is_reported() {
        run(
            "ALTER TABLE alphadome.messages NO FORCE ROW LEVEL SECURITY",
            &[],
        );
        only_failing("rls_forced_on_tenant_tables");
    }

    #[pg_test]
    fn a_side_table_with_tenant_rows_and_no_rls_is_reported() {
        run(
            "CREATE TABLE public.tenant_notes (bot_tenant_id uuid, note text)",
            &[],
        );
        only_failing("rls_forced_on_tenant_tables");
    }

    #[pg_test]
    fn a_public_security_definer_function_is_reported() {
        run(
            "GRANT EXECUTE ON FUNCTION alphadome.tenant_credential(uuid, text, text) TO PUBLIC",
            &[],
        );
        assert_eq!(
            failing_checks(),
            vec![
                "grants_only_to_extension_roles",
                "security_definer_not_public"
            ]
        );
    }

    #[pg_test]
    fn a_security_definer_function_without_search_path_is_reported() {
        run("ALTER FUNCTION alphadome.set_credentials(uuid, text, text, text, timestamptz) RESET search_path", &[]);
        only_failing("security_definer_search_path");
    }

    #[pg_test]
    fn a_key_file_others_can_read_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("alphadome-check-key-{}", std::process::id()));
        std::fs::write(&path, format!("k1:{}\n", "cd".repeat(32))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        run(
            "SELECT set_config('alphadome.master_key_file', $1, true)",
            &[path.to_string_lossy().as_ref().into()],
        );
        only_failing("master_key_file");
        run(
            "SELECT set_config('alphadome.master_key_file', '', true)",
            &[],
        );
        only_failing("master_key_file");
        let _ = std::fs::remove_file(path);
    }

    #[pg_test]
    fn a_credential_column_readable_by_tenants_is_reported() {
        run(
            "GRANT SELECT (ai_api_key) ON alphadome.bot_tenants TO alphadome_tenant",
            &[],
        );
        only_failing("tenant_cannot_read_credentials");
    }

    #[pg_test]
    fn a_table_grant_to_public_is_reported_too() {
        run("GRANT SELECT ON alphadome.bot_tenants TO PUBLIC", &[]);
        assert_eq!(
            failing_checks(),
            vec![
                "grants_only_to_extension_roles",
                "tenant_cannot_read_credentials"
            ]
        );
    }

    #[pg_test]
    fn a_superuser_relay_login_is_reported() {
        run(
            "CREATE ROLE relay_root LOGIN SUPERUSER; GRANT alphadome_relay TO relay_root",
            &[],
        );
        only_failing("relay_role_least_privilege");
    }

    #[pg_test]
    fn a_bypassrls_relay_login_through_another_role_is_reported() {
        run(
            "CREATE ROLE relay_group NOLOGIN; GRANT alphadome_relay TO relay_group;
             CREATE ROLE relay_bypass LOGIN BYPASSRLS; GRANT relay_group TO relay_bypass",
            &[],
        );
        only_failing("relay_role_least_privilege");
    }

    #[pg_test]
    fn a_console_login_that_inherits_the_operators_rights_is_reported() {
        run(
            "CREATE ROLE console_inherits LOGIN; GRANT alphadome_console, alphadome_admin TO console_inherits",
            &[],
        );
        only_failing("console_role_least_privilege");
    }

    #[pg_test]
    fn a_bypassrls_console_login_is_reported() {
        run(
            "CREATE ROLE console_bypass LOGIN NOINHERIT BYPASSRLS; GRANT alphadome_console TO console_bypass",
            &[],
        );
        only_failing("console_role_least_privilege");
    }

    // Issue 23: the three holes security_check() did not see.

    #[pg_test]
    fn a_bypassrls_owner_login_is_reported() {
        run(
            "CREATE ROLE owner_bypass LOGIN BYPASSRLS; GRANT alphadome_tenant TO owner_bypass",
            &[],
        );
        only_failing("tenant_roles_least_privilege");
        assert!(detail("tenant_roles_least_privilege").contains("owner_bypass (bypassrls)"));
    }

    #[pg_test]
    fn a_grant_to_public_on_a_table_without_credentials_is_reported() {
        run("GRANT SELECT ON alphadome.webhook_events TO PUBLIC", &[]);
        only_failing("grants_only_to_extension_roles");
        let said = detail("grants_only_to_extension_roles");
        assert!(
            said.contains("alphadome.webhook_events to PUBLIC"),
            "{said}"
        );
        assert!(said.contains("Fix: REVOKE"), "{said}");
    }

    #[pg_test]
    fn a_grant_to_a_role_outside_the_extensions_is_reported() {
        run(
            "CREATE ROLE reporting_login LOGIN;
             GRANT SELECT (body) ON alphadome.messages TO reporting_login",
            &[],
        );
        only_failing("grants_only_to_extension_roles");
        assert!(detail("grants_only_to_extension_roles")
            .contains("alphadome.messages.body to reporting_login"));
    }

    #[pg_test]
    fn a_relay_login_that_is_also_the_operator_is_reported() {
        run(
            "CREATE ROLE relay_and_admin LOGIN; GRANT alphadome_relay, alphadome_admin TO relay_and_admin",
            &[],
        );
        only_failing("relay_is_not_operator");
        assert!(detail("relay_is_not_operator").contains("relay_and_admin"));
    }
}

-- The deployment's isolation self-check (docs/design.md section 3): one row per check, ok or not,
-- with what is wrong. `alphadome-relay check` prints it and fails when a row is not ok.
CREATE OR REPLACE FUNCTION alphadome.security_check() RETURNS TABLE (check_name text, ok boolean, detail text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text;
BEGIN
    -- 1. Every table with tenant rows (anywhere in the database) has RLS enabled and forced.
    SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.oid::regclass::text) INTO bad
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND (c.oid = 'alphadome.bot_tenants'::regclass
            OR EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'bot_tenant_id' AND NOT a.attisdropped))
       AND NOT (c.relrowsecurity AND c.relforcerowsecurity);
    check_name := 'rls_forced_on_tenant_tables'; ok := bad IS NULL;
    detail := coalesce('RLS not enabled and forced on: ' || bad, 'every table with bot_tenant_id has RLS enabled and forced');
    RETURN NEXT;

    -- 2. No SECURITY DEFINER function of the extension's schema is executable by PUBLIC.
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text) INTO bad
      FROM pg_proc p
     WHERE p.pronamespace = 'alphadome'::regnamespace AND p.prosecdef
       AND EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                    WHERE acl.grantee = 0 AND acl.privilege_type = 'EXECUTE');
    check_name := 'security_definer_not_public'; ok := bad IS NULL;
    detail := coalesce('executable by PUBLIC: ' || bad, 'no SECURITY DEFINER function is executable by PUBLIC');
    RETURN NEXT;

    -- 3. Every SECURITY DEFINER function fixes its search_path.
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text) INTO bad
      FROM pg_proc p
     WHERE p.pronamespace = 'alphadome'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT FROM unnest(p.proconfig) setting WHERE setting LIKE 'search_path=%');
    check_name := 'security_definer_search_path'; ok := bad IS NULL;
    detail := coalesce('no fixed search_path: ' || bad, 'every SECURITY DEFINER function sets search_path');
    RETURN NEXT;

    -- 4. The master key file: set, readable by the server, private to its OS user, valid.
    bad := alphadome._master_key_file_problem();
    check_name := 'master_key_file'; ok := bad IS NULL;
    detail := coalesce(bad, 'set, readable by the server only, and holds valid keys');
    RETURN NEXT;

    -- 5. Tenant owners cannot read any credential column, not even their own.
    SELECT string_agg(col, ', ') INTO bad
      FROM unnest(ARRAY['whatsapp_access_token', 'ai_api_key', 'app_secret', 'webhook_verify_token']) col
     WHERE has_column_privilege('alphadome_tenant', 'alphadome.bot_tenants'::regclass, col, 'SELECT');
    check_name := 'tenant_cannot_read_credentials'; ok := bad IS NULL;
    detail := coalesce('alphadome_tenant can read: ' || bad, 'no credential column is readable by alphadome_tenant');
    RETURN NEXT;

    -- 6. The relay group, and every role granted it (directly or through other roles), is
    --    neither superuser nor BYPASSRLS.
    WITH RECURSIVE relay_roles (oid) AS (
        SELECT 'alphadome_relay'::regrole::oid
        UNION
        SELECT m.member FROM pg_auth_members m JOIN relay_roles g ON m.roleid = g.oid
    )
    SELECT string_agg(r.rolname || CASE WHEN r.rolsuper THEN ' (superuser)' ELSE ' (bypassrls)' END, ', ' ORDER BY r.rolname)
      INTO bad
      FROM pg_roles r JOIN relay_roles g ON g.oid = r.oid
     WHERE r.rolsuper OR r.rolbypassrls;
    check_name := 'relay_role_least_privilege'; ok := bad IS NULL;
    detail := coalesce('relay roles with too much privilege: ' || bad, 'no relay role is superuser or BYPASSRLS');
    RETURN NEXT;

    -- 7. The console's login, and every role granted alphadome_console, is neither superuser
    --    nor BYPASSRLS, and a login that may act as the operator or an owner does not inherit
    --    those rights (NOINHERIT): it has them only after the SET ROLE the console makes per
    --    request, once console_session() has set the tenant context.
    WITH RECURSIVE console_roles (oid) AS (
        SELECT 'alphadome_console'::regrole::oid
        UNION
        SELECT m.member FROM pg_auth_members m JOIN console_roles g ON m.roleid = g.oid
    )
    SELECT string_agg(r.rolname || CASE WHEN r.rolsuper THEN ' (superuser)'
                                        WHEN r.rolbypassrls THEN ' (bypassrls)'
                                        ELSE ' (inherits the rights it acts with: make it NOINHERIT)' END,
                      ', ' ORDER BY r.rolname)
      INTO bad
      FROM pg_roles r JOIN console_roles g ON g.oid = r.oid
     WHERE r.rolsuper OR r.rolbypassrls
        OR (r.rolcanlogin AND r.rolinherit
            AND (pg_has_role(r.oid, 'alphadome_admin', 'MEMBER') OR pg_has_role(r.oid, 'alphadome_tenant', 'MEMBER')));
    check_name := 'console_role_least_privilege'; ok := bad IS NULL;
    detail := coalesce('console roles with too much privilege: ' || bad,
                       'no console role is superuser or BYPASSRLS or inherits the operator''s or an owner''s rights');
    RETURN NEXT;

    -- 8. No owner's, staff's or monitor's login (a member of alphadome_tenant, alphadome_agent or
    --    alphadome_monitor, directly or not) is superuser or BYPASSRLS: row-level security would
    --    not keep it to its tenant. (The relay's and console's are checks 6 and 7.)
    WITH RECURSIVE tenant_roles (oid) AS (
        SELECT r.oid FROM pg_roles r WHERE r.rolname IN ('alphadome_tenant', 'alphadome_agent', 'alphadome_monitor')
        UNION
        SELECT m.member FROM pg_auth_members m JOIN tenant_roles g ON m.roleid = g.oid
    )
    SELECT string_agg(DISTINCT r.rolname || CASE WHEN r.rolsuper THEN ' (superuser)' ELSE ' (bypassrls)' END, ', ')
      INTO bad
      FROM pg_roles r JOIN tenant_roles g ON g.oid = r.oid
     WHERE r.rolsuper OR r.rolbypassrls;
    check_name := 'tenant_roles_least_privilege'; ok := bad IS NULL;
    detail := coalesce('owner, staff or monitor roles that row-level security does not hold: ' || bad
                       || '. Fix: ALTER ROLE ... NOSUPERUSER NOBYPASSRLS, or REVOKE the alphadome role from it',
                       'no role granted alphadome_tenant, alphadome_agent or alphadome_monitor is superuser or BYPASSRLS');
    RETURN NEXT;

    -- 9. The extension's schema, tables, views, sequences, columns and functions are granted to
    --    nobody but the extension's roles: not PUBLIC, not another role (a grant made by hand
    --    bypasses the design's roles). normalize_phone is PUBLIC on purpose.
    WITH acls (what, acl, owner) AS (
        SELECT 'schema alphadome', n.nspacl, n.nspowner FROM pg_namespace n WHERE n.nspname = 'alphadome'
        UNION ALL
        SELECT c.oid::regclass::text, c.relacl, c.relowner FROM pg_class c
         WHERE c.relnamespace = 'alphadome'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        UNION ALL
        SELECT c.oid::regclass::text || '.' || a.attname, a.attacl, c.relowner
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = 'alphadome'::regnamespace AND a.attacl IS NOT NULL AND a.attnum > 0
        UNION ALL
        SELECT p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner FROM pg_proc p
         WHERE p.pronamespace = 'alphadome'::regnamespace
           AND p.oid <> 'alphadome.normalize_phone(text, text)'::regprocedure
    )
    SELECT string_agg(DISTINCT x.what || ' to ' || CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE e.grantee::regrole::text END,
                      ', ')
      INTO bad
      FROM acls x CROSS JOIN LATERAL aclexplode(x.acl) e
     WHERE e.grantee <> x.owner
       AND (e.grantee = 0 OR e.grantee::regrole::text NOT IN ('alphadome_admin', 'alphadome_relay', 'alphadome_tenant',
                                                               'alphadome_console', 'alphadome_agent', 'alphadome_monitor'));
    check_name := 'grants_only_to_extension_roles'; ok := bad IS NULL;
    detail := coalesce('granted outside the extension''s roles: ' || bad
                       || '. Fix: REVOKE the grant, and GRANT the matching alphadome_* role to the login instead',
                       'nothing of the extension is granted to PUBLIC or to a role outside alphadome_*');
    RETURN NEXT;

    -- 10. A relay login is not also the operator: a relay holding alphadome_admin reads every
    --     tenant's rows and calls tenant_credential, and a leaked relay password is then the
    --     operator's.
    WITH RECURSIVE relay_roles (oid) AS (
        SELECT 'alphadome_relay'::regrole::oid
        UNION
        SELECT m.member FROM pg_auth_members m JOIN relay_roles g ON m.roleid = g.oid
    ), admin_roles (oid) AS (
        SELECT 'alphadome_admin'::regrole::oid
        UNION
        SELECT m.member FROM pg_auth_members m JOIN admin_roles g ON m.roleid = g.oid
    )
    SELECT string_agg(r.rolname, ', ' ORDER BY r.rolname) INTO bad
      FROM pg_roles r
     WHERE r.oid IN (SELECT oid FROM relay_roles) AND r.oid IN (SELECT oid FROM admin_roles)
       AND r.rolname NOT IN ('alphadome_relay', 'alphadome_admin');
    check_name := 'relay_is_not_operator'; ok := bad IS NULL;
    detail := coalesce('relay roles that are also alphadome_admin: ' || bad
                       || '. Fix: REVOKE alphadome_admin FROM the relay''s login; the operator gets a login of his own',
                       'no relay role is a member of alphadome_admin');
    RETURN NEXT;
END
$$;

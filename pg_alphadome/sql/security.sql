-- Tenant context and row-level security (docs/design.md section 3).

-- The tenant of this transaction: `SET LOCAL alphadome.tenant_id = '<uuid>'`, else the
-- `tenant_id` claim (top level, or in app_metadata) of `request.jwt.claims`, as PostgREST and
-- Supabase set it. NULL means no context, and every policy then matches no row.
CREATE OR REPLACE FUNCTION alphadome._current_tenant() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    context text := nullif(current_setting('alphadome.tenant_id', true), '');
    claims  jsonb;
BEGIN
    IF context IS NULL THEN
        claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
        context := coalesce(claims ->> 'tenant_id', claims -> 'app_metadata' ->> 'tenant_id');
    END IF;
    IF context IS NULL THEN
        RETURN NULL;
    END IF;
    IF context !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'tenant context is not a uuid'
            USING ERRCODE = '22023',
                  HINT = 'SET LOCAL alphadome.tenant_id = ''<uuid>'', or a tenant_id claim in request.jwt.claims';
    END IF;
    RETURN context::uuid;
END
$$;

-- Rows a tenant owner inserts belong to its own tenant without naming it.
ALTER TABLE alphadome.bot_templates ALTER COLUMN bot_tenant_id SET DEFAULT alphadome._current_tenant();
ALTER TABLE alphadome.bot_training_data ALTER COLUMN bot_tenant_id SET DEFAULT alphadome._current_tenant();

-- Every table with tenant rows: RLS enabled and forced; the tenant role sees its own rows only
-- (the sub-select evaluates the context once per statement); the operator sees all.
DO $rls$
DECLARE
    t text;
    tenant_column text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bot_tenants', 'bot_templates', 'bot_training_data', 'bot_control_settings',
                             'conversations', 'messages', 'credential_audit', 'outbox', 'reply_counters',
                             'alerts', 'console_accounts', 'whatsapp_templates', 'tenant_pauses', 'dead_letters',
                             'faq_deleted', 'usage_days', 'customer_erasures', 'products', 'orders', 'payments',
                             'mpesa_accounts', 'campaigns', 'campaign_recipients', 'faq_embeddings',
                             'faq_unanswered_handled'] LOOP
        tenant_column := CASE t WHEN 'bot_tenants' THEN 'id' ELSE 'bot_tenant_id' END;
        EXECUTE pg_catalog.format('ALTER TABLE alphadome.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE alphadome.%I FORCE ROW LEVEL SECURITY', t);
        -- Policies cannot be replaced in place: an upgrade runs this again and makes them anew.
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS tenant_own_rows ON alphadome.%I', t);
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS operator_all_rows ON alphadome.%I', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY tenant_own_rows ON alphadome.%I TO alphadome_tenant, alphadome_agent
               USING (%I = (SELECT alphadome._current_tenant()))
               WITH CHECK (%I = (SELECT alphadome._current_tenant()))', t, tenant_column, tenant_column);
        EXECUTE pg_catalog.format(
            'CREATE POLICY operator_all_rows ON alphadome.%I TO alphadome_admin USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$rls$;

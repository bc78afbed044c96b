-- pg_alphadome 0.1.0 → 0.2.0, written by hand. ALTER EXTENSION pg_alphadome UPDATE runs it in
-- one transaction; afterwards the schema equals a fresh 0.2.0 install (tests/tests/upgrade.rs
-- compares the two). Every schema change of 0.2.0 goes here, in the order of the fresh install.

-- pg_dump keeps the identity sequences' positions (0.1.0 restored them at 1).
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_templates_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_training_data_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.conversations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.messages_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.credential_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.webhook_events_id_seq', '');

-- A failing call of a function that takes a secret no longer logs the calling statement.
ALTER FUNCTION alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz)
    SET log_min_error_statement = 'panic';
ALTER FUNCTION alphadome.set_credentials(uuid, text, text, text, timestamptz)
    SET log_min_error_statement = 'panic';
ALTER FUNCTION alphadome.set_webhook_verify_token(uuid, text)
    SET log_min_error_statement = 'panic';

-- The relay keeps the per-tenant routes in memory and follows changes (LISTEN alphadome_tenants).
-- The per-tenant webhook routes the relay serves (/webhook/{slug}): every active tenant, with
-- the time its row last changed, whether it has an app secret, and its verify token's sha256.
-- The relay keeps them in memory and decrypts a tenant's app secret only when that row changed,
-- so a webhook's signature is checked before the database or a credential is touched, and a
-- stranger's requests write no audit rows.
CREATE FUNCTION alphadome.webhook_routes()
    RETURNS TABLE (slug text, tenant_id uuid, changed_at timestamptz, has_app_secret boolean,
                   verify_token_sha256 bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.slug, t.id, t.updated_at, t.app_secret IS NOT NULL, t.webhook_verify_token
      FROM alphadome.bot_tenants t
     WHERE t.is_active
     ORDER BY t.slug;
END;

-- Tells the relay (LISTEN alphadome_tenants) that tenants changed, so its routes follow at once.
-- ALWAYS: also under session_replication_role = replica (logical replication's apply).
CREATE FUNCTION alphadome._notify_tenants_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('alphadome_tenants', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alphadome.bot_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._notify_tenants_changed();
ALTER TABLE alphadome.bot_tenants ENABLE ALWAYS TRIGGER tenants_notify;
REVOKE ALL ON FUNCTION alphadome.webhook_routes(), alphadome._notify_tenants_changed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome.webhook_routes() TO alphadome_admin, alphadome_relay;

-- fail_job schedules a retry exactly when the caller says: the relay adds the jitter.
CREATE OR REPLACE FUNCTION alphadome.fail_job(job_id bigint, error jsonb, retry_in_seconds integer DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job alphadome.outbox := alphadome._running_job(job_id);
    client text;  -- the tenant's name, read only for an alert
BEGIN
    IF retry_in_seconds < 0 THEN
        RAISE EXCEPTION 'retry_in_seconds must not be negative' USING ERRCODE = '22023';
    END IF;
    IF fail_job.error ->> 'class' = 'auth' OR job.kind = 'reply.generate' THEN
        client := (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = job.bot_tenant_id);
    END IF;
    IF fail_job.error ->> 'class' = 'auth' AND job.kind IN ('reply.send', 'alert.send') THEN
        UPDATE alphadome.bot_tenants t SET credential_status = 'needs_reauth' WHERE t.id = job.bot_tenant_id;
        UPDATE alphadome.outbox o
           SET status = 'queued', attempts = o.attempts - 1, run_at = now(), lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        PERFORM alphadome._alert(job.bot_tenant_id,
                    client || ': Meta refused the WhatsApp access token; the bot is paused until a new token is set.',
                    'needs_reauth:' || current_date);
    ELSIF retry_in_seconds IS NULL OR job.attempts >= job.max_attempts THEN
        UPDATE alphadome.outbox o SET status = 'dead', lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        IF job.kind = 'reply.generate' THEN
            PERFORM alphadome._send_answer(job, NULL);
            PERFORM alphadome._alert(job.bot_tenant_id,
                        client || ': the AI could not answer customer +' || coalesce(job.payload ->> 'customer', '?')
                        || ' (' || coalesce(fail_job.error ->> 'message', 'error') || '); the fallback message was sent.');
        ELSE
            PERFORM alphadome._log_outbound(job, NULL, 'failed', fail_job.error);
        END IF;
    ELSE
        UPDATE alphadome.outbox o
           SET status = 'queued', lease_until = NULL, last_error = fail_job.error,
               run_at = now() + make_interval(secs => retry_in_seconds)
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
    END IF;
END
$$;

-- The credential lifecycle (docs/design.md section 4): expiry and rotation monitoring, master key
-- rotation, webhook verify tokens, and pruning of the append-only audit.

-- Tenants whose credentials need the operator: one row per (tenant, reason), reason being
-- 'expired', 'expires_soon' (within the interval), 'rotation_due' (token older than 90 days)
-- or 'needs_reauth' (Meta refused the token). Active tenants only.
CREATE OR REPLACE FUNCTION alphadome.expiring_credentials(within interval DEFAULT '14 days')
    RETURNS TABLE (tenant_id uuid, slug text, client_name text, reason text,
                   token_expires_at timestamptz, token_rotated_at timestamptz, credential_status text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.id, t.slug, t.client_name, r.reason, t.token_expires_at, t.token_rotated_at, t.credential_status
      FROM alphadome.bot_tenants t
     CROSS JOIN LATERAL (VALUES
               (CASE WHEN t.token_expires_at <= now() THEN 'expired'
                     WHEN t.token_expires_at <= now() + expiring_credentials.within THEN 'expires_soon' END),
               (CASE WHEN t.token_rotated_at <= now() - interval '90 days' THEN 'rotation_due' END),
               (CASE WHEN t.credential_status = 'needs_reauth' THEN 'needs_reauth' END)) AS r (reason)
     WHERE r.reason IS NOT NULL AND t.is_active
     ORDER BY t.slug, r.reason;
END;

-- Re-encrypts one stored credential under the current master key, auditing the decryption.
CREATE OR REPLACE FUNCTION alphadome._reencrypt(tenant_id uuid, credential text, stored bytea) RETURNS bytea
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM alphadome._audit_credential_access(_reencrypt.tenant_id, _reencrypt.credential, 'master key rotation', NULL);
    RETURN alphadome._encrypt_credential(_reencrypt.tenant_id, _reencrypt.credential,
               alphadome._decrypt_credential(_reencrypt.tenant_id, _reencrypt.credential, _reencrypt.stored));
END
$$;

-- Re-encrypts every credential not yet under the current (last) key of the key file, a batch
-- of tenants at a time, and returns how many credentials it re-encrypted. Rows another
-- transaction holds are skipped (SKIP LOCKED): call again until it returns 0. Readers keep
-- decrypting throughout: the old key stays in the file until the operator removes it.
CREATE OR REPLACE FUNCTION alphadome.rotate_master_key(batch_size integer DEFAULT 1000) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_key text;
    tenant record;
    account record;
    batch integer;
    rotated bigint := 0;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = '22023';
    END IF;
    LOOP
        -- Read each batch: a key added to the file meanwhile becomes the target.
        current_key := alphadome._current_master_key_id();
        batch := 0;
        FOR tenant IN
            SELECT t.id, t.whatsapp_access_token, t.ai_api_key, t.app_secret
              FROM alphadome.bot_tenants t
             WHERE alphadome._credential_key_id(t.whatsapp_access_token) IS DISTINCT FROM current_key
                OR alphadome._credential_key_id(t.ai_api_key) <> current_key
                OR alphadome._credential_key_id(t.app_secret) <> current_key
             ORDER BY t.id
             LIMIT batch_size
               FOR UPDATE SKIP LOCKED
        LOOP
            UPDATE alphadome.bot_tenants t SET
                whatsapp_access_token = CASE WHEN alphadome._credential_key_id(t.whatsapp_access_token) IS DISTINCT FROM current_key
                    THEN alphadome._reencrypt(t.id, 'whatsapp_access_token', t.whatsapp_access_token)
                    ELSE t.whatsapp_access_token END,
                ai_api_key = CASE WHEN alphadome._credential_key_id(t.ai_api_key) <> current_key
                    THEN alphadome._reencrypt(t.id, 'ai_api_key', t.ai_api_key) ELSE t.ai_api_key END,
                app_secret = CASE WHEN alphadome._credential_key_id(t.app_secret) <> current_key
                    THEN alphadome._reencrypt(t.id, 'app_secret', t.app_secret) ELSE t.app_secret END
             WHERE t.id = tenant.id;
            rotated := rotated
                + (alphadome._credential_key_id(tenant.whatsapp_access_token) IS DISTINCT FROM current_key)::int
                + coalesce((alphadome._credential_key_id(tenant.ai_api_key) <> current_key)::int, 0)
                + coalesce((alphadome._credential_key_id(tenant.app_secret) <> current_key)::int, 0);
            batch := batch + 1;
        END LOOP;
        EXIT WHEN batch = 0;
    END LOOP;
    -- 0.3.0: the M-Pesa credentials (mpesa_accounts), the same way.
    LOOP
        current_key := alphadome._current_master_key_id();
        batch := 0;
        FOR account IN
            SELECT a.bot_tenant_id, a.consumer_key, a.consumer_secret, a.passkey, a.callback_token
              FROM alphadome.mpesa_accounts a
             WHERE alphadome._credential_key_id(a.consumer_key) <> current_key
                OR alphadome._credential_key_id(a.consumer_secret) <> current_key
                OR alphadome._credential_key_id(a.passkey) <> current_key
                OR alphadome._credential_key_id(a.callback_token) <> current_key
             ORDER BY a.bot_tenant_id
             LIMIT batch_size
               FOR UPDATE SKIP LOCKED
        LOOP
            UPDATE alphadome.mpesa_accounts a SET
                consumer_key = CASE WHEN alphadome._credential_key_id(a.consumer_key) <> current_key
                    THEN alphadome._reencrypt(a.bot_tenant_id, 'mpesa_consumer_key', a.consumer_key) ELSE a.consumer_key END,
                consumer_secret = CASE WHEN alphadome._credential_key_id(a.consumer_secret) <> current_key
                    THEN alphadome._reencrypt(a.bot_tenant_id, 'mpesa_consumer_secret', a.consumer_secret) ELSE a.consumer_secret END,
                passkey = CASE WHEN alphadome._credential_key_id(a.passkey) <> current_key
                    THEN alphadome._reencrypt(a.bot_tenant_id, 'mpesa_passkey', a.passkey) ELSE a.passkey END,
                callback_token = CASE WHEN alphadome._credential_key_id(a.callback_token) <> current_key
                    THEN alphadome._reencrypt(a.bot_tenant_id, 'mpesa_callback_token', a.callback_token) ELSE a.callback_token END
             WHERE a.bot_tenant_id = account.bot_tenant_id;
            rotated := rotated
                + (alphadome._credential_key_id(account.consumer_key) <> current_key)::int
                + (alphadome._credential_key_id(account.consumer_secret) <> current_key)::int
                + (alphadome._credential_key_id(account.passkey) <> current_key)::int
                + (alphadome._credential_key_id(account.callback_token) <> current_key)::int;
            batch := batch + 1;
        END LOOP;
        EXIT WHEN batch = 0;
    END LOOP;
    RETURN rotated;
END
$$;

-- Sets or clears (NULL) a tenant's own webhook verify token; only its sha256 is stored.
CREATE OR REPLACE FUNCTION alphadome.set_webhook_verify_token(tenant_id uuid, webhook_verify_token text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
BEGIN
    UPDATE alphadome.bot_tenants t
       SET webhook_verify_token = alphadome._verify_token_hash(nullif(set_webhook_verify_token.webhook_verify_token, ''))
     WHERE t.id = set_webhook_verify_token.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', set_webhook_verify_token.tenant_id USING ERRCODE = 'P0002';
    END IF;
END
$$;

-- The GET handshake of /webhook/{slug}: does this token match the tenant's stored hash?
-- False for an unknown slug, an inactive tenant, or a tenant without a verify token.
CREATE OR REPLACE FUNCTION alphadome.webhook_verify_token_matches(slug text, token text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce((SELECT t.webhook_verify_token = alphadome._verify_token_hash(webhook_verify_token_matches.token)
                       FROM alphadome.bot_tenants t
                      WHERE t.slug = webhook_verify_token_matches.slug AND t.is_active), false);
END;

-- The per-tenant webhook routes the relay serves (/webhook/{slug}): every active tenant, with
-- the time its row last changed, whether it has an app secret, and its verify token's sha256.
-- The relay keeps them in memory and decrypts a tenant's app secret only when that row changed,
-- so a webhook's signature is checked before the database or a credential is touched, and a
-- stranger's requests write no audit rows.
CREATE OR REPLACE FUNCTION alphadome.webhook_routes()
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
CREATE OR REPLACE FUNCTION alphadome._notify_tenants_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('alphadome_tenants', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alphadome.bot_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._notify_tenants_changed();
ALTER TABLE alphadome.bot_tenants ENABLE ALWAYS TRIGGER tenants_notify;

-- The one way to remove audit rows: those older than older_than (at least 30 days), at most
-- batch of them per call (a row per decryption, one per send: a year of them is large), oldest
-- first through credential_audit_time. Call until it returns 0; the relay's and pg_cron's
-- hourly prune does, beside prune_history.
CREATE OR REPLACE FUNCTION alphadome.prune_credential_audit(older_than interval DEFAULT '1 year',
                                                            batch integer DEFAULT 10000) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '30 days' THEN
        RAISE EXCEPTION 'credential audit rows are kept at least 30 days' USING ERRCODE = '22023';
    ELSIF batch IS NULL OR batch < 1 THEN
        RAISE EXCEPTION 'batch must be a positive number of rows' USING ERRCODE = '22023';
    END IF;
    DELETE FROM alphadome.credential_audit a
     WHERE (a.bot_tenant_id, a.id) IN (
               SELECT x.bot_tenant_id, x.id FROM alphadome.credential_audit x
                WHERE x.accessed_at < now() - prune_credential_audit.older_than
                ORDER BY x.accessed_at LIMIT prune_credential_audit.batch);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;

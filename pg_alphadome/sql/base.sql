-- The extension's base functions and triggers: roles, the pgcrypto wrappers, the FAQ's version,
-- the rules that stand in for foreign keys to bot_tenants, updated_at. Code, not state: every
-- statement here can run again, and every upgrade runs this file again (docs/internals.md).

-- Roles are cluster-wide: a second database, or a CREATE after DROP EXTENSION, finds them.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['alphadome_admin', 'alphadome_relay', 'alphadome_tenant', 'alphadome_console',
                             'alphadome_agent', 'alphadome_monitor'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    -- 0.3.0: the console acts for a shop's staff as alphadome_agent. Its logins (members of
    -- alphadome_console that may act as owners) get the new role too, so an update needs no
    -- GRANT by hand; a new console login is granted it with the others (docs/console.md).
    FOR r IN SELECT m.rolname FROM pg_catalog.pg_auth_members am
               JOIN pg_catalog.pg_roles g ON g.oid = am.roleid AND g.rolname = 'alphadome_console'
               JOIN pg_catalog.pg_roles m ON m.oid = am.member
              WHERE pg_catalog.pg_has_role(m.oid, 'alphadome_tenant', 'MEMBER')
                AND NOT pg_catalog.pg_has_role(m.oid, 'alphadome_agent', 'MEMBER') LOOP
        EXECUTE pg_catalog.format('GRANT alphadome_agent TO %I', r);
    END LOOP;
END
$roles$;

-- pgcrypto wrappers. BEGIN ATOMIC binds pgp_sym_* at creation time, wherever pgcrypto lives,
-- so nothing later depends on a search_path. The password is derived per tenant and
-- credential in Rust (credentials.rs); it is a 256-bit random-looking value, so pgcrypto's
-- iterated S2K adds nothing and s2k-mode=1 (salted) is enough. No compression: it leaks length.
CREATE OR REPLACE FUNCTION alphadome._pgp_encrypt(plaintext text, password text) RETURNS bytea
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT pgp_sym_encrypt(plaintext, password,
        'cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256, compress-algo=0');
END;

CREATE OR REPLACE FUNCTION alphadome._pgp_decrypt(ciphertext bytea, password text) RETURNS text
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT pgp_sym_decrypt(ciphertext, password);
END;

-- SECURITY DEFINER: tenant owners edit their FAQ but may not set faq_version themselves.
CREATE OR REPLACE FUNCTION alphadome._faq_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alphadome.bot_control_settings s
       SET faq_version = nextval('alphadome._faq_version')
     WHERE TG_OP = 'TRUNCATE'
        OR s.bot_tenant_id = CASE TG_OP WHEN 'DELETE' THEN OLD.bot_tenant_id ELSE NEW.bot_tenant_id END;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER faq_changed AFTER INSERT OR UPDATE OR DELETE ON alphadome.bot_training_data
    FOR EACH ROW EXECUTE FUNCTION alphadome._faq_changed();
CREATE OR REPLACE TRIGGER faq_truncated AFTER TRUNCATE ON alphadome.bot_training_data
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._faq_changed();
-- The tenant's words for the matcher are part of its FAQ: a change is a new version too.
CREATE OR REPLACE FUNCTION alphadome._faq_synonyms_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.faq_version := nextval('alphadome._faq_version');
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER faq_synonyms_changed BEFORE UPDATE OF faq_synonyms ON alphadome.bot_control_settings
    FOR EACH ROW WHEN (OLD.faq_synonyms IS DISTINCT FROM NEW.faq_synonyms)
    EXECUTE FUNCTION alphadome._faq_synonyms_changed();

-- ---- tenant references on the message path ---------------------------------------------------
-- Every webhook writes conversations, outbox and reply_counters. A foreign key to bot_tenants
-- would make each of those writes lock the tenant's row (FOR KEY SHARE); concurrent webhooks of
-- one tenant then pile their locks on that one row as multixacts (docs/internals.md has the
-- cost). What the foreign keys guaranteed,
-- that no such row outlives or lacks its tenant, holds by these rules instead:
-- - only the extension's functions write these tables (grants.sql), with a tenant id they have
--   just looked up;
-- - a tenant's id never changes;
-- - a tenant is deleted only when it is inactive, that change is committed, and no transaction
--   that could still have seen it active is running; its rows go with it (messages follow their
--   conversations through their foreign key);
-- - TRUNCATE of bot_tenants takes these tables with it.
CREATE OR REPLACE FUNCTION alphadome._tenant_id_fixed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the id of tenant % cannot change: its conversations, messages and jobs refer to it', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE OR REPLACE TRIGGER id_fixed BEFORE UPDATE OF id ON alphadome.bot_tenants
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION alphadome._tenant_id_fixed();

-- SECURITY DEFINER: it must see every session's transaction start (pg_stat_activity shows other
-- roles' only to privileged ones) and delete the tenant's rows whoever deletes the tenant.
CREATE OR REPLACE FUNCTION alphadome._tenant_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    since timestamptz := clock_timestamp();
    older integer[];
BEGIN
    -- updated_at is the start of the transaction that last changed the row: now() means this one.
    IF OLD.is_active OR OLD.updated_at >= transaction_timestamp() THEN
        RAISE EXCEPTION 'tenant % is still active', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set is_active = false and commit, then delete it: webhooks in flight may still write for an active tenant.';
    END IF;
    -- Transactions that began before now may have read the tenant while it was active.
    IF NOT current_setting('track_activities')::boolean THEN
        RAISE EXCEPTION 'tenant % cannot be deleted while track_activities is off', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The delete waits for older transactions, which it finds in pg_stat_activity.';
    END IF;
    LOOP
        -- pg_stat_activity is read once per transaction unless told to read it again.
        PERFORM pg_stat_clear_snapshot();
        older := ARRAY(SELECT a.pid FROM pg_stat_activity a
                        WHERE a.datname = current_database() AND a.backend_type = 'client backend'
                          AND a.pid <> pg_backend_pid() AND a.xact_start < since
                        ORDER BY a.pid);
        EXIT WHEN cardinality(older) = 0;
        IF clock_timestamp() > since + interval '30 seconds' THEN
            RAISE EXCEPTION 'tenant % cannot be deleted yet: sessions % have been in a transaction since before the delete began', OLD.id, older
                USING ERRCODE = 'object_in_use',
                      HINT = 'Retry when they have finished (pg_stat_activity shows them).';
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    DELETE FROM alphadome.reply_counters r WHERE r.bot_tenant_id = OLD.id;
    DELETE FROM alphadome.outbox o WHERE o.bot_tenant_id = OLD.id;
    DELETE FROM alphadome.alerts a WHERE a.bot_tenant_id = OLD.id;
    DELETE FROM alphadome.conversations c WHERE c.bot_tenant_id = OLD.id;
    -- Their campaign recipients went with the conversations (issue 26).
    DELETE FROM alphadome.campaigns k WHERE k.bot_tenant_id = OLD.id;
    -- 0.3.0: nothing of the tenant stays behind: its archived dead jobs, its credential audit
    -- and the raw webhooks routed to it or, on the shared route, addressed to its number (its
    -- customers' numbers and texts; a POST that also carried another tenant's goes whole).
    -- usage_days and customer_erasures go by their foreign keys.
    DELETE FROM alphadome.dead_letters d WHERE d.bot_tenant_id = OLD.id;
    DELETE FROM alphadome.credential_audit a WHERE a.bot_tenant_id = OLD.id;
    DELETE FROM alphadome.webhook_events e
     WHERE e.route_tenant_id = OLD.id
        OR (e.route_tenant_id IS NULL AND e.payload @> alphadome._webhook_to(OLD.whatsapp_phone_number_id));
    RETURN OLD;
END
$$;
-- What a raw webhook addressed to a WhatsApp number (phone_number_id) contains, for @>.
CREATE OR REPLACE FUNCTION alphadome._webhook_to(phone_number_id text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('entry', jsonb_build_array(jsonb_build_object('changes', jsonb_build_array(
               jsonb_build_object('value', jsonb_build_object('metadata',
                   jsonb_build_object('phone_number_id', _webhook_to.phone_number_id)))))));
$$;

CREATE OR REPLACE TRIGGER rows_deleted BEFORE DELETE ON alphadome.bot_tenants
    FOR EACH ROW EXECUTE FUNCTION alphadome._tenant_deleted();

CREATE OR REPLACE FUNCTION alphadome._tenants_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- campaign_recipients refers to conversations and campaigns (issue 26).
    TRUNCATE alphadome.reply_counters, alphadome.outbox, alphadome.messages, alphadome.conversations,
             alphadome.alerts, alphadome.dead_letters, alphadome.campaign_recipients, alphadome.campaigns;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER rows_truncated BEFORE TRUNCATE ON alphadome.bot_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._tenants_truncated();

-- Keep updated_at true for every writer, including tenant owners through PostgREST.
-- No SET search_path (now() is named in full instead): a function with SET clauses saves and
-- restores the settings at every call, which made this trigger about 21,000 instructions a row,
-- paid twice by every job (its claim and its completion). It runs as its caller, so the path
-- gives nobody more than he has.
CREATE OR REPLACE FUNCTION alphadome._touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;

DO $touch$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bot_tenants', 'bot_templates', 'bot_training_data',
                             'conversations', 'messages', 'outbox'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.%I
             FOR EACH ROW EXECUTE FUNCTION alphadome._touch_updated_at()', t);
    END LOOP;
END
$touch$;
-- A new FAQ version is not a change of the settings.
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.bot_control_settings
    FOR EACH ROW WHEN (OLD.faq_version IS NOT DISTINCT FROM NEW.faq_version)
    EXECUTE FUNCTION alphadome._touch_updated_at();

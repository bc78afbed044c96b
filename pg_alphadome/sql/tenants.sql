-- Tenant administration and credential access (docs/design.md sections 3 and 4).
-- SECURITY DEFINER functions here fix search_path and are granted in grants.sql only.
--
-- The functions that take a secret (here and set_webhook_verify_token) set
-- log_min_error_statement = panic: when they fail, the server logs the error but not the
-- statement that called them, whose text may hold the secret (psql writes its variables into
-- the text). Their SET is still in effect when the error is logged. Statement logging before
-- a call (log_statement = 'all') is the caller's to turn off: docs/security.md.

-- Raises 22004 naming the argument when a required argument is NULL or blank.
CREATE OR REPLACE FUNCTION alphadome._require(value text, argument text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL OR btrim(value) = '' THEN
        RAISE EXCEPTION '% is required', argument USING ERRCODE = '22004';
    END IF;
    RETURN value;
END
$$;

-- The sha256 the handshake compares against; the verify token itself is never stored.
CREATE OR REPLACE FUNCTION alphadome._verify_token_hash(token text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8'));

-- A phone number of a tenant in the digits-only international form, local numbers read in the
-- tenant's country; 22023 naming the column when it is not a phone number.
CREATE OR REPLACE FUNCTION alphadome._tenant_phone(phone text, country_code text, what text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RETURN alphadome.normalize_phone(phone, country_code);
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION '%: %', what, SQLERRM USING ERRCODE = '22023',
        HINT = 'Give the number with its country code (+254 702 245 555), or set the tenant''s country_code.';
END
$$;

-- An email address, trimmed, its domain in lower case; NULL for an empty one; 22023 for text
-- that is not an address (a local part, @, a domain with a dot, at most 254 characters).
CREATE OR REPLACE FUNCTION alphadome._email(email text, what text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    trimmed text := nullif(btrim(email), '');
BEGIN
    IF trimmed IS NULL THEN
        RETURN NULL;
    END IF;
    IF length(trimmed) > 254 OR trimmed !~ '^[^@[:space:]]+@([^@[:space:].]+\.)+[^@[:space:].]{2,}$' THEN
        RAISE EXCEPTION '%: % is not an email address', what, pg_catalog.quote_literal(trimmed)
            USING ERRCODE = '22023', HINT = 'An address looks like owner@shop.co.ke.';
    END IF;
    RETURN split_part(trimmed, '@', 1) || '@' || lower(split_part(trimmed, '@', 2));
END
$$;

-- Whoever writes a tenant (create_tenant, an operator's UPDATE), its phone and email are stored
-- normalised or refused with the column's name. SECURITY DEFINER: the helpers are the owner's.
CREATE OR REPLACE FUNCTION alphadome._tenant_normalized() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.client_phone := alphadome._tenant_phone(NEW.client_phone, NEW.country_code, 'client_phone');
    NEW.client_email := alphadome._email(NEW.client_email, 'client_email');
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER tenant_normalized BEFORE INSERT OR UPDATE OF client_phone, client_email, country_code
    ON alphadome.bot_tenants FOR EACH ROW EXECUTE FUNCTION alphadome._tenant_normalized();

-- The escalation phone, likewise, in its tenant's country; the time zone and business hours
-- checked, each refused by name. SECURITY DEFINER: a tenant owner editing its settings reads its
-- tenant's country_code through it.
-- Why a type_replies value is not one, or NULL. The types are those the bot does not answer
-- from words: a place, a contact card, an order, what WhatsApp cannot show, and a photo, video,
-- document or voice note it does not read (without a caption, or with the switch off).
CREATE OR REPLACE FUNCTION alphadome._type_replies_problem(replies jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
RETURN CASE
    WHEN jsonb_typeof(replies) IS DISTINCT FROM 'object' THEN 'type_replies must be a JSON object'
    ELSE (SELECT CASE
                     WHEN e.key <> ALL (ARRAY['location', 'contacts', 'order', 'unsupported',
                                              'image', 'video', 'document', 'audio'])
                         THEN pg_catalog.format('type_replies: %s is not a message type the bot answers by type', pg_catalog.quote_literal(e.key))
                     ELSE pg_catalog.format('type_replies: the reply for %s must be a text of 1 to 4096 characters', e.key)
                 END
            FROM pg_catalog.jsonb_each(replies) e
           WHERE e.key <> ALL (ARRAY['location', 'contacts', 'order', 'unsupported', 'image', 'video', 'document', 'audio'])
              OR pg_catalog.jsonb_typeof(e.value) <> 'string'
              OR pg_catalog.length(e.value #>> '{}') NOT BETWEEN 1 AND 4096
           ORDER BY e.key
           LIMIT 1)
END;

CREATE OR REPLACE FUNCTION alphadome._settings_normalized() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text := alphadome._business_hours_problem(NEW.business_hours);
BEGIN
    IF NEW.escalation_phone IS NOT NULL THEN
        NEW.escalation_phone := alphadome._tenant_phone(NEW.escalation_phone,
            (SELECT t.country_code FROM alphadome.bot_tenants t WHERE t.id = NEW.bot_tenant_id), 'escalation_phone');
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = '22023';
    END IF;
    -- Only a new value is looked up: pg_timezone_names reads every zone file (about 30 ms), and a
    -- settings page saves the time zone it shows with every other field.
    IF (TG_OP = 'INSERT' OR NEW.timezone IS DISTINCT FROM OLD.timezone)
       AND NOT EXISTS (SELECT FROM pg_timezone_names z WHERE z.name = NEW.timezone) THEN
        RAISE EXCEPTION 'timezone: % is not a time zone', quote_literal(NEW.timezone) USING ERRCODE = '22023',
            HINT = 'An IANA name, like Africa/Nairobi (SELECT name FROM pg_timezone_names lists them).';
    END IF;
    problem := alphadome._type_replies_problem(NEW.type_replies);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = '22023',
            HINT = 'An object of message type to reply text, like {"location": "Thanks for the pin! We are on Moi Avenue."}; '
                   'the types: location, contacts, order, unsupported, image, video, document, audio.';
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER settings_normalized BEFORE INSERT OR UPDATE OF escalation_phone, timezone, business_hours, type_replies
    ON alphadome.bot_control_settings FOR EACH ROW EXECUTE FUNCTION alphadome._settings_normalized();

-- 22023 for a token expiry that has passed already ('infinity': the token does not expire).
CREATE OR REPLACE FUNCTION alphadome._future_expiry(token_expires_at timestamptz) RETURNS timestamptz
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF token_expires_at <= now() THEN
        RAISE EXCEPTION 'token_expires_at % is in the past', token_expires_at USING ERRCODE = '22023',
            HINT = 'Give the new token''s expiry, or ''infinity'' for a token that does not expire.';
    END IF;
    RETURN token_expires_at;
END
$$;

CREATE OR REPLACE FUNCTION alphadome.create_tenant(
    slug text,
    client_name text,
    client_phone text,
    whatsapp_phone_number_id text,
    whatsapp_access_token text,
    ai_api_key text DEFAULT NULL,
    app_secret text DEFAULT NULL,
    webhook_verify_token text DEFAULT NULL,
    token_expires_at timestamptz DEFAULT NULL,
    client_email text DEFAULT NULL,
    ai_model text DEFAULT NULL,
    ai_base_url text DEFAULT NULL,
    country_code text DEFAULT '254'
) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    tenant uuid := gen_random_uuid();
    phone  text;
    violated text;
BEGIN
    PERFORM alphadome._require(create_tenant.slug, 'slug'),
            alphadome._require(create_tenant.client_name, 'client_name'),
            alphadome._require(create_tenant.client_phone, 'client_phone'),
            alphadome._require(create_tenant.whatsapp_phone_number_id, 'whatsapp_phone_number_id'),
            alphadome._require(create_tenant.whatsapp_access_token, 'whatsapp_access_token'),
            alphadome._require(create_tenant.country_code, 'country_code'),
            alphadome._future_expiry(create_tenant.token_expires_at);
    IF create_tenant.slug !~ '^[a-z0-9][a-z0-9-]{1,62}$' THEN
        RAISE EXCEPTION 'slug must be 2 to 63 characters of a-z, 0-9 and -, starting with a letter or digit'
            USING ERRCODE = '22023';
    END IF;
    IF create_tenant.whatsapp_phone_number_id !~ '^[0-9]{1,32}$' THEN
        RAISE EXCEPTION 'whatsapp_phone_number_id must be the digits Meta shows as the Phone number ID'
            USING ERRCODE = '22023';
    END IF;
    IF create_tenant.country_code !~ '^[1-9][0-9]{0,2}$' THEN
        RAISE EXCEPTION 'country_code must be the 1 to 3 digits of a calling code, without +, like 254'
            USING ERRCODE = '22023';
    END IF;
    IF create_tenant.ai_base_url !~ '^https?://' THEN
        RAISE EXCEPTION 'ai_base_url must start with https:// (or http:// for a server on your network)'
            USING ERRCODE = '22023';
    END IF;

    BEGIN
        INSERT INTO alphadome.bot_tenants AS t
            (id, slug, client_name, client_phone, country_code, client_email, whatsapp_phone_number_id,
             whatsapp_access_token, ai_api_key, app_secret, webhook_verify_token, token_expires_at,
             ai_model, ai_base_url)
        VALUES
            (tenant, create_tenant.slug, btrim(create_tenant.client_name), create_tenant.client_phone,
             create_tenant.country_code, create_tenant.client_email, create_tenant.whatsapp_phone_number_id,
             alphadome._encrypt_credential(tenant, 'whatsapp_access_token', create_tenant.whatsapp_access_token),
             alphadome._encrypt_credential(tenant, 'ai_api_key', nullif(create_tenant.ai_api_key, '')),
             alphadome._encrypt_credential(tenant, 'app_secret', nullif(create_tenant.app_secret, '')),
             alphadome._verify_token_hash(nullif(create_tenant.webhook_verify_token, '')),
             create_tenant.token_expires_at,
             coalesce(nullif(btrim(create_tenant.ai_model), ''), 'gpt-4o-mini'), create_tenant.ai_base_url)
        RETURNING t.client_phone INTO phone;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
        RAISE EXCEPTION '%', CASE violated
                WHEN 'bot_tenants_slug_key' THEN pg_catalog.format('a tenant with slug %L already exists', create_tenant.slug)
                WHEN 'bot_tenants_client_phone_key' THEN pg_catalog.format('a tenant with client_phone %s already exists',
                    alphadome.normalize_phone(create_tenant.client_phone, create_tenant.country_code))
                WHEN 'bot_tenants_whatsapp_phone_number_id_key' THEN pg_catalog.format(
                    'WhatsApp phone number id %s already belongs to a tenant', create_tenant.whatsapp_phone_number_id)
                ELSE 'the tenant already exists' END
            USING ERRCODE = '23505';
    END;

    INSERT INTO alphadome.bot_control_settings (bot_tenant_id, escalation_phone) VALUES (tenant, phone);
    -- The first credentials are audited like every later one (set_credentials).
    PERFORM alphadome._audit_credential_access(tenant, c.credential, 'create_tenant: a new value', NULL)
       FROM (VALUES ('whatsapp_access_token', create_tenant.whatsapp_access_token),
                    ('ai_api_key', nullif(create_tenant.ai_api_key, '')),
                    ('app_secret', nullif(create_tenant.app_secret, ''))) AS c (credential, value)
      WHERE c.value IS NOT NULL;
    RETURN tenant;
END
$$;

-- Rotates credentials; a NULL argument leaves that value as it is, token_expires_at included
-- ('infinity' for a token that does not expire; an expiry in the past is refused). A new access
-- token resets credential_status to ok and restarts the 90-day rotation clock. Each credential
-- set is recorded in credential_audit.
CREATE OR REPLACE FUNCTION alphadome.set_credentials(
    tenant_id uuid,
    whatsapp_access_token text DEFAULT NULL,
    ai_api_key text DEFAULT NULL,
    app_secret text DEFAULT NULL,
    token_expires_at timestamptz DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    new_token boolean := set_credentials.whatsapp_access_token IS NOT NULL;
    credential text;
BEGIN
    IF set_credentials.tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant_id is required' USING ERRCODE = '22004';
    END IF;
    PERFORM alphadome._future_expiry(set_credentials.token_expires_at);
    UPDATE alphadome.bot_tenants AS t SET
        whatsapp_access_token = coalesce(alphadome._encrypt_credential(t.id, 'whatsapp_access_token',
                                             set_credentials.whatsapp_access_token), t.whatsapp_access_token),
        ai_api_key = coalesce(alphadome._encrypt_credential(t.id, 'ai_api_key', set_credentials.ai_api_key), t.ai_api_key),
        app_secret = coalesce(alphadome._encrypt_credential(t.id, 'app_secret', set_credentials.app_secret), t.app_secret),
        token_expires_at = coalesce(set_credentials.token_expires_at, t.token_expires_at),
        token_rotated_at = CASE WHEN new_token THEN now() ELSE t.token_rotated_at END,
        credential_status = CASE WHEN new_token THEN 'ok' ELSE t.credential_status END
    WHERE t.id = set_credentials.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', set_credentials.tenant_id USING ERRCODE = 'P0002';
    END IF;
    FOREACH credential IN ARRAY ARRAY[
            CASE WHEN new_token THEN 'whatsapp_access_token' END,
            CASE WHEN set_credentials.ai_api_key IS NOT NULL THEN 'ai_api_key' END,
            CASE WHEN set_credentials.app_secret IS NOT NULL THEN 'app_secret' END] LOOP
        IF credential IS NOT NULL THEN
            PERFORM alphadome._audit_credential_access(set_credentials.tenant_id, credential, 'set_credentials: a new value', NULL);
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION alphadome.tenant_for_phone_number_id(phone_number_id text) RETURNS uuid
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.id FROM alphadome.bot_tenants t
     WHERE t.whatsapp_phone_number_id = tenant_for_phone_number_id.phone_number_id;
END;

CREATE OR REPLACE FUNCTION alphadome.tenant_for_client_phone(client_phone text) RETURNS uuid
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- Qualified: a bare client_phone would mean the column, and match every tenant.
    SELECT t.id FROM alphadome.bot_tenants t
     WHERE t.client_phone = alphadome.normalize_phone(tenant_for_client_phone.client_phone);
END;

-- The tenant behind /webhook/{slug} (NULL when none, or inactive).
CREATE OR REPLACE FUNCTION alphadome.tenant_for_slug(slug text) RETURNS uuid
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.id FROM alphadome.bot_tenants t WHERE t.slug = tenant_for_slug.slug AND t.is_active;
END;

-- The role a session acts as, for audit rows: the one it SET ROLE to, else the extension's
-- roles its login holds (a relay login is in alphadome_relay without SET ROLE: 'none' said
-- nothing), else 'superuser' or 'none'.
CREATE OR REPLACE FUNCTION alphadome._acting_role() RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
-- PL/pgSQL, as _audit_credential_uses: a SQL function's body is planned again at every call.
AS $$
BEGIN
    RETURN (SELECT CASE
               WHEN current_setting('role') <> 'none' THEN current_setting('role')
               WHEN (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user) THEN 'superuser'
               ELSE coalesce((SELECT string_agg(r.rolname::text, ',' ORDER BY r.rolname) FROM pg_roles r
                               WHERE r.rolname IN ('alphadome_admin', 'alphadome_relay', 'alphadome_tenant',
                                                   'alphadome_console', 'alphadome_agent', 'alphadome_monitor')
                                 AND pg_has_role(session_user, r.oid, 'MEMBER')), 'none')
           END);
END
$$;

-- Records one credential access. Internal: claim_jobs passes the job it decrypts for.
CREATE OR REPLACE FUNCTION alphadome._audit_credential_access(tenant_id uuid, credential text, purpose text, job_id bigint)
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO alphadome.credential_audit (bot_tenant_id, credential, purpose, job_id, acting_role)
    VALUES (_audit_credential_access.tenant_id, _audit_credential_access.credential,
            _audit_credential_access.purpose, _audit_credential_access.job_id, alphadome._acting_role());
END;

-- Records the credentials a claim decrypted: one row per tenant, credential and purpose (the
-- job kind), naming every job it served (job_ids; job_id the first of them). The arrays are
-- parallel, one element per job and credential. Internal: claim_jobs calls it once per claim.
CREATE OR REPLACE FUNCTION alphadome._audit_credential_uses(tenants uuid[], credentials text[], purposes text[],
                                                            jobs bigint[])
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
-- PL/pgSQL: its plan is kept for the session. As a SQL function (BEGIN ATOMIC) it and
-- _acting_role were planned at every claim: about 300,000 instructions a sent message.
AS $$
DECLARE
    acting constant text := alphadome._acting_role();
BEGIN
    INSERT INTO alphadome.credential_audit (bot_tenant_id, credential, purpose, job_id, job_ids, acting_role)
    SELECT u.tenant, u.credential, u.purpose, min(u.job), array_agg(u.job ORDER BY u.job), acting
      FROM unnest(_audit_credential_uses.tenants, _audit_credential_uses.credentials,
                  _audit_credential_uses.purposes, _audit_credential_uses.jobs) AS u (tenant, credential, purpose, job)
     GROUP BY u.tenant, u.credential, u.purpose;
END
$$;

-- Decrypts one credential of one tenant, and writes one audit row (who, which tenant, which
-- credential, why). NULL when that credential was never set.
CREATE OR REPLACE FUNCTION alphadome.tenant_credential(tenant_id uuid, credential text, purpose text) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stored bytea;
BEGIN
    PERFORM alphadome._require(tenant_credential.credential, 'credential'),
            alphadome._require(tenant_credential.purpose, 'purpose');
    IF tenant_credential.tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant_id is required' USING ERRCODE = '22004';
    END IF;
    SELECT CASE tenant_credential.credential
               WHEN 'whatsapp_access_token' THEN t.whatsapp_access_token
               WHEN 'ai_api_key' THEN t.ai_api_key
               WHEN 'app_secret' THEN t.app_secret END
      INTO stored
      FROM alphadome.bot_tenants t WHERE t.id = tenant_credential.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', tenant_credential.tenant_id USING ERRCODE = 'P0002';
    END IF;
    IF tenant_credential.credential NOT IN ('whatsapp_access_token', 'ai_api_key', 'app_secret') THEN
        RAISE EXCEPTION 'unknown credential %: expected whatsapp_access_token, ai_api_key or app_secret',
            pg_catalog.quote_literal(tenant_credential.credential) USING ERRCODE = '22023';
    END IF;
    PERFORM alphadome._audit_credential_access(tenant_credential.tenant_id, tenant_credential.credential,
                                               tenant_credential.purpose, NULL);
    IF stored IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN alphadome._decrypt_credential(tenant_credential.tenant_id, tenant_credential.credential, stored);
END
$$;

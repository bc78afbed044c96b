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
    IF fail_job.error ->> 'class' = 'auth' OR job.kind IN ('reply.generate', 'media.transcribe') THEN
        client := (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = job.bot_tenant_id);
    END IF;
    IF fail_job.error ->> 'class' = 'auth' AND (job.kind IN ('reply.send', 'alert.send') OR job.payload ? 'media') THEN
        UPDATE alphadome.bot_tenants t SET credential_status = 'needs_reauth' WHERE t.id = job.bot_tenant_id;
        UPDATE alphadome.outbox o
           SET status = 'queued', attempts = o.attempts - 1, run_at = now(), lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        PERFORM alphadome._alert(job.bot_tenant_id, 'token_refused',
                    client || ': Meta refused the WhatsApp access token; the bot is paused until a new token is set.',
                    'needs_reauth:' || current_date);
        PERFORM alphadome._wake_worker();
    ELSIF retry_in_seconds IS NULL OR job.attempts >= job.max_attempts THEN
        UPDATE alphadome.outbox o SET status = 'dead', lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        IF job.payload ? 'media' THEN
            PERFORM alphadome._note_media(job, jsonb_build_object('error', fail_job.error));
            UPDATE alphadome.messages m SET decision = 'fallback'
             WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = (job.payload ->> 'inbound_message_id')::bigint;
        END IF;
        IF job.kind IN ('reply.generate', 'media.transcribe') THEN
            PERFORM alphadome._send_answer(job, NULL);
            PERFORM alphadome._alert(job.bot_tenant_id,
                        CASE WHEN job.payload ? 'media' THEN 'media_failed' ELSE 'llm_failed' END,
                        client || CASE WHEN job.kind = 'media.transcribe' THEN ': a voice note from customer +'
                                       WHEN job.payload ? 'media' THEN ': a photo from customer +'
                                       ELSE ': the AI could not answer customer +' END
                        || coalesce(job.payload ->> 'customer', '?')
                        || CASE WHEN job.payload ? 'media' THEN ' could not be read' ELSE '' END
                        || ' (' || coalesce(fail_job.error ->> 'message', 'error') || '); the fallback message was sent.');
        ELSIF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
            UPDATE alphadome.alerts a SET status = 'failed', attempts = a.attempts + 1, last_error = fail_job.error
             WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
        ELSE
            PERFORM alphadome._log_outbound(job, NULL, 'failed', fail_job.error);
        END IF;
    ELSE
        UPDATE alphadome.alerts a SET attempts = a.attempts + 1, last_error = fail_job.error
         WHERE job.kind = 'alert.send' AND a.bot_tenant_id = job.bot_tenant_id
           AND a.id = (job.payload ->> 'alert_id')::bigint;
        UPDATE alphadome.outbox o
           SET status = 'queued', lease_until = NULL, last_error = fail_job.error,
               run_at = now() + make_interval(secs => retry_in_seconds)
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
    END IF;
END
$$;

-- ---- the operator's and owner's SQL surface ---------------------------------------------------

-- Local numbers are read in the tenant's country.
ALTER TABLE alphadome.bot_tenants
    ADD COLUMN country_code text NOT NULL DEFAULT '254' CHECK (country_code ~ '^[1-9][0-9]{0,2}$');

-- Alerts reach a person (the tenant's WhatsApp template outside the 24-hour window), and
-- business hours (in the tenant's time zone).
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN alert_template_name text CHECK (alert_template_name ~ '^[a-z0-9_]+$' AND length(alert_template_name) <= 512),
    ADD COLUMN alert_template_language text NOT NULL DEFAULT 'en' CHECK (alert_template_language ~ '^[a-z]{2,3}(_[A-Z]{2})?$'),
    ADD COLUMN timezone text NOT NULL DEFAULT 'Africa/Nairobi',
    ADD COLUMN business_hours jsonb,
    ADD COLUMN holidays date[] NOT NULL DEFAULT '{}',
    ADD COLUMN after_hours_message text NOT NULL DEFAULT 'Thanks for your message! We are closed now and open again {opening}. A member of our team will get back to you then.'
        CHECK (length(after_hours_message) BETWEEN 1 AND 4096);
-- Voice notes transcribed, photos looked at, replies by message type (a place, a contact card, an
-- order, ...), checked by _settings_normalized.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN transcription_model text DEFAULT 'whisper-1' CHECK (length(transcription_model) BETWEEN 1 AND 200),
    ADD COLUMN enable_media_understanding boolean NOT NULL DEFAULT false,
    ADD COLUMN type_replies jsonb NOT NULL DEFAULT '{}';

-- Phones and emails are normalised (or refused, naming the column) whoever writes them.
-- A phone number of a tenant in the digits-only international form, local numbers read in the
-- tenant's country; 22023 naming the column when it is not a phone number.
CREATE FUNCTION alphadome._tenant_phone(phone text, country_code text, what text) RETURNS text
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
CREATE FUNCTION alphadome._email(email text, what text) RETURNS text
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
CREATE FUNCTION alphadome._tenant_normalized() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.client_phone := alphadome._tenant_phone(NEW.client_phone, NEW.country_code, 'client_phone');
    NEW.client_email := alphadome._email(NEW.client_email, 'client_email');
    RETURN NEW;
END
$$;
CREATE TRIGGER tenant_normalized BEFORE INSERT OR UPDATE OF client_phone, client_email, country_code
    ON alphadome.bot_tenants FOR EACH ROW EXECUTE FUNCTION alphadome._tenant_normalized();

-- The escalation phone, likewise, in its tenant's country. SECURITY DEFINER: a tenant owner
-- editing its settings reads its tenant's country_code through it.
CREATE FUNCTION alphadome._settings_normalized() RETURNS trigger
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
    IF NOT EXISTS (SELECT FROM pg_timezone_names z WHERE z.name = NEW.timezone) THEN
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
CREATE TRIGGER settings_normalized BEFORE INSERT OR UPDATE OF escalation_phone, timezone, business_hours, type_replies
    ON alphadome.bot_control_settings FOR EACH ROW EXECUTE FUNCTION alphadome._settings_normalized();

CREATE FUNCTION alphadome._future_expiry(token_expires_at timestamptz) RETURNS timestamptz
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


-- create_tenant takes the email, the AI model and base URL, and the country of local numbers.
DROP FUNCTION alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz);
CREATE FUNCTION alphadome.create_tenant(
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
    RETURN tenant;
END
$$;


-- set_credentials keeps what is not passed (the expiry too), refuses a past expiry, audits.
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


-- assemble_prompt finds the customer however the number is written, and leaves out replies
-- recorded in dry run.
CREATE FUNCTION alphadome."_customer_key"(
	"customer" TEXT, /* & str */
	"default_country_code" TEXT /* & str */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_customer_key_wrapper';
CREATE OR REPLACE FUNCTION alphadome.assemble_prompt(tenant_id uuid, customer text, message text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant        record;
    settings      record;
    template      record;
    budget        integer;
    user_text     text;
    system_text   text;
    facts         text := '';
    entry         record;
    entry_text    text;
    history       jsonb := '[]'::jsonb;
    turn          record;
    used          integer;
    newest_seen   boolean := false;
BEGIN
    SELECT t.client_name, t.ai_model, t.country_code INTO tenant
      FROM alphadome.bot_tenants t WHERE t.id = assemble_prompt.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', assemble_prompt.tenant_id USING ERRCODE = 'P0002';
    END IF;
    SELECT s.prompt_budget_chars, s.enable_payment_flow, s.escalation_phone INTO settings
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = assemble_prompt.tenant_id;
    budget := coalesce(settings.prompt_budget_chars, 12000);
    -- The customer's message keeps at most a third of the budget (and WhatsApp's 4096).
    user_text := left(coalesce(assemble_prompt.message, ''), least(4096, budget / 3));

    -- A template whose trigger words occur in the message wins over the default one.
    SELECT tp.system_prompt, tp.tone INTO template
      FROM alphadome.bot_templates tp
     WHERE tp.bot_tenant_id = assemble_prompt.tenant_id AND tp.is_active
       AND (tp.is_default OR EXISTS (
                SELECT FROM unnest(tp.triggers) tr
                 WHERE btrim(tr) <> '' AND strpos(lower(user_text), lower(btrim(tr))) > 0))
     ORDER BY tp.is_default, tp.id
     LIMIT 1;

    system_text := coalesce(template.system_prompt,
                            format('You are the WhatsApp customer-service assistant of %s.', tenant.client_name))
        || E'\n\nTone: ' || coalesce(template.tone, 'friendly') || '.'
        || E'\nYou are chatting on WhatsApp for ' || tenant.client_name
        || '. Keep answers short and plain text. If you do not know something, say so and offer a person.'
        || CASE WHEN settings.enable_payment_flow
                THEN E'\nYou may help the customer choose how to pay and confirm the amount; never ask for card numbers or PINs.'
                ELSE E'\nDo not take payments in the chat; tell the customer a team member will confirm payment.' END
        || CASE WHEN settings.escalation_phone IS NOT NULL
                THEN E'\nA person can be reached on +' || settings.escalation_phone || '.'
                ELSE '' END;
    -- The system prompt may use at most half the budget, whatever the template says.
    system_text := left(system_text, budget / 2);
    used := length(user_text) + length(system_text);

    FOR entry IN
        SELECT f.question, f.answer FROM alphadome.match_faq(assemble_prompt.tenant_id, user_text, 5) f
    LOOP
        entry_text := E'\nQ: ' || entry.question || E'\nA: ' || left(entry.answer, 1000);
        IF facts = '' THEN
            entry_text := E'\n\nFacts from ' || tenant.client_name || E' (use them when they answer the question):' || entry_text;
        END IF;
        EXIT WHEN used + length(entry_text) > budget;
        facts := facts || entry_text;
        used := used + length(entry_text);
    END LOOP;

    -- History, newest first while it fits; the message being answered is already logged as
    -- the newest inbound row, so it is skipped once. The customer is found however the number
    -- is written; a voice note counts by its transcript. Replies recorded in dry run (status
    -- simulated) were never sent: not history.
    FOR turn IN
        SELECT m.direction, coalesce(m.body, m.transcript) AS body
          FROM alphadome.conversations c
          JOIN alphadome.messages m ON m.bot_tenant_id = c.bot_tenant_id AND m.conversation_id = c.id
         WHERE c.bot_tenant_id = assemble_prompt.tenant_id
           AND c.customer_key = alphadome._customer_key(assemble_prompt.customer, tenant.country_code)
           AND coalesce(m.body, m.transcript) IS NOT NULL AND m.status <> 'simulated'
           AND m.created_at > now() - interval '24 hours'
         ORDER BY m.created_at DESC, m.id DESC
         LIMIT 20
    LOOP
        IF NOT newest_seen THEN
            newest_seen := true;
            CONTINUE WHEN turn.direction = 'inbound' AND turn.body = user_text;
        END IF;
        EXIT WHEN used + length(turn.body) > budget;
        history := jsonb_build_array(jsonb_build_object(
                       'role', CASE turn.direction WHEN 'inbound' THEN 'user' ELSE 'assistant' END,
                       'content', turn.body)) || history;
        used := used + length(turn.body);
    END LOOP;

    RETURN jsonb_build_object(
        'model', tenant.ai_model,
        'messages', jsonb_build_array(jsonb_build_object('role', 'system', 'content', system_text || facts))
                    || history
                    || jsonb_build_array(jsonb_build_object('role', 'user', 'content', user_text)),
        'max_completion_tokens', 500,
        'temperature', 0.3);
END
$$;


-- Privileges: the operator changes a tenant's identity and deletes tenants; the hourly limit and
-- the prompt budget are the operator's alone.
REVOKE ALL ON FUNCTION alphadome._tenant_phone(text, text, text), alphadome._email(text, text),
    alphadome._tenant_normalized(), alphadome._settings_normalized(), alphadome._future_expiry(timestamptz),
    alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz, text, text, text, text),
    alphadome._customer_key(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome._customer_key(text, text) TO alphadome_admin, alphadome_tenant;
GRANT EXECUTE ON FUNCTION
    alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz, text, text, text, text)
    TO alphadome_admin;
GRANT UPDATE (slug, client_phone, country_code, whatsapp_phone_number_id) ON alphadome.bot_tenants TO alphadome_admin;
GRANT DELETE ON alphadome.bot_tenants TO alphadome_admin;
GRANT SELECT (country_code) ON alphadome.bot_tenants TO alphadome_tenant;
REVOKE UPDATE (max_messages_per_hour, prompt_budget_chars) ON alphadome.bot_control_settings FROM alphadome_tenant;

-- The relay hands the body over as text: any JSON Meta signs is answered, never retried for a week.
CREATE FUNCTION alphadome.ingest_webhook_text(body text, route_tenant uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
    AS 'MODULE_PATHNAME', 'ingest_webhook_text_wrapper';
REVOKE ALL ON FUNCTION alphadome.ingest_webhook_text(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome.ingest_webhook_text(text, uuid) TO alphadome_admin, alphadome_relay;

-- ---- alerts that reach a person, business hours ------------------------------------------------

ALTER DOMAIN alphadome.message_decision DROP CONSTRAINT message_decision_check;
ALTER DOMAIN alphadome.message_decision ADD CONSTRAINT message_decision_check
    CHECK (VALUE IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled', 'human_handoff',
                     'rate_limited', 'escalated', 'faq', 'llm', 'fallback', 'recorded', 'after_hours',
                     'transcribe', 'type_reply'));

CREATE TABLE alphadome.alerts (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('handoff', 'no_answer', 'rate_limit', 'credentials',
                                               'token_refused', 'llm_failed', 'media_failed')),
    text          text NOT NULL CHECK (length(text) BETWEEN 1 AND 4096),
    channel       text CHECK (channel ~ '^(whatsapp_text|whatsapp_template|email|operator)(\+(email|operator))*$'),
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'simulated', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    jsonb,
    job_id        bigint,
    dedupe_key    text CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    due_at        timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, dedupe_key)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.alerts_id_seq', '');
ALTER TABLE alphadome.alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alphadome.alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own_rows ON alphadome.alerts TO alphadome_tenant
    USING (bot_tenant_id = (SELECT alphadome._current_tenant()))
    WITH CHECK (bot_tenant_id = (SELECT alphadome._current_tenant()));
CREATE POLICY operator_all_rows ON alphadome.alerts TO alphadome_admin USING (true) WITH CHECK (true);

DROP FUNCTION alphadome._alert(uuid, text, text);

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
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION alphadome._tenants_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE alphadome.reply_counters, alphadome.outbox, alphadome.messages, alphadome.conversations,
             alphadome.alerts;
    RETURN NULL;
END
$$;

CREATE FUNCTION alphadome._business_hours_problem(hours jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    day text;
    ranges jsonb;
    range jsonb;
    last_end text;
BEGIN
    IF hours IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(hours) <> 'object' THEN
        RETURN 'business_hours must be an object like {"mon": [["09:00", "18:00"]], "sun": []}';
    END IF;
    FOR day, ranges IN SELECT * FROM jsonb_each(hours) LOOP
        IF day NOT IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun') THEN
            RETURN format('business_hours: %s is not a day (mon, tue, wed, thu, fri, sat, sun)', day);
        END IF;
        IF jsonb_typeof(ranges) <> 'array' THEN
            RETURN format('business_hours: %s must be a list of ["HH:MM", "HH:MM"] ranges', day);
        END IF;
        last_end := '00:00';
        FOR range IN SELECT * FROM jsonb_array_elements(ranges) LOOP
            IF jsonb_typeof(range) <> 'array' OR jsonb_array_length(range) <> 2
               OR (range ->> 0) !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
               OR (range ->> 1) !~ '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' THEN
                RETURN format('business_hours: %s has %s, not a ["HH:MM", "HH:MM"] range', day, range);
            END IF;
            IF (range ->> 0) >= (range ->> 1) OR (range ->> 0) < last_end THEN
                RETURN format('business_hours: the ranges of %s must each end after they start, in order, without overlapping', day);
            END IF;
            last_end := range ->> 1;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION alphadome._next_opening(hours jsonb, holidays date[], tz text, at timestamptz)
    RETURNS timestamptz
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    first_day date := (at AT TIME ZONE tz)::date;
    day date;
    range jsonb;
    opens timestamptz;
    closes timestamptz;
BEGIN
    IF hours IS NULL THEN
        RETURN at;
    END IF;
    FOR offset_days IN 0..14 LOOP
        day := first_day + offset_days;
        CONTINUE WHEN day = ANY (holidays);
        FOR range IN
            SELECT r FROM jsonb_array_elements(coalesce(
                hours -> (ARRAY['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])[extract(dow FROM day)::int + 1],
                '[]')) r
        LOOP
            opens := (day + (range ->> 0)::time) AT TIME ZONE tz;
            closes := (day + (range ->> 1)::time) AT TIME ZONE tz;
            IF at < closes THEN
                RETURN greatest(at, opens);
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION alphadome._opening_words(opening timestamptz, tz text, at timestamptz) RETURNS text
    LANGUAGE sql STABLE
RETURN CASE
    WHEN opening IS NULL THEN 'soon'
    WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date
        THEN 'today at ' || to_char(opening AT TIME ZONE tz, 'HH24:MI')
    WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date + 1
        THEN 'tomorrow at ' || to_char(opening AT TIME ZONE tz, 'HH24:MI')
    ELSE to_char(opening AT TIME ZONE tz, 'FMDay "at" HH24:MI')
END;

CREATE FUNCTION alphadome.next_opening(tenant_id uuid, at timestamptz DEFAULT now()) RETURNS timestamptz
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT alphadome._next_opening(s.business_hours, s.holidays, s.timezone, next_opening.at)
      FROM alphadome.bot_control_settings s
     WHERE s.bot_tenant_id = next_opening.tenant_id;
END;

CREATE FUNCTION alphadome._alert(tenant_id uuid, kind text, text text, dedupe_key text DEFAULT NULL,
                                 due_at timestamptz DEFAULT now())
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    new_alert bigint;
    new_job bigint;
BEGIN
    INSERT INTO alphadome.alerts AS a (bot_tenant_id, kind, text, dedupe_key, due_at)
    VALUES (_alert.tenant_id, _alert.kind, left(_alert.text, 4096), _alert.dedupe_key, coalesce(_alert.due_at, now()))
    ON CONFLICT ON CONSTRAINT alerts_bot_tenant_id_dedupe_key_key DO NOTHING
    RETURNING a.id INTO new_alert;
    IF new_alert IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload, run_at)
    VALUES (_alert.tenant_id, 'alert.send', jsonb_build_object('alert_id', new_alert), coalesce(_alert.due_at, now()))
    RETURNING o.id INTO new_job;
    UPDATE alphadome.alerts a SET job_id = new_job WHERE a.bot_tenant_id = _alert.tenant_id AND a.id = new_alert;
    RETURN 1;
END
$$;

CREATE FUNCTION alphadome._alert_context(tenant_id uuid, job_id bigint, payload jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    t record;
    a record;
    usable boolean;
    window_open boolean;
    channels text[] := '{}';
    context jsonb;
BEGIN
    SELECT bt.id, bt.slug, bt.client_name, bt.client_email, bt.whatsapp_phone_number_id, bt.whatsapp_access_token,
           bt.credential_status = 'ok' AND coalesce(bt.token_expires_at > now(), true) AS token_usable,
           s.escalation_phone, s.alert_template_name, s.alert_template_language
      INTO t
      FROM alphadome.bot_tenants bt JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = bt.id
     WHERE bt.id = _alert_context.tenant_id;
    SELECT al.id, al.kind, al.text INTO a FROM alphadome.alerts al
     WHERE al.bot_tenant_id = _alert_context.tenant_id AND al.id = (_alert_context.payload ->> 'alert_id')::bigint;
    IF a.id IS NULL THEN
        SELECT NULL::bigint AS id, 'handoff' AS kind, _alert_context.payload ->> 'text' AS text INTO a;
    END IF;
    usable := t.token_usable AND t.escalation_phone IS NOT NULL;
    window_open := EXISTS (SELECT FROM alphadome.conversations c
                            WHERE c.bot_tenant_id = _alert_context.tenant_id AND c.customer_key = t.escalation_phone
                              AND c.last_inbound_at > now() - interval '24 hours');
    IF usable AND window_open THEN
        channels := array_append(channels, 'whatsapp_text');
    END IF;
    IF usable AND t.alert_template_name IS NOT NULL THEN
        channels := array_append(channels, 'whatsapp_template');
    END IF;
    channels := channels || ARRAY['email', 'operator'];
    context := jsonb_build_object('alert', jsonb_strip_nulls(jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'text', a.text, 'tenant_name', t.client_name,
        'to', t.escalation_phone, 'email', t.client_email, 'channels', to_jsonb(channels),
        'template', CASE WHEN t.alert_template_name IS NOT NULL THEN jsonb_build_object(
                        'name', t.alert_template_name, 'language', t.alert_template_language) END)));
    IF channels && ARRAY['whatsapp_text', 'whatsapp_template'] THEN
        PERFORM alphadome._audit_credential_access(t.id, 'whatsapp_access_token', 'alert.send', _alert_context.job_id);
        context := context || jsonb_build_object('whatsapp', jsonb_build_object(
            'phone_number_id', t.whatsapp_phone_number_id,
            'access_token', alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token)));
    END IF;
    RETURN context;
END
$$;

CREATE OR REPLACE FUNCTION alphadome._log_outbound(job alphadome.outbox, wamid text, status text, error jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
-- ON CONFLICT names the column wamid, not the parameter.
#variable_conflict use_column
DECLARE
    conversation_id bigint;
    recipient text := coalesce(job.payload ->> 'to', job.payload ->> 'recipient');
    body text := job.payload ->> 'text';
BEGIN
    IF job.kind = 'reply.send' THEN
        SELECT m.conversation_id INTO conversation_id FROM alphadome.messages m
         WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = (job.payload ->> 'inbound_message_id')::bigint;
    ELSIF job.payload ? 'alert_id' THEN
        SELECT s.escalation_phone, a.text INTO recipient, body
          FROM alphadome.alerts a JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
    END IF;
    IF conversation_id IS NULL THEN
        INSERT INTO alphadome.conversations AS cv (bot_tenant_id, customer_key, wa_id)
        VALUES (job.bot_tenant_id, recipient, CASE WHEN recipient ~ '^[0-9]+$' THEN recipient END)
        ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE SET updated_at = now()
        RETURNING cv.id INTO conversation_id;
    END IF;
    -- Once per wamid: a status webhook may have logged this send already (_sent_by_status).
    INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, message_type, body, status, error, payload)
    VALUES (job.bot_tenant_id, conversation_id, 'outbound', _log_outbound.wamid, 'text', body,
            _log_outbound.status, _log_outbound.error, jsonb_build_object('job_id', job.id, 'kind', job.kind))
    ON CONFLICT (bot_tenant_id, wamid) DO NOTHING;
END
$$;

-- claim_jobs takes the kinds a relay's lane wants.
DROP FUNCTION alphadome.claim_jobs(text, integer, integer);
CREATE FUNCTION alphadome.claim_jobs(worker text, max_jobs integer DEFAULT 10, lease_seconds integer DEFAULT 60,
                                     kinds text[] DEFAULT NULL)
    RETURNS SETOF jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    job record;
    t record;
    token text;
    ai_key text;
    claimed jsonb;
    start uuid := gen_random_uuid();
    tenants uuid[];
    share integer;
    exhausted bigint[];
    picked bigint[];
BEGIN
    IF coalesce(btrim(worker), '') = '' THEN
        RAISE EXCEPTION 'worker is required: a name for this relay process' USING ERRCODE = '22004';
    END IF;
    IF max_jobs IS NULL OR max_jobs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_jobs must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    IF lease_seconds IS NULL OR lease_seconds NOT BETWEEN 1 AND 3600 THEN
        RAISE EXCEPTION 'lease_seconds must be between 1 and 3600' USING ERRCODE = '22023';
    END IF;

    -- The tenants with jobs to run, at most max_jobs of them, from a random point of the tenant
    -- order and wrapping round (_tenants_with_jobs). Each gets an equal share, its oldest
    -- runnable jobs first, skipping those other workers hold: the work of a claim does not grow
    -- with the depth of the queue.
    tenants := alphadome._tenants_with_jobs(start, max_jobs);
    IF cardinality(tenants) < max_jobs THEN
        tenants := tenants || ARRAY(SELECT x FROM unnest(alphadome._tenants_with_jobs(NULL, max_jobs - cardinality(tenants))) x
                                     WHERE x < start);
    END IF;
    IF cardinality(tenants) = 0 THEN
        RETURN;
    END IF;
    share := ceil(max_jobs::numeric / cardinality(tenants))::integer;

    -- A job whose lease ran out after its last attempt goes to the dead letters (its alert fails);
    -- the others are claimed, every tenant's first before any tenant's second.
    WITH candidates AS (
        SELECT c.bot_tenant_id, c.id, c.run_at, c.exhausted,
               row_number() OVER (PARTITION BY c.bot_tenant_id ORDER BY c.run_at, c.id) AS turn
          FROM unnest(tenants) AS w (tenant)
          JOIN alphadome.bot_tenants bt ON bt.id = w.tenant AND bt.is_active
          CROSS JOIN LATERAL (
              SELECT o.bot_tenant_id, o.id, o.run_at, o.status = 'running' AND o.attempts >= o.max_attempts AS exhausted
                FROM alphadome.outbox o
               WHERE o.bot_tenant_id = w.tenant AND o.status IN ('queued', 'running')
                 AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                 AND (claim_jobs.kinds IS NULL OR o.kind = ANY (claim_jobs.kinds))
                 AND (bt.credential_status = 'ok'
                      OR (o.kind IN ('reply.generate', 'alert.send') AND NOT o.payload ? 'media'))
               ORDER BY o.run_at, o.id
               LIMIT share
                 FOR UPDATE OF o SKIP LOCKED) c
    )
    SELECT array_agg(c.id) FILTER (WHERE c.exhausted),
           (array_agg(c.id ORDER BY c.turn, c.run_at, c.id) FILTER (WHERE NOT c.exhausted))[1:max_jobs]
      INTO exhausted, picked
      FROM candidates c;

    WITH dead AS (
        UPDATE alphadome.outbox o
           SET status = 'dead', lease_until = NULL,
               last_error = jsonb_build_object('class', 'lease_expired', 'message',
                                'the worker holding the last attempt stopped answering', 'worker', o.locked_by)
         WHERE o.id = ANY (exhausted) AND o.bot_tenant_id = ANY (tenants)
        RETURNING o.bot_tenant_id, o.kind, o.payload, o.last_error
    )
    UPDATE alphadome.alerts a SET status = 'failed', last_error = d.last_error
      FROM dead d
     WHERE d.kind = 'alert.send' AND a.bot_tenant_id = d.bot_tenant_id AND a.id = (d.payload ->> 'alert_id')::bigint;

    FOR job IN
        UPDATE alphadome.outbox o
           SET status = 'running', locked_by = worker, attempts = o.attempts + 1,
               lease_until = now() + make_interval(secs => lease_seconds)
         WHERE o.id = ANY (picked) AND o.bot_tenant_id = ANY (tenants)
        RETURNING o.*
    LOOP
        SELECT bt.id, bt.slug, bt.whatsapp_phone_number_id, bt.whatsapp_access_token, bt.ai_api_key,
               bt.ai_base_url, bt.ai_model, s.transcription_model
          INTO t
          FROM alphadome.bot_tenants bt JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = bt.id
         WHERE bt.id = job.bot_tenant_id;
        -- One job's broken context (a credential that does not decrypt) must not stop the
        -- queue: that job goes to the dead letters with the reason, the others go out.
        BEGIN
            IF job.kind IN ('reply.generate', 'media.transcribe') THEN
                ai_key := NULL;
                IF t.ai_api_key IS NOT NULL THEN
                    PERFORM alphadome._audit_credential_access(t.id, 'ai_api_key', job.kind, job.id);
                    ai_key := alphadome._decrypt_credential(t.id, 'ai_api_key', t.ai_api_key);
                END IF;
                claimed := jsonb_build_object(
                    'llm', jsonb_build_object('base_url', t.ai_base_url, 'api_key', ai_key)
                           || CASE job.kind
                                  WHEN 'reply.generate' THEN jsonb_build_object('request',
                                      alphadome.assemble_prompt(t.id, job.payload ->> 'customer', job.payload ->> 'text'))
                                  -- Switched off since the voice note came: heard with the default.
                                  ELSE jsonb_build_object('model', coalesce(t.transcription_model, 'whisper-1'))
                              END);
                IF job.payload ? 'media' THEN
                    PERFORM alphadome._audit_credential_access(t.id, 'whatsapp_access_token', job.kind, job.id);
                    token := alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token);
                    claimed := claimed || jsonb_build_object(
                        'whatsapp', jsonb_build_object('phone_number_id', t.whatsapp_phone_number_id, 'access_token', token));
                END IF;
            ELSIF job.kind = 'alert.send' THEN
                claimed := alphadome._alert_context(job.bot_tenant_id, job.id, job.payload);
            ELSE
                PERFORM alphadome._audit_credential_access(t.id, 'whatsapp_access_token', job.kind, job.id);
                token := alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token);
                claimed := jsonb_build_object(
                    'whatsapp', jsonb_build_object('phone_number_id', t.whatsapp_phone_number_id, 'access_token', token));
            END IF;
        EXCEPTION WHEN OTHERS THEN
            UPDATE alphadome.outbox o
               SET status = 'dead', lease_until = NULL,
                   last_error = jsonb_build_object('class', 'context', 'sqlstate', SQLSTATE, 'message', SQLERRM)
             WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
            CONTINUE;
        END;
        RETURN NEXT claimed || jsonb_build_object(
            'id', job.id, 'tenant_id', t.id, 'tenant', t.slug, 'kind', job.kind, 'attempt', job.attempts,
            'max_attempts', job.max_attempts, 'payload', job.payload);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION alphadome.complete_job(job_id bigint, result jsonb DEFAULT '{}') RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job alphadome.outbox;
BEGIN
    -- Its status webhook came first (_sent_by_status): the same send, reported twice. Found by
    -- its key alone: with the status in the WHERE clause the planner took outbox_finished and
    -- read every finished job (a claim and completion fell from ~2,000/s to ~500/s).
    IF (SELECT o.status = 'done' AND o.result ->> 'by' = 'status_webhook'
               AND o.result ->> 'wamid' = complete_job.result ->> 'wamid'
          FROM alphadome.outbox o WHERE o.id = complete_job.job_id) THEN
        RETURN;
    END IF;
    job := alphadome._running_job(job_id);
    UPDATE alphadome.outbox o SET status = 'done', result = coalesce(complete_job.result, '{}'), lease_until = NULL
     WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
    IF job.kind IN ('reply.generate', 'media.transcribe') THEN
        PERFORM alphadome._note_media(job, complete_job.result -> 'media');
    END IF;
    IF job.kind = 'reply.generate' THEN
        PERFORM alphadome._send_answer(job, coalesce(complete_job.result ->> 'content', ''));
    ELSIF job.kind = 'media.transcribe' THEN
        PERFORM alphadome._answer_transcript(job, complete_job.result ->> 'transcript');
    ELSIF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
        UPDATE alphadome.alerts a
           SET status = CASE WHEN complete_job.result ->> 'status' = 'simulated' THEN 'simulated' ELSE 'sent' END,
               sent_at = now(), attempts = a.attempts + 1,
               channel = coalesce(complete_job.result ->> 'channel', 'whatsapp_text')
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
        IF complete_job.result ->> 'channel' LIKE 'whatsapp%' OR complete_job.result ? 'wamid' THEN
            PERFORM alphadome._log_outbound(job, complete_job.result ->> 'wamid',
                                            coalesce(complete_job.result ->> 'status', 'sent'), NULL);
        END IF;
    ELSE
        PERFORM alphadome._log_outbound(job, complete_job.result ->> 'wamid',
                                        coalesce(complete_job.result ->> 'status', 'sent'), NULL);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION alphadome.enqueue_credential_alerts(within interval DEFAULT '14 days') RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    queued integer := 0;
    tenant record;
BEGIN
    FOR tenant IN
        SELECT e.tenant_id, e.client_name, string_agg(e.reason, ', ' ORDER BY e.reason) AS reasons, min(e.token_expires_at) AS expires
          FROM alphadome.expiring_credentials(enqueue_credential_alerts.within) e
         GROUP BY e.tenant_id, e.client_name
    LOOP
        queued := queued + alphadome._alert(tenant.tenant_id, 'credentials',
                      tenant.client_name || ': the WhatsApp access token needs attention (' || tenant.reasons || ')'
                      || coalesce('; it expires ' || to_char(tenant.expires, 'YYYY-MM-DD'), '') || '.',
                      'credentials:' || current_date);
    END LOOP;
    IF queued > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
    RETURN queued;
END
$$;

REVOKE ALL ON FUNCTION alphadome._business_hours_problem(jsonb), alphadome._next_opening(jsonb, date[], text, timestamptz),
    alphadome._opening_words(timestamptz, text, timestamptz), alphadome.next_opening(uuid, timestamptz),
    alphadome._alert(uuid, text, text, text, timestamptz), alphadome._alert_context(uuid, bigint, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome._next_opening(jsonb, date[], text, timestamptz) TO alphadome_admin, alphadome_tenant;
GRANT EXECUTE ON FUNCTION alphadome.next_opening(uuid, timestamptz) TO alphadome_admin, alphadome_tenant;
REVOKE ALL ON alphadome.alerts, alphadome.alerts_id_seq FROM PUBLIC;
GRANT SELECT ON alphadome.alerts TO alphadome_admin, alphadome_tenant;
GRANT UPDATE (alert_template_name, alert_template_language, timezone, business_hours, holidays, after_hours_message)
    ON alphadome.bot_control_settings TO alphadome_admin, alphadome_tenant;

-- ---- understanding customers: media, captions, replies by type, an FAQ that knows paraphrases ---

ALTER DOMAIN alphadome.job_kind DROP CONSTRAINT job_kind_check;
ALTER DOMAIN alphadome.job_kind ADD CONSTRAINT job_kind_check
    CHECK (VALUE IN ('reply.generate', 'reply.send', 'alert.send', 'media.transcribe'));

-- match_faq ranks in Rust now (src/faq/), from each session's copy of the tenant's FAQ, with
-- phrasings, rare words weighing more and typos forgiven; the stems it read are gone.
DROP FUNCTION alphadome.match_faq(uuid, text, integer);
DROP FUNCTION alphadome._faq_score(text[], text[], text[], text[]);
ALTER TABLE alphadome.bot_training_data
    DROP COLUMN question_lexemes,
    DROP COLUMN answer_lexemes,
    DROP COLUMN category_lexemes,
    ADD COLUMN phrasings text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(phrasings) <= 50 AND length(array_to_string(phrasings, '')) <= 20000);
CREATE FUNCTION alphadome.match_faq(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (id bigint, data_type text, question text, answer text, category text, score real)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'match_faq_wrapper';

ALTER TABLE alphadome.messages ADD COLUMN media jsonb, ADD COLUMN transcript text, ADD COLUMN pricing_category text;

CREATE FUNCTION alphadome._plan_transcript(tenant_id uuid, message_id bigint, transcript text) RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', '_plan_transcript_wrapper';

CREATE FUNCTION alphadome._type_replies_problem(replies jsonb) RETURNS text
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

CREATE OR REPLACE FUNCTION alphadome._send_answer(job alphadome.outbox, answer text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    text_to_send text := left(btrim(coalesce(answer, '')), 4096);
BEGIN
    IF text_to_send = '' THEN
        text_to_send := (SELECT s.fallback_message FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = job.bot_tenant_id);
    END IF;
    PERFORM alphadome._enqueue(job.bot_tenant_id, 'reply.send',
                (job.payload - 'text' - 'media') || jsonb_build_object('text', text_to_send, 'generated', answer IS NOT NULL));
    PERFORM alphadome._wake_worker();
END
$$;

CREATE FUNCTION alphadome._note_media(job alphadome.outbox, facts jsonb) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.messages m
       SET media = coalesce(m.media, '{}'::jsonb) || coalesce(_note_media.facts, '{}'::jsonb)
     WHERE m.bot_tenant_id = (_note_media.job).bot_tenant_id
       AND m.id = ((_note_media.job).payload ->> 'inbound_message_id')::bigint
       AND jsonb_typeof(_note_media.facts) = 'object';
END;

CREATE FUNCTION alphadome._answer_transcript(job alphadome.outbox, transcript text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    message_id bigint := (job.payload ->> 'inbound_message_id')::bigint;
    heard text := left(btrim(coalesce(transcript, '')), 4096);
    plan jsonb;
    alert jsonb;
BEGIN
    plan := alphadome._plan_transcript(job.bot_tenant_id, message_id, heard);
    UPDATE alphadome.messages m SET transcript = heard, decision = plan ->> 'decision'
     WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id;
    IF jsonb_typeof(plan -> 'reply') = 'object' THEN
        PERFORM alphadome._enqueue(job.bot_tenant_id, plan -> 'reply' ->> 'kind',
                    (job.payload - 'text' - 'media') || jsonb_build_object('text', plan -> 'reply' ->> 'text'));
        PERFORM alphadome._wake_worker();
    END IF;
    alert := plan -> 'alert';
    IF jsonb_typeof(alert) = 'object' THEN
        PERFORM alphadome._alert(job.bot_tenant_id, alert ->> 'kind', alert ->> 'text', alert ->> 'key',
                                 coalesce(to_timestamp((alert ->> 'due')::float8), now()));
    END IF;
    IF plan ->> 'decision' IN ('opt_out', 'opt_in') THEN
        UPDATE alphadome.conversations c
           SET opted_out_at = CASE WHEN plan ->> 'decision' = 'opt_out' THEN now() END
          FROM alphadome.messages m
         WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id
           AND c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION alphadome.match_faq(uuid, text, integer), alphadome._plan_transcript(uuid, bigint, text),
                       alphadome._type_replies_problem(jsonb), alphadome._note_media(alphadome.outbox, jsonb),
                       alphadome._answer_transcript(alphadome.outbox, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome.match_faq(uuid, text, integer) TO alphadome_admin, alphadome_tenant;
GRANT INSERT (phrasings), UPDATE (phrasings) ON alphadome.bot_training_data TO alphadome_tenant;
GRANT UPDATE (transcription_model, enable_media_understanding, type_replies)
    ON alphadome.bot_control_settings TO alphadome_admin, alphadome_tenant;

-- ---- the console: accounts and sessions; usage metering; replay ---------------------------------

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'alphadome_console') THEN
        CREATE ROLE alphadome_console NOLOGIN;
    END IF;
END
$roles$;

-- ---- tables -------------------------------------------------------------------------------------

CREATE TABLE alphadome.console_accounts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL,
    password_hash       text NOT NULL,
    -- The tenant an owner runs; NULL for an operator.
    bot_tenant_id       uuid REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
-- One account per email, however it is written.
CREATE UNIQUE INDEX console_accounts_email ON alphadome.console_accounts (lower(email));
CREATE INDEX console_accounts_tenant ON alphadome.console_accounts (bot_tenant_id);

CREATE TABLE alphadome.console_sessions (
    token_sha256   bytea PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES alphadome.console_accounts (id) ON DELETE CASCADE,
    client_address text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_sessions_account ON alphadome.console_sessions (account_id);

-- Failed logins of the last day, for throttling (by account and by client address).
CREATE TABLE alphadome.console_login_failures (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL,
    client_address text NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_login_failures_email ON alphadome.console_login_failures (email, failed_at);
CREATE INDEX console_login_failures_address ON alphadome.console_login_failures (client_address, failed_at);

SELECT pg_catalog.pg_extension_config_dump('alphadome.console_accounts', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_login_failures', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_login_failures_id_seq', '');

-- ---- passwords and tokens ------------------------------------------------------------------------

-- pgcrypto, bound where it is when the extension is created (BEGIN ATOMIC): bcrypt at cost 10.
CREATE FUNCTION alphadome._password_hash(password text) RETURNS text
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT crypt(password, gen_salt('bf', 10));
END;

CREATE FUNCTION alphadome._password_matches(password text, password_hash text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
    SELECT crypt(password, password_hash) = password_hash;
END;

CREATE FUNCTION alphadome._random_token() RETURNS text
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT encode(gen_random_bytes(32), 'hex');
END;

-- 22023 unless a password is at least 10 characters (and at most 200).
CREATE FUNCTION alphadome._new_password(password text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF password IS NULL OR length(password) < 10 THEN
        RAISE EXCEPTION 'a password has at least 10 characters' USING ERRCODE = '22023';
    ELSIF length(password) > 200 THEN
        RAISE EXCEPTION 'a password has at most 200 characters' USING ERRCODE = '22023';
    END IF;
    RETURN password;
END
$$;

-- ---- accounts (operator) -------------------------------------------------------------------------

-- An owner's console login for a tenant; returns the account's id. 23505 when the email has one.
CREATE FUNCTION alphadome.create_owner(tenant_id uuid, email text, password text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    account uuid;
BEGIN
    IF NOT EXISTS (SELECT FROM alphadome.bot_tenants t WHERE t.id = create_owner.tenant_id) THEN
        RAISE EXCEPTION 'no tenant with id %', create_owner.tenant_id USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO alphadome.console_accounts (email, password_hash, bot_tenant_id)
    VALUES (alphadome._require(alphadome._email(create_owner.email, 'email'), 'email'),
            alphadome._password_hash(alphadome._new_password(create_owner.password)), create_owner.tenant_id)
    RETURNING id INTO account;
    RETURN account;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a console account with email % exists already', create_owner.email USING ERRCODE = '23505';
END
$$;

-- An operator's console login; returns the account's id.
CREATE FUNCTION alphadome.create_operator(email text, password text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    account uuid;
BEGIN
    INSERT INTO alphadome.console_accounts (email, password_hash)
    VALUES (alphadome._require(alphadome._email(create_operator.email, 'email'), 'email'),
            alphadome._password_hash(alphadome._new_password(create_operator.password)))
    RETURNING id INTO account;
    RETURN account;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a console account with email % exists already', create_operator.email USING ERRCODE = '23505';
END
$$;

-- ---- sessions (the console) ----------------------------------------------------------------------

-- A login. outcome: 'ok' with a new session token (shown once: only its sha256 is kept),
-- 'wrong' (no such account, or the wrong password: the same answer, in about the same time), or
-- 'throttled' with the seconds to wait: after 5 failures for the account, or 20 from the client
-- address, in 15 minutes, no password is checked until the oldest of them is 15 minutes old.
-- Returns its outcome rather than raising, so that a failure is recorded.
CREATE FUNCTION alphadome.console_login(email text, password text, client_address text)
    RETURNS TABLE (outcome text, session_token text, retry_after_seconds integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    login text := lower(btrim(coalesce(console_login.email, '')));
    address text := coalesce(nullif(btrim(console_login.client_address), ''), 'unknown');
    account alphadome.console_accounts;
    wait_until timestamptz;
    token text;
BEGIN
    DELETE FROM alphadome.console_login_failures f WHERE f.failed_at < now() - interval '1 day';
    SELECT max(x.until) INTO wait_until FROM (
        SELECT min(f.failed_at) + interval '15 minutes' AS until
          FROM (SELECT f.failed_at FROM alphadome.console_login_failures f
                 WHERE f.email = login AND f.failed_at > now() - interval '15 minutes'
                 ORDER BY f.failed_at DESC LIMIT 5) f
        HAVING count(*) >= 5
        UNION ALL
        SELECT min(f.failed_at) + interval '15 minutes'
          FROM (SELECT f.failed_at FROM alphadome.console_login_failures f
                 WHERE f.client_address = address AND f.failed_at > now() - interval '15 minutes'
                 ORDER BY f.failed_at DESC LIMIT 20) f
        HAVING count(*) >= 20) x;
    IF wait_until > now() THEN
        RETURN QUERY SELECT 'throttled'::text, NULL::text, ceil(extract(epoch FROM wait_until - now()))::integer;
        RETURN;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE lower(a.email) = login;
    -- The same bcrypt work whether or not the account exists.
    IF NOT coalesce(alphadome._password_matches(console_login.password,
                        coalesce(account.password_hash, '$2a$10$6dwXBzAZ19AZTSbLBRLYn.PRmraDyOtHbfPgbiWJwleGmEllX0.km')),
                    false)
       OR account.id IS NULL THEN
        INSERT INTO alphadome.console_login_failures (email, client_address) VALUES (login, address);
        RETURN QUERY SELECT 'wrong'::text, NULL::text, NULL::integer;
        RETURN;
    END IF;
    DELETE FROM alphadome.console_login_failures f WHERE f.email = login;
    DELETE FROM alphadome.console_sessions s
     WHERE s.last_seen_at < now() - interval '4 hours' OR s.created_at < now() - interval '24 hours';
    token := alphadome._random_token();
    INSERT INTO alphadome.console_sessions (token_sha256, account_id, client_address)
    VALUES (sha256(convert_to(token, 'UTF8')), account.id, address);
    RETURN QUERY SELECT 'ok'::text, token, NULL::integer;
END
$$;

-- The account behind a session token, for one request: NULL columns (no row) when the token is
-- unknown, idle for 4 hours, or older than 24 hours. It also sets the tenant context of the
-- calling transaction to the owner's tenant ('' for an operator), so that the request that
-- follows, run as alphadome_tenant, sees that tenant's rows only.
CREATE FUNCTION alphadome.console_session(session_token text)
    RETURNS TABLE (account_id uuid, email text, tenant_id uuid, tenant_name text, is_operator boolean)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    session alphadome.console_sessions;
    account alphadome.console_accounts;
BEGIN
    PERFORM set_config('alphadome.tenant_id', '', true);
    IF console_session.session_token IS NULL OR console_session.session_token !~ '^[0-9a-f]{64}$' THEN
        RETURN;
    END IF;
    SELECT * INTO session FROM alphadome.console_sessions s
     WHERE s.token_sha256 = sha256(convert_to(console_session.session_token, 'UTF8'))
       AND s.last_seen_at > now() - interval '4 hours' AND s.created_at > now() - interval '24 hours';
    IF session.account_id IS NULL THEN
        RETURN;
    END IF;
    -- At most one write a minute per session.
    IF session.last_seen_at < now() - interval '1 minute' THEN
        UPDATE alphadome.console_sessions s SET last_seen_at = now() WHERE s.token_sha256 = session.token_sha256;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE a.id = session.account_id;
    PERFORM set_config('alphadome.tenant_id', coalesce(account.bot_tenant_id::text, ''), true);
    RETURN QUERY
        SELECT account.id, account.email, account.bot_tenant_id,
               (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = account.bot_tenant_id),
               account.bot_tenant_id IS NULL;
END
$$;

-- Ends a session (its token no longer works).
CREATE FUNCTION alphadome.console_logout(session_token text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM alphadome.console_sessions s
     WHERE s.token_sha256 = sha256(convert_to(console_logout.session_token, 'UTF8'));
END;

-- A new password for the session's account, given the current one (28P01 when it is wrong);
-- every other session of the account ends.
CREATE FUNCTION alphadome.console_change_password(session_token text, current_password text, new_password text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    token_hash bytea := sha256(convert_to(coalesce(console_change_password.session_token, ''), 'UTF8'));
    account alphadome.console_accounts;
BEGIN
    SELECT a.* INTO account FROM alphadome.console_accounts a
      JOIN alphadome.console_sessions s ON s.account_id = a.id
     WHERE s.token_sha256 = token_hash
       AND s.last_seen_at > now() - interval '4 hours' AND s.created_at > now() - interval '24 hours';
    IF account.id IS NULL THEN
        RAISE EXCEPTION 'the session has ended: log in again' USING ERRCODE = '28000';
    END IF;
    IF NOT alphadome._password_matches(coalesce(console_change_password.current_password, ''), account.password_hash) THEN
        RAISE EXCEPTION 'the current password is wrong' USING ERRCODE = '28P01';
    END IF;
    UPDATE alphadome.console_accounts a
       SET password_hash = alphadome._password_hash(alphadome._new_password(console_change_password.new_password)),
           password_changed_at = now()
     WHERE a.id = account.id;
    DELETE FROM alphadome.console_sessions s WHERE s.account_id = account.id AND s.token_sha256 <> token_hash;
END
$$;

ALTER TABLE alphadome.console_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alphadome.console_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own_rows ON alphadome.console_accounts TO alphadome_tenant
    USING (bot_tenant_id = (SELECT alphadome._current_tenant()))
    WITH CHECK (bot_tenant_id = (SELECT alphadome._current_tenant()));
CREATE POLICY operator_all_rows ON alphadome.console_accounts TO alphadome_admin USING (true) WITH CHECK (true);

-- Usage metering (docs/sql-api.md): what each tenant's bot did and cost, per day in the tenant's
-- time zone. security_invoker: a tenant owner sees his own days (row-level security of the
-- tables underneath), the operator every tenant's.
--
-- LLM tokens come from the `usage` the LLM returned, kept in the job's result when it completed;
-- finished jobs are kept for prune_history's `keep` (30 days by default), and so are these counts.
-- Meta's pricing category is the one its status webhooks gave for each message sent.
CREATE VIEW alphadome.usage_daily WITH (security_invoker = true) AS
WITH zone AS (
    SELECT s.bot_tenant_id, s.timezone FROM alphadome.bot_control_settings s
), inbound AS (
    SELECT m.bot_tenant_id, (m.created_at AT TIME ZONE z.timezone)::date AS day,
           count(*) AS inbound_messages,
           count(*) FILTER (WHERE m.decision = 'faq') AS faq_answers,
           count(*) FILTER (WHERE m.decision = 'llm') AS llm_answers,
           count(*) FILTER (WHERE m.decision IN ('escalated', 'after_hours')) AS escalations,
           count(*) FILTER (WHERE m.decision IN ('fallback', 'type_reply')) AS fallbacks,
           count(*) FILTER (WHERE m.decision IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled', 'human_handoff',
                                                 'rate_limited', 'recorded', 'transcribe')) AS not_answered,
           count(*) FILTER (WHERE m.message_type = 'audio') AS voice_notes
      FROM alphadome.messages m JOIN zone z ON z.bot_tenant_id = m.bot_tenant_id
     WHERE m.direction = 'inbound'
     GROUP BY 1, 2
), outbound AS (
    SELECT m.bot_tenant_id, (m.created_at AT TIME ZONE z.timezone)::date AS day,
           count(*) FILTER (WHERE m.status NOT IN ('failed', 'simulated')) AS messages_sent,
           count(*) FILTER (WHERE m.status = 'failed') AS messages_failed,
           count(*) FILTER (WHERE m.pricing_category = 'service') AS priced_service,
           count(*) FILTER (WHERE m.pricing_category = 'utility') AS priced_utility,
           count(*) FILTER (WHERE m.pricing_category = 'marketing') AS priced_marketing,
           count(*) FILTER (WHERE m.pricing_category = 'authentication') AS priced_authentication
      FROM alphadome.messages m JOIN zone z ON z.bot_tenant_id = m.bot_tenant_id
     WHERE m.direction = 'outbound'
     GROUP BY 1, 2
), llm AS (
    SELECT o.bot_tenant_id, (o.updated_at AT TIME ZONE z.timezone)::date AS day,
           count(*) FILTER (WHERE o.kind = 'reply.generate') AS llm_calls,
           count(*) FILTER (WHERE o.kind = 'media.transcribe') AS transcriptions,
           coalesce(sum((o.result -> 'usage' ->> 'prompt_tokens')::bigint), 0)::bigint AS prompt_tokens,
           coalesce(sum((o.result -> 'usage' ->> 'completion_tokens')::bigint), 0)::bigint AS completion_tokens
      FROM alphadome.outbox o JOIN zone z ON z.bot_tenant_id = o.bot_tenant_id
     WHERE o.kind IN ('reply.generate', 'media.transcribe') AND o.status = 'done'
     GROUP BY 1, 2
), raised AS (
    SELECT a.bot_tenant_id, (a.created_at AT TIME ZONE z.timezone)::date AS day, count(*) AS alerts
      FROM alphadome.alerts a JOIN zone z ON z.bot_tenant_id = a.bot_tenant_id
     GROUP BY 1, 2
), days AS (
    SELECT bot_tenant_id, day FROM inbound UNION SELECT bot_tenant_id, day FROM outbound
    UNION SELECT bot_tenant_id, day FROM llm UNION SELECT bot_tenant_id, day FROM raised
)
SELECT d.bot_tenant_id, d.day,
       coalesce(i.inbound_messages, 0) AS inbound_messages,
       coalesce(i.faq_answers, 0) AS faq_answers,
       coalesce(i.llm_answers, 0) AS llm_answers,
       coalesce(i.escalations, 0) AS escalations,
       coalesce(i.fallbacks, 0) AS fallbacks,
       coalesce(i.not_answered, 0) AS not_answered,
       coalesce(i.voice_notes, 0) AS voice_notes,
       coalesce(o.messages_sent, 0) AS messages_sent,
       coalesce(o.messages_failed, 0) AS messages_failed,
       coalesce(l.llm_calls, 0) AS llm_calls,
       coalesce(l.transcriptions, 0) AS transcriptions,
       coalesce(l.prompt_tokens, 0) AS prompt_tokens,
       coalesce(l.completion_tokens, 0) AS completion_tokens,
       coalesce(o.priced_service, 0) AS priced_service,
       coalesce(o.priced_utility, 0) AS priced_utility,
       coalesce(o.priced_marketing, 0) AS priced_marketing,
       coalesce(o.priced_authentication, 0) AS priced_authentication,
       coalesce(r.alerts, 0) AS alerts
  FROM days d
  LEFT JOIN inbound i ON i.bot_tenant_id = d.bot_tenant_id AND i.day = d.day
  LEFT JOIN outbound o ON o.bot_tenant_id = d.bot_tenant_id AND o.day = d.day
  LEFT JOIN llm l ON l.bot_tenant_id = d.bot_tenant_id AND l.day = d.day
  LEFT JOIN raised r ON r.bot_tenant_id = d.bot_tenant_id AND r.day = d.day;

CREATE FUNCTION alphadome.replay(since timestamptz, until timestamptz DEFAULT now(),
                                 max_messages integer DEFAULT 200, tenant_id uuid DEFAULT NULL)
    RETURNS TABLE (message_id bigint, received_at timestamptz, message_type text, message text,
                   decision_then text, answer_then text, decision_now text, answer_now text, changed boolean)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'replay_wrapper';
CREATE FUNCTION alphadome.try_message(message text, tenant_id uuid DEFAULT NULL)
    RETURNS TABLE (decision text, answer text)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'try_message_wrapper';

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
END
$$;

REVOKE ALL ON alphadome.console_accounts, alphadome.console_sessions, alphadome.console_login_failures,
              alphadome.console_login_failures_id_seq, alphadome.usage_daily
    FROM PUBLIC;
REVOKE ALL ON FUNCTION alphadome._password_hash(text), alphadome._password_matches(text, text), alphadome._random_token(),
                       alphadome._new_password(text), alphadome.create_owner(uuid, text, text),
                       alphadome.create_operator(text, text), alphadome.console_login(text, text, text),
                       alphadome.console_session(text), alphadome.console_logout(text),
                       alphadome.console_change_password(text, text, text),
                       alphadome.replay(timestamptz, timestamptz, integer, uuid), alphadome.try_message(text, uuid)
    FROM PUBLIC;
GRANT USAGE ON SCHEMA alphadome TO alphadome_console;
GRANT EXECUTE ON FUNCTION alphadome._opening_words(timestamptz, text, timestamptz) TO alphadome_admin, alphadome_tenant;
GRANT EXECUTE ON FUNCTION alphadome.replay(timestamptz, timestamptz, integer, uuid),
                          alphadome.create_owner(uuid, text, text), alphadome.create_operator(text, text)
    TO alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.replay(timestamptz, timestamptz, integer, uuid), alphadome.try_message(text, uuid)
    TO alphadome_admin, alphadome_tenant;
GRANT SELECT ON alphadome.usage_daily TO alphadome_admin, alphadome_tenant;
GRANT SELECT (id, email, bot_tenant_id, created_at, password_changed_at), DELETE
    ON alphadome.console_accounts TO alphadome_admin;
GRANT EXECUTE ON FUNCTION
    alphadome.console_login(text, text, text),
    alphadome.console_session(text),
    alphadome.console_logout(text),
    alphadome.console_change_password(text, text, text)
TO alphadome_console;

REVOKE ALL ON FUNCTION alphadome.claim_jobs(text, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome.claim_jobs(text, integer, integer, text[]) TO alphadome_admin, alphadome_relay;

CREATE FUNCTION alphadome._tenants_with_jobs(after uuid, how_many integer) RETURNS uuid[]
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
        WITH RECURSIVE scan (tenant, n) AS (
            SELECT (SELECT o.bot_tenant_id FROM alphadome.outbox o
                     WHERE o.status IN ('queued', 'running')
                       AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                       -- A bound the index can seek to (an OR here would scan every entry).
                       AND o.bot_tenant_id >= coalesce(_tenants_with_jobs.after, '00000000-0000-0000-0000-000000000000')
                     ORDER BY o.bot_tenant_id LIMIT 1), 1
            UNION ALL
            SELECT (SELECT o.bot_tenant_id FROM alphadome.outbox o
                     WHERE o.status IN ('queued', 'running')
                       AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                       AND o.bot_tenant_id > s.tenant
                     ORDER BY o.bot_tenant_id LIMIT 1), s.n + 1
              FROM scan s WHERE s.tenant IS NOT NULL AND s.n < _tenants_with_jobs.how_many
        )
        SELECT coalesce(array_agg(s.tenant ORDER BY s.tenant), '{}') FROM scan s WHERE s.tenant IS NOT NULL);
END
$$;

-- claim_jobs finds the tenants with work by index, one probe each, whatever the queue's depth.
DROP INDEX alphadome.outbox_runnable;
-- Every key of a tenant table holds the tenant (docs/scaling.md); jobs are still found by id.
ALTER TABLE alphadome.outbox DROP CONSTRAINT outbox_pkey, ADD CONSTRAINT outbox_pkey PRIMARY KEY (id, bot_tenant_id);
CREATE INDEX outbox_ready ON alphadome.outbox (bot_tenant_id, run_at, id) WHERE status IN ('queued', 'running');
REVOKE ALL ON FUNCTION alphadome._tenants_with_jobs(uuid, integer) FROM PUBLIC;

CREATE FUNCTION alphadome._resend_wait(kind text) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN kind IN ('reply.send', 'alert.send') THEN interval '15 seconds' ELSE interval '0' END;

CREATE FUNCTION alphadome._sent_by_status(tenant_id uuid, job_id bigint, wamid text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job alphadome.outbox;
BEGIN
    UPDATE alphadome.outbox o
       SET status = 'done', lease_until = NULL,
           result = jsonb_build_object('wamid', _sent_by_status.wamid, 'status', 'sent', 'by', 'status_webhook')
     WHERE o.id = _sent_by_status.job_id AND o.bot_tenant_id = _sent_by_status.tenant_id
       AND o.status IN ('queued', 'running') AND o.kind IN ('reply.send', 'alert.send')
    RETURNING o.* INTO job;
    IF job.id IS NULL THEN
        RETURN false;
    END IF;
    IF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
        UPDATE alphadome.alerts a SET status = 'sent', sent_at = now(), attempts = a.attempts + 1,
               channel = coalesce(a.channel, 'whatsapp_text')
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
    END IF;
    PERFORM alphadome._log_outbound(job, _sent_by_status.wamid, 'sent', NULL);
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION alphadome._resend_wait(text), alphadome._sent_by_status(uuid, bigint, text) FROM PUBLIC;

-- Every public object described (comments.sql, repeated here).

COMMENT ON SCHEMA alphadome IS 'AlphaDome: WhatsApp AI customer service for many businesses (tenants): their credentials (encrypted), templates, FAQ, switches, conversations and job queue, each tenant kept to its own rows by row-level security';

-- ---- tables -----------------------------------------------------------------------------------

COMMENT ON TABLE alphadome.bot_tenants IS 'One row per client business (tenant); the credential columns hold ciphertext that only tenant_credential() opens';
COMMENT ON COLUMN alphadome.bot_tenants.id IS 'The tenant''s id; never changes (its conversations, messages and jobs refer to it)';
COMMENT ON COLUMN alphadome.bot_tenants.slug IS 'Short name in URLs (/webhook/{slug}): 2-63 of a-z, 0-9 and -';
COMMENT ON COLUMN alphadome.bot_tenants.client_name IS 'The business''s name, as the bot says it';
COMMENT ON COLUMN alphadome.bot_tenants.client_phone IS 'The business''s phone, digits-only international form (normalised on write, local numbers in country_code)';
COMMENT ON COLUMN alphadome.bot_tenants.client_email IS 'The owner''s email address (validated, domain in lower case); alerts go there when WhatsApp cannot carry them';
COMMENT ON COLUMN alphadome.bot_tenants.contact_name IS 'The person to ask for at the business';
COMMENT ON COLUMN alphadome.bot_tenants.whatsapp_phone_number_id IS 'Meta''s Phone number ID of the tenant''s WhatsApp number: the key webhooks are routed by';
COMMENT ON COLUMN alphadome.bot_tenants.whatsapp_business_account_id IS 'Meta''s WhatsApp Business Account id (optional, for reference)';
COMMENT ON COLUMN alphadome.bot_tenants.whatsapp_access_token IS 'Ciphertext of the Meta access token (pgcrypto under the master key file)';
COMMENT ON COLUMN alphadome.bot_tenants.ai_api_key IS 'Ciphertext of the LLM API key; NULL: no key is sent';
COMMENT ON COLUMN alphadome.bot_tenants.app_secret IS 'Ciphertext of the app secret of the tenant''s own Meta app (signatures on /webhook/{slug}); NULL: no own app';
COMMENT ON COLUMN alphadome.bot_tenants.webhook_verify_token IS 'sha256 of the verify token of /webhook/{slug} (set_webhook_verify_token); the token itself is not kept';
COMMENT ON COLUMN alphadome.bot_tenants.ai_base_url IS 'OpenAI-compatible API base for this tenant; NULL: the relay''s LLM_BASE_URL';
COMMENT ON COLUMN alphadome.bot_tenants.ai_model IS 'Chat model asked for in this tenant''s prompts';
COMMENT ON COLUMN alphadome.bot_tenants.is_active IS 'false: webhooks for the tenant are logged and not answered, its jobs wait; needed before the tenant can be deleted';
COMMENT ON COLUMN alphadome.bot_tenants.credential_status IS 'ok, or needs_reauth when Meta refused the token (sends pause until set_credentials gives a new one)';
COMMENT ON COLUMN alphadome.bot_tenants.token_expires_at IS 'When the access token expires (infinity: never; NULL: unknown); alerts come 14 days ahead';
COMMENT ON COLUMN alphadome.bot_tenants.token_rotated_at IS 'When the access token was last set; rotation is due after 90 days';
COMMENT ON COLUMN alphadome.bot_tenants.owner_user_id IS 'The owner''s user id in the identity system in front (Supabase auth.users, for example)';
COMMENT ON COLUMN alphadome.bot_tenants.brand_id IS 'The tenant''s brand in a system of the deployment''s own (free use)';
COMMENT ON COLUMN alphadome.bot_tenants.created_at IS 'When the tenant was created';
COMMENT ON COLUMN alphadome.bot_tenants.updated_at IS 'Start of the transaction that last changed the row';
COMMENT ON COLUMN alphadome.bot_tenants.country_code IS 'Calling code (1-3 digits, no +) in which local phone numbers of this tenant are read';

COMMENT ON TABLE alphadome.bot_templates IS 'A tenant''s personas: the system prompt the LLM gets; a template whose trigger words occur in the message wins over the default';
COMMENT ON COLUMN alphadome.bot_templates.id IS 'Row id';
COMMENT ON COLUMN alphadome.bot_templates.bot_tenant_id IS 'The tenant (set from the tenant context when an owner inserts)';
COMMENT ON COLUMN alphadome.bot_templates.template_name IS 'Name, unique per tenant: default, welcome, product_inquiry, support, ...';
COMMENT ON COLUMN alphadome.bot_templates.system_prompt IS 'The persona and instructions (1-8000 characters)';
COMMENT ON COLUMN alphadome.bot_templates.tone IS 'professional, friendly, casual, formal, playful or concise';
COMMENT ON COLUMN alphadome.bot_templates.triggers IS 'Words or phrases that pick this template when the message contains them';
COMMENT ON COLUMN alphadome.bot_templates.is_default IS 'The template used when no trigger matches (one per tenant)';
COMMENT ON COLUMN alphadome.bot_templates.is_active IS 'false: never used';
COMMENT ON COLUMN alphadome.bot_templates.created_at IS 'When the row was created';
COMMENT ON COLUMN alphadome.bot_templates.updated_at IS 'When the row last changed';

COMMENT ON TABLE alphadome.bot_training_data IS 'A tenant''s FAQ and canned replies: a confident match is sent without the LLM, the best ones go into its prompt';
COMMENT ON COLUMN alphadome.bot_training_data.id IS 'Row id';
COMMENT ON COLUMN alphadome.bot_training_data.bot_tenant_id IS 'The tenant (set from the tenant context when an owner inserts)';
COMMENT ON COLUMN alphadome.bot_training_data.data_type IS 'faq or canned_reply';
COMMENT ON COLUMN alphadome.bot_training_data.question IS 'The question as customers ask it (1-1000 characters)';
COMMENT ON COLUMN alphadome.bot_training_data.answer IS 'The answer sent as it is (1-4096 characters, WhatsApp''s limit)';
COMMENT ON COLUMN alphadome.bot_training_data.category IS 'Business, Products, Payment, ... (its words count a little in matching)';
COMMENT ON COLUMN alphadome.bot_training_data.is_active IS 'false: never matched';
COMMENT ON COLUMN alphadome.bot_training_data.search IS 'Generated: the entry''s words for full-text search (question A, answer B, category C)';
COMMENT ON COLUMN alphadome.bot_training_data.created_at IS 'When the row was created';
COMMENT ON COLUMN alphadome.bot_training_data.updated_at IS 'When the row last changed';
COMMENT ON COLUMN alphadome.bot_training_data.phrasings IS 'Other ways customers ask it (at most 50), matched like the question: "mnafungua saa ngapi?"';

COMMENT ON TABLE alphadome.bot_control_settings IS 'A tenant''s switches; the owner changes all but max_messages_per_hour and prompt_budget_chars, which are the operator''s';
COMMENT ON COLUMN alphadome.bot_control_settings.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.bot_control_settings.is_bot_enabled IS 'false: messages are logged, nothing is answered';
COMMENT ON COLUMN alphadome.bot_control_settings.max_messages_per_hour IS 'Bot replies per clock hour before it stops answering and alerts (operator''s setting)';
COMMENT ON COLUMN alphadome.bot_control_settings.enable_ai_responses IS 'false: no LLM; what the FAQ does not answer gets the fallback message';
COMMENT ON COLUMN alphadome.bot_control_settings.enable_payment_flow IS 'true: the prompt lets the LLM help choose how to pay (no payment is taken in the chat)';
COMMENT ON COLUMN alphadome.bot_control_settings.escalation_phone IS 'Who gets alerts and is named to customers who ask for a person (normalised on write)';
COMMENT ON COLUMN alphadome.bot_control_settings.fallback_message IS 'The reply when nothing else answers';
COMMENT ON COLUMN alphadome.bot_control_settings.opt_out_keywords IS 'A message that is exactly one of these opts the customer out (STOP)';
COMMENT ON COLUMN alphadome.bot_control_settings.opt_in_keywords IS 'A message that is exactly one of these opts the customer back in (START)';
COMMENT ON COLUMN alphadome.bot_control_settings.handoff_keywords IS 'Words that mean the customer asks for a person: escalation';
COMMENT ON COLUMN alphadome.bot_control_settings.faq_confidence IS 'match_faq score (0-1] from which the FAQ answer is sent without the LLM (when no other entry scores nearly as well)';
COMMENT ON COLUMN alphadome.bot_control_settings.prompt_budget_chars IS 'Most characters of an assembled prompt (operator''s setting: it is what the LLM costs)';
COMMENT ON COLUMN alphadome.bot_control_settings.faq_version IS 'Set by a trigger at every FAQ change (never reused): sessions keep a copy of the FAQ by it';
COMMENT ON COLUMN alphadome.bot_control_settings.created_at IS 'When the row was created';
COMMENT ON COLUMN alphadome.bot_control_settings.updated_at IS 'When a setting last changed';
COMMENT ON COLUMN alphadome.bot_control_settings.transcription_model IS 'The model that transcribes voice notes at the tenant''s AI endpoint; NULL: voice notes are not transcribed';
COMMENT ON COLUMN alphadome.bot_control_settings.enable_media_understanding IS 'true: a photo without a caption goes to the LLM with the prompt';
COMMENT ON COLUMN alphadome.bot_control_settings.type_replies IS 'Replies by message type: {"location": "...", "contacts", "order", "unsupported", "image", "video", "document", "audio"}';

COMMENT ON TABLE alphadome.conversations IS 'One per tenant and customer: who it is, the 24-hour window, opt-out and hand-off';
COMMENT ON COLUMN alphadome.conversations.id IS 'Row id';
COMMENT ON COLUMN alphadome.conversations.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.conversations.customer_key IS 'The customer: the phone (wa_id) when Meta gives it, else the business-scoped user id';
COMMENT ON COLUMN alphadome.conversations.wa_id IS 'The customer''s WhatsApp id (phone, digits)';
COMMENT ON COLUMN alphadome.conversations.bsuid IS 'The customer''s business-scoped user id (Meta, 2026)';
COMMENT ON COLUMN alphadome.conversations.customer_name IS 'The name in the customer''s WhatsApp profile';
COMMENT ON COLUMN alphadome.conversations.last_inbound_at IS 'The customer''s last message: free-form replies are possible for 24 hours after it';
COMMENT ON COLUMN alphadome.conversations.opted_out_at IS 'When the customer opted out (NULL: not opted out)';
COMMENT ON COLUMN alphadome.conversations.handoff_at IS 'When a person took the conversation over: the bot stays silent (set NULL to give it back)';
COMMENT ON COLUMN alphadome.conversations.created_at IS 'When the conversation began';
COMMENT ON COLUMN alphadome.conversations.updated_at IS 'When the row last changed';

COMMENT ON TABLE alphadome.messages IS 'The per-tenant message log, both directions, with delivery statuses and what the bot decided';
COMMENT ON COLUMN alphadome.messages.id IS 'Row id';
COMMENT ON COLUMN alphadome.messages.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.messages.conversation_id IS 'The conversation';
COMMENT ON COLUMN alphadome.messages.direction IS 'inbound (from the customer) or outbound (a reply or an alert)';
COMMENT ON COLUMN alphadome.messages.wamid IS 'Meta''s message id, unique per tenant (duplicates are recognised by it)';
COMMENT ON COLUMN alphadome.messages.message_type IS 'Meta''s type: text, image, audio, interactive, ...';
COMMENT ON COLUMN alphadome.messages.body IS 'The words of the message (text, caption, button title, ...)';
COMMENT ON COLUMN alphadome.messages.payload IS 'Inbound: the message''s JSON as Meta sent it; outbound: the job that sent it';
COMMENT ON COLUMN alphadome.messages.status IS 'Inbound: received; outbound: sent, delivered, read, played, failed or simulated (dry run)';
COMMENT ON COLUMN alphadome.messages.error IS 'Why an outbound message failed (Meta''s errors)';
COMMENT ON COLUMN alphadome.messages.created_at IS 'When the row was recorded';
COMMENT ON COLUMN alphadome.messages.updated_at IS 'When its status last changed';
COMMENT ON COLUMN alphadome.messages.decision IS 'Inbound: what the bot decided (docs/sql-api.md lists them)';
COMMENT ON COLUMN alphadome.messages.media IS 'Inbound media: Meta''s id, mime_type and sha256; once fetched, its size and whether its sha256 matched (never the bytes)';
COMMENT ON COLUMN alphadome.messages.transcript IS 'A voice note''s words, as transcribed';
COMMENT ON COLUMN alphadome.messages.pricing_category IS 'Outbound: the pricing category Meta''s status webhooks gave (service, utility, marketing, authentication)';

COMMENT ON TABLE alphadome.reply_counters IS 'Bot replies per tenant and clock hour, in 16 shards, for max_messages_per_hour';
COMMENT ON COLUMN alphadome.reply_counters.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.reply_counters.hour IS 'The clock hour';
COMMENT ON COLUMN alphadome.reply_counters.shard IS 'Backend pid modulo 16: concurrent webhooks count in different rows';
COMMENT ON COLUMN alphadome.reply_counters.replies IS 'Replies counted in this shard';

COMMENT ON TABLE alphadome.outbox IS 'The outbound job queue: replies to generate and send, alerts; leases, attempts, dead letters';
COMMENT ON COLUMN alphadome.outbox.id IS 'Job id';
COMMENT ON COLUMN alphadome.outbox.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.outbox.kind IS 'reply.generate (ask the LLM), reply.send or alert.send (a WhatsApp message)';
COMMENT ON COLUMN alphadome.outbox.payload IS 'What the job needs: recipient, text, the message it answers';
COMMENT ON COLUMN alphadome.outbox.status IS 'queued, running (leased), done or dead (failed for good)';
COMMENT ON COLUMN alphadome.outbox.attempts IS 'Attempts made';
COMMENT ON COLUMN alphadome.outbox.max_attempts IS 'Attempts allowed before the job goes to the dead letters';
COMMENT ON COLUMN alphadome.outbox.run_at IS 'Not claimed before this time (retries wait)';
COMMENT ON COLUMN alphadome.outbox.locked_by IS 'The worker holding the lease';
COMMENT ON COLUMN alphadome.outbox.lease_until IS 'When the lease runs out and another worker may take the job';
COMMENT ON COLUMN alphadome.outbox.last_error IS 'The last failure: class, code, message';
COMMENT ON COLUMN alphadome.outbox.result IS 'What the job produced (the LLM''s answer, the sent message''s wamid)';
COMMENT ON COLUMN alphadome.outbox.dedupe_key IS 'At most one job per key and tenant (alerts: one per window)';
COMMENT ON COLUMN alphadome.outbox.created_at IS 'When the job was queued';
COMMENT ON COLUMN alphadome.outbox.updated_at IS 'When the job last changed';

COMMENT ON TABLE alphadome.webhook_events IS 'Every webhook POST as it came, with what became of it (for support and replay); the operator''s, not the tenants''';
COMMENT ON COLUMN alphadome.webhook_events.id IS 'Event id (ingest_webhook returns it)';
COMMENT ON COLUMN alphadome.webhook_events.received_at IS 'When it was ingested';
COMMENT ON COLUMN alphadome.webhook_events.route_tenant_id IS 'The tenant whose route (/webhook/{slug}) it came by; NULL: the shared app';
COMMENT ON COLUMN alphadome.webhook_events.payload IS 'The body as Meta sent it';
COMMENT ON COLUMN alphadome.webhook_events.outcome IS 'The counts ingest returned, and notes on what it ignored or refused';

COMMENT ON TABLE alphadome.credential_audit IS 'Append-only: every decryption of a credential and every new credential set, who, which tenant, why';
COMMENT ON COLUMN alphadome.credential_audit.id IS 'Row id';
COMMENT ON COLUMN alphadome.credential_audit.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.credential_audit.credential IS 'whatsapp_access_token, ai_api_key or app_secret';
COMMENT ON COLUMN alphadome.credential_audit.purpose IS 'Why (the job kind, the caller''s purpose, a rotation)';
COMMENT ON COLUMN alphadome.credential_audit.job_id IS 'The job it was decrypted for, if any';
COMMENT ON COLUMN alphadome.credential_audit.accessed_by IS 'The session user';
COMMENT ON COLUMN alphadome.credential_audit.acting_role IS 'The role in effect (SET ROLE); none when not set';
COMMENT ON COLUMN alphadome.credential_audit.accessed_at IS 'When';

COMMENT ON COLUMN alphadome.bot_control_settings.alert_template_name IS 'An approved WhatsApp template (one body text parameter) that carries alerts outside the 24-hour window; NULL: email and the operator instead';
COMMENT ON COLUMN alphadome.bot_control_settings.alert_template_language IS 'The template''s language code (en, en_US, sw, ...)';
COMMENT ON COLUMN alphadome.bot_control_settings.timezone IS 'IANA time zone of the business hours';
COMMENT ON COLUMN alphadome.bot_control_settings.business_hours IS 'Opening hours per day, {"mon": [["09:00", "18:00"]], ..., "sun": []}; NULL: always open';
COMMENT ON COLUMN alphadome.bot_control_settings.holidays IS 'Dates the business is closed all day';
COMMENT ON COLUMN alphadome.bot_control_settings.after_hours_message IS 'The reply to a customer who asks for a person outside business hours; {opening} says when it opens';

COMMENT ON TABLE alphadome.alerts IS 'Every alert to a person about a tenant: what it said, when it may go, by which channel it went, and whether it did';
COMMENT ON COLUMN alphadome.alerts.id IS 'Row id';
COMMENT ON COLUMN alphadome.alerts.bot_tenant_id IS 'The tenant';
COMMENT ON COLUMN alphadome.alerts.kind IS 'handoff (a customer asks for a person), no_answer, rate_limit, credentials, token_refused, llm_failed, media_failed';
COMMENT ON COLUMN alphadome.alerts.text IS 'What it says';
COMMENT ON COLUMN alphadome.alerts.channel IS 'How it went: whatsapp_text, whatsapp_template, email, operator, or email+operator';
COMMENT ON COLUMN alphadome.alerts.status IS 'queued, sent, simulated (the relay in dry run), or failed (every channel failed, attempts used up)';
COMMENT ON COLUMN alphadome.alerts.attempts IS 'Attempts made';
COMMENT ON COLUMN alphadome.alerts.last_error IS 'Why the last attempt failed';
COMMENT ON COLUMN alphadome.alerts.job_id IS 'The alert.send job that carries it';
COMMENT ON COLUMN alphadome.alerts.dedupe_key IS 'At most one alert per key and tenant (one rate-limit alert an hour, one credential alert a day)';
COMMENT ON COLUMN alphadome.alerts.created_at IS 'When it was raised';
COMMENT ON COLUMN alphadome.alerts.due_at IS 'When it may go (an escalation outside business hours waits for the opening)';
COMMENT ON COLUMN alphadome.alerts.sent_at IS 'When a channel took it';

COMMENT ON TABLE alphadome.console_accounts IS 'Console logins: a tenant''s owner (bot_tenant_id) or an operator (NULL); the password as a bcrypt hash';
COMMENT ON COLUMN alphadome.console_accounts.id IS 'Account id';
COMMENT ON COLUMN alphadome.console_accounts.email IS 'The login';
COMMENT ON COLUMN alphadome.console_accounts.password_hash IS 'bcrypt (pgcrypto crypt, cost 10); readable by nobody but the extension''s owner';
COMMENT ON COLUMN alphadome.console_accounts.bot_tenant_id IS 'The tenant an owner runs; NULL for an operator';
COMMENT ON COLUMN alphadome.console_accounts.created_at IS 'When the account was made';
COMMENT ON COLUMN alphadome.console_accounts.password_changed_at IS 'When the password last changed';
COMMENT ON TABLE alphadome.console_sessions IS 'Console sessions: only the sha256 of each token; idle 4 hours or 24 hours old, a session has ended';
COMMENT ON COLUMN alphadome.console_sessions.token_sha256 IS 'sha256 of the session token (the token itself is only in the browser''s cookie)';
COMMENT ON COLUMN alphadome.console_sessions.account_id IS 'The account';
COMMENT ON COLUMN alphadome.console_sessions.client_address IS 'Where the login came from';
COMMENT ON COLUMN alphadome.console_sessions.created_at IS 'When the session began';
COMMENT ON COLUMN alphadome.console_sessions.last_seen_at IS 'Its last request (to the minute)';
COMMENT ON TABLE alphadome.console_login_failures IS 'Failed console logins of the last day: 5 per account or 20 per address in 15 minutes throttle further attempts';
COMMENT ON COLUMN alphadome.console_login_failures.id IS 'Row id';
COMMENT ON COLUMN alphadome.console_login_failures.email IS 'The login tried (lower case)';
COMMENT ON COLUMN alphadome.console_login_failures.client_address IS 'Where it came from';
COMMENT ON COLUMN alphadome.console_login_failures.failed_at IS 'When';

COMMENT ON VIEW alphadome.usage_daily IS 'Per tenant and day (its time zone): messages in, answers by kind, messages sent and failed, LLM calls and tokens, transcriptions, Meta pricing categories, alerts';

COMMENT ON VIEW alphadome.queue_status IS 'Per tenant: jobs queued, running, dead, done in the last hour, and the oldest pending job''s age';

-- ---- functions --------------------------------------------------------------------------------

COMMENT ON FUNCTION alphadome.normalize_phone(text, text) IS 'A phone number in the digits-only international form WhatsApp uses (local numbers read in default_country_code); 22023 for text that is not one';
COMMENT ON FUNCTION alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz, text, text, text, text) IS 'Creates a tenant with encrypted credentials and default control settings (escalation phone: its own); returns its id. Operator only';
COMMENT ON FUNCTION alphadome.set_credentials(uuid, text, text, text, timestamptz) IS 'Sets new credentials of a tenant (NULL keeps a value), audits each; a new token resets credential_status. Operator only';
COMMENT ON FUNCTION alphadome.tenant_for_phone_number_id(text) IS 'The tenant that owns a WhatsApp phone number id, or NULL';
COMMENT ON FUNCTION alphadome.tenant_for_client_phone(text) IS 'The tenant with this business phone (any written form), or NULL';
COMMENT ON FUNCTION alphadome.tenant_for_slug(text) IS 'The active tenant behind /webhook/{slug}, or NULL';
COMMENT ON FUNCTION alphadome.tenant_credential(uuid, text, text) IS 'Decrypts one credential of a tenant and writes an audit row; relay and operator only';
COMMENT ON FUNCTION alphadome.match_faq(uuid, text, integer) IS 'A tenant''s FAQ and canned replies ranked for a message, score in [0,1]';
COMMENT ON FUNCTION alphadome.assemble_prompt(uuid, text, text) IS 'The chat-completions request for a customer''s message: template, rules, best FAQ entries, recent history, within the budget; never a credential';
COMMENT ON FUNCTION alphadome.ingest_webhook(jsonb, uuid) IS 'One webhook POST in one transaction: routed, deduplicated, recorded, decided, jobs queued; returns the counts';
COMMENT ON FUNCTION alphadome.ingest_webhook_text(text, uuid) IS 'ingest_webhook for the body as text (what the relay calls): any JSON Meta signs is answered; messages holding \u0000 are refused, their neighbours recorded';
COMMENT ON FUNCTION alphadome.claim_jobs(text, integer, integer, text[]) IS 'Leases runnable jobs (of the kinds given, else any), fair across tenants, each with its context and credential (decrypted, audited)';
COMMENT ON FUNCTION alphadome.complete_job(bigint, jsonb) IS 'Finishes a running job with its result (an LLM answer queues its send; a transcript is answered like text; a send is logged)';
COMMENT ON FUNCTION alphadome.fail_job(bigint, jsonb, integer) IS 'Records a failed attempt: retried in retry_in_seconds, or dead (NULL, or attempts used up); class auth pauses the tenant';
COMMENT ON FUNCTION alphadome.expiring_credentials(interval) IS 'Active tenants whose token expired, expires within the interval, is due for rotation or was refused';
COMMENT ON FUNCTION alphadome.enqueue_credential_alerts(interval) IS 'Queues one alert per tenant and day for expiring_credentials(); returns how many';
COMMENT ON FUNCTION alphadome.rotate_master_key(integer) IS 'Re-encrypts credentials not under the current master key, a batch of tenants at a time; call until 0';
COMMENT ON FUNCTION alphadome.set_webhook_verify_token(uuid, text) IS 'Sets (NULL: clears) the verify token of a tenant''s /webhook/{slug}; only its sha256 is kept';
COMMENT ON FUNCTION alphadome.webhook_verify_token_matches(text, text) IS 'Does the token match the verify token of the active tenant with this slug?';
COMMENT ON FUNCTION alphadome.webhook_routes() IS 'The relay''s per-tenant routes: active tenants with when they changed, whether they have an app secret, and their verify token''s sha256';
COMMENT ON FUNCTION alphadome.prune_credential_audit(interval) IS 'The one way to delete audit rows: those older than the interval (at least 30 days)';
COMMENT ON FUNCTION alphadome.prune_history(interval, integer) IS 'Retention: deletes raw webhooks and finished jobs older than keep, and past hours'' counters, a batch of each; call until all counts are 0';
COMMENT ON FUNCTION alphadome.next_opening(uuid, timestamptz) IS 'When the tenant is next open, in its business hours (at itself when open then; NULL: not in the next two weeks)';
COMMENT ON FUNCTION alphadome.replay(timestamptz, timestamptz, integer, uuid) IS 'Stored inbound messages decided again with today''s FAQ and switches: the decision and answer then and now; writes nothing';
COMMENT ON FUNCTION alphadome.try_message(text, uuid) IS 'What the bot would do now with a typed message: the decision and the answer it would send; nothing is recorded or sent';
COMMENT ON FUNCTION alphadome.create_owner(uuid, text, text) IS 'A console login for a tenant''s owner (password at least 10 characters, kept as bcrypt); returns the account id. Operator only';
COMMENT ON FUNCTION alphadome.create_operator(text, text) IS 'A console login for an operator; returns the account id. Operator only';
COMMENT ON FUNCTION alphadome.console_login(text, text, text) IS 'A console login: ok with a new session token, wrong, or throttled with the seconds to wait. The console''s';
COMMENT ON FUNCTION alphadome.console_session(text) IS 'The account behind a session token; sets the transaction''s tenant context to its tenant. The console''s';
COMMENT ON FUNCTION alphadome.console_logout(text) IS 'Ends a console session. The console''s';
COMMENT ON FUNCTION alphadome.console_change_password(text, text, text) IS 'A new password for the session''s account, given the current one; its other sessions end. The console''s';
COMMENT ON FUNCTION alphadome.security_check() IS 'The deployment''s isolation self-check: one row per check, ok or not, with what is wrong';

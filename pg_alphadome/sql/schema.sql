-- pg_alphadome bootstrap: roles, tables, tenant context, row-level security.
-- Runs first in CREATE EXTENSION, with search_path = alphadome, <pgcrypto's schema>, pg_catalog.

-- Roles are cluster-wide: a second database, or a CREATE after DROP EXTENSION, finds them.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['alphadome_admin', 'alphadome_relay', 'alphadome_tenant', 'alphadome_console'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;


-- pgcrypto wrappers. BEGIN ATOMIC binds pgp_sym_* at creation time, wherever pgcrypto lives,
-- so nothing later depends on a search_path. The password is derived per tenant and
-- credential in Rust (credentials.rs); it is a 256-bit random-looking value, so pgcrypto's
-- iterated S2K adds nothing and s2k-mode=1 (salted) is enough. No compression: it leaks length.
CREATE FUNCTION alphadome._pgp_encrypt(plaintext text, password text) RETURNS bytea
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT pgp_sym_encrypt(plaintext, password,
        'cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256, compress-algo=0');
END;

CREATE FUNCTION alphadome._pgp_decrypt(ciphertext bytea, password text) RETURNS text
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT pgp_sym_decrypt(ciphertext, password);
END;

-- ---- tenants ------------------------------------------------------------------------------

CREATE TABLE alphadome.bot_tenants (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug                         text NOT NULL UNIQUE
                                 CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    client_name                  text NOT NULL CHECK (length(btrim(client_name)) > 0),
    client_phone                 text NOT NULL UNIQUE CHECK (client_phone ~ '^[1-9][0-9]{7,14}$'),
    client_email                 text CHECK (client_email ~ '^[^@\s]+@[^@\s]+$'),
    contact_name                 text,
    whatsapp_phone_number_id     text NOT NULL UNIQUE CHECK (whatsapp_phone_number_id ~ '^[0-9]{1,32}$'),
    whatsapp_business_account_id text CHECK (whatsapp_business_account_id ~ '^[0-9]{1,32}$'),
    -- Ciphertext (credentials.rs format), never plaintext.
    whatsapp_access_token        bytea NOT NULL,
    ai_api_key                   bytea,
    app_secret                   bytea,
    -- sha256 of the verify token: the GET handshake compares hashes.
    webhook_verify_token         bytea CHECK (octet_length(webhook_verify_token) = 32),
    ai_base_url                  text CHECK (ai_base_url ~ '^https?://'),
    ai_model                     text NOT NULL DEFAULT 'gpt-4o-mini',
    is_active                    boolean NOT NULL DEFAULT true,
    credential_status            text NOT NULL DEFAULT 'ok'
                                 CHECK (credential_status IN ('ok', 'needs_reauth')),
    token_expires_at             timestamptz,
    token_rotated_at             timestamptz NOT NULL DEFAULT now(),
    owner_user_id                uuid,
    brand_id                     uuid,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    -- 0.2.0. Local numbers (client_phone, escalation_phone) are read in this country.
    country_code                 text NOT NULL DEFAULT '254' CHECK (country_code ~ '^[1-9][0-9]{0,2}$')
);

CREATE TABLE alphadome.bot_templates (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    template_name text NOT NULL CHECK (template_name ~ '^[a-z0-9_]{1,64}$'),
    system_prompt text NOT NULL CHECK (length(system_prompt) BETWEEN 1 AND 8000),
    tone          text NOT NULL DEFAULT 'friendly'
                  CHECK (tone IN ('professional', 'friendly', 'casual', 'formal', 'playful', 'concise')),
    triggers      text[] NOT NULL DEFAULT '{}',
    is_default    boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, template_name)
);
-- One default template per tenant.
CREATE UNIQUE INDEX bot_templates_one_default ON alphadome.bot_templates (bot_tenant_id) WHERE is_default;

CREATE TABLE alphadome.bot_training_data (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    data_type     text NOT NULL CHECK (data_type IN ('faq', 'canned_reply')),
    question      text NOT NULL CHECK (length(question) BETWEEN 1 AND 1000),
    answer        text NOT NULL CHECK (length(answer) BETWEEN 1 AND 4096),
    category      text NOT NULL DEFAULT 'Business',
    is_active     boolean NOT NULL DEFAULT true,
    -- Question words weigh most (A), then the answer (B), then the category (C).
    search        tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english'::regconfig, question), 'A')
                   || setweight(to_tsvector('english'::regconfig, answer), 'B')
                   || setweight(to_tsvector('english'::regconfig, category), 'C')) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- 0.2.0: other ways customers ask the same question ("mnafungua saa ngapi?"), matched like
    -- the question itself (src/faq/).
    phrasings     text[] NOT NULL DEFAULT '{}'
                  CHECK (cardinality(phrasings) <= 50 AND length(array_to_string(phrasings, '')) <= 20000),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, data_type, question)
);
CREATE INDEX bot_training_data_search ON alphadome.bot_training_data USING gin (search);


CREATE TABLE alphadome.bot_control_settings (
    bot_tenant_id         uuid PRIMARY KEY REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    is_bot_enabled        boolean NOT NULL DEFAULT true,
    max_messages_per_hour integer NOT NULL DEFAULT 200 CHECK (max_messages_per_hour BETWEEN 0 AND 100000),
    enable_ai_responses   boolean NOT NULL DEFAULT true,
    enable_payment_flow   boolean NOT NULL DEFAULT false,
    escalation_phone      text CHECK (escalation_phone ~ '^[1-9][0-9]{7,14}$'),
    fallback_message      text NOT NULL DEFAULT 'Thanks for your message! A member of our team will get back to you shortly.'
                          CHECK (length(fallback_message) BETWEEN 1 AND 4096),
    opt_out_keywords      text[] NOT NULL DEFAULT '{stop,unsubscribe}',
    opt_in_keywords       text[] NOT NULL DEFAULT '{start}',
    handoff_keywords      text[] NOT NULL DEFAULT '{human,agent,person,representative}',
    -- match_faq score at or above which an answer is sent without the LLM.
    faq_confidence        real NOT NULL DEFAULT 0.6 CHECK (faq_confidence > 0 AND faq_confidence <= 1),
    -- Upper bound on the characters of an assembled prompt (about 4 characters a token).
    prompt_budget_chars   integer NOT NULL DEFAULT 12000 CHECK (prompt_budget_chars BETWEEN 1000 AND 200000),
    -- The version of the tenant's FAQ, for the copy each session keeps (src/faq/copy.rs): every change to its bot_training_data rows sets a new value from a sequence
    -- (trigger below; NULL until the first). Values are never reused, so a copy made in a
    -- transaction that rolled back never matches again. Nobody else may set it (grants.sql).
    faq_version           bigint,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- 0.2.0: alerts outside the 24-hour window go as this approved WhatsApp template (its body's
    -- one text parameter is the alert); without one they go by email and to the operator.
    alert_template_name     text CHECK (alert_template_name ~ '^[a-z0-9_]+$' AND length(alert_template_name) <= 512),
    alert_template_language text NOT NULL DEFAULT 'en' CHECK (alert_template_language ~ '^[a-z]{2,3}(_[A-Z]{2})?$'),
    -- 0.2.0: business hours in the tenant's time zone (NULL: always open), holidays (closed all
    -- day), and what a customer who asks for a person outside them is told ({opening}: when).
    timezone              text NOT NULL DEFAULT 'Africa/Nairobi',
    business_hours        jsonb,
    holidays              date[] NOT NULL DEFAULT '{}',
    after_hours_message   text NOT NULL DEFAULT 'Thanks for your message! We are closed now and open again {opening}. A member of our team will get back to you then.'
                          CHECK (length(after_hours_message) BETWEEN 1 AND 4096),
    -- 0.2.0: voice notes are transcribed with this model of the tenant's OpenAI-compatible
    -- endpoint (NULL: they are not, and get the reply for audio or the fallback); a photo
    -- without a caption goes to the LLM when enable_media_understanding is on; type_replies
    -- answers a place, a contact card, an order, ... ({"location": "..."}; checked by
    -- _settings_normalized).
    transcription_model        text DEFAULT 'whisper-1' CHECK (length(transcription_model) BETWEEN 1 AND 200),
    enable_media_understanding boolean NOT NULL DEFAULT false,
    type_replies               jsonb NOT NULL DEFAULT '{}'
);

CREATE SEQUENCE alphadome._faq_version;

-- SECURITY DEFINER: tenant owners edit their FAQ but may not set faq_version themselves.
CREATE FUNCTION alphadome._faq_changed() RETURNS trigger
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
CREATE TRIGGER faq_changed AFTER INSERT OR UPDATE OR DELETE ON alphadome.bot_training_data
    FOR EACH ROW EXECUTE FUNCTION alphadome._faq_changed();
CREATE TRIGGER faq_truncated AFTER TRUNCATE ON alphadome.bot_training_data
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._faq_changed();

-- ---- conversations and the per-tenant message log -------------------------------------------

-- The rules on columns the message path writes are domains, not table CHECKs: PostgreSQL
-- re-reads and re-plans a table's CHECK constraints at the start of every INSERT or UPDATE, a
-- domain's check once per session; as table CHECKs they cost a large share of every webhook's
-- writes (docs/internals.md).
CREATE DOMAIN alphadome.message_direction AS text CHECK (VALUE IN ('inbound', 'outbound'));
CREATE DOMAIN alphadome.message_decision AS text
    CHECK (VALUE IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled', 'human_handoff',
                     'rate_limited', 'escalated', 'faq', 'llm', 'fallback', 'recorded', 'after_hours',
                     'transcribe', 'type_reply'));
CREATE DOMAIN alphadome.job_kind AS text CHECK (VALUE IN ('reply.generate', 'reply.send', 'alert.send', 'media.transcribe'));
CREATE DOMAIN alphadome.job_status AS text CHECK (VALUE IN ('queued', 'running', 'done', 'dead'));
CREATE DOMAIN alphadome.customer_key AS text CHECK (length(VALUE) BETWEEN 1 AND 128);
CREATE DOMAIN alphadome.attempt_limit AS integer CHECK (VALUE BETWEEN 1 AND 100);
CREATE DOMAIN alphadome.dedupe_key AS text CHECK (length(VALUE) BETWEEN 1 AND 200);

-- conversations, reply_counters and outbox name their tenant without a foreign key: see "tenant
-- references on the message path" below.
CREATE TABLE alphadome.conversations (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id    uuid NOT NULL,
    -- wa_id when Meta sends one, else the business-scoped user id (BSUID).
    customer_key     alphadome.customer_key NOT NULL,
    wa_id            text,
    bsuid            text,
    customer_name    text,
    last_inbound_at  timestamptz,
    opted_out_at     timestamptz,
    handoff_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, customer_key)
);

CREATE TABLE alphadome.messages (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id   uuid NOT NULL,
    conversation_id bigint NOT NULL,
    direction       alphadome.message_direction NOT NULL,
    wamid           text,
    message_type    text NOT NULL DEFAULT 'text',
    body            text,
    payload         jsonb,
    status          text NOT NULL DEFAULT 'received',
    error           jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, wamid),
    FOREIGN KEY (bot_tenant_id, conversation_id)
        REFERENCES alphadome.conversations (bot_tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_history ON alphadome.messages (bot_tenant_id, conversation_id, created_at DESC);

-- What ingest decided for an inbound message (docs/design.md section 1), for the log.
ALTER TABLE alphadome.messages ADD COLUMN decision alphadome.message_decision;
-- 0.2.0: what the webhook said of a message's media (Meta's id, mime_type, sha256; with the
-- relay's size and check once fetched; never the bytes), a voice note's transcript, and the
-- pricing category Meta's status webhooks gave a message sent (usage_daily).
ALTER TABLE alphadome.messages ADD COLUMN media jsonb, ADD COLUMN transcript text, ADD COLUMN pricing_category text;

-- Bot replies per tenant and clock hour, for max_messages_per_hour. Each session counts in a
-- shard of its own (its pid modulo 16), so concurrent webhooks do not queue on one row; the
-- limit is the sum of the shards.
CREATE TABLE alphadome.reply_counters (
    bot_tenant_id uuid NOT NULL,
    hour          timestamptz NOT NULL,
    shard         smallint NOT NULL,
    replies       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_tenant_id, hour, shard)
);

-- ---- the outbound job queue -----------------------------------------------------------------

CREATE TABLE alphadome.outbox (
    -- The worker completes and fails jobs by id (the key leads with it); the key holds the
    -- tenant too, as every key of a tenant table does (docs/scaling.md).
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL,
    kind          alphadome.job_kind NOT NULL,
    payload       jsonb NOT NULL,
    status        alphadome.job_status NOT NULL DEFAULT 'queued',
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  alphadome.attempt_limit NOT NULL DEFAULT 5,
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_by     text,
    lease_until   timestamptz,
    last_error    jsonb,
    result        jsonb,
    -- At most one job per key and tenant: alerts once per window, one reply per inbound message.
    dedupe_key    alphadome.dedupe_key,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, bot_tenant_id)
);
-- Only keyed jobs (alerts) are deduplicated; replies are unique by their inbound message.
CREATE UNIQUE INDEX outbox_dedupe ON alphadome.outbox (bot_tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Jobs to run by tenant and age: claim_jobs finds the tenants with work through it (one probe
-- each), then each tenant's oldest jobs.
CREATE INDEX outbox_ready ON alphadome.outbox (bot_tenant_id, run_at, id) WHERE status IN ('queued', 'running');
-- Finished jobs by age, for prune_history.
CREATE INDEX outbox_finished ON alphadome.outbox (updated_at) WHERE status IN ('done', 'dead');

-- ---- alerts --------------------------------------------------------------------------------------

-- 0.2.0. Every alert to a person about a tenant (a customer asking for one, no answer, the hourly
-- limit, a token that needs the operator, an LLM that failed, a voice note or photo that could not be
-- fetched or transcribed): what it said, by which channel it
-- went (WhatsApp text inside the 24-hour window, the tenant's template, email, the operator's
-- webhook), and whether it did. An alert.send job carries it; due_at is when it may go (an
-- escalation outside business hours waits for the opening). Written on the message path: its
-- tenant is named without a foreign key, like the outbox's.
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
CREATE FUNCTION alphadome._tenant_id_fixed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the id of tenant % cannot change: its conversations, messages and jobs refer to it', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER id_fixed BEFORE UPDATE OF id ON alphadome.bot_tenants
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION alphadome._tenant_id_fixed();

-- SECURITY DEFINER: it must see every session's transaction start (pg_stat_activity shows other
-- roles' only to privileged ones) and delete the tenant's rows whoever deletes the tenant.
CREATE FUNCTION alphadome._tenant_deleted() RETURNS trigger
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
CREATE TRIGGER rows_deleted BEFORE DELETE ON alphadome.bot_tenants
    FOR EACH ROW EXECUTE FUNCTION alphadome._tenant_deleted();

CREATE FUNCTION alphadome._tenants_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE alphadome.reply_counters, alphadome.outbox, alphadome.messages, alphadome.conversations,
             alphadome.alerts;
    RETURN NULL;
END
$$;
CREATE TRIGGER rows_truncated BEFORE TRUNCATE ON alphadome.bot_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._tenants_truncated();

-- Raw webhook payloads, for replay and support. Not tenant rows: one POST can carry several
-- tenants; the operator reads them, tenants do not.
CREATE TABLE alphadome.webhook_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    route_tenant_id uuid,
    payload         jsonb NOT NULL,
    outcome         jsonb
);
-- BRIN: rows arrive in time order, and a BRIN entry costs an insert almost nothing.
CREATE INDEX webhook_events_time ON alphadome.webhook_events USING brin (received_at);

-- ---- credential audit (append-only: see grants.sql) ------------------------------------------

CREATE TABLE alphadome.credential_audit (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL,
    credential    text NOT NULL,
    purpose       text NOT NULL,
    job_id        bigint,
    accessed_by   name NOT NULL DEFAULT session_user,
    -- The role in effect (SET ROLE) when the access happened; 'none' when not set.
    acting_role   text NOT NULL DEFAULT current_setting('role'),
    accessed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id)
);
CREATE INDEX credential_audit_time ON alphadome.credential_audit (accessed_at);

-- Tenant data survives pg_dump: extension tables are otherwise dumped without rows.
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_tenants', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_templates', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_training_data', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_control_settings', '');
-- With the settings' faq_version values, the sequence that makes them: after a restore its next
-- value must still be new, or a session's copy of an old FAQ could match again.
SELECT pg_catalog.pg_extension_config_dump('alphadome._faq_version', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.conversations', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.messages', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.credential_audit', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.reply_counters', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.webhook_events', '');
-- And the identity sequences behind their ids: restored without them, every sequence would
-- start again at 1 and the next webhook, FAQ entry or job would collide with a restored row.
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_templates_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_training_data_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.conversations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.messages_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.credential_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.webhook_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.alerts_id_seq', '');

-- Keep updated_at true for every writer, including tenant owners through PostgREST.
CREATE FUNCTION alphadome._touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
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
            'CREATE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.%I
             FOR EACH ROW EXECUTE FUNCTION alphadome._touch_updated_at()', t);
    END LOOP;
END
$touch$;
-- A new FAQ version is not a change of the settings.
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.bot_control_settings
    FOR EACH ROW WHEN (OLD.faq_version IS NOT DISTINCT FROM NEW.faq_version)
    EXECUTE FUNCTION alphadome._touch_updated_at();

-- pg_alphadome's state: domains, tables, sequences, indexes, and which of them pg_dump keeps.
-- Runs first in CREATE EXTENSION, with search_path = alphadome, <pgcrypto's schema>, pg_catalog.
--
-- Only state lives here: what an upgrade must change by hand (sql/upgrade/<from>--<to>.sql).
-- Every other file of sql/ is code (functions, views, triggers, policies, comments, grants) that
-- runs again, unchanged, in every generated upgrade script (docs/internals.md, "Upgrades").


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

-- 0.3.0: FAQ entries an owner deleted, kept a day so that "Undo" can put them back
-- (delete_faq_entry, undo_faq_delete: console.sql). Nothing answers from them.
CREATE TABLE alphadome.faq_deleted (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    entry         jsonb NOT NULL,
    deleted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_deleted', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_deleted_id_seq', '');


CREATE TABLE alphadome.bot_control_settings (
    bot_tenant_id         uuid PRIMARY KEY REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    is_bot_enabled        boolean NOT NULL DEFAULT true,
    max_messages_per_hour integer NOT NULL DEFAULT 200 CHECK (max_messages_per_hour BETWEEN 0 AND 100000),
    enable_ai_responses   boolean NOT NULL DEFAULT true,
    enable_payment_flow   boolean NOT NULL DEFAULT false,
    escalation_phone      text CHECK (escalation_phone ~ '^[1-9][0-9]{7,14}$'),
    fallback_message      text NOT NULL DEFAULT 'Thanks for your message! A member of our team will get back to you shortly.'
                          CHECK (length(fallback_message) BETWEEN 1 AND 4096),
    opt_out_keywords      text[] NOT NULL DEFAULT '{stop,unsubscribe,"stop please","please stop","stop messages","stop sending",acha,"acha kunitumia","sitaki messages","sitaki ujumbe",usinitumie,niondoe}',
    opt_in_keywords       text[] NOT NULL DEFAULT '{start}',
    handoff_keywords      text[] NOT NULL DEFAULT '{human,agent,person,representative,"customer care","customer service","speak to someone","talk to someone","real person","nataka kuongea na mtu","niongee na mtu","nataka mtu","huduma kwa wateja","mhudumu","nipigie"}',
    -- match_faq score at or above which an answer is sent without the LLM.
    faq_confidence        real NOT NULL DEFAULT 0.6 CHECK (faq_confidence > 0 AND faq_confidence <= 1),
    -- Upper bound on the characters of an assembled prompt (about 4 characters a token).
    prompt_budget_chars   integer NOT NULL DEFAULT 12000 CHECK (prompt_budget_chars BETWEEN 1000 AND 200000),
    -- The version of the tenant's FAQ, for the copy each session keeps (src/faq/copy.rs): every change to its bot_training_data rows sets a new value from a sequence
    -- (trigger faq_changed, base.sql; NULL until the first). Values are never reused, so a copy made in a
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
    type_replies               jsonb NOT NULL DEFAULT '{}',
    -- 0.3.0: a customer waiting for a person is reminded about after handoff_reminder, and after
    -- handoff_timeout the bot tells the customer (handoff_timeout_message) and answers again;
    -- both clocks count while the shop is open (docs/design.md, "A person answers").
    handoff_timeout            interval NOT NULL DEFAULT '2 hours'
                               CHECK (handoff_timeout BETWEEN '5 minutes' AND '7 days'),
    handoff_reminder           interval NOT NULL DEFAULT '15 minutes'
                               CHECK (handoff_reminder BETWEEN '1 minute' AND '1 day'),
    handoff_timeout_message    text NOT NULL DEFAULT 'Sorry for the wait: nobody from our team could answer yet. I am the shop''s assistant and can help you meanwhile, and a person will still get back to you.'
                               CHECK (length(handoff_timeout_message) BETWEEN 1 AND 4096),
    -- 0.3.0: the tenant's words for the FAQ matcher, added to the shipped lexicon
    -- (src/faq/lexicon.rs): {"word": "the word it means"}, a key ending in "-" a Swahili verb
    -- root ({"rekebish-": "repair"}). A change gives the FAQ a new faq_version (base.sql).
    faq_synonyms               jsonb NOT NULL DEFAULT '{}'
                               CHECK (jsonb_typeof(faq_synonyms) = 'object' AND length(faq_synonyms::text) <= 100000),
    -- 0.3.0 (issue 23): how long the tenant's messages and conversations are kept, in days
    -- (NULL: for ever); prune_history applies it in batches (retention.sql).
    keep_messages_days         integer CHECK (keep_messages_days BETWEEN 1 AND 36500)
);

CREATE SEQUENCE alphadome._faq_version;


-- ---- conversations and the per-tenant message log -------------------------------------------

-- The rules on columns the message path writes are domains, not table CHECKs: PostgreSQL
-- re-reads and re-plans a table's CHECK constraints at the start of every INSERT or UPDATE, a
-- domain's check once per session; as table CHECKs they cost a large share of every webhook's
-- writes (docs/internals.md).
CREATE DOMAIN alphadome.message_direction AS text CHECK (VALUE IN ('inbound', 'outbound'));
CREATE DOMAIN alphadome.message_decision AS text
    CHECK (VALUE IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled', 'human_handoff',
                     'rate_limited', 'escalated', 'faq', 'llm', 'fallback', 'recorded', 'after_hours',
                     'transcribe', 'type_reply', 'waiting', 'history', 'opt_out_confirm',
                     'product', 'payment', 'faq_semantic'));
CREATE DOMAIN alphadome.job_kind AS text
    CHECK (VALUE IN ('reply.generate', 'reply.send', 'alert.send', 'media.transcribe', 'templates.sync',
                     'payment.stk_push', 'payment.query',
                     'campaign.send', 'templates.submit', 'faq.embed'));
-- 0.3.0: who wrote an outbound message: the bot, a person in the console, or the shop's own
-- WhatsApp Business app (coexistence).
CREATE DOMAIN alphadome.message_sender AS text CHECK (VALUE IN ('bot', 'person', 'app'));
CREATE DOMAIN alphadome.job_status AS text CHECK (VALUE IN ('queued', 'running', 'done', 'dead'));
CREATE DOMAIN alphadome.customer_key AS text CHECK (length(VALUE) BETWEEN 1 AND 128);
CREATE DOMAIN alphadome.attempt_limit AS integer CHECK (VALUE BETWEEN 1 AND 100);
CREATE DOMAIN alphadome.dedupe_key AS text CHECK (length(VALUE) BETWEEN 1 AND 200);

-- conversations, reply_counters and outbox name their tenant without a foreign key: base.sql
-- ("tenant references on the message path") says why and what stands in for one.
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
    -- 0.3.0: the customer has waited for a person since waiting_since (NULL: not waiting; a
    -- reminder about it went out at reminded_at); handoff_at is when a person last answered or
    -- took the conversation over; resolved_at when a person marked it resolved (the customer's
    -- next message opens it again). state says which holds, for the inbox.
    waiting_since    timestamptz,
    reminded_at      timestamptz,
    resolved_at      timestamptz,
    state            text NOT NULL GENERATED ALWAYS AS (
                         CASE WHEN handoff_at IS NOT NULL THEN 'person'
                              WHEN waiting_since IS NOT NULL THEN 'waiting'
                              WHEN resolved_at IS NOT NULL THEN 'resolved'
                              ELSE 'bot' END) STORED,
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, customer_key)
);
-- The inbox: who waits, longest first.
CREATE INDEX conversations_waiting ON alphadome.conversations (bot_tenant_id, waiting_since)
    WHERE waiting_since IS NOT NULL;

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
-- 0.3.0: who wrote an outbound message (NULL for inbound ones), and the console account of a
-- person's reply.
ALTER TABLE alphadome.messages ADD COLUMN sent_by alphadome.message_sender, ADD COLUMN sent_by_account uuid;

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
                                               'token_refused', 'llm_failed', 'media_failed',
                                               'handoff_reminder', 'handoff_timeout', 'key_unavailable',
                                               'payment', 'weekly_summary')),
    text          text NOT NULL CHECK (length(text) BETWEEN 1 AND 4096),
    channel       text CHECK (channel ~ '^(whatsapp_text|whatsapp_template|email|operator)(\+(email|operator))*$'),
    -- cancelled (0.3.0, issue 22): not sent, no longer needed: marked done, or a person answered
    -- the customer, before it went.
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'simulated', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    jsonb,
    job_id        bigint,
    dedupe_key    text CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    due_at        timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    -- 0.3.0: the conversation an alert is about, for a link to it.
    conversation_id bigint,
    -- 0.3.0 (issue 22): where it went, as sent (the escalation phone, the shop's email: for the
    -- owner to see), and when a person marked it done in the console.
    sent_to       text[],
    done_at       timestamptz,
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, dedupe_key)
);


-- Raw webhook payloads, for replay and support. Not tenant rows: one POST can carry several
-- tenants; the operator reads them, tenants do not.
CREATE TABLE alphadome.webhook_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    route_tenant_id uuid,
    payload         jsonb NOT NULL,
    outcome         jsonb,
    payload_sha256  bytea,
    replays         integer NOT NULL DEFAULT 0,
    last_replay_at  timestamptz
);
-- BRIN: rows arrive in time order, and a BRIN entry costs an insert almost nothing.
CREATE INDEX webhook_events_time ON alphadome.webhook_events USING brin (received_at);
-- A replayed webhook (the same signed body again) is counted on its first row, not kept twice.
CREATE UNIQUE INDEX webhook_events_payload_sha256 ON alphadome.webhook_events (payload_sha256);

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
    -- 0.3.0: a claim decrypts a tenant's credential once for all the jobs it hands out.
    job_ids       bigint[],
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

-- ---- the web console's accounts and sessions (console.sql) ---------------------------------

CREATE TABLE alphadome.console_accounts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL,
    password_hash       text NOT NULL,
    -- The tenant an owner runs; NULL for an operator.
    bot_tenant_id       uuid REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    -- 0.3.0: a member of the shop's staff, who answers customers and changes nothing else.
    is_agent            boolean NOT NULL DEFAULT false CHECK (NOT is_agent OR bot_tenant_id IS NOT NULL)
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

-- The clock of alphadome._wake_worker() (src/wake.rs): the last wake-up, in Unix milliseconds.
CREATE SEQUENCE alphadome._wakeup_clock;

-- ---- 0.3.0: the tenant's message templates, as Meta approved them --------------------------------

-- Read from the Graph API (GET /{waba-id}/message_templates) by a templates.sync job; a person
-- sends an approved one to a customer outside the 24-hour window.
CREATE TABLE alphadome.whatsapp_templates (
    bot_tenant_id   uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
    language        text NOT NULL CHECK (language ~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$'),
    category        text,
    status          text NOT NULL,
    -- The template's body text with its {{1}} ... parameters, and Meta's components as given.
    body            text,
    components      jsonb NOT NULL DEFAULT '[]',
    rejected_reason text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, name, language)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.whatsapp_templates', '');

-- ---- 0.3.0: operating many shops (issue 23) ------------------------------------------------------

-- Dead letters by tenant, for metrics() and queue_status (a probe per tenant, not a scan).
CREATE INDEX outbox_dead ON alphadome.outbox (bot_tenant_id) WHERE status = 'dead';
-- Recent messages, for metrics()' inbound rate. BRIN, like webhook_events_time: an insert
-- costs it almost nothing.
CREATE INDEX messages_time ON alphadome.messages USING brin (created_at);

-- A tenant whose credentials the master key file cannot open (a database restored without its
-- alphadome.master_key_file, a key removed from the file too early). That is no job's fault:
-- its jobs that need a credential wait, none is dead-lettered, and claim_jobs tries them again
-- from probe_at; the first that decrypts ends the pause.
CREATE TABLE alphadome.tenant_pauses (
    bot_tenant_id uuid PRIMARY KEY REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    reason        text NOT NULL CHECK (reason IN ('master_key')),
    sqlstate      text NOT NULL,
    detail        text NOT NULL,
    paused_at     timestamptz NOT NULL DEFAULT now(),
    probe_at      timestamptz NOT NULL,
    failures      integer NOT NULL DEFAULT 1
);
-- Kept by pg_dump like every table: a pause restored onto a server whose key works ends at the
-- first claim after its probe_at.
SELECT pg_catalog.pg_extension_config_dump('alphadome.tenant_pauses', '');

-- Dead jobs the operator archived (archive_dead): out of the queue, kept with their reason.
-- Named without a foreign key, like the outbox; a tenant's go with it (base.sql).
CREATE TABLE alphadome.dead_letters (
    bot_tenant_id uuid NOT NULL,
    job_id        bigint NOT NULL,
    kind          text NOT NULL,
    payload       jsonb NOT NULL,
    attempts      integer NOT NULL,
    reason        jsonb,
    created_at    timestamptz NOT NULL,
    died_at       timestamptz NOT NULL,
    archived_at   timestamptz NOT NULL DEFAULT now(),
    archived_by   name NOT NULL DEFAULT session_user,
    PRIMARY KEY (bot_tenant_id, job_id)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.dead_letters', '');

-- When each scheduled chore last ran and what it did (metrics() shows the last prune).
CREATE TABLE alphadome.chore_runs (
    chore       text PRIMARY KEY,
    last_run_at timestamptz NOT NULL,
    last_result jsonb
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.chore_runs', '');

-- ---- 0.3.0 (issue 22): what the bot costs, in the tenant's currency (usage.sql) --------------------

-- Meta's charge per delivered message, by the recipient's country calling code and the pricing
-- category Meta's status webhooks give (messages.pricing_category), from effective_from on;
-- market is Meta's name for the rate card's row (a country, or a group such as "Rest of Africa").
-- Rows the extension ships (shipped) are its own: they are not changed (a new rate card is a row
-- with a later date) and not dumped (CREATE EXTENSION makes them again). The operator keeps the rest.
CREATE TABLE alphadome.whatsapp_prices (
    country_code   text NOT NULL CHECK (country_code ~ '^[1-9][0-9]{0,3}$'),
    category       text NOT NULL CHECK (category IN ('marketing', 'utility', 'authentication', 'service')),
    effective_from date NOT NULL,
    market         text NOT NULL CHECK (length(btrim(market)) BETWEEN 1 AND 100),
    currency       text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    price          numeric(14,6) NOT NULL CHECK (price >= 0),
    source         text NOT NULL CHECK (length(btrim(source)) BETWEEN 1 AND 1000),
    note           text CHECK (length(note) <= 1000),
    shipped        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (country_code, category, effective_from)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.whatsapp_prices', 'WHERE NOT shipped');

-- The LLM's price per million prompt (input) and completion (output) tokens, by model name as
-- the tenant's bot_tenants.ai_model gives it, from effective_from on.
CREATE TABLE alphadome.llm_prices (
    model              text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    effective_from     date NOT NULL,
    currency           text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    input_per_million  numeric(14,6) NOT NULL CHECK (input_per_million >= 0),
    output_per_million numeric(14,6) NOT NULL CHECK (output_per_million >= 0),
    source             text NOT NULL CHECK (length(btrim(source)) BETWEEN 1 AND 1000),
    shipped            boolean NOT NULL DEFAULT false,
    PRIMARY KEY (model, effective_from)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.llm_prices', 'WHERE NOT shipped');

-- How many units of a currency one US dollar buys, from effective_from on (prices are in USD,
-- as Meta and the LLM vendors publish them).
CREATE TABLE alphadome.exchange_rates (
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency <> 'USD'),
    effective_from date NOT NULL,
    per_usd        numeric(14,6) NOT NULL CHECK (per_usd > 0),
    source         text NOT NULL CHECK (length(btrim(source)) BETWEEN 1 AND 1000),
    shipped        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (currency, effective_from)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.exchange_rates', 'WHERE NOT shipped');

-- The currency the tenant's costs are shown in.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN currency text NOT NULL DEFAULT 'KES' CHECK (currency ~ '^[A-Z]{3}$');

-- ---- 0.3.0 (issue 22): getting back in: password reset links (console.sql) ---------------------

-- Every request for a reset link of the last day, for its throttle (by the email asked for and
-- by the client's address), whether or not an account has that email (account_id NULL: none);
-- for an account, the link's token, of which only the sha256 is kept, until when it works, and
-- when it was used.
CREATE TABLE alphadome.console_password_resets (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL,
    client_address text NOT NULL,
    account_id     uuid REFERENCES alphadome.console_accounts (id) ON DELETE CASCADE,
    token_sha256   bytea UNIQUE CHECK (octet_length(token_sha256) = 32),
    requested_by   text NOT NULL DEFAULT 'owner' CHECK (requested_by IN ('owner', 'operator')),
    requested_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    used_at        timestamptz,
    CHECK ((account_id IS NULL) = (token_sha256 IS NULL) AND (token_sha256 IS NULL) = (expires_at IS NULL))
);
CREATE INDEX console_password_resets_email ON alphadome.console_password_resets (email, requested_at);
CREATE INDEX console_password_resets_address ON alphadome.console_password_resets (client_address, requested_at);
CREATE INDEX console_password_resets_account ON alphadome.console_password_resets (account_id);
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_password_resets', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_password_resets_id_seq', '');

-- ---- 0.3.0: data kept on purpose (issue 23, second part) ------------------------------------------

-- Usage per tenant and day (in the tenant's time zone) of the rows that are gone or about to
-- go: rollup_usage adds the counts of every row older than its mark (chore_runs 'rollup_usage')
-- before prune_history or a tenant's retention deletes them, and forget_customer adds the
-- counts of the rows it erases. usage_daily is these rows plus the live rows after the mark.
-- The counts are anonymous: no customer, no text.
CREATE TABLE alphadome.usage_days (
    bot_tenant_id         uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    day                   date NOT NULL,
    inbound_messages      bigint NOT NULL DEFAULT 0,
    faq_answers           bigint NOT NULL DEFAULT 0,
    llm_answers           bigint NOT NULL DEFAULT 0,
    escalations           bigint NOT NULL DEFAULT 0,
    fallbacks             bigint NOT NULL DEFAULT 0,
    not_answered          bigint NOT NULL DEFAULT 0,
    voice_notes           bigint NOT NULL DEFAULT 0,
    messages_sent         bigint NOT NULL DEFAULT 0,
    messages_failed       bigint NOT NULL DEFAULT 0,
    llm_calls             bigint NOT NULL DEFAULT 0,
    transcriptions        bigint NOT NULL DEFAULT 0,
    prompt_tokens         bigint NOT NULL DEFAULT 0,
    completion_tokens     bigint NOT NULL DEFAULT 0,
    priced_service        bigint NOT NULL DEFAULT 0,
    priced_utility        bigint NOT NULL DEFAULT 0,
    priced_marketing      bigint NOT NULL DEFAULT 0,
    priced_authentication bigint NOT NULL DEFAULT 0,
    alerts                bigint NOT NULL DEFAULT 0,
    -- Issue 26: campaign messages Meta took, and those it refused.
    campaign_sent         bigint NOT NULL DEFAULT 0,
    campaign_failed       bigint NOT NULL DEFAULT 0,
    -- Issue 24: customers' messages answered from the products (prices, buying: decisions
    -- product and payment).
    sales_answers         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_tenant_id, day)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.usage_days', '');

-- Each customer erased at the request (forget_customer): who did it and when, the number only
-- as sha256(tenant id || ':' || number), to answer "was this number erased?" without keeping it,
-- and how many rows went.
CREATE TABLE alphadome.customer_erasures (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    number_sha256 bytea NOT NULL CHECK (octet_length(number_sha256) = 32),
    erased_by     name NOT NULL DEFAULT session_user,
    acting_role   text NOT NULL DEFAULT current_setting('role'),
    erased_at     timestamptz NOT NULL DEFAULT now(),
    removed       jsonb NOT NULL,
    PRIMARY KEY (bot_tenant_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.customer_erasures', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.customer_erasures_id_seq', '');

-- ---- 0.3.0 (issue 22): one personality that every template builds on ------------------------

-- Written once per tenant, put by assemble_prompt into every system prompt whatever template
-- the message picks (a template adds only its own instructions): how the bot talks, what the
-- shop is, and what it offers now. Appended (not in CREATE TABLE) so that a fresh install and
-- an upgraded one have the columns in the same order.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN persona_tone text NOT NULL DEFAULT 'friendly' CHECK (length(persona_tone) BETWEEN 1 AND 500),
    ADD COLUMN shop_description text CHECK (length(shop_description) BETWEEN 1 AND 4000),
    ADD COLUMN current_offers text CHECK (length(current_offers) BETWEEN 1 AND 2000);

-- ---- 0.3.0 (issue 24): selling in the chat --------------------------------------------------

-- What the shop sells, at what price: a price or availability question is answered from here
-- (decision 'product', selling.sql), and the LLM's prompt gets the few products the question
-- names, never the whole list. An order's amount is always taken from this table.
CREATE TABLE alphadome.products (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description   text CHECK (length(description) BETWEEN 1 AND 2000),
    price         numeric(12, 2) NOT NULL CHECK (price >= 0),
    currency      text NOT NULL DEFAULT 'KES' CHECK (currency ~ '^[A-Z]{3}$'),
    in_stock      boolean NOT NULL DEFAULT true,
    category      text CHECK (length(category) BETWEEN 1 AND 100),
    -- Other names customers use ("kinanda", "piano ya umeme"), matched like the name.
    phrasings     text[] NOT NULL DEFAULT '{}'
                  CHECK (cardinality(phrasings) <= 50 AND length(array_to_string(phrasings, '')) <= 5000),
    photo_url     text CHECK (photo_url ~ '^https://' AND length(photo_url) <= 2000),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, name)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.products', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.products_id_seq', '');

-- What the customer chose on an interactive message (a reply button, a list row) or a
-- template's quick-reply button: {"kind": "button_reply" | "list_reply" | "button", "id", "title"}
-- (NULL for anything else). The id is the one the shop's message gave the choice.
ALTER TABLE alphadome.messages ADD COLUMN choice jsonb;

-- An order a customer made in the chat, from what he chose (selling.sql's _sell): its items and
-- total are taken from products when it is made, never from what a model wrote. Its status
-- moves draft → awaiting_payment → paid, failed (back to awaiting_payment on "try again") or
-- cancelled; paid and cancelled are final (the trigger order_moves checks every move). The
-- reference (at most 12 characters, M-Pesa's AccountReference) is what the customer's PIN
-- prompt and the owner's console show. An order names its conversation without a foreign key:
-- it is the shop's record of a sale and outlives the conversation's retention.
CREATE TABLE alphadome.orders (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id   uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    -- NULL once the customer was erased (forget_customer): the sale stays in the books.
    conversation_id bigint,
    reference       text NOT NULL CHECK (reference ~ '^[A-Z0-9]{1,12}$'),
    -- [{"product_id", "name", "quantity", "unit_price"}]
    items           jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array' AND jsonb_array_length(items) BETWEEN 1 AND 50),
    total           numeric(12, 2) NOT NULL CHECK (total > 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'awaiting_payment', 'paid', 'failed', 'cancelled')),
    -- When the customer last pressed "Pay with M-Pesa" for it: a push is made only soon after.
    pay_chosen_at   timestamptz,
    paid_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, reference)
);
CREATE INDEX orders_conversation ON alphadome.orders (bot_tenant_id, conversation_id);
SELECT pg_catalog.pg_extension_config_dump('alphadome.orders', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.orders_id_seq', '');

-- Every attempt to pay an order, with what the payment service answered: requested (a push is
-- queued), pending (accepted: the PIN prompt is on the customer's phone), then paid, failed, or
-- flagged (a callback whose amount or phone is not the order's: the order is not paid; a person
-- looks). checkout_request_id (M-Pesa's CheckoutRequestID) makes its callback idempotent; the
-- raw callback is kept as it came. At most one attempt per order is open at a time.
CREATE TABLE alphadome.payments (
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id       uuid NOT NULL,
    order_id            bigint NOT NULL,
    method              text NOT NULL DEFAULT 'mpesa' CHECK (method IN ('mpesa')),
    status              text NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'paid', 'failed', 'flagged')),
    amount              numeric(12, 2) NOT NULL CHECK (amount > 0),
    -- NULL once the customer was erased (forget_customer), with the raw callback.
    phone               text CHECK (phone ~ '^[1-9][0-9]{7,14}$'),
    merchant_request_id text CHECK (length(merchant_request_id) <= 200),
    checkout_request_id text CHECK (length(checkout_request_id) <= 200),
    result_code         integer,
    result_desc         text CHECK (length(result_desc) <= 1000),
    receipt             text CHECK (length(receipt) <= 100),
    callback            jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    FOREIGN KEY (bot_tenant_id, order_id) REFERENCES alphadome.orders (bot_tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX payments_checkout ON alphadome.payments (bot_tenant_id, checkout_request_id)
    WHERE checkout_request_id IS NOT NULL;
CREATE UNIQUE INDEX payments_one_open ON alphadome.payments (bot_tenant_id, order_id)
    WHERE status IN ('requested', 'pending');
SELECT pg_catalog.pg_extension_config_dump('alphadome.payments', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.payments_id_seq', '');

-- A tenant's M-Pesa (Safaricom Daraja, "Lipa na M-Pesa Online"): how the STK push is made
-- (settings), and its credentials, encrypted like the others (credentials.rs: bound to the tenant
-- and the credential's name) and decrypted only when a payment job is claimed, audited. The
-- callback token is the secret part of the callback URL (POST /mpesa/{slug}/{token}): kept
-- encrypted for the push, and as its sha256 to recognise a callback by.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN mpesa_shortcode text CHECK (mpesa_shortcode ~ '^[0-9]{5,8}$'),
    ADD COLUMN mpesa_transaction_type text NOT NULL DEFAULT 'CustomerPayBillOnline'
        CHECK (mpesa_transaction_type IN ('CustomerPayBillOnline', 'CustomerBuyGoodsOnline')),
    ADD COLUMN mpesa_till_number text CHECK (mpesa_till_number ~ '^[0-9]{5,8}$'),
    ADD COLUMN max_payment_amount numeric(12, 2) NOT NULL DEFAULT 150000
        CHECK (max_payment_amount > 0 AND max_payment_amount <= 250000);

CREATE TABLE alphadome.mpesa_accounts (
    bot_tenant_id         uuid PRIMARY KEY REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    environment           text NOT NULL DEFAULT 'production' CHECK (environment IN ('sandbox', 'production')),
    consumer_key          bytea NOT NULL,
    consumer_secret       bytea NOT NULL,
    passkey               bytea NOT NULL,
    callback_token        bytea NOT NULL,
    callback_token_sha256 bytea NOT NULL CHECK (octet_length(callback_token_sha256) = 32),
    -- Callbacks are taken only from these addresses (NULL: from any).
    callback_addresses    inet[],
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.mpesa_accounts', '');
-- ---- 0.3.0 (issue 26): campaigns of approved templates to customers who opted in (campaigns.sql) --

-- A customer's marketing consent: when it was given and how (the answer to the shop's opt-in
-- question, or an import with its stated source), and when it was withdrawn (STOP or one of the
-- shop's opt-out words: consent given before then no longer counts); when the shop last asked.
-- Labels the shop or the bot put on a customer ("asked about keyboards"), to choose whom a
-- campaign goes to. No CHECKs: conversations is on the message path (docs/internals.md); the
-- functions that write these columns check what they write.
ALTER TABLE alphadome.conversations
    ADD COLUMN marketing_consent_at     timestamptz,
    ADD COLUMN marketing_consent_source text,
    ADD COLUMN marketing_withdrawn_at   timestamptz,
    ADD COLUMN marketing_asked_at       timestamptz,
    ADD COLUMN labels                   text[] NOT NULL DEFAULT '{}';

-- The shop's opt-in question and the answers that mean yes; its number's messaging limit (Meta's
-- tier: unique customers a business may start conversations with in a rolling 24 hours; the
-- lowest tier unless the owner says otherwise) and how many campaign messages a second go out.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN marketing_opt_in_question text NOT NULL
        DEFAULT 'Would you like to hear from us about offers and new stock on WhatsApp? Reply YES to agree. You can reply STOP at any time.'
        CHECK (length(marketing_opt_in_question) BETWEEN 1 AND 1024),
    ADD COLUMN marketing_opt_in_words text[] NOT NULL DEFAULT '{yes,"yes please",ndio,ndiyo}'
        CHECK (cardinality(marketing_opt_in_words) BETWEEN 1 AND 50),
    ADD COLUMN messaging_limit integer NOT NULL DEFAULT 250 CHECK (messaging_limit BETWEEN 1 AND 100000000),
    ADD COLUMN campaign_rate integer NOT NULL DEFAULT 20 CHECK (campaign_rate BETWEEN 1 AND 1000);

-- A campaign: one approved template to the customers its audience picks (labels, any of them;
-- a message from them within contacted_within), each with the template's parameters rendered
-- for them ({name}, {first_name}, {phone}). status: draft, scheduled (for scheduled_at),
-- sending, paused, cancelled, done. audience: the counts when it was launched.
CREATE TABLE alphadome.campaigns (
    id                bigint GENERATED ALWAYS AS IDENTITY,
    -- No foreign key to its tenant: its recipients refer to conversations, which a TRUNCATE of
    -- bot_tenants empties by trigger (base.sql), so both go the same way as conversations.
    bot_tenant_id     uuid NOT NULL,
    name              text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    template_name     text NOT NULL CHECK (template_name ~ '^[a-z0-9_]+$' AND length(template_name) <= 512),
    template_language text NOT NULL CHECK (template_language ~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$'),
    parameters        text[] NOT NULL DEFAULT '{}' CHECK (cardinality(parameters) <= 20),
    labels            text[] NOT NULL DEFAULT '{}' CHECK (cardinality(labels) <= 50),
    contacted_within  interval CHECK (contacted_within > interval '0'),
    scheduled_at      timestamptz,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'cancelled', 'done')),
    audience          jsonb,
    created_by        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaigns_id_seq', '');

-- One row per customer a campaign goes to (never two: the unique key), with what became of its
-- message: queued, sending (a campaign.send job carries it), sent, delivered, read (Meta's
-- status webhooks, which name the row: biz_opaque_callback_data "campaign:<id>"), failed (with
-- Meta's error code), cancelled (the campaign was, before it went).
CREATE TABLE alphadome.campaign_recipients (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    bot_tenant_id    uuid NOT NULL,
    campaign_id      bigint NOT NULL,
    conversation_id  bigint NOT NULL,
    parameters       text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled')),
    job_id           bigint,
    wamid            text,
    error_code       integer,
    error            jsonb,
    pricing_category text,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    read_at          timestamptz,
    failed_at        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, id),
    UNIQUE (bot_tenant_id, campaign_id, conversation_id),
    FOREIGN KEY (bot_tenant_id, campaign_id) REFERENCES alphadome.campaigns (bot_tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (bot_tenant_id, conversation_id)
        REFERENCES alphadome.conversations (bot_tenant_id, id) ON DELETE CASCADE
);
-- The next recipients to send to, in order.
CREATE INDEX campaign_recipients_queued ON alphadome.campaign_recipients (bot_tenant_id, campaign_id, id)
    WHERE status = 'queued';
-- Customers messaged in the last 24 hours, for the messaging limit.
CREATE INDEX campaign_recipients_sent_at ON alphadome.campaign_recipients (bot_tenant_id, sent_at);
-- forget_customer and retention delete conversations: their rows here go with them.
CREATE INDEX campaign_recipients_conversation ON alphadome.campaign_recipients (bot_tenant_id, conversation_id);
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaign_recipients', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaign_recipients_id_seq', '');

-- ---- 0.3.0 (issue 29): semantic FAQ matching, optional (semantic.sql, docs/design.md) ----------

-- A tenant with an LLM key may name an embeddings model of its endpoint (NULL: off, the
-- default): its FAQ questions and phrasings are embedded when they change (job faq.embed), and a
-- message the lexical matcher leaves to the LLM is embedded too and answered from the FAQ when
-- its closest entry is at least semantic_confidence close (cosine) and clear of the next.
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN embedding_model text CHECK (length(embedding_model) BETWEEN 1 AND 200),
    ADD COLUMN semantic_confidence real NOT NULL DEFAULT 0.8
        CHECK (semantic_confidence > 0 AND semantic_confidence <= 1);

-- One vector per FAQ text (an entry's question or one of its phrasings, by the sha256 of its
-- words) and model. A text changed or removed, or its entry deleted, is no longer matched (only
-- the current texts of active entries are) and its row goes at the next faq.embed. No foreign
-- key to the entry: bot_training_data can still be truncated.
CREATE TABLE alphadome.faq_embeddings (
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    entry_id      bigint NOT NULL,
    text_sha256   bytea NOT NULL CHECK (octet_length(text_sha256) = 32),
    model         text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    embedding     real[] NOT NULL CHECK (cardinality(embedding) BETWEEN 1 AND 8192),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, entry_id, model, text_sha256)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_embeddings', '');
-- ---- An FAQ that learns (issue 29) ---------------------------------------------------------------

-- 0.3.0: questions the FAQ did not answer that the owner has dealt with (faq_learning.sql), by
-- their words folded (_faq_question_key): added as a way of asking an entry, made a new entry,
-- or dismissed. faq_unanswered leaves them out from then on.
CREATE TABLE alphadome.faq_unanswered_handled (
    bot_tenant_id uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    question_key  text NOT NULL CHECK (length(question_key) BETWEEN 1 AND 4096),
    outcome       text NOT NULL CHECK (outcome IN ('added', 'new_entry', 'dismissed')),
    entry_id      bigint,
    handled_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, question_key)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_unanswered_handled', '');

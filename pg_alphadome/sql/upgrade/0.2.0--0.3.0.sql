-- pg_alphadome 0.2.0 → 0.3.0, the hand part: what the code cannot say again by itself. New tables
-- and columns, changed types and constraints, objects dropped or renamed, data to move, and the
-- DROP of a function whose signature or result changed (CREATE OR REPLACE cannot change those).
-- scripts/upgrade-script.sh appends all of the release's code after it; docs/internals.md
-- ("Upgrades") has the procedure. Order: as in a fresh install (sql/schema.sql).

-- ---- A person answers (issue 21): the inbox, the app beside the bot, staff logins -------------

-- A domain's constraint cannot change while a function takes a row of a table that uses it:
-- the queue's helpers that take an outbox row go first (the code makes them again).
DROP FUNCTION alphadome._running_job(bigint);
DROP FUNCTION alphadome._log_outbound(alphadome.outbox, text, text, jsonb);
DROP FUNCTION alphadome._send_answer(alphadome.outbox, text);
DROP FUNCTION alphadome._note_media(alphadome.outbox, jsonb);
DROP FUNCTION alphadome._answer_transcript(alphadome.outbox, text);
ALTER DOMAIN alphadome.message_decision DROP CONSTRAINT message_decision_check;
ALTER DOMAIN alphadome.message_decision ADD CONSTRAINT message_decision_check
    CHECK (VALUE IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled', 'human_handoff',
                     'rate_limited', 'escalated', 'faq', 'llm', 'fallback', 'recorded', 'after_hours',
                     'transcribe', 'type_reply', 'waiting', 'history', 'opt_out_confirm'));
ALTER DOMAIN alphadome.job_kind DROP CONSTRAINT job_kind_check;
ALTER DOMAIN alphadome.job_kind ADD CONSTRAINT job_kind_check
    CHECK (VALUE IN ('reply.generate', 'reply.send', 'alert.send', 'media.transcribe', 'templates.sync'));
CREATE DOMAIN alphadome.message_sender AS text CHECK (VALUE IN ('bot', 'person', 'app'));

-- Hand-off and opt-out words as customers write them, in Swahili and Sheng too: the new
-- defaults, and for tenants still on the old defaults, the new lists.
ALTER TABLE alphadome.bot_control_settings
    ALTER COLUMN opt_out_keywords SET DEFAULT '{stop,unsubscribe,"stop please","please stop","stop messages","stop sending",acha,"acha kunitumia","sitaki messages","sitaki ujumbe",usinitumie,niondoe}',
    ALTER COLUMN handoff_keywords SET DEFAULT '{human,agent,person,representative,"customer care","customer service","speak to someone","talk to someone","real person","nataka kuongea na mtu","niongee na mtu","nataka mtu","huduma kwa wateja","mhudumu","nipigie"}',
    ADD COLUMN handoff_timeout interval NOT NULL DEFAULT '2 hours'
        CHECK (handoff_timeout BETWEEN '5 minutes' AND '7 days'),
    ADD COLUMN handoff_reminder interval NOT NULL DEFAULT '15 minutes'
        CHECK (handoff_reminder BETWEEN '1 minute' AND '1 day'),
    ADD COLUMN handoff_timeout_message text NOT NULL DEFAULT 'Sorry for the wait: nobody from our team could answer yet. I am the shop''s assistant and can help you meanwhile, and a person will still get back to you.'
        CHECK (length(handoff_timeout_message) BETWEEN 1 AND 4096);
UPDATE alphadome.bot_control_settings s
   SET opt_out_keywords = DEFAULT
 WHERE s.opt_out_keywords = '{stop,unsubscribe}';
UPDATE alphadome.bot_control_settings s
   SET handoff_keywords = DEFAULT
 WHERE s.handoff_keywords = '{human,agent,person,representative}';

ALTER TABLE alphadome.conversations
    ADD COLUMN waiting_since timestamptz,
    ADD COLUMN reminded_at timestamptz,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN state text NOT NULL GENERATED ALWAYS AS (
                   CASE WHEN handoff_at IS NOT NULL THEN 'person'
                        WHEN waiting_since IS NOT NULL THEN 'waiting'
                        WHEN resolved_at IS NOT NULL THEN 'resolved'
                        ELSE 'bot' END) STORED;
CREATE INDEX conversations_waiting ON alphadome.conversations (bot_tenant_id, waiting_since)
    WHERE waiting_since IS NOT NULL;

ALTER TABLE alphadome.messages ADD COLUMN sent_by alphadome.message_sender, ADD COLUMN sent_by_account uuid;

ALTER TABLE alphadome.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alphadome.alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('handoff', 'no_answer', 'rate_limit', 'credentials', 'token_refused', 'llm_failed',
                    'media_failed', 'handoff_reminder', 'handoff_timeout'));
ALTER TABLE alphadome.alerts ADD COLUMN conversation_id bigint;
-- An alert names its conversation: one more argument.
DROP FUNCTION alphadome._alert(uuid, text, text, text, timestamptz);

ALTER TABLE alphadome.console_accounts
    ADD COLUMN is_agent boolean NOT NULL DEFAULT false CHECK (NOT is_agent OR bot_tenant_id IS NOT NULL);
-- The account behind a session now says whether it is an agent: another result column.
DROP FUNCTION alphadome.console_session(text);

CREATE TABLE alphadome.whatsapp_templates (
    bot_tenant_id   uuid NOT NULL REFERENCES alphadome.bot_tenants (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
    language        text NOT NULL CHECK (language ~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$'),
    category        text,
    status          text NOT NULL,
    body            text,
    components      jsonb NOT NULL DEFAULT '[]',
    rejected_reason text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_tenant_id, name, language)
);
SELECT pg_catalog.pg_extension_config_dump('alphadome.whatsapp_templates', '');

-- ---- issue 29: the tenant's words for the FAQ matcher (src/faq/lexicon.rs); the trigger that
-- gives the FAQ a new version when they change is code (base.sql).
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN faq_synonyms jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(faq_synonyms) = 'object' AND length(faq_synonyms::text) <= 100000);

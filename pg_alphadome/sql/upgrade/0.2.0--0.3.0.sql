-- pg_alphadome 0.2.0 → 0.3.0, the hand part: what the code cannot say again by itself. New tables
-- and columns, changed types and constraints, objects dropped or renamed, data to move, and the
-- DROP of a function whose signature or result changed (CREATE OR REPLACE cannot change those).
-- State is written once, in sql/schema.sql: the --@ lines take it from there
-- (scripts/hand-part.pl). scripts/upgrade-script.sh appends all of the release's code after
-- this; docs/internals.md ("Upgrades") has the procedure. Order: as in a fresh install.

-- ---- A person answers (issue 21): the inbox, the app beside the bot, staff logins -------------

-- A domain's constraint cannot change while a function takes a row of a table that uses it:
-- the queue's helpers that take an outbox row go first (the code makes them again).
DROP FUNCTION alphadome._running_job(bigint);
DROP FUNCTION alphadome._log_outbound(alphadome.outbox, text, text, jsonb);
DROP FUNCTION alphadome._send_answer(alphadome.outbox, text);
DROP FUNCTION alphadome._note_media(alphadome.outbox, jsonb);
DROP FUNCTION alphadome._answer_transcript(alphadome.outbox, text);
--@ replace-domain-check alphadome.message_decision
--@ replace-domain-check alphadome.job_kind
--@ create alphadome.message_sender

-- Hand-off and opt-out words as customers write them, in Swahili and Sheng too: the new
-- defaults, and for tenants still on the old defaults, the new lists.
--@ set-default alphadome.bot_control_settings opt_out_keywords
--@ set-default alphadome.bot_control_settings handoff_keywords
--@ add-columns alphadome.bot_control_settings handoff_timeout handoff_reminder handoff_timeout_message
UPDATE alphadome.bot_control_settings s
   SET opt_out_keywords = DEFAULT
 WHERE s.opt_out_keywords = '{stop,unsubscribe}';
UPDATE alphadome.bot_control_settings s
   SET handoff_keywords = DEFAULT
 WHERE s.handoff_keywords = '{human,agent,person,representative}';

--@ add-columns alphadome.conversations waiting_since reminded_at resolved_at state
--@ create conversations_waiting

ALTER TABLE alphadome.messages ADD COLUMN sent_by alphadome.message_sender, ADD COLUMN sent_by_account uuid;

--@ replace-check alphadome.alerts kind
--@ add-columns alphadome.alerts conversation_id
-- An alert names its conversation: one more argument.
DROP FUNCTION alphadome._alert(uuid, text, text, text, timestamptz);

--@ add-columns alphadome.console_accounts is_agent
-- The account behind a session now says whether it is an agent: another result column.
DROP FUNCTION alphadome.console_session(text);

--@ create alphadome.whatsapp_templates
SELECT pg_catalog.pg_extension_config_dump('alphadome.whatsapp_templates', '');

-- ---- Operating many shops (issue 23): dead letters, pauses on a key failure, monitoring -----------
-- (alerts.kind's new value, key_unavailable, is in the CHECK made anew above.)
--@ create outbox_dead
--@ create messages_time
--@ create alphadome.tenant_pauses
SELECT pg_catalog.pg_extension_config_dump('alphadome.tenant_pauses', '');
--@ create alphadome.dead_letters
SELECT pg_catalog.pg_extension_config_dump('alphadome.dead_letters', '');
--@ create alphadome.chore_runs
SELECT pg_catalog.pg_extension_config_dump('alphadome.chore_runs', '');

-- ---- Hardening (issue 20): a replayed webhook is counted, not stored again -------------------
-- The sha256 of the body as received identifies it; a replay of it bumps replays on
-- the first row. Rows kept before 0.3.0 have no hash and are never matched.
--@ add-columns alphadome.webhook_events payload_sha256 replays last_replay_at
--@ create webhook_events_payload_sha256

-- ---- FAQ recall (issue 29): the tenant's words for the matcher (src/faq/lexicon.rs); the trigger
-- that gives the FAQ a new version when they change is code (base.sql).
--@ add-columns alphadome.bot_control_settings faq_synonyms

-- ---- Performance (issue 27): the claim's second scan of tenants is bounded ----------------------
DROP FUNCTION alphadome._tenants_with_jobs(uuid, integer);

-- ---- Hardening (issue 20): console passwords ----------------------------------------------------
-- A new password is checked against the account's email too; a password change takes the
-- client's address (its wrong current passwords are throttled like logins) and says its outcome.
DROP FUNCTION alphadome._new_password(text);
DROP FUNCTION alphadome.console_change_password(text, text, text);

-- ---- The owner on his phone (issue 22): a deleted FAQ entry can be put back for a day ----------
--@ create alphadome.faq_deleted
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_deleted', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_deleted_id_seq', '');
-- An alert says where it went and can be marked done.
--@ add-columns alphadome.alerts sent_to done_at

-- ---- Operating many shops (issue 23), second part: data kept on purpose --------------------------
--@ create alphadome.usage_days
SELECT pg_catalog.pg_extension_config_dump('alphadome.usage_days', '');
--@ add-columns alphadome.bot_control_settings keep_messages_days
--@ create alphadome.customer_erasures
SELECT pg_catalog.pg_extension_config_dump('alphadome.customer_erasures', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.customer_erasures_id_seq', '');
-- The audit is pruned in batches: a second argument.
DROP FUNCTION alphadome.prune_credential_audit(interval);

-- ---- The owner on his phone (issue 22, points 4 and 8): what usage costs; password reset links -----
-- The shipped prices and rates are code (usage.sql inserts them, every upgrade again).
--@ create alphadome.whatsapp_prices
SELECT pg_catalog.pg_extension_config_dump('alphadome.whatsapp_prices', 'WHERE NOT shipped');
--@ create alphadome.llm_prices
SELECT pg_catalog.pg_extension_config_dump('alphadome.llm_prices', 'WHERE NOT shipped');
--@ create alphadome.exchange_rates
SELECT pg_catalog.pg_extension_config_dump('alphadome.exchange_rates', 'WHERE NOT shipped');
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN currency text NOT NULL DEFAULT 'KES' CHECK (currency ~ '^[A-Z]{3}$');
--@ create alphadome.console_password_resets
--@ create console_password_resets_email
--@ create console_password_resets_address
--@ create console_password_resets_account
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_password_resets', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.console_password_resets_id_seq', '');

-- ---- The owner's hours and health (issue 22): an alert no longer needed is cancelled -------------
-- Marked done, or a person answered the customer, before it went: its queued job goes.
--@ replace-check alphadome.alerts status
-- One place for the hours: answers render {hours} and {opening} in the customer's language, so
-- the opening's words take a language.
DROP FUNCTION alphadome._opening_words(timestamptz, text, timestamptz);

-- ---- One personality (issue 22, point 6): tone, the shop's description and offers, once --------
ALTER TABLE alphadome.bot_control_settings
    ADD COLUMN persona_tone text NOT NULL DEFAULT 'friendly' CHECK (length(persona_tone) BETWEEN 1 AND 500),
    ADD COLUMN shop_description text CHECK (length(shop_description) BETWEEN 1 AND 4000),
    ADD COLUMN current_offers text CHECK (length(current_offers) BETWEEN 1 AND 2000);
-- The tone was each template's: a tenant keeps the one its default template had.
UPDATE alphadome.bot_control_settings s
   SET persona_tone = t.tone
  FROM alphadome.bot_templates t
 WHERE t.bot_tenant_id = s.bot_tenant_id AND t.is_default AND t.is_active;

-- ---- The send path per job (issue 27): a credential decrypted once per claim ------------------
--@ add-columns alphadome.credential_audit job_ids

-- ---- Selling in the chat (issue 24): products, buttons, orders, M-Pesa -------------------------
-- The decisions 'product' and 'payment' come with the domain's CHECK (replaced above).
--@ create alphadome.products
SELECT pg_catalog.pg_extension_config_dump('alphadome.products', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.products_id_seq', '');
--@ alter alphadome.messages choice
--@ create alphadome.orders
--@ create orders_conversation
SELECT pg_catalog.pg_extension_config_dump('alphadome.orders', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.orders_id_seq', '');
--@ create alphadome.payments
--@ create payments_checkout
--@ create payments_one_open
SELECT pg_catalog.pg_extension_config_dump('alphadome.payments', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.payments_id_seq', '');
--@ alter alphadome.bot_control_settings mpesa_shortcode
--@ create alphadome.mpesa_accounts
SELECT pg_catalog.pg_extension_config_dump('alphadome.mpesa_accounts', '');
-- The job kinds payment.stk_push and payment.query come with the domain's CHECK (replaced above).
-- ---- Campaigns (issue 26): approved templates to customers who opted in ----------------------
-- job_kind's new campaign.send is in the replace-domain-check above.
--@ alter alphadome.conversations marketing_consent_at
--@ alter alphadome.bot_control_settings marketing_opt_in_question
--@ create alphadome.campaigns
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaigns_id_seq', '');
--@ create alphadome.campaign_recipients
--@ create campaign_recipients_queued
--@ create campaign_recipients_sent_at
--@ create campaign_recipients_conversation
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaign_recipients', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.campaign_recipients_id_seq', '');

-- ---- Semantic FAQ matching (issue 29, point 3): embeddings of the FAQ, optional --------------
-- The job kind faq.embed and the decision faq_semantic come with the domains' CHECKs (above).
--@ alter alphadome.bot_control_settings embedding_model
--@ create alphadome.faq_embeddings
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_embeddings', '');

-- ---- An FAQ that learns (issue 29, point 2): the questions it missed, dealt with by the owner ----
--@ create alphadome.faq_unanswered_handled
SELECT pg_catalog.pg_extension_config_dump('alphadome.faq_unanswered_handled', '');
-- alerts.kind's new value, weekly_summary, is in the CHECK made anew above.

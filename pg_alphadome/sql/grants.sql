-- Privileges, last in CREATE EXTENSION: nothing is PUBLIC unless said here.
REVOKE ALL ON ALL TABLES IN SCHEMA alphadome FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA alphadome FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA alphadome FROM PUBLIC;
-- ALL FUNCTIONS leaves procedures out.
REVOKE ALL ON ALL PROCEDURES IN SCHEMA alphadome FROM PUBLIC;
GRANT USAGE ON SCHEMA alphadome TO alphadome_admin, alphadome_relay, alphadome_tenant, alphadome_console, alphadome_agent,
                                   alphadome_monitor;

GRANT EXECUTE ON FUNCTION alphadome.normalize_phone(text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION alphadome._current_tenant() TO alphadome_admin, alphadome_relay, alphadome_tenant, alphadome_agent;
-- assemble_prompt (SECURITY INVOKER) finds the customer's conversation through it.
GRANT EXECUTE ON FUNCTION alphadome._customer_key(text, text) TO alphadome_admin, alphadome_tenant;
-- And next_opening, replay, try_message and assemble_prompt (SECURITY INVOKER) read the hours
-- and render answers' placeholders through these.
GRANT EXECUTE ON FUNCTION alphadome._next_opening(jsonb, date[], text, timestamptz),
                          alphadome._opening_words(timestamptz, text, timestamptz, text),
                          alphadome._hours_words(jsonb, date[], text),
                          alphadome._time_words(text, text),
                          alphadome._day_words(integer, text),
                          alphadome._message_language(text),
                          alphadome.render_placeholders(uuid, text, text, timestamptz)
    TO alphadome_admin, alphadome_tenant;

-- The operator: every function of the API, reads everything; credentials only through the
-- audited tenant_credential (the raw ciphertext columns are useless without the key file).
-- credential_audit is append-only: nobody but its owner may UPDATE or DELETE it, and
-- prune_credential_audit is the one way to remove old rows.
GRANT EXECUTE ON FUNCTION
    alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz, text, text, text, text),
    alphadome.set_credentials(uuid, text, text, text, timestamptz),
    alphadome.tenant_for_phone_number_id(text),
    alphadome.tenant_for_client_phone(text),
    alphadome.tenant_for_slug(text),
    alphadome.tenant_credential(uuid, text, text),
    alphadome.match_faq(uuid, text, integer),
    alphadome.assemble_prompt(uuid, text, text),
    alphadome.expiring_credentials(interval),
    alphadome.rotate_master_key(integer),
    alphadome.set_webhook_verify_token(uuid, text),
    alphadome.webhook_verify_token_matches(text, text),
    alphadome.webhook_routes(),
    alphadome.prune_credential_audit(interval, integer),
    alphadome.security_check(),
    alphadome.ingest_webhook(jsonb, uuid),
    alphadome.ingest_webhook_text(text, uuid),
    alphadome.claim_jobs(text, integer, integer, text[]),
    alphadome.complete_job(bigint, jsonb),
    alphadome.complete_jobs(bigint[], jsonb[]),
    alphadome.fail_job(bigint, jsonb, integer),
    alphadome.semantic_faq_answer(bigint, real[]),
    alphadome.enqueue_credential_alerts(interval),
    alphadome.prune_history(interval, integer),
    alphadome.next_opening(uuid, timestamptz),
    alphadome.replay(timestamptz, timestamptz, integer, uuid),
    alphadome.try_message(text, uuid),
    alphadome.create_owner(uuid, text, text),
    alphadome.create_operator(text, text),
    alphadome.create_agent(uuid, text, text),
    alphadome.sync_templates(uuid),
    alphadome.handoff_chores(timestamptz),
    alphadome.requeue_dead(bigint[]),
    alphadome.requeue_dead(uuid, timestamptz),
    alphadome.archive_dead(bigint[]),
    alphadome.rollup_usage(timestamptz),
    alphadome.forget_customer(uuid, text),
    alphadome.schedule_chores(text, interval, interval),
    alphadome.unschedule_chores(),
    alphadome.chores_scheduled()
TO alphadome_admin;
GRANT EXECUTE ON PROCEDURE alphadome.run_retention(interval, interval, integer) TO alphadome_admin;
-- The archive of dead jobs is the operator's to empty.
GRANT DELETE ON alphadome.dead_letters TO alphadome_admin;

-- Monitoring (a pg_monitor login, a dashboard; the relay's /metrics): the figures of metrics()
-- and nothing else of the extension: no table, no credential, no message text, no number.
GRANT EXECUTE ON FUNCTION alphadome.metrics() TO alphadome_monitor, alphadome_admin, alphadome_relay;
GRANT SELECT ON ALL TABLES IN SCHEMA alphadome TO alphadome_admin;
-- Console accounts without their password hashes; sessions and failed logins not at all. The
-- operator removes an account by deleting it (its sessions go with it).
REVOKE SELECT ON alphadome.console_accounts, alphadome.console_sessions, alphadome.console_login_failures
    FROM alphadome_admin;
GRANT SELECT (id, email, bot_tenant_id, created_at, password_changed_at), DELETE
    ON alphadome.console_accounts TO alphadome_admin;
-- A tenant's identity too (slug, numbers, country): the table's CHECKs, unique keys and
-- triggers guard every write (phones and emails normalised, the id fixed). DELETE of a
-- tenant is guarded by its trigger: inactive, committed, no older transaction (schema.sql).
GRANT UPDATE (slug, client_name, contact_name, client_phone, country_code, client_email, whatsapp_phone_number_id,
              whatsapp_business_account_id, ai_base_url, ai_model, is_active, credential_status, token_expires_at,
              owner_user_id, brand_id)
    ON alphadome.bot_tenants TO alphadome_admin;
GRANT DELETE ON alphadome.bot_tenants TO alphadome_admin;
GRANT INSERT, UPDATE, DELETE ON alphadome.bot_templates, alphadome.bot_training_data TO alphadome_admin;
-- Not faq_version: only the FAQ trigger sets it (schema.sql).
GRANT UPDATE (is_bot_enabled, max_messages_per_hour, enable_ai_responses, enable_payment_flow, escalation_phone,
              fallback_message, opt_out_keywords, opt_in_keywords, handoff_keywords, faq_confidence,
              prompt_budget_chars, alert_template_name, alert_template_language, timezone, business_hours,
              holidays, after_hours_message, transcription_model, enable_media_understanding, type_replies,
              faq_synonyms, embedding_model, semantic_confidence)
    ON alphadome.bot_control_settings TO alphadome_admin;
GRANT UPDATE (handoff_at, opted_out_at) ON alphadome.conversations TO alphadome_admin;

-- The relay: only what its work needs.
GRANT EXECUTE ON FUNCTION
    alphadome.tenant_for_phone_number_id(text),
    alphadome.tenant_for_client_phone(text),
    alphadome.tenant_for_slug(text),
    alphadome.tenant_credential(uuid, text, text),
    alphadome.expiring_credentials(interval),
    alphadome.webhook_verify_token_matches(text, text),
    alphadome.webhook_routes(),
    alphadome.security_check(),
    alphadome.ingest_webhook(jsonb, uuid),
    alphadome.ingest_webhook_text(text, uuid),
    alphadome.claim_jobs(text, integer, integer, text[]),
    alphadome.complete_job(bigint, jsonb),
    alphadome.complete_jobs(bigint[], jsonb[]),
    alphadome.fail_job(bigint, jsonb, integer),
    -- A message left to the LLM, answered from the FAQ by its meaning (semantic.sql).
    alphadome.semantic_faq_answer(bigint, real[]),
    alphadome.enqueue_credential_alerts(interval),
    alphadome.prune_history(interval, integer),
    alphadome.handoff_chores(timestamptz),
    -- Its hourly prune removes audit rows past the retention it is given (30 days at least).
    alphadome.prune_credential_audit(interval, integer),
    -- Whether pg_cron runs the chores; then the relay does not.
    alphadome.chores_scheduled()
TO alphadome_relay;

-- Tenant owners, under RLS: their own templates, FAQ and switches; their tenant row without
-- any credential column; their conversations, message log and credential audit, read-only
-- but for taking a conversation over. bot_tenant_id is never updatable, so no row can move.
GRANT SELECT (id, slug, client_name, client_phone, client_email, contact_name, whatsapp_phone_number_id,
              whatsapp_business_account_id, ai_base_url, ai_model, is_active, credential_status,
              token_expires_at, token_rotated_at, owner_user_id, brand_id, created_at, updated_at, country_code)
    ON alphadome.bot_tenants TO alphadome_tenant;
GRANT SELECT, DELETE ON alphadome.bot_templates, alphadome.bot_training_data TO alphadome_tenant;
GRANT INSERT (bot_tenant_id, template_name, system_prompt, tone, triggers, is_default, is_active),
      UPDATE (template_name, system_prompt, tone, triggers, is_default, is_active)
    ON alphadome.bot_templates TO alphadome_tenant;
GRANT INSERT (bot_tenant_id, data_type, question, answer, category, is_active, phrasings),
      UPDATE (data_type, question, answer, category, is_active, phrasings)
    ON alphadome.bot_training_data TO alphadome_tenant;
-- An owner runs the bot: its switches, words, fallback and escalation phone. The operator
-- keeps what costs money or protects others: the hourly reply limit and the prompt budget.
GRANT SELECT ON alphadome.bot_control_settings TO alphadome_tenant;
GRANT UPDATE (is_bot_enabled, enable_ai_responses, enable_payment_flow, escalation_phone,
              fallback_message, opt_out_keywords, opt_in_keywords, handoff_keywords, faq_confidence,
              alert_template_name, alert_template_language, timezone, business_hours, holidays,
              after_hours_message, transcription_model, enable_media_understanding, type_replies, faq_synonyms,
              embedding_model, semantic_confidence)
    ON alphadome.bot_control_settings TO alphadome_tenant;
GRANT SELECT ON alphadome.conversations, alphadome.messages, alphadome.credential_audit, alphadome.reply_counters,
                alphadome.alerts
    TO alphadome_tenant;
GRANT SELECT (id, bot_tenant_id, kind, payload, status, attempts, max_attempts, run_at, last_error, result,
              created_at, updated_at)
    ON alphadome.outbox TO alphadome_tenant;
GRANT UPDATE (handoff_at) ON alphadome.conversations TO alphadome_tenant;
-- An owner (or the operator) marks an alert done (the console's "Done"), which also cancels it
-- when it has not gone yet: only through alert_done, never by updating done_at alone.
GRANT EXECUTE ON FUNCTION alphadome.alert_done(bigint) TO alphadome_tenant, alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.match_faq(uuid, text, integer), alphadome.assemble_prompt(uuid, text, text),
                          alphadome.next_opening(uuid, timestamptz),
                          alphadome.replay(timestamptz, timestamptz, integer, uuid),
                          alphadome.try_message(text, uuid)
    TO alphadome_tenant;
GRANT SELECT ON alphadome.usage_daily, alphadome.usage_days TO alphadome_tenant;
-- usage_daily (security_invoker) counts the live rows through these.
GRANT EXECUTE ON FUNCTION alphadome._usage_counts(timestamptz, timestamptz, uuid, bigint[], bigint[]),
                          alphadome._usage_rolled_up_to()
    TO alphadome_tenant, alphadome_admin;
-- A tenant's retention is the operator's to set (docs/operations.md, "Retention").
GRANT UPDATE (keep_messages_days) ON alphadome.bot_control_settings TO alphadome_admin;

-- 0.3.0, the inbox: owners and their staff (alphadome_agent) answer customers through these
-- functions, which check the conversation is the caller's; an owner also makes staff logins.
GRANT EXECUTE ON FUNCTION
    alphadome.send_human_reply(bigint, text),
    alphadome.send_template(bigint, text, text, text[]),
    alphadome.resolve_conversation(bigint),
    alphadome.hand_back(bigint),
    alphadome.take_over(bigint),
    alphadome.sync_templates(uuid)
TO alphadome_tenant, alphadome_agent;
GRANT EXECUTE ON FUNCTION alphadome.create_agent(uuid, text, text) TO alphadome_tenant;
-- An owner's FAQ deletes, kept a day to be undone (console.sql).
GRANT EXECUTE ON FUNCTION alphadome.delete_faq_entry(bigint), alphadome.undo_faq_delete(bigint),
                          alphadome._faq_undo_window()
    TO alphadome_tenant, alphadome_admin;
GRANT SELECT, INSERT (bot_tenant_id, entry), DELETE ON alphadome.faq_deleted TO alphadome_tenant, alphadome_admin;
-- The FAQ's embeddings (semantic.sql): an owner may read his; only the queue writes them.
GRANT SELECT ON alphadome.faq_embeddings TO alphadome_tenant, alphadome_admin;
GRANT SELECT ON alphadome.whatsapp_templates TO alphadome_tenant, alphadome_admin;
GRANT UPDATE (handoff_timeout, handoff_reminder, handoff_timeout_message) ON alphadome.bot_control_settings
    TO alphadome_tenant, alphadome_admin;
GRANT SELECT (id, email, bot_tenant_id, created_at, password_changed_at, is_agent) ON alphadome.console_accounts
    TO alphadome_admin;

-- A member of the shop's staff (a console account with is_agent), under RLS: reads the
-- conversations, their messages, the canned replies and the approved templates, and writes only
-- through the functions above. No settings, FAQ, templates, logins or credentials.
GRANT SELECT (id, slug, client_name, whatsapp_business_account_id) ON alphadome.bot_tenants TO alphadome_agent;
GRANT SELECT (bot_tenant_id, timezone, business_hours, holidays) ON alphadome.bot_control_settings TO alphadome_agent;
GRANT SELECT ON alphadome.conversations, alphadome.messages, alphadome.whatsapp_templates TO alphadome_agent;
GRANT SELECT (id, bot_tenant_id, data_type, question, answer, category, is_active)
    ON alphadome.bot_training_data TO alphadome_agent;
GRANT SELECT (id, bot_tenant_id, kind, payload, status, last_error, created_at, updated_at)
    ON alphadome.outbox TO alphadome_agent;

-- The console's login (a member of alphadome_console, NOINHERIT): its sessions only, as itself;
-- it acts as alphadome_tenant or alphadome_admin after console_session() (docs/security.md).
GRANT EXECUTE ON FUNCTION
    alphadome.console_login(text, text, text),
    alphadome.console_session(text),
    alphadome.console_logout(text),
    alphadome.console_change_password(text, text, text, text)
TO alphadome_console;

-- ---- The owner on his phone (issue 22): what usage costs, getting back in -------------------------
-- Prices and exchange rates: read by owners (their usage page), kept by the operator (all but
-- the shipped rows: the tables' policies, usage.sql). The tenant's currency is the operator's
-- to set, with the rate that goes with it.
GRANT SELECT ON alphadome.whatsapp_prices, alphadome.llm_prices, alphadome.exchange_rates TO alphadome_tenant;
GRANT INSERT, UPDATE, DELETE ON alphadome.whatsapp_prices, alphadome.llm_prices, alphadome.exchange_rates
    TO alphadome_admin;
GRANT UPDATE (currency) ON alphadome.bot_control_settings TO alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.usage_cost(uuid, text, date, date), alphadome._per_usd(text, date)
    TO alphadome_tenant, alphadome_admin;
-- Reset links are read and written only through the functions below, like sessions.
REVOKE SELECT ON alphadome.console_password_resets FROM alphadome_admin;
GRANT EXECUTE ON FUNCTION
    alphadome.console_request_password_reset(text, text),
    alphadome.console_reset_link_works(text),
    alphadome.console_reset_password(text, text),
    alphadome.console_login_tries_left(text, text)
TO alphadome_console;
GRANT EXECUTE ON FUNCTION alphadome.operator_password_reset(uuid) TO alphadome_admin;

-- ---- One personality (issue 22): the owner's (and the operator's) to write ----------------------
GRANT UPDATE (persona_tone, shop_description, current_offers) ON alphadome.bot_control_settings
    TO alphadome_tenant, alphadome_admin;

-- ---- Selling in the chat (issue 24) ------------------------------------------------------------
-- The owner keeps his products (under RLS, like the FAQ); staff read them to answer customers;
-- the operator keeps every tenant's.
GRANT SELECT, DELETE ON alphadome.products TO alphadome_tenant;
GRANT INSERT (bot_tenant_id, name, description, price, currency, in_stock, category, phrasings, photo_url, is_active),
      UPDATE (name, description, price, currency, in_stock, category, phrasings, photo_url, is_active)
    ON alphadome.products TO alphadome_tenant;
GRANT SELECT ON alphadome.products TO alphadome_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON alphadome.products TO alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.match_products(uuid, text, integer) TO alphadome_tenant, alphadome_admin;
-- match_products, assemble_prompt and try_message (SECURITY INVOKER) answer through these.
GRANT EXECUTE ON FUNCTION alphadome._product_words(text), alphadome._price_words(numeric, text),
                          alphadome._product_answer(uuid, text)
    TO alphadome_tenant, alphadome_admin;
-- Orders and payments are made by the bot (ingest's _sell, the relay's M-Pesa results): owners,
-- staff and the operator read them; an owner or the operator may cancel an order.
GRANT SELECT ON alphadome.orders, alphadome.payments TO alphadome_tenant, alphadome_agent, alphadome_admin;
GRANT UPDATE (status) ON alphadome.orders TO alphadome_tenant, alphadome_admin;
-- M-Pesa: the operator sets the credentials (set_mpesa_credentials) and the amount limit; an
-- owner his shortcode, paybill or till. Nobody reads the ciphertexts but through claim_jobs.
GRANT EXECUTE ON FUNCTION alphadome.set_mpesa_credentials(uuid, text, text, text, text, inet[]) TO alphadome_admin;
GRANT SELECT (bot_tenant_id, environment, callback_addresses, created_at, updated_at)
    ON alphadome.mpesa_accounts TO alphadome_admin, alphadome_tenant;
GRANT UPDATE (mpesa_shortcode, mpesa_transaction_type, mpesa_till_number) ON alphadome.bot_control_settings
    TO alphadome_tenant, alphadome_admin;
GRANT UPDATE (max_payment_amount) ON alphadome.bot_control_settings TO alphadome_admin;
-- The relay's callback route.
GRANT EXECUTE ON FUNCTION alphadome.mpesa_callback(text, text, jsonb, inet) TO alphadome_relay, alphadome_admin;
-- ---- Campaigns (issue 26) ---------------------------------------------------------------------
-- The owner runs his campaigns through these functions (they check the campaign and the
-- customers are his); his staff ask a customer for consent and label customers from the
-- conversation page. The relay paces the sending. The tables are read under row-level security.
GRANT EXECUTE ON FUNCTION
    alphadome.create_campaign(text, text, text, text[], text[], interval, timestamptz),
    alphadome.campaign_preview(bigint),
    alphadome.start_campaign(bigint),
    alphadome.pause_campaign(bigint),
    alphadome.resume_campaign(bigint),
    alphadome.cancel_campaign(bigint),
    alphadome.campaign_results(bigint),
    alphadome.import_marketing_consent(text[], text, timestamptz),
    alphadome.create_template(text, text, text, text, text[], text, text[])
TO alphadome_tenant;
GRANT EXECUTE ON FUNCTION alphadome.template_rejection_words(text) TO alphadome_tenant, alphadome_agent, alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.campaign_results(bigint) TO alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.ask_marketing_consent(bigint), alphadome.set_customer_labels(bigint, text[])
    TO alphadome_tenant, alphadome_agent;
GRANT EXECUTE ON FUNCTION alphadome.campaign_chores() TO alphadome_relay, alphadome_admin;
GRANT SELECT ON alphadome.campaigns, alphadome.campaign_recipients TO alphadome_tenant;
-- The owner's number's messaging limit (Meta's tier), the campaign pace and the opt-in question:
-- his to set, as the operator may.
GRANT UPDATE (marketing_opt_in_question, marketing_opt_in_words, messaging_limit, campaign_rate)
    ON alphadome.bot_control_settings TO alphadome_tenant, alphadome_admin;
-- ---- An FAQ that learns (issue 29) -------------------------------------------------------------
-- The owner (or the operator, naming the tenant) reads the questions the FAQ did not answer and
-- deals with them; the weekly summaries are the relay's chore (or pg_cron's).
GRANT EXECUTE ON FUNCTION
    alphadome.faq_unanswered(timestamptz, timestamptz, integer, uuid),
    alphadome.faq_unanswered_done(text, text, bigint, uuid),
    alphadome.add_faq_phrasing(bigint, text),
    alphadome._faq_question_key(text),
    alphadome._greeting_only(text)
TO alphadome_tenant, alphadome_admin;
GRANT SELECT, INSERT (bot_tenant_id, question_key, outcome, entry_id),
      UPDATE (outcome, entry_id, handled_at), DELETE
    ON alphadome.faq_unanswered_handled TO alphadome_tenant, alphadome_admin;
GRANT EXECUTE ON FUNCTION alphadome.enqueue_weekly_summaries(timestamptz) TO alphadome_relay, alphadome_admin;

-- What every public object is, for \d+ and \df+. One place: the upgrade script repeats it.

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

-- Data kept on purpose (issue 23): a tenant's retention of its messages and conversations, and
-- the erasure of one customer at his request. Counts outlive both (usage_days, usage.sql).

-- A tenant's retention (bot_control_settings.keep_messages_days; NULL keeps everything): at most
-- batch of its messages older than that many days, and then its conversations with no message
-- left, no activity since, and nobody waiting. A conversation whose customer opted out is kept:
-- its opted_out_at is how the bot keeps honouring the opt-out (forget_customer removes it).
-- The usage of the rows is rolled up first. Called by prune_history; returns the two counts.
CREATE OR REPLACE FUNCTION alphadome._prune_messages(batch integer) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shortest integer := (SELECT min(s.keep_messages_days) FROM alphadome.bot_control_settings s);
    messages bigint := 0;
    conversations bigint := 0;
BEGIN
    IF shortest IS NOT NULL THEN
        -- Every cutoff is at least a day back, where the default rollup has already counted.
        PERFORM alphadome.rollup_usage(now() - make_interval(days => shortest));
        -- The BRIN index on created_at finds the old rows: the bound is one for all tenants.
        DELETE FROM alphadome.messages m
         WHERE (m.bot_tenant_id, m.id) IN (
                   SELECT x.bot_tenant_id, x.id
                     FROM alphadome.messages x
                     JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = x.bot_tenant_id
                    WHERE x.created_at < now() - make_interval(days => shortest)
                      AND x.created_at < now() - make_interval(days => s.keep_messages_days)
                    LIMIT _prune_messages.batch);
        GET DIAGNOSTICS messages = ROW_COUNT;
        DELETE FROM alphadome.conversations c
         WHERE (c.bot_tenant_id, c.id) IN (
                   SELECT x.bot_tenant_id, x.id
                     FROM alphadome.conversations x
                     JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = x.bot_tenant_id
                    WHERE s.keep_messages_days IS NOT NULL
                      AND greatest(x.created_at, x.updated_at, x.last_inbound_at)
                          < now() - make_interval(days => s.keep_messages_days)
                      AND x.opted_out_at IS NULL AND x.waiting_since IS NULL
                      AND NOT EXISTS (SELECT FROM alphadome.messages m
                                       WHERE m.bot_tenant_id = x.bot_tenant_id AND m.conversation_id = x.id)
                    LIMIT _prune_messages.batch);
        GET DIAGNOSTICS conversations = ROW_COUNT;
    END IF;
    RETURN jsonb_build_object('messages', messages, 'conversations', conversations);
END
$$;

-- Erases what the database holds of one customer of a tenant (the right to erasure of Kenya's
-- Data Protection Act 2019): the conversation and its messages (with their media references and
-- transcripts), the raw webhooks routed to the tenant that name the number, the jobs to or about
-- the customer, and the archived dead jobs naming it. Orders and payments stay, without the
-- conversation, the phone and the raw callback. Alerts about the customer stay, without the
-- number or the text; the counts of the erased messages and jobs go to usage_days: the
-- usage counts stand. Audited in customer_erasures with a hash of the number.
-- Returns how many rows of each table went. The operator's.
CREATE OR REPLACE FUNCTION alphadome.forget_customer(tenant uuid, phone text) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- The number is the secret here: kept out of the log of a statement that fails.
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    country text;
    phone_number_id text;
    number text;
    conversations bigint[];
    jobs bigint[];
    n bigint;
    removed jsonb := '{}';
BEGIN
    IF forget_customer.tenant IS NULL OR nullif(btrim(forget_customer.phone), '') IS NULL THEN
        RAISE EXCEPTION 'tenant and phone are required' USING ERRCODE = '22004';
    END IF;
    SELECT t.country_code, t.whatsapp_phone_number_id INTO country, phone_number_id
      FROM alphadome.bot_tenants t WHERE t.id = forget_customer.tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', forget_customer.tenant USING ERRCODE = 'P0002';
    END IF;
    number := alphadome._customer_key(forget_customer.phone, country);
    IF number !~ '^[0-9]{8,15}$' THEN
        RAISE EXCEPTION 'not a phone number' USING ERRCODE = '22023',
              HINT = 'Give the customer''s WhatsApp number, in international or the tenant''s local form.';
    END IF;

    -- No rollup meanwhile: it would count the rows counted here a second time.
    PERFORM alphadome._lock_usage();
    -- The customer's conversations (their messages, media references and transcripts go with
    -- them) and the jobs that name the number: what of them is still counted live goes to
    -- usage_days first, so the counts stand.
    conversations := ARRAY(SELECT c.id FROM alphadome.conversations c
                            WHERE c.bot_tenant_id = forget_customer.tenant
                              AND (c.customer_key = number OR c.wa_id = number));
    jobs := ARRAY(SELECT o.id FROM alphadome.outbox o
                   WHERE o.bot_tenant_id = forget_customer.tenant
                     AND (strpos(o::text, number) > 0
                          OR (o.kind NOT IN ('payment.stk_push', 'payment.query')
                              AND o.payload -> 'conversation_id' IN (SELECT to_jsonb(x) FROM unnest(conversations) x))));
    PERFORM alphadome._add_usage(ARRAY(
        SELECT u FROM alphadome._usage_counts(alphadome._usage_rolled_up_to(), 'infinity',
                                              forget_customer.tenant, conversations, jobs) u));
    UPDATE alphadome.alerts a SET conversation_id = NULL
     WHERE a.bot_tenant_id = forget_customer.tenant AND a.conversation_id = ANY (conversations);
    -- The shop's sales stay in its books (what was sold, for how much, M-Pesa's receipt: records
    -- a business must keep), without who bought: an order loses its conversation, a payment the
    -- phone and the raw callback (which names the phone), a payment job the conversation. A
    -- payment whose PIN prompt is out is still settled by its callback or query, and the owner
    -- told; one not pushed yet is not pushed any more (_payment_context). A draft is cancelled.
    UPDATE alphadome.payments p
       SET phone = NULL, callback = NULL
      FROM alphadome.orders o
     WHERE o.bot_tenant_id = forget_customer.tenant AND o.conversation_id = ANY (conversations)
       AND p.bot_tenant_id = o.bot_tenant_id AND p.order_id = o.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('payments_unnamed', n);
    UPDATE alphadome.outbox o SET payload = o.payload - 'conversation_id'
     WHERE o.bot_tenant_id = forget_customer.tenant AND o.kind IN ('payment.stk_push', 'payment.query')
       AND o.payload -> 'conversation_id' IN (SELECT to_jsonb(x) FROM unnest(conversations) x);
    UPDATE alphadome.orders o
       SET conversation_id = NULL, status = CASE WHEN o.status = 'draft' THEN 'cancelled' ELSE o.status END
     WHERE o.bot_tenant_id = forget_customer.tenant AND o.conversation_id = ANY (conversations);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('orders_unnamed', n);
    DELETE FROM alphadome.conversations c
     WHERE c.bot_tenant_id = forget_customer.tenant AND c.id = ANY (conversations);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('conversations', n);
    DELETE FROM alphadome.outbox o WHERE o.bot_tenant_id = forget_customer.tenant AND o.id = ANY (jobs);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('jobs', n);

    -- Alerts that name the number keep their kind and time (they are counted), not their words.
    UPDATE alphadome.alerts a
       SET text = 'Erased at the customer''s request.', last_error = NULL
     WHERE a.bot_tenant_id = forget_customer.tenant AND strpos(a::text, number) > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('alerts_reworded', n);
    -- One still naming it (its channel's address was the customer's) goes.
    DELETE FROM alphadome.alerts a
     WHERE a.bot_tenant_id = forget_customer.tenant AND strpos(a::text, number) > 0;

    DELETE FROM alphadome.dead_letters d
     WHERE d.bot_tenant_id = forget_customer.tenant AND strpos(d::text, number) > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('dead_letters', n);

    -- A question the owner dealt with is kept by its words, not its customer: one that holds
    -- the number goes.
    DELETE FROM alphadome.faq_unanswered_handled h
     WHERE h.bot_tenant_id = forget_customer.tenant AND strpos(h.question_key, number) > 0;

    -- Raw webhooks: those routed to the tenant, and unrouted ones addressed to its number.
    DELETE FROM alphadome.webhook_events e
     WHERE (e.route_tenant_id = forget_customer.tenant
            OR (e.route_tenant_id IS NULL AND e.payload @> alphadome._webhook_to(phone_number_id)))
       AND strpos(e.payload::text, number) > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('webhook_events', n);

    INSERT INTO alphadome.customer_erasures (bot_tenant_id, number_sha256, removed, acting_role)
    VALUES (forget_customer.tenant, sha256(convert_to(forget_customer.tenant::text || ':' || number, 'UTF8')), removed,
            alphadome._acting_role());
    RETURN removed;
END
$$;

-- The queue's tables change all the time (a job is inserted, updated two or three times, and
-- pruned; a counter row per session and hour): vacuum and analyze them after a small share of
-- changed rows rather than the default fifth, so that statistics taken on a nearly empty
-- outbox do not last while it fills (docs/benchmarks.md), and dead rows do not pile up between
-- runs. Table settings, kept by the extension (pg_dump does not dump an extension table's).
ALTER TABLE alphadome.outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.005,
                                  autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE alphadome.reply_counters SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

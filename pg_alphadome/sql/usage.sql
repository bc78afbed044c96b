-- Usage metering (docs/sql-api.md): what each tenant's bot did and cost, per day in the tenant's
-- time zone.
--
-- LLM tokens come from the `usage` the LLM returned, kept in the job's result when it completed.
-- Meta's pricing category is the one its status webhooks gave for each message sent.
-- Rows older than the rollup's mark are counted in usage_days (rollup_usage), so a day's usage
-- outlives prune_history, a tenant's retention and forget_customer; only the rows after the mark
-- are counted live, which keeps usage_daily's cost to the recent rows whatever its filter.

-- The counts of the rows written in [since, until): messages by created_at, finished LLM and
-- transcription jobs by updated_at, alerts by created_at. With a tenant, only its messages of
-- the given conversations and its given jobs (what forget_customer erases; alerts it keeps).
-- Invoker's rights: an owner counts his own rows (row-level security).
CREATE OR REPLACE FUNCTION alphadome._usage_counts(since timestamptz, until timestamptz, tenant uuid DEFAULT NULL,
                                                   conversations bigint[] DEFAULT NULL, jobs bigint[] DEFAULT NULL)
    RETURNS SETOF alphadome.usage_days
    -- No SET clause: the planner inlines the function into usage_daily only without one. Every
    -- name is qualified, and it runs with the caller's rights.
    LANGUAGE sql STABLE
AS $$
    SELECT x.bot_tenant_id, x.day,
           sum(x.inbound_messages)::bigint, sum(x.faq_answers)::bigint, sum(x.llm_answers)::bigint,
           sum(x.escalations)::bigint, sum(x.fallbacks)::bigint, sum(x.not_answered)::bigint,
           sum(x.voice_notes)::bigint, sum(x.messages_sent)::bigint, sum(x.messages_failed)::bigint,
           sum(x.llm_calls)::bigint, sum(x.transcriptions)::bigint, sum(x.prompt_tokens)::bigint,
           sum(x.completion_tokens)::bigint, sum(x.priced_service)::bigint, sum(x.priced_utility)::bigint,
           sum(x.priced_marketing)::bigint, sum(x.priced_authentication)::bigint, sum(x.alerts)::bigint,
           sum(x.campaign_sent)::bigint, sum(x.campaign_failed)::bigint, sum(x.sales_answers)::bigint
      FROM (
        SELECT m.bot_tenant_id, (m.created_at AT TIME ZONE z.timezone)::date AS day,
               (m.direction = 'inbound')::int AS inbound_messages,
               -- An answer by meaning (semantic.sql) is the FAQ's too.
               (m.direction = 'inbound' AND m.decision IN ('faq', 'faq_semantic'))::int AS faq_answers,
               (m.direction = 'inbound' AND m.decision = 'llm')::int AS llm_answers,
               (m.direction = 'inbound' AND m.decision IN ('escalated', 'after_hours'))::int AS escalations,
               (m.direction = 'inbound' AND m.decision IN ('fallback', 'type_reply'))::int AS fallbacks,
               (m.direction = 'inbound' AND m.decision IN ('opt_out', 'opt_in', 'opted_out', 'bot_disabled',
                    'human_handoff', 'rate_limited', 'recorded', 'transcribe'))::int AS not_answered,
               (m.direction = 'inbound' AND m.message_type = 'audio')::int AS voice_notes,
               (m.direction = 'outbound' AND m.status NOT IN ('failed', 'simulated'))::int AS messages_sent,
               (m.direction = 'outbound' AND m.status = 'failed')::int AS messages_failed,
               0 AS llm_calls, 0 AS transcriptions, 0::bigint AS prompt_tokens, 0::bigint AS completion_tokens,
               (m.direction = 'outbound' AND m.pricing_category = 'service')::int AS priced_service,
               (m.direction = 'outbound' AND m.pricing_category = 'utility')::int AS priced_utility,
               (m.direction = 'outbound' AND m.pricing_category = 'marketing')::int AS priced_marketing,
               (m.direction = 'outbound' AND m.pricing_category = 'authentication')::int AS priced_authentication,
               0 AS alerts,
               (m.direction = 'outbound' AND m.payload ->> 'kind' = 'campaign.send'
                AND m.status NOT IN ('failed', 'simulated'))::int AS campaign_sent,
               (m.direction = 'outbound' AND m.payload ->> 'kind' = 'campaign.send' AND m.status = 'failed')::int
                   AS campaign_failed,
               (m.direction = 'inbound' AND m.decision IN ('product', 'payment'))::int AS sales_answers
          FROM alphadome.messages m
          JOIN alphadome.bot_control_settings z ON z.bot_tenant_id = m.bot_tenant_id
         WHERE m.created_at >= _usage_counts.since AND m.created_at < _usage_counts.until
           AND (_usage_counts.tenant IS NULL
                OR (m.bot_tenant_id = _usage_counts.tenant AND m.conversation_id = ANY (_usage_counts.conversations)))
        UNION ALL
        SELECT o.bot_tenant_id, (o.updated_at AT TIME ZONE z.timezone)::date,
               0, 0, 0, 0, 0, 0, 0, 0, 0,
               -- A reply.generate the FAQ answered by meaning called no chat model.
               (o.kind = 'reply.generate' AND NOT coalesce((o.result -> 'semantic' ->> 'answered')::boolean, false))::int,
               (o.kind = 'media.transcribe')::int,
               coalesce((o.result -> 'usage' ->> 'prompt_tokens')::bigint, 0),
               coalesce((o.result -> 'usage' ->> 'completion_tokens')::bigint, 0),
               0, 0, 0, 0, 0, 0,
               -- A campaign message Meta refused is a finished job, not a message (campaigns.sql).
               (o.kind = 'campaign.send')::int, 0
          FROM alphadome.outbox o
          JOIN alphadome.bot_control_settings z ON z.bot_tenant_id = o.bot_tenant_id
         WHERE (o.kind IN ('reply.generate', 'media.transcribe')
                OR (o.kind = 'campaign.send' AND o.result ->> 'status' = 'failed')) AND o.status = 'done'
           AND o.updated_at >= _usage_counts.since AND o.updated_at < _usage_counts.until
           AND (_usage_counts.tenant IS NULL
                OR (o.bot_tenant_id = _usage_counts.tenant AND o.id = ANY (_usage_counts.jobs)))
        UNION ALL
        SELECT a.bot_tenant_id, (a.created_at AT TIME ZONE z.timezone)::date,
               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
          FROM alphadome.alerts a
          JOIN alphadome.bot_control_settings z ON z.bot_tenant_id = a.bot_tenant_id
         WHERE a.created_at >= _usage_counts.since AND a.created_at < _usage_counts.until
           AND _usage_counts.tenant IS NULL
      ) x
     GROUP BY x.bot_tenant_id, x.day;
$$;

-- The rollup's mark: rows older than it are counted in usage_days ('-infinity' before the first
-- rollup).
CREATE OR REPLACE FUNCTION alphadome._usage_rolled_up_to() RETURNS timestamptz
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT (c.last_result ->> 'through')::timestamptz FROM alphadome.chore_runs c
                      WHERE c.chore = 'rollup_usage'), '-infinity');
$$;

-- Held until the transaction ends by whoever moves rows into usage_days (rollup_usage,
-- forget_customer): one at a time, or the same rows are counted twice.
CREATE OR REPLACE FUNCTION alphadome._lock_usage() RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_advisory_xact_lock(hashtext('alphadome.usage_days'));
$$;

-- Adds the counts of the rows between the mark and `through` to usage_days and moves the mark
-- there (never back). prune_history calls it before it deletes; the default leaves the last
-- day live, so that a status webhook arriving late still changes its day. Returns the number
-- of (tenant, day) rows it added to.
CREATE OR REPLACE FUNCTION alphadome.rollup_usage(through timestamptz DEFAULT now() - interval '1 day') RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mark timestamptz;
    days bigint;
BEGIN
    IF through IS NULL OR through > now() THEN
        RAISE EXCEPTION 'usage is rolled up to a time in the past (through = %)', through USING ERRCODE = '22023';
    END IF;
    -- One rollup at a time: two would count the same rows twice.
    PERFORM alphadome._lock_usage();
    mark := alphadome._usage_rolled_up_to();
    IF through <= mark THEN
        RETURN 0;
    END IF;
    days := alphadome._add_usage(ARRAY(SELECT u FROM alphadome._usage_counts(mark, rollup_usage.through) u));
    INSERT INTO alphadome.chore_runs AS c (chore, last_run_at, last_result)
    VALUES ('rollup_usage', now(), jsonb_build_object('through', through, 'days', days))
    ON CONFLICT (chore) DO UPDATE SET last_run_at = excluded.last_run_at, last_result = excluded.last_result;
    RETURN days;
END
$$;

-- Adds counts to usage_days, day by day; returns how many days it added to.
CREATE OR REPLACE FUNCTION alphadome._add_usage(counts alphadome.usage_days[]) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH added AS (
    INSERT INTO alphadome.usage_days AS u
    SELECT * FROM unnest(_add_usage.counts)
    ON CONFLICT (bot_tenant_id, day) DO UPDATE SET
        inbound_messages = u.inbound_messages + excluded.inbound_messages,
        faq_answers = u.faq_answers + excluded.faq_answers,
        llm_answers = u.llm_answers + excluded.llm_answers,
        escalations = u.escalations + excluded.escalations,
        fallbacks = u.fallbacks + excluded.fallbacks,
        not_answered = u.not_answered + excluded.not_answered,
        voice_notes = u.voice_notes + excluded.voice_notes,
        messages_sent = u.messages_sent + excluded.messages_sent,
        messages_failed = u.messages_failed + excluded.messages_failed,
        llm_calls = u.llm_calls + excluded.llm_calls,
        transcriptions = u.transcriptions + excluded.transcriptions,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        priced_service = u.priced_service + excluded.priced_service,
        priced_utility = u.priced_utility + excluded.priced_utility,
        priced_marketing = u.priced_marketing + excluded.priced_marketing,
        priced_authentication = u.priced_authentication + excluded.priced_authentication,
        alerts = u.alerts + excluded.alerts,
        campaign_sent = u.campaign_sent + excluded.campaign_sent,
        campaign_failed = u.campaign_failed + excluded.campaign_failed,
        sales_answers = u.sales_answers + excluded.sales_answers
    RETURNING 1)
    SELECT count(*) FROM added;
$$;

-- security_invoker: a tenant owner sees his own days (row-level security of the tables
-- underneath), the operator every tenant's.
CREATE OR REPLACE VIEW alphadome.usage_daily WITH (security_invoker = true) AS
SELECT u.bot_tenant_id, u.day,
       sum(u.inbound_messages)::bigint AS inbound_messages,
       sum(u.faq_answers)::bigint AS faq_answers,
       sum(u.llm_answers)::bigint AS llm_answers,
       sum(u.escalations)::bigint AS escalations,
       sum(u.fallbacks)::bigint AS fallbacks,
       sum(u.not_answered)::bigint AS not_answered,
       sum(u.voice_notes)::bigint AS voice_notes,
       sum(u.messages_sent)::bigint AS messages_sent,
       sum(u.messages_failed)::bigint AS messages_failed,
       sum(u.llm_calls)::bigint AS llm_calls,
       sum(u.transcriptions)::bigint AS transcriptions,
       sum(u.prompt_tokens)::bigint AS prompt_tokens,
       sum(u.completion_tokens)::bigint AS completion_tokens,
       sum(u.priced_service)::bigint AS priced_service,
       sum(u.priced_utility)::bigint AS priced_utility,
       sum(u.priced_marketing)::bigint AS priced_marketing,
       sum(u.priced_authentication)::bigint AS priced_authentication,
       sum(u.alerts)::bigint AS alerts,
       sum(u.campaign_sent)::bigint AS campaign_sent,
       sum(u.campaign_failed)::bigint AS campaign_failed,
       sum(u.sales_answers)::bigint AS sales_answers
  FROM (SELECT * FROM alphadome.usage_days
        UNION ALL
        SELECT * FROM alphadome._usage_counts(alphadome._usage_rolled_up_to(), 'infinity')) u
 GROUP BY u.bot_tenant_id, u.day;

-- ---- What usage costs (issue 22): prices, rates, and usage_cost ----------------------------------
--
-- Meta charges per delivered message by the template's pricing category and the recipient's
-- country calling code (its status webhooks say the category: messages.pricing_category; alerts
-- sent as the tenant's template are not in the message log, and are priced by the template's
-- category); the
-- LLM by prompt and completion tokens (the usage it returned, kept in the reply.generate job's
-- result, with the model it was asked for). Prices are in USD as published; exchange_rates turn
-- them into the tenant's currency (bot_control_settings.currency). Each price and rate holds from
-- its effective_from until a later one; a day before the first row takes the first row.

-- The rate card this release ships (shipped: kept by CREATE EXTENSION and every upgrade, never
-- changed: a newer card is a row with a later date). Kenya (+254) is in Meta's "Rest of Africa"
-- market. Meta prices per message since 2025-07-01; a free-form (service) message inside the
-- customer's 24-hour window is free, and so are utility templates sent inside it, which this
-- table cannot tell apart (messages keep the category only): they are priced as utility.
INSERT INTO alphadome.whatsapp_prices (country_code, category, effective_from, market, currency, price, source, note, shipped)
VALUES ('254', 'marketing', '2025-07-01', 'Rest of Africa', 'USD', 0.0225,
        'https://developers.facebook.com/docs/whatsapp/pricing (rate card, USD, effective 2025-07-01)', NULL, true),
       ('254', 'utility', '2025-07-01', 'Rest of Africa', 'USD', 0.0040,
        'https://developers.facebook.com/docs/whatsapp/pricing (rate card, USD, effective 2025-07-01)',
        'free when sent inside an open customer service window; priced here as sent outside it', true),
       ('254', 'authentication', '2025-07-01', 'Rest of Africa', 'USD', 0.0040,
        'https://developers.facebook.com/docs/whatsapp/pricing (rate card, USD, effective 2025-07-01)', NULL, true),
       ('254', 'service', '2025-07-01', 'Rest of Africa', 'USD', 0,
        'https://developers.facebook.com/docs/whatsapp/pricing (per-message pricing, effective 2025-07-01)',
        'free: non-template messages can only be sent inside the customer service window, where they cost nothing', true)
ON CONFLICT DO NOTHING;

-- The default model of create_tenant, at its published price.
INSERT INTO alphadome.llm_prices (model, effective_from, currency, input_per_million, output_per_million, source, shipped)
VALUES ('gpt-4o-mini', '2024-07-18', 'USD', 0.15, 0.60, 'https://openai.com/api/pricing/ (gpt-4o-mini, standard tier)', true)
ON CONFLICT DO NOTHING;

-- Kenya shillings for one US dollar: an approximate mid-2025 figure, for the operator to keep
-- current (the Central Bank of Kenya publishes the day's indicative rate).
INSERT INTO alphadome.exchange_rates (currency, effective_from, per_usd, source, shipped)
VALUES ('KES', '2025-07-01', 129.25,
        'approximate; check https://www.centralbank.go.ke/rates/forex-exchange-rates/', true)
ON CONFLICT DO NOTHING;

-- Everyone reads the prices (they are public figures); the operator writes them, all but the
-- shipped rows (row-level security: such an UPDATE or DELETE finds no row).
DO $prices$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['whatsapp_prices', 'llm_prices', 'exchange_rates'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE alphadome.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS everyone_reads ON alphadome.%I', t);
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS operator_keeps ON alphadome.%I', t);
        EXECUTE pg_catalog.format('CREATE POLICY everyone_reads ON alphadome.%I FOR SELECT USING (true)', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY operator_keeps ON alphadome.%I TO alphadome_admin USING (NOT shipped) WITH CHECK (NOT shipped)', t);
    END LOOP;
END
$prices$;

-- Units of `currency` for one US dollar on `day` (1 for USD); NULL when no rate is known.
CREATE OR REPLACE FUNCTION alphadome._per_usd(currency text, day date) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN _per_usd.currency = 'USD' THEN 1::numeric ELSE (
        SELECT r.per_usd FROM alphadome.exchange_rates r
         WHERE r.currency = _per_usd.currency
         ORDER BY r.effective_from <= _per_usd.day DESC,
                  CASE WHEN r.effective_from <= _per_usd.day THEN r.effective_from END DESC, r.effective_from
         LIMIT 1) END
$$;

-- What the tenant's usage cost per day, week (Monday on) or month of its time zone, from
-- from_day to to_day (default: the last 30 days, 12 weeks or 12 months to today), in its
-- currency: WhatsApp and AI each rounded to cents once per period, the total their sum (the
-- figures shown side by side add up). A message or LLM call without a price or exchange
-- rate is counted as unpriced and costs nothing here. SECURITY INVOKER: an owner sees his own
-- tenant (row-level security; another tenant's id gives no row), the operator any.
CREATE OR REPLACE FUNCTION alphadome.usage_cost(tenant_id uuid, period text DEFAULT 'day',
                                                from_day date DEFAULT NULL, to_day date DEFAULT NULL)
    RETURNS TABLE (period_start date, currency text, whatsapp_cost numeric, ai_cost numeric, total_cost numeric,
                   paid_messages bigint, free_messages bigint, unpriced_messages bigint,
                   ai_calls bigint, prompt_tokens bigint, completion_tokens bigint, unpriced_ai_calls bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settings record;
    first_day date;
    last_day date;
BEGIN
    IF usage_cost.period IS NULL OR usage_cost.period NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'period is day, week or month, not %', coalesce(usage_cost.period, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    SELECT s.timezone, s.currency, s.alert_template_name, s.alert_template_language INTO settings
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = usage_cost.tenant_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    last_day := coalesce(usage_cost.to_day, (now() AT TIME ZONE settings.timezone)::date);
    first_day := coalesce(usage_cost.from_day, CASE usage_cost.period
        WHEN 'day' THEN last_day - 29
        WHEN 'week' THEN date_trunc('week', last_day)::date - 7 * 11
        ELSE (date_trunc('month', last_day) - interval '11 months')::date END);
    IF first_day > last_day OR last_day - first_day > 800 THEN
        RAISE EXCEPTION 'from_day % to to_day %: at most 800 days, the first not after the last', first_day, last_day
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH sent AS (
        -- Messages sent that Meta's status webhooks priced, by day, category and customer, each
        -- group at the price in effect that day for the customer's country (the longest calling
        -- code that starts the number).
        SELECT x.day, x.messages,
               x.messages * p.price * alphadome._per_usd(settings.currency, x.day) / alphadome._per_usd(p.currency, x.day) AS cost
          FROM (SELECT (m.created_at AT TIME ZONE settings.timezone)::date AS day, m.pricing_category AS category,
                       c.wa_id, count(*) AS messages
                  FROM alphadome.messages m
                  JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
                 WHERE m.bot_tenant_id = usage_cost.tenant_id AND m.direction = 'outbound' AND m.pricing_category IS NOT NULL
                   AND m.created_at >= first_day::timestamp AT TIME ZONE settings.timezone
                   AND m.created_at < (last_day + 1)::timestamp AT TIME ZONE settings.timezone
                 GROUP BY 1, 2, 3
                UNION ALL
                -- Alerts sent as the tenant's template to the escalation phone (outside its
                -- 24-hour window, so charged): not in the message log; priced in the template's
                -- category as Meta approved it (utility when unknown).
                SELECT (a.sent_at AT TIME ZONE settings.timezone)::date,
                       coalesce((SELECT lower(wt.category) FROM alphadome.whatsapp_templates wt
                                  WHERE wt.bot_tenant_id = a.bot_tenant_id AND wt.name = settings.alert_template_name
                                    AND wt.language = settings.alert_template_language
                                    AND lower(wt.category) IN ('marketing', 'utility', 'authentication')), 'utility'),
                       ltrim(a.sent_to[1], '+'), count(*)
                  FROM alphadome.alerts a
                 WHERE a.bot_tenant_id = usage_cost.tenant_id AND a.status = 'sent' AND a.channel LIKE 'whatsapp_template%'
                   AND a.sent_at >= first_day::timestamp AT TIME ZONE settings.timezone
                   AND a.sent_at < (last_day + 1)::timestamp AT TIME ZONE settings.timezone
                 GROUP BY 1, 2, 3) x
          LEFT JOIN LATERAL (
              SELECT wp.price, wp.currency FROM alphadome.whatsapp_prices wp
               WHERE wp.category = x.category AND starts_with(x.wa_id, wp.country_code)
               ORDER BY length(wp.country_code) DESC, wp.effective_from <= x.day DESC,
                        CASE WHEN wp.effective_from <= x.day THEN wp.effective_from END DESC, wp.effective_from
               LIMIT 1) p ON true
    ), calls AS (
        -- LLM answers by day and model, at the price of the model they asked for (the tenant's
        -- model for jobs done before the model was kept with the result).
        SELECT x.day, x.calls, x.prompt, x.completion,
               (x.prompt * lp.input_per_million + x.completion * lp.output_per_million) / 1000000
                   * alphadome._per_usd(settings.currency, x.day) / alphadome._per_usd(lp.currency, x.day) AS cost
          FROM (SELECT (o.updated_at AT TIME ZONE settings.timezone)::date AS day,
                       coalesce(o.result ->> 'model', t.ai_model) AS model, count(*) AS calls,
                       sum(coalesce((o.result -> 'usage' ->> 'prompt_tokens')::bigint, 0)) AS prompt,
                       sum(coalesce((o.result -> 'usage' ->> 'completion_tokens')::bigint, 0)) AS completion
                  FROM alphadome.outbox o JOIN alphadome.bot_tenants t ON t.id = o.bot_tenant_id
                 WHERE o.bot_tenant_id = usage_cost.tenant_id AND o.kind = 'reply.generate' AND o.status = 'done'
                   AND o.updated_at >= first_day::timestamp AT TIME ZONE settings.timezone
                   AND o.updated_at < (last_day + 1)::timestamp AT TIME ZONE settings.timezone
                 GROUP BY 1, 2) x
          LEFT JOIN LATERAL (
              SELECT l.input_per_million, l.output_per_million, l.currency FROM alphadome.llm_prices l
               WHERE l.model = x.model
               ORDER BY l.effective_from <= x.day DESC, CASE WHEN l.effective_from <= x.day THEN l.effective_from END DESC,
                        l.effective_from
               LIMIT 1) lp ON true
    ), periods AS (
        SELECT DISTINCT CASE usage_cost.period WHEN 'day' THEN d::date
                                               WHEN 'week' THEN date_trunc('week', d)::date
                                               ELSE date_trunc('month', d)::date END AS start
          FROM generate_series(first_day, last_day, interval '1 day') d
    ), whatsapp AS (
        SELECT pe.start, sum(s.cost) AS cost, coalesce(sum(s.messages) FILTER (WHERE s.cost > 0), 0)::bigint AS paid,
               coalesce(sum(s.messages) FILTER (WHERE s.cost = 0), 0)::bigint AS free,
               coalesce(sum(s.messages) FILTER (WHERE s.cost IS NULL), 0)::bigint AS unpriced
          FROM sent s JOIN periods pe ON pe.start = CASE usage_cost.period WHEN 'day' THEN s.day
                                                                           WHEN 'week' THEN date_trunc('week', s.day)::date
                                                                           ELSE date_trunc('month', s.day)::date END
         GROUP BY pe.start
    ), ai AS (
        SELECT pe.start, sum(c.cost) AS cost, sum(c.calls)::bigint AS calls, sum(c.prompt)::bigint AS prompt,
               sum(c.completion)::bigint AS completion,
               coalesce(sum(c.calls) FILTER (WHERE c.cost IS NULL), 0)::bigint AS unpriced
          FROM calls c JOIN periods pe ON pe.start = CASE usage_cost.period WHEN 'day' THEN c.day
                                                                            WHEN 'week' THEN date_trunc('week', c.day)::date
                                                                            ELSE date_trunc('month', c.day)::date END
         GROUP BY pe.start
    )
    SELECT pe.start, settings.currency::text,
           round(coalesce(w.cost, 0), 2), round(coalesce(a.cost, 0), 2),
           round(coalesce(w.cost, 0), 2) + round(coalesce(a.cost, 0), 2),
           coalesce(w.paid, 0), coalesce(w.free, 0), coalesce(w.unpriced, 0),
           coalesce(a.calls, 0), coalesce(a.prompt, 0), coalesce(a.completion, 0), coalesce(a.unpriced, 0)
      FROM periods pe
      LEFT JOIN whatsapp w ON w.start = pe.start
      LEFT JOIN ai a ON a.start = pe.start
     ORDER BY pe.start;
END
$$;

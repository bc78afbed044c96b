-- Usage metering (docs/sql-api.md): what each tenant's bot did and cost, per day in the tenant's
-- time zone. security_invoker: a tenant owner sees his own days (row-level security of the
-- tables underneath), the operator every tenant's.
--
-- LLM tokens come from the `usage` the LLM returned, kept in the job's result when it completed;
-- finished jobs are kept for prune_history's `keep` (30 days by default), and so are these counts.
-- Meta's pricing category is the one its status webhooks gave for each message sent.
CREATE OR REPLACE VIEW alphadome.usage_daily WITH (security_invoker = true) AS
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

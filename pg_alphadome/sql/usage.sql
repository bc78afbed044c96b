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
           sum(x.priced_marketing)::bigint, sum(x.priced_authentication)::bigint, sum(x.alerts)::bigint
      FROM (
        SELECT m.bot_tenant_id, (m.created_at AT TIME ZONE z.timezone)::date AS day,
               (m.direction = 'inbound')::int AS inbound_messages,
               (m.direction = 'inbound' AND m.decision = 'faq')::int AS faq_answers,
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
               0 AS alerts
          FROM alphadome.messages m
          JOIN alphadome.bot_control_settings z ON z.bot_tenant_id = m.bot_tenant_id
         WHERE m.created_at >= _usage_counts.since AND m.created_at < _usage_counts.until
           AND (_usage_counts.tenant IS NULL
                OR (m.bot_tenant_id = _usage_counts.tenant AND m.conversation_id = ANY (_usage_counts.conversations)))
        UNION ALL
        SELECT o.bot_tenant_id, (o.updated_at AT TIME ZONE z.timezone)::date,
               0, 0, 0, 0, 0, 0, 0, 0, 0,
               (o.kind = 'reply.generate')::int, (o.kind = 'media.transcribe')::int,
               coalesce((o.result -> 'usage' ->> 'prompt_tokens')::bigint, 0),
               coalesce((o.result -> 'usage' ->> 'completion_tokens')::bigint, 0),
               0, 0, 0, 0, 0
          FROM alphadome.outbox o
          JOIN alphadome.bot_control_settings z ON z.bot_tenant_id = o.bot_tenant_id
         WHERE o.kind IN ('reply.generate', 'media.transcribe') AND o.status = 'done'
           AND o.updated_at >= _usage_counts.since AND o.updated_at < _usage_counts.until
           AND (_usage_counts.tenant IS NULL
                OR (o.bot_tenant_id = _usage_counts.tenant AND o.id = ANY (_usage_counts.jobs)))
        UNION ALL
        SELECT a.bot_tenant_id, (a.created_at AT TIME ZONE z.timezone)::date,
               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
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
        alerts = u.alerts + excluded.alerts
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
       sum(u.alerts)::bigint AS alerts
  FROM (SELECT * FROM alphadome.usage_days
        UNION ALL
        SELECT * FROM alphadome._usage_counts(alphadome._usage_rolled_up_to(), 'infinity')) u
 GROUP BY u.bot_tenant_id, u.day;

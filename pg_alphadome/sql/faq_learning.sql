-- An FAQ that learns, with the owner's consent (issue 29, point 2; docs/sql-api.md).
--
-- The questions the FAQ did not answer are read from the message log as replay decides them
-- (ingest/replay.rs): messages that went to the AI or the fallback then, and still would now.
-- Each is counted under its words folded (_faq_question_key), with the entry that fits it best
-- (match_faq) and what the AI answered. The owner adds one as a way of asking an entry, starts
-- a new entry from it, or dismisses it; faq_unanswered_handled remembers which. Once a week
-- the owner gets the top ones with the week's figures (enqueue_weekly_summaries).
-- SECURITY INVOKER but for the weekly chore: an owner reads and changes only his own rows.

-- The questions the FAQ did not answer, received in [since, until) (the latest 1000 messages of
-- it): grouped by their words folded, most asked first, at most max_results (1 to 100). Leaves
-- out greetings alone, questions the owner dealt with, and those the FAQ answers by now. For the
-- tenant in context or the one given (an operator); no row for a tenant the caller cannot see.
CREATE OR REPLACE FUNCTION alphadome.faq_unanswered(since timestamptz DEFAULT now() - interval '7 days',
                                                    until timestamptz DEFAULT now(),
                                                    max_results integer DEFAULT 20,
                                                    tenant_id uuid DEFAULT NULL)
    RETURNS TABLE (question_key text, message text, times bigint, last_asked_at timestamptz,
                   closest_entry_id bigint, closest_question text, closest_score real, ai_answer text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tenant uuid := coalesce(faq_unanswered.tenant_id, alphadome._current_tenant());
BEGIN
    IF faq_unanswered.max_results IS NULL OR faq_unanswered.max_results NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_results must be between 1 and 100' USING ERRCODE = '22023';
    ELSIF tenant IS NULL THEN
        RAISE EXCEPTION 'faq_unanswered: no tenant: set the tenant context (alphadome.tenant_id) or pass tenant_id'
            USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = tenant) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH missed AS (
        SELECT alphadome._faq_question_key(r.message) AS key, r.message, r.received_at, r.answer_then
          FROM alphadome.replay(faq_unanswered.since, faq_unanswered.until, 1000, tenant) r
         WHERE r.decision_then IN ('llm', 'fallback') AND r.decision_now IN ('llm', 'fallback')
           AND r.message IS NOT NULL AND NOT alphadome._greeting_only(r.message)
    ), grouped AS (
        SELECT m.key,
               (array_agg(m.message ORDER BY m.received_at DESC))[1] AS message,
               count(*) AS times,
               max(m.received_at) AS last_asked_at,
               (array_agg(m.answer_then ORDER BY m.received_at DESC) FILTER (WHERE m.answer_then IS NOT NULL))[1]
                   AS ai_answer
          FROM missed m
         WHERE m.key IS NOT NULL
           AND NOT EXISTS (SELECT FROM alphadome.faq_unanswered_handled h
                            WHERE h.bot_tenant_id = tenant AND h.question_key = m.key)
         GROUP BY m.key
         ORDER BY count(*) DESC, max(m.received_at) DESC
         LIMIT faq_unanswered.max_results
    )
    SELECT g.key, g.message, g.times, g.last_asked_at, c.id, c.question, c.score, g.ai_answer
      FROM grouped g
      LEFT JOIN LATERAL alphadome.match_faq(tenant, g.message, 1) c ON true
     ORDER BY g.times DESC, g.last_asked_at DESC, g.key;
END
$$;

-- Remembers that the owner dealt with a question the FAQ did not answer: 'added' (as a way of
-- asking entry_id), 'new_entry' (entry_id made from it) or 'dismissed'. For the tenant of the
-- entry, else the one given, else the one in context. Returns false for a message without a
-- word (nothing to remember).
CREATE OR REPLACE FUNCTION alphadome.faq_unanswered_done(message text, outcome text, entry_id bigint DEFAULT NULL,
                                                         tenant_id uuid DEFAULT NULL)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text := alphadome._faq_question_key(faq_unanswered_done.message);
    tenant uuid := coalesce(faq_unanswered_done.tenant_id,
                            (SELECT e.bot_tenant_id FROM alphadome.bot_training_data e
                              WHERE e.id = faq_unanswered_done.entry_id),
                            alphadome._current_tenant());
BEGIN
    IF faq_unanswered_done.outcome IS NULL OR faq_unanswered_done.outcome NOT IN ('added', 'new_entry', 'dismissed') THEN
        RAISE EXCEPTION 'outcome is added, new_entry or dismissed, not %', coalesce(faq_unanswered_done.outcome, 'NULL')
            USING ERRCODE = '22023';
    ELSIF tenant IS NULL THEN
        RAISE EXCEPTION 'faq_unanswered_done: no tenant: set the tenant context (alphadome.tenant_id) or pass tenant_id'
            USING ERRCODE = '22004';
    ELSIF key IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO alphadome.faq_unanswered_handled AS h (bot_tenant_id, question_key, outcome, entry_id)
    VALUES (tenant, left(key, 4096), faq_unanswered_done.outcome, faq_unanswered_done.entry_id)
    ON CONFLICT (bot_tenant_id, question_key)
    DO UPDATE SET outcome = excluded.outcome, entry_id = excluded.entry_id, handled_at = now();
    RETURN true;
END
$$;

-- The owner's one tap: a customer's message added as a way of asking an entry (its phrasings;
-- once: nothing is added when the entry already has these words), and remembered as dealt with.
-- Returns false when there is no such entry (or not the caller's); 22023, in words for the
-- owner, when the message has no word or the entry has its 50 ways of asking already.
CREATE OR REPLACE FUNCTION alphadome.add_faq_phrasing(entry_id bigint, message text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    phrasing text := btrim(regexp_replace(coalesce(add_faq_phrasing.message, ''), '\s+', ' ', 'g'));
    key text := alphadome._faq_question_key(phrasing);
    entry alphadome.bot_training_data;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'this message has no words to add' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO entry FROM alphadome.bot_training_data e WHERE e.id = add_faq_phrasing.entry_id FOR UPDATE;
    IF entry.id IS NULL THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT FROM unnest(array_prepend(entry.question, entry.phrasings)) p
                    WHERE alphadome._faq_question_key(p) = key) THEN
        IF cardinality(entry.phrasings) >= 50 THEN
            RAISE EXCEPTION 'this entry has 50 ways of asking already: edit it to remove one first'
                USING ERRCODE = '22023';
        END IF;
        UPDATE alphadome.bot_training_data e SET phrasings = array_append(e.phrasings, phrasing)
         WHERE e.id = entry.id;
    END IF;
    PERFORM alphadome.faq_unanswered_done(phrasing, 'added', entry.id);
    RETURN true;
END
$$;

-- ---- the weekly summary --------------------------------------------------------------------------

-- The owner's summary of a week (Monday to Sunday in the tenant's time zone): its figures and
-- the five questions the FAQ did not answer most. NULL for a week without customer messages.
CREATE OR REPLACE FUNCTION alphadome._weekly_summary(tenant_id uuid, week_start date) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    zone text;
    shop text;
    figures record;
    cost record;
    top text;
BEGIN
    SELECT s.timezone, t.client_name INTO zone, shop
      FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id
     WHERE s.bot_tenant_id = _weekly_summary.tenant_id;
    SELECT coalesce(sum(u.inbound_messages), 0) AS received, coalesce(sum(u.faq_answers), 0) AS faq,
           coalesce(sum(u.llm_answers), 0) AS ai, coalesce(sum(u.fallbacks), 0) AS fallbacks,
           coalesce(sum(u.escalations), 0) AS escalations
      INTO figures
      FROM alphadome.usage_daily u
     WHERE u.bot_tenant_id = _weekly_summary.tenant_id
       AND u.day >= _weekly_summary.week_start AND u.day < _weekly_summary.week_start + 7;
    IF zone IS NULL OR figures.received = 0 THEN
        RETURN NULL;
    END IF;
    SELECT c.currency, c.total_cost INTO cost
      FROM alphadome.usage_cost(_weekly_summary.tenant_id, 'week', _weekly_summary.week_start,
                                _weekly_summary.week_start + 6) c
     ORDER BY c.period_start LIMIT 1;
    SELECT string_agg(format('%s. "%s" (%s)', q.n, left(q.message, 200),
                             CASE q.times WHEN 1 THEN 'once' ELSE q.times || ' times' END), E'\n' ORDER BY q.n)
      INTO top
      FROM (SELECT f.message, f.times, row_number() OVER (ORDER BY f.times DESC, f.last_asked_at DESC, f.question_key) AS n
              FROM alphadome.faq_unanswered(_weekly_summary.week_start::timestamp AT TIME ZONE zone,
                                            (_weekly_summary.week_start + 7)::timestamp AT TIME ZONE zone,
                                            5, _weekly_summary.tenant_id) f) q;
    RETURN format('%s, your week of %s to %s: %s customer messages. The FAQ answered %s, the AI %s, '
                  'your no-answer reply %s; %s waited for a person or for opening time.',
                  shop, to_char(_weekly_summary.week_start, 'FMDD Mon'), to_char(_weekly_summary.week_start + 6, 'FMDD Mon'),
                  figures.received, figures.faq, figures.ai, figures.fallbacks, figures.escalations)
           || coalesce(format(' It cost %s %s.', cost.currency, cost.total_cost), '')
           || E'\n'
           || CASE WHEN top IS NULL THEN 'The FAQ missed no question worth adding this week.'
                   ELSE E'Questions the FAQ did not answer most:\n' || top
                        || E'\nIn the console (FAQ, "Questions the FAQ did not answer") one tap adds each to the entry it belongs to.'
              END;
END
$$;

-- Queues each active tenant's summary of the week before at's (an alert, weekly_summary, by the
-- alert's channels): once per tenant and week, sent at 08:00 on Monday in the tenant's time zone
-- (or now, when later). Run hourly (the relay's chore, or pg_cron: schedule_chores); returns how
-- many it queued.
CREATE OR REPLACE FUNCTION alphadome.enqueue_weekly_summaries(at timestamptz DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    queued integer := 0;
    tenant record;
    week_start date;
    summary text;
BEGIN
    FOR tenant IN
        SELECT t.id, s.timezone FROM alphadome.bot_tenants t JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = t.id
         WHERE t.is_active
    LOOP
        -- One shop's failure (a time zone its server no longer knows, say) is logged and leaves
        -- the others' summaries to go; it is tried again at the next run.
        BEGIN
            week_start := date_trunc('week', enqueue_weekly_summaries.at AT TIME ZONE tenant.timezone)::date - 7;
            CONTINUE WHEN EXISTS (SELECT FROM alphadome.alerts a
                                   WHERE a.bot_tenant_id = tenant.id AND a.dedupe_key = 'weekly_summary:' || week_start);
            summary := alphadome._weekly_summary(tenant.id, week_start);
            CONTINUE WHEN summary IS NULL;
            queued := queued + alphadome._alert(tenant.id, 'weekly_summary', summary, 'weekly_summary:' || week_start,
                                                greatest(enqueue_weekly_summaries.at,
                                                         ((week_start + 7)::timestamp + time '08:00') AT TIME ZONE tenant.timezone));
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'weekly summary of tenant % not queued: % (%)', tenant.id, SQLERRM, SQLSTATE;
        END;
    END LOOP;
    RETURN queued;
END
$$;

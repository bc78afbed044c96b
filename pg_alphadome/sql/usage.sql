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

-- FAQ and canned-reply matching, within one tenant (DESIGN.md section 3).
--
-- Score in [0, 1] (matching.rs): 0.7 × how much of the message the entry covers (a message
-- word found in the entry's question counts 1, in its answer 0.6, in its category 0.3) + 0.3 ×
-- how much of the entry's question the message covers. Words are English stems without stop
-- words, so "open" finds "opening". SECURITY INVOKER: under RLS a tenant owner sees only its own rows,
-- and the tenant_id filter keeps the operator's calls to one tenant too.
-- PL/pgSQL rather than SQL: PostgreSQL 15 plans a non-inlined SQL function's query at every
-- call, PL/pgSQL caches the plan, and ingest calls this once per message.
CREATE FUNCTION alphadome.match_faq(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (id bigint, data_type text, question text, answer text, category text, score real)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    said text[] := tsvector_to_array(to_tsvector('english'::regconfig, coalesce(match_faq.message, '')));
BEGIN
    RETURN QUERY
    SELECT d.id, d.data_type, d.question, d.answer, d.category,
           alphadome._faq_score(said, d.question_lexemes, d.answer_lexemes, d.category_lexemes)
      FROM alphadome.bot_training_data d
     WHERE d.bot_tenant_id = match_faq.tenant_id
       AND d.is_active
       AND (d.question_lexemes && said OR d.answer_lexemes && said OR d.category_lexemes && said)
     ORDER BY 6 DESC, d.id
     LIMIT greatest(coalesce(match_faq.max_results, 3), 0);
END
$$;

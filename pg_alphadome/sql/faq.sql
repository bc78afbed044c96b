-- FAQ and canned-reply matching, within one tenant (docs/design.md section 3).
--
-- Score in [0, 1] (matching.rs): 0.7 × how much of the message the entry covers (a message
-- word found in the entry's question counts 1, in its answer 0.6, in its category 0.3) + 0.3 ×
-- how much of the entry's question the message covers. Words are English stems without stop
-- words, so "open" finds "opening". SECURITY INVOKER: under RLS a tenant owner sees only its own rows,
-- and the tenant_id filter keeps the operator's calls to one tenant too.
-- Ingest ranks the same rows the same way from each session's copy of the tenant's FAQ
-- (src/ingest/faq_cache.rs with matching.rs::best_faq; a test checks they agree).
-- A single SQL query with no SET clause, so that the planner can inline it into the caller's
-- query; BEGIN ATOMIC binds every name when the function is created, so no search_path can
-- change what it calls.
CREATE FUNCTION alphadome.match_faq(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (id bigint, data_type text, question text, answer text, category text, score real)
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    -- MATERIALIZED: the message's words are computed once, not once per FAQ row.
    WITH message AS MATERIALIZED (
        SELECT tsvector_to_array(to_tsvector('english'::regconfig, coalesce(match_faq.message, ''))) AS said
    )
    SELECT d.id, d.data_type, d.question, d.answer, d.category,
           alphadome._faq_score(m.said, d.question_lexemes, d.answer_lexemes, d.category_lexemes)
      FROM message m, alphadome.bot_training_data d
     WHERE d.bot_tenant_id = match_faq.tenant_id
       AND d.is_active
       AND (d.question_lexemes && m.said OR d.answer_lexemes && m.said OR d.category_lexemes && m.said)
     ORDER BY 6 DESC, d.id
     LIMIT greatest(coalesce(match_faq.max_results, 3), 0);
END;

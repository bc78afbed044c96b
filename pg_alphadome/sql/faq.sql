-- FAQ and canned-reply matching, within one tenant (DESIGN.md section 3).
--
-- Score in [0, 1]: 0.7 × how much of the message the entry covers (a message word found in
-- the entry's question counts 1, in its answer 0.6, in its category 0.3) + 0.3 × how much of
-- the entry's question the message covers. Words are English stems without stop words, so
-- "open" finds "opening". SECURITY INVOKER: under RLS a tenant owner sees only its own rows,
-- and the tenant_id filter keeps the operator's calls to one tenant too.
CREATE FUNCTION alphadome.match_faq(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (id bigint, data_type text, question text, answer text, category text, score real)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH message_words AS (
        SELECT array_agg(w.lexeme) AS lexemes, count(*) AS n
          FROM unnest(to_tsvector('english'::regconfig, coalesce(match_faq.message, ''))) AS w
    ),
    candidates AS (
        SELECT d.id, d.data_type, d.question, d.answer, d.category, d.search
          FROM alphadome.bot_training_data d, message_words m
         WHERE d.bot_tenant_id = match_faq.tenant_id
           AND d.is_active
           AND m.n > 0
           AND tsvector_to_array(d.search) && m.lexemes
    ),
    scored AS (
        SELECT c.id, c.data_type, c.question, c.answer, c.category,
               (SELECT sum(CASE WHEN 'A' = ANY (e.weights) THEN 1.0
                                WHEN 'B' = ANY (e.weights) THEN 0.6
                                ELSE 0.3 END)
                  FROM unnest(c.search) e
                 WHERE e.lexeme = ANY (m.lexemes)) / m.n AS message_coverage,
               (SELECT count(*) FILTER (WHERE e.lexeme = ANY (m.lexemes))::numeric / greatest(count(*), 1)
                  FROM unnest(c.search) e
                 WHERE 'A' = ANY (e.weights)) AS question_coverage
          FROM candidates c, message_words m
    )
    SELECT s.id, s.data_type, s.question, s.answer, s.category,
           round(0.7 * s.message_coverage + 0.3 * s.question_coverage, 4)::real AS score
      FROM scored s
     ORDER BY 6 DESC, s.id
     LIMIT greatest(coalesce(match_faq.max_results, 3), 0);
END;

-- Semantic FAQ matching, optional (issue 29; docs/design.md, "Semantic FAQ matching"). A tenant
-- with an LLM key that names an embeddings model of its endpoint
-- (bot_control_settings.embedding_model) has its FAQ questions and phrasings embedded by the
-- relay (job faq.embed) whenever its FAQ or that model changes; a message the lexical matcher
-- leaves to the LLM is embedded too, before the chat model is called, and answered from the FAQ
-- when the closest entry is clearly closest (semantic_faq_answer). Without a model or a key no
-- faq.embed job is queued and no message is embedded.

-- Queues the tenant's faq.embed, unless one is already waiting (it embeds what is missing when
-- it is claimed) or the tenant has no model or no key.
CREATE OR REPLACE FUNCTION alphadome._queue_faq_embed(tenant_id uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF EXISTS (SELECT FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id
                WHERE s.bot_tenant_id = _queue_faq_embed.tenant_id AND s.embedding_model IS NOT NULL
                  AND t.ai_api_key IS NOT NULL)
       AND NOT EXISTS (SELECT FROM alphadome.outbox o
                        WHERE o.bot_tenant_id = _queue_faq_embed.tenant_id AND o.kind = 'faq.embed'
                          AND o.status = 'queued') THEN
        PERFORM alphadome._enqueue(_queue_faq_embed.tenant_id, 'faq.embed', '{}');
        PERFORM alphadome._wake_worker();
    END IF;
END
$$;

-- A new FAQ version (any change of the tenant's entries or words: base.sql) or a new embeddings
-- model: the FAQ is embedded again where it changed. SECURITY DEFINER: owners edit their FAQ but
-- do not write the queue.
CREATE OR REPLACE FUNCTION alphadome._faq_embed_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM alphadome._queue_faq_embed(NEW.bot_tenant_id);
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER faq_embed_on_change AFTER UPDATE OF faq_version, embedding_model ON alphadome.bot_control_settings
    FOR EACH ROW WHEN (NEW.embedding_model IS NOT NULL
                       AND (OLD.faq_version IS DISTINCT FROM NEW.faq_version
                            OR OLD.embedding_model IS DISTINCT FROM NEW.embedding_model))
    EXECUTE FUNCTION alphadome._faq_embed_on_change();

-- The tenant's FAQ texts as they are now: each active entry's question and phrasings, with the
-- sha256 of each (what faq_embeddings keys them by).
CREATE OR REPLACE FUNCTION alphadome._faq_texts(tenant_id uuid)
    RETURNS TABLE (entry_id bigint, text_sha256 bytea, text text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT ON (d.id, sha256(convert_to(t.text, 'UTF8'))) d.id, sha256(convert_to(t.text, 'UTF8')), t.text
      FROM alphadome.bot_training_data d
     CROSS JOIN LATERAL unnest(ARRAY[d.question] || d.phrasings) AS t (text)
     WHERE d.bot_tenant_id = _faq_texts.tenant_id AND d.is_active AND btrim(t.text) <> ''
$$;

-- What a faq.embed job embeds: the model, and the texts it has no vector of yet (at most 256 in
-- one call; the rest in the next job). None without a model or a key: no call is made.
CREATE OR REPLACE FUNCTION alphadome._faq_embed_context(tenant_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text;
BEGIN
    SELECT s.embedding_model INTO wanted
      FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id
     WHERE s.bot_tenant_id = _faq_embed_context.tenant_id AND t.ai_api_key IS NOT NULL;
    IF wanted IS NULL THEN
        RETURN jsonb_build_object('model', NULL, 'texts', '[]'::jsonb);
    END IF;
    RETURN jsonb_build_object('model', wanted, 'texts', coalesce((
        SELECT jsonb_agg(jsonb_build_object('entry_id', x.entry_id, 'sha256', encode(x.text_sha256, 'hex'), 'text', x.text)
                         ORDER BY x.entry_id, x.text_sha256)
          FROM (SELECT f.entry_id, f.text_sha256, f.text
                  FROM alphadome._faq_texts(_faq_embed_context.tenant_id) f
                 WHERE NOT EXISTS (SELECT FROM alphadome.faq_embeddings e
                                    WHERE e.bot_tenant_id = _faq_embed_context.tenant_id AND e.entry_id = f.entry_id
                                      AND e.model = wanted AND e.text_sha256 = f.text_sha256)
                 ORDER BY f.entry_id, f.text_sha256
                 LIMIT 256) x), '[]'::jsonb));
END
$$;

-- A faq.embed job's result: {"model": "...", "vectors": [{"entry_id": 1, "sha256": "<hex>",
-- "embedding": [0.1, ...]}]}. The vectors of texts still current are kept; those of texts
-- changed or removed since, or of another model, go; texts still missing get another job.
CREATE OR REPLACE FUNCTION alphadome._store_faq_embeddings(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := job.bot_tenant_id;
    wanted text := (SELECT s.embedding_model FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = job.bot_tenant_id);
BEGIN
    IF jsonb_typeof(result -> 'vectors') = 'array' AND result ->> 'model' = wanted THEN
        INSERT INTO alphadome.faq_embeddings AS e (bot_tenant_id, entry_id, text_sha256, model, embedding)
        SELECT tenant, f.entry_id, f.text_sha256, wanted,
               ARRAY(SELECT x::real FROM jsonb_array_elements_text(v -> 'embedding') x)
          FROM jsonb_array_elements(result -> 'vectors') v
          JOIN alphadome._faq_texts(tenant) f
            ON f.entry_id = (v ->> 'entry_id')::bigint AND encode(f.text_sha256, 'hex') = v ->> 'sha256'
         WHERE jsonb_typeof(v -> 'embedding') = 'array' AND jsonb_array_length(v -> 'embedding') > 0
        ON CONFLICT (bot_tenant_id, entry_id, model, text_sha256) DO UPDATE SET embedding = excluded.embedding,
                                                                               created_at = now();
    END IF;
    DELETE FROM alphadome.faq_embeddings e
     WHERE e.bot_tenant_id = tenant
       AND (e.model IS DISTINCT FROM wanted
            OR NOT EXISTS (SELECT FROM alphadome._faq_texts(tenant) f
                            WHERE f.entry_id = e.entry_id AND f.text_sha256 = e.text_sha256));
    -- More than one call's worth: the next job takes the rest (not when this one stored nothing).
    IF jsonb_typeof(result -> 'vectors') = 'array' AND jsonb_array_length(result -> 'vectors') > 0
       AND jsonb_array_length(alphadome._faq_embed_context(tenant) -> 'texts') > 0 THEN
        PERFORM alphadome._queue_faq_embed(tenant);
    END IF;
END
$$;

-- The relay asks this with the embedding of a reply.generate job's message, before it calls
-- the chat model: {"answered": true, "entry_id", "score", "runner_up", "answer"} (the entry's
-- answer as the customer reads it) when the FAQ answers it, else {"answered": false, "reason",
-- ...} (_semantic_match, src/faq/semantic.rs, decides). The job must be running.
CREATE OR REPLACE FUNCTION alphadome.semantic_faq_answer(job_id bigint, embedding real[]) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job alphadome.outbox := alphadome._running_job(job_id);
    model text;
    message text := job.payload ->> 'text';
    decision jsonb;
    answer text;
BEGIN
    IF job.kind <> 'reply.generate' THEN
        RAISE EXCEPTION 'job % is a %, not a reply.generate', job_id, job.kind USING ERRCODE = '22023';
    END IF;
    SELECT s.embedding_model INTO model FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = job.bot_tenant_id;
    IF model IS NULL OR coalesce(btrim(message), '') = '' OR job.payload ? 'media' THEN
        RETURN jsonb_build_object('answered', false, 'reason', 'off');
    END IF;
    decision := alphadome._semantic_match(job.bot_tenant_id, message, model, semantic_faq_answer.embedding);
    IF (decision ->> 'answered')::boolean THEN
        SELECT d.answer INTO answer FROM alphadome.bot_training_data d
         WHERE d.bot_tenant_id = job.bot_tenant_id AND d.id = (decision ->> 'entry_id')::bigint;
        decision := decision || jsonb_build_object('answer',
            alphadome.render_placeholders(job.bot_tenant_id, answer, alphadome._message_language(message)));
    END IF;
    RETURN decision || jsonb_build_object('model', model);
END
$$;

-- A reply.generate answered from the FAQ by its meaning (complete_job): the message's decision
-- becomes faq_semantic and the entry's answer goes out as an FAQ answer, not a generated one.
CREATE OR REPLACE FUNCTION alphadome._semantic_answered(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE alphadome.messages m SET decision = 'faq_semantic'
     WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = (job.payload ->> 'inbound_message_id')::bigint;
    PERFORM alphadome._enqueue(job.bot_tenant_id, 'reply.send',
                (job.payload - 'text' - 'media') || jsonb_build_object(
                    'text', left(result ->> 'content', 4096), 'generated', false,
                    'faq_entry_id', (result -> 'semantic' ->> 'entry_id')::bigint));
    PERFORM alphadome._wake_worker();
END
$$;

-- The outbound job queue (docs/design.md sections 1 and 5): leases, attempts, backoff with jitter,
-- dead letters, claims fair across tenants, each job handed out with what it needs.

-- How long a send whose lease ran out waits before it is sent again: its relay may have died
-- after Meta took it, and the status webhook naming the job (_sent_by_status) is on its way.
-- Other jobs are taken again at once.
CREATE OR REPLACE FUNCTION alphadome._resend_wait(kind text) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN kind IN ('reply.send', 'alert.send', 'campaign.send') THEN interval '15 seconds' ELSE interval '0' END;

-- A failure to open a stored credential that says the key file is wrong, missing or unreadable
-- (F0000, 55000, 58P01, 58030) or that the ciphertext does not open with the key of its id
-- (XX001): the tenant's credentials, not a job, are at fault.
CREATE OR REPLACE FUNCTION alphadome._is_key_failure(sqlstate text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sqlstate IN ('F0000', '55000', '58P01', '58030', 'XX001');

-- Pauses a tenant whose credential did not decrypt: its jobs but alerts wait a minute, then a
-- claim tries them again; an alert (once a day) says why and what to do.
CREATE OR REPLACE FUNCTION alphadome._pause_tenant(tenant_id uuid, sqlstate text, detail text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO alphadome.tenant_pauses AS p (bot_tenant_id, reason, sqlstate, detail, probe_at)
    VALUES (_pause_tenant.tenant_id, 'master_key', _pause_tenant.sqlstate, _pause_tenant.detail, now() + interval '1 minute')
    ON CONFLICT (bot_tenant_id) DO UPDATE
       SET sqlstate = excluded.sqlstate, detail = excluded.detail, probe_at = excluded.probe_at, failures = p.failures + 1;
    PERFORM alphadome._alert(_pause_tenant.tenant_id, 'key_unavailable',
                (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = _pause_tenant.tenant_id)
                || ': its credentials do not decrypt with the master key file (' || _pause_tenant.detail
                || '). Its replies are paused, not lost: they go out once alphadome.master_key_file names a file '
                || 'holding that key (docs/security.md, "Keys and rotation").',
                'key_unavailable:' || current_date);
END
$$;

-- Up to how_many tenants with a job to run now (queued and due, or running with its lease run
-- out), in uuid order from `after` (NULL: from the first) and before `before` (NULL: to the
-- last): a loose index scan over outbox_ready, a probe per tenant, however many jobs each has.
-- The claim's second scan, from the first tenant round to where the first began, stops there:
-- unbounded, it walked again through the tenants the first scan found, and a tenant's probe
-- walks its jobs in flight and the index entries of its jobs just finished.
-- PL/pgSQL rather than SQL: its plan is kept for the session (a SQL function's is made anew at
-- every call, which cost a claim more than the scan itself).
CREATE OR REPLACE FUNCTION alphadome._tenants_with_jobs(after uuid, before uuid, how_many integer) RETURNS uuid[]
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    -- Bounds the index can seek to (an OR or an IS NULL here would scan every entry); the
    -- upper one inclusive, so that no uuid is out of reach, with `before` itself left out below.
    low uuid := coalesce(_tenants_with_jobs.after, '00000000-0000-0000-0000-000000000000');
    high uuid := coalesce(_tenants_with_jobs.before, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
BEGIN
    RETURN (
        WITH RECURSIVE scan (tenant, n) AS (
            SELECT (SELECT o.bot_tenant_id FROM alphadome.outbox o
                     WHERE o.status IN ('queued', 'running')
                       AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                       AND o.bot_tenant_id >= low AND o.bot_tenant_id <= high
                       AND o.bot_tenant_id IS DISTINCT FROM _tenants_with_jobs.before
                     ORDER BY o.bot_tenant_id LIMIT 1), 1
            UNION ALL
            SELECT (SELECT o.bot_tenant_id FROM alphadome.outbox o
                     WHERE o.status IN ('queued', 'running')
                       AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                       AND o.bot_tenant_id > s.tenant AND o.bot_tenant_id <= high
                       AND o.bot_tenant_id IS DISTINCT FROM _tenants_with_jobs.before
                     ORDER BY o.bot_tenant_id LIMIT 1), s.n + 1
              FROM scan s WHERE s.tenant IS NOT NULL AND s.n < _tenants_with_jobs.how_many
        )
        SELECT coalesce(array_agg(s.tenant ORDER BY s.tenant), '{}') FROM scan s WHERE s.tenant IS NOT NULL);
END
$$;

-- Claims up to max_jobs runnable jobs for this worker: queued ones whose time has come and
-- running ones whose lease expired (their worker died). Fair: every tenant's oldest job comes
-- before any tenant's second. Sends, and jobs that fetch a customer's media, of a tenant whose
-- token Meta refused wait (paused) until set_credentials gives a new one; its alerts do not
-- (they go by email). Each job carries its context: the send target and the decrypted WhatsApp
-- token, the assembled prompt and the LLM key (and the token when a photo is to be fetched),
-- the voice note to fetch and the transcription model, or an alert and its channels
-- (_alert_context). A credential is decrypted once per tenant and claim, and audited by one row
-- naming the jobs it served (credential_audit.job_ids). With kinds, only jobs of those
-- kinds (a relay's lanes: slow LLM calls apart from sends and alerts).
-- A credential the master key file cannot open (a key or decryption failure) is not the job's
-- fault: the job goes back to the queue uncounted, the tenant is paused (tenant_pauses) with a
-- key_unavailable alert, and its jobs but alerts wait until probe_at; the first one that then
-- decrypts ends the pause (_pause_tenant).
CREATE OR REPLACE FUNCTION alphadome.claim_jobs(worker text, max_jobs integer DEFAULT 10, lease_seconds integer DEFAULT 60,
                                     kinds text[] DEFAULT NULL)
    RETURNS SETOF jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
    -- A claim walks each tenant's ready jobs in the order of outbox_ready and stops at its share.
    -- Estimates cannot see that (a generic plan, ORs over a tenant's row): once they put a few
    -- rows where there were 150,000, the planner read and sorted a tenant's whole backlog for
    -- every claim (4,500 jobs/s fell to 94). Without sorts the index order is the only plan;
    -- and without JIT, which the cost of a disabled sort would otherwise switch on (1.9 s a claim).
    SET enable_sort = off
    SET jit = off
AS $$
DECLARE
    job record;
    t record;
    token text;
    ai_key text;
    calls_llm boolean;     -- the current job calls the LLM with the tenant's key
    claimed jsonb;
    send_context jsonb;    -- what a send of tenant t is given (its number and token)
    start uuid := gen_random_uuid();
    tenants uuid[];
    share integer;
    exhausted bigint[];
    picked bigint[];
    was_paused uuid[];
    paused_now uuid[] := '{}';
    t_id uuid;
    tokens jsonb := '{}';  -- tenant id -> its WhatsApp token, decrypted in this claim
    ai_keys jsonb := '{}'; -- tenant id -> its LLM key
    uses text[];           -- the credentials the current job was given
    audit_tenants uuid[] := '{}';
    audit_credentials text[] := '{}';
    audit_kinds text[] := '{}';
    audit_jobs bigint[] := '{}';
BEGIN
    IF coalesce(btrim(worker), '') = '' THEN
        RAISE EXCEPTION 'worker is required: a name for this relay process' USING ERRCODE = '22004';
    END IF;
    IF max_jobs IS NULL OR max_jobs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_jobs must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    IF lease_seconds IS NULL OR lease_seconds NOT BETWEEN 1 AND 3600 THEN
        RAISE EXCEPTION 'lease_seconds must be between 1 and 3600' USING ERRCODE = '22023';
    END IF;

    -- The tenants with jobs to run, at most max_jobs of them, from a random point of the tenant
    -- order and wrapping round (_tenants_with_jobs). Each gets an equal share, its oldest
    -- runnable jobs first, skipping those other workers hold: the work of a claim does not grow
    -- with the depth of the queue.
    tenants := alphadome._tenants_with_jobs(start, NULL, max_jobs);
    IF cardinality(tenants) < max_jobs THEN
        tenants := tenants || alphadome._tenants_with_jobs(NULL, start, max_jobs - cardinality(tenants));
    END IF;
    IF cardinality(tenants) = 0 THEN
        RETURN;
    END IF;
    share := ceil(max_jobs::numeric / cardinality(tenants))::integer;

    -- A job whose lease ran out after its last attempt goes to the dead letters (its alert fails);
    -- the others are claimed, every tenant's first before any tenant's second.
    WITH candidates AS (
        SELECT c.bot_tenant_id, c.id, c.run_at, c.exhausted,
               row_number() OVER (PARTITION BY c.bot_tenant_id ORDER BY c.run_at, c.id) AS turn
          FROM unnest(tenants) AS w (tenant)
          JOIN alphadome.bot_tenants bt ON bt.id = w.tenant AND bt.is_active
          LEFT JOIN alphadome.tenant_pauses p ON p.bot_tenant_id = w.tenant AND p.probe_at > now()
          CROSS JOIN LATERAL (
              SELECT o.bot_tenant_id, o.id, o.run_at, o.status = 'running' AND o.attempts >= o.max_attempts AS exhausted
                FROM alphadome.outbox o
               WHERE o.bot_tenant_id = w.tenant AND o.status IN ('queued', 'running')
                 AND ((o.status = 'queued' AND o.run_at <= now()) OR (o.status = 'running' AND o.lease_until < now() - alphadome._resend_wait(o.kind)))
                 AND (claim_jobs.kinds IS NULL OR o.kind = ANY (claim_jobs.kinds))
                 AND (bt.credential_status = 'ok'
                      OR (o.kind IN ('reply.generate', 'alert.send', 'faq.embed') AND NOT o.payload ? 'media'))
                 AND (p.bot_tenant_id IS NULL OR o.kind = 'alert.send')
               ORDER BY o.run_at, o.id
               LIMIT share
                 FOR UPDATE OF o SKIP LOCKED) c
    )
    SELECT array_agg(c.id) FILTER (WHERE c.exhausted),
           (array_agg(c.id ORDER BY c.turn, c.run_at, c.id) FILTER (WHERE NOT c.exhausted))[1:max_jobs]
      INTO exhausted, picked
      FROM candidates c;

    IF exhausted IS NOT NULL THEN
        WITH dead AS (
            UPDATE alphadome.outbox o
               SET status = 'dead', lease_until = NULL,
                   last_error = jsonb_build_object('class', 'lease_expired', 'message',
                                    'the worker holding the last attempt stopped answering', 'worker', o.locked_by)
             WHERE o.id = ANY (exhausted) AND o.bot_tenant_id = ANY (tenants)
            RETURNING o.bot_tenant_id, o.kind, o.payload, o.last_error
        )
        UPDATE alphadome.alerts a SET status = 'failed', last_error = d.last_error
          FROM dead d
         WHERE d.kind = 'alert.send' AND a.bot_tenant_id = d.bot_tenant_id AND a.id = (d.payload ->> 'alert_id')::bigint;
    END IF;

    -- Paused tenants whose probe time came: a job of theirs that decrypts ends the pause.
    IF EXISTS (SELECT FROM alphadome.tenant_pauses) THEN
        was_paused := ARRAY(SELECT p.bot_tenant_id FROM alphadome.tenant_pauses p WHERE p.bot_tenant_id = ANY (tenants));
    END IF;

    FOR job IN
        UPDATE alphadome.outbox o
           SET status = 'running', locked_by = worker, attempts = o.attempts + 1,
               lease_until = now() + make_interval(secs => lease_seconds)
         WHERE o.id = ANY (picked) AND o.bot_tenant_id = ANY (tenants)
        RETURNING o.*
    LOOP
        -- A tenant paused in this claim: its other jobs go back at once, without trying.
        IF job.bot_tenant_id = ANY (paused_now) AND job.kind <> 'alert.send' THEN
            UPDATE alphadome.outbox o
               SET status = 'queued', attempts = o.attempts - 1, lease_until = NULL, locked_by = NULL
             WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
            CONTINUE;
        END IF;
        IF t_id IS DISTINCT FROM job.bot_tenant_id THEN
            SELECT bt.id, bt.slug, bt.whatsapp_phone_number_id, bt.whatsapp_access_token, bt.ai_api_key,
                   bt.ai_base_url, bt.ai_model, s.transcription_model, bt.whatsapp_business_account_id,
                   s.embedding_model
              INTO t
              FROM alphadome.bot_tenants bt JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = bt.id
             WHERE bt.id = job.bot_tenant_id;
            t_id := job.bot_tenant_id;
            send_context := NULL;
        END IF;
        -- A credential is decrypted once per tenant and claim; the jobs it serves are audited
        -- together once the claim is made (one row per tenant, credential and kind).
        token := tokens ->> job.bot_tenant_id::text;
        uses := '{}';
        IF job.kind IN ('reply.send', 'campaign.send') AND token IS NOT NULL THEN
            -- The common case, a send of a tenant whose token this claim holds: nothing can fail,
            -- and its context is the tenant's, built once. (Only sends: a payment job here once
            -- got the token instead of its M-Pesa context.)
            uses := ARRAY['whatsapp_access_token'];
            IF send_context IS NULL THEN
                send_context := jsonb_build_object(
                    'whatsapp', jsonb_build_object('phone_number_id', t.whatsapp_phone_number_id, 'access_token', token));
            END IF;
            claimed := send_context;
        ELSE
        -- One job's broken context must not stop the queue: that job goes to the dead letters
        -- with the reason, the others go out. A credential that does not decrypt pauses its
        -- tenant instead (a key or decryption failure: the key file, not the job).
        BEGIN
            -- The LLM key, for a job that calls the LLM: a reply or a transcription when the
            -- tenant has a key, an embedding when there are texts to embed.
            ai_key := NULL;
            IF job.kind = 'faq.embed' THEN
                claimed := jsonb_build_object('embed', alphadome._faq_embed_context(t.id));
            END IF;
            -- In a variable: PL/pgSQL ends an IF's condition at its first THEN, so this CASE
            -- written in the IF fails, and only once it runs (each job then a dead letter).
            calls_llm := CASE job.kind WHEN 'reply.generate' THEN t.ai_api_key IS NOT NULL
                                       WHEN 'media.transcribe' THEN t.ai_api_key IS NOT NULL
                                       WHEN 'faq.embed' THEN jsonb_array_length(claimed -> 'embed' -> 'texts') > 0
                                       ELSE false END;
            IF calls_llm THEN
                ai_key := ai_keys ->> job.bot_tenant_id::text;
                IF ai_key IS NULL THEN
                    ai_key := alphadome._decrypt_credential(t.id, 'ai_api_key', t.ai_api_key);
                    ai_keys := ai_keys || jsonb_build_object(job.bot_tenant_id::text, ai_key);
                END IF;
                uses := uses || 'ai_api_key'::text;
            END IF;
            IF job.kind IN ('reply.generate', 'media.transcribe') THEN
                claimed := jsonb_build_object(
                    'llm', jsonb_build_object('base_url', t.ai_base_url, 'api_key', ai_key)
                           || CASE job.kind
                                  WHEN 'reply.generate' THEN jsonb_build_object('request',
                                      alphadome.assemble_prompt(t.id, job.payload ->> 'customer', job.payload ->> 'text'))
                                  -- Switched off since the voice note came: heard with the default.
                                  ELSE jsonb_build_object('model', coalesce(t.transcription_model, 'whisper-1'))
                              END
                           -- Semantic FAQ matching (semantic.sql): only with a key, never for a photo.
                           || CASE WHEN job.kind = 'reply.generate' AND t.embedding_model IS NOT NULL AND ai_key IS NOT NULL
                                        AND NOT job.payload ? 'media' AND coalesce(btrim(job.payload ->> 'text'), '') <> ''
                                   THEN jsonb_build_object('semantic', jsonb_build_object(
                                            'model', t.embedding_model, 'text', job.payload ->> 'text'))
                                   ELSE '{}' END);
                IF job.payload ? 'media' THEN
                    IF token IS NULL THEN
                        token := alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token);
                        tokens := tokens || jsonb_build_object(job.bot_tenant_id::text, token);
                    END IF;
                    uses := uses || 'whatsapp_access_token'::text;
                    claimed := claimed || jsonb_build_object(
                        'whatsapp', jsonb_build_object('phone_number_id', t.whatsapp_phone_number_id, 'access_token', token));
                END IF;
            ELSIF job.kind = 'faq.embed' THEN
                -- The texts to embed (above); the key was decrypted only when there are some.
                claimed := claimed || jsonb_build_object('llm', jsonb_build_object('base_url', t.ai_base_url, 'api_key', ai_key));
            ELSIF job.kind = 'alert.send' THEN
                claimed := alphadome._alert_context(job.bot_tenant_id, job.id, job.payload);
            ELSIF job.kind LIKE 'payment.%' THEN
                claimed := alphadome._payment_context(job.bot_tenant_id, job.id, job.kind, job.payload);
            ELSE
                IF token IS NULL THEN
                    token := alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token);
                    tokens := tokens || jsonb_build_object(job.bot_tenant_id::text, token);
                END IF;
                uses := ARRAY['whatsapp_access_token'];
                claimed := jsonb_build_object(
                    'whatsapp', jsonb_build_object('phone_number_id', t.whatsapp_phone_number_id, 'access_token', token)
                                || CASE WHEN job.kind IN ('templates.sync', 'templates.submit')
                                        THEN jsonb_build_object('business_account_id', t.whatsapp_business_account_id)
                                        ELSE '{}' END);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            IF alphadome._is_key_failure(SQLSTATE) THEN
                UPDATE alphadome.outbox o
                   SET status = 'queued', attempts = o.attempts - 1, lease_until = NULL, locked_by = NULL,
                       last_error = jsonb_build_object('class', 'master_key', 'sqlstate', SQLSTATE, 'message', SQLERRM)
                 WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
                IF job.kind <> 'alert.send' THEN
                    paused_now := paused_now || job.bot_tenant_id;
                END IF;
                PERFORM alphadome._pause_tenant(job.bot_tenant_id, SQLSTATE, SQLERRM);
                CONTINUE;
            END IF;
            UPDATE alphadome.outbox o
               SET status = 'dead', lease_until = NULL,
                   last_error = jsonb_build_object('class', 'context', 'sqlstate', SQLSTATE, 'message', SQLERRM)
             WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
            -- A push that cannot be made fails its payment; a query's payment stays pending (its
            -- callback may still come).
            IF job.kind = 'payment.stk_push' THEN
                PERFORM alphadome._payment_job_failed(job.bot_tenant_id, job.payload, jsonb_build_object('message', SQLERRM));
            END IF;
            CONTINUE;
        END;
        END IF;
        audit_tenants := audit_tenants || array_fill(job.bot_tenant_id, ARRAY[cardinality(uses)]);
        audit_credentials := audit_credentials || uses;
        audit_kinds := audit_kinds || array_fill(job.kind::text, ARRAY[cardinality(uses)]);
        audit_jobs := audit_jobs || array_fill(job.id, ARRAY[cardinality(uses)]);
        IF job.bot_tenant_id = ANY (was_paused) AND job.kind <> 'alert.send' THEN
            DELETE FROM alphadome.tenant_pauses p WHERE p.bot_tenant_id = job.bot_tenant_id;
            was_paused := array_remove(was_paused, job.bot_tenant_id);
        END IF;
        RETURN NEXT claimed || jsonb_build_object(
            'id', job.id, 'tenant_id', t.id, 'tenant', t.slug, 'kind', job.kind, 'attempt', job.attempts,
            'max_attempts', job.max_attempts, 'payload', job.payload);
    END LOOP;
    IF cardinality(audit_jobs) > 0 THEN
        PERFORM alphadome._audit_credential_uses(audit_tenants, audit_credentials, audit_kinds, audit_jobs);
    END IF;
END
$$;

-- What an alert.send job needs: the alert, and its channels in the order to try them. WhatsApp
-- only while the tenant's token can be used (not refused by Meta, not expired) and there is an
-- escalation phone: free-form text when that phone wrote to the tenant's number in the last 24
-- hours (Meta delivers nothing else outside that window), else the tenant's approved template
-- when it has one. Then email to the owner and the operator (the relay sends those it is
-- configured for). The token is decrypted, and audited, only when a WhatsApp channel is listed.
-- An alert.send queued by 0.1.0 (no alert row) goes by the same channels, its text from the job.
CREATE OR REPLACE FUNCTION alphadome._alert_context(tenant_id uuid, job_id bigint, payload jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    t record;
    a record;
    usable boolean;
    window_open boolean;
    channels text[] := '{}';
    context jsonb;
BEGIN
    SELECT bt.id, bt.slug, bt.client_name, bt.client_email, bt.whatsapp_phone_number_id, bt.whatsapp_access_token,
           bt.credential_status = 'ok' AND coalesce(bt.token_expires_at > now(), true)
               AND NOT EXISTS (SELECT FROM alphadome.tenant_pauses p WHERE p.bot_tenant_id = bt.id) AS token_usable,
           s.escalation_phone, s.alert_template_name, s.alert_template_language
      INTO t
      FROM alphadome.bot_tenants bt JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = bt.id
     WHERE bt.id = _alert_context.tenant_id;
    SELECT al.id, al.kind, al.text, al.conversation_id INTO a FROM alphadome.alerts al
     WHERE al.bot_tenant_id = _alert_context.tenant_id AND al.id = (_alert_context.payload ->> 'alert_id')::bigint;
    IF a.id IS NULL THEN
        SELECT NULL::bigint AS id, 'handoff' AS kind, _alert_context.payload ->> 'text' AS text,
               NULL::bigint AS conversation_id INTO a;
    END IF;
    usable := t.token_usable AND t.escalation_phone IS NOT NULL;
    window_open := EXISTS (SELECT FROM alphadome.conversations c
                            WHERE c.bot_tenant_id = _alert_context.tenant_id AND c.customer_key = t.escalation_phone
                              AND c.last_inbound_at > now() - interval '24 hours');
    IF usable AND window_open THEN
        channels := array_append(channels, 'whatsapp_text');
    END IF;
    IF usable AND t.alert_template_name IS NOT NULL THEN
        channels := array_append(channels, 'whatsapp_template');
    END IF;
    channels := channels || ARRAY['email', 'operator'];
    context := jsonb_build_object('alert', jsonb_strip_nulls(jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'text', a.text, 'tenant_name', t.client_name, 'conversation_id', a.conversation_id,
        'to', t.escalation_phone, 'email', t.client_email, 'channels', to_jsonb(channels),
        'template', CASE WHEN t.alert_template_name IS NOT NULL THEN jsonb_build_object(
                        'name', t.alert_template_name, 'language', t.alert_template_language) END)));
    IF channels && ARRAY['whatsapp_text', 'whatsapp_template'] THEN
        PERFORM alphadome._audit_credential_access(t.id, 'whatsapp_access_token', 'alert.send', _alert_context.job_id);
        context := context || jsonb_build_object('whatsapp', jsonb_build_object(
            'phone_number_id', t.whatsapp_phone_number_id,
            'access_token', alphadome._decrypt_credential(t.id, 'whatsapp_access_token', t.whatsapp_access_token)));
    END IF;
    RETURN context;
END
$$;

-- Where an alert sent by these channels went, for the owner to read: the escalation phone for a
-- WhatsApp channel, the shop's email for email (the operator's channel is the relay's own).
CREATE OR REPLACE FUNCTION alphadome._alert_sent_to(tenant_id uuid, channel text) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_remove(ARRAY[
               CASE WHEN _alert_sent_to.channel LIKE 'whatsapp%' THEN '+' || s.escalation_phone END,
               CASE WHEN _alert_sent_to.channel ~ '(^|\+)email' THEN t.client_email END], NULL)
      FROM alphadome.bot_tenants t JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = t.id
     WHERE t.id = _alert_sent_to.tenant_id
$$;

-- Why a job cannot be completed or failed: its SQLSTATE and message, NULL when it is running
-- (no such job: P0002; finished or dead: 55000). One wording for _running_job and complete_jobs.
CREATE OR REPLACE FUNCTION alphadome._not_running(job_id bigint, status alphadome.job_status) RETURNS text[]
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN status IS NULL THEN ARRAY['P0002', 'no job with id ' || coalesce(job_id::text, '<NULL>')]
                WHEN status <> 'running' THEN ARRAY['55000', 'job ' || job_id || ' is ' || status
                     || ', not running: its lease may have expired and another worker taken it'] END;

-- The running job, locked; a clear error when it is not running (finished, or never was).
CREATE OR REPLACE FUNCTION alphadome._running_job(job_id bigint) RETURNS alphadome.outbox
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job alphadome.outbox;
    why text[];
BEGIN
    SELECT * INTO job FROM alphadome.outbox o WHERE o.id = _running_job.job_id FOR UPDATE;
    why := alphadome._not_running(_running_job.job_id, job.status);
    IF why IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = why[1], MESSAGE = why[2];
    END IF;
    RETURN job;
END
$$;

-- The conversations of these recipients (tenant and customer key), the n-th for the n-th pair:
-- known[n] when given, else made if new (touched if not), in one statement, each pair once and
-- in key order (batches that share customers lock them in the same order).
CREATE OR REPLACE FUNCTION alphadome._conversations_of(tenants uuid[], recipients text[], known bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    ids bigint[];
BEGIN
    WITH wanted AS (
        SELECT DISTINCT x.tenant, x.recipient
          FROM unnest(tenants, recipients, known) x (tenant, recipient, conversation)
         WHERE x.conversation IS NULL
         ORDER BY x.tenant, x.recipient
    ), made AS (
        INSERT INTO alphadome.conversations AS cv (bot_tenant_id, customer_key, wa_id)
        SELECT w.tenant, w.recipient, CASE WHEN w.recipient ~ '^[0-9]+$' THEN w.recipient END FROM wanted w
        ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE SET updated_at = now()
        RETURNING cv.bot_tenant_id, cv.customer_key, cv.id
    )
    SELECT array_agg(coalesce(x.conversation, m.id) ORDER BY x.n) INTO ids
      FROM unnest(tenants, recipients, known) WITH ORDINALITY x (tenant, recipient, conversation, n)
      LEFT JOIN made m ON m.bot_tenant_id = x.tenant AND m.customer_key IS NOT DISTINCT FROM x.recipient;
    RETURN ids;
END
$$;

-- The outbound messages of sends whose conversations are known, one row per element of the
-- arrays, in one statement; once per wamid (a status webhook may have logged the send already:
-- _sent_by_status).
CREATE OR REPLACE FUNCTION alphadome._insert_outbound(tenants uuid[], conversations bigint[], jobs alphadome.outbox[],
                                                     bodies text[], wamids text[], statuses text[], errors jsonb[])
    RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, message_type, body, status, error,
                                    payload, sent_by, sent_by_account)
    SELECT tenants[i], conversations[i], 'outbound', wamids[i],
           CASE WHEN (jobs[i]).payload ? 'template' THEN 'template' ELSE 'text' END, bodies[i], statuses[i], errors[i],
           jsonb_build_object('job_id', (jobs[i]).id, 'kind', (jobs[i]).kind),
           coalesce((jobs[i]).payload ->> 'sent_by', 'bot'), ((jobs[i]).payload ->> 'account')::uuid
      FROM generate_subscripts(tenants, 1) i
    ON CONFLICT (bot_tenant_id, wamid) DO NOTHING;
END
$$;

-- Logs an outbound WhatsApp message (a sent reply or alert, or a failed reply) in its
-- conversation: an alert in the escalation phone's.
CREATE OR REPLACE FUNCTION alphadome._log_outbound(job alphadome.outbox, wamid text, status text, error jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    conversation_id bigint;
    recipient text := coalesce(job.payload ->> 'to', job.payload ->> 'recipient');
    body text := job.payload ->> 'text';
BEGIN
    IF job.kind IN ('reply.send', 'campaign.send') AND job.payload ? 'conversation_id' THEN
        conversation_id := (job.payload ->> 'conversation_id')::bigint;
    ELSIF job.kind = 'reply.send' THEN
        SELECT m.conversation_id INTO conversation_id FROM alphadome.messages m
         WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = (job.payload ->> 'inbound_message_id')::bigint;
    ELSIF job.payload ? 'alert_id' THEN
        SELECT s.escalation_phone, a.text INTO recipient, body
          FROM alphadome.alerts a JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
    END IF;
    IF conversation_id IS NULL THEN
        conversation_id := (alphadome._conversations_of(ARRAY[job.bot_tenant_id], ARRAY[recipient], ARRAY[NULL::bigint]))[1];
    END IF;
    PERFORM alphadome._insert_outbound(ARRAY[job.bot_tenant_id], ARRAY[conversation_id], ARRAY[job], ARRAY[body],
                                       ARRAY[wamid], ARRAY[status], ARRAY[error]);
END
$$;

-- A status webhook that names a send job (biz_opaque_callback_data "job:<id>", which the relay
-- puts on every send) proves the send happened: the job is done even if its relay died before
-- reporting it, and it is never sent again. Nothing for a job done already. Returns whether it
-- completed the job.
CREATE OR REPLACE FUNCTION alphadome._sent_by_status(tenant_id uuid, job_id bigint, wamid text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job alphadome.outbox;
BEGIN
    UPDATE alphadome.outbox o
       SET status = 'done', lease_until = NULL,
           result = jsonb_build_object('wamid', _sent_by_status.wamid, 'status', 'sent', 'by', 'status_webhook')
     WHERE o.id = _sent_by_status.job_id AND o.bot_tenant_id = _sent_by_status.tenant_id
       AND o.status IN ('queued', 'running') AND o.kind IN ('reply.send', 'alert.send')
    RETURNING o.* INTO job;
    IF job.id IS NULL THEN
        RETURN false;
    END IF;
    IF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
        UPDATE alphadome.alerts a SET status = 'sent', sent_at = now(), attempts = a.attempts + 1,
               channel = coalesce(a.channel, 'whatsapp_text'),
               sent_to = coalesce(a.sent_to, alphadome._alert_sent_to(a.bot_tenant_id, coalesce(a.channel, 'whatsapp_text')))
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
    END IF;
    PERFORM alphadome._log_outbound(job, _sent_by_status.wamid, 'sent', NULL);
    RETURN true;
END
$$;

-- Queues the reply.send that answers a reply.generate job's message with this text; no text
-- (an empty answer, a refusal, a filter, an LLM that failed for good) sends the tenant's
-- fallback message instead.
CREATE OR REPLACE FUNCTION alphadome._send_answer(job alphadome.outbox, answer text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    text_to_send text := left(btrim(coalesce(answer, '')), 4096);
BEGIN
    IF text_to_send = '' THEN
        text_to_send := (SELECT s.fallback_message FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = job.bot_tenant_id);
    END IF;
    PERFORM alphadome._enqueue(job.bot_tenant_id, 'reply.send',
                (job.payload - 'text' - 'media') || jsonb_build_object('text', text_to_send, 'generated', answer IS NOT NULL));
    PERFORM alphadome._wake_worker();
END
$$;

-- What the relay learnt of a job's media (its size, whether its sha256 matched the webhook's,
-- or why it could not be used), kept with the inbound message.
CREATE OR REPLACE FUNCTION alphadome._note_media(job alphadome.outbox, facts jsonb) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.messages m
       SET media = coalesce(m.media, '{}'::jsonb) || coalesce(_note_media.facts, '{}'::jsonb)
     WHERE m.bot_tenant_id = (_note_media.job).bot_tenant_id
       AND m.id = ((_note_media.job).payload ->> 'inbound_message_id')::bigint
       AND jsonb_typeof(_note_media.facts) = 'object';
END;

-- A voice note's transcript: kept with its message, then decided like a typed question
-- (_plan_transcript, src/ingest/transcript.rs) and the plan carried out: the reply queued (a
-- wish to buy answered by selling.sql's _sell), the alert raised, an opt-out or opt-in recorded.
-- The reply needs no new place in the hour's budget: the voice note took one when it came.
CREATE OR REPLACE FUNCTION alphadome._answer_transcript(job alphadome.outbox, transcript text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    message_id bigint := (job.payload ->> 'inbound_message_id')::bigint;
    heard text := left(btrim(coalesce(transcript, '')), 4096);
    plan jsonb;
    alert jsonb;
BEGIN
    plan := alphadome._plan_transcript(job.bot_tenant_id, message_id, heard);
    UPDATE alphadome.messages m SET transcript = heard, decision = plan ->> 'decision'
     WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id;
    IF jsonb_typeof(plan -> 'reply') = 'object' THEN
        PERFORM alphadome._enqueue(job.bot_tenant_id, plan -> 'reply' ->> 'kind',
                    (job.payload - 'text' - 'media') || jsonb_build_object('text', plan -> 'reply' ->> 'text'));
        PERFORM alphadome._wake_worker();
    END IF;
    IF plan ->> 'decision' = 'payment' THEN
        -- He wants to buy: the list, or the order and its buttons (selling.sql), as if typed.
        PERFORM alphadome._sell(job.bot_tenant_id, message_id);
        PERFORM alphadome._wake_worker();
    END IF;
    IF plan ->> 'decision' IN ('product', 'payment') THEN
        PERFORM alphadome._label_interest(job.bot_tenant_id, message_id);
    END IF;
    alert := plan -> 'alert';
    IF jsonb_typeof(alert) = 'object' THEN
        PERFORM alphadome._alert(job.bot_tenant_id, alert ->> 'kind', alert ->> 'text', alert ->> 'key',
                                 coalesce(to_timestamp((alert ->> 'due')::float8), now()),
                                 (SELECT m.conversation_id FROM alphadome.messages m
                                   WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id));
    END IF;
    IF plan ->> 'decision' IN ('opt_out', 'opt_in') THEN
        UPDATE alphadome.conversations c
           SET opted_out_at = CASE WHEN plan ->> 'decision' = 'opt_out' THEN now() END,
               marketing_withdrawn_at = CASE WHEN plan ->> 'decision' = 'opt_out' THEN now() ELSE c.marketing_withdrawn_at END,
               waiting_since = CASE WHEN plan ->> 'decision' = 'opt_out' THEN NULL ELSE c.waiting_since END,
               reminded_at = CASE WHEN plan ->> 'decision' = 'opt_out' THEN NULL ELSE c.reminded_at END
          FROM alphadome.messages m
         WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id
           AND c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id;
    ELSIF plan ->> 'decision' IN ('escalated', 'after_hours') THEN
        -- Asked for a person: the customer waits, and the bot is silent for him (inbox.sql).
        UPDATE alphadome.conversations c
           SET waiting_since = coalesce(c.waiting_since, now()), reminded_at = NULL, resolved_at = NULL
          FROM alphadome.messages m
         WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = message_id
           AND c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id;
    END IF;
END
$$;

-- What a job's result does once the job is done: reply.generate {"content": "...", "media"?: {...}}
-- queues the reply.send of that text; media.transcribe {"transcript": "...", "media": {...}}
-- answers the transcript (_answer_transcript); reply.send {"wamid": "...", "status": "sent" | "simulated"} logs the
-- outbound message (campaign.send: and marks its recipient sent); alert.send {"channel": "whatsapp_text" | "whatsapp_template" | "email" |
-- "operator" | "email+operator", "wamid"?} marks its alert sent by that channel (a WhatsApp one
-- is logged like a reply). A reply.generate with {"semantic": {"answered": true, ...}} was answered
-- from the FAQ by its meaning (_semantic_answered); faq.embed {"model", "vectors"} stores the
-- FAQ's embeddings (_store_faq_embeddings; semantic.sql).
CREATE OR REPLACE FUNCTION alphadome._job_done(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF job.kind IN ('reply.generate', 'media.transcribe') THEN
        PERFORM alphadome._note_media(job, _job_done.result -> 'media');
    END IF;
    IF job.kind = 'reply.generate' AND (_job_done.result -> 'semantic' ->> 'answered')::boolean
       AND coalesce(btrim(_job_done.result ->> 'content'), '') <> '' THEN
        PERFORM alphadome._semantic_answered(job, _job_done.result);
    ELSIF job.kind = 'reply.generate' THEN
        PERFORM alphadome._send_answer(job, coalesce(_job_done.result ->> 'content', ''));
    ELSIF job.kind = 'faq.embed' THEN
        PERFORM alphadome._store_faq_embeddings(job, _job_done.result);
    ELSIF job.kind = 'media.transcribe' THEN
        PERFORM alphadome._answer_transcript(job, _job_done.result ->> 'transcript');
    ELSIF job.kind = 'templates.sync' THEN
        PERFORM alphadome._store_templates(job, _job_done.result);
    ELSIF job.kind LIKE 'payment.%' THEN
        PERFORM alphadome._payment_result(job.bot_tenant_id, job.kind, job.payload, _job_done.result);
    ELSIF job.kind = 'campaign.send' THEN
        PERFORM alphadome._campaign_sent(job, _job_done.result);
    ELSIF job.kind = 'templates.submit' THEN
        PERFORM alphadome._template_submitted(job, _job_done.result);
    ELSIF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
        UPDATE alphadome.alerts a
           SET status = CASE WHEN _job_done.result ->> 'status' = 'simulated' THEN 'simulated' ELSE 'sent' END,
               sent_at = now(), attempts = a.attempts + 1,
               channel = coalesce(_job_done.result ->> 'channel', 'whatsapp_text'),
               sent_to = alphadome._alert_sent_to(a.bot_tenant_id, coalesce(_job_done.result ->> 'channel', 'whatsapp_text'))
         WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
        IF _job_done.result ->> 'channel' LIKE 'whatsapp%' OR _job_done.result ? 'wamid' THEN
            PERFORM alphadome._log_outbound(job, _job_done.result ->> 'wamid',
                                            coalesce(_job_done.result ->> 'status', 'sent'), NULL);
        END IF;
    ELSE
        PERFORM alphadome._log_outbound(job, _job_done.result ->> 'wamid',
                                        coalesce(_job_done.result ->> 'status', 'sent'), NULL);
    END IF;
END
$$;

-- Finishes a batch of running jobs, the n-th with the n-th result (what _job_done says each
-- result does), in one statement: the relay commits the completions that arrive together this
-- way. One row per element, in their order: error_code and error NULL when the job is done (or
-- its status webhook had completed it with the same wamid: the same send reported twice), else
-- the SQLSTATE and message complete_job raises for it (no such job; finished or dead: not
-- running), and the other jobs are done all the same. A job named twice is done by the first.
-- The jobs are locked in id order (batches that share jobs wait, never deadlock) and found by
-- their key alone: with the status in the WHERE clause the planner walked a partial index on
-- it (outbox_ready, in a relay flood, cost 0.3 ms a completion where the key costs 0.1).
-- Plain sends are logged together (_insert_outbound); other jobs one by one (_job_done).
CREATE OR REPLACE FUNCTION alphadome.complete_jobs(job_ids bigint[], results jsonb[])
    RETURNS TABLE (job_id bigint, error_code text, error text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- Its statements take arrays: planned for each call's arrays, each looked cheaper than the
    -- generic plan, so every call was planned again. Their generic plans walk the keys
    -- (outbox_pkey, messages_pkey) whatever the statistics.
    SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    jobs alphadome.outbox[];      -- the jobs named, locked, in id order
    locked bigint;                -- how many
    all_running boolean;
    codes text[];                 -- per element: NULL when it is done, else why not
    error_texts text[];
    running alphadome.outbox[];   -- the jobs to complete now, with their results
    running_ids bigint[];
    running_tenants uuid[];
    running_results jsonb[];
    sends integer[];              -- those of running that are plain sends with a known conversation
    tenants uuid[];
    conversations bigint[];
    recipients text[];
    send_jobs alphadome.outbox[];
    bodies text[];
    wamids text[];
    statuses text[];
    errors jsonb[];
BEGIN
    IF cardinality(complete_jobs.job_ids) IS DISTINCT FROM cardinality(complete_jobs.results) THEN
        RAISE EXCEPTION 'job_ids and results must be arrays of the same length (% and %)',
            cardinality(complete_jobs.job_ids), cardinality(complete_jobs.results) USING ERRCODE = '22023';
    END IF;
    SELECT coalesce(array_agg(l.o ORDER BY (l.o).id), '{}'), count(*), coalesce(bool_and((l.o).status = 'running'), true),
           array_agg((l.o).id ORDER BY (l.o).id), array_agg((l.o).bot_tenant_id ORDER BY (l.o).id),
           array_agg(complete_jobs.results[array_position(complete_jobs.job_ids, (l.o).id)] ORDER BY (l.o).id)
      INTO jobs, locked, all_running, running_ids, running_tenants, running_results
      FROM (SELECT o FROM alphadome.outbox o WHERE o.id = ANY (complete_jobs.job_ids) ORDER BY o.id FOR UPDATE) l;
    IF locked = coalesce(cardinality(complete_jobs.job_ids), 0) AND all_running THEN
        -- The common case: every job named once, and running.
        running := jobs;
    ELSE
        WITH named AS (
            SELECT w.n, w.id, w.result, j AS job, row_number() OVER (PARTITION BY w.id ORDER BY w.n) AS occurrence
              FROM unnest(complete_jobs.job_ids, complete_jobs.results) WITH ORDINALITY w (id, result, n)
              LEFT JOIN unnest(jobs) j ON j.id = w.id
        ), judged AS (
            SELECT d.*, (d.job).status = 'running' AND d.occurrence = 1 AS runs,
                   CASE WHEN (d.job).status = 'running' AND d.occurrence = 1 THEN NULL
                        -- Its status webhook came first (_sent_by_status): the same send, reported twice.
                        WHEN (d.job).status = 'done' AND (d.job).result ->> 'by' = 'status_webhook'
                             AND (d.job).result ->> 'wamid' = d.result ->> 'wamid' THEN NULL
                        -- Named again after its first completion in this batch: done by then.
                        ELSE alphadome._not_running(d.id, CASE WHEN (d.job).status = 'running' THEN 'done' ELSE (d.job).status END)
                   END AS why
              FROM named d
        )
        SELECT array_agg(j.why[1] ORDER BY j.n), array_agg(j.why[2] ORDER BY j.n),
               coalesce(array_agg(j.job ORDER BY j.n) FILTER (WHERE j.runs), '{}'),
               array_agg(j.id ORDER BY j.n) FILTER (WHERE j.runs),
               array_agg((j.job).bot_tenant_id ORDER BY j.n) FILTER (WHERE j.runs),
               array_agg(j.result ORDER BY j.n) FILTER (WHERE j.runs)
          INTO codes, error_texts, running, running_ids, running_tenants, running_results
          FROM judged j;
    END IF;

    IF cardinality(running) > 0 THEN
        -- By the key (= ANY: an index scan whatever the estimates; a join to the arrays was
        -- planned as a hash of a whole table once it was small).
        UPDATE alphadome.outbox o
           SET status = 'done', result = coalesce(running_results[array_position(running_ids, o.id)], '{}'), lease_until = NULL
         WHERE o.id = ANY (running_ids) AND o.bot_tenant_id = ANY (running_tenants);
        -- Plain sends, logged together: their conversation from the job, from the message they
        -- answer (a lookup by its key for each), else their recipient's (_conversations_of).
        SELECT array_agg(x.k ORDER BY x.k), array_agg(x.bot_tenant_id ORDER BY x.k), array_agg(x.conversation ORDER BY x.k),
               array_agg(x.recipient ORDER BY x.k),
               array_agg(running[x.k] ORDER BY x.k), array_agg(x.payload ->> 'text' ORDER BY x.k),
               array_agg(running_results[x.k] ->> 'wamid' ORDER BY x.k),
               array_agg(coalesce(running_results[x.k] ->> 'status', 'sent') ORDER BY x.k),
               array_agg(NULL::jsonb ORDER BY x.k)
          INTO sends, tenants, conversations, recipients, send_jobs, bodies, wamids, statuses, errors
          FROM (SELECT r.ordinality::integer AS k, r.bot_tenant_id, r.payload,
                       coalesce(r.payload ->> 'to', r.payload ->> 'recipient') AS recipient,
                       coalesce((r.payload ->> 'conversation_id')::bigint,
                                (SELECT m.conversation_id FROM alphadome.messages m
                                  WHERE m.bot_tenant_id = r.bot_tenant_id
                                    AND m.id = (r.payload ->> 'inbound_message_id')::bigint)) AS conversation
                  FROM unnest(running) WITH ORDINALITY r
                 WHERE r.kind = 'reply.send') x
         WHERE x.conversation IS NOT NULL OR x.recipient IS NOT NULL;
        IF array_position(conversations, NULL) IS NOT NULL THEN
            conversations := alphadome._conversations_of(tenants, recipients, conversations);
        END IF;
        IF sends IS NOT NULL THEN
            PERFORM alphadome._insert_outbound(tenants, conversations, send_jobs, bodies, wamids, statuses, errors);
        END IF;
        FOR k IN 1 .. cardinality(running) LOOP
            IF sends IS NULL OR NOT k = ANY (sends) THEN
                PERFORM alphadome._job_done(running[k], running_results[k]);
            END IF;
        END LOOP;
    END IF;

    RETURN QUERY SELECT complete_jobs.job_ids[n], codes[n], error_texts[n]
                   FROM generate_subscripts(complete_jobs.job_ids, 1) n ORDER BY n;
END
$$;

-- Finishes a running job with its result (_job_done says what each kind's result does): a
-- batch of one (complete_jobs), raising its error.
CREATE OR REPLACE FUNCTION alphadome.complete_job(job_id bigint, result jsonb DEFAULT '{}') RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    failed record;
BEGIN
    SELECT c.error_code, c.error INTO failed
      FROM alphadome.complete_jobs(ARRAY[complete_job.job_id], ARRAY[complete_job.result]) c;
    IF failed.error_code IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = failed.error_code, MESSAGE = failed.error;
    END IF;
END
$$;

-- Records a failed attempt. error: {"class": "auth" | "throttle" | "transient" | "permanent",
-- "code": <Meta or HTTP code>, "message": "..."}. retry_in_seconds NULL: a permanent failure
-- (dead letter); else the next attempt runs that many seconds from now, until max_attempts.
-- How long to wait is the caller's policy (the relay's backoff with jitter, or Retry-After).
-- class "auth" on a send, a media fetch or a templates.sync: Meta refused the tenant's token, so the tenant is
-- marked needs_reauth, its sends pause (this one waits, not counted), and an alert is recorded.
-- A reply.generate or media.transcribe that fails for good still answers: the fallback text,
-- and an alert; a media job's failure is kept with its message.
CREATE OR REPLACE FUNCTION alphadome.fail_job(job_id bigint, error jsonb, retry_in_seconds integer DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job alphadome.outbox := alphadome._running_job(job_id);
    client text;  -- the tenant's name, read only for an alert
BEGIN
    IF retry_in_seconds < 0 THEN
        RAISE EXCEPTION 'retry_in_seconds must not be negative' USING ERRCODE = '22023';
    END IF;
    IF fail_job.error ->> 'class' = 'auth' OR job.kind IN ('reply.generate', 'media.transcribe') THEN
        client := (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = job.bot_tenant_id);
    END IF;
    IF fail_job.error ->> 'class' = 'auth' AND (job.kind IN ('reply.send', 'alert.send', 'templates.sync', 'campaign.send',
                                                             'templates.submit')
                                                 OR job.payload ? 'media') THEN
        UPDATE alphadome.bot_tenants t SET credential_status = 'needs_reauth' WHERE t.id = job.bot_tenant_id;
        UPDATE alphadome.outbox o
           SET status = 'queued', attempts = o.attempts - 1, run_at = now(), lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        PERFORM alphadome._alert(job.bot_tenant_id, 'token_refused',
                    client || ': Meta refused the WhatsApp access token; the bot is paused until a new token is set.',
                    'needs_reauth:' || current_date);
        PERFORM alphadome._wake_worker();
    ELSIF job.kind = 'campaign.send' AND (retry_in_seconds IS NULL OR job.attempts >= job.max_attempts) THEN
        -- A customer Meta refused (131049 among them): recorded, not a dead letter (campaigns.sql).
        PERFORM alphadome._campaign_failed(job, fail_job.error);
    ELSIF retry_in_seconds IS NULL OR job.attempts >= job.max_attempts THEN
        UPDATE alphadome.outbox o SET status = 'dead', lease_until = NULL, last_error = fail_job.error
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
        IF job.payload ? 'media' THEN
            PERFORM alphadome._note_media(job, jsonb_build_object('error', fail_job.error));
            UPDATE alphadome.messages m SET decision = 'fallback'
             WHERE m.bot_tenant_id = job.bot_tenant_id AND m.id = (job.payload ->> 'inbound_message_id')::bigint;
        END IF;
        IF job.kind IN ('reply.generate', 'media.transcribe') THEN
            PERFORM alphadome._send_answer(job, NULL);
            PERFORM alphadome._alert(job.bot_tenant_id,
                        CASE WHEN job.payload ? 'media' THEN 'media_failed' ELSE 'llm_failed' END,
                        client || CASE WHEN job.kind = 'media.transcribe' THEN ': a voice note from customer +'
                                       WHEN job.payload ? 'media' THEN ': a photo from customer +'
                                       ELSE ': the AI could not answer customer +' END
                        || coalesce(job.payload ->> 'customer', '?')
                        || CASE WHEN job.payload ? 'media' THEN ' could not be read' ELSE '' END
                        || ' (' || coalesce(fail_job.error ->> 'message', 'error') || '); the fallback message was sent.');
        ELSIF job.kind = 'payment.stk_push' THEN
            PERFORM alphadome._payment_job_failed(job.bot_tenant_id, job.payload, fail_job.error);
        ELSIF job.kind = 'alert.send' AND job.payload ? 'alert_id' THEN
            UPDATE alphadome.alerts a SET status = 'failed', attempts = a.attempts + 1, last_error = fail_job.error
             WHERE a.bot_tenant_id = job.bot_tenant_id AND a.id = (job.payload ->> 'alert_id')::bigint;
        ELSIF job.kind = 'templates.submit' THEN
            PERFORM alphadome._template_refused(job, fail_job.error);
        -- A message that never went; a templates.sync names no one (its error stays on the job).
        ELSIF job.kind IN ('reply.send', 'alert.send') THEN
            PERFORM alphadome._log_outbound(job, NULL, 'failed', fail_job.error);
        END IF;
    ELSE
        UPDATE alphadome.alerts a SET attempts = a.attempts + 1, last_error = fail_job.error
         WHERE job.kind = 'alert.send' AND a.bot_tenant_id = job.bot_tenant_id
           AND a.id = (job.payload ->> 'alert_id')::bigint;
        UPDATE alphadome.outbox o
           SET status = 'queued', lease_until = NULL, last_error = fail_job.error,
               run_at = now() + make_interval(secs => retry_in_seconds)
         WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
    END IF;
END
$$;

-- Alerts for expiring_credentials(): at most one per tenant per day.
-- The relay calls it on a schedule; returns how many alerts it queued.
CREATE OR REPLACE FUNCTION alphadome.enqueue_credential_alerts(within interval DEFAULT '14 days') RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    queued integer := 0;
    tenant record;
BEGIN
    FOR tenant IN
        SELECT e.tenant_id, e.client_name, string_agg(e.reason, ', ' ORDER BY e.reason) AS reasons, min(e.token_expires_at) AS expires
          FROM alphadome.expiring_credentials(enqueue_credential_alerts.within) e
         GROUP BY e.tenant_id, e.client_name
    LOOP
        queued := queued + alphadome._alert(tenant.tenant_id, 'credentials',
                      tenant.client_name || ': the WhatsApp access token needs attention (' || tenant.reasons || ')'
                      || coalesce('; it expires ' || to_char(tenant.expires, 'YYYY-MM-DD'), '') || '.',
                      'credentials:' || current_date);
    END LOOP;
    IF queued > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
    RETURN queued;
END
$$;

-- Retention for the message path's operational rows, which otherwise grow forever: raw webhook
-- payloads and done jobs older than keep, and the reply counters of past hours (only the
-- current hour's count matters). Dead jobs stay until the operator requeues or archives them
-- (requeue_dead, archive_dead). Their usage is rolled up first (rollup_usage): a day's counts
-- outlive its rows. Conversations and messages are the tenants' records: they go only after
-- the tenant's keep_messages_days (_prune_messages, retention.sql). At most batch rows of each
-- per call, so a backlog goes in short transactions: call until every count is 0 (the relay or
-- pg_cron does, hourly). Each call is noted in chore_runs.
CREATE OR REPLACE FUNCTION alphadome.prune_history(keep interval DEFAULT '30 days', batch integer DEFAULT 10000)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    events bigint;
    jobs bigint;
    counters bigint;
    counts jsonb;
BEGIN
    IF keep IS NULL OR keep < interval '1 day' THEN
        RAISE EXCEPTION 'history is kept at least one day (keep = %)', keep USING ERRCODE = '22023';
    ELSIF batch IS NULL OR batch < 1 THEN
        RAISE EXCEPTION 'batch must be a positive number of rows' USING ERRCODE = '22023';
    END IF;
    -- keep is a day at least: the default rollup (to a day ago) has counted every row it deletes.
    PERFORM alphadome.rollup_usage();
    DELETE FROM alphadome.webhook_events e
     WHERE e.id IN (SELECT x.id FROM alphadome.webhook_events x
                     WHERE x.received_at < now() - prune_history.keep LIMIT prune_history.batch);
    GET DIAGNOSTICS events = ROW_COUNT;
    DELETE FROM alphadome.outbox o
     WHERE o.id IN (SELECT x.id FROM alphadome.outbox x
                     WHERE x.status = 'done' AND x.updated_at < now() - prune_history.keep
                     LIMIT prune_history.batch);
    GET DIAGNOSTICS jobs = ROW_COUNT;
    DELETE FROM alphadome.reply_counters r
     WHERE (r.bot_tenant_id, r.hour, r.shard) IN (
               SELECT x.bot_tenant_id, x.hour, x.shard FROM alphadome.reply_counters x
                WHERE x.hour < date_trunc('hour', now()) LIMIT prune_history.batch);
    GET DIAGNOSTICS counters = ROW_COUNT;
    counts := jsonb_build_object('webhook_events', events, 'outbox', jobs, 'reply_counters', counters)
              || alphadome._prune_messages(prune_history.batch);
    INSERT INTO alphadome.chore_runs AS c (chore, last_run_at, last_result) VALUES ('prune_history', now(), counts)
    ON CONFLICT (chore) DO UPDATE SET last_run_at = excluded.last_run_at, last_result = excluded.last_result;
    RETURN counts;
END
$$;


-- ---- dead letters (issue 23) ---------------------------------------------------------------------

-- Puts dead jobs back in the queue, as new: attempts from 0, due now (an alert's row queued
-- again too). One row per job asked for, with what was done. A reply.generate or
-- media.transcribe that died after its attempts was answered with the fallback message then:
-- it stays dead (a second answer would confuse the customer); one that died before its call
-- (class context or lease_expired) is requeued.
CREATE OR REPLACE FUNCTION alphadome._requeue_dead(ids bigint[])
    RETURNS TABLE (job_id bigint, tenant_id uuid, kind text, outcome text)
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    wanted bigint;
    job alphadome.outbox;
    requeued integer := 0;
BEGIN
    FOREACH wanted IN ARRAY ARRAY(SELECT DISTINCT x FROM unnest(ids) x WHERE x IS NOT NULL ORDER BY 1) LOOP
        SELECT * INTO job FROM alphadome.outbox o WHERE o.id = wanted FOR UPDATE;
        job_id := wanted;
        tenant_id := job.bot_tenant_id;
        kind := job.kind;
        IF job.id IS NULL THEN
            outcome := 'not found: archived, pruned or never queued';
        ELSIF job.status <> 'dead' THEN
            outcome := 'not dead: ' || job.status;
        ELSIF job.kind IN ('reply.generate', 'media.transcribe')
              AND coalesce(job.last_error ->> 'class', '') NOT IN ('context', 'lease_expired') THEN
            outcome := 'kept dead: the customer got the fallback message when it died';
        ELSE
            UPDATE alphadome.outbox o
               SET status = 'queued', attempts = 0, run_at = now(), lease_until = NULL, locked_by = NULL, result = NULL
             WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
            UPDATE alphadome.alerts a SET status = 'queued', last_error = NULL
             WHERE job.kind = 'alert.send' AND a.bot_tenant_id = job.bot_tenant_id
               AND a.id = (job.payload ->> 'alert_id')::bigint;
            outcome := 'requeued';
            requeued := requeued + 1;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF requeued > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
END
$$;

-- The operator's requeue of dead jobs by id.
CREATE OR REPLACE FUNCTION alphadome.requeue_dead(job_ids bigint[])
    RETURNS TABLE (job_id bigint, tenant_id uuid, kind text, outcome text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF requeue_dead.job_ids IS NULL THEN
        RAISE EXCEPTION 'job_ids is required: the ids of dead jobs (alphadome.outbox where status = ''dead'')'
            USING ERRCODE = '22004';
    END IF;
    RETURN QUERY SELECT * FROM alphadome._requeue_dead(requeue_dead.job_ids);
END
$$;

-- The operator's requeue of a tenant's jobs that died since a time (after a key-file mistake,
-- an outage of Meta or the LLM).
CREATE OR REPLACE FUNCTION alphadome.requeue_dead(tenant uuid, since timestamptz)
    RETURNS TABLE (job_id bigint, tenant_id uuid, kind text, outcome text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF requeue_dead.tenant IS NULL OR requeue_dead.since IS NULL THEN
        RAISE EXCEPTION 'tenant and since are required' USING ERRCODE = '22004';
    END IF;
    RETURN QUERY SELECT * FROM alphadome._requeue_dead(ARRAY(
        SELECT o.id FROM alphadome.outbox o
         WHERE o.bot_tenant_id = requeue_dead.tenant AND o.status = 'dead' AND o.updated_at >= requeue_dead.since));
END
$$;

-- Moves dead jobs out of the queue into dead_letters, with their reason: the operator has seen
-- them and will not requeue them. Returns how many moved (jobs not dead are left alone).
CREATE OR REPLACE FUNCTION alphadome.archive_dead(job_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved integer;
BEGIN
    IF archive_dead.job_ids IS NULL THEN
        RAISE EXCEPTION 'job_ids is required' USING ERRCODE = '22004';
    END IF;
    WITH gone AS (
        DELETE FROM alphadome.outbox o WHERE o.id = ANY (archive_dead.job_ids) AND o.status = 'dead'
        RETURNING o.*
    )
    INSERT INTO alphadome.dead_letters (bot_tenant_id, job_id, kind, payload, attempts, reason, created_at, died_at)
    SELECT g.bot_tenant_id, g.id, g.kind, g.payload, g.attempts, g.last_error, g.created_at, g.updated_at FROM gone g;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$;

-- ---- monitoring without decryption (issue 23) ------------------------------------------------------

-- Per tenant, for alphadome_monitor and the relay's /metrics: messages received in the last
-- five minutes, jobs queued and running, runnable now and the oldest of those by run_at (a job
-- waiting for its retry is not stuck), dead letters in all and by reason class, credential
-- status, pause and expiry, and when history was last pruned. No credential, message text or
-- customer number. Each figure is an index probe per tenant (outbox_ready, outbox_dead) or a
-- range of the recent messages (messages_time): its cost follows tenants and the queue
-- now, not the history.
CREATE OR REPLACE FUNCTION alphadome.metrics()
    RETURNS TABLE (tenant_id uuid, slug text, is_active boolean, credential_status text, paused text,
                   inbound_last_5m bigint, queued bigint, running bigint, runnable bigint,
                   oldest_runnable_seconds double precision, dead bigint, dead_by_reason jsonb,
                   credential_expires_in_days double precision, last_prune_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH recent AS (
        SELECT m.bot_tenant_id, count(*) AS n FROM alphadome.messages m
         WHERE m.created_at > now() - interval '5 minutes' AND m.direction = 'inbound'
         GROUP BY m.bot_tenant_id
    )
    SELECT t.id, t.slug, t.is_active, t.credential_status, p.reason,
           coalesce(r.n, 0), q.queued, q.running, q.runnable,
           extract(epoch FROM now() - q.oldest_runnable)::double precision,
           coalesce(d.total, 0), coalesce(d.by_reason, '{}'),
           extract(epoch FROM t.token_expires_at - now())::double precision / 86400,
           (SELECT c.last_run_at FROM alphadome.chore_runs c WHERE c.chore = 'prune_history')
      FROM alphadome.bot_tenants t
      LEFT JOIN alphadome.tenant_pauses p ON p.bot_tenant_id = t.id
      LEFT JOIN recent r ON r.bot_tenant_id = t.id
      CROSS JOIN LATERAL (
          SELECT count(*) FILTER (WHERE o.status = 'queued') AS queued,
                 count(*) FILTER (WHERE o.status = 'running') AS running,
                 count(*) FILTER (WHERE o.status = 'queued' AND o.run_at <= now()) AS runnable,
                 min(o.run_at) FILTER (WHERE o.status = 'queued' AND o.run_at <= now()) AS oldest_runnable
            FROM alphadome.outbox o
           WHERE o.bot_tenant_id = t.id AND o.status IN ('queued', 'running')) q
      LEFT JOIN LATERAL (
          SELECT sum(x.n) AS total, jsonb_object_agg(x.reason, x.n) AS by_reason
            FROM (SELECT coalesce(o.last_error ->> 'class', 'unknown') AS reason, count(*) AS n
                    FROM alphadome.outbox o
                   WHERE o.bot_tenant_id = t.id AND o.status = 'dead'
                   GROUP BY 1) x) d ON true
     ORDER BY t.slug;
$$;

-- Queue depth per tenant, for the operator: the figures of metrics() by index probes, and
-- done_last_hour from the finished jobs' index.
CREATE OR REPLACE VIEW alphadome.queue_status AS
SELECT t.id AS tenant_id, t.slug,
       q.queued, q.running, d.dead, f.done_last_hour,
       now() - q.oldest_runnable AS oldest_pending_age
  FROM alphadome.bot_tenants t
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE o.status = 'queued') AS queued,
              count(*) FILTER (WHERE o.status = 'running') AS running,
              min(o.run_at) FILTER (WHERE o.status = 'queued' AND o.run_at <= now()
                                       OR o.status = 'running') AS oldest_runnable
         FROM alphadome.outbox o
        WHERE o.bot_tenant_id = t.id AND o.status IN ('queued', 'running')) q
 CROSS JOIN LATERAL (
       SELECT count(*) AS dead FROM alphadome.outbox o WHERE o.bot_tenant_id = t.id AND o.status = 'dead') d
 CROSS JOIN LATERAL (
       SELECT count(*) AS done_last_hour FROM alphadome.outbox o
        WHERE o.bot_tenant_id = t.id AND o.status = 'done' AND o.updated_at > now() - interval '1 hour') f;

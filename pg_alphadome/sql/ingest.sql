-- Webhook ingestion: from Meta's payload to recorded messages and queued replies, in the
-- caller's one transaction (DESIGN.md section 1).

-- Wakes the relay's worker without a NOTIFY in every transaction: a NOTIFY makes commits
-- queue behind each other, so it is sent at most once per 10 ms. The clock is a sequence:
-- setval is not transactional and takes no row lock. A skipped wake-up is covered by the
-- worker's polling.
CREATE SEQUENCE alphadome._wakeup_clock;

CREATE FUNCTION alphadome._wake_worker() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
    IF now_ms - (SELECT c.last_value FROM alphadome._wakeup_clock c) >= 10 THEN
        PERFORM setval('alphadome._wakeup_clock', now_ms);
        PERFORM pg_notify('alphadome_outbox', '');
    END IF;
END
$$;

-- The readable text of an inbound message of any type (NULL for types without any).
CREATE FUNCTION alphadome._message_text(m jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE m ->> 'type'
        WHEN 'text' THEN m -> 'text' ->> 'body'
        WHEN 'button' THEN coalesce(m -> 'button' ->> 'text', m -> 'button' ->> 'payload')
        WHEN 'interactive' THEN coalesce(m -> 'interactive' -> 'button_reply' ->> 'title',
                                         m -> 'interactive' -> 'list_reply' ->> 'title',
                                         m -> 'interactive' -> 'nfm_reply' ->> 'body')
        WHEN 'reaction' THEN m -> 'reaction' ->> 'emoji'
        WHEN 'location' THEN nullif(concat_ws(', ', m -> 'location' ->> 'name', m -> 'location' ->> 'address'), '')
        WHEN 'order' THEN m -> 'order' ->> 'text'
        WHEN 'system' THEN m -> 'system' ->> 'body'
        ELSE m -> (m ->> 'type') ->> 'caption'
    END;

-- Order of outbound statuses: a late 'delivered' never overwrites 'read'; 'failed' is final.
CREATE FUNCTION alphadome._status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'played' THEN 4
                       WHEN 'failed' THEN 9 ELSE 0 END;

-- Queues a job; with a dedupe key, at most one per key and tenant (NULL when it existed).
-- Replies need no key: each comes from one newly recorded inbound message.
CREATE FUNCTION alphadome._enqueue(tenant_id uuid, kind text, payload jsonb, dedupe_key text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, dedupe_key)
    VALUES (_enqueue.tenant_id, _enqueue.kind, _enqueue.payload, _enqueue.dedupe_key)
    ON CONFLICT (bot_tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id;
END;

-- An alert to the tenant's escalation phone (none without one). dedupe_key bounds how often.
CREATE FUNCTION alphadome._alert(tenant_id uuid, text text, dedupe_key text DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    phone text := (SELECT s.escalation_phone FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = _alert.tenant_id);
BEGIN
    IF phone IS NULL THEN
        RETURN 0;
    END IF;
    RETURN (alphadome._enqueue(_alert.tenant_id, 'alert.send',
                               jsonb_build_object('to', phone, 'text', left(_alert.text, 4096)),
                               _alert.dedupe_key) IS NOT NULL)::integer;
END
$$;

-- Counts one bot reply in this session's shard of the tenant's current hour.
CREATE FUNCTION alphadome._count_reply(tenant_id uuid) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO alphadome.reply_counters AS r (bot_tenant_id, hour, shard, replies)
    VALUES (_count_reply.tenant_id, date_trunc('hour', now()), pg_backend_pid() % 16, 1)
    ON CONFLICT (bot_tenant_id, hour, shard) DO UPDATE SET replies = r.replies + 1;
END;

-- Runs DESIGN.md section 1's decision list (steps 3 to 9) for one recorded inbound message:
-- records the decision on the message and returns how many jobs it queued.
CREATE FUNCTION alphadome._decide(tenant_id uuid, message_id bigint) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    c record;
    m record;
    client text;
    is_text boolean;
    lowered text;
    replies_this_hour bigint;
    faq record;
    verdict text;
    jobs integer := 0;
    reply_to jsonb;
BEGIN
    SELECT NULL::text AS answer, NULL::real AS score INTO faq;
    SELECT * INTO s FROM alphadome.bot_control_settings x WHERE x.bot_tenant_id = _decide.tenant_id;
    SELECT * INTO m FROM alphadome.messages x WHERE x.bot_tenant_id = _decide.tenant_id AND x.id = _decide.message_id;
    SELECT * INTO c FROM alphadome.conversations x WHERE x.bot_tenant_id = _decide.tenant_id AND x.id = m.conversation_id;
    client := (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = _decide.tenant_id);
    is_text := m.message_type IN ('text', 'button', 'interactive') AND coalesce(btrim(m.body), '') <> '';
    lowered := lower(btrim(coalesce(m.body, '')));
    -- Who a reply goes to: the phone number when Meta gave one, else the business-scoped id.
    reply_to := jsonb_build_object('to', c.wa_id, 'recipient', c.bsuid, 'customer', c.customer_key,
                                   'context_wamid', m.wamid, 'inbound_message_id', m.id);

    -- 3. Opt-out and opt-in words: confirm once, then silence until opt-in.
    IF is_text AND EXISTS (SELECT FROM unnest(s.opt_out_keywords) k WHERE lower(btrim(k)) = lowered) THEN
        IF c.opted_out_at IS NULL THEN
            UPDATE alphadome.conversations x SET opted_out_at = now() WHERE x.bot_tenant_id = c.bot_tenant_id AND x.id = c.id;
            verdict := 'opt_out';
            jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.send', reply_to || jsonb_build_object('text',
                        'You will not get more messages from ' || client || '. Reply START to hear from us again.'),
                        NULL) IS NOT NULL)::integer;
        ELSE
            verdict := 'opted_out';
        END IF;
    ELSIF c.opted_out_at IS NOT NULL THEN
        IF is_text AND EXISTS (SELECT FROM unnest(s.opt_in_keywords) k WHERE lower(btrim(k)) = lowered) THEN
            UPDATE alphadome.conversations x SET opted_out_at = NULL WHERE x.bot_tenant_id = c.bot_tenant_id AND x.id = c.id;
            verdict := 'opt_in';
            jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.send', reply_to || jsonb_build_object('text',
                        'Welcome back to ' || client || '! How can we help you?')) IS NOT NULL)::integer;
        ELSE
            verdict := 'opted_out';
        END IF;
    -- 4. Bot off, or a person has taken the conversation over.
    ELSIF NOT s.is_bot_enabled THEN
        verdict := 'bot_disabled';
    ELSIF c.handoff_at IS NOT NULL THEN
        verdict := 'human_handoff';
    -- Reactions and system notices (a changed number) are logged, not answered.
    ELSIF m.message_type IN ('reaction', 'system') THEN
        verdict := 'recorded';
    END IF;
    IF verdict IS NOT NULL THEN
        UPDATE alphadome.messages x SET decision = verdict WHERE x.bot_tenant_id = m.bot_tenant_id AND x.id = m.id;
        IF verdict IN ('opt_out', 'opt_in') THEN
            PERFORM alphadome._count_reply(_decide.tenant_id);
        END IF;
        RETURN jobs;
    END IF;

    -- 5. The tenant's reply budget for this clock hour (reply_counters). Concurrent ingests
    --    of one tenant do not see each other's uncommitted counts, so they can pass it by at
    --    most their number; one alert per hour window.
    SELECT coalesce(sum(r.replies), 0) INTO replies_this_hour
      FROM alphadome.reply_counters r
     WHERE r.bot_tenant_id = _decide.tenant_id AND r.hour = date_trunc('hour', now());
    IF replies_this_hour >= s.max_messages_per_hour THEN
        verdict := 'rate_limited';
        jobs := alphadome._alert(_decide.tenant_id,
                    client || ': the bot reached its limit of ' || s.max_messages_per_hour
                    || ' replies an hour; customers are not being answered until the hour passes.',
                    'rate_limit:' || to_char(date_trunc('hour', now()), 'YYYY-MM-DD"T"HH24'));
    -- 6. The customer asks for a person.
    ELSIF is_text AND alphadome._has_keyword(m.body, s.handoff_keywords) THEN
        verdict := 'escalated';
        jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.send', reply_to || jsonb_build_object('text',
                    'A member of the ' || client || ' team will get back to you'
                    || coalesce(' shortly. You can also call +' || s.escalation_phone || '.', ' shortly.')),
                    NULL) IS NOT NULL)::integer
              + alphadome._alert(_decide.tenant_id,
                    client || ': customer +' || c.customer_key || ' asked for a person: ' || left(m.body, 500));
    ELSE
        -- 7. A confident FAQ or canned answer costs no LLM call.
        IF is_text THEN
            SELECT f.answer, f.score INTO faq FROM alphadome.match_faq(_decide.tenant_id, m.body, 1) f;
        END IF;
        IF is_text AND faq.score >= s.faq_confidence THEN
            verdict := 'faq';
            jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.send', reply_to || jsonb_build_object('text', faq.answer),
                        NULL) IS NOT NULL)::integer;
        -- 8. The LLM writes the answer; the prompt is assembled when the job is claimed.
        ELSIF is_text AND s.enable_ai_responses THEN
            verdict := 'llm';
            jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.generate', reply_to || jsonb_build_object('text', m.body),
                        NULL) IS NOT NULL)::integer;
        -- 9. Nothing matched and no AI (or not text: media, location, ...): the fallback text.
        ELSE
            verdict := 'fallback';
            jobs := (alphadome._enqueue(_decide.tenant_id, 'reply.send', reply_to || jsonb_build_object('text', s.fallback_message),
                        NULL) IS NOT NULL)::integer;
            IF is_text THEN
                jobs := jobs + alphadome._alert(_decide.tenant_id,
                            client || ': no answer for customer +' || c.customer_key || ': ' || left(m.body, 500));
            END IF;
        END IF;
    END IF;
    UPDATE alphadome.messages x SET decision = verdict WHERE x.bot_tenant_id = m.bot_tenant_id AND x.id = m.id;
    IF verdict IN ('escalated', 'faq', 'llm', 'fallback') THEN
        PERFORM alphadome._count_reply(_decide.tenant_id);
    END IF;
    RETURN jobs;
END
$$;

-- One webhook POST, in the caller's transaction: every change routed by its
-- metadata.phone_number_id; with route_tenant, changes for any other tenant are refused.
-- Returns counts: accepted, duplicates, statuses, ignored, refused, jobs, and the event id.
CREATE FUNCTION alphadome.ingest_webhook(payload jsonb, route_tenant uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event_id bigint;
    entry jsonb;
    change jsonb;
    value jsonb;
    m jsonb;
    st jsonb;
    contact jsonb;
    phone_number_id text;
    tenant uuid;
    tenant_active boolean;
    customer text;
    conversation_id bigint;
    message_id bigint;
    sent_at timestamptz;
    accepted integer := 0;
    duplicates integer := 0;
    statuses integer := 0;
    ignored integer := 0;
    refused integer := 0;
    jobs integer := 0;
    notes jsonb := '[]';
    result jsonb;
BEGIN
    IF jsonb_typeof(payload) IS DISTINCT FROM 'object' OR jsonb_typeof(payload -> 'entry') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'not a WhatsApp webhook: expected a JSON object with an "entry" array' USING ERRCODE = '22023';
    END IF;

    IF payload ->> 'object' IS DISTINCT FROM 'whatsapp_business_account' THEN
        ignored := 1;
        notes := notes || jsonb_build_object('ignored', 'object is not whatsapp_business_account');
    END IF;
    FOR entry IN SELECT e FROM jsonb_array_elements(payload -> 'entry') e WHERE ignored = 0 LOOP
        FOR change IN
            SELECT ch FROM jsonb_array_elements(CASE WHEN jsonb_typeof(entry -> 'changes') = 'array'
                                                     THEN entry -> 'changes' ELSE '[]' END) ch
        LOOP
            value := change -> 'value';
            phone_number_id := value -> 'metadata' ->> 'phone_number_id';
            IF change ->> 'field' IS DISTINCT FROM 'messages' THEN
                ignored := ignored + 1;
                notes := notes || jsonb_build_object('ignored', 'field ' || coalesce(change ->> 'field', '(none)'));
                CONTINUE;
            END IF;
            SELECT t.id, t.is_active INTO tenant, tenant_active
              FROM alphadome.bot_tenants t WHERE t.whatsapp_phone_number_id = phone_number_id;
            IF tenant IS NULL THEN
                ignored := ignored + 1;
                notes := notes || jsonb_build_object('unknown_phone_number_id', phone_number_id);
                CONTINUE;
            ELSIF route_tenant IS NOT NULL AND tenant <> route_tenant THEN
                refused := refused + 1;
                notes := notes || jsonb_build_object('refused_phone_number_id', phone_number_id);
                CONTINUE;
            ELSIF NOT tenant_active THEN
                ignored := ignored + 1;
                notes := notes || jsonb_build_object('inactive_tenant', tenant);
                CONTINUE;
            END IF;

            FOR m IN SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(value -> 'messages') = 'array'
                                                            THEN value -> 'messages' ELSE '[]' END) x
            LOOP
                -- The customer: phone (wa_id) when Meta sends it, else the business-scoped id,
                -- joined to the conversation that already knows that id.
                customer := coalesce(m ->> 'from',
                                     (SELECT cv.customer_key FROM alphadome.conversations cv
                                       WHERE cv.bot_tenant_id = tenant AND cv.bsuid = m ->> 'from_user_id'),
                                     m ->> 'from_user_id');
                IF customer IS NULL OR m ->> 'id' IS NULL THEN
                    ignored := ignored + 1;
                    notes := notes || jsonb_build_object('ignored', 'message without sender or id');
                    CONTINUE;
                END IF;
                SELECT ct INTO contact FROM jsonb_array_elements(CASE WHEN jsonb_typeof(value -> 'contacts') = 'array'
                                                                     THEN value -> 'contacts' ELSE '[]' END) ct
                 WHERE ct ->> 'wa_id' = m ->> 'from' OR ct ->> 'user_id' = m ->> 'from_user_id'
                 LIMIT 1;
                sent_at := CASE WHEN m ->> 'timestamp' ~ '^[0-9]{1,11}$'
                                THEN to_timestamp((m ->> 'timestamp')::bigint) ELSE now() END;
                INSERT INTO alphadome.conversations AS cv
                       (bot_tenant_id, customer_key, wa_id, bsuid, customer_name, last_inbound_at)
                VALUES (tenant, customer, m ->> 'from', coalesce(m ->> 'from_user_id', contact ->> 'user_id'),
                        contact -> 'profile' ->> 'name', sent_at)
                ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE
                   SET wa_id = coalesce(excluded.wa_id, cv.wa_id),
                       bsuid = coalesce(excluded.bsuid, cv.bsuid),
                       customer_name = coalesce(excluded.customer_name, cv.customer_name),
                       last_inbound_at = greatest(cv.last_inbound_at, excluded.last_inbound_at)
                RETURNING cv.id INTO conversation_id;

                message_id := NULL;
                INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, message_type, body, payload)
                VALUES (tenant, conversation_id, 'inbound', m ->> 'id', coalesce(m ->> 'type', 'unknown'),
                        alphadome._message_text(m), m)
                ON CONFLICT (bot_tenant_id, wamid) DO NOTHING
                RETURNING id INTO message_id;
                IF message_id IS NULL THEN
                    duplicates := duplicates + 1;
                    CONTINUE;
                END IF;
                accepted := accepted + 1;
                jobs := jobs + alphadome._decide(tenant, message_id);
            END LOOP;

            FOR st IN SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(value -> 'statuses') = 'array'
                                                             THEN value -> 'statuses' ELSE '[]' END) x
            LOOP
                UPDATE alphadome.messages x
                   SET status = st ->> 'status', error = coalesce(st -> 'errors', x.error)
                 WHERE x.bot_tenant_id = tenant AND x.wamid = st ->> 'id' AND x.direction = 'outbound'
                   AND alphadome._status_rank(st ->> 'status') > alphadome._status_rank(x.status);
                statuses := statuses + 1;
            END LOOP;

            IF value ? 'errors' THEN
                notes := notes || jsonb_build_object('errors', value -> 'errors', 'tenant', tenant);
            END IF;
        END LOOP;
    END LOOP;

    result := jsonb_build_object('accepted', accepted, 'duplicates', duplicates,
                                 'statuses', statuses, 'ignored', ignored, 'refused', refused, 'jobs', jobs);
    -- The raw payload is kept with what became of it, in one write.
    INSERT INTO alphadome.webhook_events (route_tenant_id, payload, outcome)
    VALUES (route_tenant, payload, result || jsonb_build_object('notes', notes))
    RETURNING id INTO event_id;
    result := result || jsonb_build_object('event_id', event_id);
    IF jobs > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
    RETURN result;
END
$$;

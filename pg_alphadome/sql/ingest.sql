-- Webhook ingestion: from Meta's payload to recorded messages and queued replies, in the
-- caller's one transaction (DESIGN.md section 1).
--
-- Helpers named alphadome._* are executable by their owner only and are called from SECURITY
-- DEFINER functions that fix search_path, so they carry no SET clause of their own: a SET
-- makes every call save and restore the setting, which ingest would pay several times per message.

-- Wakes the relay's worker without a NOTIFY in every transaction: a NOTIFY makes commits
-- queue behind each other, so it is sent at most once per 10 ms. The clock is a sequence:
-- setval is not transactional and takes no row lock. A skipped wake-up is covered by the
-- worker's polling.
CREATE SEQUENCE alphadome._wakeup_clock;

CREATE FUNCTION alphadome._wake_worker() RETURNS void
    LANGUAGE plpgsql VOLATILE
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
-- Only immutable operators (no concat_ws, which is stable), so the planner inlines it.
CREATE FUNCTION alphadome._message_text(m jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE m ->> 'type'
        WHEN 'text' THEN m -> 'text' ->> 'body'
        WHEN 'button' THEN coalesce(m -> 'button' ->> 'text', m -> 'button' ->> 'payload')
        WHEN 'interactive' THEN coalesce(m -> 'interactive' -> 'button_reply' ->> 'title',
                                         m -> 'interactive' -> 'list_reply' ->> 'title',
                                         m -> 'interactive' -> 'nfm_reply' ->> 'body')
        WHEN 'reaction' THEN m -> 'reaction' ->> 'emoji'
        WHEN 'location' THEN coalesce(m -> 'location' ->> 'name' || ', ' || (m -> 'location' ->> 'address'),
                                      m -> 'location' ->> 'name', m -> 'location' ->> 'address')
        WHEN 'order' THEN m -> 'order' ->> 'text'
        WHEN 'system' THEN m -> 'system' ->> 'body'
        ELSE m -> (m ->> 'type') ->> 'caption'
    END;

-- The value when it is a JSON array, else an empty one: Meta's optional arrays, walked safely.
CREATE FUNCTION alphadome._array(value jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN jsonb_typeof(value) = 'array' THEN value ELSE '[]' END;

-- Order of outbound statuses: a late 'delivered' never overwrites 'read'; 'failed' is final.
CREATE FUNCTION alphadome._status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'played' THEN 4
                       WHEN 'failed' THEN 9 ELSE 0 END;

-- Queues a job; with a dedupe key, at most one per key and tenant (NULL when it existed).
-- Replies need no key: each comes from one newly recorded inbound message.
CREATE FUNCTION alphadome._enqueue(tenant_id uuid, kind text, payload jsonb, dedupe_key text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    job_id bigint;
BEGIN
    INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, dedupe_key)
    VALUES (_enqueue.tenant_id, _enqueue.kind, _enqueue.payload, _enqueue.dedupe_key)
    ON CONFLICT (bot_tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id INTO job_id;
    RETURN job_id;
END
$$;

-- An alert to the tenant's escalation phone (none without one). dedupe_key bounds how often.
CREATE FUNCTION alphadome._alert(tenant_id uuid, text text, dedupe_key text DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE
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
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO alphadome.reply_counters AS r (bot_tenant_id, hour, shard, replies)
    VALUES (_count_reply.tenant_id, date_trunc('hour', now()), pg_backend_pid() % 16, 1)
    ON CONFLICT (bot_tenant_id, hour, shard) DO UPDATE SET replies = r.replies + 1;
END
$$;

-- What to do about one inbound message: DESIGN.md section 1's decision list, steps 3 to 9,
-- decided without doing anything, so that ingest records the message with its decision in one
-- write and acts only when the message is new. Reads the FAQ and the hourly count only.
--   verdict     opt_out | opt_in | opted_out | bot_disabled | human_handoff | rate_limited |
--               escalated | faq | llm | fallback | recorded
--   reply_kind  reply.send (reply_text is the answer) | reply.generate (the LLM answers) | NULL
--   alert_text  for the escalation phone, at most once per alert_key when that is set
CREATE FUNCTION alphadome._plan_reply(
    settings alphadome.bot_control_settings, client text, conversation alphadome.conversations,
    message_type text, body text,
    OUT verdict text, OUT reply_kind text, OUT reply_text text, OUT alert_text text, OUT alert_key text)
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    is_text boolean := message_type IN ('text', 'button', 'interactive') AND coalesce(btrim(body), '') <> '';
    lowered text := lower(btrim(coalesce(body, '')));
    faq record;
BEGIN
    -- 3. Opt-out and opt-in words: confirm once, then silence until opt-in.
    IF is_text AND EXISTS (SELECT FROM unnest(settings.opt_out_keywords) k WHERE lower(btrim(k)) = lowered) THEN
        IF conversation.opted_out_at IS NULL THEN
            verdict := 'opt_out';
            reply_kind := 'reply.send';
            reply_text := 'You will not get more messages from ' || client || '. Reply START to hear from us again.';
        ELSE
            verdict := 'opted_out';
        END IF;
        RETURN;
    END IF;
    IF conversation.opted_out_at IS NOT NULL THEN
        IF is_text AND EXISTS (SELECT FROM unnest(settings.opt_in_keywords) k WHERE lower(btrim(k)) = lowered) THEN
            verdict := 'opt_in';
            reply_kind := 'reply.send';
            reply_text := 'Welcome back to ' || client || '! How can we help you?';
        ELSE
            verdict := 'opted_out';
        END IF;
        RETURN;
    END IF;
    -- 4. Bot off, or a person has taken the conversation over.
    IF NOT settings.is_bot_enabled THEN
        verdict := 'bot_disabled';
        RETURN;
    ELSIF conversation.handoff_at IS NOT NULL THEN
        verdict := 'human_handoff';
        RETURN;
    END IF;
    -- Reactions and system notices (a changed number) are logged, not answered.
    IF message_type IN ('reaction', 'system') THEN
        verdict := 'recorded';
        RETURN;
    END IF;
    -- 5. The tenant's reply budget for this clock hour (reply_counters). Concurrent ingests
    --    of one tenant do not see each other's uncommitted counts, so they can pass it by at
    --    most their number; one alert per hour window.
    IF (SELECT coalesce(sum(r.replies), 0) FROM alphadome.reply_counters r
         WHERE r.bot_tenant_id = settings.bot_tenant_id AND r.hour = date_trunc('hour', now()))
       >= settings.max_messages_per_hour THEN
        verdict := 'rate_limited';
        alert_text := client || ': the bot reached its limit of ' || settings.max_messages_per_hour
                      || ' replies an hour; customers are not being answered until the hour passes.';
        alert_key := 'rate_limit:' || to_char(date_trunc('hour', now()), 'YYYY-MM-DD"T"HH24');
        RETURN;
    END IF;
    -- 6. The customer asks for a person.
    IF is_text AND alphadome._has_keyword(body, settings.handoff_keywords) THEN
        verdict := 'escalated';
        reply_kind := 'reply.send';
        reply_text := 'A member of the ' || client || ' team will get back to you'
                      || coalesce(' shortly. You can also call +' || settings.escalation_phone || '.', ' shortly.');
        alert_text := client || ': customer +' || conversation.customer_key || ' asked for a person: ' || left(body, 500);
        RETURN;
    END IF;
    -- 7. A confident FAQ or canned answer costs no LLM call.
    IF is_text THEN
        SELECT f.answer, f.score INTO faq FROM alphadome.match_faq(settings.bot_tenant_id, body, 1) f;
        IF faq.score >= settings.faq_confidence THEN
            verdict := 'faq';
            reply_kind := 'reply.send';
            reply_text := faq.answer;
            RETURN;
        END IF;
        -- 8. The LLM writes the answer; the prompt is assembled when the job is claimed.
        IF settings.enable_ai_responses THEN
            verdict := 'llm';
            reply_kind := 'reply.generate';
            reply_text := body;
            RETURN;
        END IF;
    END IF;
    -- 9. Nothing matched and no AI (or not text: media, location, ...): the fallback text.
    verdict := 'fallback';
    reply_kind := 'reply.send';
    reply_text := settings.fallback_message;
    IF is_text THEN
        alert_text := client || ': no answer for customer +' || conversation.customer_key || ': ' || left(body, 500);
    END IF;
END
$$;

-- Carries out a plan for a newly recorded message: the opt-out switch, the reply job, the
-- alert, the hourly count. Returns how many jobs it queued.
CREATE FUNCTION alphadome._carry_out(
    conversation alphadome.conversations, message_id bigint, wamid text,
    verdict text, reply_kind text, reply_text text, alert_text text, alert_key text) RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    tenant uuid := conversation.bot_tenant_id;
    jobs integer := 0;
BEGIN
    IF verdict IN ('opt_out', 'opt_in') THEN
        UPDATE alphadome.conversations c
           SET opted_out_at = CASE verdict WHEN 'opt_out' THEN now() END
         WHERE c.bot_tenant_id = tenant AND c.id = conversation.id;
    END IF;
    IF reply_kind IS NOT NULL THEN
        -- Who a reply goes to: the phone number when Meta gave one, else the business-scoped id.
        PERFORM alphadome._enqueue(tenant, reply_kind, jsonb_build_object(
            'to', conversation.wa_id, 'recipient', conversation.bsuid, 'customer', conversation.customer_key,
            'context_wamid', wamid, 'inbound_message_id', message_id, 'text', reply_text));
        PERFORM alphadome._count_reply(tenant);
        jobs := 1;
    END IF;
    IF alert_text IS NOT NULL THEN
        jobs := jobs + alphadome._alert(tenant, alert_text, alert_key);
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
    entries jsonb;
    changes jsonb;
    messages jsonb;
    statuses_in jsonb;
    value jsonb;
    m jsonb;
    st jsonb;
    contact jsonb;
    phone_number_id text;
    tenant uuid;
    tenant_active boolean;
    client text;
    settings alphadome.bot_control_settings;
    conversation alphadome.conversations;
    plan record;
    body text;
    customer text;
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
        entries := '[]';
    ELSE
        entries := payload -> 'entry';
    END IF;
    -- Arrays are walked by index: each FOR ... IN SELECT would open a portal, which costs more
    -- than the rest of a small webhook's work.
    FOR e IN 0 .. jsonb_array_length(entries) - 1 LOOP
        changes := alphadome._array(entries -> e -> 'changes');
        FOR c IN 0 .. jsonb_array_length(changes) - 1 LOOP
            value := changes -> c -> 'value';
            phone_number_id := value -> 'metadata' ->> 'phone_number_id';
            IF changes -> c ->> 'field' IS DISTINCT FROM 'messages' THEN
                ignored := ignored + 1;
                notes := notes || jsonb_build_object('ignored', 'field ' || coalesce(changes -> c ->> 'field', '(none)'));
                CONTINUE;
            END IF;
            SELECT t.id, t.is_active, t.client_name INTO tenant, tenant_active, client
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
            SELECT * INTO settings FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = tenant;

            messages := alphadome._array(value -> 'messages');
            FOR i IN 0 .. jsonb_array_length(messages) - 1 LOOP
                m := messages -> i;
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
                contact := jsonb_path_query_first(value, 'lax $.contacts[*] ? (@.wa_id == $from || @.user_id == $user)',
                                                  jsonb_build_object('from', m -> 'from', 'user', m -> 'from_user_id'));
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
                RETURNING cv.* INTO conversation;

                -- Decide first, then record the message with its decision; a duplicate (the
                -- unique wamid) records nothing and does nothing.
                body := alphadome._message_text(m);
                plan := alphadome._plan_reply(settings, client, conversation, m ->> 'type', body);
                message_id := NULL;
                INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, message_type, body, payload, decision)
                VALUES (tenant, conversation.id, 'inbound', m ->> 'id', coalesce(m ->> 'type', 'unknown'), body, m, plan.verdict)
                ON CONFLICT (bot_tenant_id, wamid) DO NOTHING
                RETURNING id INTO message_id;
                IF message_id IS NULL THEN
                    duplicates := duplicates + 1;
                    CONTINUE;
                END IF;
                accepted := accepted + 1;
                jobs := jobs + alphadome._carry_out(conversation, message_id, m ->> 'id', plan.verdict, plan.reply_kind,
                                                    plan.reply_text, plan.alert_text, plan.alert_key);
            END LOOP;

            statuses_in := alphadome._array(value -> 'statuses');
            FOR i IN 0 .. jsonb_array_length(statuses_in) - 1 LOOP
                st := statuses_in -> i;
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

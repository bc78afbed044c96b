-- A person answers (0.3.0): the shop's inbox. A customer who asks for a person waits
-- (conversations.waiting_since) and the bot stays silent for him until a person answers and gives
-- the conversation back, or until handoff_timeout; a person answers from the console
-- (send_human_reply, send_template) or from the shop's WhatsApp Business app (its echoes,
-- _coexistence). docs/design.md, "A person answers", has the states.

-- The tenant of the calling transaction, or 42501 for a caller without one.
CREATE OR REPLACE FUNCTION alphadome._require_tenant() RETURNS uuid
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    tenant uuid := alphadome._current_tenant();
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'no tenant context: a shop''s console session, or SET LOCAL alphadome.tenant_id'
            USING ERRCODE = '42501';
    END IF;
    RETURN tenant;
END
$$;

-- Whether whoever called the SECURITY DEFINER function running now acts as the operator: inside
-- it current_user is the function's owner, but the role the caller set (SET ROLE) is still the
-- `role` setting; without one, the caller is the session's login itself.
CREATE OR REPLACE FUNCTION alphadome._caller_is_operator() RETURNS boolean
    LANGUAGE sql STABLE
    RETURN pg_has_role(CASE current_setting('role') WHEN 'none' THEN session_user::text ELSE current_setting('role') END,
                       'alphadome_admin', 'USAGE');

-- One of the calling tenant's conversations, locked for the change the caller makes; P0002 when
-- the tenant has none with that id.
CREATE OR REPLACE FUNCTION alphadome._own_conversation(conversation_id bigint) RETURNS alphadome.conversations
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c alphadome.conversations;
BEGIN
    SELECT * INTO c FROM alphadome.conversations cv
     WHERE cv.bot_tenant_id = alphadome._require_tenant() AND cv.id = _own_conversation.conversation_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no conversation %', conversation_id USING ERRCODE = 'P0002';
    END IF;
    RETURN c;
END
$$;

-- Who has a conversation now: a person ('person': the bot stays silent), or the bot ('bot', or
-- 'resolved': a person closed it). The customer waits for nobody either way.
CREATE OR REPLACE FUNCTION alphadome._set_holder(tenant_id uuid, conversation_id bigint, holder text) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.conversations cv
       SET handoff_at = CASE _set_holder.holder WHEN 'person' THEN now() END,
           waiting_since = NULL, reminded_at = NULL,
           resolved_at = CASE _set_holder.holder WHEN 'resolved' THEN now() END
     WHERE cv.bot_tenant_id = _set_holder.tenant_id AND cv.id = _set_holder.conversation_id;
END;

-- The items of a JSON array in a webhook, or none when Meta sent something else there.
CREATE OR REPLACE FUNCTION alphadome._array_items(value jsonb) RETURNS SETOF jsonb
    LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT jsonb_array_elements(CASE jsonb_typeof(_array_items.value) WHEN 'array' THEN _array_items.value ELSE '[]' END);
END;

-- Queues a person's message to a conversation's customer (a reply.send job, which the relay sends
-- like the bot's) and stops the waiting clock: a person has the conversation now, so the alerts
-- about it that have not gone yet (one waiting for the opening hour, say) are cancelled.
CREATE OR REPLACE FUNCTION alphadome._queue_person_message(c alphadome.conversations, message jsonb) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job bigint;
BEGIN
    IF c.opted_out_at IS NOT NULL THEN
        RAISE EXCEPTION 'this customer opted out: nothing is sent until they write START again'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload)
    VALUES (c.bot_tenant_id, 'reply.send',
            jsonb_build_object('to', c.wa_id, 'recipient', c.bsuid, 'customer', c.customer_key::text,
                               'conversation_id', c.id, 'sent_by', 'person',
                               'account', nullif(current_setting('alphadome.console_account', true), ''))
            || message)
    RETURNING o.id INTO job;
    PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'person');
    PERFORM alphadome._cancel_alerts(c.bot_tenant_id, NULL, c.id);
    PERFORM alphadome._wake_worker();
    RETURN job;
END
$$;

-- A person's text to a conversation's customer, from the shop's number. Meta delivers free text
-- only within 24 hours of the customer's last message: outside them, 22023 (send a template).
-- Returns the job's id; the message appears in the conversation once sent, with its status.
CREATE OR REPLACE FUNCTION alphadome.send_human_reply(conversation_id bigint, body text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(send_human_reply.conversation_id);
    text_to_send text := btrim(coalesce(body, ''));
BEGIN
    IF text_to_send = '' THEN
        RAISE EXCEPTION 'the reply is empty' USING ERRCODE = '22023';
    ELSIF length(text_to_send) > 4096 THEN
        RAISE EXCEPTION 'the reply is % characters long: WhatsApp takes at most 4096', length(text_to_send)
            USING ERRCODE = '22023';
    END IF;
    IF c.last_inbound_at IS NULL OR c.last_inbound_at < now() - interval '24 hours' THEN
        RAISE EXCEPTION 'outside the 24-hour window: send a template'
            USING ERRCODE = '22023',
                  DETAIL = 'WhatsApp delivers free text only within 24 hours of the customer''s last message.',
                  HINT = 'Send one of the shop''s approved templates (send_template).';
    END IF;
    RETURN alphadome._queue_person_message(c, jsonb_build_object('text', text_to_send));
END
$$;

-- The numbered parameters ({{1}}, {{2}}, ...) a template's body takes.
CREATE OR REPLACE FUNCTION alphadome._template_parameters(body text) RETURNS integer
    LANGUAGE sql IMMUTABLE
    RETURN coalesce((SELECT max(m[1]::integer) FROM regexp_matches(coalesce(body, ''), '[{][{]([0-9]+)[}][}]', 'g') m), 0);

-- One of the tenant's approved templates to a conversation's customer, with its parameters in
-- order: what a person sends outside the 24-hour window. Returns the job's id.
CREATE OR REPLACE FUNCTION alphadome.send_template(conversation_id bigint, template_name text, language text,
                                                   params text[] DEFAULT '{}')
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(send_template.conversation_id);
    t alphadome.whatsapp_templates;
    wanted integer;
    rendered text;
BEGIN
    SELECT * INTO t FROM alphadome.whatsapp_templates w
     WHERE w.bot_tenant_id = c.bot_tenant_id AND w.name = send_template.template_name
       AND w.language = send_template.language;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the shop has no template % in language %', template_name, language
            USING ERRCODE = 'P0002', HINT = 'Refresh the templates from WhatsApp (sync_templates).';
    ELSIF t.status <> 'APPROVED' THEN
        RAISE EXCEPTION 'template % (%) is %, not approved by WhatsApp', t.name, t.language, lower(t.status)
            USING ERRCODE = '22023';
    END IF;
    wanted := alphadome._template_parameters(t.body);
    IF coalesce(cardinality(params), 0) <> wanted
       OR EXISTS (SELECT FROM unnest(params) p WHERE btrim(coalesce(p, '')) = '') THEN
        RAISE EXCEPTION 'template % takes % parameters, each with text; % given', t.name, wanted,
                        coalesce(cardinality(params), 0)
            USING ERRCODE = '22023';
    END IF;
    rendered := coalesce(t.body, t.name);
    FOR i IN REVERSE wanted..1 LOOP
        rendered := replace(rendered, '{{' || i || '}}', btrim(params[i]));
    END LOOP;
    RETURN alphadome._queue_person_message(c, jsonb_build_object(
        'text', rendered,
        'template', jsonb_build_object('name', t.name, 'language', t.language,
                                       'parameters', to_jsonb(coalesce(params, '{}')))));
END
$$;

-- A person is done with the conversation: resolved (the customer's next message opens it again,
-- to the bot), or given back to the bot.
CREATE OR REPLACE FUNCTION alphadome.resolve_conversation(conversation_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(resolve_conversation.conversation_id);
BEGIN
    PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'resolved');
END
$$;

CREATE OR REPLACE FUNCTION alphadome.hand_back(conversation_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(hand_back.conversation_id);
BEGIN
    PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'bot');
END
$$;

-- A person takes a conversation over without writing (the bot stays silent), as the console's
-- "Take it over" does.
CREATE OR REPLACE FUNCTION alphadome.take_over(conversation_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(take_over.conversation_id);
BEGIN
    PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'person');
END
$$;

-- Asks the relay to read the tenant's message templates from the Graph API again (a
-- templates.sync job; at most one waiting at a time). Returns the job's id, or NULL when one is
-- waiting already.
CREATE OR REPLACE FUNCTION alphadome.sync_templates(tenant_id uuid DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := coalesce(sync_templates.tenant_id, alphadome._require_tenant());
    job bigint;
BEGIN
    IF alphadome._current_tenant() IS NOT NULL AND tenant <> alphadome._current_tenant() THEN
        RAISE EXCEPTION 'no tenant with id %', tenant USING ERRCODE = 'P0002';
    END IF;
    IF NOT EXISTS (SELECT FROM alphadome.bot_tenants t WHERE t.id = tenant AND t.whatsapp_business_account_id IS NOT NULL) THEN
        RAISE EXCEPTION 'the shop''s WhatsApp Business account id is not set: templates cannot be read'
            USING ERRCODE = '55000', HINT = 'The operator sets bot_tenants.whatsapp_business_account_id.';
    END IF;
    IF EXISTS (SELECT FROM alphadome.outbox o
                WHERE o.bot_tenant_id = tenant AND o.kind = 'templates.sync' AND o.status IN ('queued', 'running')) THEN
        RETURN NULL;
    END IF;
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload) VALUES (tenant, 'templates.sync', '{}')
    RETURNING o.id INTO job;
    PERFORM alphadome._wake_worker();
    RETURN job;
END
$$;

-- What a templates.sync job read: Meta's list ({"data": [{name, language, status, category,
-- components: [{type: "BODY", text}...], rejected_reason}...]}) replaces the tenant's templates.
CREATE OR REPLACE FUNCTION alphadome._store_templates(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF jsonb_typeof(result -> 'data') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'templates.sync: the result has no "data" list' USING ERRCODE = '22023';
    END IF;
    DELETE FROM alphadome.whatsapp_templates w
     WHERE w.bot_tenant_id = job.bot_tenant_id
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(result -> 'data') d
                        WHERE d ->> 'name' = w.name AND d ->> 'language' = w.language);
    INSERT INTO alphadome.whatsapp_templates AS w
           (bot_tenant_id, name, language, category, status, body, components, rejected_reason, updated_at)
    SELECT DISTINCT ON (d ->> 'name', d ->> 'language')
           job.bot_tenant_id, d ->> 'name', d ->> 'language', d ->> 'category', coalesce(d ->> 'status', 'UNKNOWN'),
           (SELECT c ->> 'text' FROM jsonb_array_elements(coalesce(d -> 'components', '[]')) c
             WHERE upper(c ->> 'type') = 'BODY' LIMIT 1),
           coalesce(d -> 'components', '[]'), nullif(d ->> 'rejected_reason', 'NONE'), now()
      FROM jsonb_array_elements(result -> 'data') d
     WHERE d ->> 'name' ~ '^[a-z0-9_]+$' AND length(d ->> 'name') <= 512 AND d ->> 'language' ~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$'
    ON CONFLICT (bot_tenant_id, name, language) DO UPDATE
       SET category = excluded.category, status = excluded.status, body = excluded.body,
           components = excluded.components, rejected_reason = excluded.rejected_reason, updated_at = now();
END
$$;

-- The WhatsApp Business app beside the bot (coexistence): the webhook fields Meta sends for a
-- number used by the app and the Cloud API together. Internal (ingest_webhook's, for one change's
-- value). Returns {accepted, duplicates, ignored}.
--  smb_message_echoes: what the owner sent from the app, recorded as outbound (sent_by 'app');
--    a person has the conversation now, so the bot stays silent for that customer. An echo of
--    type edit or revoke changes the text it names.
--  smb_app_state_sync: the app's contacts; their names are kept for the console.
--  history: earlier chats, imported once each (by wamid) and never answered.
CREATE OR REPLACE FUNCTION alphadome._coexistence(tenant_id uuid, field text, value jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    item jsonb;
    thread jsonb;
    message jsonb;
    customer text;
    conversation bigint;
    inserted bigint;
    accepted integer := 0;
    duplicates integer := 0;
    ignored integer := 0;
BEGIN
    IF field = 'smb_message_echoes' THEN
        FOR item IN SELECT * FROM alphadome._array_items(value -> 'message_echoes') LOOP
            customer := alphadome._wa_id(item ->> 'to');
            IF customer IS NULL OR coalesce(item ->> 'id', '') = '' THEN
                ignored := ignored + 1;
                CONTINUE;
            END IF;
            IF item ->> 'type' IN ('edit', 'revoke') THEN
                UPDATE alphadome.messages m
                   SET body = CASE item ->> 'type' WHEN 'revoke' THEN NULL
                                   ELSE coalesce(alphadome._message_words(item #> '{edit,message}'), m.body) END,
                       payload = coalesce(m.payload, '{}') || jsonb_build_object(item ->> 'type', item)
                 WHERE m.bot_tenant_id = _coexistence.tenant_id
                   AND m.wamid = coalesce(item #>> ARRAY[item ->> 'type', 'original_message_id'], '');
                accepted := accepted + 1;
                CONTINUE;
            END IF;
            conversation := alphadome._coexistence_conversation(tenant_id, customer);
            INSERT INTO alphadome.messages AS m
                   (bot_tenant_id, conversation_id, direction, wamid, message_type, body, payload, status, sent_by,
                    created_at)
            VALUES (tenant_id, conversation, 'outbound', left(item ->> 'id', 200), coalesce(item ->> 'type', 'unknown'),
                    alphadome._message_words(item), item, 'sent', 'app',
                    coalesce(to_timestamp((item ->> 'timestamp')::double precision), now()))
            ON CONFLICT (bot_tenant_id, wamid) DO NOTHING
            RETURNING m.id INTO inserted;
            IF inserted IS NULL THEN
                duplicates := duplicates + 1;
                CONTINUE;
            END IF;
            accepted := accepted + 1;
            PERFORM alphadome._set_holder(tenant_id, conversation, 'person');
            -- The owner answered from the app: alerts about this customer not sent yet are moot.
            PERFORM alphadome._cancel_alerts(tenant_id, NULL, conversation);
        END LOOP;
    ELSIF field = 'smb_app_state_sync' THEN
        FOR item IN SELECT * FROM alphadome._array_items(value -> 'state_sync') LOOP
            customer := alphadome._wa_id(item #>> '{contact,phone_number}');
            IF item ->> 'type' IS DISTINCT FROM 'contact' OR customer IS NULL THEN
                ignored := ignored + 1;
                CONTINUE;
            END IF;
            accepted := accepted + 1;
            -- A contact removed from the app: the conversation keeps the name it had.
            CONTINUE WHEN item ->> 'action' = 'remove';
            conversation := alphadome._coexistence_conversation(tenant_id, customer);
            UPDATE alphadome.conversations cv
               SET customer_name = coalesce(nullif(left(btrim(coalesce(item #>> '{contact,full_name}',
                                                                       item #>> '{contact,first_name}')), 200), ''),
                                            cv.customer_name)
             WHERE cv.bot_tenant_id = tenant_id AND cv.id = conversation;
        END LOOP;
    ELSIF field = 'history' THEN
        FOR item IN SELECT * FROM alphadome._array_items(value -> 'history') LOOP
            FOR thread IN SELECT * FROM alphadome._array_items(item -> 'threads') LOOP
                customer := alphadome._wa_id(thread ->> 'id');
                IF customer IS NULL THEN
                    ignored := ignored + 1;
                    CONTINUE;
                END IF;
                conversation := alphadome._coexistence_conversation(tenant_id, customer);
                FOR message IN SELECT * FROM alphadome._array_items(thread -> 'messages') LOOP
                    IF coalesce(message ->> 'id', '') = '' THEN
                        ignored := ignored + 1;
                        CONTINUE;
                    END IF;
                    inserted := NULL;
                    INSERT INTO alphadome.messages AS m
                           (bot_tenant_id, conversation_id, direction, wamid, message_type, body, payload, status,
                            decision, sent_by, created_at)
                    SELECT tenant_id, conversation, d.direction, left(message ->> 'id', 200),
                           coalesce(message ->> 'type', 'unknown'), alphadome._message_words(message), message,
                           CASE d.direction WHEN 'inbound' THEN 'received'
                                ELSE coalesce(lower(message #>> '{history_context,status}'), 'sent') END,
                           CASE d.direction WHEN 'inbound' THEN 'history' END,
                           CASE d.direction WHEN 'outbound' THEN 'app' END,
                           coalesce(to_timestamp((message ->> 'timestamp')::double precision), now())
                      FROM (SELECT (CASE WHEN alphadome._wa_id(message ->> 'from') = customer
                                         THEN 'inbound' ELSE 'outbound' END)::alphadome.message_direction AS direction) d
                    ON CONFLICT (bot_tenant_id, wamid) DO NOTHING
                    RETURNING m.id INTO inserted;
                    IF inserted IS NULL THEN
                        duplicates := duplicates + 1;
                    ELSE
                        accepted := accepted + 1;
                    END IF;
                END LOOP;
            END LOOP;
        END LOOP;
    ELSE
        ignored := 1;
    END IF;
    RETURN jsonb_build_object('accepted', accepted, 'duplicates', duplicates, 'ignored', ignored);
END
$$;

-- A customer's WhatsApp id from a number as the app's webhooks write it ("+16505551234",
-- "16505551234"): its digits, or NULL when that cannot be one.
CREATE OR REPLACE FUNCTION alphadome._wa_id(candidate text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN candidate ~ '^[+]?[0-9 ()-]{6,30}$' AND regexp_replace(candidate, '[^0-9]', '', 'g') ~ '^[1-9][0-9]{5,19}$'
                THEN regexp_replace(candidate, '[^0-9]', '', 'g') END;

-- The conversation of a customer the app names (its echoes, contacts, history), made when new.
-- It does not count as the customer writing: last_inbound_at (the 24-hour window) is untouched.
CREATE OR REPLACE FUNCTION alphadome._coexistence_conversation(tenant_id uuid, customer text) RETURNS bigint
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    INSERT INTO alphadome.conversations AS cv (bot_tenant_id, customer_key, wa_id)
    VALUES (_coexistence_conversation.tenant_id, _coexistence_conversation.customer, _coexistence_conversation.customer)
    ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE SET updated_at = now()
    RETURNING cv.id;
END;

-- The words of a message as Meta sends it: its text, caption, or chosen title (NULL for none).
CREATE OR REPLACE FUNCTION alphadome._message_words(message jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN left(coalesce(message #>> '{text,body}', message #>> '{image,caption}', message #>> '{video,caption}',
                         message #>> '{document,caption}', message #>> '{button,text}',
                         message #>> '{interactive,button_reply,title}', message #>> '{interactive,list_reply,title}'),
                4096);

-- The clocks of the hand-off, for the relay's chores (every minute) or pg_cron; `at` is the
-- time to judge by (tests set it). Both clocks count only while the shop is open:
--  - a customer waiting handoff_reminder with nobody answering: a reminder alert, once;
--  - waiting handoff_timeout: the customer is told (handoff_timeout_message), the owner gets an
--    alert, and the bot answers again;
--  - a conversation a person took handoff_timeout ago and has not written in since: back to the
--    bot, silently.
-- Returns {"reminded": n, "resumed": n}.
CREATE OR REPLACE FUNCTION alphadome.handoff_chores(at timestamptz DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    reminded integer := 0;
    resumed integer := 0;
    who text;
BEGIN
    FOR c IN
        SELECT cv.*, t.client_name, s.handoff_reminder, s.handoff_timeout, s.handoff_timeout_message, s.timezone
          FROM alphadome.conversations cv
          JOIN alphadome.bot_tenants t ON t.id = cv.bot_tenant_id AND t.is_active
          JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = cv.bot_tenant_id
         WHERE cv.opted_out_at IS NULL
           AND ((cv.waiting_since IS NOT NULL
                AND (cv.waiting_since + s.handoff_timeout <= handoff_chores.at
                     OR (cv.reminded_at IS NULL AND cv.waiting_since + s.handoff_reminder <= handoff_chores.at)))
            OR (cv.handoff_at IS NOT NULL AND cv.handoff_at + s.handoff_timeout <= handoff_chores.at
                AND NOT EXISTS (SELECT FROM alphadome.messages m
                                 WHERE m.bot_tenant_id = cv.bot_tenant_id AND m.conversation_id = cv.id
                                   AND m.direction = 'outbound' AND m.sent_by IN ('person', 'app')
                                   AND m.created_at > handoff_chores.at - s.handoff_timeout)))
         ORDER BY cv.bot_tenant_id, cv.id
           FOR UPDATE OF cv SKIP LOCKED
    LOOP
        -- The clocks stand still while the shop is closed.
        CONTINUE WHEN alphadome.next_opening(c.bot_tenant_id, handoff_chores.at) IS DISTINCT FROM handoff_chores.at;
        who := coalesce(nullif(c.customer_name, '') || ' (+' || c.customer_key || ')', '+' || c.customer_key);
        IF c.waiting_since IS NOT NULL AND c.waiting_since + c.handoff_timeout <= handoff_chores.at THEN
            IF c.opted_out_at IS NULL THEN
                INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload)
                VALUES (c.bot_tenant_id, 'reply.send',
                        jsonb_build_object('to', c.wa_id, 'recipient', c.bsuid, 'customer', c.customer_key::text,
                                           'conversation_id', c.id, 'text', c.handoff_timeout_message));
            END IF;
            PERFORM alphadome._alert(c.bot_tenant_id, 'handoff_timeout',
                        format('%s: nobody answered %s within %s; the bot answers them again.',
                               c.client_name, who, c.handoff_timeout),
                        'handoff_timeout:' || c.id || ':' || extract(epoch FROM c.waiting_since)::bigint,
                        handoff_chores.at, c.id);
            PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'bot');
            resumed := resumed + 1;
        ELSIF c.waiting_since IS NOT NULL THEN
            PERFORM alphadome._alert(c.bot_tenant_id, 'handoff_reminder',
                        format('%s: %s has been waiting for a person since %s.', c.client_name, who,
                               to_char(c.waiting_since AT TIME ZONE c.timezone, 'HH24:MI')),
                        'handoff_reminder:' || c.id || ':' || extract(epoch FROM c.waiting_since)::bigint,
                        handoff_chores.at, c.id);
            UPDATE alphadome.conversations cv SET reminded_at = handoff_chores.at
             WHERE cv.bot_tenant_id = c.bot_tenant_id AND cv.id = c.id;
            reminded := reminded + 1;
        ELSE
            PERFORM alphadome._set_holder(c.bot_tenant_id, c.id, 'bot');
            resumed := resumed + 1;
        END IF;
    END LOOP;
    IF reminded + resumed > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
    RETURN jsonb_build_object('reminded', reminded, 'resumed', resumed);
END
$$;

-- A login for a member of the shop's staff: answers customers in the console, changes nothing
-- else. The operator, or the shop's owner for his own shop.
CREATE OR REPLACE FUNCTION alphadome.create_agent(tenant_id uuid, email text, password text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
BEGIN
    IF alphadome._current_tenant() IS DISTINCT FROM create_agent.tenant_id AND NOT alphadome._caller_is_operator() THEN
        RAISE EXCEPTION 'no tenant with id %', create_agent.tenant_id USING ERRCODE = 'P0002';
    END IF;
    RETURN alphadome._create_tenant_account(create_agent.tenant_id, create_agent.email, create_agent.password, true);
END
$$;

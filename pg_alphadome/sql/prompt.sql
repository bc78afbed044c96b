-- Prompt assembly: an OpenAI chat-completions request body for one inbound message
-- (docs/design.md section 3). SECURITY INVOKER: reads only what the caller may read. It selects no
-- credential column, so no credential can reach a prompt.
--
-- The system prompt is the tenant's one personality (bot_control_settings: persona_tone,
-- shop_description, current_offers), the same whatever template the message picks, then the
-- rules, then the chosen template's own instructions: editing the personality changes every
-- answer, and a template says only what is particular to its questions.
--
-- Budget (control settings prompt_budget_chars) is on the characters of all message contents:
-- the customer's message (at most a third of it) and the system prompt (personality, rules,
-- template; at most half) come first, then the best FAQ entries, then the most recent history,
-- each only while it fits.
CREATE OR REPLACE FUNCTION alphadome.assemble_prompt(tenant_id uuid, customer text, message text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant        record;
    settings      record;
    template      record;
    budget        integer;
    user_text     text;
    system_text   text;
    facts         text := '';
    entry         record;
    entry_text    text;
    history       jsonb := '[]'::jsonb;
    turn          record;
    used          integer;
    newest_seen   boolean := false;
    has_facts     boolean := false;
BEGIN
    SELECT t.client_name, t.ai_model, t.country_code INTO tenant
      FROM alphadome.bot_tenants t WHERE t.id = assemble_prompt.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', assemble_prompt.tenant_id USING ERRCODE = 'P0002';
    END IF;
    SELECT s.prompt_budget_chars, s.enable_payment_flow, s.escalation_phone,
           s.persona_tone, s.shop_description, s.current_offers INTO settings
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = assemble_prompt.tenant_id;
    budget := coalesce(settings.prompt_budget_chars, 12000);
    -- The customer's message keeps at most a third of the budget (and WhatsApp's 4096).
    user_text := left(coalesce(assemble_prompt.message, ''), least(4096, budget / 3));

    -- A template whose trigger words occur in the message wins over the default one.
    SELECT tp.system_prompt INTO template
      FROM alphadome.bot_templates tp
     WHERE tp.bot_tenant_id = assemble_prompt.tenant_id AND tp.is_active
       AND (tp.is_default OR EXISTS (
                SELECT FROM unnest(tp.triggers) tr
                 WHERE btrim(tr) <> '' AND strpos(lower(user_text), lower(btrim(tr))) > 0))
     ORDER BY tp.is_default, tp.id
     LIMIT 1;

    system_text := 'You are the WhatsApp assistant of ' || tenant.client_name || '.'
        || CASE WHEN settings.shop_description IS NOT NULL
                THEN E'\nAbout the shop: ' || settings.shop_description ELSE '' END
        || E'\nTone: ' || rtrim(coalesce(settings.persona_tone, 'friendly'), '. ') || '.'
        || CASE WHEN settings.current_offers IS NOT NULL
                THEN E'\nCurrent offers (mention them when they fit the question): ' || settings.current_offers
                ELSE '' END
        || E'\nKeep answers short and plain text. If you do not know something, say so and offer a person.'
        || E'\nNever state a price that is not given below.'
        || CASE WHEN settings.enable_payment_flow
                THEN E'\nYou may help the customer choose how to pay and confirm the amount; never ask for card numbers or PINs.'
                ELSE E'\nDo not take payments in the chat; tell the customer a team member will confirm payment.' END
        || CASE WHEN settings.escalation_phone IS NOT NULL
                THEN E'\nA person can be reached on +' || settings.escalation_phone || '.'
                ELSE '' END
        || CASE WHEN template.system_prompt IS NOT NULL
                THEN E'\n\nFor this question:\n' || template.system_prompt
                ELSE '' END;
    -- The system prompt may use at most half the budget, whatever the template says.
    system_text := left(system_text, budget / 2);
    used := length(user_text) + length(system_text);

    -- The products the message names, with their prices: the only prices the model may quote.
    FOR entry IN
        SELECT p.name, p.price, p.currency, p.in_stock, p.description
          FROM alphadome.match_products(assemble_prompt.tenant_id, user_text, 5) p
    LOOP
        entry_text := E'\n- ' || entry.name || ': ' || alphadome._price_words(entry.price, entry.currency)
                      || CASE WHEN entry.in_stock THEN ', in stock' ELSE ', out of stock' END
                      || coalesce('. ' || left(entry.description, 300), '');
        IF facts = '' THEN
            entry_text := E'\n\nProducts and prices of ' || tenant.client_name
                          || E' (quote only these prices; for any other product say a person will confirm the price):'
                          || entry_text;
        END IF;
        EXIT WHEN used + length(entry_text) > budget;
        facts := facts || entry_text;
        used := used + length(entry_text);
    END LOOP;

    FOR entry IN
        SELECT f.question, f.answer FROM alphadome.match_faq(assemble_prompt.tenant_id, user_text, 5) f
    LOOP
        entry_text := E'\nQ: ' || entry.question || E'\nA: '
                      || left(alphadome.render_placeholders(assemble_prompt.tenant_id, entry.answer,
                                                            alphadome._message_language(user_text)), 1000);
        IF NOT has_facts THEN
            has_facts := true;
            entry_text := E'\n\nFacts from ' || tenant.client_name || E' (use them when they answer the question):' || entry_text;
        END IF;
        EXIT WHEN used + length(entry_text) > budget;
        facts := facts || entry_text;
        used := used + length(entry_text);
    END LOOP;

    -- History, newest first while it fits; the message being answered is already logged as
    -- the newest inbound row, so it is skipped once. The customer is found however the number
    -- is written; a voice note counts by its transcript. Replies recorded in dry run (status
    -- simulated) were never sent: not history.
    FOR turn IN
        SELECT m.direction, coalesce(m.body, m.transcript) AS body
          FROM alphadome.conversations c
          JOIN alphadome.messages m ON m.bot_tenant_id = c.bot_tenant_id AND m.conversation_id = c.id
         WHERE c.bot_tenant_id = assemble_prompt.tenant_id
           AND c.customer_key = alphadome._customer_key(assemble_prompt.customer, tenant.country_code)
           AND coalesce(m.body, m.transcript) IS NOT NULL AND m.status <> 'simulated'
           AND m.created_at > now() - interval '24 hours'
         ORDER BY m.created_at DESC, m.id DESC
         LIMIT 20
    LOOP
        IF NOT newest_seen THEN
            newest_seen := true;
            CONTINUE WHEN turn.direction = 'inbound' AND turn.body = user_text;
        END IF;
        EXIT WHEN used + length(turn.body) > budget;
        history := jsonb_build_array(jsonb_build_object(
                       'role', CASE turn.direction WHEN 'inbound' THEN 'user' ELSE 'assistant' END,
                       'content', turn.body)) || history;
        used := used + length(turn.body);
    END LOOP;

    RETURN jsonb_build_object(
        'model', tenant.ai_model,
        'messages', jsonb_build_array(jsonb_build_object('role', 'system', 'content', system_text || facts))
                    || history
                    || jsonb_build_array(jsonb_build_object('role', 'user', 'content', user_text)),
        'max_completion_tokens', 500,
        'temperature', 0.3);
END
$$;

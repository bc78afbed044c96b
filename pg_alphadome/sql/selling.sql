-- Selling in the chat (issue 24). What the shop sells: a price or availability question is
-- answered from the tenant's products (decision 'product'), and the LLM's prompt gets the few
-- products a question names (prompt.sql). Prices come from here only, never from what a model
-- wrote. A customer who wants to buy gets a list or buttons, and an order (decision 'payment').

-- Rows an owner inserts belong to its own tenant without naming it.
ALTER TABLE alphadome.products ALTER COLUMN bot_tenant_id SET DEFAULT alphadome._current_tenant();

CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.products
    FOR EACH ROW EXECUTE FUNCTION alphadome._touch_updated_at();

-- The words a product or a question is matched by: lower case, letters and digits, at least two
-- characters, a plural's s taken off ("keyboards" finds "keyboard"), and none of the few words
-- that name nothing ("the", "and"; Swahili "ya", "na").
CREATE OR REPLACE FUNCTION alphadome._product_words(words text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN ARRAY(
    SELECT DISTINCT CASE WHEN length(w) > 3 AND w ~ '[^s]s$' THEN left(w, -1) ELSE w END
      FROM regexp_split_to_table(lower(coalesce(words, '')), '[^[:alnum:]]+') w
     WHERE length(w) >= 2
       AND w <> ALL ('{the,and,for,with,of,na,ya,za,la,wa,kwa,an,is,it,in,on,to,do,you,have,how,much,what}'::text[]));

-- A price as a customer reads it: 'KES 32,000', 'KES 1,250.50'.
CREATE OR REPLACE FUNCTION alphadome._price_words(price numeric, currency text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN currency || ' ' || CASE WHEN price = trunc(price)
                               THEN to_char(price, 'FM999,999,999,990')
                               ELSE to_char(price, 'FM999,999,999,990.00') END;

-- The tenant's active products that a message names, best first: a word of the message found in
-- the product's name or phrasings counts 1, one found only in its category 0.5. Only the best
-- score's products are returned ("a Yamaha keyboard" names the Yamaha keyboards, not every
-- keyboard and every Yamaha), at most max_results of them; more_matches says how many of that
-- score there are in all. SECURITY INVOKER: an owner sees only his own products.
CREATE OR REPLACE FUNCTION alphadome.match_products(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (product_id bigint, name text, price numeric, currency text, in_stock boolean,
                   description text, score real, more_matches integer)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
-- PL/pgSQL: its plan is kept for the session. As a SQL function (with SET, never inlined) the
-- query was planned at every call: most of assemble_prompt's time (0.29 → 0.84 ms with 1,000 FAQ
-- entries in the bench).
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH asked AS (SELECT alphadome._product_words(left(match_products.message, 4096)) AS words),
    scored AS (
        SELECT p.id, p.name, p.price, p.currency, p.in_stock, p.description,
               ((SELECT count(*) FROM unnest(a.words) w WHERE w = ANY (own.words))
                + 0.5 * (SELECT count(*) FROM unnest(a.words) w
                          WHERE w = ANY (alphadome._product_words(p.category)) AND w <> ALL (own.words)))::real AS score
          FROM alphadome.products p
          CROSS JOIN asked a
          CROSS JOIN LATERAL (SELECT alphadome._product_words(p.name || ' ' || array_to_string(p.phrasings, ' ')) AS words) own
         WHERE p.bot_tenant_id = match_products.tenant_id AND p.is_active
    ),
    best AS (
        SELECT s.*, max(s.score) OVER () AS top, count(*) OVER (PARTITION BY s.score) AS ties
          FROM scored s WHERE s.score > 0
    )
    SELECT b.id, b.name, b.price, b.currency, b.in_stock, b.description, b.score, b.ties::integer
      FROM best b
     WHERE b.score = b.top
     ORDER BY b.in_stock DESC, b.price, b.id
     LIMIT greatest(coalesce(match_products.max_results, 3), 0);
END
$$;

-- The answer to a price or availability question from the products it names, in the customer's
-- language (English or Swahili, as _message_language tells): NULL when it names none (the FAQ
-- and the LLM then answer).
CREATE OR REPLACE FUNCTION alphadome._product_answer(tenant_id uuid, message text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    swahili boolean := alphadome._message_language(message) = 'sw';
    lines   text[] := '{}';
    more    integer := 0;
    p       record;
BEGIN
    FOR p IN SELECT * FROM alphadome.match_products(_product_answer.tenant_id, _product_answer.message, 3) LOOP
        lines := lines || ('• ' || p.name || ': ' || alphadome._price_words(p.price, p.currency) || ' ('
                           || CASE WHEN p.in_stock THEN CASE WHEN swahili THEN 'ipo' ELSE 'in stock' END
                                   ELSE CASE WHEN swahili THEN 'imeisha kwa sasa' ELSE 'out of stock now' END END
                           || ')');
        more := p.more_matches - 3;
    END LOOP;
    IF cardinality(lines) = 0 THEN
        RETURN NULL;
    END IF;
    RETURN CASE WHEN swahili THEN 'Bei zetu:' ELSE 'Our prices:' END || E'\n' || array_to_string(lines, E'\n')
        || CASE WHEN more > 0
                THEN E'\n' || CASE WHEN swahili THEN 'Tuna zaidi: niambie unataka ipi hasa.'
                                   ELSE 'We have more: tell us which one you mean.' END
                ELSE '' END;
END
$$;

-- ---- Buttons and lists --------------------------------------------------------------------------

-- Why Meta would refuse a send's choices (reply buttons or a list, as a reply.send job carries
-- them) under this body text, or NULL when it would take them:
--   {"type": "button", "buttons": [{"id", "title"}, ...]}   1-3 buttons, titles 1-20 characters
--   {"type": "list", "button": "Choose", "rows": [{"id", "title", "description"?}, ...]}
--                                                            1-10 rows, titles 1-24, descriptions 72
-- ids are unique, without spaces around them (256 characters for a button, 200 for a row), and
-- so are titles; the body text is at most 1024 characters. Every function that queues choices
-- checks them here; the relay checks them again before it sends.
CREATE OR REPLACE FUNCTION alphadome._interactive_problem(interactive jsonb, body text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind      text := interactive ->> 'type';
    choices   jsonb;
    most      integer;
    title_max integer;
    id_max    integer;
    c         jsonb;
    i         integer := 0;
    seen_ids  text[] := '{}';
    seen      text[] := '{}';
BEGIN
    IF jsonb_typeof(interactive) IS DISTINCT FROM 'object' THEN
        RETURN 'choices must be a JSON object';
    END IF;
    IF length(coalesce(body, '')) NOT BETWEEN 1 AND 1024 THEN
        RETURN 'an interactive message''s text must be 1 to 1024 characters';
    END IF;
    IF kind = 'button' THEN
        choices := interactive -> 'buttons'; most := 3; title_max := 20; id_max := 256;
    ELSIF kind = 'list' THEN
        IF length(btrim(coalesce(interactive ->> 'button', ''))) = 0 OR length(interactive ->> 'button') > 20 THEN
            RETURN 'a list''s button text must be 1 to 20 characters';
        END IF;
        choices := interactive -> 'rows'; most := 10; title_max := 24; id_max := 200;
    ELSE
        RETURN 'choices are of type button or list';
    END IF;
    IF jsonb_typeof(choices) IS DISTINCT FROM 'array' OR jsonb_array_length(choices) NOT BETWEEN 1 AND most THEN
        RETURN format('a %s message has 1 to %s choices', kind, most);
    END IF;
    FOR c IN SELECT value FROM jsonb_array_elements(choices) LOOP
        i := i + 1;
        IF length(btrim(coalesce(c ->> 'title', ''))) = 0 OR length(c ->> 'title') > title_max THEN
            RETURN format('choice %s has a title of %s characters (1 to %s)', i, length(coalesce(c ->> 'title', '')), title_max);
        END IF;
        IF coalesce(c ->> 'id', '') = '' OR btrim(c ->> 'id') <> c ->> 'id' OR length(c ->> 'id') > id_max THEN
            RETURN format('choice %s has an id Meta refuses (1 to %s characters, no spaces around)', i, id_max);
        END IF;
        IF kind = 'list' AND length(c ->> 'description') > 72 THEN
            RETURN format('choice %s has a description over 72 characters', i);
        END IF;
        IF c ->> 'id' = ANY (seen_ids) OR c ->> 'title' = ANY (seen) THEN
            RETURN format('choice %s repeats an id or a title', i);
        END IF;
        seen_ids := seen_ids || (c ->> 'id');
        seen := seen || (c ->> 'title');
    END LOOP;
    RETURN NULL;
END
$$;

-- ---- Orders -------------------------------------------------------------------------------------

CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.orders
    FOR EACH ROW EXECUTE FUNCTION alphadome._touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON alphadome.payments
    FOR EACH ROW EXECUTE FUNCTION alphadome._touch_updated_at();

-- Whether an order may move from one status to another: draft → awaiting_payment or cancelled;
-- awaiting_payment → paid, failed or cancelled; failed → awaiting_payment (the customer tries
-- again) or cancelled. paid and cancelled are final.
CREATE OR REPLACE FUNCTION alphadome._order_may_move(from_status text, to_status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN from_status = to_status
    OR (from_status, to_status) IN (('draft', 'awaiting_payment'), ('draft', 'cancelled'),
                                    ('awaiting_payment', 'paid'), ('awaiting_payment', 'failed'),
                                    ('awaiting_payment', 'cancelled'),
                                    ('failed', 'awaiting_payment'), ('failed', 'cancelled'));

CREATE OR REPLACE FUNCTION alphadome._order_moves() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT alphadome._order_may_move(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'an order that is % cannot become %', OLD.status, NEW.status
            USING ERRCODE = '55000', HINT = 'draft → awaiting_payment → paid, failed or cancelled; paid and cancelled are final';
    END IF;
    IF NEW.status = 'paid' AND OLD.status <> 'paid' THEN
        NEW.paid_at := now();
    END IF;
    -- What was ordered and its price do not change once the customer was asked to pay.
    IF OLD.status <> 'draft' AND (NEW.items, NEW.total, NEW.currency) IS DISTINCT FROM (OLD.items, OLD.total, OLD.currency) THEN
        RAISE EXCEPTION 'order % is % : its items and total no longer change', OLD.reference, OLD.status
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER order_moves BEFORE UPDATE ON alphadome.orders
    FOR EACH ROW EXECUTE FUNCTION alphadome._order_moves();

-- A new order of one product for a conversation, its price from the products table: a draft
-- until the customer chooses how to pay. Its reference is 8 random letters and digits.
CREATE OR REPLACE FUNCTION alphadome._new_order(tenant_id uuid, conversation_id bigint, product alphadome.products)
    RETURNS alphadome.orders
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    made alphadome.orders;
BEGIN
    INSERT INTO alphadome.orders (bot_tenant_id, conversation_id, reference, items, total, currency)
    VALUES (_new_order.tenant_id, _new_order.conversation_id,
            upper(left(alphadome._random_token(), 8)),
            jsonb_build_array(jsonb_build_object('product_id', product.id, 'name', product.name,
                                                 'quantity', 1, 'unit_price', product.price)),
            product.price, product.currency)
    RETURNING * INTO made;
    RETURN made;
END
$$;

-- ---- The selling conversation -------------------------------------------------------------------

-- Queues the bot's answer to a customer's message (a reply.send job): its text, and its
-- buttons or list when given (checked against Meta's limits: 22023 when Meta would refuse them),
-- counted in the tenant's hourly replies. Returns 1 (the job queued).
CREATE OR REPLACE FUNCTION alphadome._queue_answer(m alphadome.messages, c alphadome.conversations, body text,
                                                   interactive jsonb DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN alphadome._tell_customer(c, body, interactive,
                                    jsonb_build_object('context_wamid', m.wamid, 'inbound_message_id', m.id));
END
$$;

-- Queues a message from the bot to a conversation's customer (a reply.send job): its text, and
-- its buttons or list when given (checked against Meta's limits: 22023 when Meta would refuse
-- them), counted in the tenant's hourly replies. Returns 1 (the job queued).
CREATE OR REPLACE FUNCTION alphadome._tell_customer(c alphadome.conversations, body text,
                                                    interactive jsonb DEFAULT NULL, extra jsonb DEFAULT '{}')
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text := CASE WHEN interactive IS NOT NULL THEN alphadome._interactive_problem(interactive, body) END;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'choices Meta would refuse: %', problem USING ERRCODE = '22023';
    END IF;
    -- No conversation: the customer was erased (forget_customer) while a payment was out.
    IF c.id IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload)
    VALUES (c.bot_tenant_id, 'reply.send',
            jsonb_build_object('to', c.wa_id, 'recipient', CASE WHEN c.wa_id IS NULL THEN c.bsuid END,
                               'customer', c.customer_key::text, 'conversation_id', c.id, 'text', body)
            || coalesce(extra, '{}')
            || CASE WHEN interactive IS NOT NULL THEN jsonb_build_object('interactive', interactive) ELSE '{}' END);
    INSERT INTO alphadome.reply_counters AS r (bot_tenant_id, hour, shard, replies)
    VALUES (c.bot_tenant_id, date_trunc('hour', now()), pg_backend_pid() % 16, 1)
    ON CONFLICT (bot_tenant_id, hour, shard) DO UPDATE SET replies = r.replies + 1;
    RETURN 1;
END
$$;

-- The answer to a customer who wants to buy (decision 'payment', for a new message: ingest calls
-- it once the message is recorded), in his language. He chose a product (a list row "buy:<id>")
-- or named exactly one: a draft order of it, and buttons — pay with M-Pesa, pay in the shop, talk
-- to a person. He named several or none: a list of those products (or of the shop's products in
-- stock) to choose from. He chose a way to pay an order ("pay_mpesa:<id>", "pay_shop:<id>"): the
-- order awaits payment. Returns how many jobs it queued.
CREATE OR REPLACE FUNCTION alphadome._sell(tenant_id uuid, message_id bigint) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m        alphadome.messages;
    c        alphadome.conversations;
    said     text;
    chosen   text;
    swahili  boolean;
    product  alphadome.products;
    ordered  alphadome.orders;
    rows     jsonb;
BEGIN
    SELECT * INTO m FROM alphadome.messages x WHERE x.bot_tenant_id = _sell.tenant_id AND x.id = _sell.message_id;
    SELECT * INTO c FROM alphadome.conversations x WHERE x.bot_tenant_id = _sell.tenant_id AND x.id = m.conversation_id;
    IF m.id IS NULL OR c.id IS NULL THEN
        RETURN 0;
    END IF;
    said := coalesce(m.body, m.transcript, '');  -- a voice note's words are its transcript
    chosen := m.choice ->> 'id';
    swahili := alphadome._said_in_swahili(said);

    IF chosen ~ '^pay_(mpesa|shop):[0-9]{1,18}$' THEN
        SELECT * INTO ordered FROM alphadome.orders o
         WHERE o.bot_tenant_id = _sell.tenant_id AND o.conversation_id = c.id
           AND o.id = split_part(chosen, ':', 2)::bigint;
        IF ordered.id IS NULL OR ordered.status IN ('paid', 'cancelled') THEN
            RETURN alphadome._queue_answer(m, c, CASE WHEN ordered.status = 'paid'
                THEN CASE WHEN swahili THEN 'Oda hii ' || ordered.reference || ' imeshalipwa. Asante!'
                          ELSE 'Order ' || ordered.reference || ' is already paid. Thank you!' END
                ELSE CASE WHEN swahili THEN 'Oda hiyo haipo tena. Tuambie unachotaka kununua.'
                          ELSE 'That order is no longer open. Tell us what you would like to buy.' END END);
        END IF;
        UPDATE alphadome.orders o SET status = 'awaiting_payment',
               pay_chosen_at = CASE WHEN chosen LIKE 'pay_mpesa:%' THEN now() ELSE o.pay_chosen_at END
         WHERE o.bot_tenant_id = ordered.bot_tenant_id AND o.id = ordered.id
        RETURNING * INTO ordered;
        IF chosen LIKE 'pay_mpesa:%' THEN
            RETURN alphadome._pay_by_mpesa(m, c, ordered, swahili);
        END IF;
        RETURN alphadome._queue_answer(m, c, CASE WHEN swahili
            THEN 'Oda yako ' || ordered.reference || ' (' || alphadome._price_words(ordered.total, ordered.currency)
                 || ') imehifadhiwa. Lipa ukifika dukani.'
            ELSE 'Your order ' || ordered.reference || ' (' || alphadome._price_words(ordered.total, ordered.currency)
                 || ') is kept for you. Pay when you come to the shop.' END);
    END IF;

    IF chosen ~ '^buy:[0-9]{1,18}$' THEN
        SELECT * INTO product FROM alphadome.products p
         WHERE p.bot_tenant_id = _sell.tenant_id AND p.id = split_part(chosen, ':', 2)::bigint AND p.is_active;
    ELSE
        -- Exactly one product named: that one.
        SELECT p.* INTO product FROM alphadome.products p
          JOIN alphadome.match_products(_sell.tenant_id, said, 10) mp ON mp.product_id = p.id
         WHERE p.bot_tenant_id = _sell.tenant_id AND mp.more_matches = 1;
    END IF;
    IF product.id IS NOT NULL THEN
        IF NOT product.in_stock THEN
            RETURN alphadome._queue_answer(m, c, CASE WHEN swahili
                THEN product.name || ' imeisha kwa sasa. Tutakujulisha ikifika.'
                ELSE 'Sorry, ' || product.name || ' is out of stock now. We will tell you when it is back.' END);
        END IF;
        ordered := alphadome._new_order(_sell.tenant_id, c.id, product);
        RETURN alphadome._queue_answer(m, c,
            left(product.name, 200) || ': ' || alphadome._price_words(ordered.total, ordered.currency) || E'.\n'
            || CASE WHEN swahili THEN 'Ungependa kulipa vipi?' ELSE 'How would you like to pay?' END,
            jsonb_build_object('type', 'button', 'buttons', jsonb_build_array(
                jsonb_build_object('id', 'pay_mpesa:' || ordered.id,
                                   'title', CASE WHEN swahili THEN 'Lipa kwa M-Pesa' ELSE 'Pay with M-Pesa' END),
                jsonb_build_object('id', 'pay_shop:' || ordered.id,
                                   'title', CASE WHEN swahili THEN 'Lipa dukani' ELSE 'Pay in the shop' END),
                jsonb_build_object('id', 'talk_person',
                                   'title', CASE WHEN swahili THEN 'Ongea na mtu' ELSE 'Talk to a person' END))));
    END IF;

    -- Several named, or none: a list of them, else of what is in stock.
    SELECT jsonb_agg(jsonb_build_object('id', 'buy:' || p.id, 'title', left(p.name, 24),
                                        'description', left(alphadome._price_words(p.price, p.currency), 72))
                     ORDER BY p.price, p.id)
      INTO rows
      FROM (SELECT p.* FROM alphadome.products p
              JOIN alphadome.match_products(_sell.tenant_id, said, 10) mp ON mp.product_id = p.id
             WHERE p.bot_tenant_id = _sell.tenant_id AND p.in_stock
            UNION ALL
            SELECT * FROM (SELECT p.* FROM alphadome.products p
                            WHERE p.bot_tenant_id = _sell.tenant_id AND p.is_active AND p.in_stock
                              AND NOT EXISTS (SELECT FROM alphadome.match_products(_sell.tenant_id, said, 1) x
                                               JOIN alphadome.products q ON q.id = x.product_id
                                              WHERE q.bot_tenant_id = _sell.tenant_id AND q.in_stock)
                            ORDER BY p.price, p.id LIMIT 10) everything) p;
    IF rows IS NULL THEN
        RETURN alphadome._queue_answer(m, c, CASE WHEN swahili
            THEN 'Tuambie unachotaka kununua, na mtu wa timu yetu atakusaidia.'
            ELSE 'Tell us what you would like to buy and a member of our team will help you.' END);
    END IF;
    RETURN alphadome._queue_answer(m, c,
        CASE WHEN swahili THEN 'Ungependa kununua ipi?' ELSE 'Which one would you like to buy?' END,
        jsonb_build_object('type', 'list', 'button', CASE WHEN swahili THEN 'Chagua' ELSE 'Choose' END, 'rows', rows));
END
$$;

-- ---- M-Pesa (Safaricom Daraja's STK push) ---------------------------------------------------------

-- Sets a tenant's M-Pesa credentials (operator only): the Daraja app's consumer key and secret
-- and the shortcode's passkey, encrypted and audited like the other credentials, and a new random
-- callback token (the callback URL's secret part; the previous one stops working). environment:
-- sandbox or production. callback_addresses: callbacks are taken only from these (NULL: any).
-- The shortcode, paybill or till, and the amount limit are settings (bot_control_settings).
CREATE OR REPLACE FUNCTION alphadome.set_mpesa_credentials(tenant_id uuid, consumer_key text, consumer_secret text,
                                                           passkey text, environment text DEFAULT 'production',
                                                           callback_addresses inet[] DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    token text := alphadome._random_token();
    credential text;
BEGIN
    IF NOT EXISTS (SELECT FROM alphadome.bot_tenants t WHERE t.id = set_mpesa_credentials.tenant_id) THEN
        RAISE EXCEPTION 'no tenant with id %', set_mpesa_credentials.tenant_id USING ERRCODE = 'P0002';
    END IF;
    IF consumer_key IS NULL OR consumer_secret IS NULL OR passkey IS NULL THEN
        RAISE EXCEPTION 'consumer_key, consumer_secret and passkey are all required' USING ERRCODE = '22004';
    END IF;
    INSERT INTO alphadome.mpesa_accounts AS a (bot_tenant_id, environment, consumer_key, consumer_secret, passkey,
                                               callback_token, callback_token_sha256, callback_addresses)
    VALUES (set_mpesa_credentials.tenant_id, set_mpesa_credentials.environment,
            alphadome._encrypt_credential(set_mpesa_credentials.tenant_id, 'mpesa_consumer_key', set_mpesa_credentials.consumer_key),
            alphadome._encrypt_credential(set_mpesa_credentials.tenant_id, 'mpesa_consumer_secret', set_mpesa_credentials.consumer_secret),
            alphadome._encrypt_credential(set_mpesa_credentials.tenant_id, 'mpesa_passkey', set_mpesa_credentials.passkey),
            alphadome._encrypt_credential(set_mpesa_credentials.tenant_id, 'mpesa_callback_token', token),
            sha256(convert_to(token, 'UTF8')), set_mpesa_credentials.callback_addresses)
    ON CONFLICT (bot_tenant_id) DO UPDATE
       SET environment = EXCLUDED.environment, consumer_key = EXCLUDED.consumer_key,
           consumer_secret = EXCLUDED.consumer_secret, passkey = EXCLUDED.passkey,
           callback_token = EXCLUDED.callback_token, callback_token_sha256 = EXCLUDED.callback_token_sha256,
           callback_addresses = EXCLUDED.callback_addresses, updated_at = now();
    FOREACH credential IN ARRAY ARRAY['mpesa_consumer_key', 'mpesa_consumer_secret', 'mpesa_passkey', 'mpesa_callback_token'] LOOP
        PERFORM alphadome._audit_credential_access(set_mpesa_credentials.tenant_id, credential,
                                                   'set_mpesa_credentials: a new value', NULL);
    END LOOP;
END
$$;

-- The customer chose to pay an order by M-Pesa (he pressed the button just now). A push is
-- queued (a payments row and a payment.stk_push job) when the shop's M-Pesa is set up, his
-- number is a Kenyan mobile, no other push for the order is open, and the amount is whole
-- shillings within the shop's limit; otherwise he is told why, and a person is alerted when one
-- must help. Returns how many jobs it queued.
CREATE OR REPLACE FUNCTION alphadome._pay_by_mpesa(m alphadome.messages, c alphadome.conversations,
                                                   ordered alphadome.orders, swahili boolean) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settings  record;
    amount    text := alphadome._price_words(ordered.total, ordered.currency);
    payment   bigint;
    why       text;
BEGIN
    SELECT s.mpesa_shortcode, s.max_payment_amount, t.client_name,
           EXISTS (SELECT FROM alphadome.mpesa_accounts a WHERE a.bot_tenant_id = s.bot_tenant_id) AS has_mpesa
      INTO settings
      FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id
     WHERE s.bot_tenant_id = m.bot_tenant_id;
    IF EXISTS (SELECT FROM alphadome.payments p
                WHERE p.bot_tenant_id = ordered.bot_tenant_id AND p.order_id = ordered.id
                  AND p.status IN ('requested', 'pending')) THEN
        RETURN alphadome._queue_answer(m, c, CASE WHEN swahili
            THEN 'Ombi la malipo la oda ' || ordered.reference || ' liko kwenye simu yako: weka PIN yako ya M-Pesa.'
            ELSE 'A payment request for order ' || ordered.reference || ' is already on your phone: enter your M-Pesa PIN there.' END);
    END IF;
    why := CASE
        WHEN NOT settings.has_mpesa OR settings.mpesa_shortcode IS NULL THEN 'the shop''s M-Pesa is not set up'
        WHEN ordered.currency <> 'KES' THEN 'the order is not in Kenya shillings'
        WHEN ordered.total <> trunc(ordered.total) THEN 'the amount is not whole shillings'
        WHEN ordered.total > settings.max_payment_amount THEN 'the amount is above the shop''s limit for M-Pesa in the chat'
        WHEN coalesce(c.wa_id, '') !~ '^254(7|1)[0-9]{8}$' THEN 'the customer''s number is not a Kenyan mobile'
    END;
    IF why IS NOT NULL THEN
        RETURN alphadome._queue_answer(m, c, CASE WHEN swahili
                THEN 'Asante! Mtu wa timu yetu atakutumia maelezo ya kulipa ' || amount || ' kwa M-Pesa kwa oda ' || ordered.reference || '.'
                ELSE 'Thank you! A member of our team will send you the M-Pesa details to pay ' || amount
                     || ' for order ' || ordered.reference || '.' END)
             + alphadome._alert(m.bot_tenant_id, 'payment',
                   settings.client_name || ': +' || c.customer_key || ' wants to pay order ' || ordered.reference
                   || ' (' || amount || ') by M-Pesa, and no push could be sent (' || why || '): send the payment details.',
                   NULL, now(), c.id);
    END IF;
    INSERT INTO alphadome.payments (bot_tenant_id, order_id, amount, phone)
    VALUES (ordered.bot_tenant_id, ordered.id, ordered.total, c.wa_id)
    RETURNING id INTO payment;
    INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, max_attempts)
    VALUES (ordered.bot_tenant_id, 'payment.stk_push',
            jsonb_build_object('payment_id', payment, 'order_id', ordered.id, 'conversation_id', c.id), 3);
    RETURN 1 + alphadome._queue_answer(m, c, CASE WHEN swahili
        THEN 'Tunatuma ombi la M-Pesa la ' || amount || ' kwenye simu yako sasa: weka PIN yako kulipa oda ' || ordered.reference || '.'
        ELSE 'We are sending an M-Pesa request for ' || amount || ' to your phone now: enter your PIN to pay order '
             || ordered.reference || '.' END);
END
$$;

-- The bot's labels (issue 26): a customer who asked about the shop's products, or chose one,
-- gets "asked about <category>" for the category of each product his message named, so that a
-- campaign can pick him ("asked about keyboards"). The labels he has are kept; none is added
-- past the 50 a customer may have.
CREATE OR REPLACE FUNCTION alphadome._label_interest(tenant_id uuid, message_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m     alphadome.messages;
    asked text[];
BEGIN
    SELECT * INTO m FROM alphadome.messages x WHERE x.bot_tenant_id = _label_interest.tenant_id AND x.id = _label_interest.message_id;
    asked := ARRAY(
        SELECT DISTINCT left('asked about ' || lower(btrim(p.category)), 40)
          FROM alphadome.products p
         WHERE p.bot_tenant_id = _label_interest.tenant_id AND p.category IS NOT NULL
           AND (p.id IN (SELECT mp.product_id
                           FROM alphadome.match_products(_label_interest.tenant_id, coalesce(m.body, m.transcript, ''), 3) mp)
                OR (m.choice ->> 'id') = 'buy:' || p.id));
    IF cardinality(asked) = 0 THEN
        RETURN;
    END IF;
    UPDATE alphadome.conversations c
       SET labels = ARRAY(SELECT DISTINCT l FROM unnest(c.labels || asked) l ORDER BY 1)
     WHERE c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
       AND NOT c.labels @> asked
       AND (SELECT count(DISTINCT l) FROM unnest(c.labels || asked) l) <= 50;
END
$$;

-- What a payment job needs when it is claimed: the tenant's M-Pesa settings and credentials
-- (decrypted now, each audited) and the payment. A push is made only within five minutes of the
-- customer's press: older, the payment fails and the job is refused (22023, a dead letter).
CREATE OR REPLACE FUNCTION alphadome._payment_context(tenant_id uuid, job_id bigint, kind text, payload jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a        alphadome.mpesa_accounts;
    s        record;
    p        alphadome.payments;
    o        alphadome.orders;
    credential text;
BEGIN
    SELECT * INTO p FROM alphadome.payments x
     WHERE x.bot_tenant_id = _payment_context.tenant_id AND x.id = (payload ->> 'payment_id')::bigint;
    SELECT * INTO o FROM alphadome.orders x WHERE x.bot_tenant_id = _payment_context.tenant_id AND x.id = p.order_id;
    SELECT * INTO a FROM alphadome.mpesa_accounts x WHERE x.bot_tenant_id = _payment_context.tenant_id;
    SELECT t.slug, st.mpesa_shortcode, st.mpesa_transaction_type, st.mpesa_till_number, t.client_name INTO s
      FROM alphadome.bot_tenants t JOIN alphadome.bot_control_settings st ON st.bot_tenant_id = t.id
     WHERE t.id = _payment_context.tenant_id;
    IF p.id IS NULL OR a.bot_tenant_id IS NULL OR s.mpesa_shortcode IS NULL THEN
        RAISE EXCEPTION 'payment job %: no such payment, or the tenant''s M-Pesa is not set up', job_id USING ERRCODE = '22023';
    END IF;
    -- (claim_jobs' dead letter of a payment job fails its payment: _payment_job_failed.)
    IF kind = 'payment.stk_push' AND (p.status <> 'requested' OR o.pay_chosen_at IS NULL OR o.pay_chosen_at < now() - interval '5 minutes') THEN
        RAISE EXCEPTION 'payment %: not pushed, the customer pressed pay more than five minutes ago', p.id USING ERRCODE = '22023';
    END IF;
    IF kind = 'payment.stk_push' AND p.phone IS NULL THEN
        RAISE EXCEPTION 'payment %: not pushed, the customer was erased (forget_customer)', p.id USING ERRCODE = '22023';
    END IF;
    FOREACH credential IN ARRAY ARRAY['mpesa_consumer_key', 'mpesa_consumer_secret', 'mpesa_passkey', 'mpesa_callback_token'] LOOP
        PERFORM alphadome._audit_credential_access(_payment_context.tenant_id, credential, kind, job_id);
    END LOOP;
    RETURN jsonb_build_object('mpesa', jsonb_build_object(
        'environment', a.environment,
        'consumer_key', alphadome._decrypt_credential(a.bot_tenant_id, 'mpesa_consumer_key', a.consumer_key),
        'consumer_secret', alphadome._decrypt_credential(a.bot_tenant_id, 'mpesa_consumer_secret', a.consumer_secret),
        'passkey', alphadome._decrypt_credential(a.bot_tenant_id, 'mpesa_passkey', a.passkey),
        'callback_path', s.slug || '/' || alphadome._decrypt_credential(a.bot_tenant_id, 'mpesa_callback_token', a.callback_token),
        'shortcode', s.mpesa_shortcode,
        'transaction_type', s.mpesa_transaction_type,
        -- A till (buy goods) is paid to its till number; a paybill to its shortcode.
        'party_b', CASE WHEN s.mpesa_transaction_type = 'CustomerBuyGoodsOnline'
                        THEN coalesce(s.mpesa_till_number, s.mpesa_shortcode) ELSE s.mpesa_shortcode END,
        'amount', trunc(p.amount)::bigint,
        'phone', p.phone,
        'reference', o.reference,
        'description', left('Order ' || o.reference, 13),
        'checkout_request_id', p.checkout_request_id));
END
$$;

-- What a payment job's result means. payment.stk_push: {"merchant_request_id",
-- "checkout_request_id"} of an accepted push (the PIN prompt is on the phone: pending, and a
-- query in 90 seconds in case the callback never comes), or {"response_code", "response_desc"}
-- of a refused one. payment.query: {"result_code", "result_desc"} once M-Pesa knows, or
-- {"pending": true} while the customer has not answered (asked again in 30 seconds, ten times).
CREATE OR REPLACE FUNCTION alphadome._payment_result(tenant_id uuid, kind text, payload jsonb, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p alphadome.payments;
    tries integer := coalesce((payload ->> 'tries')::integer, 0);
BEGIN
    SELECT * INTO p FROM alphadome.payments x
     WHERE x.bot_tenant_id = _payment_result.tenant_id AND x.id = (payload ->> 'payment_id')::bigint FOR UPDATE;
    IF p.id IS NULL OR p.status NOT IN ('requested', 'pending') THEN
        RETURN;  -- settled already (its callback came first)
    END IF;
    IF kind = 'payment.stk_push' THEN
        IF result ? 'checkout_request_id' THEN
            UPDATE alphadome.payments x
               SET status = 'pending', checkout_request_id = result ->> 'checkout_request_id',
                   merchant_request_id = result ->> 'merchant_request_id'
             WHERE x.bot_tenant_id = p.bot_tenant_id AND x.id = p.id;
            INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, run_at)
            VALUES (p.bot_tenant_id, 'payment.query', payload || jsonb_build_object('tries', 0), now() + interval '90 seconds');
        ELSE
            PERFORM alphadome._payment_settled(p.bot_tenant_id, p.id, NULL,
                        coalesce(result ->> 'response_desc', 'M-Pesa refused the request'), NULL, NULL);
        END IF;
    ELSIF result ->> 'pending' = 'true' THEN
        IF tries >= 10 THEN
            PERFORM alphadome._payment_settled(p.bot_tenant_id, p.id, 1037, 'no answer from M-Pesa', NULL, NULL);
        ELSE
            INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, run_at)
            VALUES (p.bot_tenant_id, 'payment.query', payload || jsonb_build_object('tries', tries + 1),
                    now() + interval '30 seconds');
        END IF;
    ELSE
        -- The query says what the callback would have; a paid one has no receipt in the query's
        -- answer, so it is recorded paid without one.
        PERFORM alphadome._payment_settled(p.bot_tenant_id, p.id, alphadome._result_code(result -> 'result_code'),
                                           result ->> 'result_desc', NULL, NULL);
    END IF;
END
$$;

-- M-Pesa's ResultCode, which comes as a number or a string ("1032"); NULL when it is neither.
CREATE OR REPLACE FUNCTION alphadome._result_code(code jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(code) IN ('number', 'string') AND (code #>> '{}') ~ '^-?[0-9]{1,9}$'
            THEN (code #>> '{}')::integer END;

-- Whether the customer wrote in Swahili: his words, or a Swahili button he pressed (its title is
-- what the message holds).
CREATE OR REPLACE FUNCTION alphadome._said_in_swahili(said text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN coalesce(alphadome._message_language(said) = 'sw'
                OR said IN ('Lipa kwa M-Pesa', 'Lipa dukani', 'Ongea na mtu', 'Jaribu tena'), false);

-- What the customer reads for an M-Pesa ResultCode, in English or Swahili.
CREATE OR REPLACE FUNCTION alphadome._payment_words(result_code integer, swahili boolean) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN swahili THEN CASE result_code
    WHEN 1 THEN 'Malipo hayakufaulu: salio lako la M-Pesa halitoshi. Ongeza salio kisha ujaribu tena.'
    WHEN 1001 THEN 'Kuna malipo mengine ya M-Pesa yanayoendelea kwenye simu yako. Subiri kidogo kisha ujaribu tena.'
    WHEN 1019 THEN 'Ombi la M-Pesa liliisha muda kabla halijajibiwa. Jaribu tena ukiwa tayari.'
    WHEN 1032 THEN 'Umesitisha ombi la M-Pesa. Jaribu tena ukiwa tayari.'
    WHEN 1037 THEN 'Hatukuweza kufikia simu yako kwa ombi la M-Pesa. Hakikisha simu iko wazi na ina mtandao, kisha ujaribu tena.'
    WHEN 2001 THEN 'PIN ya M-Pesa haikuwa sahihi. Jaribu tena.'
    ELSE 'Malipo ya M-Pesa hayakufaulu. Jaribu tena, au ongea na mtu.' END
  ELSE CASE result_code
    WHEN 1 THEN 'The payment did not go through: your M-Pesa balance is not enough. Top up and try again.'
    WHEN 1001 THEN 'Another M-Pesa payment is in progress on your phone. Wait a moment and try again.'
    WHEN 1019 THEN 'The M-Pesa request expired before it was answered. Try again when you are ready.'
    WHEN 1032 THEN 'You cancelled the M-Pesa request. Try again when you are ready.'
    WHEN 1037 THEN 'We could not reach your phone with the M-Pesa request. Check that it is on and has signal, then try again.'
    WHEN 2001 THEN 'The M-Pesa PIN was wrong. Try again.'
    ELSE 'The M-Pesa payment did not go through. Try again, or talk to a person.' END END;

-- A payment's outcome, however it came (callback, query, a refused push): result code 0 with the
-- order's amount and phone → paid (the order too; the customer gets the receipt number, the owner
-- an alert); 0 with another amount or phone → flagged (the order is not paid; a person is
-- alerted); anything else → failed (the order too; the customer is told in plain words, with a
-- button to try again). A payment already settled is left as it is. Its queued query goes.
CREATE OR REPLACE FUNCTION alphadome._payment_settled(tenant_id uuid, payment_id bigint, result_code integer,
                                                      result_desc text, receipt text, callback jsonb,
                                                      paid_amount numeric DEFAULT NULL, paid_phone text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p   alphadome.payments;
    o   alphadome.orders;
    c   alphadome.conversations;
    client text;
    outcome text;
    swahili boolean;
BEGIN
    SELECT * INTO p FROM alphadome.payments x
     WHERE x.bot_tenant_id = _payment_settled.tenant_id AND x.id = _payment_settled.payment_id FOR UPDATE;
    IF p.id IS NULL OR p.status NOT IN ('requested', 'pending') THEN
        RETURN;
    END IF;
    SELECT * INTO o FROM alphadome.orders x WHERE x.bot_tenant_id = p.bot_tenant_id AND x.id = p.order_id FOR UPDATE;
    SELECT * INTO c FROM alphadome.conversations x WHERE x.bot_tenant_id = o.bot_tenant_id AND x.id = o.conversation_id;
    client := (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = p.bot_tenant_id);
    -- In the language of his last message (the pay button he pressed, most often).
    swahili := alphadome._said_in_swahili((SELECT coalesce(x.body, x.transcript) FROM alphadome.messages x
                                            WHERE x.bot_tenant_id = c.bot_tenant_id AND x.conversation_id = c.id
                                              AND x.direction = 'inbound'
                                            ORDER BY x.id DESC LIMIT 1));
    outcome := CASE WHEN result_code = 0 AND (paid_amount IS DISTINCT FROM NULL AND paid_amount <> p.amount
                                              OR paid_phone IS DISTINCT FROM NULL AND paid_phone <> p.phone) THEN 'flagged'
                    WHEN result_code = 0 THEN 'paid'
                    ELSE 'failed' END;
    UPDATE alphadome.payments x
       SET status = outcome, result_code = _payment_settled.result_code, result_desc = left(_payment_settled.result_desc, 1000),
           receipt = left(_payment_settled.receipt, 100),
           -- An erased customer's (no phone any more): his number is not kept from the callback.
           callback = CASE WHEN x.phone IS NOT NULL THEN coalesce(_payment_settled.callback, x.callback) END
     WHERE x.bot_tenant_id = p.bot_tenant_id AND x.id = p.id;
    UPDATE alphadome.outbox q SET status = 'done', result = jsonb_build_object('by', 'settled'), lease_until = NULL
     WHERE q.bot_tenant_id = p.bot_tenant_id AND q.kind = 'payment.query' AND q.status = 'queued'
       AND (q.payload ->> 'payment_id')::bigint = p.id;
    IF outcome = 'paid' THEN
        UPDATE alphadome.orders x SET status = 'paid' WHERE x.bot_tenant_id = o.bot_tenant_id AND x.id = o.id;
        PERFORM alphadome._tell_customer(c, CASE WHEN swahili
            THEN 'Malipo yamepokelewa: ' || alphadome._price_words(p.amount, o.currency) || ' kwa oda ' || o.reference
                 || coalesce('. Risiti ya M-Pesa ' || _payment_settled.receipt, '') || '. Asante!'
            ELSE 'Payment received: ' || alphadome._price_words(p.amount, o.currency) || ' for order ' || o.reference
                 || coalesce('. M-Pesa receipt ' || _payment_settled.receipt, '') || '. Thank you!' END);
        PERFORM alphadome._alert(p.bot_tenant_id, 'payment',
            client || ': order ' || o.reference || ' is paid, ' || alphadome._price_words(p.amount, o.currency)
            || ' by M-Pesa from ' || coalesce('+' || p.phone, 'a customer since erased') || coalesce(' (receipt ' || _payment_settled.receipt || ')', '') || '.',
            'paid:' || o.id, now(), c.id);
    ELSIF outcome = 'flagged' THEN
        PERFORM alphadome._alert(p.bot_tenant_id, 'payment',
            client || ': an M-Pesa callback for order ' || o.reference || ' does not match it (paid '
            || coalesce(paid_amount::text, '?') || ' from +' || coalesce(paid_phone, '?') || ', asked '
            || p.amount::text || ' from ' || coalesce('+' || p.phone, 'a customer since erased') || '); the order is not marked paid. Check the M-Pesa statement.',
            NULL, now(), c.id);
    ELSE
        UPDATE alphadome.orders x SET status = 'failed' WHERE x.bot_tenant_id = o.bot_tenant_id AND x.id = o.id
           AND x.status = 'awaiting_payment';
        PERFORM alphadome._tell_customer(c, alphadome._payment_words(result_code, swahili),
            jsonb_build_object('type', 'button', 'buttons', jsonb_build_array(
                jsonb_build_object('id', 'pay_mpesa:' || o.id, 'title', CASE WHEN swahili THEN 'Jaribu tena' ELSE 'Try again' END),
                jsonb_build_object('id', 'talk_person', 'title', CASE WHEN swahili THEN 'Ongea na mtu' ELSE 'Talk to a person' END))));
    END IF;
    PERFORM alphadome._wake_worker();
END
$$;

-- An M-Pesa callback (POST /mpesa/{slug}/{token} on the relay): false, and nothing written, when
-- the slug and token are not a tenant's (or the sender's address is not on its list: the relay
-- then answers 404); else true, and the payment it names (by CheckoutRequestID, the tenant's own)
-- is settled once with the raw callback (_payment_settled: amount and phone checked against the
-- payment). A callback for no known payment, or a second one, changes nothing.
CREATE OR REPLACE FUNCTION alphadome.mpesa_callback(slug text, token text, body jsonb, sender inet DEFAULT NULL)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    tenant    uuid;
    allowed   inet[];
    stk       jsonb := body #> '{Body,stkCallback}';
    items     jsonb;
    payment   bigint;
BEGIN
    SELECT a.bot_tenant_id, a.callback_addresses INTO tenant, allowed
      FROM alphadome.mpesa_accounts a JOIN alphadome.bot_tenants t ON t.id = a.bot_tenant_id
     WHERE t.slug = mpesa_callback.slug AND t.is_active
       AND a.callback_token_sha256 = sha256(convert_to(coalesce(mpesa_callback.token, ''), 'UTF8'));
    IF tenant IS NULL OR (allowed IS NOT NULL AND (sender IS NULL OR NOT sender <<= ANY (allowed))) THEN
        RETURN false;
    END IF;
    SELECT p.id INTO payment FROM alphadome.payments p
     WHERE p.bot_tenant_id = tenant AND p.checkout_request_id = stk ->> 'CheckoutRequestID';
    items := coalesce(stk #> '{CallbackMetadata,Item}', '[]');
    IF jsonb_typeof(items) IS DISTINCT FROM 'array' THEN
        items := '[]';
    END IF;
    IF payment IS NULL THEN
        -- Money that came for no payment the bot waits for (a push whose answer was lost: it
        -- was taken as failed, yet the PIN prompt reached the phone): nothing is settled, but
        -- the owner is told, once per CheckoutRequestID, so no payment goes unnoticed.
        IF alphadome._result_code(stk -> 'ResultCode') = 0 THEN
            PERFORM alphadome._alert(tenant, 'payment',
                'An M-Pesa payment came for no order the bot is waiting for (its request may have timed out): '
                || coalesce((SELECT i ->> 'Value' FROM jsonb_array_elements(items) i WHERE i ->> 'Name' = 'Amount'), '?')
                || ' from +' || coalesce((SELECT i ->> 'Value' FROM jsonb_array_elements(items) i WHERE i ->> 'Name' = 'PhoneNumber'), '?')
                || coalesce(' (receipt ' || (SELECT i ->> 'Value' FROM jsonb_array_elements(items) i
                                              WHERE i ->> 'Name' = 'MpesaReceiptNumber') || ')', '')
                || '. Check your M-Pesa statement and tell the customer.',
                'unknown:' || left(coalesce(stk ->> 'CheckoutRequestID', ''), 200), now(), NULL);
        END IF;
        RETURN true;
    END IF;
    PERFORM alphadome._payment_settled(tenant, payment, coalesce(alphadome._result_code(stk -> 'ResultCode'), -1),
        stk ->> 'ResultDesc',
        (SELECT i ->> 'Value' FROM jsonb_array_elements(CASE jsonb_typeof(items) WHEN 'array' THEN items ELSE '[]' END) i
          WHERE i ->> 'Name' = 'MpesaReceiptNumber'),
        body,
        -- A success without an amount is not taken as the order's: -1 flags it.
        coalesce((SELECT CASE WHEN (i ->> 'Value') ~ '^[0-9]{1,10}(\.[0-9]{1,2})?$' THEN (i ->> 'Value')::numeric END
                    FROM jsonb_array_elements(CASE jsonb_typeof(items) WHEN 'array' THEN items ELSE '[]' END) i
                   WHERE i ->> 'Name' = 'Amount'), -1),
        (SELECT i ->> 'Value' FROM jsonb_array_elements(CASE jsonb_typeof(items) WHEN 'array' THEN items ELSE '[]' END) i
          WHERE i ->> 'Name' = 'PhoneNumber'));
    RETURN true;
END
$$;

-- A payment job that failed for good: the payment fails, and the customer is told.
CREATE OR REPLACE FUNCTION alphadome._payment_job_failed(tenant_id uuid, payload jsonb, error jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM alphadome._payment_settled(tenant_id, (payload ->> 'payment_id')::bigint, NULL,
                                       left('not paid: ' || coalesce(error ->> 'message', 'error'), 1000), NULL, NULL);
END
$$;

-- Campaigns (0.3.0, issue 26): one of the shop's approved templates to the customers who agreed
-- to hear from it, chosen by labels and last contact, within the number's messaging limit and a
-- throughput, each customer at most once; with what became of every message.
-- docs/design.md, "Campaigns", has the rules; docs/sql-api.md the functions.

-- ---- consent and labels ----------------------------------------------------------------------

-- Whether a customer may get marketing now: consent given, not withdrawn since (STOP or an
-- opt-out word withdraws it, and a later START does not give it back), and not opted out.
CREATE OR REPLACE FUNCTION alphadome._has_marketing_consent(c alphadome.conversations) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN c.marketing_consent_at IS NOT NULL AND c.opted_out_at IS NULL
           AND (c.marketing_withdrawn_at IS NULL OR c.marketing_withdrawn_at < c.marketing_consent_at);

-- Records the answers to the opt-in question: a customer asked (marketing_asked_at) whose first
-- message after it, within 7 days, is one of the shop's yes-words (marketing_opt_in_words, with
-- nothing else) consented then, in those words. Nothing for a customer who opted out since.
-- Run before an audience is counted (campaign_preview, start_campaign): the message path pays
-- nothing for it. Returns how many consents it recorded.
CREATE OR REPLACE FUNCTION alphadome._collect_consent_answers(tenant_id uuid) RETURNS integer
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH answers AS (
        SELECT DISTINCT ON (c.id) c.id AS conversation_id, m.created_at, m.body,
               lower(btrim(m.body)) = ANY (SELECT lower(btrim(w)) FROM unnest(s.marketing_opt_in_words) w) AS yes
          FROM alphadome.conversations c
          JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = c.bot_tenant_id
          JOIN alphadome.messages m ON m.bot_tenant_id = c.bot_tenant_id AND m.conversation_id = c.id
         WHERE c.bot_tenant_id = _collect_consent_answers.tenant_id
           AND c.marketing_asked_at IS NOT NULL
           AND (c.marketing_consent_at IS NULL OR c.marketing_consent_at < c.marketing_asked_at)
           AND c.opted_out_at IS NULL
           AND m.direction = 'inbound' AND m.created_at > c.marketing_asked_at
           AND m.created_at < c.marketing_asked_at + interval '7 days'
         ORDER BY c.id, m.created_at, m.id
    ), recorded AS (
        UPDATE alphadome.conversations c
           SET marketing_consent_at = a.created_at,
               marketing_consent_source = left('answered "' || btrim(a.body) || '" to the opt-in question', 200)
          FROM answers a
         WHERE c.bot_tenant_id = _collect_consent_answers.tenant_id AND c.id = a.conversation_id AND a.yes
           AND (c.marketing_withdrawn_at IS NULL OR c.marketing_withdrawn_at < a.created_at)
        RETURNING 1
    )
    SELECT count(*)::integer FROM recorded;
END;

-- Asks a customer the shop's opt-in question (marketing_opt_in_question), as a text inside the
-- 24-hour window; the answer is recorded as consent when it is one of the shop's yes-words.
-- The bot keeps the conversation. Returns the job's id.
CREATE OR REPLACE FUNCTION alphadome.ask_marketing_consent(conversation_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(ask_marketing_consent.conversation_id);
    question text;
    job bigint;
BEGIN
    IF c.opted_out_at IS NOT NULL THEN
        RAISE EXCEPTION 'this customer opted out: nothing is sent until they write START again'
            USING ERRCODE = '22023';
    ELSIF c.last_inbound_at IS NULL OR c.last_inbound_at < now() - interval '24 hours' THEN
        RAISE EXCEPTION 'outside the 24-hour window: the question can be asked when the customer writes next'
            USING ERRCODE = '22023';
    END IF;
    SELECT s.marketing_opt_in_question INTO question
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = c.bot_tenant_id;
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload)
    VALUES (c.bot_tenant_id, 'reply.send',
            jsonb_build_object('to', c.wa_id, 'recipient', c.bsuid, 'customer', c.customer_key::text,
                               'conversation_id', c.id, 'text', question))
    RETURNING o.id INTO job;
    UPDATE alphadome.conversations cv SET marketing_asked_at = now()
     WHERE cv.bot_tenant_id = c.bot_tenant_id AND cv.id = c.id;
    PERFORM alphadome._wake_worker();
    RETURN job;
END
$$;

-- Consent the shop collected elsewhere (a paper form, its website), for these customers' numbers,
-- with where it came from. A customer who opted out (STOP) is skipped: that stays absolute. A
-- customer the shop has no conversation with yet gets one. Returns {"recorded", "opted_out",
-- "not_a_number"}.
CREATE OR REPLACE FUNCTION alphadome.import_marketing_consent(numbers text[], source text,
                                                              consented_at timestamptz DEFAULT now())
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := alphadome._require_tenant();
    country text;
    said text := btrim(coalesce(source, ''));
    keys text[];
    recorded integer;
    opted_out integer;
BEGIN
    IF length(said) NOT BETWEEN 1 AND 180 THEN
        RAISE EXCEPTION 'say where the consent comes from (1-180 characters): "signed form at the shop, 2026-11"'
            USING ERRCODE = '22023';
    ELSIF consented_at IS NULL OR consented_at > now() THEN
        RAISE EXCEPTION 'consented_at is when the customers agreed: not empty, not in the future' USING ERRCODE = '22023';
    ELSIF coalesce(cardinality(numbers), 0) > 100000 THEN
        RAISE EXCEPTION 'at most 100000 numbers at a time' USING ERRCODE = '22023';
    END IF;
    SELECT t.country_code INTO country FROM alphadome.bot_tenants t WHERE t.id = tenant;
    keys := ARRAY(SELECT DISTINCT k FROM unnest(numbers) n, alphadome._customer_key(n, country) k
                   WHERE k ~ '^[1-9][0-9]{7,14}$');
    INSERT INTO alphadome.conversations AS cv (bot_tenant_id, customer_key, wa_id)
    SELECT tenant, k, k FROM unnest(keys) k
    ON CONFLICT (bot_tenant_id, customer_key) DO NOTHING;
    SELECT count(*) FILTER (WHERE c.opted_out_at IS NOT NULL) INTO opted_out
      FROM alphadome.conversations c WHERE c.bot_tenant_id = tenant AND c.customer_key = ANY (keys);
    UPDATE alphadome.conversations c
       SET marketing_consent_at = import_marketing_consent.consented_at,
           marketing_consent_source = 'imported: ' || said
     WHERE c.bot_tenant_id = tenant AND c.customer_key = ANY (keys) AND c.opted_out_at IS NULL
       AND (c.marketing_withdrawn_at IS NULL OR c.marketing_withdrawn_at < import_marketing_consent.consented_at);
    GET DIAGNOSTICS recorded = ROW_COUNT;
    RETURN jsonb_build_object('recorded', recorded, 'opted_out', opted_out,
                              'not_a_number', (SELECT count(*) FROM unnest(numbers) n
                                                WHERE coalesce(alphadome._customer_key(n, country) !~ '^[1-9][0-9]{7,14}$', true)));
END
$$;

-- A customer's labels, as the shop writes them: trimmed, lower case, 1-40 characters each, at
-- most 50. Replaces the customer's labels; returns them.
CREATE OR REPLACE FUNCTION alphadome.set_customer_labels(conversation_id bigint, labels text[]) RETURNS text[]
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c alphadome.conversations := alphadome._own_conversation(set_customer_labels.conversation_id);
    cleaned text[] := alphadome._clean_labels(labels);
BEGIN
    UPDATE alphadome.conversations cv SET labels = cleaned WHERE cv.bot_tenant_id = c.bot_tenant_id AND cv.id = c.id;
    RETURN cleaned;
END
$$;

-- Labels as they are kept (22023 for one that cannot be).
CREATE OR REPLACE FUNCTION alphadome._clean_labels(labels text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    cleaned text[] := ARRAY(SELECT DISTINCT lower(btrim(l)) FROM unnest(labels) l WHERE btrim(coalesce(l, '')) <> ''
                             ORDER BY 1);
BEGIN
    IF cardinality(cleaned) > 50 THEN
        RAISE EXCEPTION 'at most 50 labels' USING ERRCODE = '22023';
    ELSIF EXISTS (SELECT FROM unnest(cleaned) l WHERE length(l) > 40) THEN
        RAISE EXCEPTION 'a label has at most 40 characters' USING ERRCODE = '22023';
    END IF;
    RETURN cleaned;
END
$$;

-- ---- campaigns ---------------------------------------------------------------------------------

-- A template parameter as one customer reads it: {name} (the name WhatsApp gave, else "there"),
-- {first_name}, {phone} (+ and digits) put in.
CREATE OR REPLACE FUNCTION alphadome._campaign_parameter(parameter text, c alphadome.conversations) RETURNS text
    LANGUAGE sql STABLE
    RETURN replace(replace(replace(parameter,
               '{name}', coalesce(nullif(btrim(c.customer_name), ''), 'there')),
               '{first_name}', coalesce(nullif(split_part(btrim(c.customer_name), ' ', 1), ''), 'there')),
               '{phone}', CASE WHEN c.wa_id IS NOT NULL THEN '+' || c.wa_id ELSE '' END);

-- A campaign (draft): the template (which must be the shop's and take exactly these
-- parameters), the parameters with their placeholders, the audience (customers with any of
-- these labels, none: all; who wrote within contacted_within), and when to send (NULL: when
-- started). Returns its id.
CREATE OR REPLACE FUNCTION alphadome.create_campaign(name text, template_name text, template_language text,
                                                     parameters text[] DEFAULT '{}', labels text[] DEFAULT '{}',
                                                     contacted_within interval DEFAULT NULL,
                                                     scheduled_at timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := alphadome._require_tenant();
    t alphadome.whatsapp_templates;
    wanted integer;
    id bigint;
BEGIN
    IF btrim(coalesce(name, '')) = '' OR length(btrim(name)) > 200 THEN
        RAISE EXCEPTION 'a campaign needs a name (1-200 characters)' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO t FROM alphadome.whatsapp_templates w
     WHERE w.bot_tenant_id = tenant AND w.name = create_campaign.template_name AND w.language = create_campaign.template_language;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the shop has no template % in language %', template_name, template_language
            USING ERRCODE = 'P0002', HINT = 'Refresh the templates from WhatsApp (sync_templates).';
    END IF;
    wanted := alphadome._template_parameters(t.body);
    IF coalesce(cardinality(parameters), 0) <> wanted
       OR EXISTS (SELECT FROM unnest(parameters) p WHERE btrim(coalesce(p, '')) = '' OR length(p) > 1000) THEN
        RAISE EXCEPTION 'template % takes % parameters, each with text; % given', t.name, wanted,
                        coalesce(cardinality(parameters), 0)
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO alphadome.campaigns AS k (bot_tenant_id, name, template_name, template_language, parameters, labels,
                                          contacted_within, scheduled_at, created_by)
    VALUES (tenant, btrim(create_campaign.name), t.name, t.language, coalesce(create_campaign.parameters, '{}'),
            alphadome._clean_labels(create_campaign.labels), create_campaign.contacted_within, create_campaign.scheduled_at,
            nullif(current_setting('alphadome.console_account', true), '')::uuid)
    RETURNING k.id INTO id;
    RETURN id;
END
$$;

-- One of the calling tenant's campaigns, locked for the change the caller makes; P0002 when the
-- tenant has none with that id.
CREATE OR REPLACE FUNCTION alphadome._own_campaign(campaign_id bigint) RETURNS alphadome.campaigns
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    k alphadome.campaigns;
BEGIN
    SELECT * INTO k FROM alphadome.campaigns c
     WHERE c.bot_tenant_id = alphadome._require_tenant() AND c.id = _own_campaign.campaign_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no campaign %', campaign_id USING ERRCODE = 'P0002';
    END IF;
    RETURN k;
END
$$;

-- Customers the tenant's campaigns messaged in the last 24 hours, and those about to be
-- (queued or sending): what counts against the messaging limit.
CREATE OR REPLACE FUNCTION alphadome._customers_messaged_24h(tenant_id uuid) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT count(DISTINCT r.conversation_id) FROM alphadome.campaign_recipients r
             WHERE r.bot_tenant_id = _customers_messaged_24h.tenant_id
               AND (r.sent_at > now() - interval '24 hours' OR r.status IN ('queued', 'sending')));

-- Who a campaign would go to now, and who not and why: every customer its labels and last
-- contact pick, with reason NULL (receives it), 'opted_out' (STOP: absolute), 'no_opt_in' (no
-- marketing consent, or withdrawn), or 'beyond_limit' (past the number's messaging limit for
-- the next 24 hours; the most recent customers go first). Customers it went to already are not
-- listed. Internal (campaign_preview, start_campaign).
CREATE OR REPLACE FUNCTION alphadome._campaign_audience(k alphadome.campaigns)
    RETURNS TABLE (conversation_id bigint, reason text, country_code text)
    LANGUAGE sql STABLE
AS $$
    WITH picked AS (
        SELECT c.id, c.wa_id,
               CASE WHEN c.opted_out_at IS NOT NULL THEN 'opted_out'
                    WHEN NOT alphadome._has_marketing_consent(c) THEN 'no_opt_in' END AS reason,
               c.last_inbound_at
          FROM alphadome.conversations c
         WHERE c.bot_tenant_id = k.bot_tenant_id
           AND (cardinality(k.labels) = 0 OR c.labels && k.labels)
           AND (k.contacted_within IS NULL OR c.last_inbound_at >= now() - k.contacted_within)
           AND NOT EXISTS (SELECT FROM alphadome.campaign_recipients r
                            WHERE r.bot_tenant_id = k.bot_tenant_id AND r.campaign_id = k.id AND r.conversation_id = c.id)
    ), room AS (
        SELECT greatest(s.messaging_limit - alphadome._customers_messaged_24h(k.bot_tenant_id), 0) AS left_
          FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = k.bot_tenant_id
    ), ranked AS (
        SELECT p.*, row_number() OVER (ORDER BY p.last_inbound_at DESC NULLS LAST, p.id) AS turn
          FROM picked p WHERE p.reason IS NULL
    )
    SELECT p.id, p.reason, NULL::text FROM picked p WHERE p.reason IS NOT NULL
    UNION ALL
    SELECT r.id, CASE WHEN r.turn > (SELECT left_ FROM room) THEN 'beyond_limit' END,
           (SELECT wp.country_code FROM alphadome.whatsapp_prices wp
             WHERE starts_with(coalesce(r.wa_id, ''), wp.country_code)
             ORDER BY length(wp.country_code) DESC LIMIT 1)
      FROM ranked r
$$;

-- What one message of the campaign's template costs the tenant today, in its currency, to a
-- number of this country calling code: Meta's price for the template's category (marketing
-- unless Meta says otherwise). NULL when no price or exchange rate is known.
CREATE OR REPLACE FUNCTION alphadome._campaign_unit_price(k alphadome.campaigns, country_code text) RETURNS numeric
    LANGUAGE sql STABLE
AS $$
    SELECT p.price * alphadome._per_usd(s.currency, current_date) / alphadome._per_usd(p.currency, current_date)
      FROM alphadome.bot_control_settings s
      CROSS JOIN LATERAL (
          SELECT wp.price, wp.currency FROM alphadome.whatsapp_prices wp
           WHERE wp.country_code = _campaign_unit_price.country_code
             AND wp.category = coalesce((SELECT lower(t.category) FROM alphadome.whatsapp_templates t
                                          WHERE t.bot_tenant_id = k.bot_tenant_id AND t.name = k.template_name
                                            AND t.language = k.template_language
                                            AND lower(t.category) IN ('marketing', 'utility', 'authentication')),
                                        'marketing')
           ORDER BY wp.effective_from <= current_date DESC,
                    CASE WHEN wp.effective_from <= current_date THEN wp.effective_from END DESC, wp.effective_from
           LIMIT 1) p
     WHERE s.bot_tenant_id = k.bot_tenant_id
$$;

-- Before sending: how many customers the campaign reaches, how many it leaves out and why, the
-- messaging limit, and the estimated cost in the tenant's currency (Meta charges per delivered
-- message: the most it can cost). Records the answers to the opt-in question first.
CREATE OR REPLACE FUNCTION alphadome.campaign_preview(campaign_id bigint) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns := alphadome._own_campaign(campaign_preview.campaign_id);
BEGIN
    PERFORM alphadome._collect_consent_answers(k.bot_tenant_id);
    RETURN alphadome._campaign_counts(k);
END
$$;

CREATE OR REPLACE FUNCTION alphadome._campaign_counts(k alphadome.campaigns) RETURNS jsonb
    LANGUAGE sql STABLE
AS $$
    WITH a AS (SELECT * FROM alphadome._campaign_audience(k)),
    priced AS (
        SELECT a.country_code, count(*) AS n, alphadome._campaign_unit_price(k, a.country_code) AS unit
          FROM a WHERE a.reason IS NULL GROUP BY a.country_code)
    SELECT jsonb_build_object(
        'audience', (SELECT count(*) FROM a),
        'receive', (SELECT count(*) FROM a WHERE a.reason IS NULL),
        'excluded', jsonb_build_object(
            'no_opt_in', (SELECT count(*) FROM a WHERE a.reason = 'no_opt_in'),
            'opted_out', (SELECT count(*) FROM a WHERE a.reason = 'opted_out'),
            'beyond_limit', (SELECT count(*) FROM a WHERE a.reason = 'beyond_limit')),
        'messaging_limit', s.messaging_limit,
        'messaged_last_24h', alphadome._customers_messaged_24h(k.bot_tenant_id),
        'rate_per_second', s.campaign_rate,
        'currency', s.currency,
        'estimated_cost', round(coalesce((SELECT sum(p.n * p.unit) FROM priced p), 0), 2),
        'unpriced', coalesce((SELECT sum(p.n) FROM priced p WHERE p.unit IS NULL), 0))
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = k.bot_tenant_id
$$;

-- Chooses the recipients (those campaign_preview counts as receiving it), each with the template's
-- parameters rendered for them, and starts sending. Internal.
CREATE OR REPLACE FUNCTION alphadome._launch_campaign(k alphadome.campaigns) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    counts jsonb;
BEGIN
    PERFORM alphadome._collect_consent_answers(k.bot_tenant_id);
    -- One launch at a time per tenant: the messaging limit counts the others' recipients.
    PERFORM pg_advisory_xact_lock(hashtext('alphadome.campaigns'), hashtext(k.bot_tenant_id::text));
    counts := alphadome._campaign_counts(k);
    INSERT INTO alphadome.campaign_recipients (bot_tenant_id, campaign_id, conversation_id, parameters)
    SELECT k.bot_tenant_id, k.id, c.id,
           ARRAY(SELECT alphadome._campaign_parameter(p, c) FROM unnest(k.parameters) WITH ORDINALITY x (p, i) ORDER BY i)
      FROM alphadome._campaign_audience(k) a
      JOIN alphadome.conversations c ON c.bot_tenant_id = k.bot_tenant_id AND c.id = a.conversation_id
     WHERE a.reason IS NULL
     ORDER BY c.last_inbound_at DESC NULLS LAST, c.id;
    UPDATE alphadome.campaigns c
       SET status = 'sending', audience = counts, started_at = now(), updated_at = now()
     WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
    RETURN counts;
END
$$;

-- Sends a draft campaign now, or at its scheduled_at when that is later (status 'scheduled').
-- The template must be approved. Returns the counts it starts with (campaign_preview's).
CREATE OR REPLACE FUNCTION alphadome.start_campaign(campaign_id bigint) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns := alphadome._own_campaign(start_campaign.campaign_id);
    template_status text;
BEGIN
    IF k.status <> 'draft' THEN
        RAISE EXCEPTION 'campaign % is %: only a draft is started', k.id, k.status USING ERRCODE = '55000';
    END IF;
    SELECT t.status INTO template_status FROM alphadome.whatsapp_templates t
     WHERE t.bot_tenant_id = k.bot_tenant_id AND t.name = k.template_name AND t.language = k.template_language;
    IF template_status IS DISTINCT FROM 'APPROVED' THEN
        RAISE EXCEPTION 'template % (%) is %, not approved by WhatsApp', k.template_name, k.template_language,
                        coalesce(lower(template_status), 'gone')
            USING ERRCODE = '22023';
    END IF;
    IF k.scheduled_at > now() THEN
        UPDATE alphadome.campaigns c SET status = 'scheduled', updated_at = now()
         WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
        RETURN alphadome._campaign_counts(k) || jsonb_build_object('scheduled_at', k.scheduled_at);
    END IF;
    RETURN alphadome._launch_campaign(k);
END
$$;

-- Jobs queued for recipients that have not gone yet are taken back (their recipients wait
-- again, or are cancelled); a send under way finishes.
CREATE OR REPLACE FUNCTION alphadome._take_back_campaign_jobs(k alphadome.campaigns, recipient_status text) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM alphadome.outbox o
         USING alphadome.campaign_recipients r
         WHERE r.bot_tenant_id = k.bot_tenant_id AND r.campaign_id = k.id AND r.status = 'sending'
           AND o.bot_tenant_id = r.bot_tenant_id AND o.id = r.job_id AND o.status = 'queued'
        RETURNING r.id
    )
    UPDATE alphadome.campaign_recipients r
       SET status = _take_back_campaign_jobs.recipient_status, job_id = NULL, updated_at = now()
     WHERE r.bot_tenant_id = k.bot_tenant_id AND r.campaign_id = k.id
       AND (r.id IN (SELECT g.id FROM gone g) OR (r.status = 'queued' AND _take_back_campaign_jobs.recipient_status <> 'queued'));
END;

-- Pauses a sending (or scheduled) campaign: nothing more goes until resume_campaign.
CREATE OR REPLACE FUNCTION alphadome.pause_campaign(campaign_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns := alphadome._own_campaign(pause_campaign.campaign_id);
BEGIN
    IF k.status NOT IN ('sending', 'scheduled') THEN
        RAISE EXCEPTION 'campaign % is %: only a sending or scheduled campaign is paused', k.id, k.status
            USING ERRCODE = '55000';
    END IF;
    PERFORM alphadome._take_back_campaign_jobs(k, 'queued');
    UPDATE alphadome.campaigns c SET status = 'paused', updated_at = now()
     WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
END
$$;

-- Sends a paused campaign on (launching it first if it was paused before its time came).
CREATE OR REPLACE FUNCTION alphadome.resume_campaign(campaign_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns := alphadome._own_campaign(resume_campaign.campaign_id);
BEGIN
    IF k.status <> 'paused' THEN
        RAISE EXCEPTION 'campaign % is %: only a paused campaign is resumed', k.id, k.status USING ERRCODE = '55000';
    END IF;
    IF k.started_at IS NULL THEN
        UPDATE alphadome.campaigns c SET status = 'scheduled', updated_at = now()
         WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
    ELSE
        UPDATE alphadome.campaigns c SET status = 'sending', updated_at = now()
         WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
    END IF;
    PERFORM alphadome._wake_worker();
END
$$;

-- Cancels a campaign that has not finished: whoever has not been sent it yet never is.
CREATE OR REPLACE FUNCTION alphadome.cancel_campaign(campaign_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns := alphadome._own_campaign(cancel_campaign.campaign_id);
BEGIN
    IF k.status IN ('cancelled', 'done') THEN
        RAISE EXCEPTION 'campaign % is % already', k.id, k.status USING ERRCODE = '55000';
    END IF;
    PERFORM alphadome._take_back_campaign_jobs(k, 'cancelled');
    UPDATE alphadome.campaigns c SET status = 'cancelled', finished_at = now(), updated_at = now()
     WHERE c.bot_tenant_id = k.bot_tenant_id AND c.id = k.id;
END
$$;

-- ---- sending -----------------------------------------------------------------------------------

-- The relay runs this every second: scheduled campaigns whose time came are launched; for each
-- tenant with a sending campaign, campaign.send jobs are queued for the next two seconds at the
-- tenant's campaign_rate, each due 1/rate after the one before (so the send lane never holds
-- more than two seconds of a campaign, and a customer's reply waits behind none of it); a
-- campaign with nobody left to send to is done. Returns {"launched", "queued", "done"}.
CREATE OR REPLACE FUNCTION alphadome.campaign_chores() RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k alphadome.campaigns;
    tenant record;
    launched integer := 0;
    queued integer := 0;
    done integer := 0;
    n integer;
    start_at timestamptz;
BEGIN
    FOR k IN SELECT * FROM alphadome.campaigns c WHERE c.status = 'scheduled' AND c.scheduled_at <= now()
                FOR UPDATE SKIP LOCKED LOOP
        PERFORM alphadome._launch_campaign(k);
        launched := launched + 1;
    END LOOP;

    FOR tenant IN
        SELECT DISTINCT c.bot_tenant_id, s.campaign_rate
          FROM alphadome.campaigns c
          JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = c.bot_tenant_id
          JOIN alphadome.bot_tenants t ON t.id = c.bot_tenant_id AND t.is_active
         WHERE c.status = 'sending'
    LOOP
        -- One relay at a time paces a tenant's campaigns.
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtext('alphadome.campaign_chores'), hashtext(tenant.bot_tenant_id::text));
        start_at := greatest(now(), (SELECT max(o.run_at) + make_interval(secs => 1.0 / tenant.campaign_rate)
                                       FROM alphadome.outbox o
                                      WHERE o.bot_tenant_id = tenant.bot_tenant_id AND o.kind = 'campaign.send'
                                        AND o.status = 'queued'));
        n := floor(extract(epoch FROM (now() + interval '2 seconds') - start_at) * tenant.campaign_rate)::integer;
        -- And never more than two seconds' worth waiting, however late the queued ones are (a
        -- tenant whose sends are paused, no relay claiming): a reply must not queue behind them.
        n := least(n, 2 * tenant.campaign_rate
                      - (SELECT count(*) FROM alphadome.outbox o
                          WHERE o.bot_tenant_id = tenant.bot_tenant_id AND o.kind = 'campaign.send'
                            AND o.status = 'queued')::integer);
        CONTINUE WHEN n <= 0;
        WITH locked AS (
            SELECT r.id, r.campaign_id, r.conversation_id, r.parameters
              FROM alphadome.campaign_recipients r
              JOIN alphadome.campaigns c ON c.bot_tenant_id = r.bot_tenant_id AND c.id = r.campaign_id
             WHERE r.bot_tenant_id = tenant.bot_tenant_id AND r.status = 'queued' AND c.status = 'sending'
             ORDER BY r.campaign_id, r.id
             LIMIT n
               FOR UPDATE OF r SKIP LOCKED
        ), next AS (
            SELECT l.*, row_number() OVER (ORDER BY l.campaign_id, l.id) - 1 AS turn FROM locked l
        ), jobs AS (
            INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload, dedupe_key, run_at)
            SELECT tenant.bot_tenant_id, 'campaign.send',
                   jsonb_build_object('to', cv.wa_id, 'recipient', cv.bsuid, 'customer', cv.customer_key::text,
                                      'conversation_id', cv.id, 'campaign_id', x.campaign_id, 'recipient_id', x.id,
                                      'rate', tenant.campaign_rate,
                                      'text', alphadome._render_template(t.body, c.template_name, x.parameters),
                                      'template', jsonb_build_object('name', c.template_name, 'language', c.template_language,
                                                                     'parameters', to_jsonb(x.parameters))),
                   'campaign:' || x.id,
                   start_at + make_interval(secs => x.turn::float8 / tenant.campaign_rate)
              FROM next x
              JOIN alphadome.conversations cv ON cv.bot_tenant_id = tenant.bot_tenant_id AND cv.id = x.conversation_id
              JOIN alphadome.campaigns c ON c.bot_tenant_id = tenant.bot_tenant_id AND c.id = x.campaign_id
              LEFT JOIN alphadome.whatsapp_templates t
                     ON t.bot_tenant_id = c.bot_tenant_id AND t.name = c.template_name AND t.language = c.template_language
            ON CONFLICT (bot_tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
            RETURNING o.id, (o.payload ->> 'recipient_id')::bigint AS recipient_id
        )
        UPDATE alphadome.campaign_recipients r
           SET status = 'sending', job_id = j.id, updated_at = now()
          FROM jobs j
         WHERE r.bot_tenant_id = tenant.bot_tenant_id AND r.id = j.recipient_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        queued := queued + n;
    END LOOP;

    WITH finished AS (
        UPDATE alphadome.campaigns c SET status = 'done', finished_at = now(), updated_at = now()
         WHERE c.status = 'sending'
           AND NOT EXISTS (SELECT FROM alphadome.campaign_recipients r
                            WHERE r.bot_tenant_id = c.bot_tenant_id AND r.campaign_id = c.id
                              AND r.status IN ('queued', 'sending'))
        RETURNING 1)
    SELECT count(*) INTO done FROM finished;
    IF queued > 0 THEN
        PERFORM alphadome._wake_worker();
    END IF;
    RETURN jsonb_build_object('launched', launched, 'queued', queued, 'done', done);
END
$$;

-- A template's body with its parameters put in (the log's text of a template message).
CREATE OR REPLACE FUNCTION alphadome._render_template(body text, name text, params text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    rendered text := coalesce(body, name);
BEGIN
    FOR i IN REVERSE coalesce(cardinality(params), 0)..1 LOOP
        rendered := replace(rendered, '{{' || i || '}}', btrim(params[i]));
    END LOOP;
    RETURN rendered;
END
$$;

-- Order of a recipient's statuses: a late 'delivered' never overwrites 'read'; 'failed' is final.
CREATE OR REPLACE FUNCTION alphadome._recipient_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
                       WHEN 'read' THEN 4 WHEN 'failed' THEN 9 WHEN 'cancelled' THEN 9 ELSE 0 END;

-- A campaign message Meta took (complete_job) or reported on (a status webhook naming the
-- recipient, whoever sent it): the recipient row moves forward, never back, and keeps the
-- wamid, Meta's error code of a failure and the pricing category. Internal.
CREATE OR REPLACE FUNCTION alphadome._recipient_status(tenant_id uuid, recipient_id bigint, status text, wamid text,
                                                       error jsonb, pricing_category text) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.campaign_recipients r
       SET status = _recipient_status.status,
           wamid = coalesce(_recipient_status.wamid, r.wamid),
           error = coalesce(_recipient_status.error, r.error),
           error_code = coalesce((_recipient_status.error ->> 'code')::integer, r.error_code),
           pricing_category = coalesce(_recipient_status.pricing_category, r.pricing_category),
           sent_at = CASE WHEN _recipient_status.status IN ('sent', 'delivered', 'read') THEN coalesce(r.sent_at, now())
                          ELSE r.sent_at END,
           delivered_at = CASE WHEN _recipient_status.status IN ('delivered', 'read') THEN coalesce(r.delivered_at, now())
                               ELSE r.delivered_at END,
           read_at = CASE WHEN _recipient_status.status = 'read' THEN coalesce(r.read_at, now()) ELSE r.read_at END,
           failed_at = CASE WHEN _recipient_status.status = 'failed' THEN now() ELSE r.failed_at END,
           updated_at = now()
     WHERE r.bot_tenant_id = _recipient_status.tenant_id AND r.id = _recipient_status.recipient_id
       AND alphadome._recipient_rank(_recipient_status.status) > alphadome._recipient_rank(r.status);
END;

-- A status webhook naming a campaign's recipient (biz_opaque_callback_data "campaign:<id>"),
-- from ingest_webhook: the send happened (its job is done, and never sent again, even if the
-- relay that made it died before reporting), and the recipient row takes the status: sent,
-- delivered, read, or failed with Meta's error (131049: Meta held back a marketing message).
-- Internal.
CREATE OR REPLACE FUNCTION alphadome._campaign_status(tenant_id uuid, recipient_id bigint, report jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job alphadome.outbox;
    said text := report ->> 'status';
BEGIN
    IF said IS NULL OR said NOT IN ('sent', 'delivered', 'read', 'failed') THEN
        RETURN;
    END IF;
    UPDATE alphadome.outbox o
       SET status = 'done', lease_until = NULL,
           result = jsonb_build_object('wamid', _campaign_status.report ->> 'id', 'status', 'sent', 'by', 'status_webhook')
      FROM alphadome.campaign_recipients r
     WHERE r.bot_tenant_id = _campaign_status.tenant_id AND r.id = _campaign_status.recipient_id
       AND o.bot_tenant_id = r.bot_tenant_id AND o.id = r.job_id AND o.kind = 'campaign.send'
       AND o.status IN ('queued', 'running')
    RETURNING o.* INTO job;
    IF job.id IS NOT NULL THEN
        PERFORM alphadome._log_outbound(job, _campaign_status.report ->> 'id', 'sent', NULL);
    END IF;
    PERFORM alphadome._recipient_status(_campaign_status.tenant_id, _campaign_status.recipient_id, said,
                                        _campaign_status.report ->> 'id',
                                        (SELECT e FROM alphadome._array_items(_campaign_status.report -> 'errors') e LIMIT 1),
                                        _campaign_status.report #>> '{pricing,category}');
END
$$;

-- complete_job of a campaign.send: the message is logged in the customer's conversation (a
-- reply to it is an ordinary conversation) and its recipient is sent. Internal.
CREATE OR REPLACE FUNCTION alphadome._campaign_sent(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM alphadome._log_outbound(job, result ->> 'wamid', coalesce(result ->> 'status', 'sent'), NULL);
    PERFORM alphadome._recipient_status(job.bot_tenant_id, (job.payload ->> 'recipient_id')::bigint, 'sent',
                                        result ->> 'wamid', NULL, NULL);
END
$$;

-- fail_job of a campaign.send that will not be tried again (Meta refused this customer, 131049
-- among them, or the attempts are spent): the job is done with the failure as its result, not a
-- dead letter (nothing for the operator to requeue: sending again is what must not happen
-- blindly), and the recipient is failed with Meta's error. Internal.
CREATE OR REPLACE FUNCTION alphadome._campaign_failed(job alphadome.outbox, error jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE alphadome.outbox o
       SET status = 'done', lease_until = NULL, last_error = _campaign_failed.error,
           result = jsonb_build_object('status', 'failed', 'error', _campaign_failed.error)
     WHERE o.bot_tenant_id = job.bot_tenant_id AND o.id = job.id;
    PERFORM alphadome._recipient_status(job.bot_tenant_id, (job.payload ->> 'recipient_id')::bigint, 'failed',
                                        NULL, error, NULL);
END
$$;

-- ---- results -----------------------------------------------------------------------------------

-- What became of a campaign: recipients by status, replies (a message from the customer after
-- the campaign's reached him), customers who opted out or withdrew consent after it, failures by
-- Meta's error code, and what the delivered messages cost in the tenant's currency. An owner
-- sees his own campaigns, the operator any.
CREATE OR REPLACE FUNCTION alphadome.campaign_results(campaign_id bigint)
    RETURNS TABLE (id bigint, name text, status text, recipients bigint, queued bigint, sent bigint,
                   delivered bigint, read bigint, replied bigint, opted_out_after bigint, failed bigint,
                   failed_by_reason jsonb, cancelled bigint, currency text, cost numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tenant uuid := alphadome._current_tenant();
    k alphadome.campaigns;
BEGIN
    IF tenant IS NULL AND NOT alphadome._caller_is_operator() THEN
        RAISE EXCEPTION 'no tenant context: a shop''s console session, or SET LOCAL alphadome.tenant_id'
            USING ERRCODE = '42501';
    END IF;
    SELECT * INTO k FROM alphadome.campaigns c
     WHERE c.id = campaign_results.campaign_id AND (tenant IS NULL OR c.bot_tenant_id = tenant);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH r AS (
        SELECT r.status, r.error_code, r.sent_at, cv.opted_out_at, cv.marketing_withdrawn_at,
               (SELECT wp.country_code FROM alphadome.whatsapp_prices wp
                 WHERE starts_with(coalesce(cv.wa_id, ''), wp.country_code)
                 ORDER BY length(wp.country_code) DESC LIMIT 1) AS country_code,
               r.sent_at IS NOT NULL AND EXISTS (
                   SELECT FROM alphadome.messages m
                    WHERE m.bot_tenant_id = r.bot_tenant_id AND m.conversation_id = r.conversation_id
                      AND m.direction = 'inbound' AND m.created_at > r.sent_at) AS replied
          FROM alphadome.campaign_recipients r
          JOIN alphadome.conversations cv ON cv.bot_tenant_id = r.bot_tenant_id AND cv.id = r.conversation_id
         WHERE r.bot_tenant_id = k.bot_tenant_id AND r.campaign_id = k.id
    ), priced AS (
        SELECT count(*) * alphadome._campaign_unit_price(k, r.country_code) AS cost
          FROM r WHERE r.status IN ('delivered', 'read') GROUP BY r.country_code
    )
    SELECT k.id, k.name, k.status,
           (SELECT count(*) FROM r),
           (SELECT count(*) FROM r WHERE r.status IN ('queued', 'sending')),
           (SELECT count(*) FROM r WHERE r.status IN ('sent', 'delivered', 'read')),
           (SELECT count(*) FROM r WHERE r.status IN ('delivered', 'read')),
           (SELECT count(*) FROM r WHERE r.status = 'read'),
           (SELECT count(*) FROM r WHERE r.replied),
           (SELECT count(*) FROM r WHERE r.sent_at IS NOT NULL
                                     AND (r.opted_out_at > r.sent_at OR r.marketing_withdrawn_at > r.sent_at)),
           (SELECT count(*) FROM r WHERE r.status = 'failed'),
           coalesce((SELECT jsonb_object_agg(x.reason, x.n)
                       FROM (SELECT coalesce(r.error_code::text, 'unknown') AS reason, count(*) AS n
                               FROM r WHERE r.status = 'failed' GROUP BY 1) x), '{}'::jsonb),
           (SELECT count(*) FROM r WHERE r.status = 'cancelled'),
           s.currency,
           round(coalesce((SELECT sum(p.cost) FROM priced p), 0), 2)
      FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = k.bot_tenant_id;
END
$$;

-- ---- templates from the console ------------------------------------------------------------------

-- A new template for Meta's review: name (a-z, 0-9, _), category (marketing, utility), language,
-- body with {{1}} ... parameters (with an example for each, which Meta requires), an optional
-- text header and quick-reply buttons. Kept as PENDING in whatsapp_templates and submitted by a
-- templates.submit job (POST /{waba-id}/message_templates); Meta's answer, and later its
-- message_template_status_update webhook, say whether it is approved. Returns the job's id.
CREATE OR REPLACE FUNCTION alphadome.create_template(name text, category text, language text, body text,
                                                     examples text[] DEFAULT '{}', header text DEFAULT NULL,
                                                     buttons text[] DEFAULT '{}')
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid := alphadome._require_tenant();
    wanted integer := alphadome._template_parameters(body);
    kind text := upper(btrim(coalesce(category, '')));
    components jsonb;
    job bigint;
BEGIN
    IF coalesce(name, '') !~ '^[a-z0-9_]+$' OR length(name) > 512 THEN
        RAISE EXCEPTION 'a template''s name is lower-case letters, digits and _ (such as december_sale)'
            USING ERRCODE = '22023';
    ELSIF kind NOT IN ('MARKETING', 'UTILITY') THEN
        RAISE EXCEPTION 'a template''s category is marketing or utility' USING ERRCODE = '22023';
    ELSIF coalesce(language, '') !~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$' THEN
        RAISE EXCEPTION 'a template''s language is a code such as en, sw or en_US' USING ERRCODE = '22023';
    ELSIF length(btrim(coalesce(body, ''))) NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'a template''s text has 1-1024 characters' USING ERRCODE = '22023';
    ELSIF coalesce(cardinality(examples), 0) <> wanted
          OR EXISTS (SELECT FROM unnest(examples) e WHERE btrim(coalesce(e, '')) = '') THEN
        RAISE EXCEPTION 'the text takes % parameters: give an example for each (Meta reviews them)', wanted
            USING ERRCODE = '22023';
    ELSIF length(header) > 60 THEN
        RAISE EXCEPTION 'a header has at most 60 characters' USING ERRCODE = '22023';
    ELSIF coalesce(cardinality(buttons), 0) > 3
          OR EXISTS (SELECT FROM unnest(buttons) b WHERE length(btrim(coalesce(b, ''))) NOT BETWEEN 1 AND 25) THEN
        RAISE EXCEPTION 'at most 3 buttons, each 1-25 characters' USING ERRCODE = '22023';
    ELSIF NOT EXISTS (SELECT FROM alphadome.bot_tenants t WHERE t.id = tenant AND t.whatsapp_business_account_id IS NOT NULL) THEN
        RAISE EXCEPTION 'the shop''s WhatsApp Business account id is not set: templates cannot be submitted'
            USING ERRCODE = '55000', HINT = 'The operator sets bot_tenants.whatsapp_business_account_id.';
    ELSIF EXISTS (SELECT FROM alphadome.whatsapp_templates w
                   WHERE w.bot_tenant_id = tenant AND w.name = create_template.name AND w.language = create_template.language) THEN
        RAISE EXCEPTION 'the shop has a template % in language % already', name, language USING ERRCODE = '23505';
    END IF;
    components := jsonb_build_array(jsonb_build_object('type', 'BODY', 'text', btrim(body))
                      || CASE WHEN wanted > 0 THEN jsonb_build_object('example',
                             jsonb_build_object('body_text', jsonb_build_array(to_jsonb(examples)))) ELSE '{}' END)
                  || CASE WHEN nullif(btrim(header), '') IS NOT NULL
                          THEN jsonb_build_array(jsonb_build_object('type', 'HEADER', 'format', 'TEXT', 'text', btrim(header)))
                          ELSE '[]' END
                  || CASE WHEN coalesce(cardinality(buttons), 0) > 0
                          THEN jsonb_build_array(jsonb_build_object('type', 'BUTTONS', 'buttons',
                                   (SELECT jsonb_agg(jsonb_build_object('type', 'QUICK_REPLY', 'text', btrim(b)))
                                      FROM unnest(buttons) b)))
                          ELSE '[]' END;
    INSERT INTO alphadome.whatsapp_templates (bot_tenant_id, name, language, category, status, body, components)
    VALUES (tenant, create_template.name, create_template.language, kind, 'PENDING', btrim(body), components);
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload)
    VALUES (tenant, 'templates.submit',
            jsonb_build_object('name', create_template.name, 'language', create_template.language,
                               'category', kind, 'components', components))
    RETURNING o.id INTO job;
    PERFORM alphadome._wake_worker();
    RETURN job;
END
$$;

-- What Meta answered a templates.submit ({"id", "status", "category"}): the template's status
-- (PENDING for review, or APPROVED at once). Internal (complete_job).
CREATE OR REPLACE FUNCTION alphadome._template_submitted(job alphadome.outbox, result jsonb) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.whatsapp_templates w
       SET status = coalesce(upper(_template_submitted.result ->> 'status'), w.status),
           category = coalesce(upper(_template_submitted.result ->> 'category'), w.category), updated_at = now()
     WHERE w.bot_tenant_id = (_template_submitted.job).bot_tenant_id
       AND w.name = (_template_submitted.job).payload ->> 'name'
       AND w.language = (_template_submitted.job).payload ->> 'language';
END;

-- Meta refused a templates.submit for good (a name taken, a text it does not accept): the
-- template is REJECTED, with Meta's words for why. Internal (fail_job).
CREATE OR REPLACE FUNCTION alphadome._template_refused(job alphadome.outbox, error jsonb) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE alphadome.whatsapp_templates w
       SET status = 'REJECTED', updated_at = now(),
           rejected_reason = left(coalesce(_template_refused.error ->> 'message', 'refused by WhatsApp'), 1000)
     WHERE w.bot_tenant_id = (_template_refused.job).bot_tenant_id
       AND w.name = (_template_refused.job).payload ->> 'name'
       AND w.language = (_template_refused.job).payload ->> 'language';
END;

-- Meta's message_template_status_update webhook (entry e, change c of the payload): a template of
-- the WhatsApp Business account the entry names is APPROVED, REJECTED (with its reason),
-- PAUSED, DISABLED, ... The account's tenants' copies take the new status (with route_tenant,
-- that tenant's only). From ingest_webhook. Returns how many templates changed.
CREATE OR REPLACE FUNCTION alphadome._template_status_update(route_tenant uuid, payload jsonb, e integer, c integer)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    value jsonb := payload -> 'entry' -> e -> 'changes' -> c -> 'value';
    waba text := payload -> 'entry' -> e ->> 'id';
    said text := upper(value ->> 'event');
    n integer;
BEGIN
    IF said IS NULL OR value ->> 'message_template_name' IS NULL THEN
        RETURN 0;
    END IF;
    UPDATE alphadome.whatsapp_templates w
       SET status = said, updated_at = now(),
           rejected_reason = CASE WHEN said = 'REJECTED' THEN nullif(nullif(value ->> 'reason', 'NONE'), '') END
      FROM alphadome.bot_tenants t
     WHERE t.whatsapp_business_account_id = waba AND (route_tenant IS NULL OR t.id = route_tenant)
       AND w.bot_tenant_id = t.id AND w.name = value ->> 'message_template_name'
       AND (value ->> 'message_template_language' IS NULL OR w.language = value ->> 'message_template_language');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Meta's reasons for rejecting a template, in the owner's words.
CREATE OR REPLACE FUNCTION alphadome.template_rejection_words(reason text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE upper(coalesce(reason, ''))
        WHEN 'ABUSIVE_CONTENT' THEN 'WhatsApp found the text abusive or against its policies.'
        WHEN 'INCORRECT_CATEGORY' THEN 'The category does not fit the text: a sale or offer is marketing.'
        WHEN 'INVALID_FORMAT' THEN 'The text is not in a form WhatsApp accepts (check the {{1}} parameters and their examples).'
        WHEN 'SCAM' THEN 'WhatsApp thought the text could mislead customers.'
        WHEN 'TAG_CONTENT_MISMATCH' THEN 'The text does not match the category or language chosen.'
        WHEN '' THEN NULL
        ELSE 'WhatsApp rejected it: ' || reason END;

-- The SQL side of webhook ingestion. ingest_webhook itself, with the decision list, is in
-- Rust (src/ingest/), and so is _wake_worker (src/wake.rs); it runs these helpers, and queue.sql
-- shares them.
--
-- Helpers named alphadome._* are executable by their owner only and are called from SECURITY
-- DEFINER functions that fix search_path, so they carry no SET clause of their own: a SET
-- makes every call save and restore the setting, which the message path would pay per webhook.

-- Every change to a tenant or its switches reaches each session's copy of them
-- (src/ingest/tenant_cache.rs). ALWAYS: also in sessions with session_replication_role =
-- replica (logical replication's apply, some restore tools).
CREATE OR REPLACE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alphadome.bot_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._tenants_changed();
CREATE OR REPLACE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alphadome.bot_control_settings
    FOR EACH STATEMENT EXECUTE FUNCTION alphadome._tenants_changed();
ALTER TABLE alphadome.bot_tenants ENABLE ALWAYS TRIGGER tenants_changed;
ALTER TABLE alphadome.bot_control_settings ENABLE ALWAYS TRIGGER tenants_changed;

-- Order of outbound statuses: a late 'delivered' never overwrites 'read'; 'failed' is final.
CREATE OR REPLACE FUNCTION alphadome._status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'played' THEN 4
                       WHEN 'failed' THEN 9 ELSE 0 END;

-- Queues a job; with a dedupe key, at most one per key and tenant (NULL when it existed).
CREATE OR REPLACE FUNCTION alphadome._enqueue(tenant_id uuid, kind text, payload jsonb, dedupe_key text DEFAULT NULL)
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

-- An alert about a tenant, for a person (0.2.0): a row of alphadome.alerts and the alert.send
-- job that delivers it when due_at comes. With a dedupe_key, at most one alert per key and
-- tenant (an hour's rate-limit alert, a day's credential alert). conversation_id (0.3.0): the
-- conversation it is about, which the relay links to in the console. Returns how many jobs it
-- queued (0 for a duplicate). Which channel carries it is decided when the job is claimed
-- (claim_jobs).
CREATE OR REPLACE FUNCTION alphadome._alert(tenant_id uuid, kind text, text text, dedupe_key text DEFAULT NULL,
                                 due_at timestamptz DEFAULT now(), conversation_id bigint DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    new_alert bigint;
    new_job bigint;
BEGIN
    INSERT INTO alphadome.alerts AS a (bot_tenant_id, kind, text, dedupe_key, due_at, conversation_id)
    VALUES (_alert.tenant_id, _alert.kind, left(_alert.text, 4096), _alert.dedupe_key, coalesce(_alert.due_at, now()),
            _alert.conversation_id)
    ON CONFLICT ON CONSTRAINT alerts_bot_tenant_id_dedupe_key_key DO NOTHING
    RETURNING a.id INTO new_alert;
    IF new_alert IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO alphadome.outbox AS o (bot_tenant_id, kind, payload, run_at)
    VALUES (_alert.tenant_id, 'alert.send', jsonb_build_object('alert_id', new_alert), coalesce(_alert.due_at, now()))
    RETURNING o.id INTO new_job;
    UPDATE alphadome.alerts a SET job_id = new_job WHERE a.bot_tenant_id = _alert.tenant_id AND a.id = new_alert;
    RETURN 1;
END
$$;

-- Cancels a tenant's alerts that have not gone yet and are no longer needed: one alert (its
-- id), or every alert about a conversation a person has just answered. Their queued alert.send
-- jobs are deleted (a job being sent at this moment is left to finish). Returns how many were
-- cancelled.
CREATE OR REPLACE FUNCTION alphadome._cancel_alerts(tenant_id uuid, alert_id bigint, conversation_id bigint)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cancelled integer;
BEGIN
    WITH gone AS (
        DELETE FROM alphadome.outbox o
         USING alphadome.alerts a
         WHERE a.bot_tenant_id = _cancel_alerts.tenant_id AND a.status = 'queued'
           AND (a.id = _cancel_alerts.alert_id OR a.conversation_id = _cancel_alerts.conversation_id)
           AND o.bot_tenant_id = a.bot_tenant_id AND o.id = a.job_id
           AND o.kind = 'alert.send' AND o.status = 'queued'
        RETURNING a.id
    )
    UPDATE alphadome.alerts a SET status = 'cancelled'
      FROM gone
     WHERE a.bot_tenant_id = _cancel_alerts.tenant_id AND a.id = gone.id;
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END
$$;

-- The console's "Done" on an alert: marked done (it leaves the overview) and, when it has not
-- gone yet, cancelled: nobody is alerted about what a person has already seen to. The calling
-- tenant's alert, or any for the operator; P0002 when there is none such. Returns whether it
-- was cancelled.
CREATE OR REPLACE FUNCTION alphadome.alert_done(alert_id bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant uuid;
BEGIN
    UPDATE alphadome.alerts a SET done_at = coalesce(a.done_at, now())
     WHERE a.id = alert_done.alert_id
       AND (a.bot_tenant_id = alphadome._current_tenant() OR alphadome._caller_is_operator())
    RETURNING a.bot_tenant_id INTO tenant;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'no alert %', alert_id USING ERRCODE = 'P0002';
    END IF;
    RETURN alphadome._cancel_alerts(tenant, alert_done.alert_id, NULL) > 0;
END
$$;

-- The chores in the database (issue 23): with pg_cron in this database, schedule_chores
-- registers them as cron jobs and the relay's own chore loop stands idle (it asks
-- chores_scheduled() before each run); without pg_cron the relay runs them.

-- Retention in one call, a transaction per batch: rollup and prune_history, then the
-- credential audit, each until nothing is left. What the cron job of schedule_chores runs
-- (CALL, at top level, so that it may commit between batches).
CREATE OR REPLACE PROCEDURE alphadome.run_retention(keep interval DEFAULT '30 days',
                                                    keep_audit interval DEFAULT '1 year',
                                                    batch integer DEFAULT 10000)
    LANGUAGE plpgsql
AS $$
DECLARE
    counts jsonb;
BEGIN
    LOOP
        counts := alphadome.prune_history(keep, batch);
        COMMIT;
        EXIT WHEN NOT EXISTS (SELECT FROM jsonb_each_text(counts) c WHERE c.value <> '0');
    END LOOP;
    WHILE alphadome.prune_credential_audit(keep_audit, batch) > 0 LOOP
        COMMIT;
    END LOOP;
END
$$;

-- The cron jobs of the chores, by name (pg_cron's jobname): retention hourly, credential
-- alerts hourly, the hand-off clocks every minute, the owners' weekly summaries hourly (each
-- queued once a week: faq_learning.sql). retention_schedule is a cron schedule.
CREATE OR REPLACE FUNCTION alphadome.schedule_chores(retention_schedule text DEFAULT '17 * * * *',
                                                     keep interval DEFAULT '30 days',
                                                     keep_audit interval DEFAULT '1 year')
    RETURNS TABLE (job text, schedule text, command text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = '55000',
                  HINT = 'Install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, CREATE EXTENSION pg_cron; or let the relay run the chores.';
    ELSIF keep IS NULL OR keep < interval '1 day' OR keep_audit IS NULL OR keep_audit < interval '30 days' THEN
        RAISE EXCEPTION 'history is kept at least a day and the credential audit at least 30 days'
            USING ERRCODE = '22023';
    END IF;
    FOR job, schedule, command IN
        VALUES ('alphadome-retention', retention_schedule,
                format('CALL alphadome.run_retention(%L::interval, %L::interval)', keep, keep_audit)),
               ('alphadome-credential-alerts', '7 * * * *', 'SELECT alphadome.enqueue_credential_alerts()'),
               ('alphadome-handoff-clocks', '* * * * *', 'SELECT alphadome.handoff_chores()'),
               ('alphadome-weekly-summaries', '37 * * * *', 'SELECT alphadome.enqueue_weekly_summaries()')
    LOOP
        -- pg_cron's schedule(name, ...) replaces a job of the same name.
        EXECUTE 'SELECT cron.schedule($1::name, $2, $3)' USING job, schedule, command;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Removes the chores' cron jobs: the relay runs them again. Returns how many it removed.
CREATE OR REPLACE FUNCTION alphadome.unschedule_chores() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed integer := 0;
    job text;
BEGIN
    IF NOT alphadome.chores_scheduled() THEN
        RETURN 0;
    END IF;
    FOR job IN EXECUTE 'SELECT j.jobname FROM cron.job j WHERE j.jobname LIKE ''alphadome-%'' AND j.database = current_database()'
    LOOP
        EXECUTE 'SELECT cron.unschedule($1::name)' USING job;
        removed := removed + 1;
    END LOOP;
    RETURN removed;
END
$$;

-- Does pg_cron run the chores of this database? The relay asks before each of its own.
CREATE OR REPLACE FUNCTION alphadome.chores_scheduled() RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scheduled boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'pg_cron') THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT FROM cron.job j WHERE j.jobname = ''alphadome-retention''
                              AND j.database = current_database() AND j.active)'
       INTO scheduled;
    RETURN scheduled;
END
$$;

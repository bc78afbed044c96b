-- The web console's accounts and sessions (docs/console.md; the privileges in docs/security.md).
--
-- An account is a tenant's owner (bot_tenant_id set) or an operator (NULL). Passwords are kept
-- as bcrypt hashes (pgcrypto); a session is a random token of which only the sha256 is kept.
-- The console's database login (a member of alphadome_console) calls these functions and
-- nothing else as itself: console_session() checks a request's token and sets the tenant
-- context of the request's transaction from the account, after which the console acts as
-- alphadome_tenant (row-level security) or alphadome_admin.

-- ---- passwords and tokens ------------------------------------------------------------------------

-- pgcrypto, bound where it is when the extension is created (BEGIN ATOMIC): bcrypt at cost 10.
CREATE OR REPLACE FUNCTION alphadome._password_hash(password text) RETURNS text
    LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
    SELECT crypt(password, gen_salt('bf', 10));
END;

CREATE OR REPLACE FUNCTION alphadome._password_matches(password text, password_hash text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
    SELECT crypt(password, password_hash) = password_hash;
END;

CREATE OR REPLACE FUNCTION alphadome._random_token() RETURNS text
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT encode(gen_random_bytes(32), 'hex');
END;

-- 22023 unless a password is at least 10 characters (and at most 200).
CREATE OR REPLACE FUNCTION alphadome._new_password(password text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF password IS NULL OR length(password) < 10 THEN
        RAISE EXCEPTION 'a password has at least 10 characters' USING ERRCODE = '22023';
    ELSIF length(password) > 200 THEN
        RAISE EXCEPTION 'a password has at most 200 characters' USING ERRCODE = '22023';
    END IF;
    RETURN password;
END
$$;

-- ---- accounts (operator) -------------------------------------------------------------------------

-- An owner's console login for a tenant; returns the account's id. 23505 when the email has one.
CREATE OR REPLACE FUNCTION alphadome.create_owner(tenant_id uuid, email text, password text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
BEGIN
    RETURN alphadome._create_tenant_account(create_owner.tenant_id, create_owner.email, create_owner.password, false);
END
$$;

-- A console account of a tenant: its owner, or (is_agent) a member of its staff (inbox.sql's
-- create_agent). P0002 for no such tenant, 23505 for an email that has an account.
CREATE OR REPLACE FUNCTION alphadome._create_tenant_account(tenant_id uuid, email text, password text, is_agent boolean)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    account uuid;
BEGIN
    IF NOT EXISTS (SELECT FROM alphadome.bot_tenants t WHERE t.id = _create_tenant_account.tenant_id) THEN
        RAISE EXCEPTION 'no tenant with id %', _create_tenant_account.tenant_id USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO alphadome.console_accounts (email, password_hash, bot_tenant_id, is_agent)
    VALUES (alphadome._require(alphadome._email(_create_tenant_account.email, 'email'), 'email'),
            alphadome._password_hash(alphadome._new_password(_create_tenant_account.password)),
            _create_tenant_account.tenant_id, _create_tenant_account.is_agent)
    RETURNING id INTO account;
    RETURN account;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a console account with email % exists already', _create_tenant_account.email USING ERRCODE = '23505';
END
$$;

-- An operator's console login; returns the account's id.
CREATE OR REPLACE FUNCTION alphadome.create_operator(email text, password text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    account uuid;
BEGIN
    INSERT INTO alphadome.console_accounts (email, password_hash)
    VALUES (alphadome._require(alphadome._email(create_operator.email, 'email'), 'email'),
            alphadome._password_hash(alphadome._new_password(create_operator.password)))
    RETURNING id INTO account;
    RETURN account;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a console account with email % exists already', create_operator.email USING ERRCODE = '23505';
END
$$;

-- ---- sessions (the console) ----------------------------------------------------------------------

-- A login. outcome: 'ok' with a new session token (shown once: only its sha256 is kept),
-- 'wrong' (no such account, or the wrong password: the same answer, in about the same time), or
-- 'throttled' with the seconds to wait: after 5 failures for the account, or 20 from the client
-- address, in 15 minutes, no password is checked until the oldest of them is 15 minutes old.
-- Returns its outcome rather than raising, so that a failure is recorded.
CREATE OR REPLACE FUNCTION alphadome.console_login(email text, password text, client_address text)
    RETURNS TABLE (outcome text, session_token text, retry_after_seconds integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    login text := lower(btrim(coalesce(console_login.email, '')));
    address text := coalesce(nullif(btrim(console_login.client_address), ''), 'unknown');
    account alphadome.console_accounts;
    wait_until timestamptz;
    token text;
BEGIN
    DELETE FROM alphadome.console_login_failures f WHERE f.failed_at < now() - interval '1 day';
    SELECT max(x.until) INTO wait_until FROM (
        SELECT min(f.failed_at) + interval '15 minutes' AS until
          FROM (SELECT f.failed_at FROM alphadome.console_login_failures f
                 WHERE f.email = login AND f.failed_at > now() - interval '15 minutes'
                 ORDER BY f.failed_at DESC LIMIT 5) f
        HAVING count(*) >= 5
        UNION ALL
        SELECT min(f.failed_at) + interval '15 minutes'
          FROM (SELECT f.failed_at FROM alphadome.console_login_failures f
                 WHERE f.client_address = address AND f.failed_at > now() - interval '15 minutes'
                 ORDER BY f.failed_at DESC LIMIT 20) f
        HAVING count(*) >= 20) x;
    IF wait_until > now() THEN
        RETURN QUERY SELECT 'throttled'::text, NULL::text, ceil(extract(epoch FROM wait_until - now()))::integer;
        RETURN;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE lower(a.email) = login;
    -- The same bcrypt work whether or not the account exists.
    IF NOT coalesce(alphadome._password_matches(console_login.password,
                        coalesce(account.password_hash, '$2a$10$6dwXBzAZ19AZTSbLBRLYn.PRmraDyOtHbfPgbiWJwleGmEllX0.km')),
                    false)
       OR account.id IS NULL THEN
        INSERT INTO alphadome.console_login_failures (email, client_address) VALUES (login, address);
        RETURN QUERY SELECT 'wrong'::text, NULL::text, NULL::integer;
        RETURN;
    END IF;
    DELETE FROM alphadome.console_login_failures f WHERE f.email = login;
    DELETE FROM alphadome.console_sessions s
     WHERE s.last_seen_at < now() - interval '4 hours' OR s.created_at < now() - interval '24 hours';
    token := alphadome._random_token();
    INSERT INTO alphadome.console_sessions (token_sha256, account_id, client_address)
    VALUES (sha256(convert_to(token, 'UTF8')), account.id, address);
    RETURN QUERY SELECT 'ok'::text, token, NULL::integer;
END
$$;

-- The account behind a session token, for one request: NULL columns (no row) when the token is
-- unknown, idle for 4 hours, or older than 24 hours. It also sets the tenant context of the
-- calling transaction to the owner's tenant ('' for an operator), so that the request that
-- follows, run as alphadome_tenant, sees that tenant's rows only.
CREATE OR REPLACE FUNCTION alphadome.console_session(session_token text)
    RETURNS TABLE (account_id uuid, email text, tenant_id uuid, tenant_name text, is_operator boolean, is_agent boolean)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    session alphadome.console_sessions;
    account alphadome.console_accounts;
BEGIN
    PERFORM set_config('alphadome.tenant_id', '', true);
    PERFORM set_config('alphadome.console_account', '', true);
    IF console_session.session_token IS NULL OR console_session.session_token !~ '^[0-9a-f]{64}$' THEN
        RETURN;
    END IF;
    SELECT * INTO session FROM alphadome.console_sessions s
     WHERE s.token_sha256 = sha256(convert_to(console_session.session_token, 'UTF8'))
       AND s.last_seen_at > now() - interval '4 hours' AND s.created_at > now() - interval '24 hours';
    IF session.account_id IS NULL THEN
        RETURN;
    END IF;
    -- At most one write a minute per session.
    IF session.last_seen_at < now() - interval '1 minute' THEN
        UPDATE alphadome.console_sessions s SET last_seen_at = now() WHERE s.token_sha256 = session.token_sha256;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE a.id = session.account_id;
    PERFORM set_config('alphadome.tenant_id', coalesce(account.bot_tenant_id::text, ''), true);
    -- Who writes a person's reply (send_human_reply), for the conversation's log.
    PERFORM set_config('alphadome.console_account', account.id::text, true);
    RETURN QUERY
        SELECT account.id, account.email, account.bot_tenant_id,
               (SELECT t.client_name FROM alphadome.bot_tenants t WHERE t.id = account.bot_tenant_id),
               account.bot_tenant_id IS NULL, account.is_agent;
END
$$;

-- Ends a session (its token no longer works).
CREATE OR REPLACE FUNCTION alphadome.console_logout(session_token text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM alphadome.console_sessions s
     WHERE s.token_sha256 = sha256(convert_to(console_logout.session_token, 'UTF8'));
END;

-- A new password for the session's account, given the current one (28P01 when it is wrong);
-- every other session of the account ends.
CREATE OR REPLACE FUNCTION alphadome.console_change_password(session_token text, current_password text, new_password text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    token_hash bytea := sha256(convert_to(coalesce(console_change_password.session_token, ''), 'UTF8'));
    account alphadome.console_accounts;
BEGIN
    SELECT a.* INTO account FROM alphadome.console_accounts a
      JOIN alphadome.console_sessions s ON s.account_id = a.id
     WHERE s.token_sha256 = token_hash
       AND s.last_seen_at > now() - interval '4 hours' AND s.created_at > now() - interval '24 hours';
    IF account.id IS NULL THEN
        RAISE EXCEPTION 'the session has ended: log in again' USING ERRCODE = '28000';
    END IF;
    IF NOT alphadome._password_matches(coalesce(console_change_password.current_password, ''), account.password_hash) THEN
        RAISE EXCEPTION 'the current password is wrong' USING ERRCODE = '28P01';
    END IF;
    UPDATE alphadome.console_accounts a
       SET password_hash = alphadome._password_hash(alphadome._new_password(console_change_password.new_password)),
           password_changed_at = now()
     WHERE a.id = account.id;
    DELETE FROM alphadome.console_sessions s WHERE s.account_id = account.id AND s.token_sha256 <> token_hash;
END
$$;

-- ---- FAQ deletes that can be undone (issue 22) ---------------------------------------------------
-- SECURITY INVOKER: an owner deletes and puts back only his own entries (row-level security).

-- How long a deleted entry can be put back.
CREATE OR REPLACE FUNCTION alphadome._faq_undo_window() RETURNS interval
    LANGUAGE sql IMMUTABLE AS $$ SELECT interval '1 day' $$;

-- Deletes an FAQ entry, keeping it in faq_deleted for a day: the id to put it back by (NULL: no
-- such entry). Entries deleted longer ago are removed for good.
CREATE OR REPLACE FUNCTION alphadome.delete_faq_entry(entry_id bigint) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM alphadome.faq_deleted d WHERE d.deleted_at < now() - alphadome._faq_undo_window();
    WITH gone AS (
        DELETE FROM alphadome.bot_training_data e WHERE e.id = delete_faq_entry.entry_id RETURNING e.*)
    INSERT INTO alphadome.faq_deleted (bot_tenant_id, entry)
    SELECT g.bot_tenant_id, to_jsonb(g) - 'search' - 'bot_tenant_id' FROM gone g
    RETURNING id;
$$;

-- Puts a deleted FAQ entry back (a new id): the entry's id, or NULL when it cannot be (deleted
-- more than a day ago, put back already, not the caller's).
CREATE OR REPLACE FUNCTION alphadome.undo_faq_delete(deleted_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    back bigint;
BEGIN
    WITH kept AS (
        DELETE FROM alphadome.faq_deleted d
         WHERE d.id = undo_faq_delete.deleted_id AND d.deleted_at >= now() - alphadome._faq_undo_window()
        RETURNING d.bot_tenant_id, d.entry)
    INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, category, is_active, phrasings)
    SELECT k.bot_tenant_id, e.data_type, e.question, e.answer, e.category, e.is_active, e.phrasings
      FROM kept k, jsonb_populate_record(NULL::alphadome.bot_training_data, k.entry) e
    RETURNING id INTO back;
    RETURN back;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'an entry with the same question exists now: the deleted one was not put back'
        USING ERRCODE = 'unique_violation';
END
$$;

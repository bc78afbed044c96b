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

-- Words that make most of the passwords people choose: a password that is one of them with
-- digits or signs before or after it ('Password123!', '2024welcome') is refused. Lower case,
-- each beginning and ending with a letter.
CREATE OR REPLACE FUNCTION alphadome._common_password_words() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
SELECT ARRAY[
    'password', 'passw0rd', 'p@ssword', 'p@ssw0rd', 'pass', 'passwd', 'pwd', 'secret', 'letmein',
    'welcome', 'admin', 'administrator', 'root', 'user', 'login', 'guest', 'test', 'testing',
    'default', 'changeme', 'master', 'access', 'qwerty', 'qwertyuiop', 'qwertyui', 'asdfgh',
    'asdfghjkl', 'zxcvbn', 'zxcvbnm', 'qazwsx', 'qweasd', 'qweasdzxc', 'qaz2wsx', 'qaz2wsx3edc',
    'trustno', 'abc', 'abcd', 'abcdef', 'iloveyou', 'iloveu', 'loveyou', 'love', 'lovely',
    'mylove', 'baby', 'babygirl', 'princess', 'angel', 'sunshine', 'monkey', 'dragon', 'shadow',
    'freedom', 'whatever', 'starwars', 'pokemon', 'batman', 'superman', 'spiderman', 'football',
    'soccer', 'baseball', 'basketball', 'hockey', 'arsenal', 'chelsea', 'liverpool', 'manchester',
    'manutd', 'barcelona', 'realmadrid', 'gormahia', 'afcleopards', 'harambee', 'michael',
    'jennifer', 'jessica', 'charlie', 'daniel', 'thomas', 'jordan', 'hunter', 'ashley', 'nicole',
    'michelle', 'samuel', 'joseph', 'david', 'john', 'peter', 'mary', 'grace', 'faith', 'mercy',
    'joy', 'hope', 'blessed', 'blessing', 'blessings', 'jesus', 'jesuschrist', 'christ', 'god',
    'godisgood', 'godislove', 'amen', 'hallelujah', 'computer', 'internet', 'google', 'facebook',
    'whatsapp', 'instagram', 'samsung', 'iphone', 'apple', 'nokia', 'safaricom', 'mpesa',
    'airtel', 'telkom', 'kenya', 'nairobi', 'mombasa', 'kisumu', 'nakuru', 'eldoret', 'africa',
    'jambo', 'karibu', 'asante', 'hakunamatata', 'mambo', 'music', 'guitar', 'piano', 'keyboard',
    'drums', 'shop', 'myshop', 'business', 'money', 'cash', 'dollar', 'million', 'success',
    'winner', 'champion', 'killer', 'ninja', 'summer', 'winter', 'spring', 'autumn', 'monday',
    'friday', 'sunday', 'january', 'august', 'december', 'flower', 'cookie', 'chocolate',
    'banana', 'orange', 'cheese', 'pepper', 'ginger', 'coffee', 'tigger', 'buster', 'maggie',
    'bailey', 'lucky', 'family', 'mother', 'father', 'mummy', 'daddy', 'sister', 'brother',
    'friend', 'friends', 'forever', 'myname', 'nothing', 'secure', 'security', 'private',
    'mypassword', 'newpassword', 'oldpassword', 'thepassword', 'passpass', 'console', 'alphadome',
    'kassangas', 'customer', 'service', 'support', 'office', 'company', 'manager', 'owner',
    'staff', 'starlight', 'matrix', 'mustang', 'ferrari', 'toyota', 'mercedes', 'porsche',
    'harley', 'yamaha', 'hello', 'helloworld', 'hellokitty', 'goodluck', 'open', 'opensesame',
    'zaq', 'zaq12wsx', 'xsw2zaq', 'azerty', 'qwertz', 'asdf', 'asdfasdf', 'qwer', 'qwerqwer',
    'aaaa', 'abcabc', 'abcdabcd', 'abc123abc', 'abcde'
];
END;

-- Whole passwords that are common and not a word with digits: keyboard walks, counts, phrases.
CREATE OR REPLACE FUNCTION alphadome._common_passwords() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
SELECT ARRAY[
    '1234567890', '0123456789', '9876543210', '0987654321', '1234512345', '1234567891',
    '1234567899', '12345678910', '123456789a', 'a123456789', '123456789q', 'q123456789',
    '123456789z', '1234567890a', '1234567890q', '0000000001', '1000000000', '1122334455',
    '1122334455667788', '1212121212', '1231231231', '123123123123', '1357924680', '2468013579',
    '0102030405', '01020304050607', '1020304050', '1029384756', '5647382910', '9999999999',
    '0712345678', '0722000000', '0700000000', '0123456789a', 'qwertyuiop', 'qwertyuiop1',
    'poiuytrewq', 'asdfghjkl;', 'asdfghjkl1', 'zxcvbnm123', 'zxcvbnm,./', '1qaz2wsx3e',
    '1qaz2wsx3edc', '1qaz@wsx3edc', '!qaz2wsx3edc', '!qaz@wsx#edc', 'qazwsxedcrfv',
    'qazwsxedc123', 'qweasdzxc1', 'qweasdzxc123', '1q2w3e4r5t', '1q2w3e4r5t6y', 'q1w2e3r4t5',
    'q1w2e3r4t5y6', 'zaq12wsxcde3', 'zaq1xsw2cde3', '!@#$%^&*()', ')(*&^%$#@!', '!@#$%^&*()_+',
    'qwertyuiopasdfghjkl', 'iloveyou123', 'iloveyoubaby', 'iloveyousomuch', 'iloveyouforever',
    'iloveyoutoo', 'iloveyoumum', 'iloveyoumom', 'iloveyoudad', 'iloveyouall', 'iloveme123',
    'iloveyouall1', 'iloveyoujesus', 'ilovejesus', 'ilovemusic', 'ilovemyself', 'ilovemymom',
    'ilovemyfamily', 'ilovemyshop', 'ilovekenya', 'ilovenairobi', 'godisgreat', 'godisfaithful',
    'jesusislord', 'jesusisking', 'jesuslovesme', 'praisethelord', 'thelordismyshepherd',
    'trustinthelord', 'letmeinnow', 'letmeinplease', 'opensesame1', 'changeme123', 'changemenow',
    'pleasechangeme', 'passwordpassword', 'password123456', 'mypassword1', 'mysecretpassword',
    'thisismypassword', 'thisisapassword', 'isthispassword', 'notapassword', 'nopassword',
    'thepassword1', 'yourpassword', 'userpassword', 'adminpassword', 'adminadmin', 'adminadmin1',
    'administrator1', 'rootpassword', 'test123456', 'testing123', 'welcomewelcome', 'welcomehome',
    'welcometokenya', 'helloworld1', 'hellohello', 'hellothere', 'goodmorning', 'happybirthday',
    'beautiful1', 'sweetheart', 'sweetheart1', 'lovelylove', 'myloveforever', 'babygirl12',
    'babyboy123', 'princess12', 'superstar1', 'rockstar123', 'iamthebest', 'iamthebest1',
    'youarethebest', 'thebest123', 'number1one', 'onetwothree', 'onetwothreefour', 'abcdefghij',
    'abcdefghijk', 'abcdefghijkl', 'abcdefghijklmnopqrstuvwxyz', 'abcdefg123', 'abcdef1234',
    'abcde12345', 'abcd123456', 'abc1234567', 'abc123456789', 'abcd1234abcd', 'a1b2c3d4e5',
    'a1b2c3d4e5f6', 'aa123456789', 'aaa1234567', 'qwerty1234', 'qwerty12345', 'qwerty123456',
    'qwertyqwerty', 'qwerty123!', 'asdf123456', 'asdfasdfasdf', 'asdfghjkl123', 'zxcvbnmasdf',
    'football12', 'liverpool1', 'manchesterunited', 'manunited1', 'chelseafc1', 'arsenalfc1',
    'barcelona1', 'realmadrid1', 'harambeestars', 'hakunamatata1', 'nairobikenya', 'kenya254254',
    'nairobi254', 'mombasa254', 'safaricom1', 'safaricom254', 'mpesa12345', 'whatsapp12',
    'facebook12', 'instagram1', 'samsung123', 'iphone1234', 'computer12', 'internet12',
    'password!!', 'password!!!', 'password@1', 'password#1', 'p@ssw0rd123', 'p@55w0rd123',
    'pa55word123', 'passw0rd123', 'pass@word1', 'pass@word123', 'letmein123!', 'welcome@123',
    'admin@1234', 'admin@12345', 'admin#1234', 'kassangas1', 'kassangas123', 'kassangasmusic',
    'kassangasmusicshop', 'musicshop1', 'musicshop123', 'mymusicshop', 'alphadome1',
    'alphadome123', 'whatsappbot', 'chatbot123', 'customerservice', 'customercare',
    'customercare1', 'shopowner1', 'myshop1234', 'mybusiness1', 'business123', 'company123',
    'office1234', 'manager123', 'support123', 'service123', 'staff12345', 'owner12345',
    'secret1234', 'secret12345', 'topsecret1', 'verysecret', 'supersecret', 'supersecret1',
    'secretpassword', 'privatepassword'
];
END;

-- Why a new password is refused, in words for the person choosing it; NULL when it is fine.
-- bcrypt reads only the first 72 bytes: a longer password would be checked on its first 72
-- alone, so it is refused rather than cut. Common ones, one character or a short group over
-- and over, a run of the keyboard or the alphabet, and the account's own email (or the part
-- before its @) are refused.
CREATE OR REPLACE FUNCTION alphadome._password_problem(password text, email text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    folded text := lower(btrim(coalesce(password, '')));
    run text;
BEGIN
    IF password IS NULL OR length(password) < 10 THEN
        RETURN 'a password has at least 10 characters';
    ELSIF octet_length(password) > 72 THEN
        RETURN 'a password has at most 72 bytes: 72 plain letters, digits or signs (an accented '
               'letter or an emoji takes two to four); what comes after would not be checked';
    ELSIF folded IN (lower(btrim(email)), split_part(lower(btrim(email)), '@', 1)) THEN
        RETURN 'a password cannot be the login''s own email address: choose something else';
    END IF;
    -- One character, or a group of up to four, repeated ('aaaaaaaaaa', ten spaces, 'abcabcabca').
    FOR size IN 1..4 LOOP
        IF folded = '' OR left(repeat(left(folded, size), length(folded) / size + 1), length(folded)) = folded THEN
            RETURN 'this password is one character or a short group repeated: choose one that is harder to guess';
        END IF;
    END LOOP;
    -- A stretch of the digits, the alphabet or a keyboard row, either way round.
    FOREACH run IN ARRAY ARRAY['01234567890123456789', 'abcdefghijklmnopqrstuvwxyz',
                               'qwertyuiopasdfghjklzxcvbnm', '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p']
    LOOP
        IF strpos(run, folded) > 0 OR strpos(reverse(run), folded) > 0 THEN
            RETURN 'this password is a row of the keyboard or the alphabet: choose one that is harder to guess';
        END IF;
    END LOOP;
    IF folded = ANY (alphadome._common_passwords())
       OR regexp_replace(folded, '^[^a-z]+|[^a-z]+$', '', 'g') = ANY (alphadome._common_password_words()) THEN
        RETURN 'this password is one of the most common ones and is guessed first: choose one of your own, '
               'for example a few words that go together only for you';
    END IF;
    RETURN NULL;
END
$$;

-- The password, or 22023 with why it is refused (_password_problem).
CREATE OR REPLACE FUNCTION alphadome._new_password(password text, email text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    problem text := alphadome._password_problem(_new_password.password, _new_password.email);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = '22023';
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
            alphadome._password_hash(alphadome._new_password(_create_tenant_account.password,
                                                             _create_tenant_account.email)),
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
            alphadome._password_hash(alphadome._new_password(create_operator.password, create_operator.email)))
    RETURNING id INTO account;
    RETURN account;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a console account with email % exists already', create_operator.email USING ERRCODE = '23505';
END
$$;

-- ---- sessions (the console) ----------------------------------------------------------------------

-- The throttle of console_login and console_change_password: after 5 failures for the account,
-- or 20 from the client address, in 15 minutes, no password is checked until the oldest of them
-- is 15 minutes old. Returns until when (NULL: go on). It first takes a lock on the account and
-- one on the address, held to the end of the caller's transaction: a parallel attempt waits until
-- this one has checked its password and recorded any failure (_console_failure), then sees it,
-- so a burst of guesses gets no more checks than the limit. The account's lock first, then the
-- address's, in every caller: two attempts never wait on each other in a circle. Under READ
-- COMMITTED (the default), so that the statement after the lock sees what the holder committed.
CREATE OR REPLACE FUNCTION alphadome._console_throttle(login text, address text) RETURNS timestamptz
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    wait_until timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('alphadome console account ' || login, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('alphadome console address ' || address, 0));
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
    RETURN CASE WHEN wait_until > now() THEN wait_until END;
END
$$;

-- Records a wrong password (of a login or of a password change), for _console_throttle.
CREATE OR REPLACE FUNCTION alphadome._console_failure(login text, address text) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    INSERT INTO alphadome.console_login_failures (email, client_address)
    VALUES (_console_failure.login, _console_failure.address);
END;

-- A login. outcome: 'ok' with a new session token (shown once: only its sha256 is kept),
-- 'wrong' (no such account, or the wrong password: the same answer, in about the same time), or
-- 'throttled' with the seconds to wait (_console_throttle). Returns its outcome rather than
-- raising, so that a failure is recorded.
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
    wait_until := alphadome._console_throttle(login, address);
    IF wait_until IS NOT NULL THEN
        RETURN QUERY SELECT 'throttled'::text, NULL::text, ceil(extract(epoch FROM wait_until - now()))::integer;
        RETURN;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE lower(a.email) = login;
    -- The same bcrypt work whether or not the account exists.
    IF NOT coalesce(alphadome._password_matches(console_login.password,
                        coalesce(account.password_hash, '$2a$10$6dwXBzAZ19AZTSbLBRLYn.PRmraDyOtHbfPgbiWJwleGmEllX0.km')),
                    false)
       OR account.id IS NULL THEN
        PERFORM alphadome._console_failure(login, address);
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

-- A new password for the session's account, given the current one. outcome: 'changed' (every
-- other session of the account ends), 'wrong' (the current password is not it: recorded and
-- throttled like a failed login, in the same table and under the same limits), or 'throttled'
-- with the seconds to wait. Returns rather than raises for those two, so that the failure is
-- recorded; 28000 when the session has ended, 22023 for a new password that is refused
-- (checked before the current one, so a refused new password tells nothing about it).
CREATE OR REPLACE FUNCTION alphadome.console_change_password(session_token text, current_password text,
                                                             new_password text, client_address text)
    RETURNS TABLE (outcome text, retry_after_seconds integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    token_hash bytea := sha256(convert_to(coalesce(console_change_password.session_token, ''), 'UTF8'));
    address text := coalesce(nullif(btrim(console_change_password.client_address), ''), 'unknown');
    account alphadome.console_accounts;
    login text;
    new_hash text;
    wait_until timestamptz;
BEGIN
    SELECT a.* INTO account FROM alphadome.console_accounts a
      JOIN alphadome.console_sessions s ON s.account_id = a.id
     WHERE s.token_sha256 = token_hash
       AND s.last_seen_at > now() - interval '4 hours' AND s.created_at > now() - interval '24 hours';
    IF account.id IS NULL THEN
        RAISE EXCEPTION 'the session has ended: log in again' USING ERRCODE = '28000';
    END IF;
    login := lower(account.email);
    PERFORM alphadome._new_password(console_change_password.new_password, account.email);
    wait_until := alphadome._console_throttle(login, address);
    IF wait_until IS NOT NULL THEN
        RETURN QUERY SELECT 'throttled'::text, ceil(extract(epoch FROM wait_until - now()))::integer;
        RETURN;
    END IF;
    IF NOT alphadome._password_matches(coalesce(console_change_password.current_password, ''), account.password_hash) THEN
        PERFORM alphadome._console_failure(login, address);
        RETURN QUERY SELECT 'wrong'::text, NULL::integer;
        RETURN;
    END IF;
    new_hash := alphadome._password_hash(console_change_password.new_password);
    UPDATE alphadome.console_accounts a
       SET password_hash = new_hash, password_changed_at = now()
     WHERE a.id = account.id;
    DELETE FROM alphadome.console_login_failures f WHERE f.email = login;
    DELETE FROM alphadome.console_sessions s WHERE s.account_id = account.id AND s.token_sha256 <> token_hash;
    RETURN QUERY SELECT 'changed'::text, NULL::integer;
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

-- ---- Getting back in (issue 22): password reset links and the tries left -------------------------
-- A reset link carries a random token, of which only the sha256 is kept; it works once, for
-- _reset_link_lifetime(), and a newer link for the account ends the older ones. Requests are
-- throttled by the email asked for and by the client's address, whether or not an account has
-- that email, and answered the same way either way (the console says "if an account has this
-- address, a link is on its way"). The console emails the link itself (docs/console.md says why).

CREATE OR REPLACE FUNCTION alphadome._reset_link_lifetime() RETURNS interval
    LANGUAGE sql IMMUTABLE AS $$ SELECT interval '30 minutes' $$;

-- A new link for an account: its token (shown once), the older unused links ended.
CREATE OR REPLACE FUNCTION alphadome._issue_reset_link(account_id uuid, login text, address text, requested_by text)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    token text := alphadome._random_token();
BEGIN
    UPDATE alphadome.console_password_resets r SET expires_at = least(r.expires_at, now())
     WHERE r.account_id = _issue_reset_link.account_id AND r.used_at IS NULL AND r.expires_at > now();
    INSERT INTO alphadome.console_password_resets (email, client_address, account_id, token_sha256, requested_by, expires_at)
    VALUES (_issue_reset_link.login, _issue_reset_link.address, _issue_reset_link.account_id,
            sha256(convert_to(token, 'UTF8')), _issue_reset_link.requested_by, now() + alphadome._reset_link_lifetime());
    RETURN token;
END
$$;

-- "Forgot password": outcome 'sent' with the link's token and the account's email (for the
-- console to send; the token is shown once), 'unknown' (no account has that email: nothing to
-- send; the person is told the same as for 'sent'), or 'throttled' (3 requests an hour for one
-- email, 10 from one address: nothing is recorded or sent).
CREATE OR REPLACE FUNCTION alphadome.console_request_password_reset(email text, client_address text)
    RETURNS TABLE (outcome text, reset_token text, account_email text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    login text := lower(btrim(coalesce(console_request_password_reset.email, '')));
    address text := coalesce(nullif(btrim(console_request_password_reset.client_address), ''), 'unknown');
    account alphadome.console_accounts;
BEGIN
    -- Parallel requests for one email or from one address are counted one after the other.
    PERFORM pg_advisory_xact_lock(hashtextextended('alphadome password reset ' || login, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('alphadome password reset address ' || address, 0));
    DELETE FROM alphadome.console_password_resets r WHERE r.requested_at < now() - interval '1 day';
    IF (SELECT count(*) FROM alphadome.console_password_resets r
         WHERE r.email = login AND r.requested_by = 'owner' AND r.requested_at > now() - interval '1 hour') >= 3
       OR (SELECT count(*) FROM alphadome.console_password_resets r
            WHERE r.client_address = address AND r.requested_at > now() - interval '1 hour') >= 10 THEN
        RETURN QUERY SELECT 'throttled'::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE lower(a.email) = login;
    IF account.id IS NULL THEN
        INSERT INTO alphadome.console_password_resets (email, client_address) VALUES (login, address);
        RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'sent'::text, alphadome._issue_reset_link(account.id, login, address, 'owner'), account.email;
END
$$;

-- Whether a reset link's token still works (the reset page asks before showing its form).
CREATE OR REPLACE FUNCTION alphadome.console_reset_link_works(reset_token text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
    SELECT EXISTS (SELECT FROM alphadome.console_password_resets r
                    WHERE r.token_sha256 = sha256(convert_to(coalesce(console_reset_link_works.reset_token, ''), 'UTF8'))
                      AND r.used_at IS NULL AND r.expires_at > now())
$$;

-- Sets a new password through a reset link: 'changed' (the link is used up, every session of
-- the account ends, its failed logins are forgotten) or 'invalid' (unknown, used or expired);
-- 22023 for a new password that is refused (_password_problem; the link still works).
CREATE OR REPLACE FUNCTION alphadome.console_reset_password(reset_token text, new_password text)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    link alphadome.console_password_resets;
    account alphadome.console_accounts;
BEGIN
    SELECT * INTO link FROM alphadome.console_password_resets r
     WHERE r.token_sha256 = sha256(convert_to(coalesce(console_reset_password.reset_token, ''), 'UTF8'))
       AND r.used_at IS NULL AND r.expires_at > now()
       FOR UPDATE;
    IF link.id IS NULL THEN
        RETURN 'invalid';
    END IF;
    SELECT * INTO account FROM alphadome.console_accounts a WHERE a.id = link.account_id;
    UPDATE alphadome.console_accounts a
       SET password_hash = alphadome._password_hash(alphadome._new_password(console_reset_password.new_password, account.email)),
           password_changed_at = now()
     WHERE a.id = account.id;
    UPDATE alphadome.console_password_resets r SET used_at = now() WHERE r.id = link.id;
    DELETE FROM alphadome.console_sessions s WHERE s.account_id = account.id;
    DELETE FROM alphadome.console_login_failures f WHERE f.email = lower(account.email);
    RETURN 'changed';
END
$$;

-- The operator sends an owner (or staff member) a reset link: its token, for the console to
-- email to the account's own address (the operator never learns or sets the password). Not
-- throttled; P0002 for no such account, 22023 for an operator's own kind of account.
CREATE OR REPLACE FUNCTION alphadome.operator_password_reset(account_id uuid)
    RETURNS TABLE (reset_token text, account_email text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
DECLARE
    account alphadome.console_accounts;
BEGIN
    SELECT * INTO account FROM alphadome.console_accounts a WHERE a.id = operator_password_reset.account_id;
    IF account.id IS NULL THEN
        RAISE EXCEPTION 'no console account with id %', operator_password_reset.account_id USING ERRCODE = 'P0002';
    ELSIF account.bot_tenant_id IS NULL THEN
        RAISE EXCEPTION 'an operator''s password is not reset from the console' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT alphadome._issue_reset_link(account.id, lower(account.email), 'operator', 'operator'), account.email;
END
$$;

-- How many wrong passwords more may be tried for this email from this address before
-- _console_throttle pauses logins (0: paused now), for the login page's warning.
CREATE OR REPLACE FUNCTION alphadome.console_login_tries_left(email text, client_address text) RETURNS integer
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET log_min_error_statement = 'panic'
AS $$
    SELECT greatest(0, least(
        5 - (SELECT count(*) FROM alphadome.console_login_failures f
              WHERE f.email = lower(btrim(coalesce(console_login_tries_left.email, '')))
                AND f.failed_at > now() - interval '15 minutes'),
        20 - (SELECT count(*) FROM alphadome.console_login_failures f
               WHERE f.client_address = coalesce(nullif(btrim(console_login_tries_left.client_address), ''), 'unknown')
                 AND f.failed_at > now() - interval '15 minutes')))::integer
$$;

-- Business hours (0.2.0): when a tenant is open, in its own time zone. bot_control_settings
-- holds them: business_hours {"mon": [["09:00", "18:00"]], ..., "sun": []} (a day left out is
-- closed; two ranges a day are fine; "24:00" ends at midnight), holidays (dates closed all day),
-- timezone (an IANA name), after_hours_message. NULL hours: always open.

-- What is wrong with a business_hours value, or NULL when it is right.
CREATE OR REPLACE FUNCTION alphadome._business_hours_problem(hours jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    day text;
    ranges jsonb;
    range jsonb;
    last_end text;
BEGIN
    IF hours IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(hours) <> 'object' THEN
        RETURN 'business_hours must be an object like {"mon": [["09:00", "18:00"]], "sun": []}';
    END IF;
    FOR day, ranges IN SELECT * FROM jsonb_each(hours) LOOP
        IF day NOT IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun') THEN
            RETURN format('business_hours: %s is not a day (mon, tue, wed, thu, fri, sat, sun)', day);
        END IF;
        IF jsonb_typeof(ranges) <> 'array' THEN
            RETURN format('business_hours: %s must be a list of ["HH:MM", "HH:MM"] ranges', day);
        END IF;
        last_end := '00:00';
        FOR range IN SELECT * FROM jsonb_array_elements(ranges) LOOP
            IF jsonb_typeof(range) <> 'array' OR jsonb_array_length(range) <> 2
               OR (range ->> 0) !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
               OR (range ->> 1) !~ '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' THEN
                RETURN format('business_hours: %s has %s, not a ["HH:MM", "HH:MM"] range', day, range);
            END IF;
            IF (range ->> 0) >= (range ->> 1) OR (range ->> 0) < last_end THEN
                RETURN format('business_hours: the ranges of %s must each end after they start, in order, without overlapping', day);
            END IF;
            last_end := range ->> 1;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

-- The first moment at or after `at` when the tenant is open: `at` itself while it is open, NULL
-- when it opens on none of the next 14 days. The opening minute is open, the closing minute is
-- not.
CREATE OR REPLACE FUNCTION alphadome._next_opening(hours jsonb, holidays date[], tz text, at timestamptz)
    RETURNS timestamptz
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    first_day date := (at AT TIME ZONE tz)::date;
    day date;
    range jsonb;
    opens timestamptz;
    closes timestamptz;
BEGIN
    IF hours IS NULL THEN
        RETURN at;
    END IF;
    FOR offset_days IN 0..14 LOOP
        day := first_day + offset_days;
        CONTINUE WHEN day = ANY (holidays);
        FOR range IN
            SELECT r FROM jsonb_array_elements(coalesce(
                hours -> (ARRAY['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])[extract(dow FROM day)::int + 1],
                '[]')) r
        LOOP
            opens := (day + (range ->> 0)::time) AT TIME ZONE tz;
            closes := (day + (range ->> 1)::time) AT TIME ZONE tz;
            IF at < closes THEN
                RETURN greatest(at, opens);
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

-- The languages answers are rendered in: English, and Swahili (the Swahili clock: saa 1 is 7 AM);
-- which one a customer's message is in: _message_language (src/language.rs).

-- A time of day ("HH:MM", "24:00") as a customer reads it: '8:30 AM', '6 PM', 'midnight'; in
-- Swahili by the Swahili clock, from 7 AM: 'saa 2:30 asubuhi', 'saa 12 jioni'.
CREATE OR REPLACE FUNCTION alphadome._time_words(hhmm text, language text DEFAULT 'en') RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
-- PL/pgSQL: as SQL (a subquery, so never inlined) its body was planned again at every call, 14
-- times for each answer that says the hours (about 1 ms an answer).
AS $$
DECLARE
    h constant integer := split_part(hhmm, ':', 1)::int % 24;
    m constant integer := split_part(hhmm, ':', 2)::int;
BEGIN
    RETURN CASE
    WHEN language = 'sw' THEN
        'saa ' || ((h + 5) % 12 + 1) || CASE WHEN m = 0 THEN '' ELSE ':' || lpad(m::text, 2, '0') END
        || CASE WHEN h >= 19 OR h < 5 THEN ' usiku' WHEN h < 12 THEN ' asubuhi' WHEN h < 16 THEN ' mchana' ELSE ' jioni' END
    WHEN h % 24 = 0 AND m = 0 THEN 'midnight'
    ELSE ((h + 11) % 12 + 1) || CASE WHEN m = 0 THEN '' ELSE ':' || lpad(m::text, 2, '0') END
         || CASE WHEN h < 12 THEN ' AM' ELSE ' PM' END
    END;
END
$$;

-- A day of the week (0 = Sunday, as extract(dow)) by name.
CREATE OR REPLACE FUNCTION alphadome._day_words(dow integer, language text DEFAULT 'en') RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN language = 'sw'
            THEN (ARRAY['Jumapili', 'Jumatatu', 'Jumanne', 'Jumatano', 'Alhamisi', 'Ijumaa', 'Jumamosi'])[dow + 1]
            ELSE (ARRAY['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'])[dow + 1] END;

-- The week's hours in words, Monday first, days with the same hours together: 'Monday to
-- Friday 8:30 AM - 1 PM and 2 PM - 7 PM, Saturday 9 AM - 1 PM; closed on Sunday and on holidays'.
-- NULL hours: open at any hour.
CREATE OR REPLACE FUNCTION alphadome._hours_words(hours jsonb, holidays date[], language text DEFAULT 'en') RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    sw constant boolean := language = 'sw';
    keys constant text[] := ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    day_text text[] := '{}';
    open_parts text[] := '{}';
    closed_days text[] := '{}';
    first_day integer;
    said text;
BEGIN
    IF hours IS NULL THEN
        RETURN CASE WHEN sw THEN 'kila siku, saa zote' ELSE 'every day, at any hour' END;
    END IF;
    FOR i IN 1..7 LOOP
        day_text := day_text || coalesce((
            SELECT string_agg(CASE WHEN r ->> 0 = '00:00' AND r ->> 1 = '24:00'
                                   THEN CASE WHEN sw THEN 'saa zote' ELSE 'all day' END
                                   ELSE alphadome._time_words(r ->> 0, language)
                                        || CASE WHEN sw THEN ' hadi ' ELSE ' - ' END
                                        || alphadome._time_words(r ->> 1, language) END,
                              CASE WHEN sw THEN ' na ' ELSE ' and ' END ORDER BY n)
              FROM jsonb_array_elements(CASE jsonb_typeof(hours -> keys[i]) WHEN 'array' THEN hours -> keys[i] ELSE '[]' END)
                   WITH ORDINALITY e(r, n)), '');
    END LOOP;
    first_day := 1;
    FOR i IN 1..7 LOOP
        CONTINUE WHEN i < 7 AND day_text[i + 1] = day_text[i];
        -- Days first_day..i have the same hours. (dow: Monday 1 ... Sunday 0)
        said := alphadome._day_words(first_day % 7, language)
                || CASE WHEN i = first_day THEN ''
                        WHEN i = first_day + 1 THEN CASE WHEN sw THEN ' na ' ELSE ' and ' END || alphadome._day_words(i % 7, language)
                        ELSE CASE WHEN sw THEN ' hadi ' ELSE ' to ' END || alphadome._day_words(i % 7, language) END;
        IF day_text[i] = '' THEN
            closed_days := closed_days || said;
        ELSE
            open_parts := open_parts || (said || CASE WHEN sw THEN ', ' ELSE ' ' END || day_text[i]);
        END IF;
        first_day := i + 1;
    END LOOP;
    IF cardinality(holidays) > 0 THEN
        closed_days := closed_days || CASE WHEN sw THEN 'sikukuu' ELSE 'on holidays' END::text;
    END IF;
    RETURN CASE WHEN cardinality(open_parts) = 0
                THEN CASE WHEN sw THEN 'tumefungwa kwa sasa' ELSE 'closed for now' END
                ELSE array_to_string(open_parts, CASE WHEN sw THEN '; ' ELSE ', ' END) END
        || CASE WHEN cardinality(closed_days) = 0 OR cardinality(open_parts) = 0 THEN ''
                WHEN sw THEN '; tumefungwa ' || array_to_string(closed_days, ' na ')
                ELSE '; closed on ' || array_to_string(closed_days, ' and ') END;
END
$$;

-- When a tenant is next open, in words a customer reads: 'today at 2 PM', 'tomorrow at 9 AM',
-- 'Monday at 9 AM' (local time); 'soon' when it is not open in the next two weeks. In Swahili:
-- 'leo saa 8 mchana', 'kesho saa 3 asubuhi', 'Jumatatu saa 3 asubuhi', 'hivi karibuni'. 'now'
-- ('sasa') when it is open at `at`.
CREATE OR REPLACE FUNCTION alphadome._opening_words(opening timestamptz, tz text, at timestamptz, language text DEFAULT 'en')
    RETURNS text
    LANGUAGE plpgsql STABLE
-- PL/pgSQL, as render_placeholders: a SQL function's body is read back from its stored tree and
-- planned at every call.
AS $$
BEGIN
    RETURN CASE
    WHEN opening IS NULL THEN CASE WHEN language = 'sw' THEN 'hivi karibuni' ELSE 'soon' END
    WHEN opening <= at THEN CASE WHEN language = 'sw' THEN 'sasa' ELSE 'now' END
    ELSE CASE
             WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date
                 THEN CASE WHEN language = 'sw' THEN 'leo' ELSE 'today' END
             WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date + 1
                 THEN CASE WHEN language = 'sw' THEN 'kesho' ELSE 'tomorrow' END
             ELSE alphadome._day_words(extract(dow FROM opening AT TIME ZONE tz)::int, language)
         END
         || CASE WHEN language = 'sw' THEN ' ' ELSE ' at ' END
         || alphadome._time_words(to_char(opening AT TIME ZONE tz, 'HH24:MI'), language)
END;
END
$$;

-- An answer with the shop's facts put in, from its settings, so that changing them changes every
-- answer that states them: {hours} (the week's hours, _hours_words) and {opening} (when it next
-- opens, at `at`: 'now' words when open), in `language` ('en', 'sw'). The one place placeholders
-- are rendered: ingest's FAQ and after-hours replies, try_message, replay and the prompt's facts.
-- SECURITY INVOKER: an owner renders for his own tenant.
CREATE OR REPLACE FUNCTION alphadome.render_placeholders(tenant_id uuid, answer text, language text DEFAULT 'en',
                                                         at timestamptz DEFAULT now())
    RETURNS text
    LANGUAGE plpgsql STABLE
-- PL/pgSQL: its plan is kept for the session. As a SQL function (BEGIN ATOMIC) its body was read
-- back from the stored tree and planned at every call: most of an FAQ answer's ingest.
AS $$
BEGIN
    IF strpos(render_placeholders.answer, '{') = 0 THEN
        RETURN render_placeholders.answer;
    END IF;
    RETURN (SELECT replace(replace(render_placeholders.answer,
                       '{hours}', alphadome._hours_words(s.business_hours, s.holidays, render_placeholders.language)),
                       '{opening}', alphadome._opening_words(
                           alphadome._next_opening(s.business_hours, s.holidays, s.timezone, render_placeholders.at),
                           s.timezone, render_placeholders.at, render_placeholders.language))
              FROM (SELECT NULL) one
              LEFT JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = render_placeholders.tenant_id);
END
$$;

-- When the tenant is next open (at itself when open then; NULL: not in the next two weeks).
-- SECURITY INVOKER: an owner asks about his own tenant, the operator about any. A tenant the
-- caller cannot see (unknown, or another owner's) is P0002, not NULL: NULL means "closed for
-- two weeks".
CREATE OR REPLACE FUNCTION alphadome.next_opening(tenant_id uuid, at timestamptz DEFAULT now()) RETURNS timestamptz
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
BEGIN
    SELECT c.business_hours, c.holidays, c.timezone INTO s
      FROM alphadome.bot_control_settings c
     WHERE c.bot_tenant_id = next_opening.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant with id %', next_opening.tenant_id USING ERRCODE = 'P0002';
    END IF;
    RETURN alphadome._next_opening(s.business_hours, s.holidays, s.timezone, next_opening.at);
END
$$;

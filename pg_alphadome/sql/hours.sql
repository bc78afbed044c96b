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

-- When a tenant is next open, in words a customer reads: 'today at 14:00', 'tomorrow at 09:00',
-- 'Monday at 09:00' (local time); 'soon' when it is not open in the next two weeks.
CREATE OR REPLACE FUNCTION alphadome._opening_words(opening timestamptz, tz text, at timestamptz) RETURNS text
    LANGUAGE sql STABLE
RETURN CASE
    WHEN opening IS NULL THEN 'soon'
    WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date
        THEN 'today at ' || to_char(opening AT TIME ZONE tz, 'HH24:MI')
    WHEN (opening AT TIME ZONE tz)::date = (at AT TIME ZONE tz)::date + 1
        THEN 'tomorrow at ' || to_char(opening AT TIME ZONE tz, 'HH24:MI')
    ELSE to_char(opening AT TIME ZONE tz, 'FMDay "at" HH24:MI')
END;

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

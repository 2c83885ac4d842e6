-- compat.sql - the PostgreSQL twins of the SQLite functions the engine's SQL calls (issue 15).
-- The engine's SQL is written once, in SQLite's dialect restricted to a common subset
-- (ARCHITECTURE.md, the store); engine/adapt/store_pg.c renames the calls below to these ts_*
-- functions as it prepares a statement (its rename table), so that each one answers what the
-- engine's callers read on SQLite. The PostgreSQL migration runner applies this file before the
-- numbered migrations, every time (CREATE OR REPLACE: a changed file takes effect at the next
-- start), in the schema the connection's search_path names first; its checksum is not recorded.
-- Written in PostgreSQL's own dialect: it is not translated. Conventions of the twins:
--   * times are ISO-8601 UTC text, as every timestamp column holds; 'now' is the statement's
--     start (SQLite: the same for every call of one statement), to the millisecond;
--   * JSON text comes out compact (no blank outside strings, keys in their order), as SQLite's;
--   * json_extract's twin answers text: a JSON string unquoted, a number as written, true 1,
--     false 0, null NULL, an object or array as compact JSON; a caller that needs a number
--     says CAST(... AS INTEGER), which is the same on both;
--   * json_valid's twin answers a boolean (its callers use it as a condition: CHECK, CASE WHEN).

-- A SQLite time value ('now', 'YYYY-MM-DD[ T]HH:MM[:SS[.SSS]][Z|+HH:MM]', a Julian day
-- number, or seconds with the 'unixepoch' modifier) and its modifiers ('+N seconds|minutes|
-- hours|days|months|years', 'start of day', 'utc', 'unixepoch') -> a UTC timestamp, NULL when
-- SQLite's strftime would answer NULL.
CREATE OR REPLACE FUNCTION ts_time(t text, mods text[]) RETURNS timestamp
LANGUAGE plpgsql STABLE AS $$
DECLARE
    ts timestamp;
    m text;
    parts text[];
    epoch boolean := false;
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    IF mods IS NOT NULL AND array_length(mods, 1) >= 1 AND lower(mods[1]) = 'unixepoch' THEN
        epoch := true;
    END IF;
    IF lower(t) = 'now' THEN
        ts := date_trunc('milliseconds', statement_timestamp() AT TIME ZONE 'UTC');
    ELSIF t ~ '^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$' THEN
        IF epoch THEN
            ts := timestamp '1970-01-01' + t::numeric * interval '1 second';
        ELSE
            ts := timestamp '1970-01-01' + (t::numeric - 2440587.5) * interval '1 day';
        END IF;
        ts := date_trunc('milliseconds', ts);
    ELSIF t ~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?\s*([Zz]|[-+][0-9]{2}:?[0-9]{2})?\s*$' THEN
        BEGIN
            IF t ~ '([Zz]|[-+][0-9]{2}:?[0-9]{2})\s*$' AND t ~ '[T ]' THEN
                ts := (translate(t, 'Tz', ' Z'))::timestamptz AT TIME ZONE 'UTC';
            ELSE
                ts := (translate(t, 'Tz', ' Z'))::timestamp;
            END IF;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END;
        ts := date_trunc('milliseconds', ts);
    ELSE
        RETURN NULL;
    END IF;
    IF mods IS NULL THEN
        RETURN ts;
    END IF;
    FOREACH m IN ARRAY mods LOOP
        IF m IS NULL THEN
            RETURN NULL;
        END IF;
        m := lower(btrim(m));
        IF m IN ('unixepoch', 'utc', 'localtime') THEN
            CONTINUE; -- the store's times are UTC already
        ELSIF m = 'start of day' THEN
            ts := date_trunc('day', ts);
        ELSIF m = 'start of month' THEN
            ts := date_trunc('month', ts);
        ELSIF m = 'start of year' THEN
            ts := date_trunc('year', ts);
        ELSE
            parts := regexp_match(m,
                '^([-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+))\s+(second|minute|hour|day|month|year)s?$');
            IF parts IS NULL THEN
                RETURN NULL;
            END IF;
            IF parts[4] IN ('month', 'year') THEN
                ts := ts + (parts[1]::numeric * CASE parts[4] WHEN 'month' THEN interval '1 month'
                                                               ELSE interval '1 year' END);
            ELSE
                ts := ts + parts[1]::numeric * CASE parts[4]
                    WHEN 'second' THEN interval '1 second' WHEN 'minute' THEN interval '1 minute'
                    WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END;
            END IF;
            ts := date_trunc('milliseconds', ts);
        END IF;
    END LOOP;
    RETURN ts;
END
$$;

-- strftime(format, time, modifier...): %Y %m %d %H %M %S %f (SS.SSS) %s (Unix seconds) %j %w %%.
CREATE OR REPLACE FUNCTION ts_strftime(fmt text, t text, VARIADIC mods text[] DEFAULT '{}')
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    ts timestamp := ts_time(t, mods);
    out text := '';
    i int := 1;
    n int := length(fmt);
    c text;
BEGIN
    IF ts IS NULL OR fmt IS NULL THEN
        RETURN NULL;
    END IF;
    IF fmt = '%Y-%m-%dT%H:%M:%fZ' THEN
        RETURN to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
    END IF;
    WHILE i <= n LOOP
        c := substr(fmt, i, 1);
        IF c = '%' AND i < n THEN
            i := i + 1;
            c := substr(fmt, i, 1);
            out := out || CASE c
                WHEN 'Y' THEN to_char(ts, 'YYYY') WHEN 'm' THEN to_char(ts, 'MM')
                WHEN 'd' THEN to_char(ts, 'DD') WHEN 'H' THEN to_char(ts, 'HH24')
                WHEN 'M' THEN to_char(ts, 'MI') WHEN 'S' THEN to_char(ts, 'SS')
                WHEN 'f' THEN to_char(ts, 'SS.MS') WHEN 'j' THEN to_char(ts, 'DDD')
                WHEN 'w' THEN extract(dow FROM ts)::int::text
                WHEN 's' THEN floor(extract(epoch FROM ts))::bigint::text
                WHEN '%' THEN '%'
                ELSE NULL END;
            IF out IS NULL THEN
                RETURN NULL;
            END IF;
        ELSE
            out := out || c;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN out;
END
$$;

-- julianday(time, modifier...): the Julian day number, a double.
CREATE OR REPLACE FUNCTION ts_julianday(t text, VARIADIC mods text[] DEFAULT '{}')
RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT extract(epoch FROM ts_time(t, mods))::double precision / 86400.0 + 2440587.5
$$;

-- '$.a.b[2]' -> '{a,b,2}'; NULL when the path is not of that form.
CREATE OR REPLACE FUNCTION ts_json_path(p text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    rest text := substr(p, 2);
    out text[] := '{}';
    m text[];
BEGIN
    IF left(p, 1) <> '$' THEN
        RETURN NULL;
    END IF;
    WHILE rest <> '' LOOP
        m := regexp_match(rest, '^(\.("([^"]*)"|([^.\[]+))|\[([0-9]+)\])(.*)$');
        IF m IS NULL THEN
            RETURN NULL;
        END IF;
        out := out || coalesce(m[3], m[4], m[5]);
        rest := m[6];
    END LOOP;
    RETURN out;
END
$$;

-- Compact JSON: no blank outside strings (what json_build_object and json_agg add).
CREATE OR REPLACE FUNCTION ts_json_compact(v json) RETURNS json
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT regexp_replace(v::text, '("(?:[^"\\]|\\.)*")|\s+', '\1', 'g')::json
$$;

-- json_group_array: [] over no rows, as SQLite (json_agg answers NULL there).
CREATE OR REPLACE FUNCTION ts_json_group(v json) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(ts_json_compact(v), '[]'::json)
$$;

-- A JSON value as SQLite's json_extract / json_each.value give it (see the header).
CREATE OR REPLACE FUNCTION ts_json_scalar(v json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE json_typeof(v)
        WHEN 'string' THEN v #>> '{}'
        WHEN 'number' THEN v::text
        WHEN 'boolean' THEN CASE WHEN v::text = 'true' THEN '1' ELSE '0' END
        WHEN 'null' THEN NULL
        ELSE ts_json_compact(v)::text END
$$;

-- SQLite's json_type names: object array integer real text true false null.
CREATE OR REPLACE FUNCTION ts_json_typename(v json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE json_typeof(v)
        WHEN 'string' THEN 'text'
        WHEN 'number' THEN CASE WHEN v::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
        WHEN 'boolean' THEN v::text
        ELSE json_typeof(v) END
$$;

-- (NULL is not valid JSON: false, as SQLite's 0)
CREATE OR REPLACE FUNCTION ts_json_valid(x text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF x IS NULL THEN
        RETURN false;
    END IF;
    PERFORM x::json;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;
CREATE OR REPLACE FUNCTION ts_json_valid(x json) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT x IS NOT NULL $$;

CREATE OR REPLACE FUNCTION ts_json_extract(doc json, p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_scalar(doc #> ts_json_path(p)) $$;
CREATE OR REPLACE FUNCTION ts_json_extract(doc text, p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_scalar(doc::json #> ts_json_path(p)) $$;

CREATE OR REPLACE FUNCTION ts_json_type(doc json, p text DEFAULT '$') RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_typename(doc #> ts_json_path(p)) $$;
CREATE OR REPLACE FUNCTION ts_json_type(doc text, p text DEFAULT '$') RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_typename(doc::json #> ts_json_path(p)) $$;

-- json(x): x checked and made compact.
CREATE OR REPLACE FUNCTION ts_json(x json) RETURNS json
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ts_json_compact(x) $$;
CREATE OR REPLACE FUNCTION ts_json(x text) RETURNS json
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ts_json_compact(x::json) $$;

-- json_set(doc, path, value): value replaces what path names, or is added (objects, and an
-- array index one past the end); missing objects on the way are made.
CREATE OR REPLACE FUNCTION ts_json_set_at(doc json, p text[], val json) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    child json;
    out json;
BEGIN
    IF p IS NULL THEN
        RETURN doc;
    END IF;
    IF array_length(p, 1) IS NULL THEN
        RETURN val;
    END IF;
    k := p[1];
    IF doc IS NULL OR json_typeof(doc) = 'null' THEN
        doc := '{}'::json;
    END IF;
    IF json_typeof(doc) = 'object' THEN
        child := doc -> k;
        child := ts_json_set_at(child, p[2:], val);
        SELECT json_object_agg(key, value ORDER BY ord) INTO out FROM (
            SELECT e.key, CASE WHEN e.key = k THEN child ELSE e.value END AS value, e.ord
              FROM json_each(doc) WITH ORDINALITY e(key, value, ord)
            UNION ALL
            SELECT k, child, 1e18 WHERE NOT EXISTS (SELECT 1 FROM json_each(doc) x WHERE x.key = k)
        ) s;
        RETURN ts_json_compact(coalesce(out, '{}'::json));
    ELSIF json_typeof(doc) = 'array' AND k ~ '^[0-9]+$' THEN
        IF k::int > json_array_length(doc) THEN
            RETURN doc;
        END IF;
        child := ts_json_set_at(doc -> k::int, p[2:], val);
        SELECT json_agg(value ORDER BY ord) INTO out FROM (
            SELECT CASE WHEN e.ord - 1 = k::int THEN child ELSE e.value END AS value, e.ord
              FROM json_array_elements(doc) WITH ORDINALITY e(value, ord)
            UNION ALL
            SELECT child, 1e18 WHERE k::int = json_array_length(doc)
        ) s;
        RETURN ts_json_group(out);
    END IF;
    RETURN doc;
END
$$;
CREATE OR REPLACE FUNCTION ts_json_set(doc json, p text, val anyelement) RETURNS json
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_set_at(doc, ts_json_path(p), to_json(val)) $$;
CREATE OR REPLACE FUNCTION ts_json_set(doc text, p text, val anyelement) RETURNS json
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_set_at(doc::json, ts_json_path(p), to_json(val)) $$;
-- a text value (or an untyped literal) is a JSON string
CREATE OR REPLACE FUNCTION ts_json_set(doc json, p text, val text) RETURNS json
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_set_at(doc, ts_json_path(p), to_json(val)) $$;
CREATE OR REPLACE FUNCTION ts_json_set(doc text, p text, val text) RETURNS json
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_json_set_at(doc::json, ts_json_path(p), to_json(val)) $$;

-- json_each(doc[, path]): one row per member (key: the name, or the index as text) or element;
-- value as json_extract gives it, type as json_type names it.
CREATE OR REPLACE FUNCTION ts_json_each(doc json, p text DEFAULT '$')
RETURNS TABLE (key text, value text, type text, atom text, id bigint, parent bigint,
               fullkey text, path text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.k, ts_json_scalar(x.v), ts_json_typename(x.v),
           CASE WHEN json_typeof(x.v) IN ('object', 'array') THEN NULL ELSE ts_json_scalar(x.v) END,
           x.ord, NULL::bigint,
           CASE WHEN x.arr THEN $2 || '[' || x.k || ']' ELSE $2 || '.' || x.k END, $2
      FROM (SELECT $1 #> ts_json_path($2) AS v) s,
           LATERAL (SELECT e.key AS k, e.value AS v, e.ord, false AS arr
                      FROM json_each(CASE WHEN json_typeof(s.v) = 'object' THEN s.v END)
                           WITH ORDINALITY e(key, value, ord)
                    UNION ALL
                    SELECT (e.ord - 1)::text, e.value, e.ord, true
                      FROM json_array_elements(CASE WHEN json_typeof(s.v) = 'array' THEN s.v END)
                           WITH ORDINALITY e(value, ord)) x
     ORDER BY x.ord
$$;
CREATE OR REPLACE FUNCTION ts_json_each(doc text, p text DEFAULT '$')
RETURNS TABLE (key text, value text, type text, atom text, id bigint, parent bigint,
               fullkey text, path text)
LANGUAGE sql IMMUTABLE AS $$ SELECT * FROM ts_json_each($1::json, $2) $$;

-- hex(x): the bytes in upper-case hexadecimal (a text: its UTF-8 bytes).
CREATE OR REPLACE FUNCTION ts_hex(x bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT upper(encode(x, 'hex')) $$;
CREATE OR REPLACE FUNCTION ts_hex(x text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT upper(encode(convert_to(x, 'UTF8'), 'hex')) $$;

-- zeroblob(n): n zero bytes.
CREATE OR REPLACE FUNCTION ts_zeroblob(n bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT decode(repeat('00', greatest(n, 0)::int), 'hex') $$;

-- group_concat(x[, separator]): the non-NULL values joined (',' by default); NULL over none.
CREATE OR REPLACE FUNCTION ts_group_concat_step(acc text, v text, sep text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v ELSE acc || coalesce(sep, '') || v END
$$;
CREATE OR REPLACE FUNCTION ts_group_concat_step(acc text, v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_group_concat_step(acc, v, ',') $$;
CREATE OR REPLACE AGGREGATE ts_group_concat(text, text) (sfunc = ts_group_concat_step, stype = text);
CREATE OR REPLACE AGGREGATE ts_group_concat(text) (sfunc = ts_group_concat_step, stype = text);
-- any other value (an id, a number) as its text
CREATE OR REPLACE FUNCTION ts_group_concat_any(acc text, v anyelement) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT ts_group_concat_step(acc, v::text, ',') $$;
CREATE OR REPLACE AGGREGATE ts_group_concat(anyelement) (sfunc = ts_group_concat_any, stype = text);

-- The scalar max(a, b) and min(a, b) (the aggregates keep their one argument): NULL when
-- either is NULL, as SQLite's. Their names are PostgreSQL's aggregates', so the translation
-- leaves them as they are and the argument count picks.
CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END $$;
CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END $$;

/*
 * test_store_dialect_pg.c - the engine's SQL dialect on both back ends (issue 15): a table of the
 * expressions and small queries the engine writes (every function store_pg.c renames, with the
 * argument shapes the engine passes: timestamps, JSON paths, numbers, strings, NULLs, nested
 * json_object / json_group_array, json_each over a bound JSON text; store.h's macros; IS, blob
 * literals, the DDL types) run through store.h on SQLite and on PostgreSQL (a fresh schema in the
 * server TALLYSYNC_TEST_PG_URL names, migrated, so schema/pg/compat.sql is in place): every row
 * must read the same, column by column, as eng_store_column_type and _text read it (and _int64
 * for integers, _double for floats). A case marked TEXT_ONLY documents a type the two read
 * differently (the text agrees): json_extract of a JSON number or true/false is an INTEGER on
 * SQLite and TEXT on PostgreSQL (json_each's value likewise), which is why the engine's statements
 * CAST it. Cases leave out what the common subset does not promise (ARCHITECTURE.md): the order
 * of a DISTINCT aggregate, upper/lower beyond ASCII, a REAL turned into text in SQL. Registered
 * with ENG_TEST_PG only; without the URL it fails, saying so.
 */
#include "check.h"
#include "adapt/store.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_PLUS_S_60  ENG_STORE_NOW_PLUS_S("60")
#define NOW_PLUS_MS_90 ENG_STORE_NOW_PLUS_MS("?1")

enum { P_NONE, P_TEXT, P_INT, P_NULL, P_DOUBLE, P_BLOB };
struct param {
    int kind;
    const char *text;
    int64_t i;
    double d;
};
#define T(s)                                                                                       \
    {                                                                                              \
        P_TEXT, s, 0, 0                                                                            \
    }
#define I(v)                                                                                       \
    {                                                                                              \
        P_INT, NULL, v, 0                                                                          \
    }
#define N                                                                                          \
    {                                                                                              \
        P_NULL, NULL, 0, 0                                                                         \
    }
#define D(v)                                                                                       \
    {                                                                                              \
        P_DOUBLE, NULL, 0, v                                                                       \
    }

enum { TEXT_ONLY = 1 };
struct dcase {
    const char *sql;
    struct param p[4];
    int flags;
};

static const char DOC[] = "{\"a\":{\"b\":[1,\"x\",true,null,{\"c\":1.5}],\"s\":\"q\\\"r\"},"
                          "\"n\":-42,\"f\":false,\"e\":{},\"u\":\"\\u00e9t\\u00e9\"}";

static const struct dcase dcases[] = {
    /* ---- time: strftime / julianday with the engine's forms ---- */
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-02T03:04:05.678Z')", {{0}}, 0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1)", {T("2026-01-02T03:04:05Z")}, 0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?1, '-30 seconds')", {T("2026-01-02T03:04:05Z")}, 0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1, (?2) || ' seconds')",
     {T("2026-12-31T23:59:59.500Z"), I(1)},
     0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1, ((?2) / 1000.0) || ' seconds')",
     {T("2026-01-02T03:04:05.000Z"), I(2500)},
     0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1, ((?2) / 1000.0) || ' seconds')",
     {T("2026-01-02T03:04:05.000Z"), I(-86400000)},
     0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '+3 days', 'start of day')",
     {T("2026-02-27 10:00:00")},
     0},
    {"SELECT CAST(strftime('%s', substr(?1, 1, 13) || ':00:00') AS INTEGER)",
     {T("2026-12-07T09:41:06.123Z")},
     0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1)", {T("not a time")}, 0},
    {"SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1)", {N}, 0},
    {"SELECT julianday('2000-01-01T12:00:00Z'), julianday(?1)", {T("2026-01-02T03:04:05.250Z")}, 0},
    {"SELECT (julianday(?1) - julianday(?2)) * 86400.0",
     {T("2026-01-02T03:05:00Z"), T("2026-01-02T03:04:05.5Z")},
     0},
    {"SELECT CAST(round((julianday(" NOW_PLUS_S_60 ") - julianday(" ENG_STORE_NOW
     ")) * 86400) AS INTEGER)",
     {{0}},
     0},
    {"SELECT CAST(round((julianday(" NOW_PLUS_MS_90 ") - julianday(" ENG_STORE_NOW
     ")) * 86400000) AS INTEGER)",
     {I(90000)},
     0},
    {"SELECT length(" ENG_STORE_NOW "), substr(" ENG_STORE_NOW ", 24, 1), " ENG_STORE_NOW
     " > '2026-01-01'",
     {{0}},
     0},

    /* ---- JSON: json_extract, json_type, json_valid, json ---- */
    {"SELECT json_extract(?1, '$.a.b[1]'), json_extract(?1, '$.a.s'), json_extract(?1, '$.u')",
     {T(DOC)},
     0},
    {"SELECT json_extract(?1, '$.a.b[4]'), json_extract(?1, '$.a'), json_extract(?1, '$.e')",
     {T(DOC)},
     0},
    {"SELECT json_extract(?1, '$.a.b[3]'), json_extract(?1, '$.missing'), json_extract(NULL, "
     "'$.a')",
     {T(DOC)},
     0},
    {"SELECT CAST(json_extract(?1, '$.n') AS INTEGER), CAST(json_extract(?1, '$.a.b[0]') AS "
     "INTEGER), CAST(json_extract(?1, '$.a.b[4].c') AS REAL)",
     {T(DOC)},
     0},
    {"SELECT json_extract(?1, '$.n'), json_extract(?1, '$.a.b[2]'), json_extract(?1, '$.f')",
     {T(DOC)},
     TEXT_ONLY},
    {"SELECT json_type(?1), json_type(?1, '$.a'), json_type(?1, '$.a.b'), json_type(?1, '$.n'),"
     " json_type(?1, '$.a.b[4].c'), json_type(?1, '$.a.s'), json_type(?1, '$.a.b[2]'),"
     " json_type(?1, '$.f'), json_type(?1, '$.a.b[3]'), json_type(?1, '$.missing')",
     {T(DOC)},
     0},
    {"SELECT json_valid(?1), json_valid(?2), json_valid(?3), json_valid(NULL)",
     {T(DOC), T("{x"), T("")},
     0},
    {"SELECT CASE WHEN json_valid(?1) THEN json_extract(?1, '$.a.s') END, CASE WHEN json_valid(?2)"
     " THEN json_extract(?2, '$.a') END",
     {T(DOC), T("not json")},
     0},
    {"SELECT " ENG_STORE_IS_JSON_OBJECT("?1") ", " ENG_STORE_IS_JSON_OBJECT(
         "?2") ", " ENG_STORE_IS_JSON_OBJECT("?3"),
     {T("{\"a\":1}"), T("[1]"), T("nope")},
     0},
    {"SELECT json(?1), json(' { \"a\" : [1, 2, {\"b\" : \"x y\"}] } ')", {T(DOC)}, 0},
    {"SELECT json(coalesce(json_extract(?1, '$.a'), '{}')), json(coalesce(json_extract(?1, "
     "'$.zz'), '{}'))",
     {T(DOC)},
     0},

    /* ---- JSON built in SQL: json_object, json_group_array, json_set ---- */
    {"SELECT json_object('a', 1, 'b', 'x y', 'c', NULL, 'd', json('[1, 2]'), 'e', ?1, 'f', ?2,"
     " 'g', ?3)",
     {T("p\"q\\\t\xc3\xa9"), I(-7), N},
     0},
    {"SELECT json_object('outer', json_object('inner', json_object('k', ?1)), 'list',"
     " json_group_array(x)) FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) AS t",
     {T("v")},
     0},
    {"SELECT json_group_array(x) FROM (SELECT 'a' AS x UNION ALL SELECT NULL UNION ALL SELECT"
     " 'b') AS t",
     {{0}},
     0},
    {"SELECT json_group_array(json_object('k', x)) FROM (SELECT 1 AS x UNION ALL SELECT 2) AS t",
     {{0}},
     0},
    {"SELECT json_group_array(x) FROM (SELECT 1 AS x) AS t WHERE x > 1", {{0}}, 0},
    {"SELECT coalesce(json_group_array(json(j)), '[]') FROM (SELECT json_object('a', 1) AS j UNION"
     " ALL SELECT json_object('a', 2)) AS t",
     {{0}},
     0},
    {"SELECT json_set(?1, '$.since', ?2), json_set(?1, '$.new', ?2), json_set('{}', '$.a', 5)",
     {T("{\"source\":\"pos\",\"since\":\"2026-01-01\"}"), T("2025-12-31")},
     0},
    {"SELECT json_set(json(?1), '$.' || ?2, ?3)",
     {T("{\"x\":1}"), T("checkedAt"), T("2026-01-02T03:04:05.000Z")},
     0},
    /* (the order of a DISTINCT aggregate is not the common subset's: SQLite keeps the first
     * seen, PostgreSQL sorts; the engine's lists of ids are sets) */
    {"SELECT json_object('entity', ?1, 'ids', json_group_array(DISTINCT v)) FROM (SELECT '3' AS v"
     " UNION ALL SELECT '7' UNION ALL SELECT '7') AS t",
     {T("orders")},
     0},

    /* ---- json_each over a bound JSON text ---- */
    {"SELECT key, value, type FROM json_each(?1) ORDER BY key",
     {T("{\"b\":\"x\",\"a\":1,\"c\":[1,2],\"d\":{\"e\":null},\"f\":null}")},
     TEXT_ONLY}, /* value 1: json_extract's rule */
    {"SELECT key, type FROM json_each(?1) ORDER BY key",
     {T("{\"b\":\"x\",\"a\":1,\"c\":[1,2],\"d\":{\"e\":null},\"f\":null}")},
     0},
    {"SELECT count(*), group_concat(value, ',') FROM json_each(?1)", {T("[\"a\",\"b\",\"c\"]")}, 0},
    {"SELECT value FROM json_each(json(?1), '$.check.topics')",
     {T("{\"check\":{\"topics\":[\"order.created\",\"order.updated\"]}}")},
     0},
    {"SELECT json_extract(t.value, '$.topic') FROM json_each(?1) AS t",
     {T("[{\"topic\":\"a.b\"},{\"topic\":\"c.d\"}]")},
     0},
    {"SELECT (SELECT key FROM json_each(?1) WHERE key NOT IN ('entity', 'flow') LIMIT 1)",
     {T("{\"entity\":1,\"flow\":2,\"nope\":3}")},
     0},

    /* ---- scalar max / min (ENG_STORE_GREATEST), IS, ifnull, instr, hex, blobs ---- */
    {"SELECT " ENG_STORE_GREATEST("?1 - 1", "0") ", max(?2, 3), min(?2, 3), max(NULL, 1)",
     {I(0), I(5)},
     0},
    {"SELECT max(?1, ?2), min(?1, ?2)", {T("2026-01-02"), T("2026-01-03")}, 0},
    {"SELECT ?1 IS ?2, ?1 IS NOT ?2, ?3 IS ?4, ?3 IS NOT NULL", {T("a"), T("a"), N, N}, 0},
    {"SELECT ?1 IS ?2, ?1 IS NOT ?2", {T("a"), N}, 0},
    {"SELECT ifnull(?1, 'none'), ifnull(?2, 'none'), instr('a.b.c', '.'), substr('order.updated',"
     " 1, instr('order.updated', '.') - 1)",
     {N, T("x")},
     0},
    {"SELECT hex(x'00ff10'), length(x'00ff10'), hex(zeroblob(3)), x'41'", {{0}}, 0},
    {"SELECT hex(?1)", {T("\xc3\xa9")}, 0},

    /* ---- numbers and aggregates as the engine reads them ---- */
    {"SELECT 7 / 2, 7 % 3, 7 / 2.0, CAST(7 AS REAL), CAST('12' AS INTEGER), -5", {{0}}, 0},
    {"SELECT count(*), sum(x), min(x), max(x), total_of FROM (SELECT x, 6 AS total_of FROM (SELECT"
     " 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) AS a) AS b GROUP BY total_of",
     {{0}},
     0},
    {"SELECT count(CASE WHEN x > 1 THEN 1 END), coalesce(sum(x), 0) FROM (SELECT 1 AS x WHERE 1 = "
     "0)"
     " AS t",
     {{0}},
     0},
    {"SELECT ?1, ?2, ?3, ?4, ?1 + 1, ?2 * 2", {I(INT64_C(9007199254740993)), D(0.1), T(""), N}, 0},
    {"SELECT 1 = 1, 1 = 2, 'a' < 'b', NULL = 1", {{0}}, 0},
    /* (upper and lower: ASCII only in the common subset; PostgreSQL's follow the locale) */
    {"SELECT 'sweep:' || ?1, ?2 || ' seconds', length(?3), upper(?3), lower('AB'), trim('  x ')",
     {T("woocommerce"), I(-60), T("abc")},
     0},
    {"SELECT CASE WHEN ?1 <> 0 THEN 'connected' ELSE 'error' END, CASE WHEN ?2 > 0 THEN ?2 END",
     {I(1), I(0)},
     0},
    {"SELECT coalesce(?1, ?2), coalesce(?3, 'five')", {N, T("b"), N}, 0},
    /* subqueries in FROM without a name (PostgreSQL names them), nested, joined */
    {"SELECT count(*), max(x) FROM (SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2) WHERE x > 0)",
     {{0}},
     0},
    {"SELECT a.x, b.y FROM (SELECT 1 AS x) a JOIN (SELECT 1 AS y) AS b ON a.x = b.y JOIN (SELECT 1"
     " AS z) ON 1 = 1",
     {{0}},
     0},
    {"SELECT (SELECT json_group_array(v) FROM (SELECT value AS v FROM json_each(?1) ORDER BY"
     " value)), 'ok'",
     {T("[\"b\",\"a\"]")},
     0},
};

/* ---- the two stores ---- */

static char pg_loc[1024], schema[64];

static struct eng_store *open_sqlite(void)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    const char *dir = getenv("SCHEMA_DIR");
    if (eng_store_open("sqlite::memory:", &st, &err) != 0 ||
        eng_store_migrate(st, dir != NULL ? dir : "schema", NULL, &err) != 0) {
        fprintf(stderr, "sqlite: %s\n", err.msg);
        eng_store_close(st);
        return NULL;
    }
    return st;
}

static int admin(const char *sql)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    int rc = eng_store_open(getenv("TALLYSYNC_TEST_PG_URL"), &st, &err);
    if (rc == 0)
        rc = eng_store_exec(st, sql, &err);
    if (rc != 0)
        fprintf(stderr, "postgres: %s\n", err.msg);
    eng_store_close(st);
    return rc;
}

static struct eng_store *open_pg(void)
{
    const char *url = getenv("TALLYSYNC_TEST_PG_URL");
    if (url == NULL || url[0] == '\0') {
        fprintf(stderr, "test_store_dialect_pg: FAIL: the PostgreSQL test server is missing "
                        "(TALLYSYNC_TEST_PG_URL is not set): run it through tools/test.sh plain\n");
        return NULL;
    }
    char sql[200];
    snprintf(schema, sizeof schema, "dialect_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    if (admin(sql) != 0)
        return NULL;
    snprintf(pg_loc, sizeof pg_loc, "%s%soptions=-c%%20search_path%%3D%s", url,
             strchr(url, '?') != NULL ? "&" : "?", schema);
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    const char *dir = getenv("SCHEMA_DIR");
    if (eng_store_open(pg_loc, &st, &err) != 0 ||
        eng_store_migrate(st, dir != NULL ? dir : "schema", NULL, &err) != 0) {
        fprintf(stderr, "postgres: %s\n", err.msg);
        eng_store_close(st);
        return NULL;
    }
    return st;
}

static void drop_pg(void)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    (void)admin(sql);
}

/* ---- one answer, as store.h reads it ---- */

#define MAX_ROWS 16
#define MAX_COLS 12
struct answer {
    int rc, rows, cols;
    int type[MAX_ROWS][MAX_COLS];
    char text[MAX_ROWS][MAX_COLS][256];
    int64_t i[MAX_ROWS][MAX_COLS];
    double d[MAX_ROWS][MAX_COLS];
    char msg[256];
};

static void run(struct eng_store *st, const struct dcase *c, struct answer *a)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    memset(a, 0, sizeof *a);
    a->rc = eng_store_prepare(st, c->sql, -1, ENG_STORE_TRUSTED, &s, &err);
    for (int k = 0; a->rc == 0 && k < 4 && c->p[k].kind != P_NONE; k++) {
        const struct param *p = &c->p[k];
        a->rc = p->kind == P_TEXT     ? eng_store_bind_str(s, k + 1, p->text)
                : p->kind == P_INT    ? eng_store_bind_int64(s, k + 1, p->i)
                : p->kind == P_DOUBLE ? eng_store_bind_double(s, k + 1, p->d)
                                      : eng_store_bind_str(s, k + 1, NULL);
    }
    int rc;
    while (a->rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW && a->rows < MAX_ROWS) {
        a->cols = eng_store_column_count(s);
        for (int k = 0; k < a->cols && k < MAX_COLS; k++) {
            a->type[a->rows][k] = eng_store_column_type(s, k); /* before _text converts it */
            const char *t = eng_store_column_text(s, k, NULL);
            snprintf(a->text[a->rows][k], sizeof a->text[0][0], "%s", t != NULL ? t : "(NULL)");
            a->i[a->rows][k] = eng_store_column_int64(s, k);
            a->d[a->rows][k] = eng_store_column_double(s, k);
        }
        a->rows++;
    }
    if (a->rc == 0 && rc < 0)
        a->rc = rc;
    snprintf(a->msg, sizeof a->msg, "%.255s", err.msg);
    eng_store_finalize(s);
}

static const char *type_name(int t)
{
    static const char *const names[] = {"?", "INTEGER", "FLOAT", "TEXT", "BLOB", "NULL"};
    return t >= 1 && t <= 5 ? names[t] : names[0];
}

static void test_same_answers(void)
{
    struct eng_store *lite = open_sqlite(), *pg = open_pg();
    REQUIRE(lite != NULL && pg != NULL);
    static struct answer a, b;
    int differ = 0;
    for (size_t n = 0; n < sizeof dcases / sizeof dcases[0]; n++) {
        const struct dcase *c = &dcases[n];
        run(lite, c, &a);
        run(pg, c, &b);
        int bad = a.rc != 0 || b.rc != 0 || a.rows != b.rows || a.cols != b.cols;
        if (a.rc != 0 || b.rc != 0)
            fprintf(stderr, "case %zu: %s\n  sqlite rc %d (%s), postgres rc %d (%s)\n", n, c->sql,
                    a.rc, a.msg, b.rc, b.msg);
        for (int r = 0; !bad && r < a.rows; r++)
            for (int k = 0; k < a.cols && k < MAX_COLS; k++) {
                int same = strcmp(a.text[r][k], b.text[r][k]) == 0;
                if (!(c->flags & TEXT_ONLY))
                    same = same && a.type[r][k] == b.type[r][k];
                if (same && a.type[r][k] == ENG_STORE_INTEGER && !(c->flags & TEXT_ONLY))
                    same = a.i[r][k] == b.i[r][k];
                if (same && a.type[r][k] == ENG_STORE_FLOAT)
                    same = fabs(a.d[r][k] - b.d[r][k]) <= 1e-9 * fabs(a.d[r][k]);
                if (!same) {
                    fprintf(stderr,
                            "case %zu row %d column %d: %s\n  sqlite   %-7s %s\n  postgres %-7s "
                            "%s\n",
                            n, r, k, c->sql, type_name(a.type[r][k]), a.text[r][k],
                            type_name(b.type[r][k]), b.text[r][k]);
                    bad = 1;
                }
            }
        if (a.rows != b.rows || a.cols != b.cols)
            fprintf(stderr, "case %zu: %s\n  sqlite %d rows x %d, postgres %d rows x %d\n", n,
                    c->sql, a.rows, a.cols, b.rows, b.cols);
        differ += bad;
    }
    printf("     %zu cases, %d differ\n", sizeof dcases / sizeof dcases[0], differ);
    CHECK_INT(differ, 0);
    eng_store_close(lite);
    eng_store_close(pg);
    drop_pg();
}

/* The DDL types and a table's round trip: INTEGER PRIMARY KEY numbers rows (RETURNING id, no
 * rowid), REAL, BLOB, a DEFAULT of the store's clock, a CHECK on json_valid. */
static void test_ddl_round_trip(void)
{
    struct eng_store *lite = open_sqlite(), *pg = open_pg();
    REQUIRE(lite != NULL && pg != NULL);
    struct eng_store *both[2] = {lite, pg};
    char got[2][512];
    for (int b = 0; b < 2; b++) {
        struct eng_store *st = both[b];
        struct eng_err err = {0};
        REQUIRE(eng_store_exec(st,
                               "CREATE TABLE t_dialect (id INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
                               " r REAL, b BLOB, doc TEXT CHECK (json_valid(doc)),"
                               " at TEXT NOT NULL DEFAULT (" ENG_STORE_NOW "))",
                               &err) == 0);
        struct eng_store_stmt *s = NULL;
        int64_t ids[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            REQUIRE(eng_store_row(st,
                                  "INSERT INTO t_dialect (n, r, b, doc) VALUES (?1, ?2, ?3, ?4) "
                                  "RETURNING id",
                                  &s, &err, "idbs", (int64_t)(40 + k), 1.5 * (k + 1), "\x00\x01",
                                  (size_t)2, "{\"k\":1}") == ENG_STORE_ROW);
            ids[k] = eng_store_column_int64(s, 0);
            eng_store_finalize(s);
        }
        CHECK(ids[0] == 1 && ids[1] == 2);
        CHECK_INT(eng_store_run(st, "INSERT INTO t_dialect (n, doc) VALUES (1, '{x')", &err, ""),
                  ENG_EEXIST); /* the CHECK */
        REQUIRE(eng_store_row(st,
                              "SELECT group_concat(id || ':' || n || ':' || CAST(r * 10 AS INTEGER)"
                              " || ':' || hex(b) ||"
                              " ':' || length(at), ';') FROM (SELECT * FROM t_dialect ORDER BY id)"
                              " AS t",
                              &s, &err, "") == ENG_STORE_ROW);
        snprintf(got[b], sizeof got[b], "%s", eng_store_column_text(s, 0, NULL));
        eng_store_finalize(s);
    }
    CHECK_STR(got[1], got[0]);
    CHECK_STR(got[0], "1:40:15:0001:24;2:41:30:0001:24");
    eng_store_close(lite);
    eng_store_close(pg);
    drop_pg();
}

CHECK_MAIN(CHECK_CASE(test_same_answers), CHECK_CASE(test_ddl_round_trip))

/*
 * test_store_pg.c - unit tests of engine/adapt/store_pg.c (store.h's API over libpq) against a
 * real PostgreSQL server: TALLYSYNC_TEST_PG_URL, which tools/test.sh's plain tier sets after
 * starting one with tools/pg_server.sh. Registered only there (ENG_TEST_PG, tests/tests.cmake);
 * without the URL every case FAILS saying the server is missing - never a skip counted as a pass.
 * By hand: url=$(tools/pg_server.sh start /tmp/pg) && TALLYSYNC_TEST_PG_URL=$url
 * build/test_store_pg; tools/pg_server.sh stop /tmp/pg The URL's password must reach no message:
 * every error checked here is checked for it too.
 */
#include "check.h"
#include "adapt/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *pg_url(void)
{
    const char *u = getenv("TALLYSYNC_TEST_PG_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* The URL's password ("" when none), for the checks that no message carries it. */
static char secret[128];

static void find_secret(const char *url)
{
    const char *at = strrchr(url, '@'), *colon = strchr(url + strlen("postgres://"), ':');
    secret[0] = '\0';
    if (at != NULL && colon != NULL && colon < at && (size_t)(at - colon - 1) < sizeof secret) {
        memcpy(secret, colon + 1, (size_t)(at - colon - 1));
        secret[at - colon - 1] = '\0';
    }
}

static int has_secret(const char *msg)
{
    return secret[0] != '\0' && strstr(msg, secret) != NULL;
}

/* A connection to the test server, or NULL after a failed check saying why. */
static struct eng_store *open_pg(void)
{
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    const char *url = pg_url();
    if (url == NULL) {
        fprintf(stderr, "the PostgreSQL test server is missing: TALLYSYNC_TEST_PG_URL is not set "
                        "(tools/test.sh's plain tier starts one with tools/pg_server.sh)\n");
        return NULL;
    }
    find_secret(url);
    if (eng_store_open(url, &st, &err) != 0) {
        fprintf(stderr, "cannot open the PostgreSQL test server: %s\n",
                has_secret(err.msg) ? "(a message that holds the password!)" : err.msg);
        return NULL;
    }
    return st;
}

static int exec_ok(struct eng_store *st, const char *sql)
{
    struct eng_err err = {0};
    int rc = eng_store_exec(st, sql, &err);
    if (rc != 0)
        fprintf(stderr, "exec failed (%d): %s\n", rc, err.msg);
    return rc == 0;
}

/* ------------------------------------------------------------------------------------------ */

static void test_open_exec(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    /* the path names the server, not the password */
    CHECK(strncmp(eng_store_path(st), "postgres://", 11) == 0);
    CHECK(strstr(eng_store_path(st), "127.0.0.1") != NULL);
    CHECK(!has_secret(eng_store_path(st)));
    CHECK_INT(eng_store_busy_timeout(st), ENG_STORE_BUSY_TIMEOUT_MS);
    /* several statements in one exec, DDL included */
    CHECK(exec_ok(st, "DROP TABLE IF EXISTS t_exec;"
                      "CREATE TABLE t_exec (id bigint PRIMARY KEY, name text);"
                      "INSERT INTO t_exec VALUES (1, 'a'), (2, 'b');"
                      "UPDATE t_exec SET name = 'c'"));
    CHECK_INT(eng_store_changes(st), 2);
    CHECK_INT(eng_store_in_tx(st), 0);
    /* script SQL is a later slice: refused, saying so (migrations: test_migrate) */
    struct eng_err err = {0};
    struct eng_store_stmt *s = NULL;
    CHECK_INT(eng_store_prepare(st, "SELECT 1", -1, ENG_STORE_SCRIPT, &s, &err), ENG_EINVAL);
    CHECK(s == NULL);
    /* statements still open when the connection closes are finalized after it (store.h), one
     * in the middle of its rows and one never stepped */
    struct eng_store_stmt *idle = NULL;
    REQUIRE(eng_store_prepare(st, "SELECT 2", -1, ENG_STORE_TRUSTED, &idle, &err) == 0);
    REQUIRE(eng_store_row(st, "SELECT generate_series(1, 3)", &s, &err, "") == ENG_STORE_ROW);
    eng_store_close(st);
    eng_store_finalize(s);
    eng_store_finalize(idle);
}

static void test_placeholders(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_store_stmt *s = NULL;
    /* ?N keeps its number, ? takes the next after the largest so far (SQLite's rule); a ? in a
     * string, an E'' string, a dollar-quoted string, a quoted identifier or a comment is text */
    const char *sql = "SELECT ?2::text || ?1::text AS \"a?b\", '?' || ? AS lit, "
                      "E'it\\'s ?' AS esc, $$ ? $$ AS dollar, $q$?$q$ AS tagged, "
                      "'it''s ?' AS doubled -- a comment? yes\n"
                      "/* a ? /* nested ? */ still a comment ? */";
    REQUIRE(eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err) == 0);
    CHECK_INT(eng_store_param_count(s), 3);
    CHECK(eng_store_param_name(s, 1) == NULL);
    CHECK_INT(eng_store_bind_str(s, 1, "x"), 0);
    CHECK_INT(eng_store_bind_str(s, 2, "y"), 0);
    CHECK_INT(eng_store_bind_str(s, 3, "z"), 0);
    CHECK_INT(eng_store_bind_str(s, 4, "out of range"), ENG_EINVAL);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_column_count(s), 6);
    CHECK_STR(eng_store_column_name(s, 0), "a?b");
    CHECK_STR(eng_store_column_text(s, 0, NULL), "yx");
    CHECK_STR(eng_store_column_text(s, 1, NULL), "?z");
    CHECK_STR(eng_store_column_text(s, 2, NULL), "it's ?");
    CHECK_STR(eng_store_column_text(s, 3, NULL), " ? ");
    CHECK_STR(eng_store_column_text(s, 4, NULL), "?");
    CHECK_STR(eng_store_column_text(s, 5, NULL), "it's ?");
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    /* reset keeps the bindings */
    eng_store_reset(s);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), "yx");
    eng_store_finalize(s);

    s = NULL;
    CHECK_INT(eng_store_prepare(st, "SELECT 1; SELECT 2", -1, 0, &s, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "only one statement") != NULL);
    CHECK_INT(eng_store_prepare(st, "SELECT 1; -- done\n;", -1, 0, &s, &err), 0);
    eng_store_finalize(s);
    s = NULL;
    CHECK_INT(eng_store_prepare(st, "SELECT ?0", -1, 0, &s, &err), ENG_EINVAL);
    CHECK_INT(eng_store_prepare(st, "SELECT ?32767", -1, 0, &s, &err), ENG_EINVAL);
    char tag[160];
    snprintf(tag, sizeof tag, "SELECT $%s$ ? $%s$",
             "t2345678901234567890123456789012345678901234567890123456789012345",
             "t2345678901234567890123456789012345678901234567890123456789012345");
    CHECK_INT(eng_store_prepare(st, tag, -1, 0, &s, &err), ENG_EINVAL);
    CHECK(s == NULL);
    CHECK_INT(eng_store_prepare(st, "  -- nothing\n", -1, 0, &s, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "empty SQL") != NULL);
    CHECK(s == NULL);
    eng_store_close(st);
}

static void test_bind_round_trip(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(st, "DROP TABLE IF EXISTS t_types;"
                        "CREATE TABLE t_types (k int PRIMARY KEY, i bigint, d double precision,"
                        " t text, b bytea)"));
    static const unsigned char blob[] = {0, 1, 2, 0, 255, 'x', 0};
    const char text[] = "caf\xc3\xa9 \"quoted\" 'single' \\ back";
    CHECK_INT(eng_store_run(st, "INSERT INTO t_types VALUES (?1, ?2, ?3, ?4, ?5)", &err, "iidtb",
                            (int64_t)1, (int64_t)INT64_MAX, 0.1, text, strlen(text), blob,
                            sizeof blob),
              1);
    CHECK_INT(eng_store_run(st, "INSERT INTO t_types VALUES (?, ?, ?, ?, ?)", &err, "iidsb",
                            (int64_t)2, (int64_t)INT64_MIN, -1e300, "", (const void *)NULL,
                            (size_t)0),
              1);
    CHECK_INT(eng_store_run(st, "INSERT INTO t_types VALUES (?1, ?2, ?3, ?4, ?5)", &err, "iInsn",
                            (int64_t)3, (const int64_t *)NULL, (const char *)NULL),
              1);

    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(st, "SELECT i, d, t, b FROM t_types WHERE k = ?1", &s, &err, "i",
                          (int64_t)1) == ENG_STORE_ROW);
    CHECK_INT(eng_store_column_type(s, 0), ENG_STORE_INTEGER);
    CHECK(eng_store_column_int64(s, 0) == INT64_MAX);
    CHECK_INT(eng_store_column_type(s, 1), ENG_STORE_FLOAT);
    CHECK(eng_store_column_double(s, 1) == 0.1);
    CHECK_INT(eng_store_column_type(s, 2), ENG_STORE_TEXT);
    size_t n = 0;
    CHECK_STR(eng_store_column_text(s, 2, &n), text);
    CHECK_INT(n, strlen(text));
    CHECK_INT(eng_store_column_type(s, 3), ENG_STORE_BLOB);
    const void *b = eng_store_column_blob(s, 3, &n);
    CHECK_INT(n, sizeof blob);
    CHECK(b != NULL && memcmp(b, blob, sizeof blob) == 0);
    char *dup = eng_store_column_strdup(s, 2);
    CHECK(dup != NULL && strcmp(dup, text) == 0);
    free(dup);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    eng_store_finalize(s);

    REQUIRE(eng_store_row(st, "SELECT i, d, t, b FROM t_types WHERE k = ?1", &s, &err, "i",
                          (int64_t)2) == ENG_STORE_ROW);
    CHECK(eng_store_column_int64(s, 0) == INT64_MIN);
    CHECK(eng_store_column_double(s, 1) == -1e300);
    CHECK_STR(eng_store_column_text(s, 2, NULL), ""); /* "" stays "", not NULL */
    CHECK_INT(eng_store_column_type(s, 3), ENG_STORE_BLOB);
    eng_store_column_blob(s, 3, &n);
    CHECK_INT(n, 0);
    eng_store_finalize(s);

    REQUIRE(eng_store_row(st, "SELECT i, d, t, b FROM t_types WHERE k = ?1", &s, &err, "i",
                          (int64_t)3) == ENG_STORE_ROW);
    for (int c = 0; c < 4; c++)
        CHECK_INT(eng_store_column_type(s, c), ENG_STORE_NULL);
    CHECK(eng_store_column_text(s, 2, NULL) == NULL);
    CHECK(eng_store_column_blob(s, 3, NULL) == NULL);
    CHECK(eng_store_column_strdup(s, 2) == NULL);
    char buf[8] = "keep";
    CHECK_INT(eng_store_column_copy(s, 2, buf, sizeof buf), 0);
    CHECK_STR(buf, "keep");
    eng_store_finalize(s);

    /* the format must match the statement's parameters */
    CHECK_INT(eng_store_run(st, "SELECT ?1, ?2", &err, "i", (int64_t)1), ENG_EINVAL);
    CHECK(strstr(err.msg, "2 parameters") != NULL);
    /* a kept statement, reused */
    struct eng_store_stmt *kept = NULL;
    for (int64_t k = 1; k <= 3; k++) {
        CHECK_INT(eng_store_row_kept(st, "SELECT k FROM t_types WHERE k = ?1", &kept, &err, "i", k),
                  ENG_STORE_ROW);
        CHECK(eng_store_column_int64(kept, 0) == k);
        eng_store_reset(kept);
    }
    eng_store_finalize(kept);
    /* a data error's message may quote the value: it is not passed on */
    CHECK_INT(eng_store_run(st, "INSERT INTO t_types (k, i) VALUES (9, ?1::bigint)", &err, "s",
                            "not-a-number-sekrit"),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "sekrit") == NULL);
    CHECK(strstr(err.msg, "SQLSTATE 22") != NULL);
    eng_store_close(st);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_big_select_bounded(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_store_stmt *s = NULL;
    /* 100,000 rows of ~1 kB: ~100 MB if the result were held whole */
    REQUIRE(eng_store_prepare(st, "SELECT g, repeat('x', 1000) FROM generate_series(1, ?1) g", -1,
                              0, &s, &err) == 0);
    CHECK_INT(eng_store_bind_int64(s, 1, 100000), 0);
    long before = max_rss_kb();
    int64_t rows = 0, sum = 0;
    int rc;
    while ((rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
        rows++;
        sum += eng_store_column_int64(s, 0);
        size_t n = 0;
        (void)eng_store_column_text(s, 1, &n);
        if (n != 1000)
            break;
    }
    CHECK_INT(rc, ENG_STORE_DONE);
    CHECK_INT(rows, 100000);
    CHECK(sum == (int64_t)100000 * 100001 / 2);
    long grown = max_rss_kb() - before;
    printf("     the peak RSS grew by %ld kB over 100,000 rows of 1 kB\n", grown);
    /* ~100 MB if held whole; valgrind's freed-block queue alone adds ~16 MB, ASan's quarantine
     * far more (run under ASan with ASAN_OPTIONS=quarantine_size_mb=1: ~1.4 MB) */
    CHECK(grown <= 48L * 1024);
    /* a statement abandoned mid-result is drained by reset; the connection goes on */
    eng_store_reset(s);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    eng_store_reset(s);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    eng_store_finalize(s);
    eng_store_close(st);
}

/* A statement run while another returns rows (as SQLite allows: the vault's key check reads
 * each credential while it walks them): the first one's rest is read into memory and its steps
 * go on from there. */
static void test_statement_inside_rows(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_store_stmt *s = NULL, *other = NULL;
    REQUIRE(eng_store_row(st, "SELECT g FROM generate_series(1, 5) g", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 1);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_row(st, "SELECT 7", &other, &err, ""), ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(other, 0), 7);
    CHECK_INT(eng_store_column_int64(s, 0), 2); /* its current row stays */
    eng_store_finalize(other);
    int64_t sum = 0;
    int rc;
    while ((rc = eng_store_step(s, &err)) == ENG_STORE_ROW)
        sum += eng_store_column_int64(s, 0);
    CHECK_INT(rc, ENG_STORE_DONE);
    CHECK_INT(sum, 3 + 4 + 5);
    /* reset in the middle of the read rows frees them; it runs again from the start */
    REQUIRE(eng_store_row(st, "SELECT g FROM generate_series(1, 5) g", &other, &err, "") ==
            ENG_STORE_ROW);
    eng_store_reset(s);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW); /* spills other */
    CHECK_INT(eng_store_column_int64(s, 0), 1);
    eng_store_reset(other);
    eng_store_finalize(other);
    eng_store_finalize(s);
    eng_store_close(st);
}

static void test_unique_violation(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(st, "DROP TABLE IF EXISTS t_uniq;"
                        "CREATE TABLE t_uniq (id bigint PRIMARY KEY, v text NOT NULL UNIQUE)"));
    CHECK_INT(eng_store_run(st, "INSERT INTO t_uniq VALUES (?1, ?2)", &err, "is", (int64_t)1,
                            "value-1-sekrit"),
              1);
    CHECK_INT(eng_store_run(st, "INSERT INTO t_uniq VALUES (?1, ?2)", &err, "is", (int64_t)2,
                            "value-1-sekrit"),
              ENG_EEXIST);
    CHECK_INT(eng_store_last_fail(st), ENG_STORE_FAIL_CONSTRAINT);
    CHECK(strstr(err.msg, "t_uniq_v_key") != NULL); /* names the constraint */
    CHECK(strstr(err.msg, "sekrit") == NULL);       /* not the value */
    CHECK(!has_secret(err.msg));
    /* NOT NULL is a constraint too, as on SQLite */
    CHECK_INT(eng_store_run(st, "INSERT INTO t_uniq VALUES (?1, ?2)", &err, "in", (int64_t)3),
              ENG_EEXIST);
    /* an UPSERT through the dialect macro */
    CHECK_INT(eng_store_run(st,
                            "INSERT INTO t_uniq VALUES (?1, ?2)" ENG_STORE_UPSERT(
                                "id") " v = excluded.v" ENG_STORE_RETURNING("id"),
                            &err, "is", (int64_t)1, "new"),
              1);
    eng_store_close(st);
}

static void test_lock_busy(void)
{
    struct eng_store *a = open_pg(), *b = open_pg();
    REQUIRE(a != NULL && b != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(a, "DROP TABLE IF EXISTS t_lock;"
                       "CREATE TABLE t_lock (id bigint PRIMARY KEY, n bigint);"
                       "INSERT INTO t_lock VALUES (1, 0)"));
    REQUIRE(exec_ok(a, "BEGIN"));
    CHECK_INT(eng_store_in_tx(a), 1);
    CHECK_INT(eng_store_run(a, "UPDATE t_lock SET n = n + 1 WHERE id = ?1", &err, "i", (int64_t)1),
              1);
    eng_store_set_busy_timeout(b, 200);
    CHECK_INT(eng_store_busy_timeout(b), 200);
    CHECK_INT(eng_store_run(b, "UPDATE t_lock SET n = n + 10 WHERE id = ?1", &err, "i", (int64_t)1),
              ENG_EBUSY);
    CHECK_INT(eng_store_last_fail(b), ENG_STORE_FAIL_BUSY);
    CHECK(strstr(err.msg, "lock") != NULL);
    /* 0: fail at once (not PostgreSQL's lock_timeout 0, which waits for ever) */
    eng_store_set_busy_timeout(b, 0);
    CHECK_INT(eng_store_run(b, "UPDATE t_lock SET n = n + 10 WHERE id = 1", &err, ""), ENG_EBUSY);
    /* a timeout set inside a transaction outlives its ROLLBACK (PostgreSQL would undo the SET) */
    REQUIRE(exec_ok(b, "BEGIN"));
    eng_store_set_busy_timeout(b, 150);
    CHECK(exec_ok(b, "ROLLBACK"));
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(b, "SELECT current_setting('lock_timeout')", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), "150ms");
    eng_store_finalize(s);
    CHECK(exec_ok(a, "COMMIT"));
    CHECK_INT(eng_store_in_tx(a), 0);
    eng_store_set_busy_timeout(b, 1000);
    CHECK_INT(eng_store_run(b, "UPDATE t_lock SET n = n + 10 WHERE id = 1", &err, ""), 1);
    REQUIRE(eng_store_row(a, "SELECT n FROM t_lock WHERE id = 1", &s, &err, "") == ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 11);
    eng_store_finalize(s);
    eng_store_close(a);
    eng_store_close(b);
}

static void test_transactions(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(st, "DROP TABLE IF EXISTS t_tx; CREATE TABLE t_tx (id bigint PRIMARY KEY)"));
    CHECK_INT(eng_store_in_tx(st), 0);
    REQUIRE(exec_ok(st, "BEGIN"));
    CHECK_INT(eng_store_in_tx(st), 1);
    CHECK_INT(eng_store_run(st, "INSERT INTO t_tx VALUES (?1)", &err, "i", (int64_t)1), 1);
    CHECK(exec_ok(st, "ROLLBACK"));
    CHECK_INT(eng_store_in_tx(st), 0);
    REQUIRE(exec_ok(st, "BEGIN"));
    CHECK_INT(eng_store_run(st, "INSERT INTO t_tx VALUES (?1)", &err, "i", (int64_t)2), 1);
    /* a failed statement leaves the transaction open (and failed) until ROLLBACK */
    CHECK_INT(eng_store_run(st, "INSERT INTO t_tx VALUES (?1)", &err, "i", (int64_t)2), ENG_EEXIST);
    CHECK_INT(eng_store_in_tx(st), 1);
    CHECK(exec_ok(st, "ROLLBACK"));
    REQUIRE(exec_ok(st, "BEGIN"));
    CHECK_INT(eng_store_run(st, "INSERT INTO t_tx VALUES (?1)", &err, "i", (int64_t)3), 1);
    CHECK(exec_ok(st, "COMMIT"));
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(st, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t_tx", &s, &err,
                          "") == ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), "3");
    eng_store_finalize(s);
    /* while a statement returns rows, in_tx says whether a transaction was open */
    REQUIRE(eng_store_row(st, "SELECT g FROM generate_series(1, 3) g", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK_INT(eng_store_in_tx(st), 0);
    eng_store_finalize(s);
    REQUIRE(exec_ok(st, "BEGIN"));
    REQUIRE(eng_store_row(st, "SELECT g FROM generate_series(1, 3) g", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK_INT(eng_store_in_tx(st), 1);
    eng_store_finalize(s);
    CHECK(exec_ok(st, "COMMIT"));
    eng_store_close(st);
}

/* The statement cache: a trusted text run again is the same server-side prepared statement (parsed
 * and planned once); 16 are kept, the least recently used one deallocated to make room. */
static void test_statement_cache(void)
{
    struct eng_store *st = open_pg();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(st, "DROP TABLE IF EXISTS t_cache; CREATE TABLE t_cache (k bigint, v text)"));
    for (int i = 0; i < 3; i++)
        CHECK_INT(eng_store_run(st, "INSERT INTO t_cache (k, v) VALUES (?1, ?2)", &err, "is",
                                (int64_t)i, "x"),
                  1);
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(st,
                          "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE "
                          "'INSERT INTO t_cache%'",
                          &s, &err, "") == ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 1);
    eng_store_finalize(s);
    /* a cached statement still out is not handed out twice: the second is its own */
    struct eng_store_stmt *a = NULL, *b = NULL;
    REQUIRE(eng_store_prepare(st, "SELECT k FROM t_cache ORDER BY k", -1, 0, &a, &err) == 0);
    REQUIRE(eng_store_prepare(st, "SELECT k FROM t_cache ORDER BY k", -1, 0, &b, &err) == 0);
    CHECK(a != b);
    CHECK_INT(eng_store_step(a, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_step(b, &err), ENG_STORE_ROW); /* spills a */
    CHECK_INT(eng_store_step(a, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(a, 0), 1);
    eng_store_finalize(a);
    eng_store_finalize(b);
    for (int i = 0; i < 40; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d FROM t_cache LIMIT 1", i);
        CHECK_INT(eng_store_row(st, sql, &s, &err, ""), ENG_STORE_ROW);
        eng_store_finalize(s);
    }
    REQUIRE(eng_store_row(st, "SELECT count(*) FROM pg_prepared_statements", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK(eng_store_column_int64(s, 0) <= 16);
    eng_store_finalize(s);
    /* a statement still out when the connection closes is finalized after it */
    REQUIRE(eng_store_prepare(st, "SELECT k FROM t_cache", -1, 0, &a, &err) == 0);
    eng_store_close(st);
    eng_store_finalize(a);
}

/* SQLite's BEGIN IMMEDIATE: the write lock at once (ENG_PG_WRITE_LOCK_SQL), busy after the
 * busy timeout with no transaction left open, through exec and through a prepared statement; a
 * SAVEPOINT outside a transaction begins one, and its RELEASE commits it. */
static void test_begin_immediate_and_savepoint(void)
{
    struct eng_store *a = open_pg(), *b = open_pg();
    REQUIRE(a != NULL && b != NULL);
    struct eng_err err = {0};
    REQUIRE(exec_ok(a, "DROP TABLE IF EXISTS t_sp; CREATE TABLE t_sp (id INTEGER PRIMARY KEY)"));
    REQUIRE(exec_ok(a, "BEGIN IMMEDIATE"));
    eng_store_set_busy_timeout(b, 100);
    CHECK_INT(eng_store_exec(b, "BEGIN IMMEDIATE", &err), ENG_EBUSY);
    CHECK_INT(eng_store_in_tx(b), 0);
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_prepare(b, "BEGIN IMMEDIATE", -1, ENG_STORE_TRUSTED, &s, &err) == 0);
    CHECK_INT(eng_store_step(s, &err), ENG_EBUSY);
    CHECK_INT(eng_store_in_tx(b), 0);
    eng_store_finalize(s);
    /* a plain BEGIN does not wait for it */
    CHECK(exec_ok(b, "BEGIN"));
    CHECK(exec_ok(b, "ROLLBACK"));
    CHECK(exec_ok(a, "COMMIT"));
    CHECK(exec_ok(b, "BEGIN IMMEDIATE"));
    CHECK_INT(eng_store_in_tx(b), 1);
    CHECK(exec_ok(b, "ROLLBACK"));

    CHECK(exec_ok(a, "SAVEPOINT outer_sp"));
    CHECK_INT(eng_store_in_tx(a), 1);
    CHECK_INT(eng_store_run(a, "INSERT INTO t_sp (id) VALUES (1)", &err, ""), 1);
    CHECK_INT(eng_store_run(a, "INSERT INTO t_sp (id) VALUES (1)", &err, ""), ENG_EEXIST);
    CHECK(exec_ok(a, "ROLLBACK TO outer_sp"));
    CHECK_INT(eng_store_run(a, "INSERT INTO t_sp (id) VALUES (2)", &err, ""), 1);
    CHECK(exec_ok(a, "RELEASE outer_sp"));
    CHECK_INT(eng_store_in_tx(a), 0); /* committed */
    REQUIRE(eng_store_row(b, "SELECT max(id) || '/' || count(*) FROM t_sp", &s, &err, "") ==
            ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), "2/1");
    eng_store_finalize(s);
    /* inside a transaction, a savepoint is only that */
    CHECK(exec_ok(a, "BEGIN; SAVEPOINT inner_sp"));
    CHECK(exec_ok(a, "RELEASE inner_sp"));
    CHECK_INT(eng_store_in_tx(a), 1);
    CHECK(exec_ok(a, "ROLLBACK"));
    eng_store_close(a);
    eng_store_close(b);
}

/* ---- migrations: each case in a schema of its own (the URL's search_path) ---- */

static char schema_url[1200];

/* A fresh schema NAME_pid and a URL whose connections use it (into schema_url). */
static int fresh_schema(const char *name)
{
    const char *url = pg_url();
    struct eng_store *st = open_pg();
    if (st == NULL)
        return 0;
    char sql[200];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s_%ld CASCADE; CREATE SCHEMA %s_%ld", name,
             (long)getpid(), name, (long)getpid());
    int ok = exec_ok(st, sql);
    eng_store_close(st);
    snprintf(schema_url, sizeof schema_url, "%s%soptions=-c%%20search_path%%3D%s_%ld", url,
             strchr(url, '?') != NULL ? "&" : "?", name, (long)getpid());
    return ok;
}

static void drop_schema(const char *name)
{
    struct eng_store *st = open_pg();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s_%ld CASCADE", name, (long)getpid());
    if (st != NULL)
        exec_ok(st, sql);
    eng_store_close(st);
}

static struct eng_store *open_url(const char *url)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(url, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", has_secret(err.msg) ? "(the password!)" : err.msg);
    return st;
}

static int64_t count_of(struct eng_store *st, const char *sql)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int64_t v = -1;
    if (eng_store_row(st, sql, &s, &err, "") == ENG_STORE_ROW)
        v = eng_store_column_int64(s, 0);
    else
        fprintf(stderr, "%s: %s\n", sql, err.msg);
    eng_store_finalize(s);
    return v;
}

/* Copy the repository's schema/ (and schema/pg/) into dir. */
static int copy_schema(const char *dir)
{
    char cmd[600];
    const char *src = getenv("SCHEMA_DIR") != NULL ? getenv("SCHEMA_DIR") : "schema";
    snprintf(cmd, sizeof cmd, "cp -R '%s/.' '%s/'", src, dir);
    return system(cmd) == 0;
}

static void test_migrate(void)
{
    REQUIRE(fresh_schema("mig"));
    struct eng_store *st = open_url(schema_url);
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    char dir[] = "/tmp/test_store_pg_schema.XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(copy_schema(dir));
    int applied = -1;
    CHECK_INT(eng_store_migrate(st, dir, &applied, &err), 0);
    CHECK(applied >= 11);
    int total = applied;
    CHECK_INT(count_of(st, "SELECT count(*) FROM schema_migrations"), total);
    /* checksums over the files' text, as SQLite records them (0004 and 0007 run schema/pg's own
     * text on PostgreSQL but record the common file's checksum) */
    char path[300], sum[80];
    snprintf(path, sizeof path, "%s/0004_pos_orders.sql", dir);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    REQUIRE(eng_store_checksum(text, n, sum, sizeof sum, &err) == 0);
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(st, "SELECT checksum FROM schema_migrations WHERE version = 4", &s, &err,
                          "") == ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), sum);
    eng_store_finalize(s);
    /* the schema works: identity ids, defaults, the orders triggers (0004's own text) */
    CHECK_INT(eng_store_run(st,
                            "INSERT INTO orders (id, tenant_id, updated_at) VALUES ('o1', 't',"
                            " '2000-01-01T00:00:00.000Z')",
                            &err, ""),
              1);
    CHECK_INT(eng_store_run(st,
                            "INSERT INTO order_items (order_id, tenant_id, line_no, name) VALUES"
                            " ('o1', 't', 1, 'x')",
                            &err, ""),
              1);
    CHECK_INT(count_of(st, "SELECT count(*) FROM orders WHERE updated_at > '2001'"), 1);
    CHECK_INT(count_of(st, "SELECT max(id) FROM order_items"), 1);
    CHECK_INT(eng_store_run(st,
                            "INSERT INTO operator_settings (name, value) VALUES ('bad-name',"
                            " 'x')",
                            &err, ""),
              ENG_EEXIST); /* 0007's name check, as a regular expression */
    /* twice: nothing to apply */
    CHECK_INT(eng_store_migrate(st, dir, &applied, &err), 0);
    CHECK_INT(applied, 0);
    /* a changed applied file is refused, naming it */
    snprintf(path, sizeof path, "%s/0002_sync.sql", dir);
    f = fopen(path, "ab");
    REQUIRE(f != NULL);
    fputs("\n-- edited\n", f);
    fclose(f);
    CHECK_INT(eng_store_migrate(st, dir, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "0002_sync.sql was changed after it was applied") != NULL);
    CHECK_INT(eng_store_in_tx(st), 0);
    /* migrating inside a transaction is refused */
    REQUIRE(exec_ok(st, "BEGIN"));
    CHECK_INT(eng_store_migrate(st, "schema", &applied, &err), ENG_EINVAL);
    CHECK(exec_ok(st, "ROLLBACK"));
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    eng_store_close(st);
    drop_schema("mig");
}

#include <pthread.h>

struct migrator {
    int rc, applied;
    char msg[256];
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct eng_store *st = open_url(schema_url);
    struct eng_err err = {0};
    const char *dir = getenv("SCHEMA_DIR") != NULL ? getenv("SCHEMA_DIR") : "schema";
    m->rc = st != NULL ? eng_store_migrate(st, dir, &m->applied, &err) : -99;
    snprintf(m->msg, sizeof m->msg, "%.255s", err.msg);
    eng_store_close(st);
    return NULL;
}

/* Several engines starting at once on one fresh database: every one succeeds, each file is
 * applied once (pg_advisory_xact_lock serialises them). */
static void test_migrate_concurrent(void)
{
    REQUIRE(fresh_schema("migc"));
    enum { N = 4 };
    pthread_t t[N];
    struct migrator m[N];
    memset(m, 0, sizeof m);
    for (int i = 0; i < N; i++)
        REQUIRE(pthread_create(&t[i], NULL, migrate_thread, &m[i]) == 0);
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (m[i].rc != 0)
            fprintf(stderr, "migrator %d: %d %s\n", i, m[i].rc, m[i].msg);
        CHECK_INT(m[i].rc, 0);
        total += m[i].applied;
    }
    struct eng_store *st = open_url(schema_url);
    REQUIRE(st != NULL);
    int64_t files = count_of(st, "SELECT count(*) FROM schema_migrations");
    CHECK(files >= 11);
    CHECK_INT(total, files); /* each applied once, by one of them */
    eng_store_close(st);
    drop_schema("migc");
}

static void test_wrong_password(void)
{
    const char *url = pg_url();
    if (url == NULL) {
        REQUIRE(open_pg() != NULL); /* fails, saying the server is missing */
        return;
    }
    find_secret(url);
    REQUIRE(secret[0] != '\0');
    /* the same URL with another password */
    char bad[512];
    const char *colon = strstr(url, secret);
    REQUIRE(colon != NULL && strlen(url) + 16 < sizeof bad);
    snprintf(bad, sizeof bad, "%.*swrong-pw-4711%s", (int)(colon - url), url,
             colon + strlen(secret));
    struct eng_store *st = (struct eng_store *)1;
    struct eng_err err = {0};
    CHECK_INT(eng_store_open(bad, &st, &err), ENG_EIO);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, "password authentication failed") != NULL);
    CHECK(strstr(err.msg, "127.0.0.1") != NULL);
    CHECK(strstr(err.msg, "wrong-pw-4711") == NULL);
    CHECK(!has_secret(err.msg));
    /* and a server that is not there */
    CHECK_INT(eng_store_open("postgresql://u:wrong-pw-4711@127.0.0.1:1/x", &st, &err), ENG_EIO);
    CHECK(strstr(err.msg, "wrong-pw-4711") == NULL);
}

static void test_connection_lost(void)
{
    struct eng_store *st = open_pg(), *killer = open_pg();
    REQUIRE(st != NULL && killer != NULL);
    struct eng_err err = {0};
    struct eng_store_stmt *s = NULL;
    REQUIRE(eng_store_row(st, "SELECT pg_backend_pid()", &s, &err, "") == ENG_STORE_ROW);
    int64_t pid = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    /* the test role owns that backend: it may end it */
    REQUIRE(eng_store_row(killer, "SELECT pg_terminate_backend(?1::int)", &s, &err, "i", pid) ==
            ENG_STORE_ROW);
    eng_store_finalize(s);
    int rc = eng_store_run(st, "SELECT 1", &err, "");
    CHECK_INT(rc, ENG_EIO);
    CHECK(strstr(err.msg, "connection") != NULL);
    CHECK(!has_secret(err.msg));
    eng_store_close(st);
    eng_store_close(killer);
}

int main(void)
{
    static const struct check_case cases[] = {
        {"test_open_exec", test_open_exec},
        {"test_placeholders", test_placeholders},
        {"test_bind_round_trip", test_bind_round_trip},
        {"test_big_select_bounded", test_big_select_bounded},
        {"test_statement_inside_rows", test_statement_inside_rows},
        {"test_statement_cache", test_statement_cache},
        {"test_begin_immediate_and_savepoint", test_begin_immediate_and_savepoint},
        {"test_migrate", test_migrate},
        {"test_migrate_concurrent", test_migrate_concurrent},
        {"test_unique_violation", test_unique_violation},
        {"test_lock_busy", test_lock_busy},
        {"test_transactions", test_transactions},
        {"test_wrong_password", test_wrong_password},
        {"test_connection_lost", test_connection_lost},
    };
    if (pg_url() == NULL)
        fprintf(stderr, "test_store_pg: FAIL: the PostgreSQL test server is missing "
                        "(TALLYSYNC_TEST_PG_URL is not set): run it through tools/test.sh plain\n");
    return check_run(cases, sizeof cases / sizeof cases[0]);
}

/*
 * test_store_authorize.c - what script SQL (ENG_STORE_SCRIPT, engine.db) may touch in the real
 * migrated schema: the tables meant for scripts, no security table read or written, no SQL
 * function off the allow-list (fts3_tokenizer() among them), and nothing written at all with
 * ENG_STORE_READONLY (a dry run). Issue 12, finding 4.
 */
#define STORE_FIXTURE_NAME "test_store_authorize"
#include "store_fixture.h"

#include <string.h>

#include "check.h"

/* Prepare sql with flags: 0, or ENG_EINVAL with the refusal's text in *msg. */
static int prep(struct eng_store *st, const char *sql, int flags, char *msg, size_t size)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, sql, -1, flags, &s, &err);
    snprintf(msg, size, "%s", rc == 0 ? "" : err.msg);
    eng_store_finalize(s);
    return rc;
}

/* Run trusted SQL (the engine's own) and fail the test when it does not work. */
static void engine_exec(struct eng_store *st, const char *sql)
{
    struct eng_err err = {0};
    if (eng_store_exec(st, sql, &err) != 0)
        fprintf(stderr, "engine SQL failed: %s: %s\n", sql, err.msg);
}

static void expect_refused(struct eng_store *st, const char *sql, int flags, const char *why)
{
    char msg[1100];
    int rc = prep(st, sql, flags, msg, sizeof msg);
    if (rc != ENG_EINVAL || strstr(msg, why) == NULL)
        fprintf(stderr, "expected '%s' refused with '%s', got %d '%s'\n", sql, why, rc, msg);
    CHECK_INT(rc, ENG_EINVAL);
    CHECK(strstr(msg, why) != NULL);
    CHECK(strstr(msg, "not allowed in script SQL") != NULL);
}

static void expect_allowed(struct eng_store *st, const char *sql, int flags)
{
    char msg[1100];
    int rc = prep(st, sql, flags, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "expected '%s' allowed, got %s\n", sql, msg);
    CHECK_INT(rc, 0);
}

static void test_security_tables_are_neither_read_nor_written(void)
{
    struct eng_store *st = fresh_store();
    const int S = ENG_STORE_SCRIPT;

    expect_refused(st,
                   "INSERT INTO api_tokens (tenant_id, name, token_hash) VALUES ('victim', 'x', "
                   "'0000')",
                   S, "writing table api_tokens");
    expect_refused(st, "UPDATE api_tokens SET revoked_at = NULL", S, "writing table api_tokens");
    expect_refused(st, "DELETE FROM oauth_states", S, "writing table oauth_states");
    expect_refused(st, "SELECT ciphertext, key_id FROM integration_credentials", S,
                   "reading table integration_credentials");
    expect_refused(st, "SELECT count(*) FROM api_tokens", S, "reading table api_tokens");
    expect_refused(st, "SELECT token_hash FROM main.api_tokens", S, "reading table api_tokens");
    /* the same reads hidden in a subquery, a CTE, a join, an UPSERT's source */
    expect_refused(st, "SELECT (SELECT token_hash FROM api_tokens LIMIT 1)", S,
                   "reading table api_tokens");
    expect_refused(st, "WITH x AS (SELECT * FROM integration_credentials) SELECT * FROM x", S,
                   "reading table integration_credentials");
    expect_refused(st,
                   "INSERT INTO orders (id, tenant_id, notes) SELECT 'o1', tenant_id, "
                   "ciphertext FROM integration_credentials",
                   S, "reading table integration_credentials");
    /* the engine's other tables */
    static const char *const engine_tables[] = {
        "SELECT * FROM sync_queue",   "SELECT * FROM webhook_events",
        "SELECT * FROM sync_records", "SELECT * FROM sync_state",
        "SELECT * FROM id_map",       "SELECT * FROM schedules",
        "SELECT * FROM tenants",      "SELECT * FROM operator_settings",
        "SELECT * FROM sqlite_master"};
    for (size_t i = 0; i < sizeof engine_tables / sizeof engine_tables[0]; i++)
        expect_refused(st, engine_tables[i], S, "reading table");
    expect_refused(st, "INSERT INTO sync_queue (tenant_id, kind) VALUES ('t', 'run')", S,
                   "writing table sync_queue");
    expect_refused(st, "UPDATE settings SET value = '{}'", S, "writing table settings");
    expect_refused(st, "UPDATE sync_runs SET cancel_requested = 1", S, "writing table sync_runs");
    /* sync_runs: only what scripts/lib/sync.lua reads */
    expect_refused(st, "SELECT filters FROM sync_runs", S, "reading table sync_runs");
    /* a TEMP view or trigger would carry the fence past the statement that makes it */
    expect_refused(st, "CREATE TEMP VIEW v AS SELECT 1", S, "schema change");
    expect_refused(st, "CREATE TEMP TRIGGER tr AFTER INSERT ON orders BEGIN SELECT 1; END", S,
                   "schema change");
    done(st);
}

static void test_script_tables_stay_usable(void)
{
    struct eng_store *st = fresh_store();
    const int S = ENG_STORE_SCRIPT;

    /* what scripts/ and the tests' Lua specs run in workers */
    expect_allowed(st,
                   "SELECT value FROM settings WHERE tenant_id = ? AND key = "
                   "'sync_conflict_policy'",
                   S);
    expect_allowed(st, "SELECT cancel_requested FROM sync_runs WHERE id = ?", S);
    expect_allowed(st, "SELECT count(*) FROM orders WHERE tenant_id = ? AND is_active = 1", S);
    expect_allowed(st, "SELECT order_id, name FROM order_items WHERE tenant_id = ?", S);
    expect_allowed(st, "INSERT INTO orders (id, tenant_id) VALUES ('o1', 't')", S);
    expect_allowed(st, "UPDATE orders SET notes = 'x' WHERE id = 'o1'", S); /* its trigger too */
    expect_allowed(st, "DELETE FROM order_items WHERE order_id = 'o1'", S);
    expect_allowed(st, "CREATE TEMP TABLE scratch (a, b)", S);
    expect_allowed(st,
                   "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 5) "
                   "SELECT sum(n) FROM c",
                   S);
    expect_allowed(st,
                   "SELECT json_extract(?, '$.a'), coalesce(NULL, 1), lower('A'), "
                   "strftime('%Y', 'now'), length('x'), ? ->> '$.b'",
                   S);
    /* TEMP tables are the script's own */
    engine_exec(st, "CREATE TEMP TABLE mine (x)");
    expect_allowed(st, "INSERT INTO mine VALUES (1)", S);
    expect_allowed(st, "SELECT x FROM mine", S);
    expect_allowed(st, "SELECT count(*) FROM mine", S);
    expect_allowed(st, "WITH w AS (SELECT 1 AS a) SELECT count(*) FROM w", S);
    /* the operator's `tallysync run` sees every table, still without PRAGMA or ATTACH */
    expect_allowed(st, "SELECT count(*) FROM api_tokens", S | ENG_STORE_ALL_TABLES);
    expect_refused(st, "PRAGMA writable_schema = 1", S | ENG_STORE_ALL_TABLES, "PRAGMA");
    done(st);
}

static void test_functions_off_the_list_are_refused(void)
{
    struct eng_store *st = fresh_store();
    const int S = ENG_STORE_SCRIPT;

    /* the one-argument form hands out a pointer into the library on Debian's SQLite */
    expect_refused(st, "SELECT fts3_tokenizer('simple')", S, "fts3_tokenizer()");
    expect_refused(st, "SELECT hex(fts3_tokenizer('porter'))", S, "fts3_tokenizer()");
    expect_refused(st, "SELECT load_extension('/tmp/x.so')", S, "load_extension()");
    expect_refused(st, "SELECT sqlite_version()", S, "sqlite_version()");
    expect_refused(st, "SELECT zeroblob(1000000000)", S, "zeroblob()");
    expect_refused(st, "SELECT printf('%.*c', 1000000000, 'x')", S, "printf()");
    expect_refused(st, "SELECT FTS3_TOKENIZER('simple')", S, "is not allowed");
    /* also under ENG_STORE_ALL_TABLES */
    expect_refused(st, "SELECT fts3_tokenizer('simple')", S | ENG_STORE_ALL_TABLES,
                   "fts3_tokenizer()");
    /* the engine's own SQL is never fenced */
    expect_allowed(st, "SELECT sqlite_version()", ENG_STORE_TRUSTED);
    done(st);
}

static void test_readonly_writes_nothing(void)
{
    struct eng_store *st = fresh_store();
    const int RO = ENG_STORE_SCRIPT | ENG_STORE_READONLY;

    expect_refused(st, "INSERT INTO orders (id, tenant_id) VALUES ('o2', 't')", RO,
                   "a dry run writes nothing");
    expect_refused(st, "UPDATE orders SET notes = 'x'", RO, "a dry run writes nothing");
    expect_refused(st, "DELETE FROM order_items", RO, "a dry run writes nothing");
    expect_refused(st, "CREATE TEMP TABLE scratch (a)", RO, "a dry run writes nothing");
    engine_exec(st, "CREATE TEMP TABLE mine (x)");
    expect_refused(st, "INSERT INTO mine VALUES (1)", RO, "a dry run writes nothing");
    expect_refused(st, "INSERT INTO api_tokens (tenant_id, token_hash) VALUES ('v', 'h')",
                   RO | ENG_STORE_ALL_TABLES, "a dry run writes nothing");
    /* reading is what a dry run may do */
    expect_allowed(st, "SELECT value FROM settings WHERE tenant_id = 'default'", RO);
    expect_allowed(st, "SELECT count(*) FROM orders", RO);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_security_tables_are_neither_read_nor_written),
           CHECK_CASE(test_script_tables_stay_usable),
           CHECK_CASE(test_functions_off_the_list_are_refused),
           CHECK_CASE(test_readonly_writes_nothing))

/*
 * test_store.c - unit tests of engine/adapt/store.c against real SQLite files under /tmp:
 * DATABASE_URL parsing, connection settings, the migration runner (order, idempotence, checksum,
 * gaps, concurrency), the script SQL fence, and the statement API round trip.
 */
#include "check.h"
#include "adapt/store.h"
#include "lua/vm_int.h"

#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmproot[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh scratch directory; the previous one is removed. */
static const char *scratch(void)
{
    if (tmproot[0] != '\0')
        nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(tmproot, sizeof tmproot, "/tmp/test_store.XXXXXX");
    if (mkdtemp(tmproot) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return tmproot;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

static const char *schema_dir(void)
{
    const char *d = getenv("SCHEMA_DIR");
    return d != NULL ? d : "schema";
}

/* Open dir/name.db (creating dir/sub/ on the way when asked). */
static struct eng_store *open_db(const char *dir, const char *name)
{
    char path[1024];
    struct eng_store *st = NULL;
    struct eng_err err = {0};

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (eng_store_open(path, &st, &err) != 0)
        fprintf(stderr, "open %s: %s\n", path, err.msg);
    return st;
}

/* First column of the first row as text (copied), or "" / "ERR: ..." */
static const char *q_text(struct eng_store *st, const char *sql)
{
    static char out[1100];
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err);

    out[0] = '\0';
    if (rc == 0)
        rc = eng_store_step(s, &err);
    if (rc == ENG_STORE_ROW) {
        const char *t = eng_store_column_text(s, 0, NULL);
        snprintf(out, sizeof out, "%s", t ? t : "");
    } else if (rc < 0) {
        snprintf(out, sizeof out, "ERR: %s", err.msg);
    }
    eng_store_finalize(s);
    return out;
}

static long long q_int(struct eng_store *st, const char *sql)
{
    return strtoll(q_text(st, sql), NULL, 10);
}

/* ------------------------------------------------------------------------------------------ */

static void test_parse_url(void)
{
    char p[256];
    struct eng_err err = {0};

    CHECK_INT(eng_store_parse_url("sqlite:./data/pos.db", p, sizeof p, &err), 0);
    CHECK_STR(p, "./data/pos.db");
    CHECK_INT(eng_store_parse_url("sqlite://relative/x.db", p, sizeof p, &err), 0);
    CHECK_STR(p, "relative/x.db");
    CHECK_INT(eng_store_parse_url("sqlite:///abs/x.db", p, sizeof p, &err), 0);
    CHECK_STR(p, "/abs/x.db");
    CHECK_INT(eng_store_parse_url("SQLite:data/pos.db?mode=rwc", p, sizeof p, &err), 0);
    CHECK_STR(p, "data/pos.db");
    CHECK_INT(eng_store_parse_url("sqlite::memory:", p, sizeof p, &err), 0);
    CHECK_STR(p, ":memory:");
    CHECK_INT(eng_store_parse_url("./data/pos.db", p, sizeof p, &err), 0);
    CHECK_STR(p, "./data/pos.db");
    CHECK_INT(eng_store_parse_url("/var/lib/tallysync/pos.db", p, sizeof p, &err), 0);
    CHECK_STR(p, "/var/lib/tallysync/pos.db");

    /* a PostgreSQL URL is the back end's to read (libpq), copied as it is */
    CHECK_INT(eng_store_parse_url("postgres://u:pw@db/x", p, sizeof p, &err), 0);
    CHECK_STR(p, "postgres://u:pw@db/x");
    CHECK_INT(eng_store_parse_url("postgresql://db/x?sslmode=require", p, sizeof p, &err), 0);
    CHECK_STR(p, "postgresql://db/x?sslmode=require");
    CHECK(eng_store_url_is_pg("postgres://db/x") && eng_store_url_is_pg("PostgreSQL://db/x"));
    CHECK(!eng_store_url_is_pg("sqlite:./x.db") && !eng_store_url_is_pg("./postgres://x"));
    CHECK_INT(eng_store_parse_url("mysql://db/x", p, sizeof p, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "mysql") != NULL);
    CHECK_INT(eng_store_parse_url("", p, sizeof p, &err), ENG_EINVAL);
    CHECK_INT(eng_store_parse_url("sqlite:", p, sizeof p, &err), ENG_EINVAL);
    CHECK_INT(eng_store_parse_url("sqlite:./x.db", p, 4, &err), ENG_EINVAL);

    /* open() takes URLs too: a PostgreSQL one nobody answers is ENG_EIO naming the server,
     * never the password (tests/unit/adapt/test_store_pg.c runs against a real server) */
    struct eng_store *st = (struct eng_store *)1;
    int rc = eng_store_open("postgres://u:s3cretpw@127.0.0.1:1/x?connect_timeout=5", &st, &err);
    CHECK(st == NULL);
    if (strstr(err.msg, "built without libpq") != NULL) { /* a build without libpq-dev */
        CHECK_INT(rc, ENG_EINVAL);
    } else {
        CHECK_INT(rc, ENG_EIO);
        CHECK(strstr(err.msg, "127.0.0.1") != NULL);
    }
    CHECK(strstr(err.msg, "s3cretpw") == NULL);
}

static void test_open_settings(void)
{
    const char *dir = scratch();
    char url[512];
    struct eng_store *st = NULL;
    struct eng_err err = {0};

    /* A configured folder that does not exist is an error naming it, and is not created
     * (issue 10 item 5: a DATABASE_URL typo made /nonexistent/dir/ and an empty database). */
    snprintf(url, sizeof url, "sqlite:%s/a/b/pos.db", dir);
    CHECK_INT(eng_store_open(url, &st, &err), ENG_ENOTFOUND);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, "/a/b does not exist") != NULL);
    CHECK(strstr(err.msg, "DATABASE_URL") != NULL);
    struct stat sb;
    char path[512];
    snprintf(path, sizeof path, "%s/a", dir);
    CHECK(stat(path, &sb) != 0); /* nothing was made on the way */

    /* A new file is 0600 whatever the umask, and so are its -wal and -shm. */
    snprintf(path, sizeof path, "%s/a", dir);
    REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/a/b", dir);
    REQUIRE(mkdir(path, 0700) == 0);
    mode_t old_mask = umask(0);
    REQUIRE(eng_store_open(url, &st, &err) == 0);
    umask(old_mask);
    CHECK(strstr(eng_store_path(st), "/a/b/pos.db") != NULL);
    CHECK(eng_store_exec(st, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", &err) == 0);
    static const char *const files[] = {"pos.db", "pos.db-wal", "pos.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/a/b/%s", dir, files[i]);
        REQUIRE(stat(path, &sb) == 0);
        CHECK_INT((int)(sb.st_mode & 0777), 0600);
    }
    char warning[1024] = "";
    CHECK_INT(eng_store_mode_warning(st, warning, sizeof warning), 0);
    /* An existing file opened to others is reported (not changed), naming the file and fix. */
    snprintf(path, sizeof path, "%s/a/b/pos.db", dir);
    REQUIRE(chmod(path, 0644) == 0);
    CHECK_INT(eng_store_mode_warning(st, warning, sizeof warning), 1);
    CHECK(strstr(warning, "pos.db is readable or writable by others (mode 0644)") != NULL);
    CHECK(strstr(warning, "chmod 600") != NULL);
    REQUIRE(stat(path, &sb) == 0);
    CHECK_INT((int)(sb.st_mode & 0777), 0644);
    CHECK_STR(q_text(st, "PRAGMA journal_mode"), "wal");
    CHECK_INT(q_int(st, "PRAGMA foreign_keys"), 1);
    CHECK_INT(q_int(st, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK_INT(eng_store_busy_timeout(st), ENG_STORE_BUSY_TIMEOUT_MS);
    /* Double-quoted strings are identifiers, never strings. */
    CHECK(strncmp(q_text(st, "SELECT \"nope\""), "ERR:", 4) == 0);
    eng_store_close(st);
    eng_store_close(NULL);
}

static void test_migrate_real_schema(void)
{
    const char *dir = scratch();
    struct eng_store *st = open_db(dir, "pos.db");
    struct eng_err err = {0};
    int applied = -1;
    static const char *const tables[] = {
        "settings",     "integration_credentials",
        "api_tokens",   "sync_runs",
        "sync_records", "sync_queue",
        "sync_state",   "id_map",
        "schedules",    "orders",
        "order_items",  "oauth_states",
    };
    static const char *const dqueries[] = {
        /* seed quick-reference queries still work */
        "SELECT * FROM sync_queue WHERE status = 'pending'",
        "SELECT * FROM sync_state ORDER BY updated_at DESC",
        "SELECT id, tenant_id, platform, is_active FROM integration_credentials",
        "SELECT tenant_id, entity_type, last_sync_at FROM sync_state ORDER BY last_sync_at DESC",
    };

    REQUIRE(st != NULL);
    int rc = eng_store_migrate(st, schema_dir(), &applied, &err);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", err.msg);
    REQUIRE(rc == 0);
    CHECK(applied >= 4);
    CHECK_INT(q_int(st, "SELECT count(*) FROM schema_migrations"), applied);
    CHECK_INT(q_int(st, "SELECT max(version) FROM schema_migrations"), applied);
    CHECK_STR(q_text(st, "SELECT name FROM schema_migrations WHERE version = 1"),
              "0001_tenants_settings_auth.sql");
    CHECK(strncmp(q_text(st, "SELECT applied_at FROM schema_migrations WHERE version = 1"), "20",
                  2) == 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM tenants WHERE id = 'default'"), 1);
    CHECK_INT(q_int(st, "SELECT count(*) FROM schema_migrations WHERE length(checksum) = 64"),
              applied);

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pragma_table_info('%s') WHERE name = "
                 "'tenant_id'",
                 tables[i]);
        if (q_int(st, sql) != 1)
            fprintf(stderr, "table %s lacks tenant_id\n", tables[i]);
        CHECK_INT(q_int(st, sql), 1);
    }
    CHECK_INT(q_int(st, "SELECT count(*) FROM pragma_table_info('webhook_events') WHERE name = "
                        "'tenant_id' AND \"notnull\" = 0"),
              1);
    for (size_t i = 0; i < sizeof dqueries / sizeof dqueries[0]; i++)
        CHECK(strncmp(q_text(st, dqueries[i]), "ERR:", 4) != 0);

    /* Second run: nothing applied. */
    applied = -1;
    CHECK_INT(eng_store_migrate(st, schema_dir(), &applied, &err), 0);
    CHECK_INT(applied, 0);
    eng_store_close(st);

    /* And from a new connection too. */
    st = open_db(dir, "pos.db");
    REQUIRE(st != NULL);
    CHECK_INT(eng_store_migrate(st, schema_dir(), &applied, &err), 0);
    CHECK_INT(applied, 0);
    eng_store_close(st);
}

static void test_schema_constraints(void)
{
    const char *dir = scratch();
    struct eng_store *st = open_db(dir, "pos.db");
    struct eng_err err = {0};

    REQUIRE(st != NULL);
    REQUIRE(eng_store_migrate(st, schema_dir(), NULL, &err) == 0);
    /* CHECK on an enum-like state */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, state) "
                             "VALUES ('r1', 't', 'orders', 'f', 'full', 'bogus')",
                             &err),
              ENG_EEXIST);
    CHECK_INT(eng_store_last_fail(st), ENG_STORE_FAIL_CONSTRAINT);
    /* one active run per tenant and flow */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode) "
                             "VALUES ('r1', 't', 'orders', 'f', 'full')",
                             &err),
              0);
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode) "
                             "VALUES ('r2', 't', 'orders', 'f', 'incremental')",
                             &err),
              ENG_EEXIST);
    CHECK(strstr(err.msg, "UNIQUE") != NULL);
    /* queue dedupe only while pending/running */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO sync_queue (tenant_id, kind, dedupe_key, status) "
                             "VALUES ('t', 'record', 'order:1', 'done');"
                             "INSERT INTO sync_queue (tenant_id, kind, dedupe_key) "
                             "VALUES ('t', 'record', 'order:1');",
                             &err),
              0);
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO sync_queue (tenant_id, kind, dedupe_key) "
                             "VALUES ('t', 'record', 'order:1')",
                             &err),
              ENG_EEXIST);
    /* webhook dedupe by (source, account, event id) */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO webhook_events (source, event_id) "
                             "VALUES ('quickbooks', 'e1'), ('woocommerce', 'e1')",
                             &err),
              0);
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO webhook_events (source, event_id) "
                             "VALUES ('quickbooks', 'e1')",
                             &err),
              ENG_EEXIST);
    /* settings value must be JSON */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO settings (tenant_id, key, value) "
                             "VALUES ('tenant-001', 'transformer_config', 'not json')",
                             &err),
              ENG_EEXIST);
    /* orders: items move the order's updated_at; FK cascade */
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO orders (id, tenant_id, total_minor, updated_at) "
                             "VALUES ('o1', 't', 1999, '2000-01-01T00:00:00.000Z');"
                             "INSERT INTO order_items (order_id, tenant_id, line_no, name, "
                             "unit_price_minor, total_minor) VALUES ('o1', 't', 1, 'Mug', "
                             "1999, 1999);",
                             &err),
              0);
    CHECK(strcmp(q_text(st, "SELECT updated_at FROM orders WHERE id = 'o1'"), "2000") > 0);
    CHECK_INT(eng_store_exec(st,
                             "INSERT INTO order_items (order_id, tenant_id, line_no, name) "
                             "VALUES ('nope', 't', 1, 'x')",
                             &err),
              ENG_EEXIST);
    CHECK_INT(eng_store_exec(st, "DELETE FROM orders WHERE id = 'o1'", &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM order_items"), 0);
    eng_store_close(st);
}

static int migrate_dir(const char *db_dir, const char *mig_dir, int *applied, struct eng_err *err)
{
    struct eng_store *st = open_db(db_dir, "m.db");
    int rc;

    if (st == NULL)
        return ENG_EIO;
    rc = eng_store_migrate(st, mig_dir, applied, err);
    eng_store_close(st);
    return rc;
}

static void test_migrate_rules(void)
{
    const char *dir = scratch();
    char mig[512];
    struct eng_err err = {0};
    int applied = -1;

    snprintf(mig, sizeof mig, "%s/schema", dir);
    REQUIRE(mkdir(mig, 0700) == 0);
    /* Order: 0002 needs 0001's table; the listing order of the directory does not matter. */
    write_file(mig, "0002_b.sql", "INSERT INTO a (x) VALUES (2);");
    write_file(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n-- comment\n");
    write_file(mig, "README.md", "not a migration");
    REQUIRE(migrate_dir(dir, mig, &applied, &err) == 0);
    CHECK_INT(applied, 2);
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), 0);
    CHECK_INT(applied, 0);

    /* A third file is applied alone. */
    write_file(mig, "0003_c.sql", "INSERT INTO a (x) VALUES (3);");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), 0);
    CHECK_INT(applied, 1);

    /* Editing an applied file is detected and named. */
    write_file(mig, "0002_b.sql", "INSERT INTO a (x) VALUES (22);");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "0002_b.sql") != NULL);
    CHECK(strstr(err.msg, "changed") != NULL);
    write_file(mig, "0002_b.sql", "INSERT INTO a (x) VALUES (2);");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), 0);

    /* A gap. */
    write_file(mig, "0005_e.sql", "SELECT 1;");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "0005_e.sql") != NULL);
    /* A duplicate number. */
    write_file(mig, "0004_d.sql", "SELECT 1;");
    write_file(mig, "0004_dd.sql", "SELECT 1;");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "same number") != NULL);
    remove_file(mig, "0004_dd.sql");
    remove_file(mig, "0005_e.sql");
    /* A badly named .sql file. */
    write_file(mig, "extra.sql", "SELECT 1;");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "extra.sql") != NULL);
    remove_file(mig, "extra.sql");

    /* A failing file rolls back entirely and is named; the ones before it stay applied. */
    write_file(mig, "0005_bad.sql", "CREATE TABLE z (x); INSERT INTO nowhere VALUES (1);");
    write_file(mig, "0004_d.sql", "CREATE TABLE d (x);");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EIO);
    CHECK_INT(applied, 1);
    CHECK(strstr(err.msg, "0005_bad.sql") != NULL);
    CHECK(strstr(err.msg, "nowhere") != NULL);
    {
        struct eng_store *st = open_db(dir, "m.db");
        REQUIRE(st != NULL);
        CHECK_INT(q_int(st, "SELECT count(*) FROM sqlite_schema WHERE name = 'z'"), 0);
        CHECK_INT(q_int(st, "SELECT count(*) FROM sqlite_schema WHERE name = 'd'"), 1);
        CHECK_INT(q_int(st, "SELECT max(version) FROM schema_migrations"), 4);
        CHECK_STR(q_text(st, "SELECT group_concat(x, ',') FROM (SELECT x FROM a ORDER BY x)"),
                  "2,3");
        eng_store_close(st);
    }

    /* A file that ends the transaction itself. */
    write_file(mig, "0005_bad.sql", "CREATE TABLE z (x); COMMIT;");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "COMMIT") != NULL);

    /* A database newer than the directory. */
    remove_file(mig, "0005_bad.sql");
    remove_file(mig, "0004_d.sql");
    CHECK_INT(migrate_dir(dir, mig, &applied, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "version") != NULL);

    /* A missing directory. */
    CHECK_INT(migrate_dir(dir, "/nonexistent/schema", &applied, &err), ENG_ENOTFOUND);
}

static void test_migrate_concurrent(void)
{
    const char *dir = scratch();
    char mig[512];
    pid_t pids[4];
    int total = 0;

    snprintf(mig, sizeof mig, "%s/schema", dir);
    REQUIRE(mkdir(mig, 0700) == 0);
    for (int i = 1; i <= 8; i++) {
        char name[64], sql[256];
        snprintf(name, sizeof name, "%04d_step.sql", i);
        snprintf(sql, sizeof sql,
                 "CREATE TABLE t%d (x); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                 "FROM c WHERE n < 20000) INSERT INTO t%d SELECT n FROM c;",
                 i, i);
        write_file(mig, name, sql);
    }
    /* Four processes migrate the same fresh file at once: each step is applied exactly once. */
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            struct eng_err err = {0};
            int applied = 0;
            int rc = migrate_dir(dir, mig, &applied, &err);
            if (rc != 0)
                fprintf(stderr, "child migrate: %s\n", err.msg);
            _exit(rc != 0 ? 100 : applied);
        }
    }
    for (int i = 0; i < 4; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) <= 8);
        total += WEXITSTATUS(status);
    }
    CHECK_INT(total, 8);
    struct eng_store *st = open_db(dir, "m.db");
    REQUIRE(st != NULL);
    CHECK_INT(q_int(st, "SELECT count(*) FROM schema_migrations"), 8);
    CHECK_INT(q_int(st, "SELECT count(*) FROM t8"), 20000);
    eng_store_close(st);
}

/* Several processes opening one fresh file at once all switch it to WAL: SQLite answers BUSY
 * without waiting when two readers both want to upgrade, so the open must retry, not fail. */
static void test_open_concurrent(void)
{
    enum { ROUNDS = 20, PROCS = 6 };

    for (int round = 0; round < ROUNDS; round++) {
        const char *dir = scratch();
        pid_t pids[PROCS];

        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            REQUIRE(pids[i] >= 0);
            if (pids[i] == 0) {
                struct eng_store *st = open_db(dir, "c.db");
                int ok =
                    st != NULL && eng_store_exec(st, "CREATE TABLE IF NOT EXISTS t (x)", NULL) == 0;
                eng_store_close(st);
                _exit(ok ? 0 : 1);
            }
        }
        for (int i = 0; i < PROCS; i++) {
            int status = 0;
            waitpid(pids[i], &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
}

static void test_one_statement(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};

    REQUIRE(st != NULL);
    CHECK_INT(eng_store_prepare(st, "SELECT 1; SELECT 2", -1, ENG_STORE_TRUSTED, &s, &err),
              ENG_EINVAL);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "only one statement per call") != NULL);
    CHECK_INT(eng_store_prepare(st, "SELECT 1; DROP TABLE x", -1, ENG_STORE_SCRIPT, &s, &err),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "only one statement per call") != NULL);
    CHECK_INT(eng_store_prepare(st, "SELECT 1; -- done\n ; /* trailing */ ", -1, ENG_STORE_TRUSTED,
                                &s, &err),
              0);
    eng_store_finalize(s);
    s = NULL;
    CHECK_INT(eng_store_prepare(st, "SELECT 1 /* unterminated", -1, ENG_STORE_TRUSTED, &s, &err),
              0);
    eng_store_finalize(s);
    s = NULL;
    CHECK_INT(eng_store_prepare(st, "  -- nothing\n", -1, ENG_STORE_TRUSTED, &s, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "empty") != NULL);
    /* len bounds the text */
    CHECK_INT(eng_store_prepare(st, "SELECT 7; SELECT 8", 8, ENG_STORE_TRUSTED, &s, &err), 0);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 7);
    eng_store_finalize(s);
    /* a syntax error carries SQLite's message */
    s = NULL;
    CHECK_INT(eng_store_prepare(st, "SELEC 1", -1, ENG_STORE_TRUSTED, &s, &err), ENG_EIO);
    CHECK(strstr(err.msg, "syntax error") != NULL);
    eng_store_close(st);
}

static void test_script_fence(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    static const char *const refused[] = {
        "ATTACH DATABASE '/tmp/other.db' AS other",
        "DETACH DATABASE main",
        "PRAGMA journal_mode=DELETE",
        "pragma foreign_keys = off",
        "VACUUM",
        "  /* c */ vacuum INTO '/tmp/copy.db'",
        "BEGIN",
        "COMMIT",
        "SAVEPOINT a",
        "CREATE TABLE t (x)",
        "DROP TABLE IF EXISTS t",
        "SELECT load_extension('/tmp/evil.so')",
    };

    REQUIRE(st != NULL);
    REQUIRE(eng_store_exec(st, "CREATE TABLE t (x)", &err) == 0);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int rc = eng_store_prepare(st, refused[i], -1, ENG_STORE_SCRIPT, &s, &err);
        if (rc != ENG_EINVAL)
            fprintf(stderr, "not refused: %s\n", refused[i]);
        CHECK_INT(rc, ENG_EINVAL);
        CHECK(s == NULL);
        CHECK(strstr(err.msg, "not allowed in script SQL") != NULL);
    }
    /* allowed for scripts (t is no script's table: ENG_STORE_ALL_TABLES, as `tallysync run`) */
    static const char *const allowed[] = {
        "SELECT * FROM t",
        "INSERT INTO t (x) VALUES (1)",
        "CREATE TEMP TABLE scratch (y)",
        "SELECT 1 AS vacuum_count",
        "WITH x AS (SELECT 1) SELECT * FROM x",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        int rc = eng_store_prepare(st, allowed[i], -1, ENG_STORE_SCRIPT | ENG_STORE_ALL_TABLES, &s,
                                   &err);
        if (rc != 0)
            fprintf(stderr, "refused: %s: %s\n", allowed[i], err.msg);
        CHECK_INT(rc, 0);
        eng_store_finalize(s);
        s = NULL;
    }
    /* the engine itself may */
    CHECK_INT(eng_store_prepare(st, "PRAGMA user_version", -1, ENG_STORE_TRUSTED, &s, &err), 0);
    eng_store_finalize(s);
    eng_store_close(st);
}

static void test_bind_round_trip(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    static const unsigned char blob[] = {0, 1, 2, 0xff, 0};
    size_t len = 0;

    REQUIRE(st != NULL);
    REQUIRE(eng_store_exec(st, "CREATE TABLE v (n, i, d, t, b, e, eb)", &err) == 0);
    REQUIRE(eng_store_prepare(st,
                              "INSERT INTO v VALUES (?, :i, @d, $t, ?5, :e, :eb) RETURNING rowid",
                              -1, ENG_STORE_SCRIPT | ENG_STORE_ALL_TABLES, &s, &err) == 0);
    CHECK_INT(eng_store_param_count(s), 7);
    CHECK(eng_store_param_name(s, 1) == NULL);
    CHECK_STR(eng_store_param_name(s, 2), ":i");
    CHECK_STR(eng_store_param_name(s, 3), "@d");
    CHECK_STR(eng_store_param_name(s, 4), "$t");
    CHECK_STR(eng_store_param_name(s, 5), "?5");
    CHECK_INT(eng_store_param_index(s, ":e"), 6);
    CHECK_INT(eng_store_param_index(s, ":nope"), 0);
    CHECK_INT(eng_store_bind_null(s, 1), 0);
    CHECK_INT(eng_store_bind_int64(s, 2, INT64_MIN), 0);
    CHECK_INT(eng_store_bind_double(s, 3, 0.1), 0);
    CHECK_INT(eng_store_bind_text(s, 4, "h\xc3\xa9llo", 6), 0);
    CHECK_INT(eng_store_bind_blob(s, 5, blob, sizeof blob), 0);
    CHECK_INT(eng_store_bind_text(s, 6, NULL, 0), 0);
    CHECK_INT(eng_store_bind_blob(s, 7, NULL, 0), 0);
    CHECK_INT(eng_store_bind_int64(s, 8, 1), ENG_EINVAL);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 1);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    CHECK_INT(eng_store_changes(st), 1);
    CHECK_INT(eng_store_last_insert_rowid(st), 1);
    /* reset keeps the bindings */
    eng_store_reset(s);
    CHECK_INT(eng_store_bind_int64(s, 2, INT64_MAX), 0);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    CHECK_INT(eng_store_last_insert_rowid(st), 2);
    eng_store_finalize(s);

    REQUIRE(eng_store_prepare(st, "SELECT n, i, d, t, b, e, eb FROM v ORDER BY rowid", -1,
                              ENG_STORE_SCRIPT | ENG_STORE_ALL_TABLES, &s, &err) == 0);
    CHECK_INT(eng_store_column_count(s), 7);
    CHECK_STR(eng_store_column_name(s, 3), "t");
    REQUIRE(eng_store_step(s, &err) == ENG_STORE_ROW);
    CHECK_INT(eng_store_column_type(s, 0), ENG_STORE_NULL);
    CHECK_INT(eng_store_column_type(s, 1), ENG_STORE_INTEGER);
    CHECK(eng_store_column_int64(s, 1) == INT64_MIN);
    CHECK_INT(eng_store_column_type(s, 2), ENG_STORE_FLOAT);
    CHECK(eng_store_column_double(s, 2) == 0.1);
    CHECK_INT(eng_store_column_type(s, 3), ENG_STORE_TEXT);
    CHECK_STR(eng_store_column_text(s, 3, &len), "h\xc3\xa9llo");
    CHECK_INT(len, 6);
    CHECK_INT(eng_store_column_type(s, 4), ENG_STORE_BLOB);
    const void *b = eng_store_column_blob(s, 4, &len);
    CHECK_INT(len, sizeof blob);
    CHECK(b != NULL && memcmp(b, blob, sizeof blob) == 0);
    CHECK_INT(eng_store_column_type(s, 5), ENG_STORE_TEXT);
    CHECK_STR(eng_store_column_text(s, 5, &len), "");
    CHECK_INT(len, 0);
    CHECK_INT(eng_store_column_type(s, 6), ENG_STORE_BLOB);
    REQUIRE(eng_store_step(s, &err) == ENG_STORE_ROW);
    CHECK(eng_store_column_int64(s, 1) == INT64_MAX);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    eng_store_finalize(s);
    eng_store_close(st);
}

/* eng_store_run / eng_store_row: every letter binds what it says, the count of changed rows,
 * RETURNING run to its end, a format that does not match the statement refused before it runs. */
static void test_run_and_row(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    static const unsigned char blob[] = {0, 1, 0xff};
    size_t len = 0;

    REQUIRE(st != NULL);
    REQUIRE(eng_store_exec(st, "CREATE TABLE v (k INTEGER PRIMARY KEY, s, t, b, i, d, n)", &err) ==
            0);
    CHECK_INT(
        eng_store_run(st, "INSERT INTO v (k, s, b, t, i, d, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &err, "isbtidn", (int64_t)1, (const char *)NULL, blob, sizeof blob, "a\0b",
                      (size_t)3, INT64_MIN, 0.25),
        1);
    /* letters: s NULL is SQL NULL, "" stays ""; I NULL is SQL NULL, else the integer */
    int64_t seven = 7;
    CHECK_INT(eng_store_run(st, "INSERT INTO v (k, s, t, i, n) VALUES (?1, ?2, ?3, ?4, ?5)", &err,
                            "istII", (int64_t)2, "", "xyz", (size_t)2, (const int64_t *)NULL,
                            &seven),
              1);
    CHECK_INT(eng_store_row(st,
                            "SELECT s IS NULL, typeof(b), b, t, i, d, n IS NULL FROM v"
                            " WHERE k = ?1",
                            &s, &err, "i", (int64_t)1),
              ENG_STORE_ROW);
    REQUIRE(s != NULL);
    CHECK_INT(eng_store_column_int64(s, 0), 1);
    CHECK_STR(eng_store_column_text(s, 1, NULL), "blob");
    const void *b = eng_store_column_blob(s, 2, &len);
    CHECK(len == sizeof blob && memcmp(b, blob, sizeof blob) == 0);
    (void)eng_store_column_text(s, 3, &len);
    CHECK_INT(len, 3); /* text of a length: the NUL inside is kept */
    CHECK(eng_store_column_int64(s, 4) == INT64_MIN);
    CHECK(eng_store_column_double(s, 5) == 0.25);
    CHECK_INT(eng_store_column_int64(s, 6), 1);
    CHECK_INT(eng_store_step(s, &err), ENG_STORE_DONE);
    eng_store_finalize(s);
    CHECK_INT(eng_store_row(st, "SELECT s IS NULL, s, t, i IS NULL, n FROM v WHERE k = ?1", &s,
                            &err, "i", (int64_t)2),
              ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 0);
    CHECK_STR(eng_store_column_text(s, 1, NULL), "");
    CHECK_STR(eng_store_column_text(s, 2, NULL), "xy");
    CHECK_INT(eng_store_column_int64(s, 3), 1);
    CHECK_INT(eng_store_column_type(s, 4), ENG_STORE_INTEGER);
    CHECK_INT(eng_store_column_int64(s, 4), 7);
    /* column_copy: a text that fits with its NUL; too long or NULL leaves buf as it was */
    char buf[3] = "??";
    CHECK_INT(eng_store_column_copy(s, 2, buf, sizeof buf), 1);
    CHECK_STR(buf, "xy");
    CHECK_INT(eng_store_column_copy(s, 2, buf, 2), 0);
    CHECK_STR(buf, "xy");
    buf[0] = '!';
    CHECK_INT(eng_store_column_copy(s, 3, buf, sizeof buf), 1); /* integer 1 read as text */
    CHECK_STR(buf, "1");
    eng_store_finalize(s);

    /* column_copy of SQL NULL: 0, buf untouched */
    REQUIRE(eng_store_row(st, "SELECT NULL", &s, &err, "") == ENG_STORE_ROW);
    char none[4] = "old";
    CHECK_INT(eng_store_column_copy(s, 0, none, sizeof none), 0);
    CHECK_STR(none, "old");
    eng_store_finalize(s);

    /* no row: DONE and no statement left to finalize */
    s = (struct eng_store_stmt *)&err; /* overwritten */
    CHECK_INT(eng_store_row(st, "SELECT 1 FROM v WHERE k = ?1", &s, &err, "i", (int64_t)9),
              ENG_STORE_DONE);
    CHECK(s == NULL);
    /* a read changes nothing, whatever the last write changed */
    CHECK_INT(eng_store_run(st, "SELECT k FROM v WHERE k > ?1", &err, "i", (int64_t)0), 0);
    /* changed rows, RETURNING stepped to the end (both rows updated), none */
    CHECK_INT(eng_store_run(st, "UPDATE v SET i = ?1 RETURNING k", &err, "i", (int64_t)7), 2);
    CHECK_INT(eng_store_run(st, "SELECT count(*) FROM v WHERE i = 7", &err, ""), 0);
    REQUIRE(eng_store_row(st, "SELECT count(*) FROM v WHERE i = 7", &s, &err, "") == ENG_STORE_ROW);
    CHECK_INT(eng_store_column_int64(s, 0), 2);
    eng_store_finalize(s);
    CHECK_INT(eng_store_run(st, "DELETE FROM v WHERE k = ?1", &err, "i", (int64_t)5), 0);
    /* a RETURNING row read first: the change is made by then */
    REQUIRE(eng_store_row(st, "UPDATE v SET d = ?1 WHERE k = 2 RETURNING d", &s, &err, "d", 1.5) ==
            ENG_STORE_ROW);
    CHECK(eng_store_column_double(s, 0) == 1.5);
    eng_store_finalize(s);

    /* the format must give every parameter, no more, with known letters */
    err.msg[0] = '\0';
    CHECK_INT(eng_store_run(st, "DELETE FROM v WHERE k = ?1 OR k = ?3", &err, "ii", (int64_t)1,
                            (int64_t)2),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "has 3 parameters, the format binds 2") != NULL);
    CHECK_INT(eng_store_run(st, "DELETE FROM v WHERE k = ?1", &err, "ii", (int64_t)1, (int64_t)2),
              ENG_EINVAL);
    CHECK_INT(eng_store_run(st, "DELETE FROM v WHERE k = ?1", &err, "x", 1), ENG_EINVAL);
    CHECK(strstr(err.msg, "letter 'x'") != NULL);
    s = (struct eng_store_stmt *)&err;
    CHECK_INT(eng_store_row(st, "SELECT ?1", &s, &err, ""), ENG_EINVAL);
    CHECK(s == NULL);
    CHECK(eng_store_row(st, "SELECT nope FROM v", &s, &err, "") < 0);
    CHECK(s == NULL);
    /* nothing was deleted by the refused calls */
    CHECK_INT(eng_store_run(st, "DELETE FROM v", &err, ""), 2);
    /* a failure's code and message are the step's */
    REQUIRE(eng_store_exec(st, "CREATE TABLE u (k TEXT PRIMARY KEY)", &err) == 0);
    CHECK_INT(eng_store_run(st, "INSERT INTO u VALUES (?1)", &err, "s", "x"), 1);
    CHECK_INT(eng_store_run(st, "INSERT INTO u VALUES (?1)", &err, "s", "x"), ENG_EEXIST);
    CHECK(strstr(err.msg, "UNIQUE constraint failed: u.k") != NULL);
    eng_store_close(st);
}

static void test_failures(void)
{
    const char *dir = scratch();
    struct eng_store *a = open_db(dir, "x.db"), *b = open_db(dir, "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};

    REQUIRE(a != NULL && b != NULL);
    REQUIRE(eng_store_exec(a, "CREATE TABLE u (k TEXT PRIMARY KEY)", &err) == 0);
    REQUIRE(eng_store_exec(a, "INSERT INTO u VALUES ('x')", &err) == 0);
    /* constraint */
    REQUIRE(eng_store_prepare(a, "INSERT INTO u VALUES (?)", -1,
                              ENG_STORE_SCRIPT | ENG_STORE_ALL_TABLES, &s, &err) == 0);
    CHECK_INT(eng_store_bind_text(s, 1, "x", 1), 0);
    CHECK_INT(eng_store_step(s, &err), ENG_EEXIST);
    CHECK_INT(eng_store_last_fail(a), ENG_STORE_FAIL_CONSTRAINT);
    CHECK_INT(eng_store_last_code(a), 1555); /* SQLITE_CONSTRAINT_PRIMARYKEY */
    CHECK(strstr(err.msg, "UNIQUE constraint failed: u.k") != NULL);
    eng_store_finalize(s);

    /* busy: a holds the write lock, b does not wait */
    CHECK_INT(eng_store_exec(a, "BEGIN IMMEDIATE", &err), 0);
    CHECK_INT(eng_store_in_tx(a), 1);
    eng_store_set_busy_timeout(b, 0);
    CHECK_INT(eng_store_exec(b, "BEGIN IMMEDIATE", &err), ENG_EBUSY);
    CHECK_INT(eng_store_last_fail(b), ENG_STORE_FAIL_BUSY);
    CHECK_INT(eng_store_exec(a, "ROLLBACK", &err), 0);
    CHECK_INT(eng_store_in_tx(a), 0);
    CHECK_INT(eng_store_exec(b, "BEGIN IMMEDIATE; ROLLBACK", &err), 0);
    eng_store_close(b);

    /* can't migrate inside a transaction */
    CHECK_INT(eng_store_exec(a, "BEGIN", &err), 0);
    CHECK_INT(eng_store_migrate(a, schema_dir(), NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_store_exec(a, "ROLLBACK", &err), 0);
    eng_store_close(a);
}

/* eng_store_run / eng_store_row keep trusted statements per connection (store.c STORE_CACHE):
 * the same text answers from its own statement, never another text's, never a value bound by
 * an earlier call, and a statement still handed out is not handed out twice. */
static void test_statement_cache(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s1 = NULL, *s2 = NULL;
    struct eng_err err = {0};
    char sql[96];

    REQUIRE(st != NULL);
    REQUIRE(eng_store_exec(st, "CREATE TABLE c (k INTEGER PRIMARY KEY, v TEXT)", &err) == 0);
    for (int i = 1; i <= 40; i++) /* more texts than the cache holds: every one still right */
        CHECK_INT(eng_store_run(st, "INSERT INTO c VALUES (?1, ?2)", &err, "is", (int64_t)i,
                                i % 2 ? "odd" : "even"),
                  1);
    /* one buffer, different texts each time: the text decides, not where it lives */
    for (int i = 1; i <= 40; i++) {
        snprintf(sql, sizeof sql, "SELECT k * %d, v FROM c WHERE k = ?1", i);
        CHECK_INT(eng_store_row(st, sql, &s1, &err, "i", (int64_t)i), ENG_STORE_ROW);
        CHECK_INT((int)eng_store_column_int64(s1, 0), i * i);
        eng_store_finalize(s1);
        s1 = NULL;
    }
    /* the same text twice at once: two statements, each with its own row */
    const char *q = "SELECT v FROM c WHERE k = ?1";
    CHECK_INT(eng_store_row(st, q, &s1, &err, "i", (int64_t)1), ENG_STORE_ROW);
    CHECK_INT(eng_store_row(st, q, &s2, &err, "i", (int64_t)2), ENG_STORE_ROW);
    CHECK(s1 != s2);
    CHECK_STR(eng_store_column_text(s1, 0, NULL), "odd");
    CHECK_STR(eng_store_column_text(s2, 0, NULL), "even");
    eng_store_finalize(s2);
    eng_store_finalize(s1);
    /* a statement given back holds no read transaction and no bound value */
    CHECK_INT(eng_store_row(st, "SELECT count(*) FROM c WHERE v = ?1", &s1, &err, "s", "odd"),
              ENG_STORE_ROW);
    CHECK_INT((int)eng_store_column_int64(s1, 0), 20);
    eng_store_finalize(s1);
    CHECK_INT(eng_store_in_tx(st), 0);
    CHECK_INT(eng_store_row(st, "SELECT count(*) FROM c WHERE v = ?1", &s1, &err, "s", NULL),
              ENG_STORE_ROW);
    CHECK_INT((int)eng_store_column_int64(s1, 0), 0);
    eng_store_finalize(s1);
    /* the schema changed under a kept statement: SQLite prepares it again */
    REQUIRE(eng_store_exec(st, "ALTER TABLE c ADD COLUMN w INTEGER DEFAULT 5", &err) == 0);
    REQUIRE(eng_store_exec(st, "CREATE INDEX c_v ON c (v)", &err) == 0);
    CHECK_INT(eng_store_row(st, "SELECT count(*) FROM c WHERE v = ?1", &s1, &err, "s", "even"),
              ENG_STORE_ROW);
    CHECK_INT((int)eng_store_column_int64(s1, 0), 20);
    eng_store_finalize(s1);
    /* statements prepared directly are kept too, and a kept one still out is not shared */
    REQUIRE(eng_store_prepare(st, "SELECT count(*) FROM c", -1, ENG_STORE_TRUSTED, &s1, &err) == 0);
    REQUIRE(eng_store_prepare(st, "SELECT count(*) FROM c", -1, ENG_STORE_TRUSTED, &s2, &err) == 0);
    CHECK(s1 != s2);
    CHECK_INT(eng_store_step(s1, &err), ENG_STORE_ROW);
    CHECK_INT(eng_store_step(s2, &err), ENG_STORE_ROW);
    CHECK_INT((int)eng_store_column_int64(s2, 0), 40);
    eng_store_finalize(s2);
    eng_store_finalize(s1);
    /* DROP TABLE works while its statements sit in the cache (reset, not running) */
    CHECK_INT(eng_store_exec(st, "DROP TABLE c", &err), 0);
    CHECK(eng_store_run(st, "INSERT INTO c VALUES (?1, ?2)", &err, "is", (int64_t)1, "x") < 0);
    /* a statement still out when the connection closes is finalized after it, for real */
    CHECK_INT(eng_store_row(st, "SELECT 7", &s1, &err, ""), ENG_STORE_ROW);
    eng_store_close(st); /* the cache's statements go with it (valgrind, ASan) */
    eng_store_finalize(s1);
}

struct holder {
    struct eng_store *st;
    int hold_ms;
};

static void *hold_then_commit(void *arg)
{
    struct holder *h = arg;
    struct eng_err err = {0};
    usleep((useconds_t)h->hold_ms * 1000);
    CHECK_INT(eng_store_exec(h->st, "INSERT INTO w VALUES (1); COMMIT", &err), 0);
    return NULL;
}

/* A connection that finds the write lock taken by another of this process waits for its commit
 * (store.c store_busy), then writes; with the lock held past its busy timeout it gives up. */
static void test_busy_waits_for_commit(void)
{
    const char *dir = scratch();
    struct eng_store *a = open_db(dir, "w.db"), *b = open_db(dir, "w.db");
    struct eng_err err = {0};
    pthread_t t;

    REQUIRE(a != NULL && b != NULL);
    REQUIRE(eng_store_exec(a, "CREATE TABLE w (k INTEGER)", &err) == 0);
    CHECK_INT(eng_store_busy_timeout(b), ENG_STORE_BUSY_TIMEOUT_MS);
    REQUIRE(eng_store_exec(a, "BEGIN IMMEDIATE", &err) == 0);
    struct holder h = {a, 150};
    REQUIRE(pthread_create(&t, NULL, hold_then_commit, &h) == 0);
    CHECK_INT(eng_store_run(b, "INSERT INTO w VALUES (?1)", &err, "i", (int64_t)2), 1);
    pthread_join(t, NULL);
    CHECK_INT(eng_store_run(b, "SELECT 1 FROM w", &err, ""), 0);
    struct eng_store_stmt *s = NULL;
    CHECK_INT(eng_store_row(b, "SELECT group_concat(k) FROM w", &s, &err, ""), ENG_STORE_ROW);
    CHECK_STR(eng_store_column_text(s, 0, NULL), "1,2"); /* after a's commit, not before */
    eng_store_finalize(s);

    REQUIRE(eng_store_exec(a, "BEGIN IMMEDIATE", &err) == 0);
    eng_store_set_busy_timeout(b, 50);
    CHECK_INT(eng_store_busy_timeout(b), 50);
    CHECK_INT(eng_store_run(b, "INSERT INTO w VALUES (?1)", &err, "i", (int64_t)3), ENG_EBUSY);
    CHECK_INT(eng_store_last_fail(b), ENG_STORE_FAIL_BUSY);
    CHECK_INT(eng_store_exec(a, "ROLLBACK", &err), 0);
    eng_store_close(b);
    eng_store_close(a);
}

static int progress_calls;
static int stop_after_10(void *ud)
{
    (void)ud;
    return ++progress_calls > 10;
}

static void test_progress_interrupt(void)
{
    struct eng_store *st = open_db(scratch(), "x.db");
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};

    REQUIRE(st != NULL);
    eng_store_set_progress(st, 1000, stop_after_10, NULL);
    REQUIRE(eng_store_prepare(st,
                              "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) "
                              "SELECT count(*) FROM c",
                              -1, ENG_STORE_SCRIPT | ENG_STORE_ALL_TABLES, &s, &err) == 0);
    CHECK_INT(eng_store_step(s, &err), ENG_EBUDGET);
    CHECK_INT(eng_store_last_fail(st), ENG_STORE_FAIL_INTERRUPT);
    CHECK(progress_calls > 10);
    eng_store_finalize(s);
    /* removed: a short query runs */
    eng_store_set_progress(st, 0, NULL, NULL);
    CHECK_INT(q_int(st, "SELECT 40 + 2"), 42);
    eng_store_close(st);
}

static void test_checksum(void)
{
    char a[80], b[80];
    struct eng_err err = {0};

    CHECK_INT(eng_store_checksum("abc", 3, a, sizeof a, &err), 0);
    CHECK_STR(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(eng_store_checksum("", 0, b, sizeof b, &err), 0);
    CHECK_STR(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_INT(eng_store_checksum("abc", 3, b, 64, &err), ENG_EINVAL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run src in a fresh VM on dbpath with a budget; returns eng_vm_pcall's code. */
static int run_lua(const char *dbpath, long long budget_ms, const char *src, struct eng_err *err)
{
    struct eng_vm_opts opts = {0};
    struct eng_vm *vm;
    int rc;

    opts.database_path = dbpath;
    opts.db_all_tables = 1; /* table w is no script's table */
    opts.budget_ms = budget_ms;
    vm = eng_vm_new(&opts, err);
    if (vm == NULL)
        return ENG_EIO;
    rc = eng_vm_load(vm, "=budget", src, strlen(src), err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 0, err);
    eng_vm_free(vm);
    return rc;
}

/* engine.db under a script budget: a runaway query is interrupted inside SQLite, and a locked
 * database is waited for no longer than the budget. */
static void test_lua_budget_reaches_sqlite(void)
{
    const char *dir = scratch();
    char path[1024];
    struct eng_err err = {0};
    long long t0;
    int rc;

    snprintf(path, sizeof path, "sqlite:%s/lua.db", dir);
    t0 = mono_ms();
    rc = run_lua(path, 300,
                 "local db = require 'engine.db'\n"
                 "local n = db.value('WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                 "FROM c) SELECT count(*) FROM c')\n"
                 "return n",
                 &err);
    CHECK_INT(rc, ENG_EBUDGET);
    CHECK(mono_ms() - t0 < 2000);

    /* Even a script that ignores the failure does not go on: the next instruction raises. */
    rc = run_lua(path, 300,
                 "local db = require 'engine.db'\n"
                 "local v, msg, code = db.value('WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL "
                 "SELECT n + 1 FROM c) SELECT count(*) FROM c')\n"
                 "error('got ' .. tostring(v) .. ' ' .. tostring(code))",
                 &err);
    CHECK_INT(rc, ENG_EBUDGET);
    CHECK(strstr(err.msg, "budget") != NULL);

    /* Another connection holds the write lock: busy timeout is capped by the budget. */
    struct eng_store *other = NULL;
    REQUIRE(eng_store_open(path, &other, &err) == 0);
    REQUIRE(eng_store_exec(other, "CREATE TABLE w (x); BEGIN IMMEDIATE; INSERT INTO w VALUES (1)",
                           &err) == 0);
    t0 = mono_ms();
    rc = run_lua(path, 400,
                 "local db = require 'engine.db'\n"
                 "local ok, msg, code = db.exec('INSERT INTO w VALUES (2)')\n"
                 "error('not reached: ' .. tostring(code))\n",
                 &err);
    CHECK_INT(rc, ENG_EBUDGET);
    CHECK(mono_ms() - t0 < 2000);
    /* With budget to spare, busy comes back to the script after the 5 s busy timeout. */
    t0 = mono_ms();
    rc = run_lua(path, 8000,
                 "local db = require 'engine.db'\n"
                 "local ok, msg, code = db.exec('INSERT INTO w VALUES (2)')\n"
                 "assert(ok == nil and code == 'busy', tostring(msg))\n",
                 &err);
    if (rc != 0)
        fprintf(stderr, "busy run: %s\n", err.msg);
    CHECK_INT(rc, 0);
    CHECK(mono_ms() - t0 >= ENG_STORE_BUSY_TIMEOUT_MS - 100);
    CHECK_INT(eng_store_exec(other, "ROLLBACK", &err), 0);
    eng_store_close(other);

    /* No database configured: nil, message, "error" */
    rc = run_lua(NULL, 300,
                 "local db = require 'engine.db'\n"
                 "local ok, msg, code = db.value('SELECT 1')\n"
                 "assert(ok == nil and code == 'error' and msg:find('no database'), msg)\n",
                 &err);
    if (rc != 0)
        fprintf(stderr, "no db run: %s\n", err.msg);
    CHECK_INT(rc, 0);
}

static void test_cleanup(void)
{
    if (tmproot[0] != '\0')
        nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmproot[0] = '\0';
}

CHECK_MAIN(CHECK_CASE(test_parse_url), CHECK_CASE(test_open_settings),
           CHECK_CASE(test_migrate_real_schema), CHECK_CASE(test_schema_constraints),
           CHECK_CASE(test_migrate_rules), CHECK_CASE(test_migrate_concurrent),
           CHECK_CASE(test_open_concurrent), CHECK_CASE(test_one_statement),
           CHECK_CASE(test_script_fence), CHECK_CASE(test_bind_round_trip),
           CHECK_CASE(test_run_and_row), CHECK_CASE(test_statement_cache),
           CHECK_CASE(test_busy_waits_for_commit), CHECK_CASE(test_failures),
           CHECK_CASE(test_progress_interrupt), CHECK_CASE(test_checksum),
           CHECK_CASE(test_lua_budget_reaches_sqlite), CHECK_CASE(test_cleanup))

/*
 * test_page_commit.c - a page's persistence (engine/flow/sync_page.c) in a real, migrated SQLite
 * file: lib.sync's page view read into C items (and refused when it is not that shape), the
 * exclusive reservation of creates, and the one transaction that turns written items into
 * sync_records and id_map rows and the run's counters: created, updated, unchanged (its hash
 * kept for the next plan), failed (retry time, attempts counted outside a run), not reached.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt/store.h"
#include "check.h"
#include "data/id_map.h"
#include "flow/sync_int.h"

static const char *schema_dir(void)
{
    const char *d = getenv("SCHEMA_DIR");
    return d != NULL ? d : "schema";
}

static struct eng_store *fresh(void)
{
    char dir[] = "/tmp/test_page_commit.XXXXXX", path[128];
    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/p.db", dir);
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(path, &st, &err) != 0 || eng_store_migrate(st, schema_dir(), NULL, &err) ||
        eng_store_exec(st,
                       "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, state) VALUES "
                       "('sync_a', 't1', 'orders', 'f', 'full', 'running')",
                       &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        eng_store_close(st);
        return NULL;
    }
    return st;
}

static long long q_int(struct eng_store *st, const char *sql)
{
    struct eng_store_stmt *s = NULL;
    long long v = -999;
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return v;
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        v = eng_store_column_type(s, 0) == ENG_STORE_NULL ? -1 : eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return v;
}

static char got[256];
static const char *q_text(struct eng_store *st, const char *sql)
{
    struct eng_store_stmt *s = NULL;
    snprintf(got, sizeof got, "(none)");
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return got;
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        snprintf(got, sizeof got, "%s",
                 eng_store_column_text(s, 0, NULL) ? eng_store_column_text(s, 0, NULL) : "(null)");
    eng_store_finalize(s);
    return got;
}

static const struct eng_sync_names NM = {"woocommerce", "orders", "quickbooks", "Invoice"};
static struct eng_job JOB = {.id = 42};

static void run_init(struct run *r, struct eng_store *st, const char *id)
{
    memset(r, 0, sizeof *r);
    r->st = st;
    r->job = &JOB;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->tenant, sizeof r->tenant, "t1");
    snprintf(r->entity, sizeof r->entity, "orders");
    snprintf(r->flow, sizeof r->flow, "f");
}

/* A page as lib.sync's c_write gives it. */
static const char WRITTEN[] =
    "{\"cancelled\":false,\"total\":10,\"max_modified\":\"2026-01-02T00:00:00Z\",\"items\":["
    "{\"source_id\":\"1\",\"action\":\"create\",\"request_id\":\"rid-1\",\"outcome\":\"created\","
    "\"target_id\":\"145\",\"sync_token\":\"0\",\"hash\":\"h1\",\"source_updated_at\":"
    "\"2026-01-01T00:00:00Z\",\"currency\":\"USD\",\"source_total\":1999,\"target_total\":1999},"
    "{\"source_id\":\"2\",\"action\":\"update\",\"outcome\":\"updated\",\"target_id\":\"146\","
    "\"hash\":\"h2\",\"output\":\"{\\\"a\\\":\\\"\\u00e9\\\"}\"},"
    "{\"source_id\":\"3\",\"action\":\"unchanged\",\"outcome\":\"unchanged\",\"target_id\":"
    "\"147\",\"hash\":\"h3\"},"
    "{\"source_id\":\"4\",\"action\":\"create\",\"request_id\":\"rid-4\",\"outcome\":\"failed\","
    "\"error\":\"timeout\",\"code\":\"write\",\"retryable\":true},"
    "{\"source_id\":\"5\",\"action\":\"skip\",\"outcome\":\"skipped\",\"error\":\"select\"},"
    "{\"source_id\":\"6\",\"action\":\"update\"}]}";

static void test_read_the_view(void)
{
    struct eng_sync_page p;
    struct eng_err err = {0};
    REQUIRE(eng_sync_page_read(WRITTEN, &p, &err) == 0);
    CHECK_INT(p.n, 6);
    CHECK_INT(p.has_total, 1);
    CHECK_INT(p.total, 10);
    CHECK_STR(p.max_modified, "2026-01-02T00:00:00Z");
    CHECK_STR(p.items[0].request_id, "rid-1");
    CHECK_INT(p.items[0].source_total, 1999);
    CHECK_INT(p.items[0].retryable, -1);
    CHECK_STR(p.items[1].output, "{\"a\":\"\xc3\xa9\"}"); /* escapes decoded */
    CHECK_INT(p.items[3].retryable, 1);
    CHECK(p.items[5].outcome == NULL);
    eng_sync_page_free(&p);

    static const char *const bad[] = {
        "[]",
        "{\"items\":{}}",
        "{\"items\":[1]}",
        "{\"items\":[{\"source_total\":1.5}]}",
        "{\"items\":[{\"retryable\":\"yes\"}]}",
        "{\"items\":[{\"error\":{}}]}",
        "{\"items\":[",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(eng_sync_page_read(bad[i], &p, &err), ENG_EINVAL);
        eng_sync_page_free(&p);
    }
}

static void test_commit_a_page_of_a_run(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct run r;
    run_init(&r, st, "sync_a");
    struct eng_sync_page p;
    REQUIRE(eng_sync_page_read(WRITTEN, &p, &err) == 0);
    CHECK_INT(eng_sync_commit_page(&r, &p, &NM, &err), 0);
    CHECK_INT(eng_store_in_tx(st), 0);
    /* five recorded; the item the writer never reached is not */
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE run_id = 'sync_a'"), 5);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE source_id = '6'"), 0);
    CHECK_STR(q_text(st, "SELECT outcome || ' ' || target_id || ' ' || source_total_minor FROM "
                         "sync_records WHERE source_id = '1'"),
              "created 145 1999");
    CHECK_INT(q_int(st, "SELECT next_retry_at IS NOT NULL AND retryable = 1 FROM sync_records "
                        "WHERE source_id = '4'"),
              1);
    /* id map: created and updated written with their hash; unchanged keeps what it had */
    CHECK_STR(q_text(st, "SELECT target_id || ' ' || content_hash || ' ' || sync_token || ' ' || "
                         "last_run_id FROM id_map WHERE source_id = '1'"),
              "145 h1 0 sync_a");
    CHECK_STR(q_text(st, "SELECT content_hash FROM id_map WHERE source_id = '2'"), "h2");
    CHECK_INT(q_int(st, "SELECT count(*) FROM id_map WHERE source_id IN ('3', '4', '5', '6')"), 0);
    /* the run's counters and cursor candidate */
    CHECK_STR(q_text(st, "SELECT records_read || ' ' || records_created || ' ' || records_updated "
                         "|| ' ' || records_unchanged || ' ' || records_skipped || ' ' || "
                         "records_failed || ' ' || records_total || ' ' || cursor_to FROM "
                         "sync_runs WHERE id = 'sync_a'"),
              "5 1 1 1 1 1 10 2026-01-02T00:00:00Z");
    eng_sync_page_free(&p);

    /* the next plan of record 1 with the same content finds its hash: "unchanged" */
    struct eng_id_map_key k = {"t1", "woocommerce", "orders", "1", "quickbooks", "Invoice"};
    struct eng_id_map_row row;
    int found = 0;
    REQUIRE(eng_id_map_get(st, &k, &row, &found, &err) == 0 && found);
    CHECK_STR(row.content_hash, "h1");
    eng_id_map_row_free(&row);
    eng_store_close(st);
}

/* Outside a run (webhook record, retry): a record that fails again counts on its open failure;
 * when it then goes through, the failure is resolved. A dry run records, but maps nothing. */
static void test_records_outside_a_run(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct run r;
    run_init(&r, st, "");
    static const char failed[] =
        "{\"items\":[{\"source_id\":\"9\",\"outcome\":\"failed\",\"error\":\"e\",\"code\":\"x\","
        "\"retryable\":true}]}";
    static const char created[] = "{\"items\":[{\"source_id\":\"9\",\"outcome\":\"created\","
                                  "\"target_id\":\"200\",\"hash\":\"h9\"}]}";
    struct eng_sync_page p;
    for (int i = 0; i < 3; i++) {
        REQUIRE(eng_sync_page_read(failed, &p, &err) == 0);
        CHECK_INT(eng_sync_commit_page(&r, &p, &NM, &err), 0);
        eng_sync_page_free(&p);
    }
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE source_id = '9'"), 1);
    CHECK_INT(q_int(st, "SELECT attempts FROM sync_records WHERE source_id = '9'"), 3);
    CHECK_INT(q_int(st, "SELECT run_id IS NULL FROM sync_records WHERE source_id = '9'"), 1);
    REQUIRE(eng_sync_page_read(created, &p, &err) == 0);
    CHECK_INT(eng_sync_commit_page(&r, &p, &NM, &err), 0);
    eng_sync_page_free(&p);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE source_id = '9' AND outcome = "
                        "'failed' AND resolved_at IS NOT NULL"),
              1);
    CHECK_INT(q_int(st, "SELECT last_run_id IS NULL FROM id_map WHERE source_id = '9'"), 1);

    /* a dry run: the record is kept, the id map is not touched */
    r.dry_run = 1;
    static const char dry[] = "{\"items\":[{\"source_id\":\"10\",\"outcome\":\"created\","
                              "\"target_id\":\"{{x}}\",\"hash\":\"h\"}]}";
    REQUIRE(eng_sync_page_read(dry, &p, &err) == 0);
    CHECK_INT(eng_sync_commit_page(&r, &p, &NM, &err), 0);
    eng_sync_page_free(&p);
    CHECK_INT(q_int(st, "SELECT dry_run FROM sync_records WHERE source_id = '10'"), 1);
    CHECK_INT(q_int(st, "SELECT count(*) FROM id_map WHERE source_id = '10'"), 0);
    eng_store_close(st);
}

/* Creates are reserved before they are sent; another job's reservation refuses the item; a
 * failed create releases its reservation at commit (the row and request id stay). */
static void test_reserve_creates(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct run run_a, job;
    run_init(&run_a, st, "sync_a");
    run_init(&job, st, "");
    struct eng_sync_item items[3] = {
        {.source_id = "1", .action = "create", .request_id = "rid-1"},
        {.source_id = "2", .action = "update"},
        {.source_id = "3", .action = "create", .request_id = "rid-3"},
    };
    struct eng_buf refused;
    eng_buf_init(&refused);
    CHECK_INT(eng_sync_reserve_creates(&run_a, items, 3, &NM, &refused, &err), 0);
    CHECK_STR(refused.data, "[]");
    CHECK_INT(q_int(st, "SELECT count(*) FROM id_map WHERE request_id IS NOT NULL AND target_id "
                        "IS NULL AND last_run_id = 'sync_a'"),
              2);
    eng_buf_reset(&refused);
    /* a webhook job racing on records 1 and 3: both refused (indexes 1 and 3) */
    CHECK_INT(eng_sync_reserve_creates(&job, items, 3, &NM, &refused, &err), 0);
    CHECK_STR(refused.data, "[1,3]");
    eng_buf_free(&refused);
    /* the run's create of record 3 failed: released, so the job may take it next time */
    struct eng_sync_page p;
    REQUIRE(eng_sync_page_read("{\"items\":[{\"source_id\":\"3\",\"outcome\":\"failed\","
                               "\"error\":\"e\",\"retryable\":true}]}",
                               &p, &err) == 0);
    CHECK_INT(eng_sync_commit_page(&run_a, &p, &NM, &err), 0);
    eng_sync_page_free(&p);
    CHECK_STR(q_text(st, "SELECT coalesce(last_run_id, 'none') || ' ' || request_id FROM id_map "
                         "WHERE source_id = '3'"),
              "none rid-3");
    eng_buf_init(&refused);
    CHECK_INT(eng_sync_reserve_creates(&job, items, 3, &NM, &refused, &err), 0);
    CHECK_STR(refused.data, "[1]");
    eng_buf_free(&refused);
    eng_store_close(st);
}

CHECK_MAIN(CHECK_CASE(test_read_the_view), CHECK_CASE(test_commit_a_page_of_a_run),
           CHECK_CASE(test_records_outside_a_run), CHECK_CASE(test_reserve_creates))

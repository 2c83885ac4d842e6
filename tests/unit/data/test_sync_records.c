/*
 * test_sync_records.c - engine/data/sync_records.c against a real, migrated SQLite file: a
 * record's row (NULL totals and retryable kept NULL), the next retry time from the one backoff
 * (with jitter), a failure outside a run counted on its open row, resolution, a run's done ids.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt/store.h"
#include "check.h"
#define STORE_FIXTURE_NAME "test_sync_records"
#include "store_fixture.h"
#include "data/sync_records.h"

/* A fresh migrated store (tests/unit/store_fixture.h: SQLite, or PostgreSQL with
 * STORE_FIXTURE_PG=1); returns a connection to it. */
static struct eng_store *fresh(void)
{
    store_fixture_make();
    struct eng_store *st = store_fixture_open(1);
    struct eng_err err = {0};
    if (eng_store_exec(st,
                       "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, state) VALUES "
                       "('sync_a', 't1', 'orders', 'f', 'full', 'succeeded'), ('sync_b', 't1', "
                       "'orders', 'f', 'full', 'running')",
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

static struct eng_sync_record rec(const char *run, const char *sid, const char *outcome,
                                  int retryable)
{
    return (struct eng_sync_record){.tenant = "t1",
                                    .source_system = "woocommerce",
                                    .source_entity = "orders",
                                    .source_id = sid,
                                    .target_system = "quickbooks",
                                    .target_type = "Invoice",
                                    .run_id = run,
                                    .flow = "f",
                                    .outcome = outcome,
                                    .retryable = retryable,
                                    .error = retryable >= 0 ? "boom" : NULL};
}

/* One backoff: the queue's doubling with jitter, started five doublings in. The SQL it replaced
 * gave every failure of a batch the same 60 << n seconds; now two draws differ. */
static void test_backoff_is_the_queues_with_jitter(void)
{
    CHECK_INT(eng_sync_records_backoff_ms(1, 0.0), 32000);
    CHECK_INT(eng_sync_records_backoff_ms(1, 0.999999) / 1000, 63);
    CHECK_INT(eng_sync_records_backoff_ms(2, 0.0), 64000);
    CHECK(eng_sync_records_backoff_ms(1, 0.1) != eng_sync_records_backoff_ms(1, 0.9));
    CHECK_INT(eng_sync_records_backoff_ms(0, 0.0), 32000);    /* never less than the first */
    CHECK_INT(eng_sync_records_backoff_ms(50, 0.0), 1800000); /* capped at one hour (then halved) */
    CHECK(eng_sync_records_backoff_ms(50, 0.999999) <= 3600000);
}

static void test_put_and_next_retry(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_sync_record r1 = rec("sync_a", "1", "failed", 1);
    struct eng_sync_record r2 = rec("sync_a", "2", "failed", 0);
    struct eng_sync_record r3 = rec("sync_a", "3", "created", -1);
    r3.target_id = "145";
    r3.has_source_total = 1;
    r3.source_total = 1999;
    CHECK_INT(eng_sync_records_put(st, &r1, &err), 0);
    CHECK_INT(eng_sync_records_put(st, &r2, &err), 0);
    CHECK_INT(eng_sync_records_put(st, &r3, &err), 0);
    /* a retryable failure: next retry 32..64 s from now */
    long long secs = q_int(st, "SELECT CAST(round((julianday(next_retry_at) - julianday('now')) * "
                               "86400) AS INTEGER) FROM sync_records WHERE source_id = '1'");
    CHECK(secs >= 31 && secs <= 64);
    CHECK_INT(q_int(st, "SELECT next_retry_at IS NULL FROM sync_records WHERE source_id = '2'"), 1);
    CHECK_INT(q_int(st, "SELECT next_retry_at IS NULL FROM sync_records WHERE source_id = '3'"), 1);
    CHECK_INT(q_int(st, "SELECT retryable FROM sync_records WHERE source_id = '3'"), -1);
    CHECK_INT(q_int(st, "SELECT source_total_minor FROM sync_records WHERE source_id = '3'"), 1999);
    CHECK_INT(q_int(st, "SELECT target_total_minor FROM sync_records WHERE source_id = '3'"), -1);
    /* the same run records the record again (a resumed page): one row, attempts counted */
    CHECK_INT(eng_sync_records_put(st, &r1, &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE source_id = '1'"), 1);
    CHECK_INT(q_int(st, "SELECT attempts FROM sync_records WHERE source_id = '1'"), 2);
    eng_store_close(st);
}

/* Many records failing together get different retry times (the SQL backoff gave them one). */
static void test_a_batch_of_failures_spreads_out(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    char sid[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(sid[i], sizeof sid[i], "%d", 100 + i);
        struct eng_sync_record r = rec("sync_a", sid[i], "failed", 1);
        REQUIRE(eng_sync_records_put(st, &r, &err) == 0);
    }
    CHECK(q_int(st, "SELECT count(DISTINCT next_retry_at) FROM sync_records") > 10);
    eng_store_close(st);
}

static void test_fail_again_outside_a_run(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_sync_record r = rec(NULL, "9", "failed", 1);
    int updated = 1;
    CHECK_INT(eng_sync_records_fail_again(st, &r, &updated, &err), 0);
    CHECK_INT(updated, 0); /* no open failure yet: the caller puts one */
    REQUIRE(eng_sync_records_put(st, &r, &err) == 0);
    r.error = "boom again";
    CHECK_INT(eng_sync_records_fail_again(st, &r, &updated, &err), 0);
    CHECK_INT(updated, 1);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE source_id = '9'"), 1);
    CHECK_INT(q_int(st, "SELECT attempts FROM sync_records WHERE source_id = '9'"), 2);
    /* attempt 2: 64..128 s */
    long long secs = q_int(st, "SELECT CAST(round((julianday(next_retry_at) - julianday('now')) * "
                               "86400) AS INTEGER) FROM sync_records WHERE source_id = '9'");
    CHECK(secs >= 63 && secs <= 128);
    /* not retryable any more: no next retry */
    r.retryable = 0;
    CHECK_INT(eng_sync_records_fail_again(st, &r, &updated, &err), 0);
    CHECK_INT(q_int(st, "SELECT next_retry_at IS NULL FROM sync_records WHERE source_id = '9'"), 1);
    CHECK_INT(q_int(st, "SELECT attempts FROM sync_records WHERE source_id = '9'"), 3);
    eng_store_close(st);
}

static int collect(void *ud, const char *sid)
{
    char *buf = ud;
    strcat(buf, sid);
    strcat(buf, ";");
    return 0;
}

static void test_resolve_and_done(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_sync_record a = rec("sync_a", "5", "failed", 1);
    struct eng_sync_record b = rec("sync_b", "5", "failed", 1);
    struct eng_sync_record c = rec(NULL, "5", "conflict", 0);
    REQUIRE(eng_sync_records_put(st, &a, &err) == 0);
    REQUIRE(eng_sync_records_put(st, &b, &err) == 0);
    REQUIRE(eng_sync_records_put(st, &c, &err) == 0);
    /* run sync_b went through with record 5: the other failures are resolved, its own not */
    CHECK_INT(eng_sync_records_resolve(st, "t1", "f", "5", "sync_b", &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_records WHERE resolved_at IS NOT NULL"), 2);
    CHECK_INT(q_int(st, "SELECT resolved_at IS NULL FROM sync_records WHERE run_id = 'sync_b'"), 1);
    char got[64] = "";
    CHECK_INT(eng_sync_records_each_done(st, "sync_a", collect, got, &err), 0);
    CHECK_STR(got, "5;");
    eng_store_close(st);
}

struct seen {
    char ids[64];
    int n, stop_at;
};

static int seen_row(void *ud, const struct eng_sync_record_row *row)
{
    struct seen *v = ud;
    strcat(v->ids, row->rec.source_id);
    strcat(v->ids, row->rec.retryable == 1 ? "r" : row->rec.retryable == 0 ? "n" : "-");
    strcat(v->ids, row->resolved_at != NULL ? "R;" : ";");
    return ++v->n == v->stop_at;
}

/* The read side offered to the API and the CLI: filters, order, paging, count. */
static void test_each_and_count(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_sync_record rs[] = {
        rec("sync_a", "1", "created", -1), rec("sync_a", "2", "failed", 1),
        rec("sync_a", "3", "conflict", 0), rec("sync_a", "4", "failed", 0),
        rec("sync_b", "5", "failed", 1)};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        REQUIRE(eng_sync_records_put(st, &rs[i], &err) == 0);
    REQUIRE(eng_sync_records_resolve(st, "t1", "f", "4", "sync_b", &err) == 0);
    struct seen v = {0};
    struct eng_sync_records_query q = {.run_id = "sync_a"};
    CHECK_INT(eng_sync_records_each(st, &q, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "1-;2r;3n;4nR;");
    int64_t n = 0;
    CHECK_INT(eng_sync_records_count(st, &q, &n, &err), 0);
    CHECK_INT(n, 4);

    static const char *const failures[] = {"failed", "conflict"};
    struct eng_sync_records_query f = {
        .run_id = "sync_a", .tenant = "t1", .outcomes = failures, .noutcomes = 2, .unresolved = 1};
    memset(&v, 0, sizeof v);
    CHECK_INT(eng_sync_records_each(st, &f, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "2r;3n;");
    f.limit = 1, f.offset = 1;
    memset(&v, 0, sizeof v);
    CHECK_INT(eng_sync_records_each(st, &f, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "3n;");
    CHECK_INT(eng_sync_records_count(st, &f, &n, &err), 0);
    CHECK_INT(n, 2); /* limit and offset do not change the count */
    f.tenant = "t2";
    CHECK_INT(eng_sync_records_count(st, &f, &n, &err), 0);
    CHECK_INT(n, 0);

    /* a follower's position; the callback stops the walk */
    struct eng_sync_records_query after = {.run_id = "sync_a", .after_id = 1};
    memset(&v, 0, sizeof v);
    v.stop_at = 1;
    CHECK_INT(eng_sync_records_each(st, &after, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "2r;");

    struct eng_sync_records_query bad = {.outcomes = failures, .noutcomes = 2};
    CHECK_INT(eng_sync_records_each(st, &bad, seen_row, &v, &err), ENG_EINVAL);
    bad.run_id = "sync_a";
    bad.noutcomes = 8;
    CHECK_INT(eng_sync_records_count(st, &bad, &n, &err), ENG_EINVAL);
    eng_store_close(st);
}

/* Open failures: newest first, only the tenant's open ones (no success, no resolved one, no dry
 * run's), filters, paging and count; one failure by id for its tenant only. */
static void test_failures(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_sync_record rs[] = {
        rec("sync_a", "1", "created", -1), rec("sync_a", "2", "failed", 1),
        rec("sync_a", "3", "conflict", 0), rec("sync_a", "4", "failed", 0),
        rec("sync_b", "5", "failed", 1),   rec("sync_b", "6", "failed", 1)};
    rs[5].dry_run = 1;
    rs[4].input = "{\"id\":5}";
    rs[4].code = "6140";
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        REQUIRE(eng_sync_records_put(st, &rs[i], &err) == 0);
    struct eng_sync_record other = rec(NULL, "7", "failed", 1);
    other.tenant = "t2";
    REQUIRE(eng_sync_records_put(st, &other, &err) == 0);
    REQUIRE(eng_sync_records_resolve(st, "t1", "f", "4", "sync_b", &err) == 0);

    struct eng_sync_failures_query q = {.tenant = "t1"};
    struct seen v = {0};
    CHECK_INT(eng_sync_records_failures_each(st, &q, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "5r;3n;2r;");
    int64_t n = 0;
    CHECK_INT(eng_sync_records_failures_count(st, &q, &n, &err), 0);
    CHECK_INT(n, 3);
    q.run_id = "sync_a", q.limit = 1, q.offset = 1;
    memset(&v, 0, sizeof v);
    CHECK_INT(eng_sync_records_failures_each(st, &q, seen_row, &v, &err), 0);
    CHECK_STR(v.ids, "2r;");
    CHECK_INT(eng_sync_records_failures_count(st, &q, &n, &err), 0);
    CHECK_INT(n, 2);
    q = (struct eng_sync_failures_query){.tenant = "t1", .flow = "g", .entity = "orders"};
    CHECK_INT(eng_sync_records_failures_count(st, &q, &n, &err), 0);
    CHECK_INT(n, 0);
    q.tenant = NULL;
    CHECK_INT(eng_sync_records_failures_count(st, &q, &n, &err), ENG_EINVAL);

    /* one failure: the row of its tenant, whatever its state; not a success, not another's */
    int64_t id5 = q_int(st, "SELECT id FROM sync_records WHERE source_id = '5'");
    int64_t id1 = q_int(st, "SELECT id FROM sync_records WHERE source_id = '1'");
    int64_t id4 = q_int(st, "SELECT id FROM sync_records WHERE source_id = '4'");
    int64_t id7 = q_int(st, "SELECT id FROM sync_records WHERE source_id = '7'");
    memset(&v, 0, sizeof v);
    CHECK_INT(eng_sync_records_failure_get(st, "t1", id5, seen_row, &v, &err), 1);
    CHECK_STR(v.ids, "5r;");
    memset(&v, 0, sizeof v);
    CHECK_INT(eng_sync_records_failure_get(st, "t1", id4, seen_row, &v, &err), 1);
    CHECK_STR(v.ids, "4nR;");
    CHECK_INT(eng_sync_records_failure_get(st, "t1", id1, seen_row, &v, &err), 0);
    CHECK_INT(eng_sync_records_failure_get(st, "t1", id7, seen_row, &v, &err), 0);
    CHECK_INT(eng_sync_records_failure_get(st, "t2", id5, seen_row, &v, &err), 0);
    CHECK_INT(eng_sync_records_failure_get(st, "t2", id7, seen_row, &v, &err), 1);
    eng_store_close(st);
}

/* Per hour: zero-filled, by outcome (conflicts count as failed), the tenant's own, no dry run's,
 * only the hours asked for. */
static void test_hourly(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    static const char *const rows[][3] = {
        {"1", "created", "2026-12-07T08:59:59.999Z"},
        {"2", "created", "2026-12-07T09:00:00.000Z"},
        {"3", "created", "2026-12-07T09:30:00.000Z"},
        {"4", "updated", "2026-12-07T09:59:59.999Z"},
        {"5", "failed", "2026-12-07T11:00:00.000Z"},
        {"6", "conflict", "2026-12-07T11:10:00.000Z"},
        {"7", "unchanged", "2026-12-07T11:20:00.000Z"},
        {"8", "skipped", "2026-12-07T11:20:00.000Z"},
        {"9", "created", "2026-12-07T12:00:00.000Z"}, /* past the last hour asked for */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct eng_sync_record r = rec("sync_a", rows[i][0], rows[i][1], -1);
        REQUIRE(eng_sync_records_put(st, &r, &err) == 0);
        REQUIRE(eng_store_run(st, "UPDATE sync_records SET created_at = ?1 WHERE source_id = ?2",
                              &err, "ss", rows[i][2], rows[i][0]) == 1);
    }
    struct eng_sync_record dry = rec("sync_b", "10", "created", -1), other = dry;
    dry.dry_run = 1;
    other.tenant = "t2", other.source_id = "11";
    REQUIRE(eng_sync_records_put(st, &dry, &err) == 0);
    REQUIRE(eng_sync_records_put(st, &other, &err) == 0);
    REQUIRE(eng_store_run(st,
                          "UPDATE sync_records SET created_at = '2026-12-07T09:15:00.000Z' WHERE "
                          "source_id IN ('10', '11')",
                          &err, "") == 2);
    const long long from = 1796634000; /* 2026-12-07T09:00:00Z */
    struct eng_sync_hour h[3];
    CHECK_INT(eng_sync_records_hourly(st, "t1", from, 3, h, &err), 0);
    CHECK_INT(h[0].created, 2);
    CHECK_INT(h[0].updated, 1);
    CHECK_INT(h[0].failed + h[0].unchanged + h[0].skipped, 0);
    CHECK_INT(h[1].created + h[1].updated + h[1].unchanged + h[1].skipped + h[1].failed, 0);
    CHECK_INT(h[2].failed, 2);
    CHECK_INT(h[2].unchanged, 1);
    CHECK_INT(h[2].skipped, 1);
    CHECK_INT(h[2].created + h[2].updated, 0);
    CHECK_INT(eng_sync_records_hourly(st, "t2", from, 3, h, &err), 0);
    CHECK_INT(h[0].created, 1);
    CHECK_INT(eng_sync_records_hourly(st, "t1", from + 1, 3, h, &err), ENG_EINVAL);
    CHECK_INT(eng_sync_records_hourly(st, "t1", from, 0, h, &err), ENG_EINVAL);
    CHECK_INT(eng_sync_records_hourly(st, "t1", from, ENG_SYNC_RECORDS_HOURLY_MAX + 1, h, &err),
              ENG_EINVAL);
    eng_store_close(st);
}

CHECK_MAIN(CHECK_CASE(test_backoff_is_the_queues_with_jitter), CHECK_CASE(test_put_and_next_retry),
           CHECK_CASE(test_a_batch_of_failures_spreads_out),
           CHECK_CASE(test_fail_again_outside_a_run), CHECK_CASE(test_resolve_and_done),
           CHECK_CASE(test_each_and_count), CHECK_CASE(test_failures), CHECK_CASE(test_hourly))

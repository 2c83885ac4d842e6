/*
 * test_record_snapshots.c - data/record_snapshots.c: one snapshot per (tenant, flow, system,
 * entity, source id), replaced by a new read which becomes the newest; read newest first, per
 * tenant and flow only; pruned to the newest keep of one tenant and flow, never another's.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/record_snapshots.h"

#include <stdio.h>
#include <string.h>

#define STORE_FIXTURE_NAME "test_record_snapshots"
#include "store_fixture.h"

static void put(struct eng_store *st, const char *tenant, const char *flow, const char *id,
                const char *record)
{
    struct eng_err err = {0};
    struct eng_record_snapshot s = {tenant, flow, "woocommerce", "orders", id, record, NULL, NULL};
    CHECK_INT(eng_record_snapshots_put(st, &s, &err), 0);
}

struct seen {
    char ids[512];
    char last_record[128];
    int n;
};

static int collect(void *ud, const struct eng_record_snapshot_row *row)
{
    struct seen *s = ud;
    size_t used = strlen(s->ids);
    snprintf(s->ids + used, sizeof s->ids - used, "%s%s", s->n ? "," : "", row->s.source_id);
    if (s->n == 0)
        snprintf(s->last_record, sizeof s->last_record, "%s", row->s.record);
    s->n++;
    return 0;
}

static const char *ids(struct eng_store *st, const char *tenant, const char *flow, long long lim,
                       struct seen *s)
{
    struct eng_err err = {0};
    memset(s, 0, sizeof *s);
    CHECK_INT(eng_record_snapshots_each(st, tenant, flow, lim, collect, s, &err), 0);
    return s->ids;
}

static long long count(struct eng_store *st, const char *tenant)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    long long n = -1;
    if (eng_store_row(st, "SELECT count(*) FROM record_snapshots WHERE tenant_id = ?1", &s, &err,
                      "s", tenant) == ENG_STORE_ROW)
        n = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return n;
}

static void test_newest_first_and_replaced(void)
{
    struct eng_store *st = fresh_store();
    struct seen s;
    put(st, "t1", "f", "1", "{\"id\":1}");
    put(st, "t1", "f", "2", "{\"id\":2}");
    put(st, "t1", "f", "3", "{\"id\":3}");
    CHECK_STR(ids(st, "t1", "f", 10, &s), "3,2,1");
    /* a new read of record 1 replaces it and makes it the newest */
    put(st, "t1", "f", "1", "{\"id\":1,\"v\":2}");
    CHECK_STR(ids(st, "t1", "f", 10, &s), "1,3,2");
    CHECK_STR(s.last_record, "{\"id\":1,\"v\":2}");
    CHECK_INT(count(st, "t1"), 3);
    CHECK_STR(ids(st, "t1", "f", 2, &s), "1,3");
    /* another tenant, another flow: apart */
    put(st, "t2", "f", "1", "{\"id\":1}");
    put(st, "t1", "g", "9", "{\"id\":9}");
    CHECK_STR(ids(st, "t2", "f", 10, &s), "1");
    CHECK_STR(ids(st, "t1", "f", 10, &s), "1,3,2");
    CHECK_STR(ids(st, "t1", "g", 10, &s), "9");
    CHECK_STR(ids(st, "t3", "f", 10, &s), "");
    done(st);
}

static void test_prune(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    struct seen s;
    char id[16];
    for (int i = 1; i <= 12; i++) {
        snprintf(id, sizeof id, "%d", i);
        put(st, "t1", "f", id, "{}");
        put(st, "t2", "f", id, "{}");
    }
    CHECK_INT(eng_record_snapshots_prune(st, "t1", "f", 5, &err), 7);
    CHECK_STR(ids(st, "t1", "f", 100, &s), "12,11,10,9,8");
    CHECK_INT(count(st, "t2"), 12); /* another tenant's are never pruned by t1's keep */
    CHECK_INT(eng_record_snapshots_prune(st, "t1", "f", 5, &err), 0);
    CHECK_INT(eng_record_snapshots_prune(st, "t1", "f", 100, &err), 0);
    CHECK_INT(eng_record_snapshots_prune(st, "t1", "f", 0, &err), 4); /* keep >= 1 */
    CHECK_STR(ids(st, "t1", "f", 100, &s), "12");
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_newest_first_and_replaced), CHECK_CASE(test_prune))

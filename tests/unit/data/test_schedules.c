/*
 * test_schedules.c - data/schedules.c: a schedule is stored and read back with its columns
 * (an interval or a cron, never both), listed per tenant by id, read one by id, paused and
 * resumed (a new next run, or the old one kept) by its tenant only, deleted once.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/schedules.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "test_schedules"
#include "store_fixture.h"

struct seen {
    int n;
    long long id[4], interval[4];
    char text[4][160];
};

static void collect(void *ud, const struct eng_schedule *r)
{
    struct seen *s = ud;
    if (s->n < 4) {
        s->id[s->n] = r->id;
        s->interval[s->n] = r->interval_s;
        snprintf(s->text[s->n], sizeof s->text[0], "%s|%s|%s|%d|%s|%s|%d|%s|%s", r->entity,
                 r->flow ? r->flow : "-", r->mode, r->dry_run, r->filters, r->cron ? r->cron : "-",
                 r->enabled, r->next_run_at ? r->next_run_at : "-",
                 r->last_run_at ? r->last_run_at : "-");
    }
    s->n++;
}

static void test_schedules(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    struct seen a = {0}, b = {0}, l = {0};
    struct eng_schedule_new n1 = {.tenant = "t1",
                                  .entity = "orders",
                                  .flow = "f1",
                                  .mode = "full",
                                  .dry_run = 1,
                                  .filters = "{ \"per_page\" : 5 }",
                                  .interval_s = 60,
                                  .enabled = 1,
                                  .next_run_at = "2030-01-01T00:00:00.000Z"};
    CHECK_INT(eng_schedules_insert(st, &n1, collect, &a, &err), 0);
    CHECK_INT(a.n, 1);
    CHECK_INT(a.interval[0], 60);
    CHECK_STR(a.text[0], "orders|f1|full|1|{\"per_page\":5}|-|1|2030-01-01T00:00:00.000Z|-");
    struct eng_schedule_new n2 = {.tenant = "t1",
                                  .entity = "customers",
                                  .mode = "incremental",
                                  .filters = "{}",
                                  .cron = "@daily",
                                  .enabled = 0};
    CHECK_INT(eng_schedules_insert(st, &n2, collect, &b, &err), 0);
    CHECK_INT(b.interval[0], 0);
    CHECK_STR(b.text[0], "customers|-|incremental|0|{}|@daily|0|-|-");
    /* both an interval and a cron: the table refuses it */
    struct eng_schedule_new both = n1;
    both.cron = "@daily";
    CHECK(eng_schedules_insert(st, &both, collect, &l, &err) < 0);
    CHECK_INT(l.n, 0);
    /* listed per tenant, by id */
    CHECK_INT(eng_schedules_list(st, "t1", collect, &l, &err), 0);
    CHECK_INT(l.n, 2);
    CHECK(l.id[0] == a.id[0] && l.id[1] == b.id[0]);
    struct seen none = {0};
    CHECK_INT(eng_schedules_list(st, "t2", collect, &none, &err), 0);
    CHECK_INT(none.n, 0);
    /* one by id, by its tenant only */
    struct seen g = {0};
    CHECK_INT(eng_schedules_get(st, "t1", b.id[0], collect, &g, &err), 0);
    CHECK_INT(g.n, 1);
    CHECK_STR(g.text[0], b.text[0]);
    struct seen g2 = {0};
    CHECK_INT(eng_schedules_get(st, "t2", b.id[0], collect, &g2, &err), 0);
    CHECK_INT(g2.n, 0);
    /* paused: enabled 0, the next run kept when none is given */
    struct seen p = {0};
    CHECK_INT(eng_schedules_set_enabled(st, "t1", a.id[0], 0, NULL, collect, &p, &err), 0);
    CHECK_INT(p.n, 1);
    CHECK_STR(p.text[0], "orders|f1|full|1|{\"per_page\":5}|-|0|2030-01-01T00:00:00.000Z|-");
    /* resumed with a new next run */
    struct seen r = {0};
    CHECK_INT(eng_schedules_set_enabled(st, "t1", a.id[0], 1, "2031-02-03T04:05:06.000Z", collect,
                                        &r, &err),
              0);
    CHECK_STR(r.text[0], "orders|f1|full|1|{\"per_page\":5}|-|1|2031-02-03T04:05:06.000Z|-");
    /* another tenant's id: nothing changes, fn not called */
    struct seen o = {0};
    CHECK_INT(eng_schedules_set_enabled(st, "t2", a.id[0], 0, NULL, collect, &o, &err), 0);
    CHECK_INT(o.n, 0);
    struct seen still = {0};
    CHECK_INT(eng_schedules_get(st, "t1", a.id[0], collect, &still, &err), 0);
    CHECK_STR(still.text[0], r.text[0]);
    /* deleted once, and only by its tenant */
    CHECK_INT(eng_schedules_delete(st, "t2", a.id[0], &err), 0);
    CHECK_INT(eng_schedules_delete(st, "t1", a.id[0], &err), 1);
    CHECK_INT(eng_schedules_delete(st, "t1", a.id[0], &err), 0);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_schedules))

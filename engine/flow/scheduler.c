/*
 * scheduler.c - schedules that start runs by themselves: cron expressions (five fields, UTC) and
 * the tick that turns due schedules into runs (called by the dispatcher thread about once a
 * second, so there is no extra thread to stop). A schedule whose flow still has an active run
 * skips that occurrence (the run in progress covers it) and moves to its next time.
 * Owns nothing past a call. Must not: run Lua or call a remote system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "flow/sync.h"

static const struct {
    int lo, hi;
    const char *name;
} cron_fields[5] = {
    {0, 59, "minute"}, {0, 23, "hour"},       {1, 31, "day of month"},
    {1, 12, "month"},  {0, 7, "day of week"},
};

/* One field: "*", "*\/n", "a", "a-b", "a-b/n", comma lists of those. */
static int cron_field(const char *s, size_t n, int f, uint64_t *bits, int *star,
                      struct eng_err *err)
{
    int lo = cron_fields[f].lo, hi = cron_fields[f].hi;
    *bits = 0;
    *star = n == 1 && s[0] == '*';
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *pe = comma != NULL ? comma : end;
        int a, b, step = 1;
        char *q;
        if (*p == '*') {
            a = lo, b = hi;
            q = (char *)p + 1;
        } else {
            a = (int)strtol(p, &q, 10);
            if (q == p)
                goto bad;
            b = a;
            if (q < pe && *q == '-') {
                const char *r = q + 1;
                b = (int)strtol(r, &q, 10);
                if (q == r)
                    goto bad;
            }
        }
        if (q < pe && *q == '/') {
            const char *r = q + 1;
            step = (int)strtol(r, &q, 10);
            if (q == r || step < 1)
                goto bad;
        }
        if (q != pe || a < lo || b > hi || a > b)
            goto bad;
        for (int v = a; v <= b; v += step)
            *bits |= 1ULL << (f == 4 && v == 7 ? 0 : v); /* Sunday is 0 or 7 */
        p = comma != NULL ? comma + 1 : end;
        if (comma != NULL && p == end)
            goto bad;
    }
    if (*bits != 0)
        return 0;
bad:
    return eng_err_set(err, ENG_EINVAL,
                       "cron: the %s field '%.*s' is not valid (%d-%d, *, */n, a-b, lists)",
                       cron_fields[f].name, (int)(n < 40 ? n : 40), s, lo, hi);
}

int eng_scheduler_cron_parse(const char *expr, struct eng_cron *c, struct eng_err *err)
{
    static const struct {
        const char *alias, *expr;
    } aliases[] = {{"@hourly", "0 * * * *"},
                   {"@daily", "0 0 * * *"},
                   {"@weekly", "0 0 * * 0"},
                   {"@monthly", "0 0 1 * *"}};
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(expr, aliases[i].alias) == 0)
            expr = aliases[i].expr;
    const char *p = expr;
    uint64_t *slots[5] = {&c->minute, &c->hour, &c->dom, &c->month, &c->dow};
    int stars[5] = {0};
    for (int f = 0; f < 5; f++) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            return eng_err_set(err, ENG_EINVAL,
                               "cron: expected 5 fields (minute hour day-of-month month "
                               "day-of-week), e.g. '*/15 * * * *'");
        int rc = cron_field(p, n, f, slots[f], &stars[f], err);
        if (rc != 0)
            return rc;
        p += n;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return eng_err_set(err, ENG_EINVAL, "cron: more than 5 fields");
    c->dom_star = stars[2];
    c->dow_star = stars[4];
    return 0;
}

int64_t eng_scheduler_cron_next(const struct eng_cron *c, int64_t after)
{
    time_t t = (time_t)(after - (after % 60) + 60);
    for (int i = 0; i < 366 * 24 * 60 * 5; i++) { /* five years of minutes at most */
        struct tm tm;
        gmtime_r(&t, &tm);
        int dom_ok = (int)((c->dom >> tm.tm_mday) & 1U);
        int dow_ok = (int)((c->dow >> tm.tm_wday) & 1U);
        /* cron's rule: with both day fields restricted, either may match */
        int day_ok = c->dom_star ? dow_ok : c->dow_star ? dom_ok : (dom_ok || dow_ok);
        if (!((c->month >> (tm.tm_mon + 1)) & 1) || !day_ok) {
            t += (time_t)(24 * 3600 - tm.tm_hour * 3600 - tm.tm_min * 60);
            continue;
        }
        if (!((c->hour >> tm.tm_hour) & 1)) {
            t += (time_t)(3600 - tm.tm_min * 60);
            continue;
        }
        if ((c->minute >> tm.tm_min) & 1)
            return (int64_t)t;
        t += 60;
    }
    return -1;
}

/* Next run time of a schedule as ISO-8601 UTC into buf, from now. */
static int next_time(const char *cron, int64_t interval, char *buf, size_t size,
                     struct eng_err *err)
{
    time_t now = time(NULL);
    int64_t next;
    if (cron != NULL) {
        struct eng_cron c;
        int rc = eng_scheduler_cron_parse(cron, &c, err);
        if (rc != 0)
            return rc;
        next = eng_scheduler_cron_next(&c, (int64_t)now);
        if (next < 0)
            return eng_err_set(err, ENG_EINVAL, "cron: '%s' never matches a date", cron);
    } else {
        next = (int64_t)now + interval;
    }
    time_t tn = (time_t)next;
    struct tm tm;
    gmtime_r(&tn, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return 0;
}

int eng_scheduler_next(const char *cron, int64_t interval, char *buf, size_t size,
                       struct eng_err *err)
{
    return next_time(cron, interval, buf, size, err);
}

static char *dup_text(struct eng_store_stmt *s, int col)
{
    const char *v = eng_store_column_text(s, col, NULL);
    return v != NULL && eng_store_column_type(s, col) != ENG_STORE_NULL ? strdup(v) : NULL;
}

int eng_scheduler_tick(struct eng_store *st, int *started, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    *started = 0;
    int rc = eng_store_prepare(st,
                               "SELECT id, tenant_id, entity, flow, mode, dry_run, filters, "
                               "interval_seconds, cron FROM schedules WHERE enabled = 1 AND "
                               "(next_run_at IS NULL OR next_run_at <= " ENG_STORE_NOW
                               ") ORDER BY next_run_at LIMIT 1",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    rc = eng_store_step(s, err);
    if (rc != ENG_STORE_ROW) {
        eng_store_finalize(s);
        return rc < 0 ? rc : 0;
    }
    int64_t id = eng_store_column_int64(s, 0);
    char *tenant = dup_text(s, 1), *entity = dup_text(s, 2), *flow = dup_text(s, 3),
         *mode = dup_text(s, 4), *filters = dup_text(s, 6), *cron = dup_text(s, 8);
    int dry = (int)eng_store_column_int64(s, 5);
    int64_t interval = eng_store_column_int64(s, 7);
    eng_store_finalize(s);

    char next[40], by[48], run_id[ENG_SYNC_ID_SIZE] = "", active[ENG_SYNC_ID_SIZE];
    snprintf(by, sizeof by, "schedule:%lld", (long long)id);
    struct eng_sync_req r = {.tenant = tenant,
                             .entity = entity,
                             .flow = flow,
                             .mode = mode,
                             .dry_run = dry,
                             .filters = filters,
                             .origin = "schedule",
                             .requested_by = by,
                             .schedule_id = id};
    rc = (tenant && entity && mode) ? eng_sync_create_run(st, &r, run_id, active, err) : ENG_ENOMEM;
    if (rc == ENG_EEXIST) {
        run_id[0] = '\0'; /* the active run covers this occurrence */
        rc = 0;
    } else if (rc == 0) {
        *started = 1;
        eng_log_kv(ENG_LOG_INFO, tenant, run_id, "scheduled run queued",
                   (const char *const[]){"schedule", by, NULL});
    }
    int nrc = next_time(cron, interval, next, sizeof next, err);
    if (rc == 0 || rc == ENG_EINVAL) {
        /* a schedule that cannot run (bad flow, bad cron) is disabled, not retried every tick */
        const char *sql =
            nrc == 0 && rc == 0
                ? "UPDATE schedules SET next_run_at = ?2, last_run_at = CASE WHEN ?3 IS NULL "
                  "THEN last_run_at ELSE " ENG_STORE_NOW " END, last_run_id = coalesce(?3, "
                  "last_run_id), updated_at = " ENG_STORE_NOW " WHERE id = ?1"
                : "UPDATE schedules SET enabled = 0, updated_at = " ENG_STORE_NOW
                  " WHERE id = ?1 AND ?2 IS NULL AND ?3 IS NULL";
        if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
            eng_store_bind_int64(s, 1, id);
            /* a text or NULL (eng_store_bind_str: a NULL typed as text, which PostgreSQL needs
             * for "?3 IS NULL") */
            eng_store_bind_str(s, 2, nrc == 0 && rc == 0 ? next : NULL);
            eng_store_bind_str(s, 3, run_id[0] != '\0' && nrc == 0 && rc == 0 ? run_id : NULL);
            eng_store_step(s, NULL);
            eng_store_finalize(s);
        }
        if (rc != 0 || nrc != 0)
            eng_log_kv(ENG_LOG_ERROR, tenant, NULL, "schedule disabled",
                       (const char *const[]){"schedule", by, "error", err->msg, NULL});
        rc = 0;
    }
    free(tenant);
    free(entity);
    free(flow);
    free(mode);
    free(filters);
    free(cron);
    return rc;
}

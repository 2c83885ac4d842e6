/*
 * schedules.h - the schedules table as the API manages it: create, list, pause, resume and
 * delete a tenant's schedules (runs the engine starts by itself every interval_seconds or on a cron
 * expression). The dispatcher's tick (flow/scheduler.c) reads and advances them; its statements
 * belong here too (not moved yet). Must not: render an answer (api/ does), or judge a cron
 * expression (scheduler.c does).
 */
#ifndef ENG_SCHEDULES_H
#define ENG_SCHEDULES_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/err.h"

/* One row; the strings are valid during the callback only, NULL for SQL NULL. */
struct eng_schedule {
    long long id;
    const char *entity, *flow, *mode;
    int dry_run;
    const char *filters;  /* a JSON object's text (minified) */
    long long interval_s; /* 0 when the schedule runs on cron */
    const char *cron;     /* NULL when it runs every interval_s */
    int enabled;
    const char *next_run_at, *last_run_at, *last_run_id, *created_at, *updated_at;
};

typedef void (*eng_schedule_fn)(void *ud, const struct eng_schedule *s);

/* A new schedule of tenant: exactly one of interval_s > 0 and cron. fn sees the stored row. */
struct eng_schedule_new {
    const char *tenant, *entity, *flow, *mode;
    int dry_run;
    const char *filters; /* JSON object text */
    long long interval_s;
    const char *cron;
    int enabled;
    const char *next_run_at;
};
int eng_schedules_insert(struct eng_store *st, const struct eng_schedule_new *n, eng_schedule_fn fn,
                         void *ud, struct eng_err *err);

/* Call fn for each schedule of tenant, by id. 0 or < 0. */
int eng_schedules_list(struct eng_store *st, const char *tenant, eng_schedule_fn fn, void *ud,
                       struct eng_err *err);

/* Call fn with schedule id of tenant, when there is one. 0 or < 0. */
int eng_schedules_get(struct eng_store *st, const char *tenant, long long id, eng_schedule_fn fn,
                      void *ud, struct eng_err *err);
/* Pause (enabled 0) or resume (enabled 1) schedule id of tenant; next_run_at replaces the next
 * run when not NULL (a resumed schedule starts counting from now). fn sees the updated row (not
 * called when there is none). 0 or < 0. */
int eng_schedules_set_enabled(struct eng_store *st, const char *tenant, long long id, int enabled,
                              const char *next_run_at, eng_schedule_fn fn, void *ud,
                              struct eng_err *err);
/* Delete schedule id of tenant. 1 when deleted, 0 when there is none, < 0. */
int eng_schedules_delete(struct eng_store *st, const char *tenant, long long id,
                         struct eng_err *err);

#endif

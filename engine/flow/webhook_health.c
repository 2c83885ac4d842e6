/*
 * webhook_health.c - the WooCommerce webhook health check (webhook_health.h): the calls into
 * lib/webhook_health.lua on a worker (eng_vm_call with the tenant's connector context, under
 * the connector budget; the VM collected afterwards so strings that held secrets do not
 * linger), the report kept in settings (data/tenant_settings.c), the catch-up sweep, and the
 * timer thread. Answers are C: codes, a stage and a sentence; api/ picks the HTTP statuses.
 * Owns: the timer, its store connection and its tasks. Must not: log or return a secret (the
 * Lua side scrubs the connector's messages; C adds only the VM's own words and key ids).
 */
#include "flow/webhook_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "data/queue.h"
#include "data/tenant_settings.h"
#include "flow/worker.h"
#include "lua/vm.h"

#define WHH_TICK_MAX_S  60 /* the timer looks for due checks at least this often */
#define WHH_FIRST_MAX_S 5  /* first look after start-up */
#define WHH_PATH        "/api/webhooks/woocommerce"

int eng_webhook_health_delivery_url(const struct eng_config *cfg, const char *tenant, char *out,
                                    size_t size)
{
    if (cfg->webhook_public_url == NULL)
        return ENG_ENOTFOUND;
    int n = snprintf(out, size, "%s" WHH_PATH "?tenant=%s", cfg->webhook_public_url, tenant);
    return n < 0 || (size_t)n >= size ? ENG_EINVAL : 0;
}

/* ---- the store side ---- */

/* Store the tenant's report (JSON text) with checkedAt = now; append the stored value to out. */
static int whh_store(struct eng_store *st, const char *tenant, const char *report, size_t len,
                     struct eng_buf *out, struct eng_err *err)
{
    return eng_tenant_settings_put_stamped(st, tenant, ENG_WEBHOOK_HEALTH_SETTING, report, len,
                                           "checkedAt", out, err);
}

int eng_webhook_health_status(struct eng_store *st, const char *tenant, struct eng_buf *out,
                              struct eng_err *err)
{
    return eng_tenant_settings_get(st, tenant, ENG_WEBHOOK_HEALTH_SETTING, out, NULL, err);
}

/* A failed check's report: ok false, one webhook_check_failed warning with message. */
static void whh_failed_report(struct eng_buf *b, const char *url, const char *message)
{
    eng_buf_puts(b, "{\"ok\":false,\"deliveryUrl\":");
    if (url != NULL)
        eng_buf_json_str(b, url, strlen(url));
    else
        eng_buf_puts(b, "null");
    eng_buf_puts(b, ",\"message\":");
    eng_buf_json_str(b, message, strlen(message));
    eng_buf_puts(b, ",\"topics\":[],\"warnings\":[{\"code\":\"webhook_check_failed\",\"message\":");
    eng_buf_json_str(b, message, strlen(message));
    eng_buf_puts(b, "}]}");
}

/* ---- the Lua side ---- */

/* lib.webhook_health.<fn>(ctx, delivery_url) under the connector budget -> up to three
 * strings (malloc'd, NULL for nil). ENG_ENOTFOUND / ENG_EAUTH (from the context: err says
 * which, no value) and script errors otherwise. */
static int whh_call(struct eng_vm *vm, const struct eng_config *cfg, const struct eng_keyring *keys,
                    struct eng_store *st, const char *tenant, const char *fn, const char *url,
                    char *res[3], struct eng_err *err)
{
    struct eng_connctx_opts o = {.cfg = cfg, .keys = keys, .st = st};
    res[0] = res[1] = res[2] = NULL;
    int rc = eng_vm_call(vm, "lib.webhook_health", fn, cfg->connector_timeout_ms, err, "cs>sss", &o,
                         tenant, "woocommerce", url, &res[0], &res[1], &res[2]);
    return rc;
}

static void whh_free3(char *res[3])
{
    for (int i = 0; i < 3; i++)
        free(res[i]);
}

/* The failure of whh_call as a sentence (no value: the VM's words, a key id). */
static void whh_call_failure(int rc, const struct eng_err *err, long long budget_ms, char *msg,
                             size_t size)
{
    size_t n = strcspn(err->msg, "\n");
    if (rc == ENG_EBUDGET)
        snprintf(msg, size,
                 "the webhook check did not finish: %.*s (CONNECTOR_TIMEOUT_MS is %lld ms)",
                 (int)(n < 300 ? n : 300), err->msg, budget_ms);
    else if (rc == ENG_ENOMEM)
        snprintf(msg, size, "the webhook check ran out of memory (SCRIPT_MEMORY_MB)");
    else
        snprintf(msg, size, "the webhook check failed: %.*s", (int)(n < 300 ? n : 300), err->msg);
}

int eng_webhook_health_check(struct eng_vm *vm, const struct eng_config *cfg,
                             const struct eng_keyring *keys, struct eng_store *st,
                             const char *tenant, struct eng_buf *out, struct eng_err *err)
{
    char url[1024];
    int have_url = eng_webhook_health_delivery_url(cfg, tenant, url, sizeof url) == 0;
    struct eng_err cerr = {0};
    char *res[3];
    int rc = whh_call(vm, cfg, keys, st, tenant, "check", have_url ? url : NULL, res, &cerr);
    eng_vm_collect(vm); /* free the strings that held secrets now */
    if (rc == ENG_ENOTFOUND) {
        *err = cerr;
        return rc;
    }
    if (rc == 0 && res[0] != NULL) {
        rc = whh_store(st, tenant, res[0], strlen(res[0]), out, err);
    } else {
        char msg[480];
        if (rc == 0)
            snprintf(msg, sizeof msg,
                     "the webhook check failed: lib/webhook_health.lua returned "
                     "no report");
        else
            whh_call_failure(rc, &cerr, cfg->connector_timeout_ms, msg, sizeof msg);
        eng_logf(ENG_LOG_ERROR, "webhook check of tenant %s: %s", tenant, msg);
        struct eng_buf b;
        eng_buf_init(&b);
        whh_failed_report(&b, have_url ? url : NULL, msg);
        rc = b.oom ? eng_err_set(err, ENG_ENOMEM, "out of memory writing a webhook check")
                   : whh_store(st, tenant, b.data, b.len, out, err);
        eng_buf_free(&b);
    }
    whh_free3(res);
    return rc;
}

/* ---- register: the catch-up sweep ---- */

/* since: over the resources of result's check topics, the earliest of each one's newest
 * received event, else the previous check's time, else the credentials' updated_at, else now.
 * Read before the new check is stored. */
static int whh_since(struct eng_store *st, const char *tenant, const char *result, size_t len,
                     char *since, size_t size, struct eng_err *err)
{
    static const char sql[] =
        "SELECT coalesce(min(coalesce((SELECT max(e.received_at) FROM webhook_events e "
        "WHERE e.tenant_id = ?1 AND e.source = 'woocommerce' AND e.resource = r.res), "
        "(SELECT json_extract(value, '$.checkedAt') FROM settings WHERE tenant_id = ?1 AND key = "
        "'" ENG_WEBHOOK_HEALTH_SETTING "'), (SELECT updated_at FROM integration_credentials WHERE "
        "tenant_id = ?1 AND platform = 'woocommerce' AND is_active = 1))), " ENG_STORE_NOW ") "
        "FROM (SELECT DISTINCT substr(json_extract(t.value, '$.topic'), 1, "
        "instr(json_extract(t.value, '$.topic'), '.') - 1) AS res "
        "FROM json_each(json(?2), '$.check.topics') t) r";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_str(s, 1, tenant);
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, result, len);
    if (rc == 0) {
        rc = eng_store_step(s, err);
        if (rc == ENG_STORE_ROW) {
            const char *v = eng_store_column_text(s, 0, NULL);
            snprintf(since, size, "%s", v != NULL ? v : "");
            rc = 0;
        } else if (rc == ENG_STORE_DONE) {
            rc = eng_err_set(err, ENG_EIO, "computing the sweep's since returned no row");
        }
    }
    eng_store_finalize(s);
    return rc;
}

/* Queue the sweep (or merge it into a pending one): r->sweep_queued, sweep_id, since. */
static int whh_queue_sweep(struct eng_store *st, const char *tenant,
                           struct eng_webhook_health_registered *r, struct eng_err *err)
{
    int64_t id = 0;
    char merged[64];
    int rc = eng_queue_sweep_merge(st, tenant, "woocommerce", "reregistered", r->since, &id, merged,
                                   sizeof merged, err);
    if (rc == 1) {
        r->sweep_queued = 1;
        r->sweep_id = (long long)id;
        snprintf(r->since, sizeof r->since, "%s", merged);
        rc = 0;
    } else if (rc == 0) {
        r->sweep_queued = 0; /* a sweep is running already: not queued again */
    }
    return rc;
}

static int whh_fail(struct eng_webhook_health_failure *f, int rc,
                    enum eng_webhook_health_stage stage, const char *field, const char *message)
{
    f->stage = stage;
    snprintf(f->field, sizeof f->field, "%s", field != NULL ? field : "");
    snprintf(f->message, sizeof f->message, "%.470s", message);
    return rc;
}

static int whh_store_fail(struct eng_webhook_health_failure *f, const char *what,
                          struct eng_err *err)
{
    eng_logf(ENG_LOG_ERROR, "webhooks: cannot %s: %s", what, err->msg);
    return whh_fail(f, err->code == ENG_EBUSY ? ENG_EBUSY : (err->code < 0 ? err->code : ENG_EIO),
                    ENG_WEBHOOK_HEALTH_STORE, NULL,
                    err->code == ENG_EBUSY ? "the store is busy; retry shortly"
                                           : "the store failed (see the log)");
}

/* The store half of a register: since, then the check and the sweep in one transaction; the
 * result's ok and registered parts. */
static int whh_register_commit(struct eng_store *st, const char *tenant, const char *result,
                               size_t len, struct eng_webhook_health_registered *r,
                               struct eng_webhook_health_failure *f)
{
    struct eng_err err = {0};
    int rc = whh_since(st, tenant, result, len, r->since, sizeof r->since, &err);
    if (rc == 0)
        rc = eng_store_exec(st, "BEGIN IMMEDIATE", &err);
    if (rc == 0) {
        /* the parts of the result: the Lua side encoded it as a JSON object */
        struct eng_store_stmt *s = NULL;
        rc = eng_store_prepare(
            st,
            "SELECT json_extract(json(?1), '$.check'), CASE WHEN "
            "CAST(json_extract(json(?1), '$.ok') AS INTEGER) <> 0 THEN 1 ELSE 0 END, "
            "json_extract(json(?1), '$.registered')",
            -1, ENG_STORE_TRUSTED, &s, &err);
        if (rc == 0)
            rc = eng_store_bind_text(s, 1, result, len);
        if (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
            size_t n = 0, m = 0;
            const char *c = eng_store_column_text(s, 0, &n);
            r->ok = eng_store_column_int64(s, 1) != 0;
            const char *reg = eng_store_column_text(s, 2, &m);
            eng_buf_append(&r->added, reg != NULL ? reg : "null", reg != NULL ? m : 4);
            rc = c != NULL ? whh_store(st, tenant, c, n, &r->check, &err)
                           : eng_err_set(&err, ENG_ESCRIPT, "the register result has no check");
        } else if (rc == ENG_STORE_DONE) {
            rc = eng_err_set(&err, ENG_EIO, "no row");
        }
        eng_store_finalize(s);
        if (rc == 0)
            rc = whh_queue_sweep(st, tenant, r, &err);
        struct eng_err e2 = {0};
        if (rc == 0)
            rc = eng_store_exec(st, "COMMIT", &err);
        else
            eng_store_exec(st, "ROLLBACK", &e2);
    }
    if (rc != 0)
        return whh_store_fail(f, "record the webhook registration", &err);
    if (r->added.oom || r->check.oom)
        return whh_fail(f, ENG_ENOMEM, ENG_WEBHOOK_HEALTH_STORE, NULL, "out of memory");
    return 0;
}

int eng_webhook_health_register(struct eng_vm *vm, const struct eng_config *cfg,
                                const struct eng_keyring *keys, struct eng_store *st,
                                const char *tenant, struct eng_webhook_health_registered *out,
                                struct eng_webhook_health_failure *f)
{
    memset(out, 0, sizeof *out);
    memset(f, 0, sizeof *f);
    eng_buf_init(&out->added);
    eng_buf_init(&out->check);
    char url[1024];
    if (eng_webhook_health_delivery_url(cfg, tenant, url, sizeof url) != 0)
        return whh_fail(f, ENG_EINVAL, ENG_WEBHOOK_HEALTH_CONFIG, "WEBHOOK_PUBLIC_URL",
                        "WEBHOOK_PUBLIC_URL is not set: the engine does not know the public URL "
                        "the store must deliver webhooks to (e.g. https://sync.example.com)");
    struct eng_err err = {0};
    char *res[3];
    int rc = whh_call(vm, cfg, keys, st, tenant, "register", url, res, &err);
    eng_vm_collect(vm); /* free the strings that held secrets now */
    if (rc == ENG_ENOTFOUND) {
        rc = whh_fail(f, rc, ENG_WEBHOOK_HEALTH_CREDENTIALS, NULL,
                      "no credentials stored for woocommerce");
    } else if (rc == ENG_EAUTH) {
        rc = whh_fail(f, rc, ENG_WEBHOOK_HEALTH_CREDENTIALS, NULL,
                      err.msg); /* names the key id only */
    } else if (rc == ENG_EBUSY || rc == ENG_EIO) {
        rc = whh_store_fail(f, "read the credentials", &err);
    } else if (rc != 0) {
        char msg[480];
        whh_call_failure(rc, &err, cfg->connector_timeout_ms, msg, sizeof msg);
        eng_logf(ENG_LOG_ERROR, "webhook registration of tenant %s: %s", tenant, msg);
        rc = whh_fail(f, rc, ENG_WEBHOOK_HEALTH_SCRIPT, NULL, msg);
    } else if (res[0] == NULL && res[2] != NULL) {
        /* nil, nil, message: the store's webhooks could not be listed (scrubbed by the Lua) */
        rc = whh_fail(f, ENG_EIO, ENG_WEBHOOK_HEALTH_UPSTREAM, NULL, res[2]);
    } else if (res[0] == NULL) {
        const char *field = res[1] != NULL ? res[1] : "";
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the stored woocommerce credentials have no %s: store it with the credentials "
                 "(the secret the store signs its webhooks with)",
                 field);
        rc = whh_fail(f, ENG_EINVAL, ENG_WEBHOOK_HEALTH_CONFIG, field, msg);
    } else {
        rc = whh_register_commit(st, tenant, res[0], strlen(res[0]), out, f);
    }
    whh_free3(res);
    if (rc != 0)
        eng_webhook_health_registered_free(out);
    return rc;
}

void eng_webhook_health_registered_free(struct eng_webhook_health_registered *r)
{
    eng_buf_free(&r->added);
    eng_buf_free(&r->check);
}

/* ---- the schedule ---- */

struct whh_task {
    struct eng_task task; /* first: the worker hands us back this pointer */
    const struct eng_config *cfg;
    const struct eng_keyring *keys;
    atomic_int *inflight;
    char tenant[65];
};

static void whh_task_run(struct eng_task *t, struct eng_vm *vm)
{
    struct whh_task *k = (struct whh_task *)t;
    if (vm == NULL)
        return; /* stopping: the next round (or start-up) checks it */
    struct eng_err err = {0};
    struct eng_store *st = eng_store_thread(k->cfg->database_url, &err);
    if (st == NULL) {
        eng_logf(ENG_LOG_ERROR, "webhook check: a worker cannot open the store: %s", err.msg);
        return;
    }
    struct eng_buf out;
    eng_buf_init(&out);
    int rc = eng_webhook_health_check(vm, k->cfg, k->keys, st, k->tenant, &out, &err);
    if (rc != 0 && rc != ENG_ENOTFOUND) /* (credentials deleted meanwhile: nothing to check) */
        eng_logf(ENG_LOG_ERROR, "webhook check of tenant %s: %s", k->tenant, err.msg);
    else if (rc == 0 && strstr(out.data != NULL ? out.data : "", "\"ok\":false") != NULL)
        eng_log_kv(ENG_LOG_WARN, k->tenant, NULL, "woocommerce webhooks need attention",
                   (const char *const[]){"see", "GET /api/integrations/woocommerce/status", NULL});
    eng_buf_free(&out);
}

static void whh_task_done(struct eng_task *t)
{
    struct whh_task *k = (struct whh_task *)t;
    if (k->inflight != NULL)
        atomic_fetch_sub(k->inflight, 1);
    free(k);
}

int eng_webhook_health_check_all(struct eng_workers *w, const struct eng_config *cfg,
                                 const struct eng_keyring *keys, struct eng_store *st,
                                 long long older_than_s, int max, atomic_int *inflight,
                                 struct eng_err *err)
{
    static const char sql[] =
        "SELECT c.tenant_id FROM integration_credentials c LEFT JOIN settings s ON "
        "s.tenant_id = c.tenant_id AND s.key = '" ENG_WEBHOOK_HEALTH_SETTING "' WHERE c.platform = "
        "'woocommerce' AND c.is_active = 1 AND (json_extract(s.value, '$.checkedAt') IS NULL OR "
        "json_extract(s.value, '$.checkedAt') <= " ENG_STORE_NOW_PLUS_S(
            "?1") ") "
                  "ORDER BY json_extract(s.value, '$.checkedAt') NULLS FIRST, c.tenant_id LIMIT ?2";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 1, -(older_than_s > 0 ? older_than_s : 0));
    if (rc == 0)
        rc = eng_store_bind_int64(s, 2, max);
    int n = 0;
    while (rc == 0 && (rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
        rc = 0;
        const char *tenant = eng_store_column_text(s, 0, NULL);
        if (tenant == NULL || strlen(tenant) > 64)
            continue;
        struct whh_task *k = calloc(1, sizeof *k);
        if (k == NULL) {
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory queueing webhook checks");
            break;
        }
        k->task.run = whh_task_run;
        k->task.done = whh_task_done;
        k->task.what = "webhook health check";
        k->task.tenant = k->tenant;
        k->cfg = cfg;
        k->keys = keys;
        k->inflight = inflight;
        snprintf(k->tenant, sizeof k->tenant, "%s", tenant);
        if (inflight != NULL)
            atomic_fetch_add(inflight, 1);
        if (eng_workers_submit(w, &k->task) != 0) {
            if (inflight != NULL)
                atomic_fetch_sub(inflight, 1);
            free(k);
            break; /* the queue is full or stopping: the rest are due next round */
        }
        n++;
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : n;
}

struct eng_webhook_health_timer {
    const struct eng_config *cfg;
    const struct eng_keyring *keys;
    struct eng_workers *workers;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int started;
    atomic_int inflight;
};

/* Sleep up to s seconds or until stopped; 1 when stopped. */
static int whh_sleep(struct eng_webhook_health_timer *t, long long s)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += (time_t)s;
    pthread_mutex_lock(&t->mu);
    while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &at) == 0)
        ;
    int stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return stop;
}

static void *whh_main(void *arg)
{
    struct eng_webhook_health_timer *t = arg;
    long long interval = t->cfg->webhook_check_interval_s;
    long long tick = interval < WHH_TICK_MAX_S ? interval : WHH_TICK_MAX_S;
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    int wait_s = (int)(interval < WHH_FIRST_MAX_S ? interval : WHH_FIRST_MAX_S);
    /* due: last check older than interval - tick, so a round every interval despite ticks */
    long long older = interval - tick;
    int max = 4 * t->cfg->workers; /* per round; the rest are due at the next tick */
    while (!whh_sleep(t, wait_s)) {
        wait_s = (int)tick;
        if (atomic_load(&t->inflight) > 0)
            continue; /* the previous round is still running */
        if (st == NULL && eng_store_open(t->cfg->database_url, &st, &err) != 0) {
            eng_logf(ENG_LOG_ERROR, "webhook checks: cannot open the store: %s", err.msg);
            continue;
        }
        int n = eng_webhook_health_check_all(t->workers, t->cfg, t->keys, st, older, max,
                                             &t->inflight, &err);
        if (n < 0)
            eng_logf(ENG_LOG_ERROR, "webhook checks: %s", err.msg);
    }
    eng_store_close(st);
    return NULL;
}

int eng_webhook_health_timer_start(const struct eng_config *cfg, const struct eng_keyring *keys,
                                   struct eng_workers *w, struct eng_webhook_health_timer **out,
                                   struct eng_err *err)
{
    *out = NULL;
    if (cfg->webhook_check_interval_s <= 0)
        return 0;
    struct eng_webhook_health_timer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory starting the webhook checks");
    t->cfg = cfg;
    t->keys = keys;
    t->workers = w;
    atomic_init(&t->inflight, 0);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, whh_main, t) != 0) {
        eng_webhook_health_timer_free(t);
        return eng_err_set(err, ENG_EIO, "cannot start the webhook check thread");
    }
    t->started = 1;
    *out = t;
    return 0;
}

void eng_webhook_health_timer_stop(struct eng_webhook_health_timer *t)
{
    if (t == NULL || !t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = 0;
}

void eng_webhook_health_timer_free(struct eng_webhook_health_timer *t)
{
    if (t == NULL)
        return;
    eng_webhook_health_timer_stop(t);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/*
 * webhook_health.c - the WooCommerce webhook health check (webhook_health.h): the calls into
 * lib/webhook_health.lua on a worker (every entry a protected call under the connector budget,
 * the stack left as found, the VM collected afterwards so strings that held secrets do not
 * linger), the report kept in settings, the catch-up sweep, and the timer thread.
 * Owns: the timer, its store connection and its tasks. Must not: log or answer a secret (the
 * Lua side scrubs the connector's messages; C adds only the VM's own words and key ids).
 */
#include "flow/webhook_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "base/log.h"
#include "data/queue.h"

#define WHH_TICK_MAX_S  60 /* the timer looks for due checks at least this often */
#define WHH_FIRST_MAX_S 5  /* first look after start-up */
#define WHH_PATH        "/api/webhooks/woocommerce"

static const char whh_never[] = "{\"checkedAt\":null,\"ok\":null,\"deliveryUrl\":null,"
                                "\"message\":\"not checked yet\",\"topics\":[],\"warnings\":[]}";

int eng_whh_delivery_url(const struct eng_config *cfg, const char *tenant, char *out, size_t size)
{
    if (cfg->webhook_public_url == NULL)
        return ENG_ENOTFOUND;
    int n = snprintf(out, size, "%s" WHH_PATH "?tenant=%s", cfg->webhook_public_url, tenant);
    return n < 0 || (size_t)n >= size ? ENG_EINVAL : 0;
}

/* ---- the store side ---- */

/* Upsert the tenant's report (JSON text) with checkedAt = now, and append the stored value to
 * out. */
static int whh_store(struct eng_store *st, const char *tenant, const char *report, size_t len,
                     struct eng_buf *out, struct eng_err *err)
{
    static const char sql[] =
        "INSERT INTO settings (tenant_id, key, value, updated_at) VALUES (?1, '" ENG_WHH_SETTING
        "', json_set(json(?2), '$.checkedAt', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT (tenant_id, key) DO UPDATE SET "
        "value = excluded.value, updated_at = excluded.updated_at RETURNING value";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, report, len);
    if (rc == 0) {
        rc = eng_store_step(s, err);
        if (rc == ENG_STORE_ROW) {
            size_t n = 0;
            const char *v = eng_store_column_text(s, 0, &n);
            eng_buf_append(out, v != NULL ? v : whh_never, v != NULL ? n : strlen(whh_never));
            rc = 0;
        } else if (rc == ENG_STORE_DONE) {
            rc = eng_err_set(err, ENG_EIO, "storing the webhook check returned no row");
        }
    }
    eng_store_finalize(s);
    return rc;
}

int eng_whh_status_json(struct eng_store *st, const char *tenant, struct eng_buf *out,
                        struct eng_err *err)
{
    static const char sql[] =
        "SELECT value FROM settings WHERE tenant_id = ?1 AND key = '" ENG_WHH_SETTING "'";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    if (rc == 0) {
        rc = eng_store_step(s, err);
        size_t n = 0;
        const char *v = rc == ENG_STORE_ROW ? eng_store_column_text(s, 0, &n) : NULL;
        if (rc >= 0) {
            eng_buf_append(out, v != NULL ? v : whh_never, v != NULL ? n : strlen(whh_never));
            rc = 0;
        }
    }
    eng_store_finalize(s);
    return rc;
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

/* Call lib.webhook_health.<fn>(ctx, delivery_url) under the connector budget. On 0 the results
 * are on the stack above top (3 of them); the caller resets the stack to top. ENG_ENOTFOUND /
 * ENG_EAUTH (from the context: err says which, no value) and script errors otherwise, with the
 * stack at top. */
static int whh_call(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                    const char *fn, const char *url, struct eng_err *err)
{
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    char boot[96];
    int n = snprintf(boot, sizeof boot, "return require('lib.webhook_health').%s", fn);
    int rc = eng_vm_load(vm, "=webhook_health", boot, (size_t)n, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, err);
    if (rc == 0)
        rc = eng_connctx_push(vm, o, tenant, "woocommerce", err);
    if (rc == 0)
        rc = url != NULL ? eng_vm_push_string(vm, url, strlen(url), err) : (lua_pushnil(L), 0);
    if (rc == 0)
        rc = eng_vm_pcall_budget(vm, 2, 3, o->cfg->connector_timeout_ms, err);
    if (rc != 0)
        lua_settop(L, top);
    return rc;
}

/* The failure of whh_call as a sentence for a report (no value: the VM's words, a key id). */
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

int eng_whh_check(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                  struct eng_buf *out, struct eng_err *err)
{
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 8))
        return eng_err_set(err, ENG_ENOMEM, "the worker is out of memory");
    int top = lua_gettop(L);
    char url[1024];
    int have_url = eng_whh_delivery_url(o->cfg, tenant, url, sizeof url) == 0;
    struct eng_err cerr = {0};
    int rc = whh_call(vm, o, tenant, "check", have_url ? url : NULL, &cerr);
    if (rc == ENG_ENOTFOUND) {
        *err = cerr;
        return rc;
    }
    if (rc == 0 && lua_type(L, top + 1) == LUA_TSTRING) {
        size_t len = 0;
        const char *report = lua_tolstring(L, top + 1, &len);
        rc = whh_store(o->st, tenant, report, len, out, err);
    } else {
        char msg[480];
        if (rc == 0)
            snprintf(msg, sizeof msg,
                     "the webhook check failed: lib/webhook_health.lua returned "
                     "no report");
        else
            whh_call_failure(rc, &cerr, o->cfg->connector_timeout_ms, msg, sizeof msg);
        eng_logf(ENG_LOG_ERROR, "webhook check of tenant %s: %s", tenant, msg);
        struct eng_buf b;
        eng_buf_init(&b);
        whh_failed_report(&b, have_url ? url : NULL, msg);
        rc = b.oom ? eng_err_set(err, ENG_ENOMEM, "out of memory writing a webhook check")
                   : whh_store(o->st, tenant, b.data, b.len, out, err);
        eng_buf_free(&b);
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT); /* free the strings that held secrets now */
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
        "'" ENG_WHH_SETTING
        "'), (SELECT updated_at FROM integration_credentials WHERE tenant_id = ?1 AND "
        "platform = 'woocommerce' AND is_active = 1))), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
        "FROM (SELECT DISTINCT substr(json_extract(t.value, '$.topic'), 1, "
        "instr(json_extract(t.value, '$.topic'), '.') - 1) AS res "
        "FROM json_each(json(?2), '$.check.topics') t) r";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
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

/* Queue the sweep (or merge it into a pending one). Appends {"queued","id","since"} to out. */
static int whh_queue_sweep(struct eng_store *st, const char *tenant, const char *since,
                           struct eng_buf *out, struct eng_err *err)
{
    int64_t id = 0;
    char merged[64];
    int rc = eng_queue_sweep_merge(st, tenant, "woocommerce", "reregistered", since, &id, merged,
                                   sizeof merged, err);
    if (rc == 1) {
        eng_buf_printf(out, "{\"queued\":true,\"id\":%lld,\"since\":", (long long)id);
        eng_buf_json_str(out, merged, strlen(merged));
        eng_buf_puts(out, ",\"message\":\"a catch-up sweep is queued\"}");
        rc = 0;
    } else if (rc == 0) {
        eng_buf_puts(out, "{\"queued\":false,\"id\":null,\"since\":");
        eng_buf_json_str(out, since, strlen(since));
        eng_buf_puts(out, ",\"message\":\"a sweep is running already; it was not queued "
                          "again\"}");
    }
    return rc;
}

static void whh_answer_fail(struct eng_whh_answer *a, int status, const char *code,
                            const char *field, const char *message)
{
    a->status = status;
    snprintf(a->code, sizeof a->code, "%s", code);
    snprintf(a->field, sizeof a->field, "%s", field != NULL ? field : "");
    snprintf(a->message, sizeof a->message, "%.500s", message);
}

static void whh_store_fail(struct eng_whh_answer *a, const char *what, struct eng_err *err)
{
    eng_logf(ENG_LOG_ERROR, "webhooks: cannot %s: %s", what, err->msg);
    if (err->code == ENG_EBUSY)
        whh_answer_fail(a, 503, "unavailable", NULL, "the store is busy; retry shortly");
    else
        whh_answer_fail(a, 500, "internal", NULL, "the store failed (see the log)");
}

/* The store half of a register: since, then the check and the sweep in one transaction. */
static void whh_register_commit(struct eng_store *st, const char *tenant, const char *result,
                                size_t len, struct eng_whh_answer *a)
{
    struct eng_err err = {0};
    char since[64];
    struct eng_buf check, sweep;
    eng_buf_init(&check);
    eng_buf_init(&sweep);
    int rc = whh_since(st, tenant, result, len, since, sizeof since, &err);
    if (rc == 0)
        rc = eng_store_exec(st, "BEGIN IMMEDIATE", &err);
    if (rc == 0) {
        /* the check part of the result: the Lua side encoded it as a JSON object */
        struct eng_store_stmt *s = NULL;
        rc = eng_store_prepare(st, "SELECT json_extract(json(?1), '$.check')", -1,
                               ENG_STORE_TRUSTED, &s, &err);
        if (rc == 0)
            rc = eng_store_bind_text(s, 1, result, len);
        if (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
            size_t n = 0;
            const char *c = eng_store_column_text(s, 0, &n);
            rc = c != NULL ? whh_store(st, tenant, c, n, &check, &err)
                           : eng_err_set(&err, ENG_ESCRIPT, "the register result has no check");
        } else if (rc == ENG_STORE_DONE) {
            rc = eng_err_set(&err, ENG_EIO, "no row");
        }
        eng_store_finalize(s);
        if (rc == 0)
            rc = whh_queue_sweep(st, tenant, since, &sweep, &err);
        struct eng_err e2 = {0};
        if (rc == 0)
            rc = eng_store_exec(st, "COMMIT", &err);
        else
            eng_store_exec(st, "ROLLBACK", &e2);
    }
    if (rc != 0) {
        whh_store_fail(a, "record the webhook registration", &err);
    } else {
        /* {"ok":..,"registered":[..],"check":{..}} -> {"ok","registered","webhooks","sweep"} */
        struct eng_store_stmt *s = NULL;
        rc = eng_store_prepare(st,
                               "SELECT json_object('ok', json(CASE WHEN json_extract(json(?1), "
                               "'$.ok') THEN 'true' ELSE 'false' END), 'registered', "
                               "json_extract(json(?1), '$.registered'), 'webhooks', json(?2), "
                               "'sweep', json(?3))",
                               -1, ENG_STORE_TRUSTED, &s, &err);
        if (rc == 0)
            rc = eng_store_bind_text(s, 1, result, len);
        if (rc == 0)
            rc = eng_store_bind_text(s, 2, check.data != NULL ? check.data : "{}", check.len);
        if (rc == 0)
            rc = eng_store_bind_text(s, 3, sweep.data != NULL ? sweep.data : "{}", sweep.len);
        if (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
            size_t n = 0;
            const char *v = eng_store_column_text(s, 0, &n);
            eng_buf_append(&a->body, v != NULL ? v : "{}", v != NULL ? n : 2);
            a->status = 200;
            rc = 0;
        }
        eng_store_finalize(s);
        if (rc != 0)
            whh_store_fail(a, "answer the webhook registration", &err);
    }
    eng_buf_free(&check);
    eng_buf_free(&sweep);
}

int eng_whh_register(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                     struct eng_whh_answer *a)
{
    char url[1024];
    if (eng_whh_delivery_url(o->cfg, tenant, url, sizeof url) != 0) {
        whh_answer_fail(a, 422, "invalid_field", "WEBHOOK_PUBLIC_URL",
                        "WEBHOOK_PUBLIC_URL is not set: the engine does not know the public URL "
                        "the store must deliver webhooks to (e.g. https://sync.example.com)");
        return 0;
    }
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 8)) {
        whh_answer_fail(a, 503, "unavailable", NULL, "the worker is out of memory");
        return 0;
    }
    int top = lua_gettop(L);
    struct eng_err err = {0};
    int rc = whh_call(vm, o, tenant, "register", url, &err);
    if (rc == ENG_ENOTFOUND) {
        whh_answer_fail(a, 404, "not_found", NULL, "no credentials stored for woocommerce");
    } else if (rc == ENG_EAUTH) {
        whh_answer_fail(a, 500, "internal", NULL, err.msg); /* names the key id, no value */
    } else if (rc == ENG_EBUSY || rc == ENG_EIO) {
        whh_store_fail(a, "read the credentials", &err);
    } else if (rc != 0) {
        char msg[480];
        whh_call_failure(rc, &err, o->cfg->connector_timeout_ms, msg, sizeof msg);
        eng_logf(ENG_LOG_ERROR, "webhook registration of tenant %s: %s", tenant, msg);
        whh_answer_fail(a, rc == ENG_EBUDGET ? 504 : 500,
                        rc == ENG_EBUDGET ? "timeout" : "script_error", NULL, msg);
    } else if (lua_type(L, top + 1) != LUA_TSTRING && lua_type(L, top + 3) == LUA_TSTRING) {
        /* nil, nil, message: the store's webhooks could not be listed (scrubbed by the Lua) */
        char msg[480];
        snprintf(msg, sizeof msg, "%.470s", lua_tostring(L, top + 3));
        whh_answer_fail(a, 502, "upstream", NULL, msg);
    } else if (lua_type(L, top + 1) != LUA_TSTRING) {
        const char *field = lua_type(L, top + 2) == LUA_TSTRING ? lua_tostring(L, top + 2) : "";
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the stored woocommerce credentials have no %s: store it with the credentials "
                 "(the secret the store signs its webhooks with)",
                 field);
        whh_answer_fail(a, 422, "invalid_field", field, msg);
    } else {
        size_t len = 0;
        const char *result = lua_tolstring(L, top + 1, &len);
        whh_register_commit(o->st, tenant, result, len, a);
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT); /* free the strings that held secrets now */
    return 0;
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
    struct eng_connctx_opts o = {.cfg = k->cfg, .keys = k->keys, .st = st};
    struct eng_buf out;
    eng_buf_init(&out);
    eng_vm_set_context(vm, k->tenant, NULL);
    int rc = eng_whh_check(vm, &o, k->tenant, &out, &err);
    eng_vm_set_context(vm, NULL, NULL);
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

int eng_whh_check_all(struct eng_workers *w, const struct eng_config *cfg,
                      const struct eng_keyring *keys, struct eng_store *st, long long older_than_s,
                      int max, atomic_int *inflight, struct eng_err *err)
{
    static const char sql[] =
        "SELECT c.tenant_id FROM integration_credentials c LEFT JOIN settings s ON "
        "s.tenant_id = c.tenant_id AND s.key = '" ENG_WHH_SETTING "' WHERE c.platform = "
        "'woocommerce' AND c.is_active = 1 AND (json_extract(s.value, '$.checkedAt') IS NULL OR "
        "json_extract(s.value, '$.checkedAt') <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)) "
        "ORDER BY json_extract(s.value, '$.checkedAt') NULLS FIRST, c.tenant_id LIMIT ?2";
    char mod[48];
    snprintf(mod, sizeof mod, "-%lld seconds", older_than_s > 0 ? older_than_s : 0);
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, mod, strlen(mod));
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

struct eng_whh_timer {
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
static int whh_sleep(struct eng_whh_timer *t, long long s)
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
    struct eng_whh_timer *t = arg;
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
        int n = eng_whh_check_all(t->workers, t->cfg, t->keys, st, older, max, &t->inflight, &err);
        if (n < 0)
            eng_logf(ENG_LOG_ERROR, "webhook checks: %s", err.msg);
    }
    eng_store_close(st);
    return NULL;
}

int eng_whh_timer_start(const struct eng_config *cfg, const struct eng_keyring *keys,
                        struct eng_workers *w, struct eng_whh_timer **out, struct eng_err *err)
{
    *out = NULL;
    if (cfg->webhook_check_interval_s <= 0)
        return 0;
    struct eng_whh_timer *t = calloc(1, sizeof *t);
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
        eng_whh_timer_free(t);
        return eng_err_set(err, ENG_EIO, "cannot start the webhook check thread");
    }
    t->started = 1;
    *out = t;
    return 0;
}

void eng_whh_timer_stop(struct eng_whh_timer *t)
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

void eng_whh_timer_free(struct eng_whh_timer *t)
{
    if (t == NULL)
        return;
    eng_whh_timer_stop(t);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

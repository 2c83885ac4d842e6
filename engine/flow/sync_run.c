/*
 * sync_run.c - executing one claimed job on a worker: loading and starting the run, building
 * the connectors' contexts, the page loop (lib/sync.lua plans and writes each page under the
 * connector budget; sync_page.c reserves and records it), stop requests, leases, and the run's
 * end (state, reconciliation, errors summary, the cursor in sync_state).
 * Owns: nothing past a call. Must not: hold a transaction across a Lua call, or move the cursor
 * of a run that did not finish (cancelled, failed).
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "lua/connctx.h"
#include "base/log.h"
#include "flow/sync_int.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static int bind_s(struct eng_store_stmt *s, int i, const char *v)
{
    return v != NULL && *v != '\0' ? eng_store_bind_text(s, i, v, strlen(v))
                                   : eng_store_bind_null(s, i);
}

static void copy_col(struct eng_store_stmt *s, int col, char *buf, size_t size)
{
    const char *v = eng_store_column_text(s, col, NULL);
    snprintf(buf, size, "%s",
             v != NULL && eng_store_column_type(s, col) != ENG_STORE_NULL ? v : "");
}

/* ---- loading and starting ---- */

static int load_run(struct run *r, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(r->st,
                               "SELECT tenant_id, entity, flow, mode, dry_run, filters, state, "
                               "cursor_from, cancel_requested FROM sync_runs WHERE id = ?",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    bind_s(s, 1, r->id);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        copy_col(s, 0, r->tenant, sizeof r->tenant);
        copy_col(s, 1, r->entity, sizeof r->entity);
        copy_col(s, 2, r->flow, sizeof r->flow);
        copy_col(s, 3, r->mode, sizeof r->mode);
        r->dry_run = (int)eng_store_column_int64(s, 4);
        r->filters = eng_store_column_strdup(s, 5);
        copy_col(s, 6, r->state, sizeof r->state);
        copy_col(s, 7, r->cursor_from, sizeof r->cursor_from);
        r->cancelled = (int)eng_store_column_int64(s, 8);
        rc = 0;
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "sync run %s no longer exists", r->id);
    }
    eng_store_finalize(s);
    return rc;
}

/* queued -> running: fix the cursor the run starts from (once: a resumed run keeps it). */
static int start_run(struct run *r, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc;
    if (strcmp(r->state, "queued") == 0 && strcmp(r->mode, "incremental") == 0) {
        rc = eng_store_prepare(r->st,
                               "SELECT last_sync_at FROM sync_state WHERE tenant_id = ? AND "
                               "entity_type = ? AND flow = ?",
                               -1, ENG_STORE_TRUSTED, &s, err);
        if (rc != 0)
            return rc;
        bind_s(s, 1, r->tenant);
        bind_s(s, 2, r->entity);
        bind_s(s, 3, r->flow);
        rc = eng_store_step(s, err);
        if (rc == ENG_STORE_ROW)
            copy_col(s, 0, r->cursor_from, sizeof r->cursor_from);
        eng_store_finalize(s);
        if (rc < 0)
            return rc;
    }
    if (strcmp(r->state, "queued") == 0) {
        rc = eng_store_prepare(r->st,
                               "UPDATE sync_runs SET state = 'running', started_at = coalesce("
                               "started_at, " NOW "), cursor_from = ?2, updated_at = " NOW
                               " WHERE id = ?1 AND state = 'queued'",
                               -1, ENG_STORE_TRUSTED, &s, err);
        if (rc != 0)
            return rc;
        bind_s(s, 1, r->id);
        bind_s(s, 2, r->cursor_from);
        rc = eng_store_step(s, err);
        eng_store_finalize(s);
        if (rc < 0)
            return rc;
        snprintf(r->state, sizeof r->state, "running");
    }
    /* incremental: re-read an overlap window before the cursor; no cursor: a full read */
    r->since[0] = '\0';
    if (strcmp(r->mode, "incremental") == 0 && r->cursor_from[0] != '\0') {
        rc = eng_store_prepare(r->st,
                               "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?, printf('-%d seconds', ?))",
                               -1, ENG_STORE_TRUSTED, &s, err);
        if (rc != 0)
            return rc;
        bind_s(s, 1, r->cursor_from);
        eng_store_bind_int64(s, 2, ENG_SYNC_OVERLAP_S);
        rc = eng_store_step(s, err);
        if (rc == ENG_STORE_ROW)
            copy_col(s, 0, r->since, sizeof r->since);
        eng_store_finalize(s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The tenant's transformer_config JSON text (malloc'd) or NULL. */
static char *tenant_config(struct run *r)
{
    struct eng_store_stmt *s = NULL;
    char *v = NULL;
    if (eng_store_prepare(r->st,
                          "SELECT value FROM settings WHERE tenant_id = ? AND key = "
                          "'transformer_config'",
                          -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return NULL;
    bind_s(s, 1, r->tenant);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        v = eng_store_column_strdup(s, 0);
    eng_store_finalize(s);
    return v;
}

/* ---- the end of a run ---- */

static int finish_run(struct run *r, const char *state, const char *reason, struct eng_err *err)
{
    if (r->id[0] == '\0')
        return 0;
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_exec(r->st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    /* final state: succeeded/partial from the counts unless told */
    rc = eng_store_prepare(
        r->st,
        "UPDATE sync_runs SET state = coalesce(?2, CASE WHEN records_failed > 0 THEN 'partial' "
        "ELSE 'succeeded' END), error = ?3, finished_at = " NOW ", updated_at = " NOW
        ", progress = CASE WHEN ?2 IS NULL THEN 1 ELSE progress END, "
        "source_total_minor = coalesce((SELECT sum(source_total_minor) FROM sync_records WHERE "
        "run_id = ?1), 0), target_total_minor = coalesce((SELECT sum(target_total_minor) FROM "
        "sync_records WHERE run_id = ?1), 0), "
        "currency = (SELECT CASE WHEN count(DISTINCT currency) > 1 THEN 'mixed' ELSE "
        "max(currency) END FROM sync_records WHERE run_id = ?1), "
        "reconciled_count = (SELECT count(*) FROM sync_records WHERE run_id = ?1 AND "
        "source_total_minor IS NOT NULL AND source_total_minor = target_total_minor), "
        "mismatch_count = (SELECT count(*) FROM sync_records WHERE run_id = ?1 AND "
        "source_total_minor IS NOT NULL AND target_total_minor IS NOT NULL AND "
        "source_total_minor <> target_total_minor), "
        "reconciliation = (SELECT json_object('notWritten', (SELECT count(*) FROM sync_records "
        "WHERE run_id = ?1 AND source_total_minor IS NOT NULL AND target_total_minor IS NULL), "
        "'notWrittenSourceMinor', (SELECT coalesce(sum(source_total_minor), 0) FROM sync_records "
        "WHERE run_id = ?1 AND target_total_minor IS NULL), 'mismatches', "
        "json_group_array(json_object("
        "'sourceId', source_id, 'currency', currency, 'sourceTotalMinor', source_total_minor, "
        "'targetTotalMinor', target_total_minor, 'differenceMinor', target_total_minor - "
        "source_total_minor))) FROM (SELECT * FROM sync_records WHERE run_id = ?1 AND "
        "source_total_minor IS NOT NULL AND target_total_minor IS NOT NULL AND "
        "source_total_minor <> target_total_minor ORDER BY id LIMIT 100)), "
        "errors_summary = (SELECT json_group_array(json_object('code', code, 'count', n, "
        "'example', ex)) FROM (SELECT coalesce(error_code, 'error') AS code, count(*) AS n, "
        "min(error) AS ex FROM sync_records WHERE run_id = ?1 AND outcome IN ('failed', "
        "'conflict') GROUP BY 1 ORDER BY n DESC LIMIT 20)) "
        "WHERE id = ?1 RETURNING state, dry_run, cursor_to",
        -1, ENG_STORE_TRUSTED, &s, err);
    char final[16] = "", cursor_to[40] = "";
    int dry = 1;
    if (rc == 0) {
        bind_s(s, 1, r->id);
        bind_s(s, 2, state);
        bind_s(s, 3, reason);
        rc = eng_store_step(s, err);
        if (rc == ENG_STORE_ROW) {
            copy_col(s, 0, final, sizeof final);
            dry = (int)eng_store_column_int64(s, 1);
            copy_col(s, 2, cursor_to, sizeof cursor_to);
            rc = eng_store_step(s, err);
        }
        eng_store_finalize(s);
        if (rc > 0)
            rc = 0;
    }
    /* the cursor moves only when the run went through (never backwards) */
    if (rc == 0 && !dry && cursor_to[0] != '\0' &&
        (strcmp(final, "succeeded") == 0 || strcmp(final, "partial") == 0)) {
        rc = eng_store_prepare(
            r->st,
            "INSERT INTO sync_state (tenant_id, entity_type, flow, last_sync_at, last_run_id) "
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, entity_type, flow) DO UPDATE SET "
            "last_sync_at = CASE WHEN last_sync_at IS NULL OR excluded.last_sync_at > "
            "last_sync_at THEN excluded.last_sync_at ELSE last_sync_at END, last_run_id = "
            "excluded.last_run_id, updated_at = " NOW,
            -1, ENG_STORE_TRUSTED, &s, err);
        if (rc == 0) {
            bind_s(s, 1, r->tenant);
            bind_s(s, 2, r->entity);
            bind_s(s, 3, r->flow);
            bind_s(s, 4, cursor_to);
            bind_s(s, 5, r->id);
            rc = eng_store_step(s, err);
            eng_store_finalize(s);
            if (rc > 0)
                rc = 0;
        }
    }
    if (rc == 0)
        rc = eng_store_exec(r->st, "COMMIT", err);
    if (rc != 0)
        eng_store_exec(r->st, "ROLLBACK", NULL);
    else
        /* a run that failed for a run-level cause says why on its line, as in its row */
        eng_log_kv(reason != NULL ? ENG_LOG_WARN : ENG_LOG_INFO, r->tenant, r->id,
                   "sync run finished",
                   (const char *const[]){"flow", r->flow, "state", final, reason ? "error" : NULL,
                                         reason, NULL});
    return rc;
}

/* ---- Lua calls ---- */

/* Call mod[fn] with the nargs values on top; results or (nil, message, retryable) normalised:
 * 0 with nres values pushed, or a negative code with err filled (nothing pushed) and
 * *retryable set. [-nargs, +(nres|0), -] */
static int sync_call(struct run *r, int mod, const char *fn, int nargs, int nres, int *retryable,
                     struct eng_err *err)
{
    lua_State *L = eng_vm_state(r->vm);
    lua_getfield(L, mod, fn);
    lua_insert(L, -nargs - 1);
    int want = nres < 3 ? 3 : nres;
    int rc = eng_vm_pcall_budget(r->vm, nargs, want, r->env->cfg->connector_timeout_ms * 4, err);
    *retryable = 0;
    if (rc != 0) {
        /* budget and memory: the page may succeed on a later try */
        *retryable = rc == ENG_EBUDGET || rc == ENG_ENOMEM;
        return rc;
    }
    if (lua_isnil(L, -want)) {
        const char *m = lua_tostring(L, -want + 1);
        eng_err_set(err, ENG_ESCRIPT, "%s", m != NULL ? m : "the sync pipeline failed");
        *retryable = lua_toboolean(L, -want + 2);
        lua_pop(L, want);
        return ENG_ESCRIPT;
    }
    lua_pop(L, want - nres);
    return 0;
}

static int push_ctx(struct run *r, const char *platform, struct eng_err *err)
{
    struct eng_connctx_opts o = {.cfg = r->env->cfg, .keys = r->env->keys, .st = r->st};
    return eng_connctx_push(r->vm, &o, r->tenant, platform, err);
}

static int stop_requested(struct run *r)
{
    if (r->id[0] == '\0')
        return 0;
    struct eng_store_stmt *s = NULL;
    int yes = 0;
    if (eng_store_prepare(r->st, "SELECT cancel_requested FROM sync_runs WHERE id = ?", -1,
                          ENG_STORE_TRUSTED, &s, NULL) != 0)
        return 0;
    bind_s(s, 1, r->id);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        yes = (int)eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return yes;
}

/* The pages of a run (or of a record/retry job): Lua plans and writes, C persists. */
static enum eng_sync_outcome run_pages(struct run *r, struct eng_err *err)
{
    lua_State *L = eng_vm_state(r->vm);
    int top = lua_gettop(L);
    int retry = 0, rc;
    enum eng_sync_outcome out = ENG_SYNC_DONE;
    static const char boot[] = "return require('lib.sync')";
    char *config = tenant_config(r);

    if (!lua_checkstack(L, 40)) {
        free(config);
        return eng_err_set(err, ENG_ENOMEM, "out of Lua stack"), ENG_SYNC_RETRY;
    }
    rc = eng_vm_load(r->vm, "=sync", boot, sizeof boot - 1, err);
    if (rc == 0)
        rc = eng_vm_pcall(r->vm, 0, 1, err);
    if (rc != 0) {
        free(config);
        return ENG_SYNC_RETRY; /* a broken lib/sync.lua: a fixed version is picked up later */
    }
    int mod = lua_gettop(L);
    lua_pushstring(L, r->flow);
    rc = sync_call(r, mod, "c_platforms", 1, 2, &retry, err);
    if (rc == 0) {
        char src[64], dst[64];
        snprintf(src, sizeof src, "%s", lua_tostring(L, -2));
        snprintf(dst, sizeof dst, "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        /* spec */
        lua_createtable(L, 0, 12);
        lua_pushstring(L, r->tenant);
        lua_setfield(L, -2, "tenant");
        if (r->id[0] != '\0') {
            lua_pushstring(L, r->id);
            lua_setfield(L, -2, "run_id");
        }
        lua_pushstring(L, r->flow);
        lua_setfield(L, -2, "flow");
        lua_pushstring(L, r->entity);
        lua_setfield(L, -2, "entity");
        lua_pushstring(L, r->mode);
        lua_setfield(L, -2, "mode");
        lua_pushboolean(L, r->dry_run);
        lua_setfield(L, -2, "dry_run");
        lua_pushstring(L, r->filters != NULL ? r->filters : "{}");
        lua_setfield(L, -2, "filters");
        if (r->since[0] != '\0') {
            lua_pushstring(L, r->since);
            lua_setfield(L, -2, "since");
        }
        if (config != NULL) {
            lua_pushstring(L, config);
            lua_setfield(L, -2, "config");
        }
        if (r->ids != NULL) {
            lua_pushstring(L, r->ids);
            lua_setfield(L, -2, "ids_json");
        }
        rc = push_ctx(r, src, err);
        if (rc == 0 && (rc = push_ctx(r, dst, err)) != 0)
            lua_pop(L, 1);
        if (rc == 0)
            rc = sync_call(r, mod, "c_open", 3, 1, &retry, err);
        else
            lua_pop(L, 1); /* spec */
        /* credentials missing or unreadable: nobody can fix that by waiting */
    }
    free(config);
    if (rc != 0) {
        lua_settop(L, top);
        return retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
    }
    int state = lua_gettop(L);
    struct eng_sync_names nm;
    eng_sync_read_names(L, state, &nm);

    for (;;) {
        if (r->env->stopping != NULL && atomic_load(r->env->stopping)) {
            out = ENG_SYNC_GIVE_BACK;
            break;
        }
        if (stop_requested(r)) {
            r->cancelled = 1;
            break;
        }
        if (eng_queue_extend(r->st, r->job->id, r->owner, ENG_SYNC_LEASE_MS, err) ==
            ENG_ENOTFOUND) {
            out = ENG_SYNC_LOST;
            break;
        }
        lua_pushvalue(L, state);
        rc = sync_call(r, mod, "c_next_page", 1, 1, &retry, err);
        if (rc != 0) {
            out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
            break;
        }
        if (!lua_istable(L, -1)) { /* false: the source is exhausted */
            lua_pop(L, 1);
            break;
        }
        int page = lua_gettop(L);
        lua_getfield(L, page, "items");
        int items = lua_gettop(L);
        int n = (int)lua_rawlen(L, items);
        lua_getfield(L, page, "cancelled");
        int cancelled = lua_toboolean(L, -1);
        lua_pop(L, 1);
        struct eng_buf refused;
        eng_buf_init(&refused);
        if (!r->dry_run && n > 0 &&
            eng_sync_reserve_creates(r, L, items, n, &nm, &refused, err) != 0) {
            eng_buf_free(&refused);
            out = ENG_SYNC_RETRY;
            break;
        }
        lua_pushvalue(L, state);
        lua_pushvalue(L, page);
        rc = eng_vm_push_string(r->vm, refused.data != NULL ? refused.data : "", refused.len, err);
        eng_buf_free(&refused);
        if (rc != 0) {
            lua_pop(L, 2);
            out = ENG_SYNC_RETRY;
            break;
        }
        rc = sync_call(r, mod, "c_write", 3, 1, &retry, err);
        if (rc != 0) {
            out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
            break;
        }
        lua_pop(L, 1); /* the same page table, items filled in */
        rc = eng_sync_commit_page(r, L, page, items, n, &nm, err);
        lua_settop(L, state);
        if (rc != 0) {
            out = ENG_SYNC_RETRY;
            break;
        }
        if (cancelled) {
            r->cancelled = 1;
            break;
        }
    }
    lua_settop(L, top);
    return out;
}

/* ---- jobs ---- */

static enum eng_sync_outcome execute_run(struct run *r, struct eng_err *err)
{
    snprintf(r->id, sizeof r->id, "%s", r->job->run_id != NULL ? r->job->run_id : "");
    if (r->id[0] == '\0')
        return eng_err_set(err, ENG_EINVAL, "run job without a run id"), ENG_SYNC_FATAL;
    int rc = load_run(r, err);
    if (rc == ENG_ENOTFOUND)
        return ENG_SYNC_DONE;
    if (rc != 0)
        return ENG_SYNC_RETRY;
    if (strcmp(r->state, "queued") != 0 && strcmp(r->state, "running") != 0)
        return ENG_SYNC_DONE; /* already over (a stop before it started) */
    if (r->cancelled)
        return finish_run(r, "cancelled", NULL, err) == 0 ? ENG_SYNC_DONE : ENG_SYNC_RETRY;
    if (start_run(r, err) != 0)
        return ENG_SYNC_RETRY;
    eng_vm_set_context(r->vm, r->tenant, r->id);
    enum eng_sync_outcome out = run_pages(r, err);
    eng_vm_set_context(r->vm, NULL, NULL);
    switch (out) {
    case ENG_SYNC_DONE:
        rc = finish_run(r, r->cancelled ? "cancelled" : NULL, NULL, err);
        return rc == 0 ? ENG_SYNC_DONE : ENG_SYNC_RETRY;
    case ENG_SYNC_FATAL:
        (void)finish_run(r, "failed", err->msg, NULL);
        return ENG_SYNC_DONE;
    case ENG_SYNC_RETRY:
        /* the run stays running; its job backs off. Record why, for the status page (the
         * run's end replaces it). */
        {
            struct eng_store_stmt *s = NULL;
            if (eng_store_prepare(r->st,
                                  "UPDATE sync_runs SET error = 'retrying after: ' || ?2, "
                                  "updated_at = " NOW " WHERE id = ?1",
                                  -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
                bind_s(s, 1, r->id);
                bind_s(s, 2, err->msg);
                eng_store_step(s, NULL);
                eng_store_finalize(s);
            }
        }
        if (r->job->attempts >= r->job->max_attempts) {
            finish_run(r, "failed", err->msg, NULL);
            return ENG_SYNC_DONE;
        }
        return ENG_SYNC_RETRY;
    default:
        return out;
    }
}

/* A single-record job (webhook) or a retry: the same pipeline over given source ids, without a
 * run row. payload: {"source", "entity", "id" | "ids": [...], "flow"?} */
static enum eng_sync_outcome execute_records(struct run *r, struct eng_err *err)
{
    lua_State *L = eng_vm_state(r->vm);
    struct eng_err jerr = {0};
    snprintf(r->tenant, sizeof r->tenant, "%s", r->job->tenant);
    snprintf(r->mode, sizeof r->mode, "full");
    const char *payload = r->job->payload != NULL ? r->job->payload : "{}";
    if (eng_vm_push_string(r->vm, payload, strlen(payload), err) != 0)
        return ENG_SYNC_RETRY;
    /* decode in Lua to keep C free of a JSON walker: lib.sync.c_job(payload) -> entity, flow,
     * ids JSON */
    static const char boot[] = "return require('lib.sync').c_job";
    int rc = eng_vm_load(r->vm, "=sync-job", boot, sizeof boot - 1, &jerr);
    if (rc == 0)
        rc = eng_vm_pcall(r->vm, 0, 1, &jerr);
    if (rc != 0) {
        lua_pop(L, 1);
        eng_err_set(err, jerr.code, "%s", jerr.msg);
        return ENG_SYNC_RETRY;
    }
    lua_insert(L, -2);
    rc = eng_vm_pcall(r->vm, 1, 4, err);
    if (rc != 0)
        return ENG_SYNC_FATAL;
    if (lua_isnil(L, -4)) {
        const char *m = lua_tostring(L, -3);
        eng_err_set(err, ENG_EINVAL, "%s", m != NULL ? m : "bad job payload");
        lua_pop(L, 4);
        return ENG_SYNC_FATAL;
    }
    snprintf(r->entity, sizeof r->entity, "%s", lua_tostring(L, -4));
    snprintf(r->flow, sizeof r->flow, "%s", lua_tostring(L, -3));
    const char *ids = lua_tostring(L, -2);
    r->ids = ids != NULL ? strdup(ids) : NULL;
    char source[32];
    snprintf(source, sizeof source, "%s", lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) : "");
    lua_pop(L, 4);
    if (r->flow[0] == '\0') {
        /* the entity's default flow when it reads the record's source; an event of another
         * source (a QuickBooks change) has no flow that reads it yet: nothing to do, not an
         * error */
        if (eng_sync_default_flow(r->env->policy, source[0] ? source : NULL, r->entity, r->flow,
                                  sizeof r->flow) != 0) {
            eng_log_kv(ENG_LOG_INFO, r->tenant, NULL, "no flow reads this record; job done",
                       (const char *const[]){"source", source, "entity", r->entity, NULL});
            return ENG_SYNC_DONE;
        }
    }
    eng_vm_set_context(r->vm, r->tenant, NULL);
    enum eng_sync_outcome out = run_pages(r, err);
    eng_vm_set_context(r->vm, NULL, NULL);
    return out;
}

/* A webhook sweep after downtime ({"source", "reason", "since"}): every default flow reading
 * that source, incrementally from since minus the overlap window, outside any run. */
static enum eng_sync_outcome execute_sweep(struct run *r, struct eng_err *err)
{
    lua_State *L = eng_vm_state(r->vm);
    snprintf(r->tenant, sizeof r->tenant, "%s", r->job->tenant);
    snprintf(r->mode, sizeof r->mode, "incremental");
    static const char *const entities[] = {"orders", "customers", "products"};
    char cand[512] = "";
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        size_t n = strlen(cand);
        char f[72];
        if (eng_sync_default_flow(r->env->policy, NULL, entities[i], f, sizeof f) == 0)
            snprintf(cand + n, sizeof cand - n, "%s%s=%s", n ? "," : "", entities[i], f);
    }
    static const char boot[] = "return require('lib.sync').c_sweep";
    const char *payload = r->job->payload != NULL ? r->job->payload : "{}";
    int top = lua_gettop(L);
    int rc = eng_vm_load(r->vm, "=sync-sweep", boot, sizeof boot - 1, err);
    if (rc == 0)
        rc = eng_vm_pcall(r->vm, 0, 1, err);
    if (rc != 0)
        return ENG_SYNC_RETRY;
    if (eng_vm_push_string(r->vm, payload, strlen(payload), err) != 0 ||
        eng_vm_push_string(r->vm, cand, strlen(cand), err) != 0) {
        lua_settop(L, top);
        return ENG_SYNC_RETRY;
    }
    rc = eng_vm_pcall(r->vm, 2, 2, err);
    if (rc != 0)
        return ENG_SYNC_FATAL;
    if (lua_isnil(L, -2)) {
        eng_err_set(err, ENG_EINVAL, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "bad sweep");
        lua_pop(L, 2);
        return ENG_SYNC_FATAL;
    }
    char since[40], flows[512];
    snprintf(since, sizeof since, "%s", lua_tostring(L, -2));
    snprintf(flows, sizeof flows, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 2);
    r->since[0] = '\0';
    if (since[0] != '\0') {
        struct eng_store_stmt *s = NULL;
        if (eng_store_prepare(r->st,
                              "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?, printf('-%d seconds', ?))",
                              -1, ENG_STORE_TRUSTED, &s, err) != 0)
            return ENG_SYNC_RETRY;
        eng_store_bind_text(s, 1, since, strlen(since));
        eng_store_bind_int64(s, 2, ENG_SYNC_OVERLAP_S);
        if (eng_store_step(s, err) == ENG_STORE_ROW && eng_store_column_text(s, 0, NULL) != NULL)
            snprintf(r->since, sizeof r->since, "%s", eng_store_column_text(s, 0, NULL));
        eng_store_finalize(s);
    }
    enum eng_sync_outcome out = ENG_SYNC_DONE;
    eng_vm_set_context(r->vm, r->tenant, NULL);
    for (char *save = NULL, *pair = strtok_r(flows, ",", &save); pair != NULL;
         pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        snprintf(r->entity, sizeof r->entity, "%s", pair);
        snprintf(r->flow, sizeof r->flow, "%s", eq + 1);
        enum eng_sync_outcome o = run_pages(r, err);
        if (o != ENG_SYNC_DONE) {
            out = o;
            break;
        }
    }
    eng_vm_set_context(r->vm, NULL, NULL);
    return out;
}

enum eng_sync_outcome eng_sync_execute(struct eng_vm *vm, struct eng_store *st,
                                       const struct eng_sync_env *env, const struct eng_job *job,
                                       const char *owner, struct eng_err *err)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.env = env, r.st = st, r.vm = vm, r.job = job, r.owner = owner;
    enum eng_sync_outcome out;
    if (strcmp(job->kind, "run") == 0)
        out = execute_run(&r, err);
    else if (strcmp(job->kind, "record") == 0 || strcmp(job->kind, "retry") == 0)
        out = execute_records(&r, err);
    else if (strcmp(job->kind, "sweep") == 0)
        out = execute_sweep(&r, err);
    else
        out = (eng_err_set(err, ENG_EINVAL, "unknown job kind '%s'", job->kind), ENG_SYNC_FATAL);
    free(r.filters);
    free(r.ids);
    return out;
}

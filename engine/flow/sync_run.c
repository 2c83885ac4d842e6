/*
 * sync_run.c - executing one claimed job on a worker: loading and starting the run, building
 * the connectors' contexts, the page loop (lib/sync.lua plans and writes each page under the
 * connector budget; sync_page.c reserves and records it), stop requests, leases, and the run's
 * end (state, reconciliation, errors summary, the cursor in sync_state).
 * Owns: nothing past a call. Must not: hold a transaction across a Lua call, or move the cursor
 * of a run that did not finish (cancelled, failed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "data/sync_records.h"
#include "flow/sync_int.h"
#include "lua/vm.h"

/* A run's text fields hold "" for "none": the store and the scripts see NULL / nil. The one
 * place that meaning is spelled out. */
static void copy_col(struct eng_store_stmt *s, int col, char *buf, size_t size)
{
    const char *v = eng_store_column_text(s, col, NULL);
    snprintf(buf, size, "%s",
             v != NULL && eng_store_column_type(s, col) != ENG_STORE_NULL ? v : "");
}

int eng_sync_step_once(struct eng_store_stmt *s, struct eng_err *err)
{
    int rc = eng_store_step(s, err);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_sync_end_tx(struct eng_store *st, int rc, struct eng_err *err)
{
    if (rc == 0)
        rc = eng_store_exec(st, "COMMIT", err);
    if (rc != 0)
        eng_store_exec(st, "ROLLBACK", NULL);
    return rc;
}

/* r->since = from minus the overlap window (ENG_SYNC_OVERLAP_S), to the second; "" when from is
 * "" (a full read). */
static int since_overlap(struct run *r, const char *from, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    r->since[0] = '\0';
    if (from == NULL || from[0] == '\0')
        return 0;
    int rc =
        eng_store_prepare(r->st, "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?1, (-?2) || ' seconds')",
                          -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_str(s, 1, from);
    eng_store_bind_int64(s, 2, ENG_SYNC_OVERLAP_S);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW)
        copy_col(s, 0, r->since, sizeof r->since);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
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
    eng_store_bind_str(s, 1, r->id);
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
        eng_store_bind_str(s, 1, r->tenant);
        eng_store_bind_str(s, 2, r->entity);
        eng_store_bind_str(s, 3, r->flow);
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
                               "started_at, " ENG_STORE_NOW
                               "), cursor_from = ?2, updated_at = " ENG_STORE_NOW
                               " WHERE id = ?1 AND state = 'queued'",
                               -1, ENG_STORE_TRUSTED, &s, err);
        if (rc != 0)
            return rc;
        eng_store_bind_str(s, 1, r->id);
        eng_store_bind_str(s, 2, eng_sync_nullable(r->cursor_from));
        rc = eng_store_step(s, err);
        eng_store_finalize(s);
        if (rc < 0)
            return rc;
        snprintf(r->state, sizeof r->state, "running");
    }
    /* incremental: re-read an overlap window before the cursor; no cursor: a full read */
    r->since[0] = '\0';
    if (strcmp(r->mode, "incremental") == 0)
        return since_overlap(r, r->cursor_from, err);
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
    eng_store_bind_str(s, 1, r->tenant);
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
        "ELSE 'succeeded' END), error = ?3, finished_at = " ENG_STORE_NOW
        ", updated_at = " ENG_STORE_NOW
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
        eng_store_bind_str(s, 1, r->id);
        eng_store_bind_str(s, 2, eng_sync_nullable(state));
        eng_store_bind_str(s, 3, eng_sync_nullable(reason));
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
            "last_sync_at = CASE WHEN sync_state.last_sync_at IS NULL OR excluded.last_sync_at > "
            "sync_state.last_sync_at THEN excluded.last_sync_at ELSE sync_state.last_sync_at END, "
            "last_run_id = "
            "excluded.last_run_id, updated_at = " ENG_STORE_NOW,
            -1, ENG_STORE_TRUSTED, &s, err);
        if (rc == 0) {
            eng_store_bind_str(s, 1, r->tenant);
            eng_store_bind_str(s, 2, r->entity);
            eng_store_bind_str(s, 3, r->flow);
            eng_store_bind_str(s, 4, cursor_to);
            eng_store_bind_str(s, 5, r->id);
            rc = eng_sync_step_once(s, err);
        }
    }
    rc = eng_sync_end_tx(r->st, rc, err);
    if (rc == 0)
        /* a run that failed for a run-level cause says why on its line, as in its row */
        eng_log_kv(reason != NULL ? ENG_LOG_WARN : ENG_LOG_INFO, r->tenant, r->id,
                   "sync run finished",
                   (const char *const[]){"flow", r->flow, "state", final, reason ? "error" : NULL,
                                         reason, NULL});
    return rc;
}

/* ---- calls into lib/sync.lua (through eng_vm_call only) ---- */

/* The connector budget of a page's calls (planning and writing wait on remote systems). */
static long long page_budget(const struct run *r)
{
    return r->env->cfg->connector_timeout_ms * 4;
}

/* After a call of a lib.sync entry point (which answers err, retryable, results...): 0, or a
 * negative code with err filled and *retryable set. rc is eng_vm_call's; msg (freed here) and
 * retry are the entry point's failure form. The entry points catch their own errors, so
 * ENG_ESCRIPT from the call itself means lib/sync.lua does not load: a fixed version is picked
 * up later, like a budget or memory failure the page may not meet on a later try. */
static int script_result(int rc, char *msg, int retry, int *retryable, struct eng_err *err)
{
    *retryable = 0;
    if (rc != 0) {
        free(msg);
        *retryable = rc == ENG_EBUDGET || rc == ENG_ENOMEM || rc == ENG_ESCRIPT;
        return rc;
    }
    if (msg != NULL) {
        eng_err_set(err, ENG_ESCRIPT, "%s", msg);
        free(msg);
        *retryable = retry;
        return ENG_ESCRIPT;
    }
    return 0;
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
    eng_store_bind_str(s, 1, r->id);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        yes = (int)eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return yes;
}

static int add_done(void *ud, const char *source_id)
{
    struct eng_buf *b = ud; /* "[" then the ids so far */
    if (b->len > 1)
        eng_buf_putc(b, ',');
    eng_buf_json_str(b, source_id, strlen(source_id));
    return b->oom;
}

/* The source ids the run already recorded, as a JSON array for c_open (a resumed run skips
 * them); NULL (nil) outside a run. */
static int done_ids(struct run *r, char **json, struct eng_err *err)
{
    *json = NULL;
    if (r->id[0] == '\0')
        return 0;
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_putc(&b, '[');
    int rc = eng_sync_records_each_done(r->st, r->id, add_done, &b, err);
    eng_buf_putc(&b, ']');
    if (rc == 0 && (*json = eng_buf_take(&b, NULL)) == NULL)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory");
    eng_buf_free(&b);
    return rc;
}

/* Open the run's pipeline: *st_ref gets lib.sync's state, nm the flow's systems. */
static enum eng_sync_outcome open_run(struct run *r, int *st_ref, struct eng_sync_names *nm,
                                      struct eng_err *err)
{
    char *msg = NULL, *src = NULL, *dst = NULL;
    int retry = 0;
    *st_ref = ENG_VM_NOREF;
    int rc = eng_vm_call(r->vm, "lib.sync", "c_platforms", page_budget(r), err, "s>sbss", r->flow,
                         &msg, &retry, &src, &dst);
    rc = script_result(rc, msg, retry, &retry, err);
    if (rc == 0 && (src == NULL || dst == NULL))
        rc = eng_err_set(err, ENG_ESCRIPT, "the flow names no connectors");
    char *config = NULL, *done = NULL;
    if (rc == 0) {
        config = tenant_config(r);
        rc = done_ids(r, &done, err);
        if (rc != 0)
            retry = 1; /* the store: try again later */
    }
    if (rc == 0) {
        struct eng_connctx_opts o = {.cfg = r->env->cfg, .keys = r->env->keys, .st = r->st};
        char *names[4] = {NULL, NULL, NULL, NULL};
        msg = NULL;
        /* credentials missing or unreadable: nobody can fix that by waiting */
        rc = eng_vm_call(r->vm, "lib.sync", "c_open", page_budget(r), err, "sssssbjssrjcc>sbrssss",
                         r->tenant, eng_sync_nullable(r->id), r->flow, r->entity, r->mode,
                         r->dry_run, r->filters != NULL ? r->filters : "{}",
                         eng_sync_nullable(r->since), config, r->ids_ref, done, &o, r->tenant, src,
                         &o, r->tenant, dst, &msg, &retry, st_ref, &names[0], &names[1], &names[2],
                         &names[3]);
        rc = script_result(rc, msg, retry, &retry, err);
        char *dsts[4] = {nm->ss, nm->se, nm->ts, nm->tt};
        for (int i = 0; i < 4; i++) {
            snprintf(dsts[i], 64, "%s", names[i] != NULL ? names[i] : "");
            free(names[i]);
        }
        if (rc != 0) {
            eng_vm_unref(r->vm, *st_ref);
            *st_ref = ENG_VM_NOREF;
        }
    }
    free(config);
    free(done);
    free(src);
    free(dst);
    if (rc != 0)
        return retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
    return ENG_SYNC_DONE;
}

/* Plan one page (c_next_page): *page_ref gets the page (ENG_VM_NOREF when the source is
 * exhausted, or *drain: record every page in flight first, then ask again) and planned its
 * items, copied into C. */
static int next_page(struct run *r, int st_ref, int *page_ref, struct eng_sync_page *planned,
                     int *drain, int *retryable, struct eng_err *err)
{
    char *msg = NULL, *view = NULL;
    int retry = 0, ref = ENG_VM_NOREF;
    *page_ref = ENG_VM_NOREF;
    *drain = 0;
    memset(planned, 0, sizeof *planned);
    int rc = eng_vm_call(r->vm, "lib.sync", "c_next_page", page_budget(r), err, "r>sbrjb", st_ref,
                         &msg, &retry, &ref, &view, drain);
    rc = script_result(rc, msg, retry, retryable, err);
    if (rc == 0 && view != NULL) {
        rc = eng_sync_page_read(view, planned, err);
        *retryable = rc == ENG_ENOMEM;
    }
    if (rc == 0 && view != NULL)
        *page_ref = ref;
    else
        eng_vm_unref(r->vm, ref);
    free(view);
    return rc;
}

/* Send the planned page (c_send) with the refused creates: lib.sync writes it now or leaves
 * its batch in flight. *more: whether another page may be sent before one is collected. */
static int send_page(struct run *r, int st_ref, int page_ref, const char *refused, int *more,
                     int *retryable, struct eng_err *err)
{
    char *msg = NULL;
    int retry = 0, m = 0;
    long long n = 0;
    int rc = eng_vm_call(r->vm, "lib.sync", "c_send", page_budget(r), err, "rrj>sbib", st_ref,
                         page_ref, refused, &msg, &retry, &n, &m);
    rc = script_result(rc, msg, retry, retryable, err);
    if (rc == 0)
        *more = m;
    return rc;
}

/* Collect the oldest page sent (c_collect), written: written gets its items; ENG_ENOTFOUND
 * when none is in flight. *more as send_page's. */
static int collect_page(struct run *r, int st_ref, struct eng_sync_page *written, int *more,
                        int *retryable, struct eng_err *err)
{
    char *msg = NULL, *view = NULL;
    int retry = 0, m = 1;
    memset(written, 0, sizeof *written);
    int rc = eng_vm_call(r->vm, "lib.sync", "c_collect", page_budget(r), err, "r>sbjb", st_ref,
                         &msg, &retry, &view, &m);
    rc = script_result(rc, msg, retry, retryable, err);
    if (rc == 0 && view == NULL)
        rc = ENG_ENOTFOUND;
    else if (rc == 0) {
        rc = eng_sync_page_read(view, written, err);
        *retryable = rc == ENG_ENOMEM;
    }
    if (rc == 0)
        *more = m;
    free(view);
    return rc;
}

/* The pages of a run (or of a record/retry job): Lua plans and writes, C persists. A page is
 * copied into C items before any transaction opens; no Lua value is read inside one. Pages
 * are pipelined: while up to lib.sync's limit of pages have their batch in flight (send), the
 * next is planned and its creates reserved; each is recorded as soon as it is collected, in
 * the order they were sent. A stop or a cancel still records what is in flight first. */
static enum eng_sync_outcome run_pages(struct run *r, struct eng_err *err)
{
    int st_ref = ENG_VM_NOREF, retry = 0, rc;
    struct eng_sync_names nm;
    memset(&nm, 0, sizeof nm);
    enum eng_sync_outcome out = open_run(r, &st_ref, &nm, err);
    if (out != ENG_SYNC_DONE)
        return out;

    int inflight = 0, more = 1, ending = 0; /* ending: no page is planned any more */
    int drain = 0; /* every page in flight is recorded before the next is planned */
    for (;;) {
        if (!ending && r->env->stopping != NULL && atomic_load(r->env->stopping)) {
            out = ENG_SYNC_GIVE_BACK;
            ending = 1;
        }
        if (!ending && stop_requested(r)) {
            r->cancelled = 1;
            ending = 1;
        }
        if (eng_queue_extend(r->st, r->job->id, r->owner, ENG_SYNC_LEASE_MS, err) ==
            ENG_ENOTFOUND) {
            out = ENG_SYNC_LOST;
            break;
        }
        eng_workers_beat(NULL); /* a run that keeps moving is not stuck (flow/worker.h) */
        if (inflight == 0)
            drain = 0;
        if (inflight > 0 && (ending || !more || drain)) {
            struct eng_sync_page written;
            rc = collect_page(r, st_ref, &written, &more, &retry, err);
            if (rc == ENG_ENOTFOUND) {
                inflight = 0;
                continue;
            }
            if (rc != 0) {
                eng_sync_page_free(&written);
                out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
                break;
            }
            inflight--;
            rc = eng_sync_commit_page(r, &written, &nm, err);
            eng_sync_page_free(&written);
            if (rc != 0) {
                out = ENG_SYNC_RETRY;
                break;
            }
            continue;
        }
        if (ending)
            break;
        int page_ref = ENG_VM_NOREF;
        struct eng_sync_page planned;
        rc = next_page(r, st_ref, &page_ref, &planned, &drain, &retry, err);
        if (rc != 0) {
            eng_sync_page_free(&planned);
            out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
            break;
        }
        if (page_ref == ENG_VM_NOREF && drain)
            continue;
        if (page_ref == ENG_VM_NOREF) { /* the source is exhausted: collect what is in flight */
            ending = 1;
            continue;
        }
        if (planned.cancelled) {
            r->cancelled = 1;
            ending = 1;
        }
        struct eng_buf refused;
        eng_buf_init(&refused);
        if (!r->dry_run && planned.n > 0)
            rc = eng_sync_reserve_creates(r, planned.items, planned.n, &nm, &refused, err);
        eng_sync_page_free(&planned);
        if (rc != 0) {
            eng_buf_free(&refused);
            eng_vm_unref(r->vm, page_ref);
            out = ENG_SYNC_RETRY;
            break;
        }
        rc = send_page(r, st_ref, page_ref, refused.len > 0 ? refused.data : NULL, &more, &retry,
                       err);
        eng_buf_free(&refused);
        eng_vm_unref(r->vm, page_ref);
        if (rc != 0) {
            out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
            break;
        }
        inflight++;
    }
    eng_vm_unref(r->vm, st_ref);
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
    int was_readonly =
        eng_vm_set_db_readonly(r->vm, r->dry_run); /* a dry run's scripts write nothing */
    enum eng_sync_outcome out = run_pages(r, err);
    eng_vm_set_db_readonly(r->vm, was_readonly);
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
                                  "updated_at = " ENG_STORE_NOW " WHERE id = ?1",
                                  -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
                eng_store_bind_str(s, 1, r->id);
                eng_store_bind_str(s, 2, eng_sync_nullable(err->msg));
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
 * run row. payload: {"source", "entity", "id" | "ids": [...], "flow"?}, decoded once into a Lua
 * value (lib.sync's c_job); its ids stay one (a reference) until c_open takes them. */
static enum eng_sync_outcome execute_records(struct run *r, struct eng_err *err)
{
    snprintf(r->tenant, sizeof r->tenant, "%s", r->job->tenant);
    snprintf(r->mode, sizeof r->mode, "full");
    const char *payload = r->job->payload != NULL ? r->job->payload : "{}";
    char *msg = NULL, *entity = NULL, *flow = NULL, *source = NULL;
    int retry = 0;
    int rc = eng_vm_call(r->vm, "lib.sync", "c_job", 0, err, "j>sbsssr", payload, &msg, &retry,
                         &entity, &flow, &source, &r->ids_ref);
    if (rc == 0 && msg != NULL) {
        eng_err_set(err, ENG_EINVAL, "%s", msg);
        rc = ENG_EINVAL;
    }
    free(msg);
    if (rc == 0) {
        snprintf(r->entity, sizeof r->entity, "%s", entity != NULL ? entity : "");
        snprintf(r->flow, sizeof r->flow, "%s", flow != NULL ? flow : "");
    }
    char src[32];
    snprintf(src, sizeof src, "%s", source != NULL ? source : "");
    free(entity);
    free(flow);
    free(source);
    if (rc != 0) /* a broken lib/sync.lua is fixed later; a bad payload never will be */
        return rc == ENG_ESCRIPT ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
    if (r->flow[0] == '\0') {
        /* the entity's default flow when it reads the record's source; an event of another
         * source (a QuickBooks change) has no flow that reads it yet: nothing to do, not an
         * error */
        if (eng_sync_default_flow(r->env->policy, src[0] ? src : NULL, r->entity, r->flow,
                                  sizeof r->flow) != 0) {
            eng_log_kv(ENG_LOG_INFO, r->tenant, NULL, "no flow reads this record; job done",
                       (const char *const[]){"source", src, "entity", r->entity, NULL});
            return ENG_SYNC_DONE;
        }
    }
    eng_vm_set_context(r->vm, r->tenant, NULL);
    enum eng_sync_outcome out = run_pages(r, err);
    eng_vm_set_context(r->vm, NULL, NULL);
    return out;
}

/* A webhook sweep after downtime ({"source", "reason", "since"}): lib.sync's c_sweep names the
 * entities; each one's default flow that reads the sweep's source runs incrementally from since
 * minus the overlap window, outside any run. */
static enum eng_sync_outcome execute_sweep(struct run *r, struct eng_err *err)
{
    snprintf(r->tenant, sizeof r->tenant, "%s", r->job->tenant);
    snprintf(r->mode, sizeof r->mode, "incremental");
    const char *payload = r->job->payload != NULL ? r->job->payload : "{}";
    char *msg = NULL, *since = NULL, *source = NULL;
    long long n = 0;
    int retry = 0, list = ENG_VM_NOREF;
    int rc = eng_vm_call(r->vm, "lib.sync", "c_sweep", 0, err, "j>sbssir", payload, &msg, &retry,
                         &since, &source, &n, &list);
    if (rc == 0 && msg != NULL) {
        eng_err_set(err, ENG_EINVAL, "%s", msg);
        rc = ENG_EINVAL;
    }
    free(msg);
    char src[64];
    snprintf(src, sizeof src, "%s", source != NULL ? source : "");
    free(source);
    if (rc == 0)
        rc = since_overlap(r, since, err) != 0 ? ENG_EIO : 0;
    free(since);
    if (rc != 0) {
        eng_vm_unref(r->vm, list);
        return rc == ENG_ESCRIPT || rc == ENG_EIO ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
    }
    enum eng_sync_outcome out = ENG_SYNC_DONE;
    eng_vm_set_context(r->vm, r->tenant, NULL);
    for (long long i = 1; i <= n && i <= 64; i++) {
        char *entity = NULL;
        msg = NULL;
        rc = eng_vm_call(r->vm, "lib.sync", "c_pick", 0, err, "ri>sbs", list, i, &msg, &retry,
                         &entity);
        rc = script_result(rc, msg, retry, &retry, err);
        if (rc != 0) {
            out = retry ? ENG_SYNC_RETRY : ENG_SYNC_FATAL;
            break;
        }
        snprintf(r->entity, sizeof r->entity, "%s", entity != NULL ? entity : "");
        free(entity);
        if (eng_sync_default_flow(r->env->policy, src[0] ? src : NULL, r->entity, r->flow,
                                  sizeof r->flow) != 0)
            continue; /* no default flow, or one that reads another source */
        enum eng_sync_outcome o = run_pages(r, err);
        if (o != ENG_SYNC_DONE) {
            out = o;
            break;
        }
    }
    eng_vm_set_context(r->vm, NULL, NULL);
    eng_vm_unref(r->vm, list);
    return out;
}

enum eng_sync_outcome eng_sync_execute(struct eng_vm *vm, struct eng_store *st,
                                       const struct eng_sync_env *env, const struct eng_job *job,
                                       const char *owner, struct eng_err *err)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.ids_ref = ENG_VM_NOREF;
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
    eng_vm_unref(vm, r.ids_ref);
    /* the job's state held its connector contexts (decrypted secrets): free them now, not at
     * the next collection cycle of a VM the next tenant's task runs on */
    eng_vm_collect_secrets(vm);
    return out;
}

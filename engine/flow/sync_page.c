/*
 * sync_page.c - one page of a run in the store: the exclusive id map reservations made before a
 * remote create, and the page's one transaction (sync_records, id_map, the run's counters and
 * cursor candidate), read from the items lib/sync.lua filled in.
 * Owns nothing past a call. Must not: call into Lua (it only reads the page's tables), or leave
 * a transaction open when it returns.
 */
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "flow/sync_int.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static int bind_s(struct eng_store_stmt *s, int i, const char *v)
{
    return v != NULL && *v != '\0' ? eng_store_bind_text(s, i, v, strlen(v))
                                   : eng_store_bind_null(s, i);
}

/* Bind field k of the item table at idx: integers, booleans (0/1), strings, else NULL.
 * Keys are short literals already interned by the script's own tables. [-0, +0, -] */
static void bind_item(lua_State *L, int idx, const char *k, struct eng_store_stmt *s, int param)
{
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
        eng_store_bind_int64(s, param, (int64_t)lua_tointeger(L, -1));
    } else if (t == LUA_TBOOLEAN) {
        eng_store_bind_int64(s, param, lua_toboolean(L, -1));
    } else if (t == LUA_TSTRING) {
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        eng_store_bind_text(s, param, v, n);
    } else {
        eng_store_bind_null(s, param);
    }
    lua_pop(L, 1);
}

static int item_is(lua_State *L, int idx, const char *k, const char *want)
{
    lua_getfield(L, idx, k);
    const char *v = lua_tostring(L, -1);
    int yes = v != NULL && strcmp(v, want) == 0;
    lua_pop(L, 1);
    return yes;
}

void eng_sync_read_names(lua_State *L, int state, struct eng_sync_names *n)
{
    static const char *const keys[] = {"ss", "se", "ts", "tt"};
    char *dst[] = {n->ss, n->se, n->ts, n->tt};
    for (int i = 0; i < 4; i++) {
        lua_getfield(L, state, keys[i]);
        const char *v = lua_tostring(L, -1);
        snprintf(dst[i], 64, "%s", v != NULL ? v : "");
        lua_pop(L, 1);
    }
}

static void bind_names(struct eng_store_stmt *s, const struct run *r,
                       const struct eng_sync_names *n, int first)
{
    bind_s(s, first, r->tenant);
    bind_s(s, first + 1, n->ss);
    bind_s(s, first + 2, n->se);
    bind_s(s, first + 4, n->ts);
    bind_s(s, first + 5, n->tt);
}

/* Who holds a reservation: the run, or the job for work outside a run. */
static void reservation_owner(const struct run *r, char *buf, size_t size)
{
    if (r->id[0] != '\0')
        snprintf(buf, size, "%s", r->id);
    else
        snprintf(buf, size, "job:%lld", (long long)r->job->id);
}

/* Before any remote create: reserve the id map row of each create with its request id, in one
 * transaction, so a crash after the create is found on resume. A reservation is exclusive: a
 * row another job reserved less than a lease ago, or that got its target id since the plan
 * (a webhook job and a run racing on one record), is not taken, and the item's index goes to
 * `refused` ("3,7") so the writer leaves it for a retry instead of creating it twice. */
int eng_sync_reserve_creates(struct run *r, lua_State *L, int items, int n,
                             const struct eng_sync_names *nm, struct eng_buf *refused,
                             struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    char owner[ENG_SYNC_ID_SIZE + 24];
    reservation_owner(r, owner, sizeof owner);
    int rc = eng_store_exec(r->st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    rc = eng_store_prepare(
        r->st,
        "INSERT INTO id_map (tenant_id, source_system, entity_type, source_id, target_system, "
        "target_type, request_id, last_run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON "
        "CONFLICT (tenant_id, source_system, entity_type, source_id, target_system, target_type) "
        "DO UPDATE SET request_id = excluded.request_id, last_run_id = excluded.last_run_id, "
        "updated_at = " NOW " WHERE target_id IS NULL AND (last_run_id IS excluded.last_run_id "
        "OR last_run_id IS NULL OR request_id IS NULL OR updated_at < "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf("
        "'-%d seconds', ?9)))",
        -1, ENG_STORE_TRUSTED, &s, err);
    for (int i = 1; rc == 0 && i <= n; i++) {
        lua_rawgeti(L, items, i);
        int it = lua_gettop(L);
        if (item_is(L, it, "action", "create")) {
            eng_store_reset(s);
            bind_names(s, r, nm, 1);
            bind_item(L, it, "source_id", s, 4);
            bind_item(L, it, "request_id", s, 7);
            bind_s(s, 8, owner);
            eng_store_bind_int64(s, 9, ENG_SYNC_LEASE_MS / 1000);
            rc = eng_store_step(s, err);
            if (rc >= 0 && eng_store_changes(r->st) == 0)
                eng_buf_printf(refused, "%s%d", refused->len > 0 ? "," : "", i);
            if (rc > 0)
                rc = 0;
        }
        lua_pop(L, 1);
    }
    eng_store_finalize(s);
    if (rc == 0)
        rc = eng_store_exec(r->st, "COMMIT", err);
    if (rc != 0)
        eng_store_exec(r->st, "ROLLBACK", NULL);
    return rc;
}

static const char *const outcomes[] = {"created", "updated", "unchanged",
                                       "skipped", "failed",  "conflict"};

/* Record every item's outcome, the id map and the run's counters: one transaction. */
int eng_sync_commit_page(struct run *r, lua_State *L, int page, int items, int n,
                         const struct eng_sync_names *nm, struct eng_err *err)
{
    long long count[6] = {0};
    struct eng_store_stmt *rec = NULL, *map = NULL, *res = NULL, *again = NULL, *rel = NULL,
                          *s = NULL;
    char owner[ENG_SYNC_ID_SIZE + 24];
    reservation_owner(r, owner, sizeof owner);
    int rc = eng_store_exec(r->st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    rc = eng_store_prepare(
        r->st,
        "INSERT INTO sync_records (tenant_id, source_system, source_entity, source_id, "
        "target_system, target_type, run_id, flow, target_id, outcome, dry_run, error, "
        "error_code, retryable, attempts, next_retry_at, input, output, diff, conflict, "
        "currency, source_total_minor, target_total_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, CASE WHEN ?10 = 'failed' AND ?14 = 1 THEN "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+60 seconds') END, ?15, ?16, ?17, ?18, ?19, "
        "?20, ?21) ON CONFLICT (run_id, source_system, source_entity, source_id, target_system, "
        "target_type) WHERE run_id IS NOT NULL DO UPDATE SET target_id = excluded.target_id, "
        "outcome = excluded.outcome, error = excluded.error, error_code = excluded.error_code, "
        "retryable = excluded.retryable, attempts = attempts + 1, next_retry_at = "
        "excluded.next_retry_at, input = excluded.input, output = excluded.output, diff = "
        "excluded.diff, conflict = excluded.conflict, currency = excluded.currency, "
        "source_total_minor = excluded.source_total_minor, target_total_minor = "
        "excluded.target_total_minor, updated_at = " NOW,
        -1, ENG_STORE_TRUSTED, &rec, err);
    if (rc == 0)
        rc = eng_store_prepare(
            r->st,
            "INSERT INTO id_map (tenant_id, source_system, entity_type, source_id, "
            "target_system, target_type, target_id, content_hash, sync_token, source_updated_at, "
            "last_run_id, target_updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
            "?11, " NOW ") ON CONFLICT (tenant_id, source_system, entity_type, source_id, "
            "target_system, target_type) DO UPDATE SET target_id = excluded.target_id, "
            "content_hash = excluded.content_hash, sync_token = coalesce(excluded.sync_token, "
            "sync_token), source_updated_at = excluded.source_updated_at, last_run_id = "
            "excluded.last_run_id, target_updated_at = excluded.target_updated_at, updated_at "
            "= " NOW,
            -1, ENG_STORE_TRUSTED, &map, err);
    /* a record that went through clears its earlier failures */
    if (rc == 0)
        rc = eng_store_prepare(r->st,
                               "UPDATE sync_records SET resolved_at = " NOW ", updated_at = " NOW
                               " WHERE tenant_id = ?1 AND flow = ?2 AND source_id = ?3 AND "
                               "outcome IN ('failed', 'conflict') AND resolved_at IS NULL AND "
                               "dry_run = 0 AND (?4 IS NULL OR run_id IS NULL OR run_id <> ?4)",
                               -1, ENG_STORE_TRUSTED, &res, err);
    /* a create that failed is no longer in flight: its reservation stays (the next attempt
     * looks for the document first, in case it was made) but no longer blocks other jobs */
    if (rc == 0 && !r->dry_run)
        rc = eng_store_prepare(r->st,
                               "UPDATE id_map SET last_run_id = NULL WHERE tenant_id = ?1 AND "
                               "source_system = ?2 AND entity_type = ?3 AND source_id = ?4 AND "
                               "target_system = ?5 AND target_type = ?6 AND target_id IS NULL "
                               "AND last_run_id = ?7",
                               -1, ENG_STORE_TRUSTED, &rel, err);
    /* outside a run (webhook record, retry), a record that fails again updates its open
     * failure instead of adding a second one */
    if (rc == 0 && r->id[0] == '\0')
        rc = eng_store_prepare(
            r->st,
            "UPDATE sync_records SET attempts = attempts + 1, error = ?4, error_code = ?5, "
            "retryable = ?6, outcome = ?7, next_retry_at = CASE WHEN ?6 = 1 THEN strftime("
            "'%Y-%m-%dT%H:%M:%fZ', 'now', printf('+%d seconds', min(3600, 60 << min(attempts, "
            "6)))) "
            "END, updated_at = " NOW " WHERE id = (SELECT id FROM sync_records WHERE tenant_id = "
            "?1 AND flow = ?2 AND source_id = ?3 AND outcome IN ('failed', 'conflict') AND "
            "resolved_at IS NULL AND dry_run = 0 ORDER BY id DESC LIMIT 1)",
            -1, ENG_STORE_TRUSTED, &again, err);
    for (int i = 1; rc == 0 && i <= n; i++) {
        lua_rawgeti(L, items, i);
        int it = lua_gettop(L);
        lua_getfield(L, it, "outcome");
        const char *oc = lua_tostring(L, -1);
        int k = -1;
        for (int j = 0; oc != NULL && j < 6; j++)
            if (strcmp(oc, outcomes[j]) == 0)
                k = j;
        lua_pop(L, 1);
        if (k < 0) { /* a planned item the writer never reached: not recorded */
            lua_pop(L, 1);
            continue;
        }
        count[k]++;
        if (rel != NULL && k >= 3 && !item_is(L, it, "code", "in_flight")) {
            eng_store_reset(rel);
            bind_names(rel, r, nm, 1);
            bind_item(L, it, "source_id", rel, 4);
            bind_s(rel, 7, owner);
            rc = eng_store_step(rel, err);
            if (rc < 0) {
                lua_pop(L, 1);
                continue;
            }
        }
        if (again != NULL && (k == 4 || k == 5)) {
            eng_store_reset(again);
            bind_s(again, 1, r->tenant);
            bind_s(again, 2, r->flow);
            bind_item(L, it, "source_id", again, 3);
            bind_item(L, it, "error", again, 4);
            bind_item(L, it, "code", again, 5);
            bind_item(L, it, "retryable", again, 6);
            eng_store_bind_text(again, 7, outcomes[k], strlen(outcomes[k]));
            rc = eng_store_step(again, err);
            if (rc < 0 || eng_store_changes(r->st) > 0) {
                lua_pop(L, 1); /* updated (rc is 0: an UPDATE answers no row), or failed */
                continue;
            }
        }
        eng_store_reset(rec);
        eng_store_clear_bindings(rec);
        bind_names(rec, r, nm, 1);
        bind_item(L, it, "source_id", rec, 4);
        bind_s(rec, 7, r->id);
        bind_s(rec, 8, r->flow);
        bind_item(L, it, "target_id", rec, 9);
        eng_store_bind_text(rec, 10, outcomes[k], strlen(outcomes[k]));
        eng_store_bind_int64(rec, 11, r->dry_run);
        bind_item(L, it, "error", rec, 12);
        bind_item(L, it, "code", rec, 13);
        bind_item(L, it, "retryable", rec, 14);
        bind_item(L, it, "input", rec, 15);
        bind_item(L, it, "output", rec, 16);
        bind_item(L, it, "diff", rec, 17);
        bind_item(L, it, "conflict", rec, 18);
        bind_item(L, it, "currency", rec, 19);
        bind_item(L, it, "source_total", rec, 20);
        bind_item(L, it, "target_total", rec, 21);
        rc = eng_store_step(rec, err);
        if (rc >= 0 && !r->dry_run && (k == 0 || k == 1)) {
            eng_store_reset(map);
            bind_names(map, r, nm, 1);
            bind_item(L, it, "source_id", map, 4);
            bind_item(L, it, "target_id", map, 7);
            bind_item(L, it, "hash", map, 8);
            bind_item(L, it, "sync_token", map, 9);
            bind_item(L, it, "source_updated_at", map, 10);
            bind_s(map, 11, r->id);
            rc = eng_store_step(map, err);
        }
        if (rc >= 0 && !r->dry_run && k <= 3) {
            eng_store_reset(res);
            bind_s(res, 1, r->tenant);
            bind_s(res, 2, r->flow);
            bind_item(L, it, "source_id", res, 3);
            bind_s(res, 4, r->id);
            rc = eng_store_step(res, err);
        }
        if (rc > 0)
            rc = 0;
        lua_pop(L, 1);
    }
    eng_store_finalize(rec);
    eng_store_finalize(map);
    eng_store_finalize(res);
    eng_store_finalize(again);
    eng_store_finalize(rel);
    if (rc == 0 && r->id[0] != '\0') {
        long long read = 0;
        for (int j = 0; j < 6; j++)
            read += count[j];
        rc = eng_store_prepare(
            r->st,
            "UPDATE sync_runs SET records_read = records_read + ?2, records_created = "
            "records_created + ?3, records_updated = records_updated + ?4, records_unchanged = "
            "records_unchanged + ?5, records_skipped = records_skipped + ?6, records_failed = "
            "records_failed + ?7, records_total = coalesce(?8, records_total), cursor_to = CASE "
            "WHEN ?9 IS NOT NULL AND (cursor_to IS NULL OR ?9 > cursor_to) THEN ?9 ELSE cursor_to "
            "END, progress = CASE WHEN coalesce(?8, records_total) > 0 THEN min(0.99, "
            "(records_read + ?2) * 1.0 / coalesce(?8, records_total)) ELSE progress END, "
            "updated_at = " NOW " WHERE id = ?1",
            -1, ENG_STORE_TRUSTED, &s, err);
        if (rc == 0) {
            bind_s(s, 1, r->id);
            eng_store_bind_int64(s, 2, read);
            for (int j = 0; j < 4; j++)
                eng_store_bind_int64(s, 3 + j, count[j]);
            eng_store_bind_int64(s, 7, count[4] + count[5]);
            bind_item(L, page, "total", s, 8);
            bind_item(L, page, "max_modified", s, 9);
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
    return rc;
}

/*
 * sync_page.c - one page of a run in the store: reading lib/sync.lua's view of a page into C
 * items, the exclusive id map reservations made before a remote create, and the page's one
 * transaction (sync_records, id_map, the run's counters and cursor candidate).
 * Owns: a struct eng_sync_page's strings (eng_sync_page_free). Must not: call into Lua or read a
 * Lua value (the page arrives as C items, copied before any transaction opens), write SQL on
 * id_map or sync_records (data/id_map.c and data/sync_records.c own those), or leave a
 * transaction open when it returns.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "data/id_map.h"
#include "data/record_snapshots.h"
#include "data/sync_records.h"
#include "flow/sync_int.h"
#include "webhook/webhook_json.h"

/* ---- the page view (JSON from lib.sync's c_next_page / c_collect) ---- */

/* A malloc'd copy of the string (or number, as written) at token i; NULL for null/absent.
 * -1 for another type or no memory. */
static int tok_strdup(const struct eng_webhook_json *d, int i, char **out)
{
    *out = NULL;
    if (i < 0 || d->tok[i].type == ENG_WEBHOOK_JSON_NULL)
        return 0;
    if (d->tok[i].type != ENG_WEBHOOK_JSON_STRING && d->tok[i].type != ENG_WEBHOOK_JSON_NUMBER)
        return -1;
    size_t size = d->tok[i].end - d->tok[i].start + 1; /* decoding never lengthens */
    char *v = malloc(size);
    if (v == NULL || eng_webhook_json_text(d, i, 1, v, size) != 0) {
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}

/* An integer (minor units) at token i: *has 0 for null/absent. -1 when it is not an integer. */
static int tok_int(const struct eng_webhook_json *d, int i, int *has, int64_t *v)
{
    *has = 0;
    if (i < 0 || d->tok[i].type == ENG_WEBHOOK_JSON_NULL)
        return 0;
    char buf[32], *end = NULL;
    if (d->tok[i].type != ENG_WEBHOOK_JSON_NUMBER ||
        eng_webhook_json_text(d, i, 1, buf, sizeof buf) != 0)
        return -1;
    long long n = strtoll(buf, &end, 10);
    if (end == buf || *end != '\0')
        return -1;
    *has = 1;
    *v = n;
    return 0;
}

/* true/false at token i: 1/0, -1 when null or absent, -2 for another type. */
static int tok_bool(const struct eng_webhook_json *d, int i)
{
    if (i < 0 || d->tok[i].type == ENG_WEBHOOK_JSON_NULL)
        return -1;
    if (d->tok[i].type != ENG_WEBHOOK_JSON_BOOL)
        return -2;
    return d->text[d->tok[i].start] == 't';
}

static int read_item(const struct eng_webhook_json *d, int obj, struct eng_sync_item *it)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
#define F(f) {#f, offsetof(struct eng_sync_item, f)}
        F(source_id), F(action),     F(request_id), F(outcome),
        F(target_id), F(sync_token), F(hash),       F(source_updated_at),
        F(error),     F(code),       F(input),      F(output),
        F(diff),      F(conflict),   F(currency),   F(snapshot),
#undef F
    };
    if (d->tok[obj].type != ENG_WEBHOOK_JSON_OBJECT)
        return -1;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (tok_strdup(d, eng_webhook_json_get(d, obj, strs[i].key),
                       (char **)((char *)it + strs[i].off)) != 0)
            return -1;
    it->retryable = tok_bool(d, eng_webhook_json_get(d, obj, "retryable"));
    if (it->retryable == -2)
        return -1;
    if (tok_int(d, eng_webhook_json_get(d, obj, "source_total"), &it->has_source_total,
                &it->source_total) != 0 ||
        tok_int(d, eng_webhook_json_get(d, obj, "target_total"), &it->has_target_total,
                &it->target_total) != 0)
        return -1;
    return 0;
}

int eng_sync_page_read(const char *json, struct eng_sync_page *page, struct eng_err *err)
{
    memset(page, 0, sizeof *page);
    struct eng_webhook_json d = {0};
    char msg[96];
    int rc = eng_webhook_json_parse(&d, json, strlen(json), msg, sizeof msg);
    if (rc != 0) {
        eng_webhook_json_free(&d);
        return rc == -2 ? eng_err_set(err, ENG_ENOMEM, "out of memory reading a page")
                        : eng_err_set(err, ENG_EINVAL, "lib.sync's page view: %s", msg);
    }
    rc = ENG_EINVAL;
    int items = eng_webhook_json_get(&d, 0, "items");
    if (items < 0 || d.tok[items].type != ENG_WEBHOOK_JSON_ARRAY)
        goto out;
    page->cancelled = tok_bool(&d, eng_webhook_json_get(&d, 0, "cancelled")) == 1;
    if (tok_int(&d, eng_webhook_json_get(&d, 0, "total"), &page->has_total, &page->total) != 0 ||
        tok_strdup(&d, eng_webhook_json_get(&d, 0, "max_modified"), &page->max_modified) != 0)
        goto out;
    if (d.tok[items].size > 0) {
        page->items = calloc((size_t)d.tok[items].size, sizeof *page->items);
        if (page->items == NULL) {
            eng_webhook_json_free(&d);
            return eng_err_set(err, ENG_ENOMEM, "out of memory reading a page");
        }
    }
    for (int i = eng_webhook_json_first(&d, items); i >= 0 && page->n < d.tok[items].size;
         i = d.tok[i].next) {
        if (read_item(&d, i, &page->items[page->n++]) != 0)
            goto out;
    }
    rc = 0;
out:
    eng_webhook_json_free(&d);
    if (rc != 0)
        eng_err_set(err, rc, "lib.sync's page view is not {items: [{...}]} of scalars");
    return rc;
}

void eng_sync_page_free(struct eng_sync_page *page)
{
    for (int i = 0; i < page->n; i++) {
        struct eng_sync_item *it = &page->items[i];
        char *strs[] = {it->source_id, it->action,     it->request_id, it->outcome,
                        it->target_id, it->sync_token, it->hash,       it->source_updated_at,
                        it->error,     it->code,       it->input,      it->output,
                        it->diff,      it->conflict,   it->currency,   it->snapshot};
        for (size_t j = 0; j < sizeof strs / sizeof strs[0]; j++)
            free(strs[j]);
    }
    free(page->items);
    free(page->max_modified);
    memset(page, 0, sizeof *page);
}

/* ---- the store ---- */

static void item_key(const struct run *r, const struct eng_sync_names *nm,
                     const struct eng_sync_item *it, struct eng_id_map_key *k)
{
    *k = (struct eng_id_map_key){r->tenant, nm->ss, nm->se, it->source_id, nm->ts, nm->tt};
}

/* Who holds a reservation: the run, or the job for work outside a run. */
static void reservation_owner(const struct run *r, char *buf, size_t size)
{
    if (r->id[0] != '\0')
        snprintf(buf, size, "%s", r->id);
    else
        snprintf(buf, size, "job:%lld", (long long)r->job->id);
}

static int is(const char *v, const char *want)
{
    return v != NULL && strcmp(v, want) == 0;
}

/* Before any remote create: reserve the id map row of each create with its request id, in one
 * transaction, so a crash after the create is found on resume. A reservation is exclusive: a
 * row another job reserved less than a lease ago, or that got its target id since the plan
 * (a webhook job and a run racing on one record), is not taken, and the item's index goes to
 * `refused` so the writer leaves it for a retry instead of creating it twice. */
int eng_sync_reserve_creates(struct run *r, const struct eng_sync_item *items, int n,
                             const struct eng_sync_names *nm, struct eng_buf *refused,
                             struct eng_err *err)
{
    char owner[ENG_SYNC_ID_SIZE + 24];
    reservation_owner(r, owner, sizeof owner);
    int rc = eng_store_exec(r->st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    size_t mark = refused->len;
    eng_buf_putc(refused, '[');
    int first = 1;
    for (int i = 0; rc == 0 && i < n; i++) {
        if (!is(items[i].action, "create") || items[i].source_id == NULL)
            continue;
        struct eng_id_map_key k;
        item_key(r, nm, &items[i], &k);
        int taken = 0;
        rc = eng_id_map_reserve(r->st, &k, items[i].request_id, owner, ENG_SYNC_LEASE_MS / 1000,
                                &taken, err);
        if (rc == 0 && !taken) {
            eng_buf_printf(refused, "%s%d", first ? "" : ",", i + 1);
            first = 0;
        }
    }
    eng_buf_putc(refused, ']');
    if (rc == 0 && refused->oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory");
    rc = eng_sync_end_tx(r->st, rc, err);
    if (rc != 0)
        refused->len = mark;
    return rc;
}

static const char *const outcomes[] = {"created", "updated", "unchanged",
                                       "skipped", "failed",  "conflict"};

/* Record one item (its outcome index k). */
static int commit_item(struct run *r, const struct eng_sync_item *it, int k,
                       const struct eng_sync_names *nm, const char *owner, struct eng_err *err)
{
    struct eng_id_map_key key;
    item_key(r, nm, it, &key);
    int rc = 0;
    /* a create that failed is no longer in flight: its reservation stays (the next attempt
     * looks for the document first, in case it was made) but no longer blocks other jobs */
    if (!r->dry_run && k >= 3 && !is(it->code, "in_flight") &&
        (rc = eng_id_map_release(r->st, &key, owner, err)) != 0)
        return rc;
    struct eng_sync_record rec = {
        .tenant = r->tenant,
        .source_system = nm->ss,
        .source_entity = nm->se,
        .source_id = it->source_id,
        .target_system = nm->ts,
        .target_type = nm->tt,
        .run_id = eng_sync_nullable(r->id),
        .flow = r->flow,
        .target_id = it->target_id,
        .outcome = outcomes[k],
        .dry_run = r->dry_run,
        .error = it->error,
        .code = it->code,
        .retryable = it->retryable,
        .input = it->input,
        .output = it->output,
        .diff = it->diff,
        .conflict = it->conflict,
        .currency = it->currency,
        .has_source_total = it->has_source_total,
        .source_total = it->source_total,
        .has_target_total = it->has_target_total,
        .target_total = it->target_total,
    };
    /* outside a run (webhook record, retry), a record that fails again updates its open
     * failure instead of adding a second one */
    if (r->id[0] == '\0' && (k == 4 || k == 5)) {
        int updated = 0;
        rc = eng_sync_records_fail_again(r->st, &rec, &updated, err);
        if (rc != 0 || updated)
            return rc;
    }
    rc = eng_sync_records_put(r->st, &rec, err);
    if (rc == 0 && !r->dry_run && (k == 0 || k == 1)) {
        struct eng_id_map_put v = {.target_id = it->target_id,
                                   .content_hash = it->hash,
                                   .sync_token = it->sync_token,
                                   .source_updated_at = it->source_updated_at,
                                   .run_id = eng_sync_nullable(r->id)};
        rc = eng_id_map_put(r->st, &key, &v, err);
    }
    /* a record that went through clears its earlier failures */
    if (rc == 0 && !r->dry_run && k <= 3)
        rc = eng_sync_records_resolve(r->st, r->tenant, r->flow, it->source_id,
                                      eng_sync_nullable(r->id), err);
    return rc;
}

/* The source snapshot of every record of the page the flow took (the console's impact preview
 * maps them again), then the tenant and flow's snapshots pruned to SNAPSHOTS_KEEP. Dry runs keep
 * them too: they read the same real records. */
static int put_snapshots(struct run *r, const struct eng_sync_page *page,
                         const struct eng_sync_names *nm, struct eng_err *err)
{
    int rc = 0, any = 0;
    for (int i = 0; rc == 0 && i < page->n; i++) {
        const struct eng_sync_item *it = &page->items[i];
        if (it->snapshot == NULL || it->source_id == NULL)
            continue;
        struct eng_record_snapshot s = {r->tenant,
                                        r->flow,
                                        nm->ss,
                                        nm->se,
                                        it->source_id,
                                        it->snapshot,
                                        it->source_updated_at,
                                        eng_sync_nullable(r->id)};
        rc = eng_record_snapshots_put(r->st, &s, err);
        any = 1;
    }
    long long keep = r->env != NULL && r->env->cfg != NULL && r->env->cfg->snapshots_keep > 0
                         ? r->env->cfg->snapshots_keep
                         : ENG_RECORD_SNAPSHOTS_KEEP;
    if (rc == 0 && any)
        rc = eng_record_snapshots_prune(r->st, r->tenant, r->flow, keep, err);
    return rc < 0 ? rc : 0;
}

/* Record every item's outcome, the id map and the run's counters: one transaction. */
int eng_sync_commit_page(struct run *r, const struct eng_sync_page *page,
                         const struct eng_sync_names *nm, struct eng_err *err)
{
    long long count[6] = {0};
    struct eng_store_stmt *s = NULL;
    char owner[ENG_SYNC_ID_SIZE + 24];
    reservation_owner(r, owner, sizeof owner);
    int rc = eng_store_exec(r->st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    for (int i = 0; rc == 0 && i < page->n; i++) {
        const struct eng_sync_item *it = &page->items[i];
        int k = -1;
        for (int j = 0; it->outcome != NULL && j < 6; j++)
            if (strcmp(it->outcome, outcomes[j]) == 0)
                k = j;
        if (k < 0) /* a planned item the writer never reached: not recorded */
            continue;
        count[k]++;
        rc = commit_item(r, it, k, nm, owner, err);
    }
    if (rc == 0)
        rc = put_snapshots(r, page, nm, err);
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
            "updated_at = " ENG_STORE_NOW " WHERE id = ?1",
            -1, ENG_STORE_TRUSTED, &s, err);
        if (rc == 0) {
            eng_store_bind_str(s, 1, r->id);
            eng_store_bind_int64(s, 2, read);
            for (int j = 0; j < 4; j++)
                eng_store_bind_int64(s, 3 + j, count[j]);
            eng_store_bind_int64(s, 7, count[4] + count[5]);
            if (page->has_total)
                eng_store_bind_int64(s, 8, page->total);
            else
                eng_store_bind_null(s, 8);
            eng_store_bind_str(s, 9, page->max_modified);
            rc = eng_sync_step_once(s, err);
        }
    }
    return eng_sync_end_tx(r->st, rc, err);
}

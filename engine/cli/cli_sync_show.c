/*
 * cli_sync_show.c - the record lines of `tallysync sync`: "created orders 5001 -> quickbooks
 * Invoice 163", "would update orders 5020 -> quickbooks Invoice 45" with "    BillAddr: <from>
 * -> <to>" under it, "failed orders 6100: <reason>". Values are JSON, cut at 200 bytes on a
 * character boundary so one huge field cannot flood a terminal.
 * Owns: nothing past a call. Must not: write to the store.
 */
#include "cli/cli_sync_show.h"

#include <string.h>

#include "base/buf.h"

#define SHOW_VALUE_MAX 200

static const char *col(struct eng_store_stmt *s, int i)
{
    const char *v = eng_store_column_text(s, i, NULL);
    return v != NULL && eng_store_column_type(s, i) != ENG_STORE_NULL ? v : "";
}

/* v, or its first SHOW_VALUE_MAX bytes (on a character boundary) and "..." */
static void put_value(FILE *out, const char *v)
{
    size_t n = strlen(v);
    if (n <= SHOW_VALUE_MAX) {
        fputs(v, out);
        return;
    }
    n = eng_buf_utf8_cut(v, n, SHOW_VALUE_MAX);
    fprintf(out, "%.*s...", (int)n, v);
}

static void print_differences(struct eng_store *st, int64_t record, FILE *out)
{
    struct eng_store_stmt *s = NULL;
    if (eng_store_prepare(st,
                          "SELECT key, json_quote(json_extract(value, '$.from')), "
                          "json_quote(json_extract(value, '$.to')) FROM sync_records, "
                          "json_each(sync_records.diff) WHERE sync_records.id = ? AND "
                          "json_valid(sync_records.diff) ORDER BY key",
                          -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return;
    eng_store_bind_int64(s, 1, record);
    while (eng_store_step(s, NULL) == ENG_STORE_ROW) {
        fprintf(out, "    %s: ", col(s, 0));
        put_value(out, col(s, 1));
        fputs(" -> ", out);
        put_value(out, col(s, 2));
        fputc('\n', out);
    }
    eng_store_finalize(s);
}

long eng_cli_sync_show_changes(struct eng_store *st, const char *run_id, int64_t *last, long max,
                               FILE *out)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st,
                               "SELECT id, outcome, dry_run, source_entity, source_id, "
                               "target_system, target_type, target_id, error, diff IS NOT NULL "
                               "FROM sync_records WHERE run_id = ?1 AND id > ?2 AND outcome IN "
                               "('created', 'updated', 'skipped', 'failed', 'conflict') ORDER BY "
                               "id LIMIT ?3",
                               -1, ENG_STORE_TRUSTED, &s, &err);
    if (rc != 0)
        return rc;
    eng_store_bind_text(s, 1, run_id, strlen(run_id));
    eng_store_bind_int64(s, 2, *last);
    eng_store_bind_int64(s, 3, max > 0 ? max : -1);
    long n = 0;
    while ((rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
        int64_t id = eng_store_column_int64(s, 0);
        const char *oc = col(s, 1);
        int dry = eng_store_column_int64(s, 2) != 0;
        int ok = strcmp(oc, "created") == 0 || strcmp(oc, "updated") == 0;
        if (ok)
            fprintf(out, "%s%s %s %s -> %s %s%s%s\n", dry ? "would " : "",
                    strcmp(oc, "created") == 0 ? "create" : "update", col(s, 3), col(s, 4),
                    col(s, 5), col(s, 6), *col(s, 7) ? " " : "", col(s, 7));
        else
            fprintf(out, "%s %s %s%s%s\n", oc, col(s, 3), col(s, 4), *col(s, 8) ? ": " : "",
                    col(s, 8));
        if (eng_store_column_int64(s, 9))
            print_differences(st, id, out);
        *last = id;
        n++;
    }
    eng_store_finalize(s);
    fflush(out);
    return rc < 0 ? rc : n;
}

long eng_cli_sync_show_failures(struct eng_store *st, const char *run_id, long max, FILE *out)
{
    struct eng_store_stmt *s = NULL;
    if (eng_store_prepare(st,
                          "SELECT source_entity, source_id, outcome, coalesce(error, 'no reason "
                          "recorded'), count(*) OVER () FROM sync_records WHERE run_id = ? AND "
                          "outcome IN ('failed', 'conflict') AND resolved_at IS NULL ORDER BY id "
                          "LIMIT ?",
                          -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return 0;
    eng_store_bind_text(s, 1, run_id, strlen(run_id));
    eng_store_bind_int64(s, 2, max);
    long total = 0, shown = 0;
    while (eng_store_step(s, NULL) == ENG_STORE_ROW) {
        total = eng_store_column_int64(s, 4);
        if (shown++ == 0)
            fprintf(out, "%ld failed record%s:\n", total, total == 1 ? "" : "s");
        fprintf(out, "  %s %s %s: %s\n", col(s, 0), col(s, 1), col(s, 2), col(s, 3));
    }
    eng_store_finalize(s);
    if (total > shown)
        fprintf(out, "  ... and %ld more (GET /api/sync/failures?runId=%s)\n", total - shown,
                run_id);
    return total;
}

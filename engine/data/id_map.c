/*
 * id_map.c - the id map (data/id_map.h): every SQL statement on table id_map.
 * Owns: nothing past a call. Must not: open or end a transaction, or know who calls it (the
 * page commit in flow/sync_page.c and lib/sync.lua through engine.idmap).
 */
#include "data/id_map.h"

#include <stdlib.h>
#include <string.h>

#define KEY_WHERE                                                                                  \
    "tenant_id = ?1 AND source_system = ?2 AND entity_type = ?3 AND source_id = ?4 AND "           \
    "target_system = ?5 AND target_type = ?6"
#define KEY_COLS "tenant_id, source_system, entity_type, source_id, target_system, target_type"

/* The key as ?1..?6: its format letters and its arguments to eng_store_run / eng_store_row. */
#define KEY_FMT "ssssss"
#define KEY_ARGS(k)                                                                                \
    (k)->tenant, (k)->source_system, (k)->entity_type, (k)->source_id, (k)->target_system,         \
        (k)->target_type

int eng_id_map_get(struct eng_store *st, const struct eng_id_map_key *k, struct eng_id_map_row *row,
                   int *found, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    memset(row, 0, sizeof *row);
    *found = 0;
    int rc = eng_store_row(st,
                           "SELECT target_id, request_id, content_hash, sync_token FROM id_map "
                           "WHERE " KEY_WHERE,
                           &s, err, KEY_FMT, KEY_ARGS(k));
    if (rc == ENG_STORE_ROW) {
        row->target_id = eng_store_column_strdup(s, 0);
        row->request_id = eng_store_column_strdup(s, 1);
        row->content_hash = eng_store_column_strdup(s, 2);
        row->sync_token = eng_store_column_strdup(s, 3);
        *found = 1;
        rc = 0;
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

void eng_id_map_row_free(struct eng_id_map_row *row)
{
    if (row == NULL)
        return;
    free(row->target_id);
    free(row->request_id);
    free(row->content_hash);
    free(row->sync_token);
    memset(row, 0, sizeof *row);
}

int eng_id_map_put(struct eng_store *st, const struct eng_id_map_key *k,
                   const struct eng_id_map_put *v, struct eng_err *err)
{
    int rc = eng_store_run(
        st,
        "INSERT INTO id_map (" KEY_COLS ", target_id, content_hash, sync_token, "
        "source_updated_at, last_run_id, target_updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, " ENG_STORE_NOW ") ON CONFLICT (" KEY_COLS ") DO UPDATE SET "
        "target_id = excluded.target_id, content_hash = excluded.content_hash, sync_token = "
        "coalesce(excluded.sync_token, id_map.sync_token), source_updated_at = coalesce("
        "excluded.source_updated_at, id_map.source_updated_at), last_run_id = "
        "excluded.last_run_id, "
        "target_updated_at = excluded.target_updated_at, updated_at = " ENG_STORE_NOW,
        err, KEY_FMT "sssss", KEY_ARGS(k), v->target_id, v->content_hash, v->sync_token,
        v->source_updated_at, v->run_id);
    return rc < 0 ? rc : 0;
}

int eng_id_map_reserve(struct eng_store *st, const struct eng_id_map_key *k, const char *request_id,
                       const char *owner, long long lease_s, int *taken, struct eng_err *err)
{
    *taken = 0;
    int rc = eng_store_run(
        st,
        "INSERT INTO id_map (" KEY_COLS ", request_id, last_run_id) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8) ON CONFLICT (" KEY_COLS ") DO UPDATE SET request_id = excluded.request_id, "
        "last_run_id = excluded.last_run_id, updated_at = " ENG_STORE_NOW " WHERE id_map.target_id "
        "IS NULL AND (id_map.last_run_id IS excluded.last_run_id OR id_map.last_run_id IS NULL OR "
        "id_map.request_id IS NULL OR id_map.updated_at < " ENG_STORE_NOW_PLUS_S("-?9") ")",
        err, KEY_FMT "ssi", KEY_ARGS(k), request_id, owner, (int64_t)lease_s);
    if (rc < 0)
        return rc;
    *taken = rc > 0;
    return 0;
}

int eng_id_map_release(struct eng_store *st, const struct eng_id_map_key *k, const char *owner,
                       struct eng_err *err)
{
    int rc = eng_store_run(st,
                           "UPDATE id_map SET last_run_id = NULL WHERE " KEY_WHERE
                           " AND target_id IS NULL AND last_run_id = ?7",
                           err, KEY_FMT "s", KEY_ARGS(k), owner);
    return rc < 0 ? rc : 0;
}

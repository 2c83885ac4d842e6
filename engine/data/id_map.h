/*
 * id_map.h - the id map: which target document a source record became (target id, the hash of
 * the content last written, the target's sync token) and the exclusive reservation a create
 * takes before it is sent. The one owner of every SQL statement on table id_map.
 * Owns: the strings of a struct eng_id_map_row it fills (eng_id_map_row_free). Must not: open or
 * end a transaction (callers group statements), know about Lua.
 */
#ifndef ENG_ID_MAP_H
#define ENG_ID_MAP_H

#include "adapt/store.h"
#include "base/err.h"

/* The row's identity; every field required. */
struct eng_id_map_key {
    const char *tenant, *source_system, *entity_type, *source_id, *target_system, *target_type;
};

struct eng_id_map_row {
    char *target_id, *request_id, *content_hash, *sync_token; /* malloc'd, NULL for SQL NULL */
};

/* What a write made. NULL fields store NULL, except sync_token and source_updated_at: NULL
 * keeps the stored one. content_hash is always replaced, NULL included: it says which content
 * the target holds, and a write whose content is unknown must not leave a hash that would call
 * the next identical plan "unchanged". */
struct eng_id_map_put {
    const char *target_id, *content_hash, *sync_token, *source_updated_at;
    const char *run_id; /* the run (or reservation owner) that wrote it; NULL outside a run */
};

/* The row of key: 0 with *found 1 and row filled, 0 with *found 0 (row zeroed), or a negative
 * code. The caller frees row with eng_id_map_row_free. */
int eng_id_map_get(struct eng_store *st, const struct eng_id_map_key *k, struct eng_id_map_row *row,
                   int *found, struct eng_err *err);
void eng_id_map_row_free(struct eng_id_map_row *row);

/* Insert or update the row of key after a write (target_updated_at becomes now). */
int eng_id_map_put(struct eng_store *st, const struct eng_id_map_key *k,
                   const struct eng_id_map_put *v, struct eng_err *err);

/* Reserve key's row for a create with request_id on behalf of owner. *taken is 0 when the row
 * already has a target id, or another owner reserved it less than lease_s seconds ago (and has
 * not released it): the caller must not create it. */
int eng_id_map_reserve(struct eng_store *st, const struct eng_id_map_key *k, const char *request_id,
                       const char *owner, long long lease_s, int *taken, struct eng_err *err);

/* A create of owner's that did not happen: the reservation (and its request id) stays, so the
 * next attempt looks for the document first, but no longer blocks other jobs. */
int eng_id_map_release(struct eng_store *st, const struct eng_id_map_key *k, const char *owner,
                       struct eng_err *err);

#endif

/*
 * oauth_states.c - every SQL statement on the oauth_states table (oauth_states.h).
 * Owns: nothing past a call. Must not: log a hash (it identifies a live state).
 */
#include "data/oauth_states.h"

#include <stdio.h>

int eng_oauth_states_insert(struct eng_store *st, const char *hash, const char *tenant,
                            const char *platform, long long ttl_s, char *expires, size_t size,
                            struct eng_err *err)
{
    /* Old rows are useless after their expiry: drop those a day past it as we go. */
    int rc = eng_store_exec(
        st, "DELETE FROM oauth_states WHERE expires_at < " ENG_STORE_NOW_PLUS_S("-86400"), err);
    static const char sql[] =
        "INSERT INTO oauth_states (state_hash, tenant_id, platform, "
        "expires_at) VALUES (?1, ?2, ?3, " ENG_STORE_NOW_PLUS_S("?4") ") "
                                                                      "RETURNING expires_at";
    struct eng_store_stmt *s = NULL;
    if (rc == 0)
        rc = eng_store_row(st, sql, &s, err, "sssi", hash, tenant, platform, (int64_t)ttl_s);
    if (rc == ENG_STORE_ROW) {
        const char *e = eng_store_column_text(s, 0, NULL);
        snprintf(expires, size, "%s", e != NULL ? e : "");
        rc = 0;
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_EIO, "the new OAuth state was not stored");
    }
    eng_store_finalize(s);
    return rc;
}

int eng_oauth_states_consume(struct eng_store *st, const char *hash, const char *platform,
                             char *tenant, size_t size, struct eng_err *err)
{
    static const char sql[] = "UPDATE oauth_states SET used_at = " ENG_STORE_NOW
                              " WHERE state_hash = ?1 AND platform = ?2 AND used_at IS NULL AND "
                              "expires_at > " ENG_STORE_NOW " RETURNING tenant_id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ss", hash, platform);
    if (rc == ENG_STORE_ROW) {
        rc = eng_store_column_copy(s, 0, tenant, size);
        /* step to the end so the UPDATE is complete before the statement goes */
        if (eng_store_step(s, err) < 0)
            rc = ENG_EIO;
    } else if (rc == ENG_STORE_DONE) {
        rc = 0;
    }
    eng_store_finalize(s);
    return rc;
}

void eng_oauth_states_release(struct eng_store *st, const char *hash)
{
    struct eng_err err = {0};
    (void)eng_store_run(st, "UPDATE oauth_states SET used_at = NULL WHERE state_hash = ?1", &err,
                        "s", hash);
}

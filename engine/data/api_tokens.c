/*
 * api_tokens.c - every SQL statement on the api_tokens table (api_tokens.h).
 * Owns: nothing past a call. Must not: log a hash (it identifies a live token).
 */
#include "data/api_tokens.h"

int eng_api_tokens_insert(struct eng_store *st, const char *tenant, const char *name,
                          const char *hash_hex, const char *prefix, long long *id,
                          struct eng_err *err)
{
    static const char sql[] = "INSERT INTO api_tokens (tenant_id, name, token_hash, token_prefix) "
                              "VALUES (?1, ?2, ?3, ?4) RETURNING id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ssss", tenant, name, hash_hex, prefix);
    if (rc == ENG_STORE_ROW) {
        if (id != NULL)
            *id = (long long)eng_store_column_int64(s, 0);
        rc = eng_store_step(s, err); /* finish the statement: DONE */
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_api_tokens_lookup(struct eng_store *st, const char *hash_hex, char *tenant, size_t size,
                          struct eng_err *err)
{
    static const char sql[] =
        "SELECT tenant_id FROM api_tokens WHERE token_hash = ?1 AND "
        "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > " ENG_STORE_NOW ")";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "s", hash_hex);
    if (rc == ENG_STORE_ROW)
        rc = eng_store_column_copy(s, 0, tenant, size);
    eng_store_finalize(s);
    return rc;
}

int eng_api_tokens_touch(struct eng_store *st, const char *hash_hex, struct eng_err *err)
{
    static const char sql[] =
        "UPDATE api_tokens SET last_used_at = " ENG_STORE_NOW
        " WHERE token_hash = ?1 AND (last_used_at IS NULL OR last_used_at < " ENG_STORE_NOW_PLUS_S(
            "-60") ")";
    int rc = eng_store_run(st, sql, err, "s", hash_hex);
    return rc < 0 ? rc : 0;
}

int eng_api_tokens_revoke(struct eng_store *st, long long id, struct eng_err *err)
{
    static const char sql[] =
        "UPDATE api_tokens SET revoked_at = " ENG_STORE_NOW " WHERE id = ?1 AND revoked_at IS NULL";
    int rc = eng_store_run(st, sql, err, "i", (int64_t)id);
    return rc < 0 ? rc : rc > 0;
}

int eng_api_tokens_list(struct eng_store *st, const char *tenant,
                        void (*fn)(void *ud, const struct eng_api_token *t), void *ud,
                        struct eng_err *err)
{
    static const char sql[] =
        "SELECT id, tenant_id, name, token_prefix, created_at, last_used_at, revoked_at "
        "FROM api_tokens WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "s", tenant);
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
        struct eng_api_token t = {
            .id = (long long)eng_store_column_int64(s, 0),
            .tenant = eng_store_column_text(s, 1, NULL),
            .name = eng_store_column_text(s, 2, NULL),
            .prefix = eng_store_column_text(s, 3, NULL),
            .created_at = eng_store_column_text(s, 4, NULL),
            .last_used_at = eng_store_column_text(s, 5, NULL),
            .revoked_at = eng_store_column_text(s, 6, NULL),
        };
        fn(ud, &t);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

/*
 * console_sessions.c - every SQL statement on the console_sessions table and the known_tenants
 * view (console_sessions.h).
 * Owns: nothing past a call. Must not: log a hash (it identifies a live session or token).
 */
#include "data/console_sessions.h"

#include <stdio.h>
#include <string.h>

int eng_console_sessions_prune(struct eng_store *st, struct eng_err *err)
{
    static const char sql[] = "DELETE FROM console_sessions WHERE expires_at <= " ENG_STORE_NOW;
    return eng_store_run(st, sql, err, "");
}

int eng_console_sessions_create(struct eng_store *st, const char *id_hash,
                                struct eng_console_session *s, long long ttl_s, struct eng_err *err)
{
    static const char ins[] =
        "INSERT INTO console_sessions (id_hash, tenant_id, is_admin, token_hash, admin_fp, "
        "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, " ENG_STORE_NOW_PLUS_S(
            "?6") ")" ENG_STORE_RETURNING("expires_at");
    /* the principal's sessions beyond its newest few (a token cannot fill the table); two made
     * in one millisecond go by their (random) id; LIMIT: every row after the OFFSET */
    static const char cap[] =
        "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions "
        "WHERE token_hash IS ?1 AND admin_fp IS ?2 ORDER BY created_at DESC, id_hash DESC "
        "LIMIT 9223372036854775807 OFFSET ?3)";
    int rc = eng_console_sessions_prune(st, err);
    if (rc < 0)
        return rc;
    const char *token = s->admin ? NULL : s->token_hash;
    const char *fp = s->admin ? s->admin_fp : NULL;
    struct eng_store_stmt *q = NULL;
    rc = eng_store_row(st, ins, &q, err, "ssissi", id_hash, s->tenant, (int64_t)(s->admin != 0),
                       token, fp, (int64_t)ttl_s);
    if (rc == ENG_STORE_ROW && !eng_store_column_copy(q, 0, s->expires_at, sizeof s->expires_at))
        s->expires_at[0] = '\0';
    eng_store_finalize(q);
    if (rc < 0)
        return rc;
    rc = eng_store_run(st, cap, err, "ssi", token, fp, (int64_t)ENG_CONSOLE_SESSIONS_PER_PRINCIPAL);
    return rc < 0 ? rc : 0;
}

int eng_console_sessions_lookup(struct eng_store *st, const char *id_hash,
                                struct eng_console_session *out, struct eng_err *err)
{
    static const char sql[] = "SELECT tenant_id, is_admin, token_hash, admin_fp, expires_at FROM "
                              "console_sessions WHERE id_hash = ?1 AND expires_at > " ENG_STORE_NOW;
    memset(out, 0, sizeof *out);
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "s", id_hash);
    if (rc == ENG_STORE_ROW) {
        out->admin = eng_store_column_int64(s, 1) != 0;
        rc = eng_store_column_copy(s, 0, out->tenant, sizeof out->tenant) &&
             eng_store_column_copy(s, 4, out->expires_at, sizeof out->expires_at);
        if (out->admin)
            rc = rc && eng_store_column_copy(s, 3, out->admin_fp, sizeof out->admin_fp);
        else
            rc = rc && eng_store_column_copy(s, 2, out->token_hash, sizeof out->token_hash);
        if (!rc)
            memset(out, 0, sizeof *out); /* a row that does not fit is no session */
    }
    eng_store_finalize(s);
    return rc;
}

int eng_console_sessions_touch(struct eng_store *st, const char *id_hash, struct eng_err *err)
{
    static const char sql[] = "UPDATE console_sessions SET last_seen_at = " ENG_STORE_NOW
                              " WHERE id_hash = ?1 AND last_seen_at < " ENG_STORE_NOW_PLUS_S("-60");
    int rc = eng_store_run(st, sql, err, "s", id_hash);
    return rc < 0 ? rc : 0;
}

int eng_console_sessions_delete(struct eng_store *st, const char *id_hash, struct eng_err *err)
{
    static const char sql[] = "DELETE FROM console_sessions WHERE id_hash = ?1";
    int rc = eng_store_run(st, sql, err, "s", id_hash);
    return rc < 0 ? rc : rc > 0;
}

int eng_console_tenants_list(struct eng_store *st, void (*fn)(void *ud, const char *tenant),
                             void *ud, struct eng_err *err)
{
    static const char sql[] = "SELECT tenant_id FROM known_tenants WHERE tenant_id IS NOT NULL "
                              "AND tenant_id <> '' ORDER BY tenant_id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "");
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err))
        fn(ud, eng_store_column_text(s, 0, NULL));
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

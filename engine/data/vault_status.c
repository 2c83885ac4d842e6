/*
 * vault_status.c - the status of stored credentials as C structs (vault_status.h): one SELECT
 * on integration_credentials, the public fields read through SQLite's JSON functions.
 * Owns: the copies it hands out. Must not: read the ciphertext; write text meant for users.
 */
#include "data/vault_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/vault.h"

/* Columns: platform, key_id, status, last_test_at, last_test_ok, last_test_message, updated_at,
 * fields (canonical JSON object text), access token expiry, refresh token expiry (text or
 * NULL), days until the refresh token expires (NULL when unknown), the account id. */
static const char status_sql[] =
    "SELECT platform, key_id, status, last_test_at, last_test_ok,"
    " last_test_message, updated_at, fields,"
    " CASE WHEN json_type(fields, '$.access_token_expires_at') = 'text'"
    " THEN json_extract(fields, '$.access_token_expires_at') END,"
    " rt, julianday(rt) - julianday(" ENG_STORE_NOW "), external_account_id"
    " FROM (SELECT *, CASE WHEN json_type(fields, '$.refresh_token_expires_at')"
    " = 'text' THEN json_extract(fields, '$.refresh_token_expires_at') END AS rt"
    " FROM (SELECT *, CASE WHEN json_valid(public_fields)"
    " THEN CASE WHEN json_type(public_fields) = 'object'"
    " THEN json(public_fields) ELSE '{}' END ELSE '{}' END AS fields"
    " FROM integration_credentials"
    " WHERE tenant_id = ?1 AND is_active = 1 AND (?2 IS NULL OR platform = ?2)) AS c) AS r"
    " ORDER BY platform";

static char *vs_dup(const char *s, size_t n, int *oom)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        *oom = 1;
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Column col copied, or NULL when it is NULL. */
static char *vs_col(struct eng_store_stmt *s, int col, int *oom)
{
    if (eng_store_column_type(s, col) == ENG_STORE_NULL)
        return NULL;
    size_t n = 0;
    const char *v = eng_store_column_text(s, col, &n);
    return v != NULL ? vs_dup(v, n, oom) : NULL;
}

/* The warning a passed connection test named: its message ends "...; warning CODE: text" when
 * the connection works but something will fail anyway (QuickBooks: shipping_item_missing). */
static void vs_test_warning(struct eng_vault_status *r, int *oom)
{
    static const char mark[] = "; warning ";
    if (r->last_test_ok != 1 || r->last_test_message == NULL)
        return;
    const char *w = strstr(r->last_test_message, mark);
    if (w == NULL)
        return;
    const char *code = w + sizeof mark - 1;
    size_t clen = strspn(code, "abcdefghijklmnopqrstuvwxyz_");
    if (clen == 0 || clen > 64 || code[clen] != ':' || code[clen + 1] != ' ')
        return;
    const char *text = code + clen + 2;
    r->test_warning_code = vs_dup(code, clen, oom);
    r->test_warning_text = vs_dup(text, strlen(text), oom);
}

/* One row into r. 0, or ENG_ENOMEM. */
static int vs_row(struct eng_store_stmt *s, const struct eng_keyring *kr,
                  struct eng_vault_status *r)
{
    int oom = 0;
    memset(r, 0, sizeof *r);
    r->configured = 1;
    r->platform = vs_col(s, 0, &oom);
    r->key_id = vs_col(s, 1, &oom);
    r->status = vs_col(s, 2, &oom);
    r->last_test_at = vs_col(s, 3, &oom);
    r->last_test_ok =
        eng_store_column_type(s, 4) == ENG_STORE_NULL ? -1 : eng_store_column_int64(s, 4) != 0;
    r->last_test_message = vs_col(s, 5, &oom);
    r->updated_at = vs_col(s, 6, &oom);
    r->fields = vs_col(s, 7, &oom);
    r->access_expires_at = vs_col(s, 8, &oom);
    if (eng_store_column_type(s, 9) == ENG_STORE_TEXT)
        r->refresh_expires_at = vs_col(s, 9, &oom);
    if (r->refresh_expires_at != NULL && eng_store_column_type(s, 10) != ENG_STORE_NULL) {
        r->refresh_days_known = 1;
        r->refresh_days = eng_store_column_double(s, 10);
    }
    r->account = vs_col(s, 11, &oom);
    r->key_unknown = kr != NULL && r->key_id != NULL && !eng_keyring_has(kr, r->key_id);
    vs_test_warning(r, &oom);
    return oom ? ENG_ENOMEM : 0;
}

/* Run the status query for tenant (platform NULL: every platform), appending rows. */
static int vs_query(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                    const char *platform, struct eng_vault_status **rows, size_t *n,
                    struct eng_err *err)
{
    const char *what = platform != NULL ? platform : "every platform";
    if (tenant == NULL || tenant[0] == '\0')
        return eng_err_set(err, ENG_EINVAL, "a tenant id is required");
    if (platform != NULL && platform[0] == '\0')
        return eng_err_set(err, ENG_EINVAL, "a platform name is required");
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, status_sql, &s, err, "ss", tenant, platform);
    size_t cap = 0;
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 4;
            struct eng_vault_status *m = realloc(*rows, ncap * sizeof *m);
            if (m == NULL) {
                rc = eng_err_set(err, ENG_ENOMEM, "out of memory reading the credentials status");
                break;
            }
            *rows = m;
            cap = ncap;
        }
        rc = vs_row(s, kr, &(*rows)[*n]);
        (*n)++;
        if (rc != 0) {
            eng_err_set(err, rc, "out of memory reading the credentials status");
            break;
        }
    }
    eng_store_finalize(s);
    if (rc < 0 && rc != ENG_ENOMEM && err != NULL) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        eng_err_set(err, rc, "cannot read the status of credentials for %.100s: %s", what, msg);
    }
    return rc < 0 ? rc : 0;
}

int eng_vault_status_get(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                         const char *platform, struct eng_vault_status *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    out->last_test_ok = -1;
    if (platform == NULL)
        return eng_err_set(err, ENG_EINVAL, "a platform name is required");
    struct eng_vault_status *rows = NULL;
    size_t n = 0;
    int rc = vs_query(st, kr, tenant, platform, &rows, &n, err);
    if (rc == 0 && n > 0) {
        *out = rows[0];
        for (size_t i = 1; i < n; i++) /* (one active row per platform: none) */
            eng_vault_status_free(&rows[i]);
        free(rows);
        return 0;
    }
    eng_vault_status_list_free(rows, n);
    if (rc == 0) {
        int oom = 0;
        out->platform = vs_dup(platform, strlen(platform), &oom);
        if (oom)
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory reading the credentials status");
    }
    return rc;
}

int eng_vault_status_list(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                          struct eng_vault_status **rows, size_t *n, struct eng_err *err)
{
    *rows = NULL;
    *n = 0;
    int rc = vs_query(st, kr, tenant, NULL, rows, n, err);
    if (rc != 0) {
        eng_vault_status_list_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

void eng_vault_status_free(struct eng_vault_status *s)
{
    if (s == NULL)
        return;
    free(s->platform);
    free(s->key_id);
    free(s->status);
    free(s->last_test_at);
    free(s->last_test_message);
    free(s->updated_at);
    free(s->fields);
    free(s->access_expires_at);
    free(s->refresh_expires_at);
    free(s->test_warning_code);
    free(s->test_warning_text);
    free(s->account);
    memset(s, 0, sizeof *s);
}

void eng_vault_status_list_free(struct eng_vault_status *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eng_vault_status_free(&rows[i]);
    free(rows);
}

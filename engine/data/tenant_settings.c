/*
 * tenant_settings.c - every SQL statement on the settings table (tenant_settings.h).
 * Owns: nothing past a call. Must not: log a value (a setting may name a tenant's choices).
 */
#include "data/tenant_settings.h"

#include <stdio.h>
#include <string.h>

int eng_tenant_settings_get(struct eng_store *st, const char *tenant, const char *key,
                            struct eng_buf *value, struct eng_buf *at, struct eng_err *err)
{
    static const char sql[] =
        "SELECT value, updated_at FROM settings WHERE tenant_id = ?1 AND key = ?2";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ss", tenant, key);
    if (rc == ENG_STORE_ROW) {
        size_t n = 0, m = 0;
        const char *v = eng_store_column_text(s, 0, &n);
        const char *t = eng_store_column_text(s, 1, &m);
        if (value != NULL && v != NULL)
            eng_buf_append(value, v, n);
        if (at != NULL && t != NULL)
            eng_buf_append(at, t, m);
        rc = 1;
    }
    eng_store_finalize(s);
    return rc;
}

int eng_tenant_settings_put(struct eng_store *st, const char *tenant, const char *key,
                            const char *value, size_t len, struct eng_err *err)
{
    static const char sql[] = "INSERT INTO settings (tenant_id, key, value) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, "
                              "updated_at = " ENG_STORE_NOW;
    int rc = eng_store_run(st, sql, err, "sst", tenant, key, value, len);
    return rc < 0 ? rc : 0;
}

int eng_tenant_settings_put_stamped(struct eng_store *st, const char *tenant, const char *key,
                                    const char *value, size_t len, const char *stamp,
                                    struct eng_buf *out, struct eng_err *err)
{
    static const char sql[] =
        "INSERT INTO settings (tenant_id, key, value, updated_at) VALUES (?1, ?2, "
        "json_set(json(?3), '$.' || ?4, " ENG_STORE_NOW "), " ENG_STORE_NOW ") "
        "ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, updated_at = "
        "excluded.updated_at RETURNING value";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ssts", tenant, key, value, len, stamp);
    if (rc == ENG_STORE_ROW) {
        size_t n = 0;
        const char *v = eng_store_column_text(s, 0, &n);
        if (v != NULL)
            eng_buf_append(out, v, n);
        rc = 0;
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_EIO, "storing setting %s returned no row", key);
    }
    eng_store_finalize(s);
    return rc;
}

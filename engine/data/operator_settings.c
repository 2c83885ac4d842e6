/*
 * operator_settings.c - the administrator's settings in the store (operator_settings.h): their
 * names and checks, reads and writes, and the start-up merge into struct eng_config.
 */
#include "data/operator_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define CFG_STR(cfg, off) (*(char **)(void *)((char *)(cfg) + (off)))

/* The defaults are config.c's (tests/unit/data/test_operator_settings.c checks they agree). */
const struct eng_operator_def eng_operator_settings_defs[] = {
    {"QUICKBOOKS_API_BASE", NULL, offsetof(struct eng_config, quickbooks_api_base)},
    {"QUICKBOOKS_TOKEN_URL", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
     offsetof(struct eng_config, quickbooks_token_url)},
    {"QUICKBOOKS_AUTH_URL", "https://appcenter.intuit.com/connect/oauth2",
     offsetof(struct eng_config, quickbooks_auth_url)},
    {"OAUTH_REDIRECT_URI", "http://localhost:8923/api/integrations/quickbooks/callback",
     offsetof(struct eng_config, oauth_redirect_uri)},
    {"WEBHOOK_PUBLIC_URL", NULL, offsetof(struct eng_config, webhook_public_url)},
};
const size_t eng_operator_settings_ndefs =
    sizeof eng_operator_settings_defs / sizeof eng_operator_settings_defs[0];

const struct eng_operator_def *eng_operator_settings_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < eng_operator_settings_ndefs; i++)
        if (strcmp(eng_operator_settings_defs[i].name, name) == 0)
            return &eng_operator_settings_defs[i];
    return NULL;
}

static int unknown(const char *name, struct eng_err *err)
{
    char known[256] = "";
    size_t n = 0;
    for (size_t i = 0; i < eng_operator_settings_ndefs && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "",
                              eng_operator_settings_defs[i].name);
    return eng_err_set(err, ENG_EINVAL, "no operator setting named '%.64s' (known: %s)", name,
                       known);
}

int eng_operator_settings_url_check(char *url, const char *var, struct eng_err *err)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return eng_err_set(err, ENG_EINVAL, "%s must be a URL without control characters", var);
    return eng_config_url_check(url, var, err);
}

/* The stored value of name into out[size] ("" when none); *at likewise when not NULL. */
static int stored_get(struct eng_store *st, const char *name, char *out, size_t size, char *at,
                      size_t atsize, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    out[0] = '\0';
    if (at != NULL)
        at[0] = '\0';
    int rc = eng_store_row(st, "SELECT value, updated_at FROM operator_settings WHERE name = ?1",
                           &s, err, "s", name);
    if (rc == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 0, NULL);
        snprintf(out, size, "%s", v != NULL ? v : "");
        if (at != NULL)
            snprintf(at, atsize, "%s", eng_store_column_text(s, 1, NULL));
        rc = 0;
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_operator_settings_set(struct eng_store *st, const char *name, const char *value,
                              const char *by, struct eng_err *err)
{
    if (eng_operator_settings_find(name) == NULL)
        return unknown(name, err);
    char v[ENG_OPERATOR_MAX_VALUE + 2];
    if (value == NULL || strlen(value) > ENG_OPERATOR_MAX_VALUE)
        return eng_err_set(err, ENG_EINVAL, "%s must be a URL of at most %d bytes", name,
                           ENG_OPERATOR_MAX_VALUE);
    snprintf(v, sizeof v, "%s", value);
    int rc = eng_operator_settings_url_check(v, name, err);
    if (rc != 0)
        return rc;
    /* clang-format off */
    rc = eng_store_run(st,
                       "INSERT INTO operator_settings (name, value, updated_by)"
                       " VALUES (?1, ?2, ?3)" ENG_STORE_UPSERT("name")
                       " value = excluded.value, updated_by = excluded.updated_by,"
                       " updated_at = " ENG_STORE_NOW,
                       err, "sss", name, v, by);
    /* clang-format on */
    return rc < 0 ? rc : 0;
}

int eng_operator_settings_unset(struct eng_store *st, const char *name, int *removed,
                                struct eng_err *err)
{
    if (eng_operator_settings_find(name) == NULL)
        return unknown(name, err);
    int rc = eng_store_run(st, "DELETE FROM operator_settings WHERE name = ?1", err, "s", name);
    if (rc >= 0 && removed != NULL)
        *removed = rc > 0;
    return rc < 0 ? rc : 0;
}

static const char *env_of(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int eng_operator_settings_apply(struct eng_store *st, struct eng_config *cfg, struct eng_err *err)
{
    for (size_t i = 0; i < eng_operator_settings_ndefs; i++) {
        const struct eng_operator_def *d = &eng_operator_settings_defs[i];
        char v[ENG_OPERATOR_MAX_VALUE + 2];
        int rc = stored_get(st, d->name, v, sizeof v, NULL, 0, err);
        if (rc != 0)
            return rc;
        if (v[0] == '\0')
            continue;
        if (env_of(d->name) != NULL) {
            eng_log_kv(ENG_LOG_INFO, NULL, NULL,
                       "operator setting: the environment's value wins over the stored one",
                       (const char *const[]){"setting", d->name, NULL});
            continue;
        }
        struct eng_err why = {0};
        if (eng_operator_settings_url_check(v, d->name, &why) != 0)
            return eng_err_set(err, ENG_EINVAL,
                               "the stored operator setting is refused: %s (fix it with "
                               "`tallysync operator set %s URL`)",
                               why.msg, d->name);
        char *copy = strdup(v);
        if (copy == NULL)
            return eng_err_set(err, ENG_ENOMEM, "out of memory reading the operator settings");
        free(CFG_STR(cfg, d->cfg_off));
        CFG_STR(cfg, d->cfg_off) = copy;
    }
    return 0;
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void json_opt(struct eng_buf *b, const char *s)
{
    if (s == NULL || *s == '\0')
        eng_buf_puts(b, "null");
    else
        eng_buf_json_str(b, s, strlen(s));
}

int eng_operator_settings_list_json(struct eng_store *st, const struct eng_config *cfg,
                                    struct eng_buf *out, struct eng_err *err)
{
    int restart = 0;
    eng_buf_puts(out, "{\"settings\":[");
    for (size_t i = 0; i < eng_operator_settings_ndefs; i++) {
        const struct eng_operator_def *d = &eng_operator_settings_defs[i];
        char v[ENG_OPERATOR_MAX_VALUE + 2], at[64];
        int rc = stored_get(st, d->name, v, sizeof v, at, sizeof at, err);
        if (rc != 0)
            return rc;
        const char *stored = v[0] != '\0' ? v : NULL;
        const char *inuse = CFG_STR(cfg, d->cfg_off);
        const char *env = env_of(d->name);
        const char *source = env != NULL                                   ? "environment"
                             : same(inuse, d->def) && !same(stored, inuse) ? "default"
                                                                           : "store";
        if (env == NULL && !same(stored != NULL ? stored : d->def, inuse))
            restart = 1;
        eng_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        json_opt(out, d->name);
        eng_buf_puts(out, ",\"value\":");
        json_opt(out, inuse);
        eng_buf_printf(out, ",\"source\":\"%s\",\"stored\":", source);
        json_opt(out, stored);
        eng_buf_puts(out, ",\"updatedAt\":");
        json_opt(out, at);
        eng_buf_puts(out, ",\"default\":");
        json_opt(out, d->def);
        eng_buf_putc(out, '}');
    }
    eng_buf_printf(out, "],\"restartRequired\":%s}", restart ? "true" : "false");
    return 0;
}

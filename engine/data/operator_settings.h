/*
 * operator_settings.h - the administrator's settings kept in the store (table operator_settings,
 * schema 0007): where the engine sends tenants' secrets (the QuickBooks API and token hosts, the
 * OAuth consent page and redirect, the public URL stores deliver webhooks to). Kept in the store
 * so that every entry point on one database (serve, sync, run --ctx, token...) uses the same
 * values; written only by the administrator (`tallysync operator`, PUT /api/operator/settings
 * with API_TOKEN): a tenant never chooses where its secrets are sent.
 * Precedence, per setting, decided once at start-up: the environment variable (./.env included)
 * when set and not empty, else the stored value, else the built-in default. A stored value the
 * environment overrides is named in the start-up log.
 * Owns: nothing past a call. Must not: accept a URL that sends secrets in clear off the machine.
 */
#ifndef ENG_OPERATOR_SETTINGS_H
#define ENG_OPERATOR_SETTINGS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"
#include "adapt/store.h"

#define ENG_OPERATOR_MAX_VALUE 512

struct eng_operator_def {
    const char *name; /* the environment variable of the same meaning */
    const char *def;  /* built-in default (NULL: none; the connector then picks per environment) */
    size_t cfg_off;   /* offset of the char * field of struct eng_config it fills */
};

extern const struct eng_operator_def eng_operator_settings_defs[];
extern const size_t eng_operator_settings_ndefs;

/* The definition named name, or NULL. */
const struct eng_operator_def *eng_operator_settings_find(const char *name);

/* A URL a secret may be sent to: config.c's rule for WEBHOOK_PUBLIC_URL (eng_config_url_check:
 * http(s)://host[:port][/path], no query, fragment, user info or blank; https unless the host is
 * loopback; at most 512 bytes; trailing '/' removed in place), and no control character.
 * ENG_EINVAL naming var otherwise. */
int eng_operator_settings_url_check(char *url, const char *var, struct eng_err *err);

/* Store value for name (checked as above; ENG_EINVAL naming the setting, or an unknown name).
 * by: "cli" or "api". */
int eng_operator_settings_set(struct eng_store *st, const char *name, const char *value,
                              const char *by, struct eng_err *err);
/* Remove the stored value; *removed (may be NULL) = 1 when there was one. */
int eng_operator_settings_unset(struct eng_store *st, const char *name, int *removed,
                                struct eng_err *err);

/* Fill cfg's fields from the store where the environment sets nothing (see the precedence
 * above). A stored value that fails the check (written by hand) is ENG_EINVAL naming it. */
int eng_operator_settings_apply(struct eng_store *st, struct eng_config *cfg, struct eng_err *err);

/* {"settings":[{"name","value","source","stored","updatedAt","default"}...],"restartRequired"}:
 * value is what cfg (this process) uses; source where it came from ("environment", "store" or
 * "default"); restartRequired when a stored change takes effect only at the next start. */
int eng_operator_settings_list_json(struct eng_store *st, const struct eng_config *cfg,
                                    struct eng_buf *out, struct eng_err *err);

#endif

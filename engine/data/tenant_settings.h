/*
 * tenant_settings.h - the settings table: one JSON value per (tenant, key), e.g.
 * 'transformer_config' (api_settings.c, dry runs) and 'woocommerce_webhooks' (the last webhook
 * check, flow/webhook_health.c). The one owner of every SQL statement on that table.
 * Must not: interpret a value beyond what a statement needs (callers own the meaning).
 */
#ifndef ENG_TENANT_SETTINGS_H
#define ENG_TENANT_SETTINGS_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/buf.h"
#include "base/err.h"

/* Append tenant's value of key to value and its updated_at to at (either may be NULL).
 * 1 when there is a row, 0 when none (nothing appended), < 0 on a store error. */
int eng_tenant_settings_get(struct eng_store *st, const char *tenant, const char *key,
                            struct eng_buf *value, struct eng_buf *at, struct eng_err *err);

/* Insert or replace tenant's value of key (updated_at = now). 0 or < 0. */
int eng_tenant_settings_put(struct eng_store *st, const char *tenant, const char *key,
                            const char *value, size_t len, struct eng_err *err);

/* Insert or replace tenant's value of key with the JSON object value[0..len) in which member
 * `stamp` (e.g. "checkedAt") is set to now, and append the stored text to out. 0 or < 0. */
int eng_tenant_settings_put_stamped(struct eng_store *st, const char *tenant, const char *key,
                                    const char *value, size_t len, const char *stamp,
                                    struct eng_buf *out, struct eng_err *err);

#endif

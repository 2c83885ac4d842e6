/*
 * credentials.c - lib/credentials.lua's prepare_store and test_ctx, called from C on the worker
 * that owns the VM (credentials.h), through eng_vm_call only (the context: its 'c' letter); the
 * VM is collected afterwards, so strings that held secrets do not linger.
 * Owns: the copies it makes of prepare_store's results. Must not: log or return a value.
 */
#include "flow/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "data/vault.h"
#include "lua/vm.h"

/* Copy a message, cut on a UTF-8 character boundary. */
static void copy_message(char *dst, size_t size, const char *s, size_t n)
{
    if (size == 0)
        return;
    n = eng_buf_utf8_cut(s, n, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void eng_credentials_prepared_free(struct eng_credentials_prepared *p)
{
    eng_vault_free_secret(p->secret_json, p->secret_len);
    free(p->public_json);
    free(p->account_id);
    free(p->notes_json);
    p->secret_json = p->public_json = p->account_id = p->notes_json = NULL;
    p->secret_len = 0;
}

int eng_credentials_prepare(struct eng_vm *vm, const char *platform, const char *body, size_t len,
                            struct eng_credentials_prepared *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    /* true, secret_json, public_json, account_id | nil, notes_json | nil
     * | false, status, code, message, field | nil (the status arrives as its text) */
    int ok = 0;
    char *r2 = NULL, *r3 = NULL, *r4 = NULL, *r5 = NULL;
    size_t r2len = 0, r4len = 0;
    int rc = eng_vm_call(vm, "lib.credentials", "prepare_store", 0, err, "sS>bSsSs", platform,
                         body != NULL ? body : "", body != NULL ? len : 0, &ok, &r2, &r2len, &r3,
                         &r4, &r4len, &r5);
    eng_vm_collect(vm); /* free the strings that held secrets now */
    if (rc != 0)
        return rc;
    if (!ok) {
        int status = r2 != NULL ? atoi(r2) : 0;
        out->status = status == 400 ? 400 : 422;
        snprintf(out->code, sizeof out->code, "%s",
                 r3 != NULL ? r3 : (status == 400 ? "malformed_json" : "invalid_field"));
        copy_message(out->message, sizeof out->message, r4 != NULL ? r4 : "invalid body",
                     r4 != NULL ? r4len : 12);
        if (r5 != NULL)
            snprintf(out->field, sizeof out->field, "%s", r5);
        free(r2);
        free(r3);
        free(r4);
        free(r5);
    } else if (r2 == NULL || r3 == NULL) {
        eng_vault_free_secret(r2, r2len);
        free(r3);
        free(r4);
        free(r5);
        rc = eng_err_set(err, ENG_ESCRIPT, "lib/credentials.lua: prepare_store returned no JSON");
    } else {
        out->secret_json = r2;
        out->secret_len = r2len;
        out->public_json = r3;
        out->account_id = r4;
        out->notes_json = r5;
        out->ok = 1;
    }
    return rc;
}

int eng_credentials_describe(struct eng_vm *vm, const char *platform, char **json,
                             struct eng_err *err)
{
    *json = NULL;
    int rc = eng_vm_call(vm, "lib.credentials", "describe", 0, err, "s>j", platform, json);
    if (rc == 0 && *json == NULL)
        rc = eng_err_set(err, ENG_ESCRIPT, "lib/credentials.lua: describe returned nothing");
    return rc;
}

int eng_credentials_test(struct eng_vm *vm, const struct eng_config *cfg,
                         const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                         const char *platform, long long budget_ms, int *ok, char *message,
                         size_t size, struct eng_err *err)
{
    const struct eng_connctx_opts ctx = {.cfg = cfg, .keys = keys, .st = st}, *o = &ctx;
    *ok = 0;
    if (size > 0)
        message[0] = '\0';
    char *m = NULL;
    size_t mlen = 0;
    int rc = eng_vm_call(vm, "lib.credentials", "test_ctx", budget_ms, err, "sc>bS", platform, o,
                         tenant, platform, ok, &m, &mlen);
    eng_vm_collect(vm); /* free the strings that held secrets now */
    if (rc == 0) {
        copy_message(message, size, m != NULL ? m : "", m != NULL ? mlen : 0);
        free(m);
    } else if (rc == ENG_EAUTH) {
        /* a key problem is a failed test, not a server error: the message names the key id */
        copy_message(message, size, err->msg, strlen(err->msg));
        rc = 0;
    } else if (rc == ENG_EBUDGET) {
        /* "connectors/x.lua:9: script exceeded its time budget of N ms" (or instructions): the
         * VM's own words, a position and a limit, never a value */
        size_t n = strcspn(err->msg, "\n");
        snprintf(message, size,
                 "the connection test did not finish: %.*s (CONNECTOR_TIMEOUT_MS is %lld ms)",
                 (int)(n < 400 ? n : 400), err->msg, budget_ms);
        rc = 0;
    } else if (rc == ENG_ENOMEM) {
        snprintf(message, size, "the connection test ran out of memory (SCRIPT_MEMORY_MB)");
        rc = 0;
    }
    return rc;
}

/*
 * cli_token.c - `tallysync token create|list|revoke`: tenant-scoped API tokens. A token is
 * shown once, at creation; the store keeps only its SHA-256 (and a short prefix to recognise
 * it in a list), so a stolen database file yields no usable token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "adapt/crypto.h"
#include "adapt/store.h"
#include "data/api_tokens.h"

static void token_usage(FILE *out)
{
    fprintf(out, "usage: tallysync token create --tenant TENANT [--name NAME]\n"
                 "       tallysync token list [--tenant TENANT]\n"
                 "       tallysync token revoke ID\n\n"
                 "create prints a new bearer token for TENANT once: store it now, it cannot be\n"
                 "shown again. The token sees and changes only that tenant's data. list shows\n"
                 "ids, tenants, names and prefixes (never tokens); revoke disables one at once.\n");
}

static int token_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int token_create(struct eng_store *st, const char *tenant, const char *name)
{
    unsigned char raw[32], digest[ENG_CRYPTO_SHA256_LEN];
    char token[64] = "ts_", hex[2 * ENG_CRYPTO_SHA256_LEN + 1], prefix[12];
    struct eng_err err = {0};
    size_t n = 0;
    int rc = eng_crypto_random(raw, sizeof raw, &err);
    if (rc == 0)
        rc = eng_crypto_base64url_encode(raw, sizeof raw, token + 3, sizeof token - 3, &n, &err);
    eng_crypto_wipe(raw, sizeof raw);
    if (rc == 0)
        rc = eng_crypto_sha256(token, strlen(token), digest, &err);
    if (rc == 0)
        rc = eng_crypto_hex_encode(digest, sizeof digest, hex, sizeof hex, &err);
    snprintf(prefix, sizeof prefix, "%.10s", token);
    long long id = 0;
    if (rc == 0)
        rc = eng_api_tokens_insert(st, tenant, name ? name : "", hex, prefix, &id, &err);
    if (rc < 0) {
        fprintf(stderr, "tallysync token create: %s\n", err.msg);
        eng_crypto_wipe(token, sizeof token);
        return 1;
    }
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr, "token for tenant '%s' created (id %lld); it is shown only this once\n", tenant,
            id);
    eng_crypto_wipe(token, sizeof token);
    return 0;
}

static void token_row(void *ud, const struct eng_api_token *t)
{
    (void)ud;
    printf("%-6lld %-20s %-20s %-12s %-26s %-26s %s\n", t->id, t->tenant ? t->tenant : "",
           t->name ? t->name : "", t->prefix ? t->prefix : "", t->created_at ? t->created_at : "",
           t->last_used_at ? t->last_used_at : "never", t->revoked_at ? t->revoked_at : "");
}

static int token_list(struct eng_store *st, const char *tenant)
{
    struct eng_err err = {0};
    printf("%-6s %-20s %-20s %-12s %-26s %-26s %s\n", "id", "tenant", "name", "prefix", "created",
           "last used", "revoked");
    if (eng_api_tokens_list(st, tenant, token_row, NULL, &err) < 0) {
        fprintf(stderr, "tallysync token list: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int token_revoke(struct eng_store *st, const char *id)
{
    struct eng_err err = {0};
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*id == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "tallysync token revoke: '%s' is not a token id (see token list)\n", id);
        return 2;
    }
    int rc = eng_api_tokens_revoke(st, n, &err);
    if (rc < 0) {
        fprintf(stderr, "tallysync token revoke: %s\n", err.msg);
        return 1;
    }
    if (rc == 0) {
        fprintf(stderr, "tallysync token revoke: no active token with id %s\n", id);
        return 1;
    }
    printf("token %s revoked\n", id);
    return 0;
}

int eng_cli_token(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        token_usage(stdout);
        return 0;
    }
    if (argc < 2) {
        token_usage(stderr);
        return 2;
    }
    const char *verb = argv[1], *tenant = NULL, *name = NULL, *id = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
            tenant = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(verb, "revoke") == 0 && id == NULL)
            id = argv[i];
        else {
            fprintf(stderr, "tallysync token: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    int create = strcmp(verb, "create") == 0, list = strcmp(verb, "list") == 0;
    if (!create && !list && strcmp(verb, "revoke") != 0) {
        fprintf(stderr, "tallysync token: unknown action '%s' (create, list or revoke)\n", verb);
        return 2;
    }
    if (create && tenant == NULL) {
        fprintf(stderr, "tallysync token create: --tenant is required\n");
        return 2;
    }
    if (tenant != NULL && !token_id_ok(tenant)) {
        fprintf(stderr, "tallysync token: --tenant must be 1-64 letters, digits, '_', '-' or "
                        "'.'\n");
        return 2;
    }
    if (!create && !list && id == NULL) {
        fprintf(stderr, "tallysync token revoke: which token id? (see token list)\n");
        return 2;
    }

    struct eng_config cfg;
    if (eng_cli_config(&cfg, "token") != 0)
        return 1;
    int status = 1;
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_cli_migrate_store(&cfg, "token", 1) == 0) {
        if (eng_store_open(cfg.database_url, &st, &err) != 0)
            fprintf(stderr, "tallysync token: database: %s\n", err.msg);
        else if (create)
            status = token_create(st, tenant, name);
        else if (list)
            status = token_list(st, tenant);
        else
            status = token_revoke(st, id);
    }
    eng_store_close(st);
    eng_config_free(&cfg);
    return status;
}

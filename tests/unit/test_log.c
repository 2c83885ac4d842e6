/*
 * test_log.c - structured log lines: which keys are secret, and that a secret value never
 * reaches the output while the rest of the line stays valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static int secret(const char *k)
{
    return eng_log_key_is_secret(k, strlen(k));
}

static void test_secret_keys(void)
{
    static const char *const yes[] = {"consumer_secret",        "consumer_key",  "password",
                                      "access_token",           "refresh_token", "Authorization",
                                      "service_role_key",       "apikey",        "api_key",
                                      "encryptionKey",          "key",           "webhook-secret",
                                      "X-WC-Webhook-Signature", "client_secret", "credentials"};
    static const char *const no[] = {"monkey", "turkey",     "order_id", "store_url", "realm_id",
                                     "total",  "keys_count", "status",   "email"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!secret(yes[i]))
            fprintf(stderr, "  not treated as secret: %s\n", yes[i]);
        CHECK(secret(yes[i]));
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (secret(no[i]))
            fprintf(stderr, "  wrongly treated as secret: %s\n", no[i]);
        CHECK(!secret(no[i]));
    }
}

static void test_line_redacts_and_escapes(void)
{
    char path[] = "/tmp/tallysync-log-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    eng_log_kv(
        ENG_LOG_INFO, "shop-1", "run-7", "stored \"credentials\"\n",
        (const char *const[]){"platform", "woocommerce", "consumer_secret", "cs_abc123", NULL});
    eng_log_kv(ENG_LOG_DEBUG, NULL, NULL, "below the level", NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fdopen(fd, "r");
    REQUIRE(f != NULL);
    rewind(f);
    char line[1024] = "";
    char *got = fgets(line, sizeof line, f);
    char extra[64];
    int more = fgets(extra, sizeof extra, f) != NULL;
    fclose(f);
    unlink(path);
    REQUIRE(got != NULL);
    CHECK(strstr(line, "\"level\":\"info\"") != NULL);
    CHECK(strstr(line, "\"msg\":\"stored \\\"credentials\\\"\\n\"") != NULL);
    CHECK(strstr(line, "\"tenant\":\"shop-1\",\"run\":\"run-7\"") != NULL);
    CHECK(strstr(line, "\"platform\":\"woocommerce\"") != NULL);
    CHECK(strstr(line, "\"consumer_secret\":\"[REDACTED]\"") != NULL);
    CHECK(strstr(line, "cs_abc123") == NULL);
    CHECK(!more); /* the debug line is below the default level */
}

CHECK_MAIN(CHECK_CASE(test_secret_keys), CHECK_CASE(test_line_redacts_and_escapes))

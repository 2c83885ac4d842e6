/*
 * test_log.c - structured log lines: which keys are secret, and that a secret value never
 * reaches the output while the rest of the line stays valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "base/log.h"

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

/* Run fn with stderr (and the status line's stream) sent to a file; return what was written. */
static char *capture(void (*fn)(FILE *out))
{
    char path[] = "/tmp/tallysync-log-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(stderr);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char text[4096];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static void write_text_lines(FILE *out)
{
    (void)out;
    eng_log_kv(ENG_LOG_WARN, "shop-1", NULL, "webhook refused",
               (const char *const[]){"reason", "bad signature", "client_secret", "cs_zzz", "route",
                                     "/api/x", "empty", "", NULL});
    eng_log_raw(ENG_LOG_INFO, NULL, "run-9", "page", "\"n\":3,\"ids\":[1,2],\"o\":{\"a\":\"b c\"}");
}

static void test_text_format(void)
{
    CHECK_INT(eng_log_format_parse("auto"), ENG_LOG_FORMAT_AUTO);
    CHECK_INT(eng_log_format_parse("JSON"), ENG_LOG_FORMAT_JSON);
    CHECK_INT(eng_log_format_parse("text"), ENG_LOG_FORMAT_TEXT);
    CHECK_INT(eng_log_format_parse("yaml"), -1);
    /* auto: stderr here is a file, so JSON */
    eng_log_set_format(ENG_LOG_FORMAT_AUTO);
    const char *t = capture(write_text_lines);
    REQUIRE(t != NULL);
    CHECK(strncmp(t, "{\"time\":", 8) == 0);
    eng_log_set_format(ENG_LOG_FORMAT_TEXT);
    t = capture(write_text_lines);
    eng_log_set_format(ENG_LOG_FORMAT_AUTO);
    REQUIRE(t != NULL);
    if (strstr(t, " WARN  webhook refused tenant=shop-1 reason=\"bad signature\" "
                  "client_secret=[REDACTED] route=/api/x empty=\"\"\n") == NULL)
        fprintf(stderr, "  text lines were:\n%s", t);
    CHECK(strstr(t, " WARN  webhook refused tenant=shop-1 reason=\"bad signature\" "
                    "client_secret=[REDACTED] route=/api/x empty=\"\"\n") != NULL);
    CHECK(strstr(t, " INFO  page run=run-9 n=3 ids=[1,2] o={\"a\":\"b c\"}\n") != NULL);
    CHECK(strstr(t, "cs_zzz") == NULL);
    CHECK(t[0] == '2' && t[23] == 'Z'); /* starts with the time, 2026-12-07T00:11:49.977Z */
}

static void write_under_status(FILE *out)
{
    eng_log_status(out, "[###...] 50%");
    eng_log_kv(ENG_LOG_WARN, NULL, NULL, "a line", NULL);
    eng_log_status(out, NULL);
}

static void test_status_line(void)
{
    eng_log_set_format(ENG_LOG_FORMAT_TEXT);
    const char *t = capture(write_under_status);
    eng_log_set_format(ENG_LOG_FORMAT_AUTO);
    REQUIRE(t != NULL);
    /* bar; cleared; the log line; the bar drawn again below it; cleared at the end */
    const char *bar = strstr(t, "\r[###...] 50%\033[K\r\033[K");
    CHECK(bar != NULL);
    const char *line = strstr(t, " WARN  a line\n\r[###...] 50%\033[K");
    CHECK(line != NULL && bar != NULL && line > bar);
    size_t n = strlen(t);
    CHECK(n >= 4 && strcmp(t + n - 4, "\r\033[K") == 0);
}

CHECK_MAIN(CHECK_CASE(test_secret_keys), CHECK_CASE(test_line_redacts_and_escapes),
           CHECK_CASE(test_text_format), CHECK_CASE(test_status_line))

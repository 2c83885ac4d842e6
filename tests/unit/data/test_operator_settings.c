/*
 * test_operator_settings.c - unit tests of engine/data/operator_settings.c: the URL check a stored
 * operator setting passes, the defaults it shows agree with config.c's, and the precedence
 * (environment, else store, else default) on a real SQLite file.
 */
#include "check.h"
#define STORE_FIXTURE_NAME "test_operator"
#include "store_fixture.h"
#include "base/config.h"
#include "data/operator_settings.h"
#include "adapt/store.h"

#include <stdlib.h>
#include <unistd.h>

static const char *const NAMES[] = {"QUICKBOOKS_API_BASE", "QUICKBOOKS_TOKEN_URL",
                                    "QUICKBOOKS_AUTH_URL", "OAUTH_REDIRECT_URI",
                                    "WEBHOOK_PUBLIC_URL"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        unsetenv(NAMES[i]);
}

static int url_ok(const char *in, const char *want)
{
    char buf[1024]; /* room for the 699-byte URL below, whole */
    struct eng_err err = {0};
    snprintf(buf, sizeof buf, "%s", in);
    int rc = eng_operator_settings_url_check(buf, "X", &err);
    return want == NULL ? rc == ENG_EINVAL && strstr(err.msg, "X must") != NULL
                        : rc == 0 && strcmp(buf, want) == 0;
}

static void test_url_check(void)
{
    CHECK(url_ok("https://quickbooks.api.intuit.com/", "https://quickbooks.api.intuit.com"));
    CHECK(url_ok("http://127.0.0.1:8080/v3", "http://127.0.0.1:8080/v3"));
    CHECK(url_ok("http://localhost:1", "http://localhost:1"));
    CHECK(url_ok("http://[::1]:1/x", "http://[::1]:1/x"));
    CHECK(url_ok("http://example.com", NULL));        /* secrets in clear off the machine */
    CHECK(url_ok("http://127.0.0.1.evil.com", NULL)); /* not loopback */
    CHECK(url_ok("ftp://example.com", NULL));
    CHECK(url_ok("https://a@example.com", NULL));
    CHECK(url_ok("https://example.com/?q=1", NULL));
    CHECK(url_ok("https://", NULL));
    CHECK(url_ok("https://a.example/x\nEvil: 1", NULL)); /* a header's worth of control chars */
    char big[700];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "https://", 8);
    big[sizeof big - 1] = '\0';
    CHECK(url_ok(big, NULL));
}

static void test_defaults_agree_with_config(void)
{
    clear_env();
    struct eng_config cfg;
    struct eng_err err = {0};
    REQUIRE(eng_config_load(&cfg, &err) == 0);
    for (size_t i = 0; i < eng_operator_settings_ndefs; i++) {
        const struct eng_operator_def *d = &eng_operator_settings_defs[i];
        const char *v = *(char **)(void *)((char *)&cfg + d->cfg_off);
        CHECK(eng_operator_settings_find(d->name) == d);
        CHECK((v == NULL && d->def == NULL) || (v != NULL && d->def != NULL && !strcmp(v, d->def)));
    }
    CHECK_INT(eng_operator_settings_ndefs, sizeof NAMES / sizeof NAMES[0]);
    eng_config_free(&cfg);
}

static void test_precedence(void)
{
    store_fixture_make();
    struct eng_store *st = store_fixture_open(1);
    struct eng_err err = {0};
    clear_env();
    struct eng_config cfg;
    REQUIRE(eng_config_load(&cfg, &err) == 0);

    CHECK_INT(
        eng_operator_settings_set(st, "QUICKBOOKS_API_BASE", "http://evil.example", "cli", &err),
        ENG_EINVAL);
    CHECK_INT(eng_operator_settings_set(st, "NOPE", "https://x.example", "cli", &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "known: QUICKBOOKS_API_BASE") != NULL);
    CHECK_INT(
        eng_operator_settings_set(st, "QUICKBOOKS_API_BASE", "http://127.0.0.1:9/", "cli", &err),
        0);
    CHECK_INT(
        eng_operator_settings_set(st, "QUICKBOOKS_TOKEN_URL", "https://t.example/x", "api", &err),
        0);
    setenv("QUICKBOOKS_TOKEN_URL", "https://env.example/x", 1);
    eng_config_free(&cfg);
    REQUIRE(eng_config_load(&cfg, &err) == 0);
    CHECK_INT(eng_operator_settings_apply(st, &cfg, &err), 0);
    CHECK_STR(cfg.quickbooks_api_base, "http://127.0.0.1:9");     /* the store */
    CHECK_STR(cfg.quickbooks_token_url, "https://env.example/x"); /* the environment wins */
    CHECK_STR(cfg.quickbooks_auth_url, "https://appcenter.intuit.com/connect/oauth2"); /* default */
    int removed = 0;
    CHECK_INT(eng_operator_settings_unset(st, "QUICKBOOKS_API_BASE", &removed, &err), 0);
    CHECK_INT(removed, 1);
    CHECK_INT(eng_operator_settings_unset(st, "QUICKBOOKS_API_BASE", &removed, &err), 0);
    CHECK_INT(removed, 0);
    unsetenv("QUICKBOOKS_TOKEN_URL");
    eng_config_free(&cfg);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_url_check), CHECK_CASE(test_defaults_agree_with_config),
           CHECK_CASE(test_precedence))

/*
 * test_vault_status.c - data/vault_status.c: the status of stored credentials as structs
 * (configured or not, the test outcome and its warning, the key id a keyring lacks, the
 * refresh token's time left), and the API's rendering of one (api_credentials.c).
 */
#include "check.h"
#include "adapt/crypto.h"
#include "adapt/store.h"
#include "api/api.h"
#include "data/vault.h"
#include "data/vault_status.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_JSON "{\"consumer_secret\":\"sk_live_STATUS_TEST_1234\"}"

#define STORE_FIXTURE_NAME "test_vault_status"
#include "store_fixture.h"

static struct eng_keyring *ring(unsigned char fill)
{
    unsigned char raw[32];
    char b64[64];
    memset(raw, fill, sizeof raw);
    eng_crypto_base64_encode(raw, sizeof raw, b64, sizeof b64, NULL, NULL);
    struct eng_keyring *kr = NULL;
    struct eng_err err = {0};
    if (eng_keyring_parse(b64, NULL, &kr, &err) != 0)
        fprintf(stderr, "keyring: %s\n", err.msg);
    return kr;
}

static int put(struct eng_store *st, const struct eng_keyring *kr, const char *platform,
               const char *pub)
{
    struct eng_err err = {0};
    int rc =
        eng_vault_put(st, kr, "t1", platform, SECRET_JSON, strlen(SECRET_JSON), pub, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "put: %s\n", err.msg);
    return rc;
}

static void test_unconfigured(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    struct eng_vault_status s;
    CHECK_INT(eng_vault_status_get(st, NULL, "t1", "woocommerce", &s, &err), 0);
    CHECK_INT(s.configured, 0);
    CHECK_STR(s.platform, "woocommerce");
    CHECK(s.key_id == NULL && s.status == NULL && s.fields == NULL && s.updated_at == NULL);
    CHECK_INT(s.last_test_ok, -1);
    eng_vault_status_free(&s);
    struct eng_vault_status *rows = NULL;
    size_t n = 7;
    CHECK_INT(eng_vault_status_list(st, NULL, "t1", &rows, &n, &err), 0);
    CHECK_INT(n, 0);
    eng_vault_status_list_free(rows, n);
    /* the names are required */
    CHECK_INT(eng_vault_status_get(st, NULL, "", "woocommerce", &s, &err), ENG_EINVAL);
    eng_vault_status_free(&s);
    done(st);
}

static void test_rows(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *ka = ring(0xA1), *kb = ring(0xB2);
    REQUIRE(ka != NULL && kb != NULL);
    struct eng_err err = {0};
    REQUIRE(put(st, ka, "woocommerce", "{\"store_url\":\"https://shop.example\"}") == 0);
    REQUIRE(put(st, ka, "quickbooks",
                "{\"realm_id\":\"9130\",\"refresh_token_expires_at\":\"2000-01-01T00:00:00Z\","
                "\"access_token_expires_at\":\"2000-01-01T01:00:00Z\"}") == 0);
    REQUIRE(eng_vault_set_status(st, "t1", "woocommerce", 1,
                                 "connected; warning shipping_item_missing: add a Shipping item",
                                 &err) == 0);

    struct eng_vault_status *rows = NULL;
    size_t n = 0;
    CHECK_INT(eng_vault_status_list(st, kb, "t1", &rows, &n, &err), 0);
    REQUIRE(n == 2);
    /* ordered by platform */
    CHECK_STR(rows[0].platform, "quickbooks");
    CHECK_STR(rows[1].platform, "woocommerce");
    /* kb does not hold ka's key id */
    CHECK_INT(rows[0].key_unknown, 1);
    CHECK_STR(rows[0].key_id, eng_keyring_current_id(ka));
    /* the refresh token is long past its expiry */
    CHECK_INT(rows[0].refresh_days_known, 1);
    CHECK(rows[0].refresh_days < -1000);
    CHECK_STR(rows[0].refresh_expires_at, "2000-01-01T00:00:00Z");
    CHECK_STR(rows[0].access_expires_at, "2000-01-01T01:00:00Z");
    CHECK_INT(rows[0].last_test_ok, -1);
    CHECK_STR(rows[0].status, "untested");
    /* the passed test's warning, split out of its message */
    CHECK_INT(rows[1].last_test_ok, 1);
    CHECK_STR(rows[1].status, "connected");
    CHECK_STR(rows[1].test_warning_code, "shipping_item_missing");
    CHECK_STR(rows[1].test_warning_text, "add a Shipping item");
    CHECK_INT(rows[1].refresh_days_known, 0);
    CHECK_STR(rows[1].fields, "{\"store_url\":\"https://shop.example\"}");

    /* rendered: the warnings name the key ids and the route, in this order */
    struct eng_buf b;
    eng_buf_init(&b);
    eng_api_credentials_status_json(&b, &rows[0], kb);
    REQUIRE(b.data != NULL);
    const char *km = strstr(b.data, "{\"code\":\"key_mismatch\"");
    const char *ex = strstr(b.data, "{\"code\":\"refresh_token_expired\"");
    CHECK(km != NULL && ex != NULL && km < ex);
    CHECK(strstr(b.data, "GET /api/integrations/quickbooks/connect") != NULL);
    CHECK(strstr(b.data, "\"expiresAt\":\"2000-01-01T00:00:00Z\"") != NULL);
    CHECK(strstr(b.data, "sk_live") == NULL);
    eng_buf_reset(&b);
    eng_api_credentials_status_json(&b, &rows[1], NULL);
    CHECK(strstr(b.data, "\"warnings\":[{\"code\":\"shipping_item_missing\",\"message\":\"add a "
                         "Shipping item\"}]") != NULL);
    CHECK(strstr(b.data, "\"lastTestOk\":true") != NULL);
    eng_buf_free(&b);
    eng_vault_status_list_free(rows, n);

    /* a failed test names no warning; the same keyring: no key_mismatch */
    REQUIRE(eng_vault_set_status(st, "t1", "woocommerce", 0,
                                 "refused; warning shipping_item_missing: x", &err) == 0);
    struct eng_vault_status s;
    CHECK_INT(eng_vault_status_get(st, ka, "t1", "woocommerce", &s, &err), 0);
    CHECK_INT(s.configured, 1);
    CHECK_INT(s.key_unknown, 0);
    CHECK_INT(s.last_test_ok, 0);
    CHECK(s.test_warning_code == NULL);
    eng_vault_status_free(&s);

    eng_keyring_free(ka);
    eng_keyring_free(kb);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_unconfigured), CHECK_CASE(test_rows))

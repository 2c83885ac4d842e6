/*
 * test_tenant_settings.c - data/tenant_settings.c: one value per (tenant, key), replaced on
 * put with a new updated_at, and the stamped put that sets a member to now and returns the
 * stored text.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/tenant_settings.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "test_tenant_settings"
#include "store_fixture.h"

static void test_get_put(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    struct eng_buf v, at;
    eng_buf_init(&v);
    eng_buf_init(&at);
    CHECK_INT(eng_tenant_settings_get(st, "t1", "k", &v, &at, &err), 0);
    CHECK(v.len == 0 && at.len == 0);
    CHECK_INT(eng_tenant_settings_put(st, "t1", "k", "{\"a\":1}", 7, &err), 0);
    CHECK_INT(eng_tenant_settings_put(st, "t2", "k", "{\"b\":2}", 7, &err), 0);
    CHECK_INT(eng_tenant_settings_get(st, "t1", "k", &v, &at, &err), 1);
    CHECK_STR(v.data, "{\"a\":1}");
    CHECK(at.len == 24 && at.data[23] == 'Z');
    /* replaced, per tenant */
    REQUIRE(eng_store_exec(st, "UPDATE settings SET updated_at = '2020-01-01T00:00:00.000Z'",
                           &err) == 0);
    CHECK_INT(eng_tenant_settings_put(st, "t1", "k", "{\"a\":3}", 7, &err), 0);
    eng_buf_reset(&v);
    eng_buf_reset(&at);
    CHECK_INT(eng_tenant_settings_get(st, "t1", "k", &v, &at, &err), 1);
    CHECK_STR(v.data, "{\"a\":3}");
    CHECK(at.data != NULL && strcmp(at.data, "2021") > 0);
    eng_buf_reset(&v);
    CHECK_INT(eng_tenant_settings_get(st, "t2", "k", &v, NULL, &err), 1);
    CHECK_STR(v.data, "{\"b\":2}");
    eng_buf_free(&v);
    eng_buf_free(&at);
    done(st);
}

static void test_stamped(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    struct eng_buf out;
    eng_buf_init(&out);
    const char *r = "{\"ok\":true, \"checkedAt\":\"old\"}";
    CHECK_INT(
        eng_tenant_settings_put_stamped(st, "t1", "wh", r, strlen(r), "checkedAt", &out, &err), 0);
    REQUIRE(out.data != NULL);
    /* minified, the member set to now */
    CHECK(strncmp(out.data, "{\"ok\":true,\"checkedAt\":\"20", 26) == 0);
    CHECK(strstr(out.data, "old") == NULL);
    /* not JSON: refused by the store, nothing stored */
    eng_buf_reset(&out);
    CHECK(eng_tenant_settings_put_stamped(st, "t1", "bad", "{", 1, "x", &out, &err) < 0);
    CHECK_INT(eng_tenant_settings_get(st, "t1", "bad", &out, NULL, &err), 0);
    eng_buf_free(&out);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_get_put), CHECK_CASE(test_stamped))

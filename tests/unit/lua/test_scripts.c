/*
 * test_scripts.c - the script registry: a good version is published with a new generation, a
 * version that does not compile or has the wrong exports is rejected while the old one keeps
 * serving, a mapping that fails its data tests is rejected the same way (and a test edit
 * revalidates it), deletions unpublish, and the watcher picks up an edit within a second.
 * What a published version declares for C (a mapping's default_for) is published with it to the
 * registry's policy, as is a connector's webhook_entities; a second mapping claiming an entity
 * is rejected naming both files. The first scan, validated on several threads, publishes what a
 * scan in name order would.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>

#include "base/policy.h"
#include "check.h"
#include "lua/scripts.h"
#include "lua/vm_int.h"

#define REGISTRY_FIXTURE_NAME "tallysync-scripts"
#include "registry_fixture.h"

/* The published source of a mapping, or NULL; caller frees. */
static char *published(struct eng_scripts *reg, const char *logical)
{
    size_t len;
    return eng_scripts_source(reg, logical, &len);
}

static int contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

static void test_publish_reject_swap_delete(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    int changed = 0;

    write_file(mdir, "m.lua", "return { map = function(r) return { v = 1 } end }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 4); /* lib/mapping.lua, mapping_rules.lua, civil_date.lua and m.lua */
    uint64_t g1 = eng_scripts_generation(reg);
    CHECK(g1 > 0);
    char *src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 1"));
    free(src);

    /* an unchanged tree publishes nothing */
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK(eng_scripts_generation(reg) == g1);

    /* syntax error: rejected, v1 keeps serving, the error names file and line */
    write_file(mdir, "m.lua", "return { map = function(r) return { v = } end }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK(eng_scripts_generation(reg) == g1);
    CHECK_INT(eng_scripts_error_count(reg), 1);
    src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 1"));
    free(src);
    char *st = status(reg);
    CHECK(contains(st, "mappings/m.lua:1:"));
    free(st);

    /* wrong exports: loads, but a misspelt field and no map function or rules */
    write_file(mdir, "m.lua", "return { mapp = function() end }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    st = status(reg);
    CHECK(contains(st, "mappings/m.lua: unknown field 'mapp'"));
    free(st);

    /* a rule with an unknown transform is refused at load time, naming the rule */
    write_file(mdir, "m.lua",
               "return { rules = { { to = \"DocNumber\", from = \"number\", \"trimm\" } } }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    st = status(reg);
    CHECK(contains(st, "rules[1] (DocNumber <- number): unknown transform 'trimm'"));
    free(st);

    /* a top level that loops forever is rejected within its budget */
    write_file(mdir, "m.lua", "while true do end\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    st = status(reg);
    CHECK(contains(st, "budget"));
    free(st);

    /* a good v2 replaces v1 and clears the error */
    write_file(mdir, "m.lua", "return { map = function(r) return { v = 2 } end }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 1);
    CHECK(eng_scripts_generation(reg) > g1);
    CHECK_INT(eng_scripts_error_count(reg), 0);
    src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 2"));
    free(src);

    /* deletion unpublishes */
    uint64_t g2 = eng_scripts_generation(reg);
    char path[512];
    snprintf(path, sizeof path, "%s/m.lua", mdir);
    unlink(path);
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 1);
    CHECK(eng_scripts_generation(reg) > g2);
    src = published(reg, "mappings/m.lua");
    CHECK(src == NULL);
    free(src);
    cleanup(reg);
}

/* issue 10 item 7: a mapping must pass its data tests (MAPPINGS_DIR/tests/NAME/ *.json) to be
 * published, and a test file edit revalidates it. */
static void test_data_tests_gate_publication(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    char cmd[1200];
    const char *src0 = getenv("ENG_SOURCE_DIR") ? getenv("ENG_SOURCE_DIR") : ".";
    snprintf(cmd, sizeof cmd,
             "cp '%s/scripts/lib/mapping_test.lua' '%s/lib/' && mkdir -p '%s/tests/m'", src0, sdir,
             mdir);
    REQUIRE(system(cmd) == 0);
    char tdir[400];
    snprintf(tdir, sizeof tdir, "%s/tests/m", mdir);
    int changed = 0;

    write_file(tdir, "a.json", "{\"input\": {\"id\": 1}, \"expected\": {\"v\": 1}}\n");
    write_file(mdir, "m.lua", "return { map = function(r) return { v = 1 } end }\n");
    eng_scripts_scan(reg, &changed);
    char *st = status(reg);
    CHECK(contains(st, "\"path\":\"mappings/m.lua\",\"kind\":\"mapping\",\"active\":true"));
    CHECK_INT(eng_scripts_error_count(reg), 0);
    free(st);
    uint64_t g1 = eng_scripts_generation(reg);

    /* compiles, keeps the contract, fails its data test: rejected, v1 keeps serving */
    write_file(mdir, "m.lua", "return { map = function(r) return { v = 2 } end }\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK(eng_scripts_generation(reg) == g1);
    CHECK_INT(eng_scripts_error_count(reg), 1);
    char *src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 1"));
    free(src);
    st = status(reg);
    CHECK(contains(st, "data test mappings/tests/m/a.json fails: "));
    CHECK(contains(st, "$.v")); /* the path of the differing field, with expected and got */
    free(st);

    /* the same rejected bytes are not run again at every scan */
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK_INT(eng_scripts_error_count(reg), 1);

    /* editing the test revalidates: v2 passes it and is published */
    write_file(tdir, "a.json", "{\"input\": {\"id\": 1}, \"expected\": {\"v\": 2}}\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 1);
    CHECK_INT(eng_scripts_error_count(reg), 0);
    src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 2"));
    free(src);
    uint64_t g2 = eng_scripts_generation(reg);

    /* a test file rewritten with the same bytes changes nothing */
    write_file(tdir, "a.json", "{\"input\": {\"id\": 1}, \"expected\": {\"v\": 2}}\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK(eng_scripts_generation(reg) == g2);

    /* a new case the published version fails is shown; that version keeps serving */
    write_file(tdir, "b.json", "{\"input\": {\"id\": 2}, \"expected\": {\"v\": 3}}\n");
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK(eng_scripts_generation(reg) == g2);
    CHECK_INT(eng_scripts_error_count(reg), 1);
    st = status(reg);
    CHECK(contains(st, "data test mappings/tests/m/b.json fails: "));
    free(st);
    src = published(reg, "mappings/m.lua");
    CHECK(contains(src, "v = 2"));
    free(src);
    cleanup(reg);
}

static void test_connector_exports_checked(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    char cdir[400];
    snprintf(cdir, sizeof cdir, "%s/connectors", sdir);
    mkdir(cdir, 0755);
    write_file(cdir, "shop.lua", "return { name = 'shop', read = 42 }\n");
    write_file(sdir, "lib/util.lua", "return { twice = function(x) return 2 * x end }\n");
    write_file(mdir, "uses_lib.lua",
               "local u = require 'lib.util'\nreturn { map = function(r) return { v = u.twice(r.x) "
               "} end }\n");
    int changed = 0;
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed,
              5); /* lib/util, the three lib.mapping files, the mapping; not the connector */
    char *st = status(reg);
    CHECK(contains(st, "field 'read' must be a function"));
    free(st);
    char *src = published(reg, "scripts/connectors/shop.lua");
    CHECK(src == NULL);
    free(src);
    cleanup(reg);
}

/* The default flow of entity the registry publishes, "" when none. */
static const char *default_of(struct eng_scripts *reg, const char *source, const char *entity)
{
    static char flow[ENG_POLICY_NAME_MAX + 1];
    if (eng_policy_default_flow(eng_scripts_policy(reg), source, entity, flow, sizeof flow) != 0)
        flow[0] = '\0';
    return flow;
}

#define MAP_DEFAULT(entity)                                                                        \
    "return { default_for = " entity ", source = { connector = 'woocommerce', entity = 'orders' "  \
    "}, map = function(r) return { v = 1 } end }\n"

static void test_default_flows_declared(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    int changed = 0;
    write_file(mdir, "a.lua", MAP_DEFAULT("'orders'"));
    write_file(mdir, "b.lua", MAP_DEFAULT("{ 'orders', 'customers' }"));
    write_file(mdir, "c.lua", MAP_DEFAULT("{ 'products', 'refunds' }"));
    eng_scripts_scan(reg, &changed);
    CHECK_STR(default_of(reg, NULL, "orders"), "a");
    CHECK_STR(default_of(reg, "woocommerce", "orders"), "a");
    CHECK_STR(default_of(reg, "quickbooks", "orders"), ""); /* it reads another connector */
    CHECK_STR(default_of(reg, NULL, "products"), "c");
    CHECK_STR(default_of(reg, NULL, "refunds"), "c");
    /* b claims orders too: rejected, naming both files; none of its claims is published */
    CHECK_STR(default_of(reg, NULL, "customers"), "");
    CHECK_INT(eng_scripts_error_count(reg), 1);
    char *st = status(reg);
    CHECK(contains(st, "mappings/b.lua: default_for 'orders': mappings/a.lua is already the "
                       "default flow of 'orders'"));
    free(st);
    char known[200];
    eng_policy_default_entities(eng_scripts_policy(reg), known, sizeof known);
    CHECK_STR(known, "orders, products, refunds");
    char small[1]; /* "a" and its NUL do not fit */
    CHECK_INT(eng_policy_default_flow(eng_scripts_policy(reg), NULL, "orders", small, sizeof small),
              ENG_EINVAL);

    /* a leaves the field: b is tried again and takes orders and customers */
    write_file(mdir, "a.lua", MAP_DEFAULT("'a_only'"));
    eng_scripts_scan(reg, &changed);
    eng_scripts_scan(reg, &changed);
    CHECK_STR(default_of(reg, NULL, "orders"), "b");
    CHECK_STR(default_of(reg, NULL, "customers"), "b");
    CHECK_STR(default_of(reg, NULL, "a_only"), "a");
    CHECK_INT(eng_scripts_error_count(reg), 0);

    /* a rejected version keeps the published declarations; deletion takes them away */
    write_file(mdir, "c.lua", MAP_DEFAULT("{ 'products', 7 }"));
    eng_scripts_scan(reg, &changed);
    st = status(reg);
    CHECK(contains(st, "mappings/c.lua: field 'default_for' must name entities"));
    free(st);
    CHECK_STR(default_of(reg, NULL, "products"), "c");
    char path[512];
    snprintf(path, sizeof path, "%s/c.lua", mdir);
    unlink(path);
    eng_scripts_scan(reg, &changed);
    CHECK_STR(default_of(reg, NULL, "products"), "");
    CHECK_STR(default_of(reg, NULL, "orders"), "b");
    cleanup(reg);
}

/* The first scan validates on several threads (issue 14: start to ready), the costliest file
 * first; what it publishes and rejects, and the order of the registry, are still those of a scan
 * in name order. Here the first mapping is the slowest to validate (its top level loops), so the
 * others finish before it: it must still be the one that keeps 'orders'. */
static void test_first_scan_keeps_name_order(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    write_file(mdir, "m00.lua",
               "local n = 0 for i = 1, 200000 do n = n + i end\n"
               "-- the largest file: validated first, finished last\n"
               "-- ...........................................................................\n"
               "-- ...........................................................................\n"
               "return { default_for = 'orders', source = { connector = 'woocommerce', "
               "entity = 'orders' }, map = function(r) return { v = n } end }\n");
    char name[32];
    for (int i = 1; i <= 8; i++) {
        snprintf(name, sizeof name, "m%02d.lua", i);
        write_file(mdir, name, MAP_DEFAULT("'orders'"));
    }
    write_file(mdir, "m09.lua", "return { map = function(r) return { v = } end }\n");
    int changed = 0;
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 4); /* lib/mapping.lua, mapping_rules.lua, civil_date.lua and m00.lua */
    char *st = status(reg);
    CHECK(!contains(st, "mappings/m00.lua:")); /* accepted (its loop is well inside 500 ms) */
    CHECK_STR(default_of(reg, NULL, "orders"), "m00");
    CHECK_INT(eng_scripts_error_count(reg), 9); /* m01..m08 (the claim) and m09 (syntax) */
    CHECK(contains(st, "mappings/m05.lua: default_for 'orders': mappings/m00.lua is already the "
                       "default flow of 'orders'"));
    CHECK(contains(st, "mappings/m09.lua:1:"));
    /* the registry lists the files in name order */
    const char *prev = st;
    for (int i = 0; i <= 9 && prev != NULL; i++) {
        snprintf(name, sizeof name, "\"mappings/m%02d.lua\"", i);
        const char *at = strstr(st, name);
        CHECK(at != NULL && at >= prev);
        prev = at;
    }
    free(st);
    /* a second scan of the unchanged tree finds nothing to do */
    eng_scripts_scan(reg, &changed);
    CHECK_INT(changed, 0);
    CHECK_INT(eng_scripts_error_count(reg), 9);
    cleanup(reg);
}

/* A connector's webhook_entities are published as its webhook routes; on_webhook is refused. */
static void test_connector_webhook_routes(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    char cdir[400];
    snprintf(cdir, sizeof cdir, "%s/connectors", sdir);
    mkdir(cdir, 0755);
    write_file(cdir, "shop.lua",
               "return { name = 'shop', webhook_entities = { order = 'orders', item = 'products' "
               "} }\n");
    write_file(cdir, "hooky.lua", "return { name = 'hooky', on_webhook = function() end }\n");
    write_file(cdir, "bad.lua", "return { name = 'bad', webhook_entities = { order = 7 } }\n");
    /* a metamethod that raises while the contract is read is that version's error (it ran
     * unprotected before: the engine aborted) */
    write_file(cdir, "meta.lua",
               "return setmetatable({ name = 'meta' }, { __index = function(_, k) error('no ' .. "
               "k, 0) end })\n");
    eng_scripts_scan(reg, NULL);
    struct eng_policy_routes r;
    eng_policy_webhook_routes(eng_scripts_policy(reg), "shop", &r);
    CHECK_INT(r.n, 2);
    CHECK_STR(eng_policy_route_entity(&r, "order"), "orders");
    CHECK_STR(eng_policy_route_entity(&r, "item"), "products");
    CHECK(eng_policy_route_entity(&r, "coupon") == NULL);
    eng_policy_webhook_routes(eng_scripts_policy(reg), "bad", &r);
    CHECK_INT(r.n, 0);
    char *st = status(reg);
    CHECK(contains(st, "scripts/connectors/hooky.lua: field 'on_webhook' is not part of the "
                       "connector contract"));
    CHECK(contains(st, "scripts/connectors/bad.lua: field 'webhook_entities' must map resource "
                       "names to entity names"));
    CHECK(contains(st, "\"path\":\"scripts/connectors/meta.lua\",\"kind\":\"connector\","
                       "\"active\":false,\"error\":\"no test"));
    free(st);

    /* a new version's table replaces the old one; deletion removes it */
    write_file(cdir, "shop.lua",
               "return { name = 'shop', webhook_entities = { order = 'sales' } }\n");
    eng_scripts_scan(reg, NULL);
    eng_policy_webhook_routes(eng_scripts_policy(reg), "shop", &r);
    CHECK_INT(r.n, 1);
    CHECK_STR(eng_policy_route_entity(&r, "order"), "sales");
    char path[512];
    snprintf(path, sizeof path, "%s/shop.lua", cdir);
    unlink(path);
    eng_scripts_scan(reg, NULL);
    eng_policy_webhook_routes(eng_scripts_policy(reg), "shop", &r);
    CHECK_INT(r.n, 0);
    cleanup(reg);
}

/* The shipped mappings declare today's defaults: what POST /api/sync/{entity} runs. */
static void test_shipped_default_flows(void)
{
    const char *src = getenv("ENG_SOURCE_DIR") ? getenv("ENG_SOURCE_DIR") : ".";
    char s[600], m[600];
    snprintf(s, sizeof s, "%s/scripts", src);
    snprintf(m, sizeof m, "%s/mappings", src);
    struct eng_vm_opts o = {0};
    o.scripts_dir = s;
    o.mappings_dir = m;
    struct eng_err err = {0};
    struct eng_scripts *reg = eng_scripts_new(&o, &err);
    REQUIRE(reg != NULL);
    eng_scripts_scan(reg, NULL);
    CHECK_INT(eng_scripts_error_count(reg), 0);
    CHECK_STR(default_of(reg, "woocommerce", "orders"), "woo_order_to_qbo_invoice");
    CHECK_STR(default_of(reg, "woocommerce", "customers"), "woo_customer_to_qbo_customer");
    CHECK_STR(default_of(reg, "woocommerce", "products"), "woo_product_to_qbo_item");
    CHECK_STR(default_of(reg, "woocommerce", "refunds"), "woo_refund_to_qbo_refund_receipt");
    CHECK_STR(default_of(reg, "quickbooks", "Invoice"), "");
    char known[200];
    eng_policy_default_entities(eng_scripts_policy(reg), known, sizeof known);
    CHECK_STR(known, "customers, orders, products, refunds");
    /* and the woocommerce connector today's webhook routing */
    struct eng_policy_routes r;
    eng_policy_webhook_routes(eng_scripts_policy(reg), "woocommerce", &r);
    CHECK_INT(r.n, 3);
    CHECK_STR(eng_policy_route_entity(&r, "order"), "orders");
    CHECK_STR(eng_policy_route_entity(&r, "customer"), "customers");
    CHECK_STR(eng_policy_route_entity(&r, "product"), "products");
    eng_scripts_free(reg);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_watcher_reloads_within_a_second(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    write_file(mdir, "w.lua", "return { map = function() return { v = 1 } end }\n");
    struct eng_err err = {0};
    REQUIRE(eng_scripts_start(reg, &err) == 0);
    uint64_t g = eng_scripts_generation(reg);
    CHECK(g > 0);

    long long t0 = now_ms();
    write_file(mdir, "w.lua", "return { map = function() return { v = 2 } end }\n");
    while (eng_scripts_generation(reg) == g && now_ms() - t0 < 3000) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    long long took = now_ms() - t0;
    CHECK(eng_scripts_generation(reg) > g);
    if (took >= 1000)
        fprintf(stderr, "  reload took %lld ms\n", took);
    CHECK(took < 1000);
    char *src = published(reg, "mappings/w.lua");
    CHECK(contains(src, "v = 2"));
    free(src);
    cleanup(reg);
}

/* The first scan's validators keep one VM per thread from file to file: what one file's top
 * level leaves (a global) never reaches the next, and a library whose top level fails fails
 * every file that requires it with its own error, not a "circular require". */
static void test_first_scan_files_do_not_meet(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    write_file(sdir, "lib/bad.lua", "error('bad library')\n");
    /* a module's function that sets a global: it goes to the running task's table */
    write_file(sdir, "lib/good.lua",
               "local M = {}\n"
               "function M.set(v) left_by = v end\n"
               "function M.get() return left_by end\n"
               "return M\n");
    char name[32], text[400];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "s%02d.lua", i);
        if (i % 3 == 0) /* fails: requires the broken library */
            snprintf(text, sizeof text, "local b = require 'lib.bad'\nreturn {}\n");
        else /* leaves globals behind, and checks that none was left for it */
            snprintf(text, sizeof text,
                     "local g = require 'lib.good'\n"
                     "assert(leaked == nil and g.get() == nil,\n"
                     "       'a global of another file: ' .. tostring(leaked or g.get()))\n"
                     "leaked = %d\n"
                     "g.set(%d)\n"
                     "return {}\n",
                     i, i);
        write_file(sdir, name, text);
    }
    int changed = 0;
    eng_scripts_scan(reg, &changed);
    CHECK_INT(eng_scripts_error_count(reg), 5); /* lib/bad.lua and s00, s03, s06, s09 */
    char *st = status(reg);
    CHECK(!contains(st, "a global of another file"));
    CHECK(!contains(st, "circular"));
    for (int i = 0; i < 12; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"path\":\"scripts/s%02d.lua\",", i);
        const char *at = strstr(st, want);
        REQUIRE(at != NULL);
        const char *end = strchr(at + 1, '}');
        int rejected =
            end != NULL && strstr(at, "bad library") != NULL && strstr(at, "bad library") < end;
        CHECK_INT(rejected, i % 3 == 0);
    }
    free(st);
    cleanup(reg);
}

CHECK_MAIN(CHECK_CASE(test_publish_reject_swap_delete),
           CHECK_CASE(test_data_tests_gate_publication), CHECK_CASE(test_connector_exports_checked),
           CHECK_CASE(test_watcher_reloads_within_a_second),
           CHECK_CASE(test_default_flows_declared), CHECK_CASE(test_first_scan_keeps_name_order),
           CHECK_CASE(test_connector_webhook_routes), CHECK_CASE(test_shipped_default_flows),
           CHECK_CASE(test_first_scan_files_do_not_meet))

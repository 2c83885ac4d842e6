/*
 * test_policy.c - the published shop policy (base/policy.h): what is published is what readers
 * copy out (default flows by entity, filtered by source; webhook routes by source), a too small
 * buffer or an unknown entity is an error and never a partial name, a publication replaces the
 * whole tables, and readers racing a publisher only ever see one table or the other.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/policy.h"
#include "check.h"

static const struct eng_policy_default defs_a[] = {
    {"orders", "woo_order_to_qbo_invoice", "woocommerce"},
    {"customers", "woo_customer_to_qbo_customer", "woocommerce"},
};
static const struct eng_policy_route_decl routes_a[] = {
    {"woocommerce", "order", "orders"},
    {"woocommerce", "customer", "customers"},
    {"shop", "sale", "orders"},
};

static void test_publish_and_copy(void)
{
    struct eng_policy *p = eng_policy_new();
    REQUIRE(p != NULL);
    char flow[ENG_POLICY_NAME_MAX + 1];
    CHECK_INT(eng_policy_default_flow(p, NULL, "orders", flow, sizeof flow), ENG_ENOTFOUND);
    CHECK_STR(flow, "");
    REQUIRE(eng_policy_publish(p, defs_a, 2, routes_a, 3) == 0);
    CHECK_INT(eng_policy_default_flow(p, NULL, "orders", flow, sizeof flow), 0);
    CHECK_STR(flow, "woo_order_to_qbo_invoice");
    CHECK_INT(eng_policy_default_flow(p, "woocommerce", "customers", flow, sizeof flow), 0);
    CHECK_STR(flow, "woo_customer_to_qbo_customer");
    /* the default reads another connector than the record's */
    CHECK_INT(eng_policy_default_flow(p, "quickbooks", "orders", flow, sizeof flow), ENG_ENOTFOUND);
    CHECK_STR(flow, "");
    CHECK_INT(eng_policy_default_flow(p, NULL, "refunds", flow, sizeof flow), ENG_ENOTFOUND);
    char small[8];
    CHECK_INT(eng_policy_default_flow(p, NULL, "orders", small, sizeof small), ENG_EINVAL);
    CHECK_STR(small, "");
    char known[64];
    eng_policy_default_entities(p, known, sizeof known);
    CHECK_STR(known, "customers, orders");
    eng_policy_default_entities(p, known, 6);
    CHECK_STR(known, "custo"); /* cut, still a string */

    struct eng_policy_routes r;
    eng_policy_webhook_routes(p, "woocommerce", &r);
    CHECK_INT(r.n, 2);
    CHECK_STR(eng_policy_route_entity(&r, "order"), "orders");
    CHECK_STR(eng_policy_route_entity(&r, "customer"), "customers");
    CHECK(eng_policy_route_entity(&r, "sale") == NULL); /* another source's */
    CHECK(eng_policy_route_entity(NULL, "order") == NULL);
    eng_policy_webhook_routes(p, "nobody", &r);
    CHECK_INT(r.n, 0);

    /* a publication replaces everything; a name too long for C is left out */
    char longname[ENG_POLICY_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const struct eng_policy_default defs_b[] = {{"products", "item", "woocommerce"},
                                                {longname, "f", "woocommerce"}};
    REQUIRE(eng_policy_publish(p, defs_b, 2, NULL, 0) == 0);
    CHECK_INT(eng_policy_default_flow(p, NULL, "orders", flow, sizeof flow), ENG_ENOTFOUND);
    CHECK_INT(eng_policy_default_flow(p, NULL, "products", flow, sizeof flow), 0);
    eng_policy_default_entities(p, known, sizeof known);
    CHECK_STR(known, "products");
    eng_policy_webhook_routes(p, "woocommerce", &r);
    CHECK_INT(r.n, 0);
    eng_policy_free(p);

    /* no policy at all: nothing is a default, nothing routes */
    CHECK_INT(eng_policy_default_flow(NULL, NULL, "orders", flow, sizeof flow), ENG_ENOTFOUND);
    eng_policy_webhook_routes(NULL, "woocommerce", &r);
    CHECK_INT(r.n, 0);
}

struct race {
    struct eng_policy *p;
    atomic_int stop;
    atomic_int torn;
};

static void *reader(void *arg)
{
    struct race *x = arg;
    char flow[ENG_POLICY_NAME_MAX + 1];
    struct eng_policy_routes r;
    while (!atomic_load(&x->stop)) {
        if (eng_policy_default_flow(x->p, NULL, "orders", flow, sizeof flow) != 0 ||
            (strcmp(flow, "flow_one") != 0 && strcmp(flow, "flow_two") != 0))
            atomic_fetch_add(&x->torn, 1);
        eng_policy_webhook_routes(x->p, "woocommerce", &r);
        const char *e = eng_policy_route_entity(&r, "order");
        if (r.n != 1 || e == NULL || (strcmp(e, "one") != 0 && strcmp(e, "two") != 0))
            atomic_fetch_add(&x->torn, 1);
    }
    return NULL;
}

/* Hot reload publishes while workers and HTTP threads read: each read is one whole table. */
static void test_readers_race_a_publisher(void)
{
    struct race x = {.p = eng_policy_new()};
    REQUIRE(x.p != NULL);
    const struct eng_policy_default d1 = {"orders", "flow_one", "woocommerce"};
    const struct eng_policy_default d2 = {"orders", "flow_two", "woocommerce"};
    const struct eng_policy_route_decl r1 = {"woocommerce", "order", "one"};
    const struct eng_policy_route_decl r2 = {"woocommerce", "order", "two"};
    REQUIRE(eng_policy_publish(x.p, &d1, 1, &r1, 1) == 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&th[i], NULL, reader, &x) == 0);
    for (int i = 0; i < 2000; i++)
        eng_policy_publish(x.p, i % 2 ? &d1 : &d2, 1, i % 2 ? &r1 : &r2, 1);
    atomic_store(&x.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&x.torn), 0);
    eng_policy_free(x.p);
}

CHECK_MAIN(CHECK_CASE(test_publish_and_copy), CHECK_CASE(test_readers_race_a_publisher))

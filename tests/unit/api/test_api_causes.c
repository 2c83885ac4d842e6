/*
 * test_api_causes.c - engine/api/api_causes.c: every error code the engine and the connectors
 * record with a failed record (lib/sync.lua, engine.http, connectors/quickbooks.lua and its
 * Fault codes) has its own sentence; a mapping's refusal is told apart by its message; a code
 * it does not know gets the generic sentence, never its own text (nor a message's) back.
 */
#include <string.h>

#include "api/api.h"
#include "check.h"

static const char *generic(void)
{
    return eng_api_cause("no-such-code", NULL);
}

/* The codes a failed record can carry today (grep scripts/ and engine/lua/lmod_http.c). */
static void test_every_recorded_code_has_its_sentence(void)
{
    static const char *const codes[] = {
        /* lib/sync.lua */
        "missing_dependency", "dependency", "lookup", "source", "target", "write", "conflict",
        "in_flight", "missing",
        /* engine.http */
        "timeout", "connect", "dns", "tls", "too_large", "http",
        /* connectors/quickbooks.lua */
        "throttled", "bad_response", "reconnect_required", "auth", "refresh_busy", "refresh_failed",
        "invalid_grant", "token_store_failed", "no_credentials", "no_config",
        /* QuickBooks Faults (lib/qbo_fault.lua) */
        "610", "2500", "3001", "3200", "5010", "6000", "6140", "6190", "6210", "6240"};
    const char *g = generic();
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *c = eng_api_cause(codes[i], "whatever the message");
        if (c == g || c == NULL || strlen(c) < 40)
            fprintf(stderr, "  code %s has no sentence of its own\n", codes[i]);
        CHECK(c != NULL && c != g && strlen(c) >= 40);
    }
    /* what the sentences promise for the best-known ones */
    CHECK(strstr(eng_api_cause("6140", NULL), "Duplicate Document Number") != NULL);
    CHECK(strstr(eng_api_cause("5010", NULL), "SyncToken") != NULL);
    CHECK(strstr(eng_api_cause("throttled", NULL), "retried") != NULL);
    CHECK(strstr(eng_api_cause("reconnect_required", NULL), "connect QuickBooks again") != NULL);
}

static void test_http_statuses_and_fault_classes(void)
{
    const char *g = generic();
    CHECK(strstr(eng_api_cause("http_503", NULL), "5xx") != NULL);
    CHECK(strstr(eng_api_cause("http_404", NULL), "4xx") != NULL);
    CHECK(strstr(eng_api_cause("100", NULL), "authorization") != NULL); /* auth class */
    CHECK(strstr(eng_api_cause("2020", NULL), "validation") != NULL);   /* validation */
    CHECK(strstr(eng_api_cause("10000", NULL), "severe") != NULL);      /* severe */
    CHECK(strstr(eng_api_cause("6999", NULL), "QuickBooks refused") != NULL);
    CHECK(eng_api_cause("0", NULL) == g);
    CHECK(eng_api_cause("12345678", NULL) == g); /* too long for a Fault code */
    CHECK(eng_api_cause("-5", NULL) == g);
}

/* Code "mapping": the message's words pick the sentence (lib/qbo_doc.lua, lib/woo_sales.lua). */
static void test_mapping_refusals_by_message(void)
{
    const char *m = eng_api_cause("mapping", NULL);
    CHECK(m != generic());
    CHECK(strstr(m, "mapping") != NULL);
    CHECK(strstr(eng_api_cause("mapping", "woo: order 5: $.line_items[0].total: money: cannot "
                                          "parse \"6.001\" as an amount: more than 2 decimal "
                                          "places and rounding is \"exact\""),
                 "more decimals than its currency allows") != NULL);
    CHECK(strstr(eng_api_cause("mapping", "order 963: does not reconcile: lines 318.50 - ..."),
                 "do not add up") != NULL);
    CHECK(strstr(eng_api_cause("mapping", "$.line_items[0]: its tax rates 5+6 map to two TaxCodes "
                                          "(11 and 14)"),
                 "tax_code_mappings") != NULL);
    CHECK(strstr(eng_api_cause("mapping", "transformer_config.default_payment_terms_days: ..."),
                 "Settings page") != NULL);
    CHECK(eng_api_cause("mapping", "something new") == m);
}

/* Never the raw text: an unknown code, a JSON-looking one, none at all. */
static void test_unknown_codes_get_the_generic_sentence(void)
{
    const char *g = generic();
    static const char *const odd[] = {"",         "{\"Fault\":{\"Error\":[]}}",
                                      "PGRST116", "E_WHATEVER",
                                      "mapping ", "6140 ",
                                      "http_",    "http_999x"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        const char *c = eng_api_cause(odd[i], "{\"raw\":\"json\"}");
        CHECK(c != NULL);
        CHECK(strstr(c, "{") == NULL && strstr(c, "raw") == NULL);
    }
    CHECK(eng_api_cause(NULL, NULL) == g);
    CHECK(eng_api_cause("", "x") == g);
    CHECK(eng_api_cause("{\"Fault\":1}", NULL) == g);
    CHECK(eng_api_cause("PGRST116", NULL) == g);
    CHECK(strstr(g, "retr") != NULL);
}

CHECK_MAIN(CHECK_CASE(test_every_recorded_code_has_its_sentence),
           CHECK_CASE(test_http_statuses_and_fault_classes),
           CHECK_CASE(test_mapping_refusals_by_message),
           CHECK_CASE(test_unknown_codes_get_the_generic_sentence))

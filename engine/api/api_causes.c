/*
 * api_causes.c - a recorded failure's cause in words (api.h: eng_api_cause): one table from the
 * error codes the engine and the connectors store with a failed record (sync_records.error_code:
 * lib/sync.lua's own codes, engine.http's network codes, the QuickBooks connector's Fault codes
 * and its own, lib/qbo_fault.lua's classes) to a sentence saying what it means and what to do.
 * A mapping's refusal (code "mapping") is told apart by the words of its message. A code not in
 * the table gets a generic sentence; no answer ever shows the code's or the message's raw text
 * in place of a sentence.
 * Owns: the sentences (static). Must not: quote the failure's message or code (they come from
 * outside; the API shows them in their own fields).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

struct cause {
    const char *code;
    const char *text;
};

/* Exact codes, as stored. */
static const struct cause causes[] = {
    /* lib/sync.lua */
    {"missing_dependency",
     "A customer or item this record needs is not in the target, and creating it is turned off "
     "(create_missing_items in the settings). Create it in the target or turn creation on, then "
     "retry."},
    {"dependency",
     "A customer or item this record needs could not be created in the target; the message says "
     "why. Fix that first: retrying this record creates it again."},
    {"lookup",
     "Looking up an existing customer or item in the target failed, usually for a passing reason "
     "(network, rate limit). A retryable failure is retried by itself."},
    {"source",
     "Reading the source (the shop) failed; the message says why. Test its connection; the "
     "record is retried once the source answers."},
    {"target",
     "The target company's preferences could not be read at the start of the run. Test the "
     "connection; the record is retried once the target answers."},
    {"write",
     "The target refused the record; the message gives its reason. Fix the record at its source "
     "or the mapping that builds the document, then retry."},
    {"conflict",
     "The document changed in the target since the last sync, and the conflict policy (manual) "
     "leaves the choice to you: compare both versions, then retry to write this record's over "
     "it, or leave the target's."},
    {"in_flight",
     "Another job was writing this record at the same moment. Nothing to do: it is retried "
     "shortly."},
    {"missing",
     "The target's batch answer held no result for this record. It is retried by itself; the "
     "request carries an idempotency key, so no second document is made."},
    /* engine.http (every connector) */
    {"timeout",
     "The target did not answer in time (or the wait for its rate limit ran past the budget). "
     "Usually passing: the record is retried by itself."},
    {"connect",
     "The engine could not connect to the target: it is down or its address is wrong. The record "
     "is retried; if it lasts, check the address stored with the credentials and test the "
     "connection."},
    {"dns",
     "The target's host name does not resolve. Check the address stored with the credentials, "
     "then test the connection."},
    {"tls",
     "The secure connection to the target failed: its certificate is not valid for that host or "
     "not trusted. Check the address stored with the credentials."},
    {"too_large",
     "The target's answer was larger than the engine accepts. Sync fewer records at a time, or "
     "ask the operator."},
    {"http", "The request to the target failed at the HTTP level. The record is retried."},
    {"throttled",
     "Rate limit: the target asked the engine to slow down (HTTP 429). Nothing to do: the record "
     "is retried after a pause."},
    {"bad_response",
     "The target answered something its API does not promise (for example no JSON). Often "
     "passing: the record is retried."},
    /* connectors/quickbooks.lua */
    {"reconnect_required",
     "QuickBooks refused the stored refresh token: connect QuickBooks again (Connections page), "
     "then retry."},
    {"auth",
     "The target refused the stored credentials. Store them again or reconnect (Connections "
     "page), test the connection, then retry."},
    {"refresh_busy",
     "Another worker was renewing the QuickBooks tokens at the same moment. Nothing to do: it "
     "is retried shortly."},
    {"refresh_failed",
     "Renewing the QuickBooks tokens failed. Test the connection; if it keeps failing, connect "
     "QuickBooks again."},
    {"invalid_grant", "QuickBooks refused the stored refresh token: connect QuickBooks again."},
    {"token_store_failed",
     "New QuickBooks tokens could not be saved. The record is retried; if it lasts, the "
     "engine's store needs the operator."},
    {"no_credentials",
     "No credentials are stored for a connector this flow uses. Store them on the Connections "
     "page, then retry."},
    {"no_config",
     "The QuickBooks API address is not configured (QUICKBOOKS_API_BASE or the operator "
     "settings). The operator sets it; then retry."},
    /* QuickBooks Fault codes (lib/qbo_fault.lua) */
    {"610", "The QuickBooks document this record was synced to no longer exists (Object Not Found, "
            "Fault 610): it was deleted there. Retry to create it again, or leave it deleted."},
    {"2500",
     "QuickBooks refused a reference in the document (Invalid Reference, Fault 2500): an "
     "account, item, tax code or customer id it names is not in the company. Check the ids in "
     "the settings (tax codes, shipping item), then retry."},
    {"3001",
     "Rate limit: QuickBooks asked the engine to slow down (Fault 3001). Nothing to do: the "
     "record is retried after a pause."},
    {"3200", "QuickBooks refused the stored credentials (Fault 3200). Connect QuickBooks again "
             "(Connections page), then retry."},
    {"5010",
     "The document changed in QuickBooks since the last sync (stale SyncToken, Fault 5010). The "
     "conflict policy decides; retry to write this record's version over it."},
    {"6000",
     "QuickBooks refused the document by one of its business rules (Fault 6000); the message "
     "names the rule. Change the record, the mapping or the company's settings, then retry."},
    {"6140",
     "QuickBooks already holds another document with this number (Duplicate Document Number, "
     "Fault 6140), not this record's. Renumber or delete the other one in QuickBooks, or change "
     "how the mapping sets DocNumber; then retry."},
    {"6190",
     "The QuickBooks company's subscription is not active (Fault 6190): it takes no writes until "
     "its owner reactivates it. Then retry."},
    {"6210",
     "The document's date falls in a period closed in QuickBooks (Fault 6210). Move the closing "
     "date in QuickBooks or change the date the mapping sends, then retry."},
    {"6240",
     "QuickBooks already has a customer, vendor or item with this name (Duplicate Name, Fault "
     "6240) and no free variant was found. Rename the one in QuickBooks or change how the "
     "mapping names it, then retry."},
};

/* A mapping's refusal ("mapping"), by words of its message (lib/qbo_doc.lua, lib/woo_sales.lua,
 * the mappings' own errors), first match wins. */
static const struct cause mapping_causes[] = {
    {"does not reconcile",
     "The mapping refused the record because its amounts do not add up: the document it would "
     "send does not reconcile with the source's total (the message gives both). Check the "
     "record at its source; if the source is right, fix the mapping (turn the record into a "
     "test case to try the fix), then retry."},
    {"map to two TaxCodes",
     "The record's tax rates map to different QuickBooks tax codes and no code is set for their "
     "combination. Add the combination to tax_code_mappings in the settings, then retry."},
    {"transformer_config.",
     "A setting this mapping reads is invalid (the message names it). Fix it on the Settings "
     "page, then retry."},
    {"not paid",
     "This flow takes paid orders only and the order is not paid yet. It goes through once it "
     "is paid (a webhook or the next run brings it), or sync it with the invoice flow."},
    {"too many digits",
     "An amount in the record has more digits than the mapping can send exactly. Fix the "
     "record at its source, or change the mapping to round it (turn the record into a test "
     "case to try the fix), then retry."},
    {"decimal places",
     "An amount in the record has more decimals than its currency allows. Fix the record at its "
     "source, or change the mapping to round it (turn the record into a test case to try the "
     "fix), then retry."},
    {"no sku or name",
     "A line of the record has neither an SKU nor a name to find its item by. Give the product "
     "an SKU at the source, or change the mapping, then retry."},
    {"no e-mail address or name",
     "The record has no e-mail address or name to find or create its customer by. Add one at the "
     "source, or change the mapping, then retry."},
};

static const char mapping_generic[] =
    "The mapping refused the record; the message names the field and the reason. Fix the record "
    "at its source or change the mapping (turn the record into a test case to try the fix), then "
    "retry.";

static const char generic[] =
    "The record could not be synced; the message gives the reason the engine or the target "
    "gave. A retryable failure is retried by itself; otherwise fix the cause, then retry.";

const char *eng_api_cause(const char *code, const char *error)
{
    if (code == NULL || code[0] == '\0')
        return generic;
    if (strcmp(code, "mapping") == 0) {
        for (size_t i = 0; error != NULL && i < sizeof mapping_causes / sizeof mapping_causes[0];
             i++)
            if (strstr(error, mapping_causes[i].code) != NULL)
                return mapping_causes[i].text;
        return mapping_generic;
    }
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++)
        if (strcmp(code, causes[i].code) == 0)
            return causes[i].text;
    /* "http_<status>" from the QuickBooks connector without a Fault body */
    if (strncmp(code, "http_5", 6) == 0)
        return "The target failed on its side (an HTTP 5xx answer). The record is retried by "
               "itself; if it lasts, the target's status page may say why.";
    if (strncmp(code, "http_4", 6) == 0)
        return "The target refused the request (an HTTP 4xx answer without an explanation). "
               "Check the record and the connection's settings, then retry.";
    /* other QuickBooks Fault codes, by lib/qbo_fault.lua's classes */
    char *end;
    long n = strtol(code, &end, 10);
    if (end != code && *end == '\0' && n > 0 && strlen(code) <= 6) {
        if (n < 500)
            return "QuickBooks refused the request's authorization (an authentication fault). "
                   "Connect QuickBooks again (Connections page), then retry.";
        if (n >= 2000 && n < 5000)
            return "QuickBooks refused a field of the document (a validation fault; the message "
                   "names the field). Change the record or the mapping, then retry.";
        if (n >= 10000)
            return "QuickBooks failed on its side (a severe fault). The record is retried by "
                   "itself; if it lasts, contact Intuit with the intuit_tid from the message.";
        return "QuickBooks refused the document (the message gives its fault and reason). "
               "Change the record, the mapping or the company's settings, then retry.";
    }
    return generic;
}

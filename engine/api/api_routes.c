/*
 * api_routes.c - every route of the API, in one table. engine/api/openapi.json describes each one;
 * tests/unit/api/test_openapi.c fails when the two disagree.
 */
#include "api/api.h"

const struct eng_api_route eng_api_routes[] = {
    {"GET", "/health", ENG_ROUTE_PUBLIC, eng_api_health},
    {"GET", "/ready", ENG_ROUTE_PUBLIC, eng_api_ready},
    {"GET", "/metrics", ENG_ROUTE_PUBLIC, eng_api_metrics},
    {"GET", "/api/openapi.json", ENG_ROUTE_PUBLIC, eng_api_openapi},
    {"GET", "/api/scripts", 0, eng_api_scripts},
    {"POST", "/api/mappings/{name}/dry-run", ENG_ROUTE_NDJSON, eng_api_dry_run},
    {"GET", "/api/integrations", 0, eng_api_integrations_list},
    {"GET", "/api/integrations/{platform}/status", 0, eng_api_integration_status},
    {"GET", "/api/integrations/{platform}/fields", 0, eng_api_integration_fields},
    {"POST", "/api/integrations/{platform}/credentials", 0, eng_api_integration_store},
    {"DELETE", "/api/integrations/{platform}/credentials", 0, eng_api_integration_delete},
    {"POST", "/api/integrations/{platform}/test", 0, eng_api_integration_test},
    {"POST", "/api/integrations/woocommerce/webhooks/check", 0, eng_api_woo_webhooks_check},
    {"POST", "/api/integrations/woocommerce/webhooks/register", 0, eng_api_woo_webhooks_register},
    {"GET", "/api/integrations/quickbooks/connect", 0, eng_api_qbo_connect},
    {"GET", "/api/integrations/quickbooks/callback", ENG_ROUTE_PUBLIC, eng_api_qbo_callback},
    {"GET", "/api/sync/status", 0, eng_api_sync_status_list},
    {"GET", "/api/sync/status/{syncId}", 0, eng_api_sync_status},
    {"GET", "/api/sync/status/{syncId}/records", 0, eng_api_sync_records},
    {"GET", "/api/sync/history", 0, eng_api_sync_history},
    {"GET", "/api/sync/failures", 0, eng_api_sync_failures},
    {"GET", "/api/sync/failures/{id}", 0, eng_api_sync_failure},
    {"POST", "/api/sync/failures/{id}/test-case", 0, eng_api_sync_failure_test_case},
    {"GET", "/api/sync/stats/hourly", 0, eng_api_sync_hourly},
    {"GET", "/api/overview", 0, eng_api_overview},
    {"POST", "/api/sync/retry", 0, eng_api_sync_retry},
    {"GET", "/api/sync/schedules", 0, eng_api_sync_schedule_list},
    {"POST", "/api/sync/schedules", 0, eng_api_sync_schedule_create},
    {"DELETE", "/api/sync/schedules/{id}", 0, eng_api_sync_schedule_delete},
    {"POST", "/api/sync/{syncId}/stop", 0, eng_api_sync_stop},
    {"POST", "/api/sync/{entity}", 0, eng_api_sync_start},
    {"GET", "/api/settings/transformer_config", 0, eng_api_settings_get},
    {"PUT", "/api/settings/transformer_config", 0, eng_api_settings_put},
    {"GET", "/api/operator/settings", 0, eng_api_operator_get},
    {"PUT", "/api/operator/settings", 0, eng_api_operator_put},
    {"POST", "/api/webhooks/woocommerce", ENG_ROUTE_PUBLIC | ENG_ROUTE_ANY_BODY,
     eng_api_webhook_woocommerce},
    {"POST", "/api/webhooks/quickbooks", ENG_ROUTE_PUBLIC | ENG_ROUTE_ANY_BODY,
     eng_api_webhook_quickbooks},
    {"POST", "/api/webhooks/quickbooks/cloudevents", ENG_ROUTE_PUBLIC | ENG_ROUTE_ANY_BODY,
     eng_api_webhook_quickbooks},
    {"GET", "/api/webhooks/events", 0, eng_api_webhook_events},
    {"POST", "/api/webhooks/events/{id}/replay", 0, eng_api_webhook_replay},
};

const size_t eng_api_nroutes = sizeof eng_api_routes / sizeof eng_api_routes[0];

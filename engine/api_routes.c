/*
 * api_routes.c - every route of the API, in one table. engine/openapi.json describes each one;
 * tests/unit/test_openapi.c fails when the two disagree.
 */
#include "api.h"

const struct eng_api_route eng_api_routes[] = {
    {"GET", "/health", ENG_ROUTE_PUBLIC, eng_api_health},
    {"GET", "/ready", ENG_ROUTE_PUBLIC, eng_api_ready},
    {"GET", "/metrics", ENG_ROUTE_PUBLIC, eng_api_metrics},
    {"GET", "/api/openapi.json", ENG_ROUTE_PUBLIC, eng_api_openapi},
    {"GET", "/api/scripts", 0, eng_api_scripts},
    {"POST", "/api/mappings/{name}/dry-run", ENG_ROUTE_NDJSON, eng_api_dry_run},
};

const size_t eng_api_nroutes = sizeof eng_api_routes / sizeof eng_api_routes[0];

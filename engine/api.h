/*
 * api.h - the engine's HTTP routes. Handlers are C, parse and validate, and hand anything that
 * runs a script to the workers; they never block a server thread on a remote system.
 * Must not: include microhttpd.h (httpd.c is the adapter) or touch a lua_State.
 */
#ifndef ENG_API_H
#define ENG_API_H

#include "config.h"
#include "httpd.h"
#include "scripts.h"
#include "worker.h"

struct eng_api {
    const struct eng_config *cfg;
    struct eng_scripts *scripts;
    struct eng_workers *workers;
    long long started_ms;
};

/* The one eng_http_handler of the server; app is a struct eng_api. */
int eng_api_handle(void *app, struct eng_http_req *req, struct eng_http_resp *resp);

/* Fill resp with the error envelope {"error":{"code","message","details"}}; details is JSON
 * text or NULL. */
void eng_api_error(struct eng_http_resp *resp, int status, const char *code, const char *message,
                   const char *details);

#endif

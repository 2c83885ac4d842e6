/*
 * httpd.h - the HTTP server adapter (libmicrohttpd is included by httpd.c only).
 * It reads a whole request (body capped), calls one application handler, and sends what the
 * handler put in struct eng_http_resp. A handler that hands work to a worker returns
 * ENG_HTTP_PENDING; the connection is suspended (no server thread waits) until someone calls
 * eng_http_resume, and then the handler is called again for the same request to finish.
 */
#ifndef ENG_HTTPD_H
#define ENG_HTTPD_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define ENG_HTTP_DONE        0
#define ENG_HTTP_PENDING     1
#define ENG_HTTP_MAX_HEADERS 6

struct eng_http_req;

struct eng_http_resp {
    int status;
    const char *content_type; /* static string; default application/json */
    struct eng_buf body;
    const char *header_names[ENG_HTTP_MAX_HEADERS]; /* static names */
    char header_values[ENG_HTTP_MAX_HEADERS][256];
    int nheaders;
};

/* Add a response header (name must be a static string). Extra headers are dropped. */
void eng_http_resp_header(struct eng_http_resp *resp, const char *name, const char *value);

const char *eng_http_method(struct eng_http_req *req);
const char *eng_http_path(struct eng_http_req *req); /* without the query string */
const char *eng_http_header(struct eng_http_req *req, const char *name); /* NULL if absent */
const char *eng_http_query(struct eng_http_req *req, const char *name);  /* NULL if absent */
const char *eng_http_body(struct eng_http_req *req, size_t *len);        /* NUL-terminated */
const char *eng_http_peer(struct eng_http_req *req);                     /* client IP text */

/* Per-request state of an application handler; free_fn runs when the request ends. */
void *eng_http_state(struct eng_http_req *req);
void eng_http_set_state(struct eng_http_req *req, void *state, void (*free_fn)(void *));
/* Wake a request whose handler returned ENG_HTTP_PENDING. Any thread, exactly once. */
void eng_http_resume(struct eng_http_req *req);

typedef int (*eng_http_handler)(void *app, struct eng_http_req *req, struct eng_http_resp *resp);

struct eng_httpd_opts {
    const char *host; /* numeric IPv4 or IPv6 address to bind */
    int port;         /* 0 = any free port (see eng_httpd_port) */
    size_t max_body;  /* larger request bodies get 413 */
    int threads;      /* server threads */
    eng_http_handler handler;
    void *app;
};

struct eng_httpd;

int eng_httpd_start(const struct eng_httpd_opts *opts, struct eng_httpd **out, struct eng_err *err);
int eng_httpd_port(const struct eng_httpd *h);
/* Stop accepting and close. Requests still pending must have been resumed first. */
void eng_httpd_stop(struct eng_httpd *h);
/* The libmicrohttpd the process runs on, e.g. "libmicrohttpd 0.9.75", into buf. */
void eng_httpd_lib_version(char *buf, size_t size);

#endif

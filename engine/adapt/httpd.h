/*
 * httpd.h - the HTTP server adapter (libmicrohttpd is included by httpd.c only).
 * It reads a whole request (body capped), calls one application handler, and sends what the
 * handler put in struct eng_httpd_resp. A handler that hands work to a worker returns
 * ENG_HTTPD_PENDING; the connection is suspended (no server thread waits) until someone calls
 * eng_httpd_resume, and then the handler is called again for the same request to finish.
 */
#ifndef ENG_HTTPD_H
#define ENG_HTTPD_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define ENG_HTTPD_DONE        0
#define ENG_HTTPD_PENDING     1
#define ENG_HTTPD_MAX_HEADERS 6

struct eng_httpd_req;

struct eng_httpd_resp {
    int status;
    const char *content_type; /* static string; default application/json */
    struct eng_buf body;
    const char *header_names[ENG_HTTPD_MAX_HEADERS]; /* static names */
    char header_values[ENG_HTTPD_MAX_HEADERS][256];
    int nheaders;
};

/* Add a response header (name must be a static string). Extra headers are dropped. */
void eng_httpd_resp_header(struct eng_httpd_resp *resp, const char *name, const char *value);

const char *eng_httpd_method(struct eng_httpd_req *req);
const char *eng_httpd_path(struct eng_httpd_req *req); /* without the query string */
const char *eng_httpd_header(struct eng_httpd_req *req, const char *name); /* NULL if absent */
const char *eng_httpd_query(struct eng_httpd_req *req, const char *name);  /* NULL if absent */
const char *eng_httpd_body(struct eng_httpd_req *req, size_t *len);        /* NUL-terminated */
const char *eng_httpd_peer(struct eng_httpd_req *req);                     /* client IP text */

/* Per-request state of an application handler; free_fn runs when the request ends. */
void *eng_httpd_state(struct eng_httpd_req *req);
void eng_httpd_set_state(struct eng_httpd_req *req, void *state, void (*free_fn)(void *));
/* Wake a request whose handler returned ENG_HTTPD_PENDING. Any thread, exactly once. */
void eng_httpd_resume(struct eng_httpd_req *req);

typedef int (*eng_httpd_handler)(void *app, struct eng_httpd_req *req, struct eng_httpd_resp *resp);

struct eng_httpd_opts {
    const char *host; /* numeric IPv4 or IPv6 address to bind */
    int port;         /* 0 = any free port (see eng_httpd_port) */
    size_t max_body;  /* larger request bodies get 413 */
    int threads;      /* server threads */
    eng_httpd_handler handler;
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

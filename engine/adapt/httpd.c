/*
 * httpd.c - libmicrohttpd adapter (the only file that includes microhttpd.h).
 * Owns: the MHD daemon and one struct eng_httpd_req per request (freed by MHD's completion
 * callback). Runs MHD's internal thread pool; handlers never block it: slow work is suspended
 * with MHD_suspend_connection and resumed from the worker that finished it.
 */
#include "adapt/httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/log.h"

#define HTTPD_DRAIN_MS 5000

struct eng_httpd_req {
    struct MHD_Connection *conn;
    const struct eng_httpd *h;
    char *method;
    char *path;
    struct eng_buf body;
    int too_large;
    int started; /* handler has been called at least once */
    _Atomic int pending;
    void *state;
    void (*state_free)(void *);
    char peer[64];
};

struct eng_httpd {
    struct MHD_Daemon *d;
    _Atomic int inflight; /* requests begun and not yet completed (keep-alive idle: none) */
    struct eng_httpd_opts opts;
    int port;
};

void eng_httpd_resp_header(struct eng_httpd_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= ENG_HTTPD_MAX_HEADERS)
        return;
    resp->header_names[resp->nheaders] = name;
    snprintf(resp->header_values[resp->nheaders], sizeof resp->header_values[0], "%s", value);
    resp->nheaders++;
}

const char *eng_httpd_method(struct eng_httpd_req *req)
{
    return req->method;
}

const char *eng_httpd_path(struct eng_httpd_req *req)
{
    return req->path;
}

const char *eng_httpd_header(struct eng_httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *eng_httpd_query(struct eng_httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *eng_httpd_body(struct eng_httpd_req *req, size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}

const char *eng_httpd_peer(struct eng_httpd_req *req)
{
    return req->peer;
}

void *eng_httpd_state(struct eng_httpd_req *req)
{
    return req->state;
}

void eng_httpd_set_state(struct eng_httpd_req *req, void *state, void (*free_fn)(void *))
{
    req->state = state;
    req->state_free = free_fn;
}

void eng_httpd_resume(struct eng_httpd_req *req)
{
    /* The last touch of req by the caller's thread: MHD may finish the request right away. */
    atomic_store(&req->pending, 0);
    MHD_resume_connection(req->conn);
}

static void req_free(struct eng_httpd_req *req)
{
    if (req == NULL)
        return;
    if (req->state_free != NULL)
        req->state_free(req->state);
    eng_buf_free(&req->body);
    free(req->method);
    free(req->path);
    free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct eng_httpd *h = cls;
    (void)conn, (void)toe;
    if (*con_cls != NULL)
        atomic_fetch_sub(&h->inflight, 1);
    req_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct eng_httpd_resp *resp)
{
    size_t len = 0;
    char *body = eng_buf_take(&resp->body, &len);
    int status = resp->status;
    if (body == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"details\":null}}";
        body = strdup(oom);
        len = body != NULL ? strlen(body) : 0;
        status = 500;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
                                                             body != NULL ? MHD_RESPMEM_MUST_FREE
                                                                          : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_simple(struct MHD_Connection *conn, int status, const char *code,
                                   const char *message)
{
    struct eng_httpd_resp resp;
    memset(&resp, 0, sizeof resp);
    eng_buf_init(&resp.body);
    resp.status = status;
    eng_buf_printf(&resp.body, "{\"error\":{\"code\":\"%s\",\"message\":", code);
    eng_buf_json_str(&resp.body, message, strlen(message));
    eng_buf_puts(&resp.body, ",\"details\":null}}");
    return send_resp(conn, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct eng_httpd *h = cls;
    struct eng_httpd_req *req = *con_cls;
    (void)version;

    if (req == NULL) {
        req = calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        req->conn = conn;
        req->h = h;
        atomic_fetch_add(&h->inflight, 1);
        req->method = strdup(method);
        req->path = strdup(url);
        eng_buf_init(&req->body);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          req->peer, sizeof req->peer);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          req->peer, sizeof req->peer);
        }
        *con_cls = req;
        if (req->method == NULL || req->path == NULL)
            return MHD_NO;
        /* Refuse an announced oversized body before reading it. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > h->opts.max_body)
            req->too_large = 1;
        return MHD_YES;
    }

    if (*upload_size > 0) {
        if (!req->too_large) {
            if (req->body.len + *upload_size > h->opts.max_body)
                req->too_large = 1;
            else
                eng_buf_append(&req->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }

    if (req->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes",
                 h->opts.max_body);
        return send_simple(conn, 413, "payload_too_large", msg);
    }
    if (req->body.oom)
        return send_simple(conn, 500, "internal", "out of memory reading the request");
    if (atomic_load(&req->pending))
        return MHD_YES; /* spurious call while suspended */

    struct eng_httpd_resp resp;
    memset(&resp, 0, sizeof resp);
    eng_buf_init(&resp.body);
    resp.status = 200;
    /* Mark pending before the handler runs: its worker may resume before it returns. */
    atomic_store(&req->pending, 1);
    req->started = 1;
    int r = h->opts.handler(h->opts.app, req, &resp);
    if (r == ENG_HTTPD_PENDING) {
        eng_buf_free(&resp.body);
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    atomic_store(&req->pending, 0);
    return send_resp(conn, &resp);
}

/* libmicrohttpd's format and arguments, forwarded as they are (the attribute tells the
 * compiler so: -Wformat-nonliteral under clang). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    eng_log_kv(ENG_LOG_WARN, NULL, NULL, "http server", (const char *const[]){"detail", msg, NULL});
}

int eng_httpd_start(const struct eng_httpd_opts *opts, struct eng_httpd **out, struct eng_err *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, opts->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, opts->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        return eng_err_set(err, ENG_EINVAL, "cannot listen on '%s': not a numeric IP address",
                           opts->host);
    }

    struct eng_httpd *h = calloc(1, sizeof *h);
    if (h == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory starting the HTTP server");
    h->opts = *opts;
    h->d = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)(opts->threads > 0 ? opts->threads : 2), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_END);
    if (h->d == NULL) {
        free(h);
        return eng_err_set(err, ENG_EIO,
                           "cannot listen on %s:%d (address in use, or not permitted)", opts->host,
                           opts->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di != NULL ? di->port : opts->port;
    *out = h;
    return 0;
}

int eng_httpd_port(const struct eng_httpd *h)
{
    return h->port;
}

void eng_httpd_stop(struct eng_httpd *h)
{
    if (h == NULL)
        return;
    /* Stop accepting, then let requests already begun (e.g. just resumed by a stopping worker)
     * send their answers before the connections close; bounded so a stuck client cannot hold
     * the shutdown. */
    MHD_socket lsock = MHD_quiesce_daemon(h->d);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    for (int i = 0; i < HTTPD_DRAIN_MS / 10 && atomic_load(&h->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->d);
    free(h);
}

void eng_httpd_lib_version(char *buf, size_t size)
{
    snprintf(buf, size, "libmicrohttpd %s", MHD_get_version());
}

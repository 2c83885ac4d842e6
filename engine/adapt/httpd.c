/*
 * httpd.c - libmicrohttpd adapter (the only file that includes microhttpd.h).
 * Owns: the MHD daemon, one struct eng_httpd_req per request (freed by MHD's completion
 * callback), one struct httpd_conn per connection (MHD's notify-connection callback) and the
 * reaper thread that closes connections past their deadlines. Runs MHD's internal thread pool;
 * handlers never block it: slow work is suspended with MHD_suspend_connection and resumed from
 * the worker that finished it.
 * Slow clients: MHD's own timeout is an idle one (each byte resets it) and its connection limit
 * is global, so one address trickling headers could hold every slot. Here each connection has a
 * phase and since when: waiting for headers (a total deadline, and per address the oldest is
 * closed for a new one), reading a body (a deadline), or busy (handler, worker, answer: no
 * deadline). Closing is shutdown(2) on the socket, under the table's lock; MHD then sees the
 * end of the stream in its own thread and closes the connection as usual (its notify-closed
 * callback takes the same lock before the descriptor is closed, so it cannot be reused meanwhile).
 */
#include "adapt/httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/netaddr.h"

#define HTTPD_DRAIN_MS        5000
#define HTTPD_MAX_CONNECTIONS 1024 /* MHD's hard limit */
#define HTTPD_RESERVE         64   /* above MAX - RESERVE, a new one closes the oldest waiting */
#define HTTPD_REAP_MS         200
#define HTTPD_DEF_HEADERS_S   10
#define HTTPD_DEF_BODY_S      60
#define HTTPD_DEF_PER_ADDRESS 32

enum httpd_phase {
    HTTPD_HEADERS, /* waiting for a request's headers (new, or keep-alive after an answer) */
    HTTPD_BODY,    /* headers read, body arriving */
    HTTPD_BUSY,    /* handler, worker or answer: no deadline */
    HTTPD_CLOSING, /* shut down by us; MHD will close it */
};

/* One connection, from MHD's notify STARTED to CLOSED; in the daemon's list under its lock. */
struct httpd_conn {
    struct httpd_conn *prev, *next;
    int fd;
    struct eng_netaddr addr; /* the TCP peer */
    int trusted;             /* addr is a trusted proxy: no per-address cap on its connections */
    enum httpd_phase phase;
    long long since; /* ms (monotonic) when the phase began */
    int counted;     /* in a request counted against client's per-address limit */
    struct eng_netaddr client;
};

struct eng_httpd_req {
    struct MHD_Connection *conn;
    const struct eng_httpd *h;
    char *method;
    char *path;
    struct eng_buf body;
    int too_large;
    int answered; /* refused on its headers: the body is dropped, never read into memory */
    int started;  /* handler has been called at least once */
    _Atomic int pending;
    void *state;
    void (*state_free)(void *);
    char peer[64];
    int via_proxy; /* the TCP peer is a trusted proxy: its X-Forwarded-* headers are believed */
};

struct eng_httpd {
    struct MHD_Daemon *d;
    _Atomic int inflight; /* requests begun and not yet completed (keep-alive idle: none) */
    struct eng_httpd_opts opts;
    int port;
    struct eng_netaddr_list trusted;
    pthread_mutex_t mu; /* the connection list, and stop */
    pthread_cond_t cv;
    struct httpd_conn *head, *tail;
    size_t nconns;
    int stop;
    int reaper_running;
    pthread_t reaper;
};

static int httpd_sockaddr(const struct sockaddr *sa, struct eng_netaddr *out)
{
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET) {
        eng_netaddr_from_v4(
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        eng_netaddr_from_v6(
            (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
            out);
        return 0;
    }
    return -1;
}

/* {====================== connections: deadlines and per-address caps ====================== */

/* Close c (h->mu held): MHD reads the end of the stream and closes it in its own thread. */
static void httpd_close_locked(struct httpd_conn *c)
{
    if (c->phase == HTTPD_CLOSING)
        return;
    c->phase = HTTPD_CLOSING;
    c->counted = 0;
    shutdown(c->fd, SHUT_RDWR);
}

/* The oldest connection waiting for headers, other than except, from addr (NULL: any). */
static struct httpd_conn *httpd_oldest_waiting(struct eng_httpd *h, const struct eng_netaddr *addr,
                                               const struct httpd_conn *except, size_t *count)
{
    struct httpd_conn *best = NULL;
    *count = 0;
    for (struct httpd_conn *c = h->head; c != NULL; c = c->next) {
        if (c->phase != HTTPD_HEADERS || (addr != NULL && memcmp(&c->addr, addr, sizeof *addr)))
            continue;
        ++*count;
        if (c != except && (best == NULL || c->since < best->since))
            best = c;
    }
    return best;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct eng_httpd *h = cls;
    struct httpd_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c == NULL)
            return;
        pthread_mutex_lock(&h->mu);
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            h->head = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        else
            h->tail = c->prev;
        h->nconns--;
        pthread_mutex_unlock(&h->mu);
        free(c);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (fdi == NULL || ai == NULL || (c = calloc(1, sizeof *c)) == NULL)
        return; /* untracked: MHD's own limits still apply */
    c->fd = fdi->connect_fd;
    if (httpd_sockaddr(ai->client_addr, &c->addr) != 0)
        memset(&c->addr, 0, sizeof c->addr);
    c->trusted = eng_netaddr_list_has(&h->trusted, &c->addr);
    c->phase = HTTPD_HEADERS;
    c->since = eng_now_ms();
    *socket_context = c;

    pthread_mutex_lock(&h->mu);
    c->prev = h->tail;
    if (h->tail != NULL)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    h->nconns++;
    size_t n = 0;
    struct httpd_conn *old;
    if (!c->trusted) { /* one address waits on at most per_address: its oldest gives way */
        old = httpd_oldest_waiting(h, &c->addr, c, &n);
        if (n > (size_t)h->opts.per_address && old != NULL)
            httpd_close_locked(old);
    }
    if (h->nconns > HTTPD_MAX_CONNECTIONS - HTTPD_RESERVE) { /* room for whoever talks */
        old = httpd_oldest_waiting(h, NULL, c, &n);
        if (old != NULL)
            httpd_close_locked(old);
    }
    pthread_mutex_unlock(&h->mu);
}

/* Every HTTPD_REAP_MS: close the connections past their phase's deadline. */
static void *httpd_reaper(void *arg)
{
    struct eng_httpd *h = arg;
    long long hdr_ms = (long long)h->opts.headers_timeout_s * 1000;
    long long body_ms = (long long)h->opts.body_timeout_s * 1000;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += HTTPD_REAP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        long long now = eng_now_ms();
        for (struct httpd_conn *c = h->head; c != NULL; c = c->next)
            if ((c->phase == HTTPD_HEADERS && now - c->since > hdr_ms) ||
                (c->phase == HTTPD_BODY && now - c->since > body_ms))
                httpd_close_locked(c);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void httpd_set_phase(struct eng_httpd *h, struct httpd_conn *c, enum httpd_phase phase)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    if (c->phase != HTTPD_CLOSING) {
        c->phase = phase;
        c->since = eng_now_ms();
        if (phase == HTTPD_HEADERS)
            c->counted = 0;
    }
    pthread_mutex_unlock(&h->mu);
}

/* Count a request of client against the per-address limit. 0, or -1 when it is over. */
static int httpd_count_request(struct eng_httpd *h, struct httpd_conn *c,
                               const struct eng_netaddr *client)
{
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    size_t n = 0;
    for (struct httpd_conn *o = h->head; o != NULL; o = o->next)
        if (o != c && o->counted && memcmp(&o->client, client, sizeof *client) == 0)
            n++;
    if (n >= (size_t)h->opts.per_address) {
        rc = -1;
    } else {
        c->counted = 1;
        c->client = *client;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* }====================== */

/* {====================== request headers ====================== */

/* A NUL inside a header line: libmicrohttpd up to 0.9.75 reads header lines as C strings, so the
 * value it reports simply ends at the NUL (its length included) and the rest of the line is
 * dropped unseen. It does keep every header where it read it: in its read buffer, the line's
 * CR LF (or LF) overwritten with NULs. So the byte after a value's terminating NUL is another
 * NUL (the LF of CR LF, or a blank line) or the first byte of the next header's name (a bare LF
 * line end), unless the line went on after a NUL of its own. Newer versions refuse such lines
 * themselves (and may lay the buffer out otherwise): the check is for the versions it was made
 * on, and header_edges.sh fails if a version accepts the NUL. */
#if MHD_VERSION <= 0x00097500
#define HTTPD_NUL_BY_LAYOUT 1
#else
#define HTTPD_NUL_BY_LAYOUT 0
#endif

struct httpd_scan {
    int nul;         /* a name or value holds a NUL byte */
    const char *end; /* one past the NUL ending the previous value, to check against this key */
    const char *xff; /* the last X-Forwarded-For */
    size_t xff_len;
};

static enum MHD_Result httpd_scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         size_t key_size, const char *value, size_t value_size)
{
    struct httpd_scan *sc = cls;
    (void)kind;
    if (sc->end != NULL && *sc->end != '\0' && sc->end != key)
        sc->nul = 1;
    sc->end = NULL;
    if (key == NULL || strlen(key) != key_size || (value != NULL && strlen(value) != value_size)) {
        sc->nul = 1;
        return MHD_YES;
    }
    if (value != NULL && HTTPD_NUL_BY_LAYOUT)
        sc->end = value + value_size + 1;
    if (key_size == 15 && strncasecmp(key, "X-Forwarded-For", 15) == 0 && value != NULL)
        sc->xff = value, sc->xff_len = value_size;
    return MHD_YES;
}

static int httpd_headers_hold_nul(struct MHD_Connection *conn, struct httpd_scan *sc)
{
    (void)MHD_get_connection_values_n(conn, MHD_HEADER_KIND, httpd_scan_header, sc);
    if (sc->end != NULL && *sc->end != '\0') /* the last header */
        sc->nul = 1;
    return sc->nul;
}

/* The client behind trusted proxies: walk X-Forwarded-For from the right while the hops are
 * trusted; an entry that is not an address ends the walk at the last good one. */
static void httpd_client(const struct eng_httpd *h, const struct httpd_scan *sc,
                         struct eng_netaddr *client)
{
    if (sc->xff == NULL || !eng_netaddr_list_has(&h->trusted, client))
        return;
    size_t end = sc->xff_len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && sc->xff[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && (sc->xff[a] == ' ' || sc->xff[a] == '\t'))
            a++;
        while (b > a && (sc->xff[b - 1] == ' ' || sc->xff[b - 1] == '\t'))
            b--;
        if (b - a >= 2 && sc->xff[a] == '[' && sc->xff[b - 1] == ']')
            a++, b--;
        struct eng_netaddr hop;
        if (eng_netaddr_parse(sc->xff + a, b - a, &hop) != 0)
            return;
        *client = hop;
        if (!eng_netaddr_list_has(&h->trusted, &hop))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}

/* }====================== */

void eng_httpd_resp_file(struct eng_httpd_resp *resp, int fd, unsigned long long size)
{
    if (resp->has_file)
        close(resp->file_fd);
    resp->has_file = 1;
    resp->file_fd = fd;
    resp->file_size = size;
}

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

int eng_httpd_via_proxy(struct eng_httpd_req *req)
{
    return req->via_proxy;
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
    (void)toe;
    httpd_set_phase(h, httpd_conn_of(conn), HTTPD_HEADERS); /* keep-alive: the next request's */
    if (*con_cls != NULL)
        atomic_fetch_sub(&h->inflight, 1);
    req_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result send_headers(struct MHD_Connection *conn, const struct eng_httpd_resp *resp,
                                    struct MHD_Response *r, int status);

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct eng_httpd_resp *resp)
{
    size_t len = 0;
    int status = resp->status;
    struct MHD_Response *r = NULL;
    if (resp->has_file) {
        eng_buf_free(&resp->body);
        resp->has_file = 0;
        r = MHD_create_response_from_fd64((uint64_t)resp->file_size, resp->file_fd);
        if (r == NULL) {
            close(resp->file_fd);
            return MHD_NO;
        }
        return send_headers(conn, resp, r, status);
    }
    char *body = eng_buf_take(&resp->body, &len);
    if (body == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"details\":null}}";
        body = strdup(oom);
        len = body != NULL ? strlen(body) : 0;
        status = 500;
    }
    r = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
                                        body != NULL ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    return send_headers(conn, resp, r, status);
}

/* Add the headers every answer carries and the handler's, queue r and release it. */
static enum MHD_Result send_headers(struct MHD_Connection *conn, const struct eng_httpd_resp *resp,
                                    struct MHD_Response *r, int status)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    int cache = 0; /* the handler's own Cache-Control replaces the default no-store */
    for (int i = 0; i < resp->nheaders; i++) {
        MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
        cache |= strcasecmp(resp->header_names[i], MHD_HTTP_HEADER_CACHE_CONTROL) == 0;
    }
    if (!cache)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
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
        *con_cls = req;
        if (req->method == NULL || req->path == NULL)
            return MHD_NO;
        struct httpd_conn *hc = httpd_conn_of(conn);
        httpd_set_phase(h, hc, HTTPD_BODY);

        /* the client's address: the peer's, or behind a trusted proxy its X-Forwarded-For */
        struct eng_netaddr client;
        memset(&client, 0, sizeof client);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        int known = ci != NULL && httpd_sockaddr(ci->client_addr, &client) == 0;
        struct httpd_scan sc = {0, NULL, NULL, 0};
        int nul = httpd_headers_hold_nul(conn, &sc);
        if (known) {
            req->via_proxy = eng_netaddr_list_has(&h->trusted, &client);
            httpd_client(h, &sc, &client);
            eng_netaddr_format(&client, req->peer, sizeof req->peer);
        }

        /* Refused on the headers, at once: the body (if any) is never read into memory, and
         * MHD closes the connection after the answer. */
        req->answered = 1;
        if (nul) /* a NUL would cut a value short wherever it is read as a C string */
            return send_simple(conn, 400, "bad_request", "a request header holds a NUL byte");
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > h->opts.max_body) {
            char msg[128];
            snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes",
                     h->opts.max_body);
            return send_simple(conn, 413, "payload_too_large", msg);
        }
        const char *pre = h->opts.unlimited_prefix;
        if (hc != NULL && known && (pre == NULL || strncmp(url, pre, strlen(pre)) != 0) &&
            httpd_count_request(h, hc, &client) != 0) {
            struct eng_httpd_resp resp;
            memset(&resp, 0, sizeof resp);
            eng_buf_init(&resp.body);
            resp.status = 429;
            eng_httpd_resp_header(&resp, "Retry-After", "1");
            eng_buf_puts(&resp.body, "{\"error\":{\"code\":\"too_many_requests\",\"message\":"
                                     "\"too many requests in progress from your address; retry "
                                     "when one has finished\",\"details\":null}}");
            return send_resp(conn, &resp);
        }
        req->answered = 0;
        return MHD_YES;
    }

    if (req->answered) { /* refused already: drop whatever arrives */
        *upload_size = 0;
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

    if (!req->started)
        httpd_set_phase(h, httpd_conn_of(conn), HTTPD_BUSY); /* the body is in: no deadline */
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
        if (resp.has_file) /* a handler that waits answers with a body when it finishes */
            close(resp.file_fd);
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    atomic_store(&req->pending, 0);
    return send_resp(conn, &resp);
}

static int httpd_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* libmicrohttpd's %XX decoding of the path and the query, except that %00 stays as it is: a
 * decoded NUL would cut the text short wherever it is read as a C string (a path "/a.html%00.js"
 * would reach the handler as "/a.html"); left as "%00" it is refused as any odd byte is. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    char *w = s;
    for (const char *r = s; *r != '\0';) {
        int hi, lo;
        if (r[0] == '%' && (hi = httpd_hex(r[1])) >= 0 && (lo = httpd_hex(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
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

/* Stop the reaper and free h (the daemon stopped, so no connection is left in the list). */
static void httpd_free(struct eng_httpd *h)
{
    if (h->reaper_running) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->reaper, NULL);
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    eng_netaddr_list_free(&h->trusted);
    free(h);
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
    if (h->opts.headers_timeout_s <= 0)
        h->opts.headers_timeout_s = HTTPD_DEF_HEADERS_S;
    if (h->opts.body_timeout_s <= 0)
        h->opts.body_timeout_s = HTTPD_DEF_BODY_S;
    if (h->opts.per_address <= 0)
        h->opts.per_address = HTTPD_DEF_PER_ADDRESS;
    int rc = eng_netaddr_list_parse(opts->trusted_proxies, "TRUSTED_PROXIES", &h->trusted, err);
    if (rc != 0) {
        free(h);
        return rc;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->reaper, NULL, httpd_reaper, h) != 0) {
        httpd_free(h);
        return eng_err_set(err, ENG_ENOMEM, "cannot start the HTTP server's reaper thread");
    }
    h->reaper_running = 1;
    h->d = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)(opts->threads > 0 ? opts->threads : 2), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)HTTPD_MAX_CONNECTIONS, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL,
        MHD_OPTION_END);
    if (h->d == NULL) {
        httpd_free(h);
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
    httpd_free(h);
}

void eng_httpd_lib_version(char *buf, size_t size)
{
    snprintf(buf, size, "libmicrohttpd %s", MHD_get_version());
}

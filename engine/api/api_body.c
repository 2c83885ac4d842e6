/*
 * api_body.c - the one check of JSON request bodies on a server thread (sync start, retry,
 * schedules, settings): base/json_read (strict RFC 8259, linear, bounded depth, no \u0000) reads
 * the body once, so every route answers malformed input the same way (400 malformed_json naming
 * what and the byte) before SQLite's JSON functions, which raise on malformed text, ever see it.
 * Must not: allocate, build values (handlers read fields with SQLite), or touch Lua.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/json_read.h"

/* Request bodies are flat; deeper nesting is refused before anything walks it. */
#define BODY_MAX_DEPTH 32

int eng_api_json_check(const char *text, size_t len, int want_object, char *msg, size_t size)
{
    struct eng_json_read r;
    /* \u0000 would cut the text short wherever the engine reads it as a C string */
    eng_json_read_init(&r, text, len, BODY_MAX_DEPTH, ENG_JSON_READ_NO_NUL);
    int first = eng_json_read_next(&r), t = first;
    while (t != ENG_JSON_READ_EOF && t != ENG_JSON_READ_ERROR)
        t = eng_json_read_next(&r);
    if (t == ENG_JSON_READ_ERROR) {
        char what[96];
        snprintf(msg, size, "the body is not valid JSON: %s",
                 eng_json_read_error(&r, what, sizeof what));
        return ENG_EINVAL;
    }
    if (want_object && first != ENG_JSON_READ_OBJECT)
        return snprintf(msg, size, "the body must be a JSON object"), ENG_EINVAL;
    return 0;
}

int eng_api_body_object(struct eng_api_ctx *c, int empty_ok, const char **body, size_t *len)
{
    size_t n = 0;
    const char *b = eng_httpd_body(c->req, &n);
    size_t i = 0;
    while (b != NULL && i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    if (b == NULL || i == n) {
        if (!empty_ok)
            return eng_api_error(c->resp, 400, "malformed_json",
                                 "the body is empty: send a JSON object", NULL),
                   -1;
        b = "{}", n = 2;
    }
    char msg[160];
    if (eng_api_json_check(b, n, 1, msg, sizeof msg) != 0)
        return eng_api_error(c->resp, 400, "malformed_json", msg, NULL), -1;
    *body = b;
    if (len != NULL)
        *len = n;
    return 0;
}

int eng_api_field_error(struct eng_httpd_resp *resp, int status, const char *field, const char *msg)
{
    /* a field named by the client (an unknown key) is cut at 40 bytes on a character boundary */
    size_t n = eng_buf_utf8_cut(field, strlen(field), 40);
    struct eng_buf m, d;
    eng_buf_init(&m);
    eng_buf_init(&d);
    eng_buf_printf(&m, "%.*s: %s", (int)n, field, msg);
    eng_buf_puts(&d, "{\"field\":");
    eng_buf_json_str(&d, field, n);
    eng_buf_putc(&d, '}');
    if (m.oom || d.oom)
        eng_api_error(resp, 500, "internal", "out of memory", NULL);
    else
        eng_api_error(resp, status, "invalid_field", m.data, d.data);
    eng_buf_free(&m);
    eng_buf_free(&d);
    return ENG_HTTPD_DONE;
}

/*
 * api_body.c - the one reader of JSON request bodies checked on a server thread (sync start,
 * retry, schedules, settings): a strict RFC 8259 syntax check in one linear pass with bounded
 * depth, so every route answers malformed input the same way (400 malformed_json naming what and
 * the byte) before SQLite's JSON functions, which raise on malformed text, ever see it.
 * Must not: allocate, build values (handlers read fields with SQLite), or touch Lua.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

/* Request bodies are flat; deeper nesting is refused before anything walks it. */
#define BODY_MAX_DEPTH 32

struct scan {
    const unsigned char *p, *end, *start;
    const char *what;
};

static int fail(struct scan *s, const char *what)
{
    s->what = what;
    return -1;
}

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Length of the valid UTF-8 sequence at p (no overlong form, surrogate or > U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || n > avail)
        return 0;
    unsigned cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d = c >= '0' && c <= '9'   ? (int)(c - '0')
                : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
                : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10)
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static int string(struct scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"')
            return s->p++, 0;
        if (c < 0x20)
            return fail(s, c == 0 ? "a NUL byte in a string" : "a control character in a string");
        if (c == '\\') {
            if (s->end - s->p < 2)
                break;
            unsigned e = s->p[1];
            if (e == 'u') {
                if (s->end - s->p < 6)
                    break;
                int v = hex4(s->p + 2);
                if (v < 0)
                    return fail(s, "a bad \\u escape");
                /* \u0000 would cut the text short wherever the engine reads it as a C string */
                if (v == 0)
                    return fail(s, "\\u0000 (a NUL character) in a string");
                s->p += 6;
                continue;
            }
            if (strchr("\"\\/bfnrt", (int)e) == NULL || e == 0)
                return fail(s, "a bad escape in a string");
            s->p += 2;
            continue;
        }
        size_t n = utf8_seq(s->p, (size_t)(s->end - s->p));
        if (n == 0)
            return fail(s, "invalid UTF-8");
        s->p += n;
    }
    return fail(s, "the text ends inside a string");
}

static int digits(struct scan *s)
{
    const unsigned char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b ? 0 : fail(s, "a malformed number");
}

static int number(struct scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (digits(s) != 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) != 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s) != 0)
            return -1;
    }
    return 0;
}

static int literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "an unexpected character");
    s->p += n;
    return 0;
}

/* An object member's key and its ':' (at s->p, after whitespace). 0, or -1 after fail(). */
static int member_key(struct scan *s)
{
    ws(s);
    if (s->p >= s->end || *s->p != '"')
        return fail(s, s->p >= s->end ? "the text ends inside an object"
                                      : "an object key must be a string");
    if (string(s) != 0)
        return -1;
    ws(s);
    if (s->p >= s->end || *s->p != ':')
        return fail(s, "a ':' is missing after an object key");
    s->p++;
    return 0;
}

/* One pass with an explicit stack of open containers ('{' or '['): linear, no recursion. */
static int value(struct scan *s)
{
    char stack[BODY_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        ws(s);
        if (s->p >= s->end)
            return fail(s, "the text ends where a value was expected");
        unsigned c = *s->p;
        int opened = 0;
        if (c == '{' || c == '[') {
            if (depth == BODY_MAX_DEPTH)
                return fail(s, "nesting deeper than 32 levels");
            stack[depth++] = (char)c;
            s->p++;
            ws(s);
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++, depth--;
            } else {
                opened = 1;
                if (c == '{' && member_key(s) != 0) /* the first key */
                    return -1;
            }
        } else if (c == '"') {
            if (string(s) != 0)
                return -1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (number(s) != 0)
                return -1;
        } else if (literal(s, c == 't' ? "true" : c == 'f' ? "false" : "null") != 0) {
            return -1;
        }
        if (opened)
            continue;
        /* after a value: a comma, a closer, or the end */
        for (;;) {
            ws(s);
            if (depth == 0)
                return 0;
            if (s->p >= s->end)
                return fail(s, stack[depth - 1] == '{' ? "the text ends inside an object"
                                                       : "the text ends inside an array");
            unsigned char close = stack[depth - 1] == '{' ? '}' : ']';
            if (*s->p == close) {
                s->p++, depth--;
                continue;
            }
            if (*s->p != ',')
                return fail(s, "a ',' or a closing bracket is missing");
            s->p++;
            if (stack[depth - 1] == '{' && member_key(s) != 0)
                return -1;
            break;
        }
    }
}

int eng_api_json_check(const char *text, size_t len, int want_object, char *msg, size_t size)
{
    struct scan s = {(const unsigned char *)text, (const unsigned char *)text + len,
                     (const unsigned char *)text, NULL};
    ws(&s);
    int object = s.p < s.end && *s.p == '{';
    int rc = value(&s);
    if (rc == 0) {
        ws(&s);
        if (s.p < s.end)
            rc = fail(&s, "text after the JSON value");
        else if (want_object && !object)
            return snprintf(msg, size, "the body must be a JSON object"), ENG_EINVAL;
    }
    if (rc == 0)
        return 0;
    snprintf(msg, size, "the body is not valid JSON: %s at byte %zu", s.what,
             (size_t)(s.p - s.start) + 1);
    return ENG_EINVAL;
}

int eng_api_body_object(struct eng_api_ctx *c, int empty_ok, const char **body, size_t *len)
{
    size_t n = 0;
    const char *b = eng_http_body(c->req, &n);
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

int eng_api_field_error(struct eng_http_resp *resp, int status, const char *field, const char *msg)
{
    /* a field named by the client (an unknown key) is cut at 40 bytes on a character boundary */
    size_t n = strlen(field);
    if (n > 40) {
        n = 40;
        while (n > 0 && ((unsigned char)field[n] & 0xC0) == 0x80)
            n--;
    }
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
    return ENG_HTTP_DONE;
}

/*
 * json_read.c - the engine's one JSON reader (see json_read.h): a strict RFC 8259 pull reader.
 * Owns: the state inside struct eng_json_read; nothing on the heap.
 * Must not: allocate, recurse, look at a byte more than a bounded number of times, or read
 * past text + len.
 */
#include "base/json_read.h"

#include <stdio.h>
#include <string.h>

enum {
    S_VALUE,      /* a value is expected */
    S_FIRST_ITEM, /* after '[': a value or ']' */
    S_FIRST_KEY,  /* after '{': a key or '}' */
    S_KEY,        /* after ',' in an object: a key */
    S_AFTER,      /* after a value: ',', the closer, or (at depth 0) the end */
    S_DONE,       /* EOF was returned */
    S_FAILED,     /* an error was returned */
};

size_t eng_json_read_utf8(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* stray continuation byte, or an overlong 2-byte form */
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) /* overlong, surrogate */
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) /* overlong, > U+10FFFF */
            return 0;
        return 4;
    }
    return 0;
}

void eng_json_read_init(struct eng_json_read *r, const char *text, size_t len, int max_depth,
                        unsigned flags)
{
    static const unsigned char empty[1] = {0};
    memset(r, 0, sizeof *r);
    r->start = text != NULL ? (const unsigned char *)text : empty;
    r->p = r->start;
    r->end = r->start + (text != NULL ? len : 0);
    r->max_depth = max_depth < 1                         ? 1
                   : max_depth > ENG_JSON_READ_MAX_DEPTH ? ENG_JSON_READ_MAX_DEPTH
                                                         : max_depth;
    r->flags = flags;
    r->state = S_VALUE;
}

static int fail_at(struct eng_json_read *r, const unsigned char *at, const char *what)
{
    r->what = what;
    r->at = (size_t)(at - r->start);
    r->state = S_FAILED;
    return ENG_JSON_READ_ERROR;
}

/* The byte at r->p is not what the grammar allows there. */
static int unexpected(struct eng_json_read *r, const char *expected)
{
    if (r->p >= r->end)
        return fail_at(r, r->p, "unexpected end of input");
    if (expected != NULL)
        return fail_at(r, r->p, expected);
    unsigned c = *r->p;
    if (c > 0x20 && c < 0x7F)
        snprintf(r->what_buf, sizeof r->what_buf, "unexpected character '%c'", (int)c);
    else
        snprintf(r->what_buf, sizeof r->what_buf, "unexpected byte 0x%02X", c);
    return fail_at(r, r->p, r->what_buf);
}

static void skip_ws(struct eng_json_read *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static int is_digit(const struct eng_json_read *r, const unsigned char *q)
{
    return q < r->end && *q >= '0' && *q <= '9';
}

static int hex4(const unsigned char *q, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = q[i];
        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Code point of the \u escape at q (q[0] == '\\', q[1] == 'u', avail bytes from q), joining a
 * surrogate pair; *len is the escape's length (6 or 12). -1 if malformed or unpaired. */
static long unicode_escape(const unsigned char *q, size_t avail, size_t *len)
{
    unsigned hi, lo;
    if (avail < 6 || hex4(q + 2, &hi) != 0)
        return -1;
    *len = 6;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF)
        return (long)hi;
    if (avail < 12 || q[6] != '\\' || q[7] != 'u' || hex4(q + 8, &lo) != 0 || lo < 0xDC00 ||
        lo > 0xDFFF)
        return -1;
    *len = 12;
    return 0x10000L + (((long)hi - 0xD800) << 10) + ((long)lo - 0xDC00);
}

/* Bytes a string holds as they are: printable ASCII but '"' and '\\'. */
const unsigned char eng_json_plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The string whose opening quote is at r->p: check it, set tok/tok_len/escaped, step past it. */
static int string(struct eng_json_read *r, int token)
{
    const unsigned char *open = r->p, *q = r->p + 1;
    int escaped = 0;
    while (q < r->end) {
        while (eng_json_plain_byte[*q] && ++q < r->end) /* the common run, one test a byte */
            ;
        if (q == r->end)
            break;
        unsigned c = *q;
        if (c == '"') {
            r->tok = (const char *)open + 1;
            r->tok_len = (size_t)(q - open - 1);
            r->tok_at = (size_t)(open - r->start);
            r->escaped = escaped;
            r->p = q + 1;
            return token;
        }
        if (c == '\\') {
            size_t len = 2;
            escaped = 1;
            if (r->end - q < 2)
                break;
            switch (q[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            case 'u': {
                long cp = unicode_escape(q, (size_t)(r->end - q), &len);
                if (cp < 0)
                    return fail_at(r, q, "invalid \\u escape (bad hex or unpaired surrogate)");
                if (cp == 0 && (r->flags & ENG_JSON_READ_NO_NUL))
                    return fail_at(r, q, "\\u0000 (a NUL character) in string");
                break;
            }
            default:
                return fail_at(r, q, "invalid escape in string");
            }
            q += len;
        } else if (c < 0x20) {
            return fail_at(r, q, "unescaped control character in string");
        } else {
            size_t len = eng_json_read_utf8(q, (size_t)(r->end - q));
            if (len == 0)
                return fail_at(r, q, "invalid UTF-8 in string");
            q += len;
        }
    }
    return fail_at(r, open, "unterminated string");
}

static int number(struct eng_json_read *r)
{
    const unsigned char *s = r->p, *q = r->p;
    int is_float = 0;
    if (*q == '-')
        q++;
    if (!is_digit(r, q))
        return fail_at(r, s, "invalid number");
    if (*q == '0') {
        q++;
        if (is_digit(r, q))
            return fail_at(r, s, "invalid number (leading zero)");
    } else {
        while (is_digit(r, q))
            q++;
    }
    if (q < r->end && *q == '.') {
        q++;
        is_float = 1;
        if (!is_digit(r, q))
            return fail_at(r, s, "invalid number");
        while (is_digit(r, q))
            q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        q++;
        is_float = 1;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(r, q))
            return fail_at(r, s, "invalid number");
        while (is_digit(r, q))
            q++;
    }
    r->tok = (const char *)s;
    r->tok_len = (size_t)(q - s);
    r->is_float = is_float;
    r->p = q;
    return ENG_JSON_READ_NUMBER;
}

static int literal(struct eng_json_read *r, const char *word, size_t len, int token)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
        return fail_at(r, r->p, "invalid literal (true, false or null)");
    r->tok = (const char *)r->p;
    r->tok_len = len;
    r->p += len;
    return token;
}

static int top_is_object(const struct eng_json_read *r)
{
    int i = r->depth - 1;
    return (r->open[i / 8] >> (i % 8)) & 1;
}

/* '{' or '[' at r->p. */
static int open_container(struct eng_json_read *r, int object)
{
    if (r->depth >= r->max_depth) {
        snprintf(r->what_buf, sizeof r->what_buf, "nesting deeper than %d", r->max_depth);
        return fail_at(r, r->p, r->what_buf);
    }
    int i = r->depth++;
    if (object)
        r->open[i / 8] |= (unsigned char)(1u << (i % 8));
    else
        r->open[i / 8] &= (unsigned char)~(1u << (i % 8));
    r->tok = (const char *)r->p;
    r->tok_len = 1;
    r->p++;
    r->state = object ? S_FIRST_KEY : S_FIRST_ITEM;
    return object ? ENG_JSON_READ_OBJECT : ENG_JSON_READ_ARRAY;
}

static int close_container(struct eng_json_read *r)
{
    int object = top_is_object(r);
    r->depth--;
    r->tok = (const char *)r->p;
    r->tok_len = 1;
    r->p++;
    r->state = S_AFTER;
    return object ? ENG_JSON_READ_OBJECT_END : ENG_JSON_READ_ARRAY_END;
}

static int value(struct eng_json_read *r)
{
    int t;
    if (r->p >= r->end)
        return unexpected(r, NULL);
    switch (*r->p) {
    case '{':
        return open_container(r, 1);
    case '[':
        return open_container(r, 0);
    case '"':
        t = string(r, ENG_JSON_READ_STRING);
        break;
    case 't':
        t = literal(r, "true", 4, ENG_JSON_READ_TRUE);
        break;
    case 'f':
        t = literal(r, "false", 5, ENG_JSON_READ_FALSE);
        break;
    case 'n':
        t = literal(r, "null", 4, ENG_JSON_READ_NULL);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        t = number(r);
        break;
    default:
        return unexpected(r, NULL);
    }
    if (t != ENG_JSON_READ_ERROR)
        r->state = S_AFTER;
    return t;
}

static int key(struct eng_json_read *r)
{
    if (r->p >= r->end || *r->p != '"')
        return unexpected(r, "expected a string key");
    if (string(r, ENG_JSON_READ_KEY) == ENG_JSON_READ_ERROR)
        return ENG_JSON_READ_ERROR;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return unexpected(r, "expected ':'");
    r->p++;
    r->state = S_VALUE;
    return ENG_JSON_READ_KEY;
}

int eng_json_read_next(struct eng_json_read *r)
{
    r->tok = NULL;
    r->tok_len = 0;
    r->escaped = r->is_float = 0;
    for (;;) {
        skip_ws(r);
        r->tok_at = (size_t)(r->p - r->start);
        switch (r->state) {
        case S_VALUE:
            return value(r);
        case S_FIRST_ITEM:
            if (r->p < r->end && *r->p == ']')
                return close_container(r);
            return value(r);
        case S_FIRST_KEY:
            if (r->p < r->end && *r->p == '}')
                return close_container(r);
            return key(r);
        case S_KEY:
            return key(r);
        case S_AFTER: {
            if (r->depth == 0) {
                if (r->p < r->end)
                    return fail_at(r, r->p, "trailing characters after the value");
                r->state = S_DONE;
                return ENG_JSON_READ_EOF;
            }
            int object = top_is_object(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                r->state = object ? S_KEY : S_VALUE;
                continue;
            }
            if (r->p < r->end && *r->p == (object ? '}' : ']'))
                return close_container(r);
            return unexpected(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        case S_DONE:
            return ENG_JSON_READ_EOF;
        default:
            return ENG_JSON_READ_ERROR;
        }
    }
}

int eng_json_read_skip(struct eng_json_read *r, int token)
{
    if (token != ENG_JSON_READ_OBJECT && token != ENG_JSON_READ_ARRAY)
        return token;
    int depth = r->depth - 1;
    for (;;) {
        int t = eng_json_read_next(r);
        if (t == ENG_JSON_READ_ERROR || t == ENG_JSON_READ_EOF)
            return ENG_JSON_READ_ERROR; /* EOF cannot come first: the container is open */
        if ((t == ENG_JSON_READ_OBJECT_END || t == ENG_JSON_READ_ARRAY_END) && r->depth == depth)
            return t;
    }
}

const char *eng_json_read_error(const struct eng_json_read *r, char *msg, size_t size)
{
    if (size > 0)
        snprintf(msg, size, "%s at byte %zu", r->what != NULL ? r->what : "no error", r->at + 1);
    return msg;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t eng_json_read_unescape(const char *raw, size_t len, char *out, size_t size)
{
    const unsigned char *q = (const unsigned char *)raw, *end = q + len;
    size_t n = 0;
    while (q < end) {
        char u[4];
        size_t k = 1, step = 2;
        if (*q != '\\' || end - q < 2) {
            u[0] = (char)*q;
            step = 1;
        } else {
            switch (q[1]) {
            case 'b':
                u[0] = '\b';
                break;
            case 'f':
                u[0] = '\f';
                break;
            case 'n':
                u[0] = '\n';
                break;
            case 'r':
                u[0] = '\r';
                break;
            case 't':
                u[0] = '\t';
                break;
            case 'u': {
                long cp = unicode_escape(q, (size_t)(end - q), &step);
                if (cp < 0) /* not text the reader accepted: keep the byte */
                    u[0] = '\\', step = 1;
                else
                    k = put_utf8(u, (unsigned long)cp);
                break;
            }
            default: /* '"', '\\', '/' */
                u[0] = (char)q[1];
                break;
            }
        }
        for (size_t i = 0; i < k; i++, n++)
            if (n < size)
                out[n] = u[i];
        q += step;
    }
    return n;
}

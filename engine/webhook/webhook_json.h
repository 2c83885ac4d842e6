/*
 * webhook_json.h - random access to a JSON document for webhook ingest, which runs no Lua
 * (engine/lua/json.h decodes into a lua_State and is for code that holds one). base/json_read
 * (strict RFC 8259, UTF-8 checked, depth capped) reads the text into a flat array of tokens that
 * point into the caller's bytes, plus a few getters; and it parses the ISO-8601 timestamps the
 * senders use.
 * Owns: the token array of a struct eng_webhook_json (eng_webhook_json_free). Must not: copy or
 * keep the text.
 */
#ifndef ENG_WEBHOOK_JSON_H
#define ENG_WEBHOOK_JSON_H

#include <stddef.h>
#include <stdint.h>

#define ENG_WEBHOOK_JSON_MAX_DEPTH 64

enum eng_webhook_json_type {
    ENG_WEBHOOK_JSON_NULL = 1,
    ENG_WEBHOOK_JSON_BOOL,
    ENG_WEBHOOK_JSON_NUMBER,
    ENG_WEBHOOK_JSON_STRING, /* start/end exclude the quotes; escapes still encoded */
    ENG_WEBHOOK_JSON_ARRAY,
    ENG_WEBHOOK_JSON_OBJECT, /* children alternate key (a STRING token), value */
};

struct eng_webhook_json_tok {
    unsigned char type;
    unsigned char escaped; /* STRING: holds a backslash escape */
    int size;              /* ARRAY: elements; OBJECT: members */
    int next;              /* index of the token after this one's subtree */
    size_t start, end;     /* byte range in the text (containers: '[' .. after ']') */
};

struct eng_webhook_json {
    const char *text;
    size_t len;
    struct eng_webhook_json_tok *tok;
    int ntok, cap;
};

/* Parse text[0..len) (one value, surrounding whitespace allowed). 0, or -1 with msg filled
 * ("<what> at byte N", N 1-based); -2 when memory ran out. doc->tok is owned by doc even on
 * failure: always call eng_webhook_json_free. Token 0 is the root. */
int eng_webhook_json_parse(struct eng_webhook_json *doc, const char *text, size_t len, char *msg,
                           size_t msgsize);
void eng_webhook_json_free(struct eng_webhook_json *doc);

/* Index of the value of member key in object token obj, or -1 (not an object, no such key).
 * Keys are compared after decoding escapes. */
int eng_webhook_json_get(const struct eng_webhook_json *doc, int obj, const char *key);
/* Index of the first element of array/object tok (for objects: the first key), or -1 when
 * empty; walk on with doc->tok[i].next (objects: key, value, key, value...). */
int eng_webhook_json_first(const struct eng_webhook_json *doc, int tok);
/* Decode a STRING token into out (NUL-terminated). A NUMBER token is copied as written when
 * allow_number. 0, or -1 when it is another type, does not fit, or decodes to a NUL byte. */
int eng_webhook_json_text(const struct eng_webhook_json *doc, int tok, int allow_number, char *out,
                          size_t size);

/* Seconds since the epoch of an ISO-8601 date-time: YYYY-MM-DDTHH:MM:SS, optional fraction
 * (any number of digits), then Z, +hh:mm, +hhmm or +hh (or nothing: UTC). 0, or -1. */
int eng_webhook_json_time(const char *s, size_t n, int64_t *epoch);

#endif

/*
 * json_read.h - the engine's one JSON reader: a pull reader over caller-owned bytes.
 * Owns: nothing but the struct the caller gives it (no malloc; the open-container stack is a
 * bit set inside the struct, so memory is bounded by ENG_JSON_READ_MAX_DEPTH).
 * Must not: copy, keep or modify the text; convert numbers (they come out as their raw text, so
 * money and 64-bit ids stay exact); accept anything RFC 8259 does not (one value, no comments,
 * no trailing commas, no leading zeros, UTF-8 checked, lone surrogate escapes refused).
 *
 * Each eng_json_read_next() returns one token and advances; every byte is looked at a bounded
 * number of times, so a document costs time linear in its length. On the first error the reader
 * stops for good (ENG_JSON_READ_ERROR from then on) with what and where in r->what / r->at.
 * Users: lua/json_dec.c (text -> Lua values), webhook/webhook_json.c (ingest's token array),
 * api/api_body.c (request body check).
 */
#ifndef ENG_JSON_READ_H
#define ENG_JSON_READ_H

#include <stddef.h>

/* The deepest nesting any reader may be given (its own limit is 1..this). */
#define ENG_JSON_READ_MAX_DEPTH 256

/* Flags for eng_json_read_init. */
#define ENG_JSON_READ_NO_NUL 1u /* refuse "\u0000" in strings (text that becomes a C string) */

enum eng_json_read_token {
    ENG_JSON_READ_ERROR = -1, /* r->what, r->at say why; sticky */
    ENG_JSON_READ_EOF = 0,    /* the value is complete and only whitespace followed */
    ENG_JSON_READ_OBJECT,     /* '{' */
    ENG_JSON_READ_OBJECT_END, /* '}' */
    ENG_JSON_READ_ARRAY,      /* '[' */
    ENG_JSON_READ_ARRAY_END,  /* ']' */
    ENG_JSON_READ_KEY,        /* an object member's name (a string; the ':' is consumed) */
    ENG_JSON_READ_STRING,
    ENG_JSON_READ_NUMBER, /* r->is_float: it has a fraction or an exponent */
    ENG_JSON_READ_TRUE,
    ENG_JSON_READ_FALSE,
    ENG_JSON_READ_NULL,
};

struct eng_json_read {
    /* The current token. tok/tok_len: the raw text (KEY/STRING: between the quotes, escapes not
     * decoded, see eng_json_read_unescape; NUMBER: as written; others: the token's bytes). at:
     * 0-based offset of its first byte (the opening quote for KEY/STRING). */
    const char *tok;
    size_t tok_len, tok_at;
    int escaped;  /* KEY/STRING: holds a backslash escape */
    int is_float; /* NUMBER: has '.', 'e' or 'E' */
    int depth;    /* containers open after this token */
    /* The error, once there is one: what went wrong, at 0-based offset at. */
    const char *what;
    size_t at;
    /* private */
    const unsigned char *start, *p, *end;
    int max_depth, state;
    unsigned flags;
    unsigned char open[ENG_JSON_READ_MAX_DEPTH / 8]; /* bit set: 1 = object at that depth */
    char what_buf[48];
};

/* 1 for a byte a JSON string holds as it is (printable ASCII but '"' and '\\'), else 0. */
extern const unsigned char eng_json_plain_byte[256];

/* Start reading text[0..len). max_depth is clamped to 1..ENG_JSON_READ_MAX_DEPTH. text may be
 * NULL when len is 0. */
void eng_json_read_init(struct eng_json_read *r, const char *text, size_t len, int max_depth,
                        unsigned flags);

/* The next token (see enum eng_json_read_token). */
int eng_json_read_next(struct eng_json_read *r);

/* Having just read OBJECT or ARRAY, read up to and including its matching end token. Returns
 * that end token, or ENG_JSON_READ_ERROR. Any other token: returns it unchanged (a scalar is
 * already skipped). */
int eng_json_read_skip(struct eng_json_read *r, int token);

/* Format the error as "<what> at byte N" (N 1-based) into msg; returns msg. */
const char *eng_json_read_error(const struct eng_json_read *r, char *msg, size_t size);

/* Decode a KEY/STRING token's raw text (as the reader accepted it) into out, writing at most size
 * bytes. Returns the decoded length (> size: it was cut; never more than len, so size == len
 * always fits). out is not NUL-terminated and may hold NUL bytes unless ENG_JSON_READ_NO_NUL
 * was set. */
size_t eng_json_read_unescape(const char *raw, size_t len, char *out, size_t size);

/* Length of the valid UTF-8 sequence at p (avail >= 1 bytes readable), or 0 when invalid
 * (overlong, surrogate, above U+10FFFF, truncated, stray continuation byte). */
size_t eng_json_read_utf8(const unsigned char *p, size_t avail);

#endif

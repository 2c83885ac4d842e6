/*
 * buf.h - a growable byte buffer for building JSON, log lines and HTTP bodies in C.
 * Owns: its heap block. An allocation failure latches `oom`; later appends are no-ops and
 * eng_buf_take returns NULL, so callers check once at the end instead of after every append.
 */
#ifndef ENG_BUF_H
#define ENG_BUF_H

#include <stddef.h>

#include "base/err.h"

struct eng_buf {
    char *data; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    int oom;
};

/* How many of the len bytes at s to show when at most max may be: len when it fits, else max
 * stepped back so that no UTF-8 character is split. Reads s[max] at most. */
size_t eng_buf_utf8_cut(const char *s, size_t len, size_t max);
void eng_buf_init(struct eng_buf *b);
void eng_buf_free(struct eng_buf *b);
void eng_buf_reset(struct eng_buf *b); /* keep capacity, len = 0 */
void eng_buf_append(struct eng_buf *b, const void *p, size_t n);
void eng_buf_puts(struct eng_buf *b, const char *s);
void eng_buf_putc(struct eng_buf *b, char c);
void eng_buf_printf(struct eng_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (n bytes) as a JSON string literal with quotes, escaping per RFC 8259; a byte that
 * is not part of valid UTF-8 becomes \ufffd, so the text is always valid JSON. */
void eng_buf_json_str(struct eng_buf *b, const char *s, size_t n);
/* Append the whole file at path ("-" = standard input) to b. Returns 0, ENG_ENOTFOUND,
 * ENG_EIO, ENG_ENOMEM, or ENG_EINVAL when it holds more than max bytes (0 = no limit); err
 * names the path. */
int eng_buf_read_file(struct eng_buf *b, const char *path, size_t max, struct eng_err *err);

/* Hand the block to the caller (who frees it with free()); the buffer is reset to empty.
 * Returns NULL if an allocation ever failed. */
char *eng_buf_take(struct eng_buf *b, size_t *len);

#endif

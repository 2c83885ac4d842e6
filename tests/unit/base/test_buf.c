/*
 * test_buf.c - unit tier for engine/base/buf.c: growth (always NUL-terminated, capacity
 * doubling, reset keeps the block), printf past the first block, the latched out-of-memory
 * (a size that cannot be reserved: later appends are no-ops, take answers NULL), embedded NUL
 * bytes, JSON string escaping, and eng_buf_read_file's limits and errors.
 * Owns: its scratch files under a mkdtemp folder (removed at the end). Must not: leak (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "base/buf.h"

static char scratch[] = "/tmp/test_buf.XXXXXX";

/* Write n bytes of p to scratch/name; the path is written to path. */
static int put_file(const char *name, const void *p, size_t n, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void test_growth(void)
{
    struct eng_buf b;
    eng_buf_init(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && b.oom == 0);
    size_t caps_seen = 0, last_cap = 0;
    for (size_t i = 0; i < 100000; i++) {
        eng_buf_putc(&b, (char)('a' + i % 26));
        REQUIRE(b.data != NULL);
        CHECK(b.len == i + 1);
        CHECK(b.cap > b.len);         /* room for the NUL */
        CHECK(b.data[b.len] == '\0'); /* terminated after every append */
        if (b.cap != last_cap) {
            CHECK(last_cap == 0 || b.cap == 2 * last_cap); /* doubling: amortised O(1) */
            last_cap = b.cap;
            caps_seen++;
        }
    }
    CHECK(caps_seen <= 12); /* 256 .. 131072: a dozen reallocations for 100,000 appends */
    CHECK(b.data[0] == 'a' && b.data[25] == 'z' && b.data[26] == 'a' &&
          b.data[99999] == 'a' + 99999 % 26);

    /* a single append far past the capacity grows at once */
    char big[70000];
    memset(big, 'x', sizeof big);
    eng_buf_append(&b, big, sizeof big);
    CHECK(b.len == 170000 && b.cap > 170000 && b.data[170000] == '\0' && b.data[169999] == 'x');

    /* reset keeps the block and its capacity, empties the string */
    size_t cap = b.cap;
    char *block = b.data;
    eng_buf_reset(&b);
    CHECK(b.len == 0 && b.cap == cap && b.data == block && b.data[0] == '\0');
    eng_buf_puts(&b, "again");
    CHECK_STR(b.data, "again");
    CHECK(b.data == block);

    /* a zero-byte append to an empty buffer still gives a terminated string */
    eng_buf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
    eng_buf_append(&b, "", 0);
    REQUIRE(b.data != NULL);
    CHECK_STR(b.data, "");
    eng_buf_free(&b);
}

static void test_printf(void)
{
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_printf(&b, "%s=%d;", "a", 1);
    eng_buf_printf(&b, "%05.1f|%-3s|%x", 2.5, "z", 255u);
    CHECK_STR(b.data, "a=1;002.5|z  |ff");
    CHECK(b.len == strlen("a=1;002.5|z  |ff"));

    /* output longer than the first block (256) and than a second one, appended, not truncated */
    eng_buf_reset(&b);
    eng_buf_puts(&b, "head:");
    eng_buf_printf(&b, "%600s|%s", "right", "tail");
    CHECK(b.len == 5 + 600 + 5);
    CHECK(strncmp(b.data, "head:    ", 9) == 0);
    CHECK(strcmp(b.data + b.len - 10, "right|tail") == 0);
    CHECK(b.data[b.len] == '\0');

    /* %% and an empty format add what they say, nothing else */
    eng_buf_reset(&b);
    eng_buf_printf(&b, "%s", "");
    CHECK(b.len == 0);
    eng_buf_printf(&b, "100%%");
    CHECK_STR(b.data, "100%");

    /* 64-bit values print whole */
    eng_buf_reset(&b);
    eng_buf_printf(&b, "%lld %llu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
    CHECK_STR(b.data, "-9223372036854775808 18446744073709551615");
    eng_buf_free(&b);
}

static void test_oom_latches(void)
{
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_puts(&b, "kept");
    /* a size no allocator can give: the reservation fails before any copy, and latches */
    eng_buf_append(&b, "x", SIZE_MAX - 16);
    CHECK(b.oom == 1);
    CHECK(b.len == 4);
    eng_buf_puts(&b, "more");
    eng_buf_printf(&b, "%d", 42);
    eng_buf_putc(&b, '!');
    CHECK(b.len == 4); /* every later append is a no-op */
    size_t len = 99;
    CHECK(eng_buf_take(&b, &len) == NULL); /* callers check once, at the end */
    CHECK(len == 99);                      /* untouched on failure */
    CHECK(b.data == NULL && b.oom == 0);   /* take freed the block and reset the buffer */

    /* a fresh buffer after take works again */
    eng_buf_puts(&b, "ok");
    char *s = eng_buf_take(&b, &len);
    REQUIRE(s != NULL);
    CHECK_STR(s, "ok");
    CHECK(len == 2);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    free(s);

    /* take on a buffer never written gives an empty string the caller frees, not NULL */
    s = eng_buf_take(&b, &len);
    REQUIRE(s != NULL);
    CHECK_STR(s, "");
    CHECK(len == 0);
    free(s);
}

static void test_nul_bytes(void)
{
    struct eng_buf b;
    eng_buf_init(&b);
    static const char raw[] = {'a', '\0', 'b', '\0', '\0', 'c'};
    eng_buf_append(&b, raw, sizeof raw);
    CHECK(b.len == 6);
    CHECK(memcmp(b.data, raw, sizeof raw) == 0);
    CHECK(b.data[6] == '\0');
    eng_buf_putc(&b, '\0');
    CHECK(b.len == 7);
    eng_buf_puts(&b, "d"); /* puts stops at the string's NUL, append does not */
    CHECK(b.len == 8 && b.data[7] == 'd');
    size_t len = 0;
    char *s = eng_buf_take(&b, &len);
    REQUIRE(s != NULL);
    CHECK(len == 8);
    CHECK(memcmp(s, "a\0b\0\0c\0d", 8) == 0);
    free(s);

    /* JSON: a NUL inside a string is escaped, never ends the literal */
    eng_buf_json_str(&b, raw, sizeof raw);
    CHECK_STR(b.data, "\"a\\u0000b\\u0000\\u0000c\"");
    eng_buf_free(&b);
}

static void test_json_str(void)
{
    struct eng_buf b;
    eng_buf_init(&b);
    const char *in = "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7f/é";
    eng_buf_json_str(&b, in, strlen(in));
    CHECK_STR(b.data, "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\x7f/é\"");
    eng_buf_reset(&b);
    eng_buf_json_str(&b, "", 0);
    CHECK_STR(b.data, "\"\"");
    /* only n bytes are read: a length shorter than the string cuts it */
    eng_buf_reset(&b);
    eng_buf_json_str(&b, "abcdef", 3);
    CHECK_STR(b.data, "\"abc\"");
    /* text from outside that is not UTF-8 (fuzz_api: a request path echoed in a 404) still
     * makes valid JSON: each bad byte is \ufffd, valid sequences around it are kept, and a
     * sequence cut by n is bad */
    eng_buf_reset(&b);
    const char *bad = "a\xff\xc0\xaf\xe2\x82\xac\xed\xa0\x80z\xe2\x82";
    eng_buf_json_str(&b, bad, strlen(bad));
    CHECK_STR(b.data, "\"a\\ufffd\\ufffd\\ufffd\xe2\x82\xac\\ufffd\\ufffd\\ufffdz\\ufffd\\ufffd\"");
    eng_buf_reset(&b);
    eng_buf_json_str(&b, "\xc3\xa9", 1);
    CHECK_STR(b.data, "\"\\ufffd\"");
    eng_buf_free(&b);
}

static void test_read_file(void)
{
    char path[4096], err_path[4096];
    struct eng_err err;
    struct eng_buf b;
    eng_buf_init(&b);

    /* a file larger than one read chunk (64 KiB), with NUL bytes, read whole */
    size_t n = 200000;
    char *data = malloc(n);
    REQUIRE(data != NULL);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    REQUIRE(put_file("big.bin", data, n, path, sizeof path) == 0);
    CHECK_INT(eng_buf_read_file(&b, path, 0, &err), 0); /* 0: no limit */
    CHECK(b.len == n && memcmp(b.data, data, n) == 0 && b.data[n] == '\0');

    /* the limit: exactly the size passes, one byte less is EINVAL naming the path */
    eng_buf_reset(&b);
    CHECK_INT(eng_buf_read_file(&b, path, n, &err), 0);
    CHECK(b.len == n);
    eng_buf_reset(&b);
    memset(&err, 0, sizeof err);
    CHECK_INT(eng_buf_read_file(&b, path, n - 1, &err), ENG_EINVAL);
    CHECK_INT(err.code, ENG_EINVAL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "larger than 199999 bytes") != NULL);
    CHECK(b.len <= n - 1); /* it stops reading: never more than the limit is kept */

    /* a small limit against a big file stops at the first chunk (bounded memory) */
    eng_buf_free(&b);
    CHECK_INT(eng_buf_read_file(&b, path, 10, &err), ENG_EINVAL);
    CHECK(b.len == 0 && b.cap <= 256);

    /* the limit counts the file's bytes, not what the buffer already held */
    eng_buf_reset(&b);
    eng_buf_puts(&b, "prefix:");
    REQUIRE(put_file("small.txt", "hello", 5, path, sizeof path) == 0);
    CHECK_INT(eng_buf_read_file(&b, path, 5, &err), 0);
    CHECK_STR(b.data, "prefix:hello");

    /* an empty file is read as nothing, under any limit */
    eng_buf_reset(&b);
    REQUIRE(put_file("empty.txt", "", 0, path, sizeof path) == 0);
    CHECK_INT(eng_buf_read_file(&b, path, 1, &err), 0);
    CHECK(b.len == 0);

    /* a missing file is ENOTFOUND naming the path; a folder is not a readable file */
    snprintf(err_path, sizeof err_path, "%s/missing.json", scratch);
    memset(&err, 0, sizeof err);
    CHECK_INT(eng_buf_read_file(&b, err_path, 0, &err), ENG_ENOTFOUND);
    CHECK(strstr(err.msg, err_path) != NULL);
    CHECK(eng_buf_read_file(&b, scratch, 0, &err) < 0);
    /* err may be NULL */
    CHECK_INT(eng_buf_read_file(&b, err_path, 0, NULL), ENG_ENOTFOUND);

    free(data);
    eng_buf_free(&b);
}

static void setup(void)
{
    if (mkdtemp(scratch) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static void cleanup(void)
{
    static const char *const names[] = {"big.bin", "small.txt", "empty.txt"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch, names[i]);
        unlink(path);
    }
    rmdir(scratch);
}

static void test_setup(void)
{
    setup();
    atexit(cleanup);
}

/* eng_buf_utf8_cut: what fits is kept whole; a cut never splits a character. */
static void test_utf8_cut(void)
{
    CHECK_INT((int)eng_buf_utf8_cut("abc", 3, 3), 3);
    CHECK_INT((int)eng_buf_utf8_cut("abc", 3, 10), 3);
    CHECK_INT((int)eng_buf_utf8_cut("abcd", 4, 2), 2);
    /* "a" then U+00E9 (2 bytes) then U+20AC (3 bytes) */
    const char *s = "a\xC3\xA9\xE2\x82\xAC";
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 1), 1);
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 2), 1); /* not half of the e-acute */
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 3), 3);
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 4), 3);
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 5), 3); /* not two thirds of the euro sign */
    CHECK_INT((int)eng_buf_utf8_cut(s, 6, 0), 0);
}

CHECK_MAIN(CHECK_CASE(test_setup), CHECK_CASE(test_utf8_cut), CHECK_CASE(test_growth),
           CHECK_CASE(test_printf), CHECK_CASE(test_oom_latches), CHECK_CASE(test_nul_bytes),
           CHECK_CASE(test_json_str), CHECK_CASE(test_read_file))

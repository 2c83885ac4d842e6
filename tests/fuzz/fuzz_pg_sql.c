/*
 * fuzz_pg_sql.c - libFuzzer target: the PostgreSQL store's placeholder translation
 * (adapt/store_pg.c, eng_store_pg_translate): ?N and ? become $N outside string literals
 * ('...', E'...', $tag$...$tag$), quoted identifiers and comments (nested slash-star too).
 * Input: SQL text, any bytes.
 * Checks: no crash or sanitizer report, no write past 6n + 1 bytes (ASan: the buffer is exactly
 * that), a number of parameters in 0..32766; text with no '?' comes out as it went in (up to a
 * second statement); and linear time (libFuzzer's -timeout catches a quadratic scan).
 * Corpus: tests/fuzz/corpus/pg_sql/ (statements of the shape engine/data/ writes, and the
 * quoting forms above).
 */
#include "fuzz.h"

#include <string.h>

#include "adapt/store_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *sql = (const char *)data;
    size_t room = size * 6 + 1;
    char *out = malloc(room);
    check(out != NULL);
    int nparams = -1, empty = -1;
    const char *tail = NULL;
    int rc = eng_store_pg_translate(sql, size, out, room, &nparams, &tail, &empty);
    check(rc == 0 || rc == ENG_EINVAL);
    if (rc == 0) {
        size_t len = strnlen(out, room);
        check(len < room);
        check(nparams >= 0 && nparams <= 32766);
        check(empty == 0 || empty == 1);
        check(tail == NULL || (tail > sql && tail <= sql + size));
        size_t upto = tail != NULL ? (size_t)(tail - sql) : size;
        if (memchr(sql, '?', size) == NULL && memchr(sql, '\0', size) == NULL) {
            check(nparams == 0);
            check(len == upto && memcmp(out, sql, upto) == 0);
        }
    }
    free(out);
    return 0;
}

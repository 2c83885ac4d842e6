/*
 * fuzz_pg_sql.c - libFuzzer target: the PostgreSQL store's translation
 * (adapt/store_pg.c, eng_store_pg_translate): ?N and ? become $N outside string literals
 * ('...', E'...', $tag$...$tag$), quoted identifiers and comments (nested slash-star too),
 * and, with ENG_PG_DIALECT, SQLite's dialect into PostgreSQL's (renamed functions, types, IS,
 * BEGIN IMMEDIATE), one statement or several (ENG_PG_MULTI).
 * Checks: no crash or sanitizer report, no write past 8n + 64 bytes (ASan: the buffer is exactly
 * that), a number of parameters in 0..32766; without the dialect, text with no '?' comes out as
 * it went in (up to a second statement); and linear time (libFuzzer's -timeout catches a
 * quadratic scan).
 * Input: SQL text, any bytes.
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
    size_t room = size * 8 + 64;
    char *out = malloc(room);
    check(out != NULL);
    /* placeholders only, then with the dialect, then several statements with the dialect */
    static const int modes[] = {0, ENG_PG_DIALECT, ENG_PG_DIALECT | ENG_PG_MULTI};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct eng_pg_xlate x;
        int rc = eng_store_pg_translate(sql, size, out, room, modes[m], &x);
        check(rc == 0 || rc == ENG_EINVAL);
        if (rc != 0)
            continue;
        size_t len = strnlen(out, room);
        check(len < room);
        check(x.nparams >= 0 && x.nparams <= 32766);
        check(x.empty == 0 || x.empty == 1);
        check(x.tail == NULL || (x.tail > sql && x.tail <= sql + size));
        check(x.tail == NULL || !(modes[m] & ENG_PG_MULTI));
        size_t upto = x.tail != NULL ? (size_t)(x.tail - sql) : size;
        if (modes[m] == 0 && memchr(sql, '?', size) == NULL && memchr(sql, '\0', size) == NULL) {
            check(x.nparams == 0);
            check(len == upto && memcmp(out, sql, upto) == 0);
        }
    }
    free(out);
    return 0;
}

/*
 * test_json_read.c - unit tier for engine/base/json_read.c, the engine's one JSON reader: the
 * token stream, RFC 8259 accept/refuse cases with their exact "<what> at byte N", UTF-8 (every
 * 1-3 byte sequence against a slow reference), \u escapes and surrogates, the NUL flag, depth,
 * numbers kept as raw text, skip, unescape's bound, and large hostile inputs (correct answers,
 * token counts linear in the input; no timing).
 */
#include "check.h"

#include <stdlib.h>

#include "base/json_read.h"

/* The tokens of text as one line: "{ K:a [ N:1 S:x T F Z ] }", then "$" at EOF or "! what at
 * byte N" on error. */
static const char *tokens(const char *text, size_t len, int depth, unsigned flags)
{
    static char out[1024];
    struct eng_json_read r;
    size_t o = 0;
    eng_json_read_init(&r, text, len, depth, flags);
    out[0] = '\0';
    for (;;) {
        int t = eng_json_read_next(&r);
        char tmp[256];
        switch (t) {
        case ENG_JSON_READ_EOF:
            snprintf(tmp, sizeof tmp, "$");
            break;
        case ENG_JSON_READ_ERROR: {
            char msg[128];
            snprintf(tmp, sizeof tmp, "! %s", eng_json_read_error(&r, msg, sizeof msg));
            break;
        }
        case ENG_JSON_READ_OBJECT:
            snprintf(tmp, sizeof tmp, "{");
            break;
        case ENG_JSON_READ_OBJECT_END:
            snprintf(tmp, sizeof tmp, "}");
            break;
        case ENG_JSON_READ_ARRAY:
            snprintf(tmp, sizeof tmp, "[");
            break;
        case ENG_JSON_READ_ARRAY_END:
            snprintf(tmp, sizeof tmp, "]");
            break;
        case ENG_JSON_READ_KEY:
        case ENG_JSON_READ_STRING:
            snprintf(tmp, sizeof tmp, "%c:%.*s", t == ENG_JSON_READ_KEY ? 'K' : 'S', (int)r.tok_len,
                     r.tok);
            break;
        case ENG_JSON_READ_NUMBER:
            snprintf(tmp, sizeof tmp, "%c:%.*s", r.is_float ? 'F' : 'N', (int)r.tok_len, r.tok);
            break;
        case ENG_JSON_READ_TRUE:
            snprintf(tmp, sizeof tmp, "T");
            break;
        case ENG_JSON_READ_FALSE:
            snprintf(tmp, sizeof tmp, "F");
            break;
        default:
            snprintf(tmp, sizeof tmp, "Z");
            break;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? " " : "", tmp);
        if (t == ENG_JSON_READ_EOF || t == ENG_JSON_READ_ERROR || o >= sizeof out - 1)
            return out;
    }
}

#define TOK(s) tokens((s), sizeof(s) - 1, 256, 0)

static void test_token_stream(void)
{
    CHECK_STR(TOK("{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\/\"],\"b\":{}}"),
              "{ K:a [ N:1 F:-2.5e3 T F Z S:x\\u00e9\\/ ] K:b { } } $");
    CHECK_STR(TOK(" \t\r\n[ ] \n"), "[ ] $");
    CHECK_STR(TOK("\"top\""), "S:top $");
    CHECK_STR(TOK("0"), "N:0 $");
    CHECK_STR(TOK("-0.0E+1"), "F:-0.0E+1 $");
    CHECK_STR(TOK("null"), "Z $");
    CHECK_STR(TOK("[[],{},[{}]]"), "[ [ ] { } [ { } ] ] $");
    CHECK_STR(TOK("{\"a\" : 1 , \"a\" : 2}"), "{ K:a N:1 K:a N:2 } $"); /* duplicates pass */
    CHECK_STR(TOK("\"\""), "S: $");

    /* positions, escape flag and depth of the current token */
    struct eng_json_read r;
    const char *t = " {\"k\\n\": [\"v\"]}";
    eng_json_read_init(&r, t, strlen(t), 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_OBJECT);
    CHECK_INT(r.tok_at, 1);
    CHECK_INT(r.depth, 1);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_KEY);
    CHECK_INT(r.tok_at, 2);
    CHECK_INT(r.escaped, 1);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ARRAY);
    CHECK_INT(r.tok_at, 9);
    CHECK_INT(r.depth, 2);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_STRING);
    CHECK_INT(r.escaped, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ARRAY_END);
    CHECK_INT(r.tok_at, 13);
    CHECK_INT(r.depth, 1);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_OBJECT_END);
    CHECK_INT(r.depth, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_EOF);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_EOF); /* stays at EOF */

    eng_json_read_init(&r, NULL, 0, 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ERROR);
    CHECK_STR(r.what, "unexpected end of input");
    CHECK_INT(r.at, 0);
}

static void test_refusals(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "! unexpected end of input at byte 1"},
        {"   ", "! unexpected end of input at byte 4"},
        {"[1,2", "[ N:1 N:2 ! unexpected end of input at byte 5"},
        {"[1,]", "[ N:1 ! unexpected character ']' at byte 4"},
        {"[,1]", "[ ! unexpected character ',' at byte 2"},
        {"[true false]", "[ T ! expected ',' or ']' at byte 7"},
        {"[1}", "[ N:1 ! expected ',' or ']' at byte 3"},
        {"{\"a\" 1}", "{ ! expected ':' at byte 6"},
        {"{a:1}", "{ ! expected a string key at byte 2"},
        {"{\"a\":1,}", "{ K:a N:1 ! expected a string key at byte 8"},
        {"{\"a\":1 \"b\":2}", "{ K:a N:1 ! expected ',' or '}' at byte 8"},
        {"{\"a\":1", "{ K:a N:1 ! unexpected end of input at byte 7"},
        {"{", "{ ! unexpected end of input at byte 2"},
        {"01", "! invalid number (leading zero) at byte 1"},
        {"-01", "! invalid number (leading zero) at byte 1"},
        {"1.", "! invalid number at byte 1"},
        {"-", "! invalid number at byte 1"},
        {"1e", "! invalid number at byte 1"},
        {"1e+", "! invalid number at byte 1"},
        {".5", "! unexpected character '.' at byte 1"},
        {"+1", "! unexpected character '+' at byte 1"},
        {"0x10", "N:0 ! trailing characters after the value at byte 2"},
        {"NaN", "! unexpected character 'N' at byte 1"},
        {"[-Infinity]", "[ ! invalid number at byte 2"},
        {"tru", "! invalid literal (true, false or null) at byte 1"},
        {"falsey", "F ! trailing characters after the value at byte 6"},
        {"\"abc", "! unterminated string at byte 1"},
        {"[\"ok\", \"abc]", "[ S:ok ! unterminated string at byte 8"},
        {"\"a\\", "! unterminated string at byte 1"},
        {"\"\\x\"", "! invalid escape in string at byte 2"},
        {"\"a\nb\"", "! unescaped control character in string at byte 3"},
        {"\"a\x7f\"", "S:a\x7f $"}, /* DEL is not a control character in JSON */
        {"1 2", "N:1 ! trailing characters after the value at byte 3"},
        {"// c\n1", "! unexpected character '/' at byte 1"},
        {"['a']", "[ ! unexpected character ''' at byte 2"},
        {"\xef\xbb\xbf{}", "! unexpected byte 0xEF at byte 1"}, /* a BOM is not JSON */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(tokens(cases[i].text, strlen(cases[i].text), 256, 0), cases[i].want);
    /* NUL bytes: outside a string, inside one, after the value */
    CHECK_STR(TOK("\0"), "! unexpected byte 0x00 at byte 1");
    CHECK_STR(TOK("\"a\0\""), "! unescaped control character in string at byte 3");
    CHECK_STR(TOK("[1]\0"), "[ N:1 ] ! trailing characters after the value at byte 4");
    /* an error is sticky */
    struct eng_json_read r;
    eng_json_read_init(&r, "[x", 2, 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ARRAY);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ERROR);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ERROR);
    CHECK_INT(r.at, 1);
}

static void test_strings_and_escapes(void)
{
    /* valid UTF-8 edges pass through untouched */
    CHECK_STR(
        TOK("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\""),
        "S:\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf $");
    CHECK_STR(TOK("\"\xff\""), "! invalid UTF-8 in string at byte 2");
    CHECK_STR(TOK("\"ok\xc0\xaf\""), "! invalid UTF-8 in string at byte 4");   /* overlong '/' */
    CHECK_STR(TOK("\"\xe0\x80\x80\""), "! invalid UTF-8 in string at byte 2"); /* overlong NUL */
    CHECK_STR(TOK("\"\xed\xa0\x80\""), "! invalid UTF-8 in string at byte 2"); /* surrogate */
    CHECK_STR(TOK("\"\xe2\x82\""), "! invalid UTF-8 in string at byte 2");     /* truncated */
    CHECK_STR(TOK("\"\xf4\x90\x80\x80\""), "! invalid UTF-8 in string at byte 2"); /* > 10FFFF */
    CHECK_STR(TOK("\"\x80\""), "! invalid UTF-8 in string at byte 2"); /* stray continuation */
    CHECK_STR(tokens("\"\xe2\x82", 3, 8, 0),
              "! invalid UTF-8 in string at byte 2"); /* at the end */

    /* \u escapes: pairs join, lone halves and bad hex are refused at the backslash */
    CHECK_STR(TOK("\"\\ud83d\\ude00\""), "S:\\ud83d\\ude00 $");
    CHECK_STR(TOK("\"\\ud83d\""), "! invalid \\u escape (bad hex or unpaired surrogate) at byte 2");
    CHECK_STR(TOK("\"\\ude00\""), "! invalid \\u escape (bad hex or unpaired surrogate) at byte 2");
    CHECK_STR(TOK("\"ab\\ud83dx\""),
              "! invalid \\u escape (bad hex or unpaired surrogate) at byte 4");
    CHECK_STR(TOK("\"\\ud83d\\u0041\""),
              "! invalid \\u escape (bad hex or unpaired surrogate) at byte 2");
    CHECK_STR(TOK("\"\\u12G4\""), "! invalid \\u escape (bad hex or unpaired surrogate) at byte 2");
    CHECK_STR(TOK("\"\\u12\""), "! invalid \\u escape (bad hex or unpaired surrogate) at byte 2");

    /* \u0000: allowed by default (Lua strings hold NUL), refused with ENG_JSON_READ_NO_NUL */
    CHECK_STR(TOK("\"a\\u0000b\""), "S:a\\u0000b $");
    const char *nul = "{\"k\": \"a\\u0000b\"}";
    CHECK_STR(tokens(nul, strlen(nul), 8, ENG_JSON_READ_NO_NUL),
              "{ K:k ! \\u0000 (a NUL character) in string at byte 9");

    /* unescape: every escape, the decoded length, and the size bound */
    const char *raw = "q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\\u0000z";
    char out[64];
    size_t n = eng_json_read_unescape(raw, strlen(raw), out, sizeof out);
    static const char want[] = "q\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    CHECK_INT(n, sizeof want - 1);
    CHECK(memcmp(out, want, sizeof want - 1) == 0);
    memset(out, '#', sizeof out);
    CHECK_INT(eng_json_read_unescape(raw, strlen(raw), out, 3), sizeof want - 1); /* cut */
    CHECK(memcmp(out, "q\"\\#", 4) == 0); /* wrote 3 bytes, not one more */
    CHECK_INT(eng_json_read_unescape("abc", 3, out, 3), 3);
}

static void test_numbers_as_text(void)
{
    /* no conversion: money and ids wider than any C type come out exactly as written */
    CHECK_STR(TOK("[123456789012345678901234567890, 0.1, 19.99, -9223372036854775809, 1e400]"),
              "[ N:123456789012345678901234567890 F:0.1 F:19.99 N:-9223372036854775809 F:1e400 ] "
              "$");
    size_t n = 100000;
    char *big = malloc(n + 3);
    REQUIRE(big != NULL);
    memset(big, '7', n);
    memcpy(big + n, ".5", 3);
    struct eng_json_read r;
    eng_json_read_init(&r, big, n + 2, 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_NUMBER);
    CHECK_INT(r.tok_len, n + 2);
    CHECK(r.tok == big);
    CHECK_INT(r.is_float, 1);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_EOF);
    free(big);
}

static void test_depth(void)
{
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    REQUIRE(deep != NULL);
    /* exactly the limit passes; one more is refused at the bracket that exceeds it */
    memset(deep, '[', 256);
    memset(deep + 256, ']', 256);
    struct eng_json_read r;
    eng_json_read_init(&r, deep, 512, 256, 0);
    int t, count = 0;
    while ((t = eng_json_read_next(&r)) > 0)
        count++;
    CHECK_INT(t, ENG_JSON_READ_EOF);
    CHECK_INT(count, 512);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    CHECK_STR(tokens(deep, 2 * n, 256, 0) + 2 * 256, "! nesting deeper than 256 at byte 257");
    /* the limit is the caller's, clamped to 1..ENG_JSON_READ_MAX_DEPTH */
    eng_json_read_init(&r, deep, 2 * n, 32, 0);
    for (count = 0; (t = eng_json_read_next(&r)) > 0;)
        count++;
    CHECK_INT(count, 32);
    CHECK_STR(r.what, "nesting deeper than 32");
    eng_json_read_init(&r, deep, 2 * n, 100000, 0);
    for (count = 0; (t = eng_json_read_next(&r)) > 0;)
        count++;
    CHECK_INT(count, ENG_JSON_READ_MAX_DEPTH);
    eng_json_read_init(&r, deep, 2 * n, 0, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ARRAY);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ERROR);
    /* objects and arrays mixed: each closer must match its opener */
    CHECK_STR(TOK("[{\"a\":[{}]}]"), "[ { K:a [ { } ] } ] $");
    CHECK_STR(TOK("[{\"a\":[{}}]}]"), "[ { K:a [ { } ! expected ',' or ']' at byte 10");
    free(deep);
}

static void test_skip(void)
{
    const char *t = "{\"skip\":{\"a\":[1,{\"b\":[]}],\"c\":\"}\"},\"keep\":7}";
    struct eng_json_read r;
    eng_json_read_init(&r, t, strlen(t), 16, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_OBJECT);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_KEY);
    int v = eng_json_read_next(&r);
    CHECK_INT(eng_json_read_skip(&r, v), ENG_JSON_READ_OBJECT_END);
    CHECK_INT(r.depth, 1);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_KEY);
    CHECK(r.tok_len == 4 && memcmp(r.tok, "keep", 4) == 0);
    v = eng_json_read_next(&r);
    CHECK_INT(eng_json_read_skip(&r, v), ENG_JSON_READ_NUMBER); /* a scalar is already read */
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_OBJECT_END);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_EOF);
    /* skipping into malformed text reports the error */
    eng_json_read_init(&r, "[[1,]", 5, 16, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ARRAY);
    v = eng_json_read_next(&r);
    CHECK_INT(eng_json_read_skip(&r, v), ENG_JSON_READ_ERROR);
    CHECK_INT(r.at, 4);
}

/* Large hostile inputs: right answers, and a token count that grows with the input, not its
 * square (one token per element, no rescans). */
static void test_large_inputs(void)
{
    size_t n = 1u << 20; /* elements */
    char *big = malloc(2 * n + 2);
    REQUIRE(big != NULL);
    big[0] = '[';
    for (size_t i = 0; i < n; i++)
        big[1 + 2 * i] = '0', big[2 + 2 * i] = ',';
    big[2 * n] = ']';
    struct eng_json_read r;
    eng_json_read_init(&r, big, 2 * n + 1, 8, 0);
    size_t count = 0;
    int t;
    while ((t = eng_json_read_next(&r)) > 0)
        count++;
    CHECK_INT(t, ENG_JSON_READ_EOF);
    CHECK_INT(count, n + 2);
    /* the same without its closer: refused at the very end, after the same work */
    eng_json_read_init(&r, big, 2 * n, 8, 0);
    for (count = 0; (t = eng_json_read_next(&r)) > 0;)
        count++;
    CHECK_INT(count, n + 1);
    CHECK_INT(r.at, 2 * n);
    CHECK_STR(r.what, "unexpected end of input");

    /* one string of 2 MiB of escapes, then one whose last escape is bad */
    size_t m = 1u << 18, len = 6 * m + 2;
    char *s = malloc(len + 1);
    REQUIRE(s != NULL);
    s[0] = '"';
    for (size_t i = 0; i < m; i++)
        memcpy(s + 1 + 6 * i, "\\u00e9", 6);
    s[len - 1] = '"';
    eng_json_read_init(&r, s, len, 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_STRING);
    CHECK_INT(r.tok_len, 6 * m);
    char *dec = malloc(r.tok_len);
    REQUIRE(dec != NULL);
    CHECK_INT(eng_json_read_unescape(r.tok, r.tok_len, dec, r.tok_len), 2 * m);
    CHECK(memcmp(dec + 2 * m - 2, "\xc3\xa9", 2) == 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_EOF);
    s[len - 3] = 'x';
    eng_json_read_init(&r, s, len, 8, 0);
    CHECK_INT(eng_json_read_next(&r), ENG_JSON_READ_ERROR);
    CHECK_INT(r.at, len - 7);
    free(dec);
    free(s);
    free(big);
}

/* ---- UTF-8 validation against a slow reference ---- */

static size_t utf8_reference(const unsigned char *p, size_t avail)
{
    unsigned long cp;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0)
        n = 2, cp = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0)
        n = 3, cp = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static void test_utf8_exhaustive(void)
{
    unsigned char b[4];
    long mismatches = 0;
    for (unsigned a = 0; a < 256; a++) {
        b[0] = (unsigned char)a;
        mismatches += eng_json_read_utf8(b, 1) != utf8_reference(b, 1);
        for (unsigned c = 0; c < 256; c++) {
            b[1] = (unsigned char)c;
            mismatches += eng_json_read_utf8(b, 2) != utf8_reference(b, 2);
            for (unsigned d = 0; d < 256; d++) {
                b[2] = (unsigned char)d;
                mismatches += eng_json_read_utf8(b, 3) != utf8_reference(b, 3);
                /* 4-byte forms: every lead and second byte, a few third/fourth bytes */
                if (a >= 0xF0 && (d == 0x80 || d == 0xBF || d == 0x41)) {
                    static const unsigned char last[] = {0x80, 0x9F, 0xBF, 0xC0, 0x00};
                    for (size_t k = 0; k < sizeof last; k++) {
                        b[3] = last[k];
                        mismatches += eng_json_read_utf8(b, 4) != utf8_reference(b, 4);
                    }
                }
            }
        }
    }
    CHECK_INT(mismatches, 0);
}

CHECK_MAIN(CHECK_CASE(test_token_stream), CHECK_CASE(test_refusals),
           CHECK_CASE(test_strings_and_escapes), CHECK_CASE(test_numbers_as_text),
           CHECK_CASE(test_depth), CHECK_CASE(test_skip), CHECK_CASE(test_large_inputs),
           CHECK_CASE(test_utf8_exhaustive))

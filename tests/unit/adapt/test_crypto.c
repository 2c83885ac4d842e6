/*
 * test_crypto.c - unit tier for engine/adapt/crypto.c: published vectors (FIPS 180-2 SHA-256,
 * RFC 4231 HMAC-SHA256, the GCM spec's AES-256 cases 13-18, RFC 4648 base64), seal/open
 * tamper checks, and the WooCommerce / QuickBooks webhook signature vectors read from
 * $FIXTURES_DIR (default tests/fixtures). Owns only its own scratch memory.
 */
#include "check.h"
#include "adapt/crypto.h"

#include <stdlib.h>

/* ---- helpers ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode hex text into out (cap bytes); returns the byte count, or (size_t)-1 on bad input. */
static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap) {
        return (size_t)-1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return (size_t)-1;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return n / 2;
}

/* Lowercase hex of buf in a static buffer (one use at a time). */
static const char *tohex(const unsigned char *buf, size_t len)
{
    static char text[2 * 256 + 1];
    if (eng_crypto_hex_encode(buf, len, text, sizeof text, NULL) != 0) {
        return "(too long)";
    }
    return text;
}

static const char *fixtures_dir(void)
{
    const char *d = getenv("FIXTURES_DIR");
    return d != NULL && d[0] != '\0' ? d : "tests/fixtures";
}

/* Read a whole file; malloc'd, NUL-terminated, caller frees. NULL when unreadable. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) {
            break;
        }
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL) {
            *len = n;
        }
    }
    return buf;
}

/* Append code point cp as UTF-8. */
static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static unsigned long hex4(const char *p)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hexval(p[i]);
        if (d < 0) {
            return (unsigned long)-1;
        }
        v = v << 4 | (unsigned long)d;
    }
    return v;
}

/*
 * Just enough JSON for the fixture files: find the member `"key":` in [from, to) and decode its
 * string value into a malloc'd buffer (caller frees). Returns NULL when absent, when the value
 * is not a string (e.g. null), or on a malformed string.
 */
static char *json_string_member(const char *from, const char *to, const char *key, size_t *len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    size_t plen = strlen(pat);
    for (const char *p = strstr(from, pat); p != NULL && p < to; p = strstr(p + 1, pat)) {
        const char *q = p + plen;
        while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t') {
            q++;
        }
        if (*q != ':') {
            continue; /* the text appeared as a value, not as a key */
        }
        q++;
        while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t') {
            q++;
        }
        if (*q != '"') {
            return NULL;
        }
        q++;
        char *out = malloc(strlen(q) + 1); /* decoding never grows the text */
        size_t n = 0;
        if (out == NULL) {
            return NULL;
        }
        for (; *q != '"'; q++) {
            if (*q == '\0') {
                free(out);
                return NULL;
            }
            if (*q != '\\') {
                out[n++] = *q;
                continue;
            }
            q++;
            switch (*q) {
            case '"':
                out[n++] = '"';
                break;
            case '\\':
                out[n++] = '\\';
                break;
            case '/':
                out[n++] = '/';
                break;
            case 'b':
                out[n++] = '\b';
                break;
            case 'f':
                out[n++] = '\f';
                break;
            case 'n':
                out[n++] = '\n';
                break;
            case 'r':
                out[n++] = '\r';
                break;
            case 't':
                out[n++] = '\t';
                break;
            case 'u': {
                unsigned long cp = hex4(q + 1);
                if (cp == (unsigned long)-1) {
                    free(out);
                    return NULL;
                }
                q += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && q[1] == '\\' && q[2] == 'u') {
                    unsigned long lo = hex4(q + 3);
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        q += 6;
                    }
                }
                n += put_utf8(out + n, cp);
                break;
            }
            default:
                free(out);
                return NULL;
            }
        }
        out[n] = '\0';
        if (len != NULL) {
            *len = n;
        }
        return out;
    }
    return NULL;
}

/* The next vector object: from its "name" member to the next one (or the end). */
static const char *next_vector(const char *from, const char **end)
{
    const char *p = strstr(from, "\"name\"");
    if (p == NULL) {
        return NULL;
    }
    const char *q = strstr(p + 1, "\"name\"");
    *end = q != NULL ? q : p + strlen(p);
    return p;
}

/* base64(HMAC-SHA256(key, body)) as a NUL-terminated string in out (>= 45 bytes). */
static int sign_b64(const char *key, size_t keylen, const char *body, size_t bodylen, char *out,
                    size_t cap)
{
    unsigned char mac[ENG_CRYPTO_SHA256_LEN];
    int rc = eng_crypto_hmac_sha256(key, keylen, body, bodylen, mac, NULL);
    if (rc == 0) {
        rc = eng_crypto_base64_encode(mac, sizeof mac, out, cap, NULL, NULL);
    }
    return rc;
}

/* ---- digests ---- */

static void test_sha256_fips180(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        CHECK_INT(eng_crypto_sha256(v[i].msg, strlen(v[i].msg), d, NULL), 0);
        CHECK_STR(tohex(d, sizeof d), v[i].hex);
    }
    /* NULL with length 0 is the empty message. */
    CHECK_INT(eng_crypto_sha256(NULL, 0, d, NULL), 0);
    CHECK_STR(tohex(d, sizeof d), v[1].hex);
    /* One million 'a' (FIPS 180-2, appendix B.3). */
    size_t n = 1000000;
    char *a = malloc(n);
    REQUIRE(a != NULL);
    memset(a, 'a', n);
    CHECK_INT(eng_crypto_sha256(a, n, d, NULL), 0);
    CHECK_STR(tohex(d, sizeof d),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_hmac_rfc4231(void)
{
    unsigned char key[131], data[200];
    unsigned char mac[ENG_CRYPTO_SHA256_LEN];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    CHECK_INT(eng_crypto_hmac_sha256(key, 20, "Hi There", 8, mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 2: a key shorter than the output */
    CHECK_INT(eng_crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* Test case 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    CHECK_INT(eng_crypto_hmac_sha256(key, 20, data, 50, mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    /* Test case 4 */
    for (int i = 0; i < 25; i++) {
        key[i] = (unsigned char)(i + 1);
    }
    memset(data, 0xcd, 50);
    CHECK_INT(eng_crypto_hmac_sha256(key, 25, data, 50, mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    /* Test case 5: output truncated to 128 bits */
    memset(key, 0x0c, 20);
    CHECK_INT(eng_crypto_hmac_sha256(key, 20, "Test With Truncation", 20, mac, NULL), 0);
    CHECK_STR(tohex(mac, 16), "a3b6167473100ee06e0c796c2955552b");

    /* Test case 6: a key larger than the block size */
    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_INT(eng_crypto_hmac_sha256(key, 131, m6, strlen(m6), mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* Test case 7: key and data larger than the block size */
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    CHECK_INT(eng_crypto_hmac_sha256(key, 131, m7, strlen(m7), mac, NULL), 0);
    CHECK_STR(tohex(mac, 32), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

    /* Empty key and message are valid (NULL allowed with length 0). */
    unsigned char mac2[ENG_CRYPTO_SHA256_LEN];
    CHECK_INT(eng_crypto_hmac_sha256(NULL, 0, NULL, 0, mac, NULL), 0);
    CHECK_INT(eng_crypto_hmac_sha256("", 0, "", 0, mac2, NULL), 0);
    CHECK(memcmp(mac, mac2, sizeof mac) == 0);
    CHECK_STR(tohex(mac, 32), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* ---- AES-256-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13-18
 * (the AES-256 ones; 17 and 18 use 8- and 60-byte IVs). ---- */

struct gcm_vector {
    int tc;
    const char *key, *iv, *aad, *pt, *ct, *tag;
};

#define GCM_K0  "0000000000000000000000000000000000000000000000000000000000000000"
#define GCM_K1  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define GCM_P64                                                                                    \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                             \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define GCM_P60                                                                                    \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                             \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_IV60                                                                                   \
    "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"                             \
    "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"

static const struct gcm_vector gcm_vectors[] = {
    {13, GCM_K0, "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, GCM_K0, "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, GCM_K1, "cafebabefacedbaddecaf888", "", GCM_P64,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {16, GCM_K1, "cafebabefacedbaddecaf888", GCM_AAD, GCM_P60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {17, GCM_K1, "cafebabefacedbad", GCM_AAD, GCM_P60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {18, GCM_K1, GCM_IV60, GCM_AAD, GCM_P60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

static void test_gcm_spec_vectors(void)
{
    for (size_t i = 0; i < sizeof gcm_vectors / sizeof gcm_vectors[0]; i++) {
        const struct gcm_vector *v = &gcm_vectors[i];
        unsigned char key[32], iv[64], aad[32], pt[64], ct[64], tag[16];
        unsigned char out[64], otag[16];
        REQUIRE(unhex(v->key, key, sizeof key) == 32);
        size_t ivlen = unhex(v->iv, iv, sizeof iv);
        size_t aadlen = unhex(v->aad, aad, sizeof aad);
        size_t ptlen = unhex(v->pt, pt, sizeof pt);
        REQUIRE(ivlen != (size_t)-1 && aadlen != (size_t)-1 && ptlen != (size_t)-1);
        REQUIRE(unhex(v->ct, ct, sizeof ct) == ptlen);
        REQUIRE(unhex(v->tag, tag, sizeof tag) == 16);

        CHECK_INT(
            eng_crypto_aes256gcm_encrypt(key, iv, ivlen, aad, aadlen, pt, ptlen, out, otag, NULL),
            0);
        if (memcmp(out, ct, ptlen) != 0 || memcmp(otag, tag, 16) != 0) {
            fprintf(stderr, "GCM test case %d: encryption mismatch\n", v->tc);
            CHECK(0);
        }
        memset(out, 0xEE, sizeof out);
        CHECK_INT(
            eng_crypto_aes256gcm_decrypt(key, iv, ivlen, aad, aadlen, ct, ptlen, tag, out, NULL),
            0);
        if (memcmp(out, pt, ptlen) != 0) {
            fprintf(stderr, "GCM test case %d: decryption mismatch\n", v->tc);
            CHECK(0);
        }
        /* A flipped tag bit fails and leaves no plaintext behind. */
        tag[15] ^= 0x01;
        struct eng_err err = {0};
        CHECK_INT(
            eng_crypto_aes256gcm_decrypt(key, iv, ivlen, aad, aadlen, ct, ptlen, tag, out, &err),
            ENG_EAUTH);
        CHECK_INT(err.code, ENG_EAUTH);
        CHECK_STR(err.msg, "authentication failed");
        static const unsigned char zeros[64];
        CHECK(memcmp(out, zeros, ptlen) == 0);
    }
    /* In-place encryption gives the same answer (test case 15). */
    unsigned char key[32], iv[12], buf[64], tag[16], ct[64];
    REQUIRE(unhex(GCM_K1, key, 32) == 32 && unhex("cafebabefacedbaddecaf888", iv, 12) == 12);
    REQUIRE(unhex(GCM_P64, buf, 64) == 64 && unhex(gcm_vectors[2].ct, ct, 64) == 64);
    CHECK_INT(eng_crypto_aes256gcm_encrypt(key, iv, 12, NULL, 0, buf, 64, buf, tag, NULL), 0);
    CHECK(memcmp(buf, ct, 64) == 0);
    /* An empty IV is a caller error. */
    struct eng_err err = {0};
    CHECK_INT(eng_crypto_aes256gcm_encrypt(key, iv, 0, NULL, 0, buf, 16, buf, tag, &err),
              ENG_EINVAL);
    CHECK_INT(err.code, ENG_EINVAL);
}

/* ---- seal / open ---- */

static void test_seal_open_roundtrip(void)
{
    unsigned char key[32];
    REQUIRE(eng_crypto_random(key, sizeof key, NULL) == 0);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *pt = malloc(n + 1), *blob = malloc(n + ENG_CRYPTO_SEAL_OVERHEAD);
        unsigned char *back = malloc(n + 1);
        REQUIRE(pt != NULL && blob != NULL && back != NULL);
        for (size_t j = 0; j < n; j++) {
            pt[j] = (unsigned char)(j * 7 + 3);
        }
        size_t blen = 0, plen = 99;
        CHECK_INT(
            eng_crypto_seal(key, "ctx", 3, pt, n, blob, n + ENG_CRYPTO_SEAL_OVERHEAD, &blen, NULL),
            0);
        CHECK_INT(blen, n + ENG_CRYPTO_SEAL_OVERHEAD);
        CHECK_INT(eng_crypto_open(key, "ctx", 3, blob, blen, back, n, &plen, NULL), 0);
        CHECK_INT(plen, n);
        CHECK(n == 0 || memcmp(back, pt, n) == 0);
        free(pt);
        free(blob);
        free(back);
    }
    /* Two seals of the same message differ (fresh nonce) and both open. */
    unsigned char b1[5 + 28], b2[5 + 28], p[5];
    CHECK_INT(eng_crypto_seal(key, NULL, 0, "hello", 5, b1, sizeof b1, NULL, NULL), 0);
    CHECK_INT(eng_crypto_seal(key, NULL, 0, "hello", 5, b2, sizeof b2, NULL, NULL), 0);
    CHECK(memcmp(b1, b2, ENG_CRYPTO_NONCE_LEN) != 0);
    CHECK(memcmp(b1, b2, sizeof b1) != 0);
    CHECK_INT(eng_crypto_open(key, NULL, 0, b2, sizeof b2, p, sizeof p, NULL, NULL), 0);
    CHECK(memcmp(p, "hello", 5) == 0);
    /* No aad and an empty aad are the same binding. */
    CHECK_INT(eng_crypto_open(key, "", 0, b1, sizeof b1, p, sizeof p, NULL, NULL), 0);
    /* The blob layout is nonce || AES-256-GCM(key, nonce, aad, pt) || tag. */
    unsigned char ct[5], tag[16];
    CHECK_INT(eng_crypto_aes256gcm_encrypt(key, b1, 12, NULL, 0, "hello", 5, ct, tag, NULL), 0);
    CHECK(memcmp(b1 + 12, ct, 5) == 0 && memcmp(b1 + 17, tag, 16) == 0);
    /* Buffers too small are caller errors, not authentication failures. */
    struct eng_err err = {0};
    CHECK_INT(eng_crypto_seal(key, NULL, 0, "hello", 5, b1, sizeof b1 - 1, NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_crypto_open(key, NULL, 0, b2, sizeof b2, p, 4, NULL, &err), ENG_EINVAL);
    eng_crypto_wipe(key, sizeof key);
}

static void test_seal_tamper(void)
{
    unsigned char key[32], key2[32];
    REQUIRE(eng_crypto_random(key, 32, NULL) == 0);
    memcpy(key2, key, 32);
    key2[31] ^= 0x80;
    const char *msg = "client_secret=s3cr3t-value";
    size_t n = strlen(msg);
    unsigned char blob[64], out[64];
    size_t blen;
    REQUIRE(eng_crypto_seal(key, "tenant-7", 8, msg, n, blob, sizeof blob, &blen, NULL) == 0);
    static const unsigned char zeros[64];

    /* Every single-bit flip anywhere in the blob (nonce, ciphertext, tag) is rejected. */
    int rejected = 0;
    for (size_t i = 0; i < blen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blob[i] ^= (unsigned char)(1U << bit);
            memset(out, 0xEE, sizeof out);
            struct eng_err err = {0};
            int rc = eng_crypto_open(key, "tenant-7", 8, blob, blen, out, sizeof out, NULL, &err);
            blob[i] ^= (unsigned char)(1U << bit);
            if (rc == ENG_EAUTH && err.code == ENG_EAUTH && memcmp(out, zeros, n) == 0) {
                rejected++;
            } else {
                fprintf(stderr, "tamper at byte %zu bit %d: rc %d\n", i, bit, rc);
            }
        }
    }
    CHECK_INT(rejected, (int)blen * 8);

    struct eng_err err = {0};
    /* Wrong aad, missing aad, wrong key. */
    CHECK_INT(eng_crypto_open(key, "tenant-8", 8, blob, blen, out, sizeof out, NULL, &err),
              ENG_EAUTH);
    CHECK_STR(err.msg, "authentication failed");
    CHECK_INT(eng_crypto_open(key, NULL, 0, blob, blen, out, sizeof out, NULL, NULL), ENG_EAUTH);
    CHECK_INT(eng_crypto_open(key2, "tenant-7", 8, blob, blen, out, sizeof out, NULL, NULL),
              ENG_EAUTH);
    /* Truncated, extended and too-short blobs. */
    CHECK_INT(eng_crypto_open(key, "tenant-7", 8, blob, blen - 1, out, sizeof out, NULL, NULL),
              ENG_EAUTH);
    blob[blen] = 0;
    CHECK_INT(eng_crypto_open(key, "tenant-7", 8, blob, blen + 1, out, sizeof out, NULL, NULL),
              ENG_EAUTH);
    memset(&err, 0, sizeof err);
    CHECK_INT(eng_crypto_open(key, "tenant-7", 8, blob, ENG_CRYPTO_SEAL_OVERHEAD - 1, out,
                              sizeof out, NULL, &err),
              ENG_EAUTH);
    CHECK_INT(err.code, ENG_EAUTH);
    CHECK_INT(eng_crypto_open(key, "tenant-7", 8, NULL, 0, out, sizeof out, NULL, NULL), ENG_EAUTH);
    /* The untouched blob still opens. */
    size_t plen = 0;
    CHECK_INT(eng_crypto_open(key, "tenant-7", 8, blob, blen, out, sizeof out, &plen, NULL), 0);
    CHECK(plen == n && memcmp(out, msg, n) == 0);
}

/* ---- encodings, comparison, randomness ---- */

static void test_base64(void)
{
    /* RFC 4648 section 10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char text[64];
    unsigned char bin[64];
    size_t n;
    for (size_t i = 0; i < 7; i++) {
        size_t len = strlen(plain[i]);
        CHECK_INT(eng_crypto_base64_encoded_len(len, 0), strlen(std[i]));
        CHECK_INT(eng_crypto_base64_encoded_len(len, 1), strlen(url[i]));
        CHECK_INT(eng_crypto_base64_encode(plain[i], len, text, sizeof text, &n, NULL), 0);
        CHECK_STR(text, std[i]);
        CHECK_INT(n, strlen(std[i]));
        CHECK_INT(eng_crypto_base64url_encode(plain[i], len, text, sizeof text, &n, NULL), 0);
        CHECK_STR(text, url[i]);
        CHECK_INT(n, strlen(url[i]));

        n = 99;
        CHECK_INT(eng_crypto_base64_decode(std[i], strlen(std[i]), bin, sizeof bin, &n, NULL), 0);
        CHECK(n == len && memcmp(bin, plain[i], len) == 0);
        n = 99; /* base64url accepts both unpadded and padded text */
        CHECK_INT(eng_crypto_base64url_decode(url[i], strlen(url[i]), bin, sizeof bin, &n, NULL),
                  0);
        CHECK(n == len && memcmp(bin, plain[i], len) == 0);
        n = 99;
        CHECK_INT(eng_crypto_base64url_decode(std[i], strlen(std[i]), bin, sizeof bin, &n, NULL),
                  0);
        CHECK(n == len && memcmp(bin, plain[i], len) == 0);
        CHECK(eng_crypto_base64_decoded_maxlen(strlen(url[i])) >= len);
    }

    /* The two alphabets differ only in the last two characters. */
    static const unsigned char hi[] = {0xfb, 0xff, 0xbf};
    CHECK_INT(eng_crypto_base64_encode(hi, 3, text, sizeof text, NULL, NULL), 0);
    CHECK_STR(text, "+/+/");
    CHECK_INT(eng_crypto_base64url_encode(hi, 3, text, sizeof text, NULL, NULL), 0);
    CHECK_STR(text, "-_-_");
    CHECK_INT(eng_crypto_base64url_encode(hi, 2, text, sizeof text, NULL, NULL), 0);
    CHECK_STR(text, "-_8");
    CHECK_INT(eng_crypto_base64_decode("+/+/", 4, bin, sizeof bin, &n, NULL), 0);
    CHECK(n == 3 && memcmp(bin, hi, 3) == 0);
    CHECK_INT(eng_crypto_base64url_decode("-_-_", 4, bin, sizeof bin, &n, NULL), 0);
    CHECK(n == 3 && memcmp(bin, hi, 3) == 0);

    /* Every byte value survives a round trip in both alphabets. */
    unsigned char all[256], back[256];
    char big[400];
    for (int i = 0; i < 256; i++) {
        all[i] = (unsigned char)i;
    }
    CHECK_INT(eng_crypto_base64_encode(all, 256, big, sizeof big, &n, NULL), 0);
    CHECK_INT(eng_crypto_base64_decode(big, n, back, sizeof back, &n, NULL), 0);
    CHECK(n == 256 && memcmp(all, back, 256) == 0);
    CHECK_INT(eng_crypto_base64url_encode(all, 256, big, sizeof big, &n, NULL), 0);
    CHECK(strchr(big, '+') == NULL && strchr(big, '/') == NULL && strchr(big, '=') == NULL);
    CHECK_INT(eng_crypto_base64url_decode(big, n, back, sizeof back, &n, NULL), 0);
    CHECK(n == 256 && memcmp(all, back, 256) == 0);

    /* Rejected by base64 (each one is EINVAL). */
    static const char *const bad_std[] = {
        "Zg",         /* padding is required */
        "Zg=",        /* short padding */
        "Zm9v=",      /* length not a multiple of 4 */
        "Zg===",      /* too much padding */
        "====",       /* only padding */
        "Z===",       /* a lone sextet */
        "Zm=v",       /* '=' inside the text */
        "Zm9v Yg==",  /* a space */
        "Zm9v\nYg==", /* a line break */
        "Zm9-",       /* base64url characters */
        "Zm9_",       /* base64url characters */
        "Zm9\x80",    /* a high byte */
        "Zh==",       /* non-canonical: trailing bits set */
        "Zm9=",       /* non-canonical: trailing bits set */
        "Zm\0v",      /* NUL (length 4 given below; keep it last) */
    };
    for (size_t i = 0; i < sizeof bad_std / sizeof bad_std[0]; i++) {
        size_t len = i == sizeof bad_std / sizeof bad_std[0] - 1 ? 4 : strlen(bad_std[i]);
        struct eng_err err = {0};
        int rc = eng_crypto_base64_decode(bad_std[i], len, bin, sizeof bin, NULL, &err);
        if (rc != ENG_EINVAL || err.code != ENG_EINVAL) {
            fprintf(stderr, "base64 accepted bad input #%zu\n", i);
            CHECK(0);
        }
    }
    /* Rejected by base64url. */
    static const char *const bad_url[] = {"Z",    "Zm9vY",  "Zg=", "Zm8==", "Zg===", "Zm9+",
                                          "Zm9/", "Zm9v\n", "Zh",  "Zm9",   "=",     "Zg=A"};
    for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++) {
        struct eng_err err = {0};
        int rc = eng_crypto_base64url_decode(bad_url[i], strlen(bad_url[i]), bin, sizeof bin, NULL,
                                             &err);
        if (rc != ENG_EINVAL || err.code != ENG_EINVAL) {
            fprintf(stderr, "base64url accepted bad input #%zu (%s)\n", i, bad_url[i]);
            CHECK(0);
        }
    }

    /* Output space: encoders need room for the terminator, decoders for the bytes. */
    CHECK_INT(eng_crypto_base64_encode("foo", 3, text, 4, NULL, NULL), ENG_EINVAL);
    CHECK_INT(eng_crypto_base64_encode("foo", 3, text, 5, NULL, NULL), 0);
    CHECK_INT(eng_crypto_base64url_encode("fo", 2, text, 3, NULL, NULL), ENG_EINVAL);
    CHECK_INT(eng_crypto_base64_decode("Zm9v", 4, bin, 2, NULL, NULL), ENG_EINVAL);
    CHECK_INT(eng_crypto_base64_decode("Zm9v", 4, bin, 3, NULL, NULL), 0);
    CHECK_INT(eng_crypto_base64_encoded_len((size_t)-1, 0), (long long)(size_t)-1);
    CHECK_INT(eng_crypto_base64_decode(NULL, 0, NULL, 0, &n, NULL), 0);
    CHECK_INT(n, 0);
}

static void test_hex(void)
{
    char text[16];
    static const unsigned char b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    CHECK_INT(eng_crypto_hex_encode(b, sizeof b, text, sizeof text, NULL), 0);
    CHECK_STR(text, "00017f80abff");
    CHECK_INT(eng_crypto_hex_encode(NULL, 0, text, 1, NULL), 0);
    CHECK_STR(text, "");
    struct eng_err err = {0};
    CHECK_INT(eng_crypto_hex_encode(b, sizeof b, text, 12, &err), ENG_EINVAL);
    CHECK_INT(err.code, ENG_EINVAL);
    /* Every nibble. */
    unsigned char all[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    char t2[17];
    CHECK_INT(eng_crypto_hex_encode(all, 8, t2, sizeof t2, NULL), 0);
    CHECK_STR(t2, "0123456789abcdef");
}

static void test_equal(void)
{
    CHECK(eng_crypto_equal("abc", 3, "abc", 3) == 1);
    CHECK(eng_crypto_equal("", 0, "", 0) == 1);
    CHECK(eng_crypto_equal(NULL, 0, NULL, 0) == 1);
    CHECK(eng_crypto_equal("abc", 3, "abd", 3) == 0);
    CHECK(eng_crypto_equal("abc", 3, "xbc", 3) == 0);
    CHECK(eng_crypto_equal("abc", 3, "ab", 2) == 0);
    CHECK(eng_crypto_equal("ab", 2, "abc", 3) == 0);
    CHECK(eng_crypto_equal("", 0, "a", 1) == 0);
    CHECK(eng_crypto_equal("a", 1, NULL, 0) == 0);
    /* Every single differing byte value and position is seen. */
    unsigned char x[32], y[32];
    memset(x, 0x5a, sizeof x);
    int seen = 0;
    for (int pos = 0; pos < 32; pos++) {
        for (int d = 1; d < 256; d++) {
            memcpy(y, x, sizeof y);
            y[pos] ^= (unsigned char)d;
            seen += eng_crypto_equal(x, 32, y, 32) == 0;
        }
    }
    CHECK_INT(seen, 32 * 255);
}

static void test_random(void)
{
    unsigned char a[64], b[64];
    static const unsigned char zeros[64];
    CHECK_INT(eng_crypto_random(a, sizeof a, NULL), 0);
    CHECK_INT(eng_crypto_random(b, sizeof b, NULL), 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, zeros, sizeof a) != 0);
    CHECK_INT(eng_crypto_random(NULL, 0, NULL), 0);
    /* A large request loops over getrandom's short reads (it caps one call at 32 MiB - 1). */
    size_t n = (size_t)40 << 20;
    unsigned char *big = malloc(n);
    REQUIRE(big != NULL);
    memset(big, 0, n);
    CHECK_INT(eng_crypto_random(big, n, NULL), 0);
    /* The tail was written: mostly-zero output from a CSPRNG would be astonishing. */
    size_t nonzero = 0;
    for (size_t i = n - 4096; i < n; i++) {
        nonzero += big[i] != 0;
    }
    CHECK(nonzero > 3800);
    free(big);
}

/* ---- webhook signature vectors from the shared fixtures ---- */

static void test_webhook_woocommerce(void)
{
    char path[4096], body_path[4096];
    snprintf(path, sizeof path, "%s/woocommerce/webhook-signature-vectors.json", fixtures_dir());
    char *json = read_file(path, NULL);
    if (json == NULL) {
        fprintf(stderr, "cannot read %s (set FIXTURES_DIR)\n", path);
    }
    REQUIRE(json != NULL);
    int verified = 0, unsigned_seen = 0;
    const char *end = NULL;
    for (const char *v = next_vector(json, &end); v != NULL; v = next_vector(end, &end)) {
        size_t klen = 0, blen = 0, slen = 0;
        char *secret = json_string_member(v, end, "secret", &klen);
        char *sig = json_string_member(v, end, "x_wc_webhook_signature", &slen);
        char *body = json_string_member(v, end, "body", &blen);
        char *body_file = json_string_member(v, end, "body_file", NULL);
        char *want_sha = json_string_member(v, end, "body_sha256_hex", NULL);
        if (body == NULL && body_file != NULL) {
            snprintf(body_path, sizeof body_path, "%s/woocommerce/%s", fixtures_dir(), body_file);
            body = read_file(body_path, &blen);
            CHECK(body != NULL);
        }
        if (sig == NULL) {
            unsigned_seen++; /* the ping: no signature to check */
        } else if (secret != NULL && body != NULL) {
            if (want_sha != NULL) {
                unsigned char d[32];
                CHECK_INT(eng_crypto_sha256(body, blen, d, NULL), 0);
                CHECK_STR(tohex(d, 32), want_sha);
            }
            char got[64];
            CHECK_INT(sign_b64(secret, klen, body, blen, got, sizeof got), 0);
            CHECK_STR(got, sig);
            CHECK(eng_crypto_equal(got, strlen(got), sig, slen));
            /* One changed body byte must not verify. */
            body[blen / 2] ^= 0x01;
            CHECK_INT(sign_b64(secret, klen, body, blen, got, sizeof got), 0);
            CHECK(!eng_crypto_equal(got, strlen(got), sig, slen));
            verified++;
        }
        free(secret);
        free(sig);
        free(body);
        free(body_file);
        free(want_sha);
    }
    free(json);
    CHECK_INT(verified, 2);
    CHECK_INT(unsigned_seen, 1);
}

static void test_webhook_quickbooks(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/quickbooks/webhook-signature-vectors.json", fixtures_dir());
    char *json = read_file(path, NULL);
    if (json == NULL) {
        fprintf(stderr, "cannot read %s (set FIXTURES_DIR)\n", path);
    }
    REQUIRE(json != NULL);
    int verified = 0;
    const char *end = NULL;
    for (const char *v = next_vector(json, &end); v != NULL; v = next_vector(end, &end)) {
        size_t klen = 0, blen = 0, slen = 0;
        char *token = json_string_member(v, end, "verifier_token", &klen);
        char *body = json_string_member(v, end, "body", &blen);
        char *sig = json_string_member(v, end, "intuit_signature", &slen);
        CHECK(token != NULL && body != NULL && sig != NULL);
        if (token != NULL && body != NULL && sig != NULL) {
            char got[64];
            CHECK_INT(sign_b64(token, klen, body, blen, got, sizeof got), 0);
            CHECK_STR(got, sig);
            /* The header decodes to the raw MAC too. */
            unsigned char mac[32], raw[64];
            size_t rawlen = 0;
            CHECK_INT(eng_crypto_hmac_sha256(token, klen, body, blen, mac, NULL), 0);
            CHECK_INT(eng_crypto_base64_decode(sig, slen, raw, sizeof raw, &rawlen, NULL), 0);
            CHECK(eng_crypto_equal(mac, 32, raw, rawlen));
            /* The wrong token must not verify. */
            token[0] ^= 0x01;
            CHECK_INT(sign_b64(token, klen, body, blen, got, sizeof got), 0);
            CHECK(!eng_crypto_equal(got, strlen(got), sig, slen));
            verified++;
        }
        free(token);
        free(body);
        free(sig);
    }
    free(json);
    CHECK_INT(verified, 2);
}

CHECK_MAIN(CHECK_CASE(test_sha256_fips180), CHECK_CASE(test_hmac_rfc4231),
           CHECK_CASE(test_gcm_spec_vectors), CHECK_CASE(test_seal_open_roundtrip),
           CHECK_CASE(test_seal_tamper), CHECK_CASE(test_base64), CHECK_CASE(test_hex),
           CHECK_CASE(test_equal), CHECK_CASE(test_random), CHECK_CASE(test_webhook_woocommerce),
           CHECK_CASE(test_webhook_quickbooks))

/*
 * crypto.c - the engine's only mbedTLS (2.28) user: SHA-256, HMAC-SHA256, AES-256-GCM, plus
 * getrandom(2), constant-time comparison and the base64/hex codecs.
 * Owns: no memory and no global state; mbedTLS contexts live on the stack and are freed (which
 * zeroizes them) before returning. Must not: leave key material or plaintext in temporaries,
 * or put either into an error message.
 */
#include "adapt/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

/* mbedTLS reads from its pointers even for zero lengths in a few places; never give it NULL. */
static const unsigned char empty_input[1];

static const unsigned char *nonnull(const void *p)
{
    return p != NULL ? (const unsigned char *)p : empty_input;
}

void eng_crypto_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        mbedtls_platform_zeroize(p, len);
    }
}

/* ---- digests ---- */

int eng_crypto_sha256(const void *data, size_t len, unsigned char out[ENG_CRYPTO_SHA256_LEN],
                      struct eng_err *err)
{
    int rc = mbedtls_sha256_ret(nonnull(data), len, out, 0);
    if (rc != 0) {
        return eng_err_set(err, ENG_EIO, "SHA-256 failed inside mbedTLS (error -0x%04x).",
                           (unsigned)-rc);
    }
    return 0;
}

int eng_crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                           unsigned char out[ENG_CRYPTO_SHA256_LEN], struct eng_err *err)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (md == NULL) {
        return eng_err_set(err, ENG_EIO, "mbedTLS was built without SHA-256.");
    }
    /* One-shot: mbedTLS allocates its HMAC context, then zeroizes and frees it. */
    int rc = mbedtls_md_hmac(md, nonnull(key), keylen, nonnull(msg), msglen, out);
    if (rc == MBEDTLS_ERR_MD_ALLOC_FAILED) {
        return eng_err_set(err, ENG_ENOMEM, "Out of memory computing HMAC-SHA256.");
    }
    if (rc != 0) {
        return eng_err_set(err, ENG_EIO, "HMAC-SHA256 failed inside mbedTLS (error -0x%04x).",
                           (unsigned)-rc);
    }
    return 0;
}

/* ---- randomness and comparison ---- */

int eng_crypto_random(void *buf, size_t len, struct eng_err *err)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            eng_crypto_wipe(buf, done);
            return eng_err_set(err, ENG_EIO, "The kernel refused random bytes (getrandom: %s).",
                               strerror(e));
        }
        done += (size_t)n; /* short reads (large requests, signals) simply loop */
    }
    return 0;
}

int eng_crypto_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *x = a;
    /* On a length mismatch compare a with itself: same work, and the answer is already 0. */
    const volatile unsigned char *y = alen == blen ? (const unsigned char *)b : x;
    unsigned diff = alen != blen;
    for (size_t i = 0; i < alen; i++) {
        diff |= (unsigned)(x[i] ^ y[i]);
    }
    /* diff is 0 or in 1..255: map to 1/0 without a data-dependent branch. */
    return (int)(1U & ((diff - 1U) >> 8));
}

/* ---- constant-time character helpers (no table lookups, no data-dependent branches) ---- */

/* 0xFF when lo <= x <= hi, else 0; x, lo, hi < 256. An out-of-range difference wraps around and
 * sets bit 8, an in-range one is below 256. */
static unsigned ct_in(unsigned x, unsigned lo, unsigned hi)
{
    return (((((x - lo) | (hi - x)) >> 8) & 1U) - 1U) & 0xFFU;
}

/* The character for a 6-bit value; c62/c63 are the alphabet's last two characters. */
static char b64_char(unsigned v, unsigned c62, unsigned c63)
{
    unsigned c = (ct_in(v, 0, 25) & (v + 'A')) | (ct_in(v, 26, 51) & (v - 26 + 'a')) |
                 (ct_in(v, 52, 61) & (v - 52 + '0')) | (ct_in(v, 62, 62) & c62) |
                 (ct_in(v, 63, 63) & c63);
    return (char)c;
}

/* The 6-bit value of character c, or a value with bit 8 set when c is not in the alphabet. */
static unsigned b64_value(unsigned c, unsigned c62, unsigned c63)
{
    unsigned up = ct_in(c, 'A', 'Z'), lo = ct_in(c, 'a', 'z'), dig = ct_in(c, '0', '9');
    unsigned s62 = ct_in(c, c62, c62), s63 = ct_in(c, c63, c63);
    unsigned v =
        (up & (c - 'A')) | (lo & (c - 'a' + 26)) | (dig & (c - '0' + 52)) | (s62 & 62) | (s63 & 63);
    return v | ((~(up | lo | dig | s62 | s63) & 0xFFU) << 8);
}

static char hex_char(unsigned v)
{
    return (char)((ct_in(v, 0, 9) & (v + '0')) | (ct_in(v, 10, 15) & (v - 10 + 'a')));
}

/* ---- base64 / base64url (RFC 4648 sections 4 and 5) ---- */

size_t eng_crypto_base64_encoded_len(size_t n, int url)
{
    if (n / 3 > (SIZE_MAX - 4) / 4) {
        return SIZE_MAX;
    }
    size_t full = n / 3 * 4;
    size_t rest = n % 3;
    if (rest == 0) {
        return full;
    }
    return full + (url ? rest + 1 : 4);
}

size_t eng_crypto_base64_decoded_maxlen(size_t n)
{
    return n / 4 * 3 + 3;
}

static int b64_encode(const void *src, size_t len, char *dst, size_t dstcap, size_t *outlen,
                      int url, struct eng_err *err)
{
    size_t need = eng_crypto_base64_encoded_len(len, url);
    if (need == SIZE_MAX || dstcap < need + 1) {
        return eng_err_set(err, ENG_EINVAL, "The output buffer is too small for %s of %zu bytes.",
                           url ? "base64url" : "base64", len);
    }
    unsigned c62 = url ? '-' : '+', c63 = url ? '_' : '/';
    const unsigned char *s = nonnull(src);
    char *d = dst;
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        unsigned w = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *d++ = b64_char(w >> 18, c62, c63);
        *d++ = b64_char((w >> 12) & 0x3F, c62, c63);
        *d++ = b64_char((w >> 6) & 0x3F, c62, c63);
        *d++ = b64_char(w & 0x3F, c62, c63);
    }
    if (len - i > 0) {
        int two = len - i == 2;
        unsigned w = (unsigned)s[i] << 16 | (two ? (unsigned)s[i + 1] << 8 : 0U);
        *d++ = b64_char(w >> 18, c62, c63);
        *d++ = b64_char((w >> 12) & 0x3F, c62, c63);
        if (two) {
            *d++ = b64_char((w >> 6) & 0x3F, c62, c63);
        }
        if (!url) {
            if (!two) {
                *d++ = '=';
            }
            *d++ = '=';
        }
    }
    *d = '\0';
    if (outlen != NULL) {
        *outlen = (size_t)(d - dst);
    }
    return 0;
}

int eng_crypto_base64_encode(const void *src, size_t len, char *dst, size_t dstcap, size_t *outlen,
                             struct eng_err *err)
{
    return b64_encode(src, len, dst, dstcap, outlen, 0, err);
}

int eng_crypto_base64url_encode(const void *src, size_t len, char *dst, size_t dstcap,
                                size_t *outlen, struct eng_err *err)
{
    return b64_encode(src, len, dst, dstcap, outlen, 1, err);
}

static int b64_decode(const char *src, size_t len, void *dst, size_t dstcap, size_t *outlen,
                      int url, struct eng_err *err)
{
    const char *what = url ? "base64url" : "base64";
    const unsigned char *s = nonnull(src);
    size_t pad = 0;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=') {
        pad++;
    }
    size_t body = len - pad; /* characters carrying data; a stray '=' in them is invalid */
    size_t tail = body % 4;
    if ((!url && len % 4 != 0) || tail == 1 || (pad > 0 && tail + pad != 4)) {
        return eng_err_set(err, ENG_EINVAL, "The %s text has an invalid length or padding.", what);
    }
    size_t n = body / 4 * 3 + (tail == 0 ? 0 : tail - 1);
    if (dstcap < n) {
        return eng_err_set(err, ENG_EINVAL, "The output buffer is too small for %zu bytes.", n);
    }
    unsigned c62 = url ? '-' : '+', c63 = url ? '_' : '/';
    unsigned char *d = dst;
    unsigned bad = 0;
    size_t i = 0, o = 0;
    for (; body - i >= 4; i += 4) {
        unsigned a = b64_value(s[i], c62, c63), b = b64_value(s[i + 1], c62, c63);
        unsigned c = b64_value(s[i + 2], c62, c63), e = b64_value(s[i + 3], c62, c63);
        bad |= a | b | c | e;
        unsigned w = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6 | (e & 0x3F);
        d[o++] = (unsigned char)(w >> 16);
        d[o++] = (unsigned char)(w >> 8);
        d[o++] = (unsigned char)w;
    }
    if (tail > 0) {
        unsigned a = b64_value(s[i], c62, c63), b = b64_value(s[i + 1], c62, c63);
        unsigned c = tail == 3 ? b64_value(s[i + 2], c62, c63) : 0;
        bad |= a | b | c;
        unsigned w = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6;
        d[o++] = (unsigned char)(w >> 16);
        if (tail == 3) {
            d[o++] = (unsigned char)(w >> 8);
        }
        /* Canonical form: the bits after the last whole byte must be zero. */
        bad |= (tail == 3 ? (w >> 6) & 0x3U : (w >> 12) & 0xFU) << 6;
    }
    if ((bad & ~0x3FU) != 0) {
        eng_crypto_wipe(dst, n);
        return eng_err_set(err, ENG_EINVAL,
                           "The %s text has an invalid character or non-zero trailing bits.", what);
    }
    if (outlen != NULL) {
        *outlen = n;
    }
    return 0;
}

int eng_crypto_base64_decode(const char *src, size_t len, void *dst, size_t dstcap, size_t *outlen,
                             struct eng_err *err)
{
    return b64_decode(src, len, dst, dstcap, outlen, 0, err);
}

int eng_crypto_base64url_decode(const char *src, size_t len, void *dst, size_t dstcap,
                                size_t *outlen, struct eng_err *err)
{
    return b64_decode(src, len, dst, dstcap, outlen, 1, err);
}

int eng_crypto_hex_encode(const void *src, size_t len, char *dst, size_t dstcap,
                          struct eng_err *err)
{
    if (len > (SIZE_MAX - 1) / 2 || dstcap < 2 * len + 1) {
        return eng_err_set(err, ENG_EINVAL, "The output buffer is too small for hex of %zu bytes.",
                           len);
    }
    const unsigned char *s = nonnull(src);
    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = hex_char(s[i] >> 4);
        dst[2 * i + 1] = hex_char(s[i] & 0x0FU);
    }
    dst[2 * len] = '\0';
    return 0;
}

/* ---- AES-256-GCM ---- */

static int gcm_fail(struct eng_err *err, int rc)
{
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
        return eng_err_set(err, ENG_EAUTH, "authentication failed");
    }
    if (rc == MBEDTLS_ERR_GCM_BAD_INPUT) {
        return eng_err_set(err, ENG_EINVAL,
                           "AES-256-GCM rejected the input lengths (empty IV or data too long).");
    }
    return eng_err_set(err, ENG_EIO, "AES-256-GCM failed inside mbedTLS (error -0x%04x).",
                       (unsigned)-rc);
}

int eng_crypto_aes256gcm_encrypt(const unsigned char key[ENG_CRYPTO_KEY_LEN],
                                 const unsigned char *iv, size_t ivlen, const void *aad,
                                 size_t aadlen, const void *pt, size_t ptlen, unsigned char *ct,
                                 unsigned char tag[ENG_CRYPTO_TAG_LEN], struct eng_err *err)
{
    if (ivlen == 0) {
        return gcm_fail(err, MBEDTLS_ERR_GCM_BAD_INPUT);
    }
    mbedtls_gcm_context ctx;
    mbedtls_gcm_init(&ctx);
    int rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 8 * ENG_CRYPTO_KEY_LEN);
    if (rc == 0) {
        rc = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, ptlen, iv, ivlen, nonnull(aad),
                                       aadlen, nonnull(pt), ct, ENG_CRYPTO_TAG_LEN, tag);
    }
    mbedtls_gcm_free(&ctx); /* zeroizes the key schedule */
    return rc != 0 ? gcm_fail(err, rc) : 0;
}

int eng_crypto_aes256gcm_decrypt(const unsigned char key[ENG_CRYPTO_KEY_LEN],
                                 const unsigned char *iv, size_t ivlen, const void *aad,
                                 size_t aadlen, const void *ct, size_t ctlen,
                                 const unsigned char tag[ENG_CRYPTO_TAG_LEN], unsigned char *pt,
                                 struct eng_err *err)
{
    if (ivlen == 0) {
        return gcm_fail(err, MBEDTLS_ERR_GCM_BAD_INPUT);
    }
    mbedtls_gcm_context ctx;
    mbedtls_gcm_init(&ctx);
    int rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 8 * ENG_CRYPTO_KEY_LEN);
    if (rc == 0) {
        rc = mbedtls_gcm_auth_decrypt(&ctx, ctlen, iv, ivlen, nonnull(aad), aadlen, tag,
                                      ENG_CRYPTO_TAG_LEN, nonnull(ct), pt);
    }
    mbedtls_gcm_free(&ctx);
    if (rc != 0) {
        eng_crypto_wipe(pt, ctlen); /* never hand out unauthenticated plaintext */
        return gcm_fail(err, rc);
    }
    return 0;
}

/* ---- seal / open ---- */

int eng_crypto_seal(const unsigned char key[ENG_CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                    const void *pt, size_t ptlen, unsigned char *out, size_t outcap, size_t *outlen,
                    struct eng_err *err)
{
    if (ptlen > SIZE_MAX - ENG_CRYPTO_SEAL_OVERHEAD || outcap < ptlen + ENG_CRYPTO_SEAL_OVERHEAD) {
        return eng_err_set(err, ENG_EINVAL, "The output buffer is too small to seal %zu bytes.",
                           ptlen);
    }
    unsigned char *nonce = out;
    unsigned char *ct = out + ENG_CRYPTO_NONCE_LEN;
    unsigned char *tag = ct + ptlen;
    int rc = eng_crypto_random(nonce, ENG_CRYPTO_NONCE_LEN, err);
    if (rc == 0) {
        rc = eng_crypto_aes256gcm_encrypt(key, nonce, ENG_CRYPTO_NONCE_LEN, aad, aadlen, pt, ptlen,
                                          ct, tag, err);
    }
    if (rc != 0) {
        eng_crypto_wipe(out, ptlen + ENG_CRYPTO_SEAL_OVERHEAD);
        return rc;
    }
    if (outlen != NULL) {
        *outlen = ptlen + ENG_CRYPTO_SEAL_OVERHEAD;
    }
    return 0;
}

int eng_crypto_open(const unsigned char key[ENG_CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                    const void *blob, size_t bloblen, unsigned char *out, size_t outcap,
                    size_t *outlen, struct eng_err *err)
{
    if (bloblen < ENG_CRYPTO_SEAL_OVERHEAD) {
        return eng_err_set(err, ENG_EAUTH, "authentication failed");
    }
    size_t n = bloblen - ENG_CRYPTO_SEAL_OVERHEAD;
    if (outcap < n) {
        return eng_err_set(err, ENG_EINVAL, "The output buffer is too small to open %zu bytes.", n);
    }
    const unsigned char *b = blob;
    int rc = eng_crypto_aes256gcm_decrypt(key, b, ENG_CRYPTO_NONCE_LEN, aad, aadlen,
                                          b + ENG_CRYPTO_NONCE_LEN, n, b + ENG_CRYPTO_NONCE_LEN + n,
                                          out, err);
    if (rc != 0) {
        return rc;
    }
    if (outlen != NULL) {
        *outlen = n;
    }
    return 0;
}

void eng_crypto_lib_version(char *buf, size_t size)
{
    char v[18]; /* mbedtls_version_get_string writes at most 9 bytes, _full at most 18 */
    mbedtls_version_get_string(v);
    snprintf(buf, size, "mbed TLS %s", v);
}

/*
 * crypto.h - hashing, MACs, randomness, encodings and sealed secrets for the engine.
 * Owns: nothing. No function here returns memory to free: every output is written into memory
 * the caller provides and keeps owning, sized with the ENG_CRYPTO_* constants and the *_len
 * helpers below (only HMAC allocates, internally, and frees before returning).
 * Must not: put key material or plaintext into error messages. crypto.c is the only file that
 * includes an mbedTLS (2.28) header. All functions are thread-safe (no shared state).
 */
#ifndef ENG_CRYPTO_H
#define ENG_CRYPTO_H

#include <stddef.h>

#include "base/err.h"

#define ENG_CRYPTO_SHA256_LEN     32 /* SHA-256 and HMAC-SHA256 digest */
#define ENG_CRYPTO_KEY_LEN        32 /* AES-256 key */
#define ENG_CRYPTO_NONCE_LEN      12 /* GCM nonce used by seal */
#define ENG_CRYPTO_TAG_LEN        16 /* GCM tag (always full length) */
#define ENG_CRYPTO_SEAL_OVERHEAD  (ENG_CRYPTO_NONCE_LEN + ENG_CRYPTO_TAG_LEN)
#define ENG_CRYPTO_RANDOM_MAX_LUA 65536 /* largest engine.crypto.random_bytes(n) */

/* ---- digests ---- */

/* out = SHA-256(data). data may be NULL when len is 0. */
int eng_crypto_sha256(const void *data, size_t len, unsigned char out[ENG_CRYPTO_SHA256_LEN],
                      struct eng_err *err);
/* out = HMAC-SHA256(key, msg) (RFC 2104). key/msg may be NULL when their length is 0.
 * ENG_ENOMEM if mbedTLS cannot allocate its HMAC context. */
int eng_crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                           unsigned char out[ENG_CRYPTO_SHA256_LEN], struct eng_err *err);

/* ---- randomness and comparison ---- */

/* Fill buf with len bytes from the kernel CSPRNG (getrandom(2); retries EINTR and short reads,
 * blocks only until the pool is first initialised). ENG_EIO when the kernel refuses. */
int eng_crypto_random(void *buf, size_t len, struct eng_err *err);

/* 1 when a[0..alen) equals b[0..blen), else 0. Time depends only on alen: contents never cause
 * an early exit, and a length mismatch still scans alen bytes before answering 0. */
int eng_crypto_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Overwrite len bytes at p with zeros in a way the compiler cannot drop. NULL/0 is fine. */
void eng_crypto_wipe(void *p, size_t len);
/* The mbed TLS the process runs on, e.g. "mbed TLS 2.28.3", into buf. */
void eng_crypto_lib_version(char *buf, size_t size);

/* ---- encodings (constant-time per character: safe for key material) ---- */

/* Characters (no terminator) base64 of n bytes needs: padded when url == 0, unpadded base64url
 * (RFC 4648 section 5) when url != 0. SIZE_MAX when the answer does not fit a size_t. */
size_t eng_crypto_base64_encoded_len(size_t n, int url);
/* An upper bound of the bytes decoding n characters can produce (either alphabet). */
size_t eng_crypto_base64_decoded_maxlen(size_t n);

/* Encode src into dst as text and NUL-terminate it; dstcap must be at least
 * eng_crypto_base64_encoded_len(len, url) + 1, else ENG_EINVAL. *outlen (optional) gets the
 * text length without the terminator. base64 pads with '='; base64url never pads. */
int eng_crypto_base64_encode(const void *src, size_t len, char *dst, size_t dstcap, size_t *outlen,
                             struct eng_err *err);
int eng_crypto_base64url_encode(const void *src, size_t len, char *dst, size_t dstcap,
                                size_t *outlen, struct eng_err *err);

/* Decode text into dst (binary, no terminator); *outlen (optional) gets the byte count.
 * base64: the length must be a multiple of 4 with 0-2 '=' at the end only.
 * base64url: '-' and '_' instead of '+' and '/'; padding optional but, if present, correct.
 * Both: no whitespace, only canonical encodings (unused trailing bits must be zero).
 * ENG_EINVAL on any invalid input (dst then holds nothing useful) or when dstcap is smaller than
 * the decoded size (eng_crypto_base64_decoded_maxlen(len) is always enough). */
int eng_crypto_base64_decode(const char *src, size_t len, void *dst, size_t dstcap, size_t *outlen,
                             struct eng_err *err);
int eng_crypto_base64url_decode(const char *src, size_t len, void *dst, size_t dstcap,
                                size_t *outlen, struct eng_err *err);

/* Lowercase hex of src into dst, NUL-terminated; dstcap must be at least 2 * len + 1 (ENG_EINVAL
 * otherwise, or when 2 * len + 1 overflows). */
int eng_crypto_hex_encode(const void *src, size_t len, char *dst, size_t dstcap,
                          struct eng_err *err);

/* ---- AES-256-GCM, low level: the caller picks the IV (test vectors, interop) ---- */

/* ct[0..ptlen) and tag = AES-256-GCM(key, iv, aad, pt). ivlen >= 1 (12 is the norm; an IV must
 * never repeat under one key). ct may be pt (in place); otherwise they must not overlap.
 * ENG_EINVAL for a bad length (empty IV, plaintext over the GCM limit of 2^36 - 32 bytes). */
int eng_crypto_aes256gcm_encrypt(const unsigned char key[ENG_CRYPTO_KEY_LEN],
                                 const unsigned char *iv, size_t ivlen, const void *aad,
                                 size_t aadlen, const void *pt, size_t ptlen, unsigned char *ct,
                                 unsigned char tag[ENG_CRYPTO_TAG_LEN], struct eng_err *err);
/* pt[0..ctlen) = plaintext after the tag verified. ENG_EAUTH ("authentication failed") when it
 * does not, and pt is then zeroed. pt and ct must not overlap. */
int eng_crypto_aes256gcm_decrypt(const unsigned char key[ENG_CRYPTO_KEY_LEN],
                                 const unsigned char *iv, size_t ivlen, const void *aad,
                                 size_t aadlen, const void *ct, size_t ctlen,
                                 const unsigned char tag[ENG_CRYPTO_TAG_LEN], unsigned char *pt,
                                 struct eng_err *err);

/* ---- sealed secrets: nonce(12, fresh random) || ciphertext || tag(16) ---- */

/* out = seal of pt under key, bound to aad (which is not stored: open needs the same aad).
 * outcap must be at least ptlen + ENG_CRYPTO_SEAL_OVERHEAD (ENG_EINVAL otherwise); *outlen
 * (optional) gets exactly that. Random 96-bit nonces: keep well under 2^32 seals per key.
 * out and pt must not overlap. ENG_EIO if the CSPRNG fails (out is then zeroed). */
int eng_crypto_seal(const unsigned char key[ENG_CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                    const void *pt, size_t ptlen, unsigned char *out, size_t outcap, size_t *outlen,
                    struct eng_err *err);
/* out = plaintext of a sealed blob; outcap must be at least bloblen - ENG_CRYPTO_SEAL_OVERHEAD
 * (ENG_EINVAL otherwise) and *outlen (optional) gets exactly that. ENG_EAUTH for a blob too
 * short to be sealed, or any change to nonce, ciphertext, tag, aad or key; out is then zeroed.
 * out and blob must not overlap. */
int eng_crypto_open(const unsigned char key[ENG_CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                    const void *blob, size_t bloblen, unsigned char *out, size_t outcap,
                    size_t *outlen, struct eng_err *err);

#endif

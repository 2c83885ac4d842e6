/*
 * lmod_crypto.c - engine.crypto: digests, MACs, random bytes, encodings and sealed secrets for
 * scripts, over crypto.h (this file never includes mbedTLS).
 * Owns: nothing across calls. Output space is a luaL_Buffer or a local array, so no C-heap memory
 * is ever held while something can raise. Arguments are checked before any work.
 * Must not: put key material or plaintext into error messages.
 */
#include "lua/lmods.h"

#include <lauxlib.h>
#include <lua.h>

#include "adapt/crypto.h"

/* Push the world-failure triple: nil, message, code name. [-0, +3, m] */
static int push_fail(lua_State *L, const struct eng_err *err)
{
    luaL_pushfail(L);
    lua_pushstring(L, err->msg);
    lua_pushstring(L, eng_err_name(err->code));
    return 3;
}

/* Push a digest and wipe the C copy. [-0, +1, m] */
static int push_digest(lua_State *L, unsigned char d[ENG_CRYPTO_SHA256_LEN])
{
    lua_pushlstring(L, (const char *)d, ENG_CRYPTO_SHA256_LEN);
    eng_crypto_wipe(d, ENG_CRYPTO_SHA256_LEN);
    return 1;
}

/* The key argument of seal/open: a string of exactly 32 bytes. [-0, +0, v] */
static const unsigned char *check_key(lua_State *L, int arg)
{
    size_t len;
    const char *key = luaL_checklstring(L, arg, &len);
    if (len != ENG_CRYPTO_KEY_LEN) {
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "key must be %d bytes, got %I", ENG_CRYPTO_KEY_LEN,
                                      (lua_Integer)len));
    }
    return (const unsigned char *)key;
}

/* crypto.sha256(s) -> digest (32 raw bytes) | nil, message, code   [-0, +1|3, v] */
static int l_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    struct eng_err err;
    if (eng_crypto_sha256(s, len, d, &err) != 0) {
        return push_fail(L, &err);
    }
    return push_digest(L, d);
}

/* crypto.hmac_sha256(key, msg) -> mac (32 raw bytes) | nil, message, code   [-0, +1|3, v] */
static int l_hmac_sha256(lua_State *L)
{
    size_t klen, mlen;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *msg = luaL_checklstring(L, 2, &mlen);
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    struct eng_err err;
    if (eng_crypto_hmac_sha256(key, klen, msg, mlen, d, &err) != 0) {
        return push_fail(L, &err);
    }
    return push_digest(L, d);
}

/* crypto.hex(s) -> lowercase hex string (never fails)   [-0, +1, v] */
static int l_hex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len <= (((size_t)-1) - 1) / 2, 1, "string too long");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, 2 * len + 1);
    (void)eng_crypto_hex_encode(s, len, out, 2 * len + 1, NULL); /* sized above: cannot fail */
    luaL_pushresultsize(&b, 2 * len);
    return 1;
}

/* Shared body of base64_encode / base64url_encode. [-0, +1, v] */
static int encode64(lua_State *L, int url)
{
    size_t len, olen;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t need = eng_crypto_base64_encoded_len(len, url);
    luaL_argcheck(L, need != (size_t)-1, 1, "string too long");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, need + 1);
    if (url) {
        (void)eng_crypto_base64url_encode(s, len, out, need + 1, &olen, NULL);
    } else {
        (void)eng_crypto_base64_encode(s, len, out, need + 1, &olen, NULL);
    }
    luaL_pushresultsize(&b, olen);
    return 1;
}

/* Shared body of base64_decode / base64url_decode. [-0, +1|3, v] */
static int decode64(lua_State *L, int url)
{
    size_t len, olen = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t cap = eng_crypto_base64_decoded_maxlen(len);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, cap);
    struct eng_err err;
    int rc = url ? eng_crypto_base64url_decode(s, len, out, cap, &olen, &err)
                 : eng_crypto_base64_decode(s, len, out, cap, &olen, &err);
    if (rc != 0) {
        return push_fail(L, &err); /* the unfinished buffer below the results is collected */
    }
    luaL_pushresultsize(&b, olen);
    return 1;
}

/* crypto.base64_encode(s) -> padded base64 text (never fails)   [-0, +1, v] */
static int l_base64_encode(lua_State *L)
{
    return encode64(L, 0);
}

/* crypto.base64url_encode(s) -> unpadded base64url text (never fails)   [-0, +1, v] */
static int l_base64url_encode(lua_State *L)
{
    return encode64(L, 1);
}

/* crypto.base64_decode(text) -> bytes | nil, message, "EINVAL"
 * (padding required; any invalid character, length or non-canonical ending fails)
 * [-0, +1|3, v] */
static int l_base64_decode(lua_State *L)
{
    return decode64(L, 0);
}

/* crypto.base64url_decode(text) -> bytes | nil, message, "EINVAL"   (padding optional)
 * [-0, +1|3, v] */
static int l_base64url_decode(lua_State *L)
{
    return decode64(L, 1);
}

/* crypto.random_bytes(n) -> n bytes from the kernel CSPRNG | nil, message, "EIO"
 * n must be an integer in 1..65536.   [-0, +1|3, v] */
static int l_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= ENG_CRYPTO_RANDOM_MAX_LUA, 1, "must be in 1..65536");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, (size_t)n);
    struct eng_err err;
    if (eng_crypto_random(out, (size_t)n, &err) != 0) {
        return push_fail(L, &err);
    }
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* crypto.equal(a, b) -> boolean; time depends on #a only, never on where they differ
 * [-0, +1, v] */
static int l_equal(lua_State *L)
{
    size_t alen, blen;
    const char *a = luaL_checklstring(L, 1, &alen);
    const char *b = luaL_checklstring(L, 2, &blen);
    lua_pushboolean(L, eng_crypto_equal(a, alen, b, blen));
    return 1;
}

/* crypto.seal(key, plaintext [, aad]) -> blob = nonce(12) .. ciphertext .. tag(16)
 *   | nil, message, "EIO" (CSPRNG failure)
 * key: exactly 32 raw bytes (else an argument error); aad: bound to the blob, not stored.
 * [-0, +1|3, v] */
static int l_seal(lua_State *L)
{
    const unsigned char *key = check_key(L, 1);
    size_t ptlen, aadlen;
    const char *pt = luaL_checklstring(L, 2, &ptlen);
    const char *aad = luaL_optlstring(L, 3, "", &aadlen);
    luaL_argcheck(L, ptlen <= ((size_t)-1) - ENG_CRYPTO_SEAL_OVERHEAD, 2, "string too long");
    size_t cap = ptlen + ENG_CRYPTO_SEAL_OVERHEAD, olen = 0;
    luaL_Buffer b;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, cap);
    struct eng_err err;
    if (eng_crypto_seal(key, aad, aadlen, pt, ptlen, out, cap, &olen, &err) != 0) {
        return push_fail(L, &err);
    }
    luaL_pushresultsize(&b, olen);
    return 1;
}

/* crypto.open(key, blob [, aad]) -> plaintext | nil, "authentication failed", "EAUTH"
 * (wrong key or aad, truncated or altered blob). key: exactly 32 raw bytes (else an argument
 * error).   [-0, +1|3, v] */
static int l_open(lua_State *L)
{
    const unsigned char *key = check_key(L, 1);
    size_t bloblen, aadlen;
    const char *blob = luaL_checklstring(L, 2, &bloblen);
    const char *aad = luaL_optlstring(L, 3, "", &aadlen);
    size_t cap = bloblen > ENG_CRYPTO_SEAL_OVERHEAD ? bloblen - ENG_CRYPTO_SEAL_OVERHEAD : 0;
    size_t olen = 0;
    /* Scratch as a userdata (not a luaL_Buffer) so the plaintext copy can be wiped here. */
    unsigned char *out = lua_newuserdatauv(L, cap > 0 ? cap : 1, 0);
    struct eng_err err;
    if (eng_crypto_open(key, aad, aadlen, blob, bloblen, out, cap, &olen, &err) != 0) {
        lua_pop(L, 1); /* out was zeroed: no unauthenticated plaintext survives */
        return push_fail(L, &err);
    }
    lua_pushlstring(L, (const char *)out, olen);
    eng_crypto_wipe(out, olen);
    lua_remove(L, -2);
    return 1;
}

static const luaL_Reg crypto_funcs[] = {
    {"sha256", l_sha256},
    {"hmac_sha256", l_hmac_sha256},
    {"hex", l_hex},
    {"base64_encode", l_base64_encode},
    {"base64_decode", l_base64_decode},
    {"base64url_encode", l_base64url_encode},
    {"base64url_decode", l_base64url_decode},
    {"random_bytes", l_random_bytes},
    {"equal", l_equal},
    {"seal", l_seal},
    {"open", l_open},
    {NULL, NULL},
};

/* require "engine.crypto" -> the module table   [-0, +1, m] */
int luaopen_engine_crypto(lua_State *L)
{
    luaL_newlib(L, crypto_funcs);
    return 1;
}

/*
 * webhook_tenant.c - which tenant a WooCommerce delivery belongs to, decided by whose webhook
 * secret signs it. A tenant's secret is the optional webhook_secret field sealed in the vault;
 * opening it costs an AES-GCM decryption, so opened secrets are cached in memory per tenant and
 * keyed by the row's ciphertext: any change to the row (new credentials, rotation) re-seals it
 * with a fresh nonce, so a stale entry can never match.
 * Which rows are candidates (tenant, fingerprint of the sealed row) is remembered per lookup for
 * WH_FOUND_TTL_MS and until this process writes a credential (eng_vault_generation): reading
 * them on every delivery was a quarter of the HTTP threads' time under load (issue 14). A change
 * made through this engine is seen by the next delivery; one made by another process (the CLI,
 * another node) within WH_FOUND_TTL_MS. When a lookup must read, it reads on a small pool of
 * connections of its own with the two lookups prepared once (parsing them per request was a
 * fifth of the engine's CPU); more deliveries at once than the pool holds read on the caller's
 * connection.
 * Owns: the cache and its copies of secrets (wiped when replaced or freed), the pool's
 * connections and statements. Must not: log, return or store a secret; hold the cache lock
 * while hashing a body or reading the store.
 */
#include "flow/webhook_tenant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapt/crypto.h"
#include "base/clock.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/vault.h"
#include "webhook/webhook.h"
#include "webhook/webhook_json.h"

#define WH_CACHE_SLOTS 256
#define WH_SECRET_MAX  512
#define WH_CANDIDATES  4
#define WH_LOOKUP_POOL 8   /* connections kept for the lookups (MHD's threads: 2 by default) */
#define WH_FOUND_SLOTS 64  /* lookups remembered (a store URL or a tenant id each) */
#define WH_FOUND_VALUE 255 /* longer lookup values are read every time */
#define WH_FOUND_TTL_MS                                                                            \
    1000 /* how stale a remembered lookup may be for another process's write                       \
          */

struct wh_slot {
    char tenant[ENG_WEBHOOK_ID_MAX + 1];
    unsigned char ct_digest[ENG_CRYPTO_SHA256_LEN]; /* SHA-256 of the row's ciphertext */
    char *secret;                                   /* NULL: the row has no webhook_secret */
    size_t len;
    int used;
};

/* A connection of the lookup pool with its prepared statements (ENG_VAULT_BY_*). */
struct wh_lookup {
    struct eng_store *st;
    struct eng_store_stmt *find[ENG_VAULT_BY_ACCOUNT + 1];
    struct wh_lookup *next; /* in the pool while not taken */
};

/* What one lookup (ENG_VAULT_BY_*, value) found, as of generation gen and time at_ms. */
struct wh_found {
    int used, by, n;
    unsigned long long gen;
    long long at_ms;
    char value[WH_FOUND_VALUE + 1];
    struct eng_vault_ref refs[WH_CANDIDATES];
};

struct eng_webhook_tenant_secrets {
    pthread_mutex_t mu;
    struct wh_slot slot[WH_CACHE_SLOTS];
    struct wh_found found[WH_FOUND_SLOTS];
    char *database_url;     /* NULL: no pool, the caller's connection reads */
    struct wh_lookup *pool; /* idle connections */
    int nlookups;           /* opened, idle or taken (at most WH_LOOKUP_POOL) */
};

struct eng_webhook_tenant_secrets *eng_webhook_tenant_secrets_new(const char *database_url)
{
    struct eng_webhook_tenant_secrets *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (database_url != NULL && (c->database_url = strdup(database_url)) == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void wh_lookup_free(struct wh_lookup *l)
{
    for (size_t i = 0; i < sizeof l->find / sizeof l->find[0]; i++)
        eng_store_finalize(l->find[i]);
    eng_store_close(l->st);
    free(l);
}

/* A pool connection for one delivery, or NULL (no pool, full, or it cannot be opened: the
 * caller's connection reads instead). */
static struct wh_lookup *wh_lookup_take(struct eng_webhook_tenant_secrets *c)
{
    if (c->database_url == NULL)
        return NULL;
    int open_one = 0;
    pthread_mutex_lock(&c->mu);
    struct wh_lookup *l = c->pool;
    if (l != NULL)
        c->pool = l->next;
    else if (c->nlookups < WH_LOOKUP_POOL)
        open_one = 1, c->nlookups++; /* the slot of the one opened below */
    pthread_mutex_unlock(&c->mu);
    if (!open_one)
        return l;
    l = calloc(1, sizeof *l);
    struct eng_err err = {0};
    if (l == NULL || eng_store_open(c->database_url, &l->st, &err) != 0) {
        free(l);
        pthread_mutex_lock(&c->mu);
        c->nlookups--;
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    return l;
}

/* Give l back (NULL is fine); after a store error it is closed instead, for a fresh one. */
static void wh_lookup_give(struct eng_webhook_tenant_secrets *c, struct wh_lookup *l, int failed)
{
    if (l == NULL)
        return;
    if (failed) {
        wh_lookup_free(l);
        pthread_mutex_lock(&c->mu);
        c->nlookups--;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pthread_mutex_lock(&c->mu);
    l->next = c->pool;
    c->pool = l;
    pthread_mutex_unlock(&c->mu);
}

static void wh_slot_clear(struct wh_slot *s)
{
    if (s->secret != NULL) {
        eng_crypto_wipe(s->secret, s->len);
        free(s->secret);
    }
    memset(s, 0, sizeof *s);
}

void eng_webhook_tenant_secrets_free(struct eng_webhook_tenant_secrets *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < WH_CACHE_SLOTS; i++)
        wh_slot_clear(&c->slot[i]);
    while (c->pool != NULL) { /* every taken one was given back: its callers have returned */
        struct wh_lookup *l = c->pool;
        c->pool = l->next;
        wh_lookup_free(l);
    }
    free(c->database_url);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* FNV-1a of s from h (2166136261u to start): where a tenant or a lookup is remembered */
static unsigned wh_fnv(unsigned h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static unsigned wh_hash(const char *s)
{
    return wh_fnv(2166136261u, s) % WH_CACHE_SLOTS;
}

/* Copy the cached secret of (tenant, digest) into out; 1 found (out_len = -1 stays when the row
 * has none), 0 not cached. */
static int wh_cache_get(struct eng_webhook_tenant_secrets *c, const char *tenant,
                        const unsigned char *dg, char *out, long *out_len)
{
    int found = 0;
    pthread_mutex_lock(&c->mu);
    struct wh_slot *s = &c->slot[wh_hash(tenant)];
    if (s->used && strcmp(s->tenant, tenant) == 0 &&
        memcmp(s->ct_digest, dg, sizeof s->ct_digest) == 0) {
        found = 1;
        *out_len = -1;
        if (s->secret != NULL) {
            memcpy(out, s->secret, s->len);
            *out_len = (long)s->len;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static void wh_cache_put(struct eng_webhook_tenant_secrets *c, const char *tenant,
                         const unsigned char *dg, const char *secret, long len)
{
    char *copy = NULL;
    if (len >= 0) {
        copy = malloc((size_t)len + 1);
        if (copy == NULL)
            return;
        memcpy(copy, secret, (size_t)len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&c->mu);
    struct wh_slot *s = &c->slot[wh_hash(tenant)];
    wh_slot_clear(s);
    snprintf(s->tenant, sizeof s->tenant, "%.64s", tenant);
    memcpy(s->ct_digest, dg, sizeof s->ct_digest);
    s->secret = copy;
    s->len = len >= 0 ? (size_t)len : 0;
    s->used = 1;
    pthread_mutex_unlock(&c->mu);
}

/* The webhook_secret of tenant's stored WooCommerce credentials, into out[WH_SECRET_MAX]:
 * its length, -1 when the row has none (or cannot be opened: logged), or a store error. */
static long wh_tenant_secret(struct eng_webhook_tenant_secrets *c, struct eng_store *st,
                             const struct eng_keyring *keys, const char *tenant,
                             const unsigned char *dg, char *out)
{
    long len = -1;
    if (wh_cache_get(c, tenant, dg, out, &len))
        return len;
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    struct eng_err err = {0};
    int rc = keys != NULL
                 ? eng_vault_get(st, keys, tenant, "woocommerce", &secret, &slen, &pub, &err)
                 : ENG_ENOTFOUND;
    free(pub);
    if (rc == ENG_EAUTH) {
        eng_log_kv(ENG_LOG_WARN, tenant, NULL, "webhook: cannot open the stored credentials",
                   (const char *const[]){"platform", "woocommerce", "detail", err.msg, NULL});
        return -1; /* not cached: a key fix must be picked up */
    }
    if (rc != 0)
        return rc == ENG_ENOTFOUND ? -1 : rc;
    struct eng_webhook_json doc;
    char msg[64];
    if (eng_webhook_json_parse(&doc, secret, slen, msg, sizeof msg) == 0) {
        int t = eng_webhook_json_get(&doc, 0, "webhook_secret");
        if (t >= 0 && eng_webhook_json_text(&doc, t, 0, out, WH_SECRET_MAX) == 0)
            len = (long)eng_webhook_wp_secret_decode(out, strlen(out));
    }
    eng_webhook_json_free(&doc);
    eng_vault_free_secret(secret, slen);
    wh_cache_put(c, tenant, dg, out, len);
    return len;
}

struct wh_cand {
    char tenant[ENG_WEBHOOK_ID_MAX + 1];
    unsigned char dg[ENG_CRYPTO_SHA256_LEN];
    int has_row;
};

static struct wh_found *wh_found_slot(struct eng_webhook_tenant_secrets *c, int by,
                                      const char *value)
{
    return &c->found[wh_fnv(2166136261u ^ (unsigned)by, value) % WH_FOUND_SLOTS];
}

/* What lookup (by, value) found into refs/got when remembered and still current: 1, else 0. */
static int wh_found_get(struct eng_webhook_tenant_secrets *c, int by, const char *value,
                        unsigned long long gen, long long now, struct eng_vault_ref *refs, int *got)
{
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    const struct wh_found *f = wh_found_slot(c, by, value);
    if (f->used && f->by == by && f->gen == gen && now - f->at_ms < WH_FOUND_TTL_MS &&
        now >= f->at_ms && strcmp(f->value, value) == 0) {
        memcpy(refs, f->refs, sizeof f->refs[0] * (size_t)f->n);
        *got = f->n;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void wh_found_put(struct eng_webhook_tenant_secrets *c, int by, const char *value,
                         unsigned long long gen, long long at, const struct eng_vault_ref *refs,
                         int got)
{
    if (strlen(value) > WH_FOUND_VALUE || got < 0 || got > WH_CANDIDATES)
        return;
    pthread_mutex_lock(&c->mu);
    struct wh_found *f = wh_found_slot(c, by, value);
    f->used = 1;
    f->by = by;
    f->n = got;
    f->gen = gen;
    f->at_ms = at;
    memcpy(f->value, value, strlen(value) + 1);
    memcpy(f->refs, refs, sizeof refs[0] * (size_t)got);
    pthread_mutex_unlock(&c->mu);
}

/* Append woocommerce's active vault rows matched by value (ENG_VAULT_BY_*) as candidates, each
 * tenant once: remembered (see the header) or read, on *l (taken from the pool on the first
 * read; NULL after: the caller's st). Store errors are returned. */
static int wh_candidates(struct eng_webhook_tenant_secrets *c, struct eng_store *st,
                         struct wh_lookup **l, int *taken, int by, const char *value,
                         struct wh_cand *cand, int *n, struct eng_err *err)
{
    struct eng_vault_ref refs[WH_CANDIDATES];
    int got = 0, rc = 0;
    /* the generation before the read: a write committed during it makes the answer stale */
    unsigned long long gen = eng_vault_generation();
    long long now = eng_now_ms();
    if (!wh_found_get(c, by, value, gen, now, refs, &got)) {
        if (!*taken) {
            *l = wh_lookup_take(c);
            *taken = 1;
        }
        rc = *l != NULL
                 ? eng_vault_find_with((*l)->st, &(*l)->find[by], "woocommerce", by, value, refs,
                                       WH_CANDIDATES, &got, err)
                 : eng_vault_find(st, "woocommerce", by, value, refs, WH_CANDIDATES, &got, err);
        if (rc == 0)
            wh_found_put(c, by, value, gen, now, refs, got);
    }
    for (int r = 0; rc == 0 && r < got && *n < WH_CANDIDATES; r++) {
        int dup = 0;
        for (int i = 0; i < *n; i++)
            dup |= strcmp(cand[i].tenant, refs[r].tenant) == 0;
        if (dup || strlen(refs[r].tenant) > ENG_WEBHOOK_ID_MAX)
            continue;
        struct wh_cand *k = &cand[(*n)++];
        memcpy(k->tenant, refs[r].tenant, strlen(refs[r].tenant) + 1);
        memcpy(k->dg, refs[r].fingerprint, sizeof k->dg);
        k->has_row = 1;
    }
    return rc;
}

int eng_webhook_tenant_woo(struct eng_webhook_tenant_secrets *c, struct eng_store *st,
                           const struct eng_keyring *keys, const char *source_norm,
                           const char *hint_tenant, const char *default_secret,
                           const char *signature, const char *body, size_t len,
                           char tenant[ENG_WEBHOOK_ID_MAX + 1], struct eng_err *err)
{
    struct wh_cand cand[WH_CANDIDATES + 2];
    int n = 0, rc = 0;
    memset(cand, 0, sizeof cand);
    struct wh_lookup *l = NULL;
    int taken = 0;
    if (source_norm != NULL && *source_norm != '\0')
        rc = wh_candidates(c, st, &l, &taken, ENG_VAULT_BY_ACCOUNT, source_norm, cand, &n, err);
    int by_url = n;
    if (rc == 0 && hint_tenant != NULL && *hint_tenant != '\0') {
        int before = n;
        rc = wh_candidates(c, st, &l, &taken, ENG_VAULT_BY_TENANT, hint_tenant, cand, &n, err);
        if (rc == 0 && n == before && strcmp(hint_tenant, "default") == 0 && n < WH_CANDIDATES) {
            snprintf(cand[n].tenant, sizeof cand[n].tenant, "default");
            n++; /* the default tenant without stored credentials: its env secret */
        }
    }
    if (rc == 0 && by_url == 0) {
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen |= strcmp(cand[i].tenant, "default") == 0;
        if (!seen) {
            rc = wh_candidates(c, st, &l, &taken, ENG_VAULT_BY_TENANT, "default", cand, &n, err);
            seen = 0;
            for (int i = 0; i < n; i++)
                seen |= strcmp(cand[i].tenant, "default") == 0;
            if (rc == 0 && !seen) {
                snprintf(cand[n].tenant, sizeof cand[n].tenant, "default");
                n++;
            }
        }
    }
    wh_lookup_give(c, l, rc != 0);
    if (rc != 0)
        return rc;

    char *secret = malloc(WH_SECRET_MAX);
    if (secret == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory checking a webhook");
    int found = 0;
    for (int i = 0; i < n && !found; i++) {
        long sl = -1;
        if (cand[i].has_row) {
            sl = wh_tenant_secret(c, st, keys, cand[i].tenant, cand[i].dg, secret);
            if (sl < -1) {
                rc = (int)sl;
                break;
            }
        }
        if (sl < 0 && strcmp(cand[i].tenant, "default") == 0 && default_secret != NULL &&
            *default_secret != '\0') {
            sl = (long)strlen(default_secret);
            if (sl >= WH_SECRET_MAX)
                sl = -1;
            else {
                memcpy(secret, default_secret, (size_t)sl + 1);
                sl = (long)eng_webhook_wp_secret_decode(secret, (size_t)sl);
            }
        }
        if (sl >= 0 && eng_webhook_signature_ok(signature, secret, (size_t)sl, body, len)) {
            found = 1;
            memcpy(tenant, cand[i].tenant, strlen(cand[i].tenant) + 1);
        }
        eng_crypto_wipe(secret, WH_SECRET_MAX);
    }
    free(secret);
    if (rc != 0)
        return rc;
    return found ? 0 : ENG_EAUTH;
}

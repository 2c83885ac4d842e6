/*
 * scripts.c - script registry and hot reload (see scripts.h).
 * Owns: the published sources, the last error of each file, the declarations of each published
 * version and the policy made of them (base/policy.h), the watcher thread and its inotify
 * descriptor. Validation VMs are created and closed here, on the scanning thread (the first
 * scan's also on its short-lived helper threads, one VM per file), and never escape it. The mutex
 * guards the table; it is never held while a script runs.
 */
#include "lua/scripts.h"
#include "lua/chunks.h"
#include "lua/vm_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "adapt/crypto.h"
#include "base/dirlist.h"
#include "base/log.h"
#include "base/policy.h"
#include "lua/vm_int.h"

#define SCRIPTS_MAX_DEPTH 8
#define SCRIPTS_MAX_SIZE  ((size_t)8 << 20)
#define SCRIPTS_RESCAN_MS 1000 /* fallback rescan when no inotify event arrives */
#define SCRIPTS_SETTLE_MS 30   /* let an editor finish writing before reading */
#define SCRIPTS_DEFAULTS  8    /* entities one mapping may be the default flow of */

/* What a version declares for C, read from its table (check_contract) and published with it. */
struct decl {
    char source[ENG_POLICY_NAME_MAX + 1]; /* mapping: source.connector; connector: its name */
    int ndefault;                         /* mapping: the entities it is the default flow of */
    char default_for[SCRIPTS_DEFAULTS][ENG_POLICY_NAME_MAX + 1];
    int nroutes; /* connector: webhook_entities, resource -> entity */
    char routes[ENG_POLICY_ROUTES_MAX][2][ENG_POLICY_NAME_MAX + 1];
};

struct script {
    char *logical; /* "scripts/lib/x.lua" or "mappings/y.lua" */
    char *src;     /* published source, NULL when none was ever accepted */
    size_t len;
    char sha[65]; /* sha256 of the published source */
    uint64_t generation;
    char loaded_at[32];
    char *error; /* the rejected version's error, or NULL */
    char error_at[32];
    char bad_sha[65]; /* sha of the rejected version (not revalidated until it changes) */
    /* a mapping's data tests (MAPPINGS_DIR/tests/NAME/ *.json): a version is the file and its
     * tests, so an edited test revalidates the mapping */
    char tests_sha[65];     /* digest of the tests the published version passed ("" = none) */
    char bad_tests_sha[65]; /* ... and of those the rejected version ran against */
    char tests_stamp[65];   /* digest of the tests' names and stat at the last scan */
    struct decl *decl;      /* what the published version declares; NULL: nothing */
    /* the rejected version clashed with another mapping's default_for: it is tried again when
     * the published claims change (claims != reg->claims) */
    int bad_conflict;
    uint64_t bad_claims;
    /* what the file looked like at the last scan */
    struct timespec mtime;
    off_t size;
    ino_t ino;
    int seen; /* mark for the current scan */
};

struct eng_scripts {
    pthread_mutex_t mu;      /* guards items */
    pthread_mutex_t scan_mu; /* one scan at a time (watcher vs. explicit scans) */
    struct script *items;
    size_t n, cap;
    _Atomic uint64_t generation;
    _Atomic int errors;
    struct eng_policy *policy; /* what the published versions declare */
    int declarations_only;     /* eng_scripts_declarations_only: no mapping data tests */
    uint64_t claims;           /* bumped when the published default_for claims change (mu) */
    struct eng_vm_opts vmopts;
    char *dirs[2]; /* scripts, mappings */
    pthread_t watcher;
    int watching;
    int stop_pipe[2];
    int inotify_fd;
};

static const char *const scripts_prefix[2] = {"scripts/", "mappings/"};

/* Most files declare nothing: they share this instead of a 4.7 KB struct decl each. */
static const struct decl decl_none;

static const struct decl *decl_of(const struct script *s)
{
    return s->decl != NULL ? s->decl : &decl_none;
}

static void now_iso(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void sha_hex(const char *src, size_t len, char out[65])
{
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    out[0] = '\0';
    if (eng_crypto_sha256(src, len, d, NULL) == 0)
        eng_crypto_hex_encode(d, sizeof d, out, 65, NULL);
}

struct eng_scripts *eng_scripts_new(const struct eng_vm_opts *vmopts, struct eng_err *err)
{
    struct eng_scripts *reg = calloc(1, sizeof *reg);
    if (reg == NULL) {
        eng_err_set(err, ENG_ENOMEM, "out of memory creating the script registry");
        return NULL;
    }
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->scan_mu, NULL);
    reg->vmopts = *vmopts;
    reg->vmopts.source = NULL;
    reg->vmopts.source_ud = NULL;
    reg->dirs[0] = strdup(vmopts->scripts_dir ? vmopts->scripts_dir : "scripts");
    reg->dirs[1] = strdup(vmopts->mappings_dir ? vmopts->mappings_dir : "mappings");
    reg->vmopts.scripts_dir = reg->dirs[0];
    reg->vmopts.mappings_dir = reg->dirs[1];
    reg->stop_pipe[0] = reg->stop_pipe[1] = -1;
    reg->inotify_fd = -1;
    reg->policy = eng_policy_new();
    if (reg->dirs[0] == NULL || reg->dirs[1] == NULL || reg->policy == NULL) {
        eng_scripts_free(reg);
        eng_err_set(err, ENG_ENOMEM, "out of memory creating the script registry");
        return NULL;
    }
    return reg;
}

void eng_scripts_free(struct eng_scripts *reg)
{
    if (reg == NULL)
        return;
    if (reg->watching) {
        char c = 'q';
        if (write(reg->stop_pipe[1], &c, 1) < 0)
            eng_logf(ENG_LOG_WARN, "scripts: cannot signal the watcher: %s", strerror(errno));
        pthread_join(reg->watcher, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (reg->stop_pipe[i] >= 0)
            close(reg->stop_pipe[i]);
    if (reg->inotify_fd >= 0)
        close(reg->inotify_fd);
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->items[i].logical);
        free(reg->items[i].src);
        free(reg->items[i].error);
        free(reg->items[i].decl);
    }
    free(reg->items);
    free(reg->dirs[0]);
    free(reg->dirs[1]);
    eng_policy_free(reg->policy);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->scan_mu);
    free(reg);
}

void eng_scripts_declarations_only(struct eng_scripts *reg)
{
    reg->declarations_only = 1;
}

uint64_t eng_scripts_generation(struct eng_scripts *reg)
{
    return atomic_load(&reg->generation);
}

int eng_scripts_error_count(struct eng_scripts *reg)
{
    return atomic_load(&reg->errors);
}

struct eng_policy *eng_scripts_policy(struct eng_scripts *reg)
{
    return reg->policy;
}

/* Caller holds mu. */
static struct script *find_locked(struct eng_scripts *reg, const char *logical)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->items[i].logical, logical) == 0)
            return &reg->items[i];
    return NULL;
}

char *eng_scripts_source(void *ud, const char *logical, size_t *len)
{
    struct eng_scripts *reg = ud;
    char *copy = NULL;
    pthread_mutex_lock(&reg->mu);
    struct script *s = find_locked(reg, logical);
    if (s != NULL && s->src != NULL) {
        copy = malloc(s->len + 1);
        if (copy != NULL) {
            memcpy(copy, s->src, s->len);
            copy[s->len] = '\0';
            *len = s->len;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return copy;
}

/* ---------- validation ---------- */

struct candidate {
    struct eng_scripts *reg;
    const char *logical;
    const char *src;
    size_t len;
};

static char *read_file(const char *path, size_t *len)
{
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, SCRIPTS_MAX_SIZE, NULL) != 0) {
        eng_buf_free(&b);
        return NULL;
    }
    char *p = eng_buf_take(&b, len);
    /* published sources live as long as their version: no doubling slack kept with them */
    char *fit = p != NULL ? realloc(p, *len + 1) : NULL;
    return fit != NULL ? fit : p;
}

/* Source provider for a validation VM: the candidate, else what is published, else the disk
 * (a file not scanned yet, e.g. a helper a new mapping requires). */
static char *candidate_source(void *ud, const char *logical, size_t *len)
{
    struct candidate *c = ud;
    if (strcmp(logical, c->logical) == 0) {
        char *p = malloc(c->len + 1);
        if (p != NULL) {
            memcpy(p, c->src, c->len);
            p[c->len] = '\0';
            *len = c->len;
        }
        return p;
    }
    char *p = eng_scripts_source(c->reg, logical, len);
    if (p != NULL)
        return p;
    for (int i = 0; i < 2; i++) {
        size_t pl = strlen(scripts_prefix[i]);
        if (strncmp(logical, scripts_prefix[i], pl) == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", c->reg->dirs[i], logical + pl);
            return read_file(path, len);
        }
    }
    return NULL;
}

/* A mapping or a connector must return a table (what is in it: check_contract).
 * Stack: result at top. [-0, +0, -] */
static int check_exports(lua_State *L, const char *logical, struct eng_err *err)
{
    int is_mapping = strncmp(logical, "mappings/", 9) == 0;
    int is_connector = strncmp(logical, "scripts/connectors/", 19) == 0;
    if ((is_mapping || is_connector) && !lua_istable(L, -1))
        return eng_err_set(err, ENG_ESCRIPT, "%s must return a table, got %s", logical,
                           luaL_typename(L, -1));
    return 0;
}

/* ---------- what a version declares for C ---------- */

/* NAME of "mappings/NAME.lua" (a mapping of the top folder) into buf, else NULL. */
static const char *mapping_name(const char *logical, char *buf, size_t size)
{
    if (strncmp(logical, "mappings/", 9) != 0 || strchr(logical + 9, '/') != NULL)
        return NULL;
    size_t n = strlen(logical + 9);
    if (n <= 4 || n - 4 >= size)
        return NULL;
    memcpy(buf, logical + 9, n - 4);
    buf[n - 4] = '\0';
    return buf;
}

struct decl_read {
    struct decl *d;
    const char *logical;
    const char *name; /* NAME of mappings/NAME.lua, NULL for anything else */
    int is_mapping;
};

/* s[0..n) is a name C can route by: 1-64 of letters, digits, '_' and '-'. */
static int decl_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > ENG_POLICY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* Copy the string at idx into dst when it is a name; 0 when it is not. [-0, +0, -] */
static int decl_copy(lua_State *L, int idx, char dst[ENG_POLICY_NAME_MAX + 1])
{
    size_t n = 0;
    const char *v = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    if (v == NULL || !decl_name_ok(v, n))
        return 0;
    memcpy(dst, v, n + 1);
    return 1;
}

/* One entity of default_for, at the top. [-0, +0, e] */
static void decl_add_default(lua_State *L, struct decl_read *r)
{
    struct decl *d = r->d;
    if (d->ndefault == SCRIPTS_DEFAULTS)
        luaL_error(L, "%s: field 'default_for' names more than %d entities", r->logical,
                   SCRIPTS_DEFAULTS);
    if (!decl_copy(L, -1, d->default_for[d->ndefault]))
        luaL_error(L, "%s: field 'default_for' must name entities (1-%d letters, digits, _ or -)",
                   r->logical, ENG_POLICY_NAME_MAX);
    d->ndefault++;
}

/* The connector contract on the table at 1: a string name, test/read/write functions when
 * present, no on_webhook; its name and webhook_entities (resource -> entity names) into the
 * decl. [-0, +0, e] */
static void read_connector_decl(lua_State *L, struct decl_read *r)
{
    struct decl *d = r->d;
    if (lua_getfield(L, 1, "name") != LUA_TSTRING)
        luaL_error(L, "%s: field 'name' must be a string", r->logical);
    decl_copy(L, -1, d->source);
    lua_pop(L, 1);
    static const char *const fns[] = {"test", "read", "write"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int t = lua_getfield(L, 1, fns[i]);
        lua_pop(L, 1);
        if (t != LUA_TNIL && t != LUA_TFUNCTION)
            luaL_error(L, "%s: field '%s' must be a function", r->logical, fns[i]);
    }
    /* no on_webhook: routing is the declared table below, read once here and applied in C to
     * every delivery */
    if (lua_getfield(L, 1, "on_webhook") != LUA_TNIL)
        luaL_error(L,
                   "%s: field 'on_webhook' is not part of the connector contract: declare "
                   "webhook_entities = { resource = \"entity\", ... } (deliveries are routed in "
                   "C, without running Lua)",
                   r->logical);
    lua_pop(L, 1);
    int t = lua_getfield(L, 1, "webhook_entities");
    if (t != LUA_TNIL && t != LUA_TTABLE)
        luaL_error(L, "%s: field 'webhook_entities' must be a table of resource = entity, got %s",
                   r->logical, luaL_typename(L, -1));
    if (t == LUA_TTABLE && d->source[0] == '\0')
        luaL_error(L,
                   "%s: a connector with webhook_entities needs a plain 'name' (letters, "
                   "digits, _ and -)",
                   r->logical);
    if (t == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (d->nroutes == ENG_POLICY_ROUTES_MAX)
                luaL_error(L, "%s: field 'webhook_entities' has more than %d resources", r->logical,
                           ENG_POLICY_ROUTES_MAX);
            if (lua_type(L, -2) != LUA_TSTRING || !decl_copy(L, -2, d->routes[d->nroutes][0]) ||
                !decl_copy(L, -1, d->routes[d->nroutes][1]))
                luaL_error(L,
                           "%s: field 'webhook_entities' must map resource names to entity "
                           "names (letters, digits, _ and -), e.g. { order = \"orders\" }",
                           r->logical);
            d->nroutes++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* Check the table at 1 against its contract and read what it declares for C into the
 * decl_read at 2 (light userdata). A mapping: lib.mapping.validate (the same check, with the
 * same messages, as every run of the mapping), then its source connector and default_for. A
 * connector: read_connector_decl. Protected: a metamethod of the script runs under its budget,
 * and an error (a refused allocation too) is the version's error. [-0, +0, e] */
static int contract_protected(lua_State *L)
{
    struct decl_read *r = lua_touserdata(L, 2);
    struct decl *d = r->d;
    luaL_checkstack(L, 8, "checking a script's contract");
    if (strncmp(r->logical, "scripts/connectors/", 19) == 0)
        read_connector_decl(L, r);
    if (!r->is_mapping)
        return 0;
    eng_vm_push_base(L);
    lua_getfield(L, -1, "require");
    lua_pushliteral(L, "lib.mapping");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "validate");
    lua_pushvalue(L, 1);
    lua_pushstring(L, r->logical);
    lua_call(L, 2, 0);
    lua_pop(L, 2);
    if (lua_getfield(L, 1, "source") == LUA_TTABLE) {
        lua_getfield(L, -1, "connector");
        decl_copy(L, -1, d->source);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    int t = lua_getfield(L, 1, "default_for");
    if (t == LUA_TSTRING) {
        decl_add_default(L, r);
    } else if (t == LUA_TTABLE) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
            decl_add_default(L, r);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (d->ndefault > 0 && r->name == NULL)
        luaL_error(L,
                   "%s: field 'default_for': only a mapping directly in the mappings folder "
                   "is a flow",
                   r->logical);
    if (d->ndefault > 0 && !decl_name_ok(r->name, strlen(r->name)))
        luaL_error(L,
                   "%s: field 'default_for': a default flow's file name must be 1-%d letters, "
                   "digits, _ or - (then .lua)",
                   r->logical, ENG_POLICY_NAME_MAX);
    return 0;
}

/* The table on top against its contract (contract_protected); its declarations into *d.
 * [-0, +0, -] */
static int check_contract(struct eng_vm *vm, const char *logical, const char *name, struct decl *d,
                          struct eng_err *err)
{
    lua_State *L = eng_vm_state(vm);
    struct decl_read r = {d, logical, name, strncmp(logical, "mappings/", 9) == 0};
    memset(d, 0, sizeof *d);
    if (!lua_checkstack(L, 4))
        return eng_err_set(err, ENG_ENOMEM, "Lua stack overflow");
    lua_pushcfunction(L, contract_protected);
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, &r);
    int rc = eng_vm_pcall(vm, 2, 0, err);
    if (rc != 0) { /* one line: the contract's message, not the traceback */
        char *tb = strstr(err->msg, "\nstack traceback:");
        if (tb != NULL)
            *tb = '\0';
    }
    return rc;
}

/* Caller holds mu. A published mapping other than logical that is the default flow of one of
 * d's entities: sets err naming both files and returns ENG_EEXIST; else 0. */
static int claims_conflict_locked(struct eng_scripts *reg, const char *logical,
                                  const struct decl *d, struct eng_err *err)
{
    for (size_t i = 0; i < reg->n; i++) {
        const struct script *o = &reg->items[i];
        if (o->src == NULL || strcmp(o->logical, logical) == 0)
            continue;
        for (int a = 0; a < d->ndefault; a++)
            for (int b = 0; b < decl_of(o)->ndefault; b++)
                if (strcmp(d->default_for[a], decl_of(o)->default_for[b]) == 0)
                    return eng_err_set(err, ENG_EEXIST,
                                       "%s: default_for '%s': %s is already the default flow of "
                                       "'%s' (one default flow per entity: remove one of the two "
                                       "declarations)",
                                       logical, d->default_for[a], o->logical, d->default_for[a]);
    }
    return 0;
}

/* Caller holds mu. Publish the declarations of every published version to reg->policy. */
static void policy_publish_locked(struct eng_scripts *reg)
{
    size_t nd = 0, nr = 0;
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i].src != NULL) {
            nd += (size_t)decl_of(&reg->items[i])->ndefault;
            nr += (size_t)decl_of(&reg->items[i])->nroutes;
        }
    struct eng_policy_default *defs = nd ? calloc(nd, sizeof *defs) : NULL;
    struct eng_policy_route_decl *routes = nr ? calloc(nr, sizeof *routes) : NULL;
    char(*flows)[ENG_POLICY_NAME_MAX + 1] = nd ? calloc(nd, sizeof *flows) : NULL;
    int rc = (nd && (defs == NULL || flows == NULL)) || (nr && routes == NULL) ? ENG_ENOMEM : 0;
    size_t id = 0, ir = 0;
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        const struct script *s = &reg->items[i];
        if (s->src == NULL)
            continue;
        const struct decl *d = decl_of(s);
        for (int k = 0; k < d->ndefault; k++) {
            if (mapping_name(s->logical, flows[id], sizeof flows[id]) == NULL)
                continue;
            defs[id].entity = d->default_for[k];
            defs[id].flow = flows[id];
            defs[id].source = d->source;
            id++;
        }
        for (int k = 0; k < d->nroutes; k++) {
            routes[ir].source = d->source;
            routes[ir].resource = d->routes[k][0];
            routes[ir].entity = d->routes[k][1];
            ir++;
        }
    }
    if (rc == 0)
        rc = eng_policy_publish(reg->policy, defs, id, routes, ir);
    if (rc != 0)
        eng_logf(ENG_LOG_ERROR, "scripts: out of memory publishing the scripts' declarations; "
                                "the previous default flows and webhook routes stay");
    free(defs);
    free(routes);
    free(flows);
}

/* ---------- a mapping's data tests ---------- */

/* The data tests of one mapping as read at one scan: file names, texts and their digest. */
struct tests {
    char **names;
    char **texts;
    size_t *lens;
    size_t n;
    char sha[65]; /* over every name and text, "" when there are none */
};

static void tests_free(struct tests *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->texts[i]);
    eng_dirlist_free(t->names, t->n);
    free(t->texts);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

/* Digest of the names, sizes, times and inodes of NAME's test files: cheap enough for every
 * scan, and changes when any of them is written, added, removed or replaced. "" = none. */
static void tests_stamp(struct eng_scripts *reg, const char *name, char out[65])
{
    out[0] = '\0';
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/%s", reg->dirs[1], name);
    size_t n = 0;
    char **names = eng_dirlist(dir, ".json", &n);
    struct eng_buf b;
    eng_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0)
            eng_buf_printf(&b, "%s/%lld/%lld.%ld/%llu\n", names[i], (long long)st.st_size,
                           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                           (unsigned long long)st.st_ino);
    }
    if (n > 0 && !b.oom)
        sha_hex(b.data, b.len, out);
    eng_buf_free(&b);
    eng_dirlist_free(names, n);
}

/* The digest of a mapping's data tests: only ever compared with another digest of this process
 * (was this set of tests already run against this version?), never shown or stored, so not
 * SHA-256, whose cost was a tenth of the first scan (issue 14): 128 bits over 8-byte words, each
 * piece length-prefixed, seeded per process. */
struct tests_digest {
    uint64_t a, b;
};

static uint64_t digest_seed[2];
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;

static void digest_seed_init(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    digest_seed[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)ts.tv_sec;
    digest_seed[1] = (uint64_t)(uintptr_t)&ts * 0xC2B2AE3D27D4EB4Fu ^ (uint64_t)getpid();
    (void)eng_crypto_random(digest_seed, sizeof digest_seed, NULL);
}

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static void digest_word(struct tests_digest *d, uint64_t w)
{
    d->a = rotl64((d->a ^ w) * 0x9E3779B97F4A7C15u, 31) * 0xBF58476D1CE4E5B9u;
    d->b = rotl64((d->b + w) * 0xC2B2AE3D27D4EB4Fu, 27) ^ d->a;
}

static void tests_digest_init(struct tests_digest *d)
{
    pthread_once(&digest_once, digest_seed_init);
    d->a = digest_seed[0];
    d->b = digest_seed[1];
}

static void tests_digest_add(struct tests_digest *d, const char *p, size_t n)
{
    digest_word(d, (uint64_t)n);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        digest_word(d, w);
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i);
        digest_word(d, w);
    }
}

static uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDu;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53u;
    x ^= x >> 33;
    return x;
}

static void tests_digest_hex(const struct tests_digest *d, char out[65])
{
    uint64_t a = fmix64(d->a ^ rotl64(d->b, 17)), b = fmix64(d->b + a);
    snprintf(out, 65, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* Read NAME's test files. 0, or ENG_ENOMEM / ENG_EIO (a file vanished: the next scan reads
 * them again). */
static int tests_read(struct eng_scripts *reg, const char *name, struct tests *t)
{
    memset(t, 0, sizeof *t);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/%s", reg->dirs[1], name);
    t->names = eng_dirlist(dir, ".json", &t->n);
    if (t->n == 0)
        return 0;
    t->texts = calloc(t->n, sizeof *t->texts);
    t->lens = calloc(t->n, sizeof *t->lens);
    struct tests_digest dg;
    tests_digest_init(&dg);
    int rc = t->texts == NULL || t->lens == NULL ? ENG_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, t->names[i]);
        t->texts[i] = read_file(path, &t->lens[i]);
        if (t->texts[i] == NULL) {
            rc = ENG_EIO;
            break;
        }
        tests_digest_add(&dg, t->names[i], strlen(t->names[i]));
        tests_digest_add(&dg, t->texts[i], t->lens[i]);
    }
    if (rc == 0)
        tests_digest_hex(&dg, t->sha);
    if (rc != 0)
        tests_free(t);
    return rc;
}

/* Run the candidate mapping's data tests in its validation VM, all of them within one script
 * budget (SCRIPT_TIMEOUT_MS). The first failing case is the error, with its report (path,
 * expected, got) and how many others fail. */
static int run_tests(struct eng_scripts *reg, struct eng_vm *vm, const char *name,
                     const struct tests *t, struct eng_err *err)
{
    int rc = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long budget = reg->vmopts.budget_ms > 0 ? reg->vmopts.budget_ms : 2000;
    size_t failed = 0;
    for (size_t i = 0; i < t->n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = budget - ((long long)(now.tv_sec - t0.tv_sec) * 1000 +
                                   (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) {
            if (failed == 0)
                rc = eng_err_set(err, ENG_EBUDGET,
                                 "the data tests of mappings/%s.lua (mappings/tests/%s/) take "
                                 "longer than the script budget (%lld ms) together",
                                 name, name, budget);
            break;
        }
        /* the driver `tallysync test` runs too (flow/maptest.c), one call per case */
        char *report = NULL;
        int ok = 0;
        struct eng_err cerr = {0};
        if (eng_vm_call(vm, "lib.mapping_test", "run_case", left, &cerr, "sS>bs", name, t->texts[i],
                        t->lens[i], &ok, &report) != 0)
            ok = 0, report = NULL;
        else if (ok) {
            free(report);
            continue;
        }
        if (failed++ == 0)
            rc = eng_err_set(err, ENG_ESCRIPT, "data test mappings/tests/%s/%s fails: %s", name,
                             t->names[i], report != NULL ? report : cerr.msg);
        free(report);
    }
    if (failed > 1) {
        char first[sizeof err->msg];
        snprintf(first, sizeof first, "%s", err->msg);
        eng_err_set(err, ENG_ESCRIPT, "%s\n(and %zu more failing case%s)", first, failed - 1,
                    failed == 2 ? "" : "s");
    }
    return rc;
}

/* A validation VM one thread of the first scan keeps from one file to the next (the libraries
 * every file requires are then loaded and frozen once per thread, not once per file). */
struct scan_vm {
    struct eng_vm *vm; /* NULL: the next validation makes one */
    struct candidate c;
};

/* Compile and run the candidate's top level in a scratch VM, then check its exports and read
 * its declarations into *d; a mapping (name != NULL) must then pass its data tests t. keep:
 * the scratch VM is keep's, kept for the next file when this one passes (each file runs as a
 * task of its own, as a worker runs one request after another); a VM a failure went through is
 * closed (a module whose top level failed stays marked as loading). NULL: a VM of its own. */
static int validate_in(struct eng_scripts *reg, struct scan_vm *keep, const char *logical,
                       const char *src, size_t len, const char *name, const struct tests *t,
                       struct decl *d, int no_network, struct eng_err *err)
{
    struct candidate own;
    struct candidate *c = keep != NULL ? &keep->c : &own;
    *c = (struct candidate){reg, logical, src, len};
    struct eng_vm *vm = keep != NULL ? keep->vm : NULL;
    if (vm == NULL) {
        struct eng_vm_opts opts = reg->vmopts;
        opts.no_network = no_network;
        opts.source = candidate_source;
        opts.source_ud = c;
        opts.database_path = NULL; /* top levels must not touch the store */
        opts.fast_alloc = 0;       /* short-lived, on threads that end: malloc_trim frees it */
        vm = eng_vm_new(&opts, err);
        if (vm == NULL)
            return err->code;
    }
    lua_State *L = eng_vm_state(vm);
    int task = eng_vm_task_begin(L); /* this file's globals go with its task */
    char chunkname[4200];
    snprintf(chunkname, sizeof chunkname, "@%s", logical);
    int rc = eng_vm_load(vm, chunkname, src, len, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, err);
    if (rc == 0) {
        rc = check_exports(L, logical, err);
        if (rc == 0)
            rc = check_contract(vm, logical, name, d, err);
        lua_pop(L, 1);
    }
    /* a mapping that compiles but fails its own data tests is rejected like a syntax error */
    if (rc == 0 && name != NULL && t->n > 0 && !reg->declarations_only)
        rc = run_tests(reg, vm, name, t, err);
    if (task == 1)
        eng_vm_task_end(L);
    if (keep != NULL && rc == 0) {
        keep->vm = vm;
        return 0;
    }
    eng_vm_free(vm);
    if (keep != NULL)
        keep->vm = NULL;
    return rc;
}

static int validate_opts(struct eng_scripts *reg, const char *logical, const char *src, size_t len,
                         const char *name, const struct tests *t, struct decl *d, int no_network,
                         struct eng_err *err)
{
    return validate_in(reg, NULL, logical, src, len, name, t, d, no_network, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---------- a text checked and run without publishing it (the console's editor) ---------- */

struct eng_scripts_cand {
    struct candidate c; /* what the VM's require reads for c.logical */
    char *logical, *src;
    struct eng_vm *vm;
};

/* validate (tests t, or none) and the default_for claims, as scan_file checks them. */
static int check_text(struct eng_scripts *reg, const char *logical, const char *src, size_t len,
                      const struct tests *t, int no_network, struct eng_err *err)
{
    char namebuf[256];
    const char *name = mapping_name(logical, namebuf, sizeof namebuf);
    struct tests none = {0};
    struct decl *d = calloc(1, sizeof *d);
    if (d == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory validating %s", logical);
    int rc = validate_opts(reg, logical, src, len, name, t != NULL ? t : &none, d, no_network, err);
    if (rc == 0) {
        pthread_mutex_lock(&reg->mu);
        rc = claims_conflict_locked(reg, logical, d, err);
        pthread_mutex_unlock(&reg->mu);
    }
    free(d);
    return rc;
}

struct eng_scripts_cand *eng_scripts_cand_new(struct eng_scripts *reg, const char *logical,
                                              const char *src, size_t len, struct eng_err *err)
{
    int rc = check_text(reg, logical, src, len, NULL, 1, err);
    if (rc != 0)
        return NULL;
    struct eng_scripts_cand *k = calloc(1, sizeof *k);
    if (k != NULL) {
        k->logical = strdup(logical);
        k->src = malloc(len + 1);
    }
    if (k == NULL || k->logical == NULL || k->src == NULL) {
        eng_scripts_cand_free(k);
        eng_err_set(err, ENG_ENOMEM, "out of memory loading %s", logical);
        return NULL;
    }
    memcpy(k->src, src, len);
    k->src[len] = '\0';
    k->c = (struct candidate){reg, k->logical, k->src, len};
    struct eng_vm_opts opts = reg->vmopts;
    opts.source = candidate_source;
    opts.source_ud = &k->c;
    opts.database_path = NULL; /* an unpublished text never reaches the store */
    opts.no_network = 1;       /* nor the network (a tenant may preview its own text) */
    opts.fast_alloc = 0;       /* one preview: memory given back after it */
    k->vm = eng_vm_new(&opts, err);
    if (k->vm == NULL) {
        eng_scripts_cand_free(k);
        return NULL;
    }
    return k;
}

struct eng_vm *eng_scripts_cand_vm(struct eng_scripts_cand *k)
{
    return k->vm;
}

void eng_scripts_cand_free(struct eng_scripts_cand *k)
{
    if (k == NULL)
        return;
    eng_vm_free(k->vm);
    free(k->logical);
    free(k->src);
    free(k);
}

int eng_scripts_check(struct eng_scripts *reg, const char *logical, const char *src, size_t len,
                      struct eng_err *err)
{
    char namebuf[256];
    const char *name = mapping_name(logical, namebuf, sizeof namebuf);
    struct tests t = {0};
    if (name != NULL && tests_read(reg, name, &t) != 0)
        return eng_err_set(err, ENG_EIO, "cannot read the data tests of %s", logical);
    int rc = check_text(reg, logical, src, len, &t, 0, err);
    tests_free(&t);
    return rc;
}

int eng_scripts_info(struct eng_scripts *reg, const char *logical, struct eng_scripts_info *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&reg->mu);
    const struct script *s = find_locked(reg, logical);
    if (s != NULL) {
        out->published = s->src != NULL;
        if (s->src != NULL) {
            memcpy(out->sha, s->sha, sizeof out->sha);
            out->generation = s->generation;
            memcpy(out->loaded_at, s->loaded_at, sizeof out->loaded_at);
        }
        if (s->error != NULL) {
            out->error = strdup(s->error);
            memcpy(out->error_at, s->error_at, sizeof out->error_at);
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return s != NULL && (out->published || out->error != NULL);
}

char **eng_scripts_list(struct eng_scripts *reg, const char *prefix, size_t *n)
{
    *n = 0;
    size_t pl = strlen(prefix);
    pthread_mutex_lock(&reg->mu);
    char **names = reg->n > 0 ? calloc(reg->n, sizeof *names) : NULL;
    for (size_t i = 0; names != NULL && i < reg->n; i++) {
        const struct script *s = &reg->items[i];
        if (strncmp(s->logical, prefix, pl) != 0 || strchr(s->logical + pl, '/') != NULL ||
            (s->src == NULL && s->error == NULL))
            continue;
        if ((names[*n] = strdup(s->logical)) != NULL)
            (*n)++;
    }
    pthread_mutex_unlock(&reg->mu);
    if (names != NULL && *n > 1)
        qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

/* ---------- scanning ---------- */

/* Caller holds mu. Returns the entry for logical, adding it when new (NULL on OOM). */
static struct script *get_locked(struct eng_scripts *reg, const char *logical)
{
    struct script *s = find_locked(reg, logical);
    if (s != NULL)
        return s;
    if (reg->n == reg->cap) {
        size_t ncap = reg->cap ? reg->cap * 2 : 32;
        struct script *p = realloc(reg->items, ncap * sizeof *p);
        if (p == NULL)
            return NULL;
        reg->items = p, reg->cap = ncap;
    }
    s = &reg->items[reg->n];
    memset(s, 0, sizeof *s);
    s->logical = strdup(logical);
    if (s->logical == NULL)
        return NULL;
    reg->n++;
    return s;
}

static void recount_errors_locked(struct eng_scripts *reg)
{
    int n = 0;
    for (size_t i = 0; i < reg->n; i++)
        n += reg->items[i].error != NULL;
    atomic_store(&reg->errors, n);
}

/* One file of a scan, from its listing to its commit. The phases are split so that the first
 * scan (an empty registry: nothing published yet) can validate the files on several threads
 * and still commit them one by one in listing order (see eng_scripts_scan). */
struct scan_job {
    char *path, *logical;
    struct stat st;
    char namebuf[256];
    const char *name; /* the mapping's name, NULL for other files */
    /* read by scan_prepare when the file must be validated (todo) */
    int todo;
    char *src;
    size_t len;
    char sha[65];
    struct tests t;
    /* the validation's outcome */
    int rc;
    struct decl *d;
    struct eng_err err;
};

struct scan_list {
    struct scan_job *jobs;
    size_t n, cap;
};

static void scan_job_free(struct scan_job *j)
{
    free(j->path);
    free(j->logical);
    free(j->src);
    free(j->d);
    tests_free(&j->t);
}

/* Listing order is kept; a file listed twice (lib/ is listed first on its own, then again
 * under SCRIPTS_DIR) is looked at once. */
static void scan_list_add(struct scan_list *l, const char *path, const char *logical,
                          const struct stat *st)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->jobs[i].logical, logical) == 0)
            return;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        struct scan_job *p = realloc(l->jobs, ncap * sizeof *p);
        if (p == NULL)
            return; /* out of memory: this file waits for the next scan */
        l->jobs = p, l->cap = ncap;
    }
    struct scan_job *j = &l->jobs[l->n];
    memset(j, 0, sizeof *j);
    j->path = strdup(path);
    j->logical = strdup(logical);
    if (j->path == NULL || j->logical == NULL) {
        scan_job_free(j);
        return;
    }
    j->st = *st;
    l->n++;
}

/* Look at one file: re-read when its stat (or its data tests') changed; j->todo when its bytes
 * (or its tests') changed and it must be validated. */
static void scan_prepare(struct eng_scripts *reg, struct scan_job *j)
{
    char stamp[65] = "";
    j->name = mapping_name(j->logical, j->namebuf, sizeof j->namebuf);
    if (j->name != NULL)
        tests_stamp(reg, j->name, stamp);

    pthread_mutex_lock(&reg->mu);
    struct script *s = get_locked(reg, j->logical);
    if (s == NULL) {
        pthread_mutex_unlock(&reg->mu);
        return;
    }
    s->seen = 1;
    const struct stat *st = &j->st;
    int same = s->size == st->st_size && s->ino == st->st_ino &&
               s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
               strcmp(s->tests_stamp, stamp) == 0 &&
               !(s->error != NULL && s->bad_conflict && s->bad_claims != reg->claims);
    pthread_mutex_unlock(&reg->mu);
    if (same)
        return;

    size_t len = 0;
    char *src = read_file(j->path, &len);
    if (src == NULL)
        return; /* vanished or unreadable between readdir and open: next scan decides */
    struct tests t = {0};
    if (j->name != NULL && tests_read(reg, j->name, &t) != 0) {
        free(src);
        return; /* a test file vanished meanwhile: next scan decides */
    }
    char sha[65];
    sha_hex(src, len, sha);

    pthread_mutex_lock(&reg->mu);
    s = find_locked(reg, j->logical);
    int published = s != NULL && s->src != NULL && strcmp(s->sha, sha) == 0;
    int known = s != NULL && ((published && strcmp(s->tests_sha, t.sha) == 0) ||
                              (s->error != NULL && strcmp(s->bad_sha, sha) == 0 &&
                               strcmp(s->bad_tests_sha, t.sha) == 0 &&
                               (!s->bad_conflict || s->bad_claims == reg->claims)));
    if (s != NULL) {
        s->size = st->st_size, s->ino = st->st_ino, s->mtime = st->st_mtim;
        memcpy(s->tests_stamp, stamp, sizeof s->tests_stamp);
        if (known && published && s->error != NULL) {
            /* reverted to the published version: the rejected one no longer matters */
            free(s->error);
            s->error = NULL;
            recount_errors_locked(reg);
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (s == NULL || known) {
        tests_free(&t);
        free(src);
        return;
    }
    j->todo = 1;
    j->src = src, j->len = len, j->t = t;
    memcpy(j->sha, sha, sizeof j->sha);
}

/* Validate a prepared file (no lock held: its scratch VM lives and dies on this thread; keep:
 * see validate_in). */
static void scan_validate(struct eng_scripts *reg, struct scan_job *j, struct scan_vm *keep)
{
    j->d = calloc(1, sizeof *j->d);
    j->rc =
        j->d != NULL
            ? validate_in(reg, keep, j->logical, j->src, j->len, j->name, &j->t, j->d, 0, &j->err)
            : eng_err_set(&j->err, ENG_ENOMEM, "out of memory validating %s", j->logical);
}

/* Publish a validated file, or record why it was rejected. */
static void scan_commit(struct eng_scripts *reg, struct scan_job *j, int *changed)
{
    const char *logical = j->logical;
    struct decl *d = j->d;
    struct eng_err err = j->err;
    int rc = j->rc;
    pthread_mutex_lock(&reg->mu);
    struct script *s = find_locked(reg, logical);
    if (s == NULL) {
        pthread_mutex_unlock(&reg->mu);
        return;
    }
    int published = s->src != NULL && strcmp(s->sha, j->sha) == 0;
    /* one default flow per entity: a version claiming another published mapping's entity is
     * rejected (the one published first keeps it) */
    int conflict = rc == 0 && !published && claims_conflict_locked(reg, logical, d, &err) != 0;
    if (conflict)
        rc = err.code;
    if (rc == 0 && published) {
        /* only its tests changed, and the published version passes them: nothing to swap */
        free(s->error);
        s->error = NULL;
        memcpy(s->tests_sha, j->t.sha, sizeof s->tests_sha);
    } else if (rc == 0) {
        free(s->src);
        free(s->error);
        s->error = NULL;
        s->src = j->src, s->len = j->len;
        memcpy(s->sha, j->sha, sizeof s->sha);
        memcpy(s->tests_sha, j->t.sha, sizeof s->tests_sha);
        if (decl_of(s)->ndefault > 0 || d->ndefault > 0)
            reg->claims++;
        free(s->decl);
        s->decl = NULL;
        if (d->ndefault > 0 || d->nroutes > 0) { /* kept only when it declares something */
            s->decl = d;
            j->d = NULL;
        }
        policy_publish_locked(reg); /* the declarations go live with the version */
        s->generation = atomic_fetch_add(&reg->generation, 1) + 1;
        now_iso(s->loaded_at, sizeof s->loaded_at);
        (*changed)++;
        j->src = NULL;
    } else {
        free(s->error);
        s->error = strdup(err.msg);
        memcpy(s->bad_sha, j->sha, sizeof s->bad_sha);
        memcpy(s->bad_tests_sha, j->t.sha, sizeof s->bad_tests_sha);
        s->bad_conflict = conflict;
        s->bad_claims = reg->claims;
        now_iso(s->error_at, sizeof s->error_at);
    }
    recount_errors_locked(reg);
    int had_old = s->src != NULL;
    pthread_mutex_unlock(&reg->mu);

    if (rc == 0 && !published)
        eng_log_kv(ENG_LOG_INFO, NULL, NULL, "script published",
                   (const char *const[]){"path", logical, "sha256", j->sha, NULL});
    else if (rc != 0)
        eng_log_kv(
            ENG_LOG_WARN, NULL, NULL,
            had_old ? "script rejected; previous version keeps serving"
                    : "script rejected; it has no accepted version",
            (const char *const[]){"path", logical, "sha256", j->sha, "error", err.msg, NULL});
}

static void scan_dir(struct eng_scripts *reg, int root, const char *dir, const char *rel, int depth,
                     struct scan_list *list_out)
{
    if (depth > SCRIPTS_MAX_DEPTH)
        return;
    /* in name order: of two mappings claiming one default, the first published keeps it, the
     * same one at every start */
    struct dirent **list = NULL;
    int nlist = scandir(dir, &list, NULL, alphasort);
    if (nlist < 0)
        return;
    if (reg->inotify_fd >= 0)
        inotify_add_watch(reg->inotify_fd, dir,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                              IN_MODIFY | IN_ATTRIB);
    for (int i = 0; i < nlist; i++) {
        const struct dirent *e = list[i];
        if (e->d_name[0] == '.')
            continue; /* ., .., and editors' hidden swap files */
        char path[4096], logical[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            snprintf(logical, sizeof logical, "%s%s%s", scripts_prefix[root], rel, e->d_name) >=
                (int)sizeof logical)
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s%s/", rel, e->d_name) < (int)sizeof sub)
                scan_dir(reg, root, path, sub, depth + 1, list_out);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (!S_ISREG(st.st_mode) || n < 5 || strcmp(e->d_name + n - 4, ".lua") != 0)
            continue;
        scan_list_add(list_out, path, logical, &st);
    }
    for (int i = 0; i < nlist; i++)
        free(list[i]);
    free(list);
}

/* The first scan's validators: each takes the next file, reads it and validates it, until
 * none is left. */
#define SCRIPTS_VALIDATORS_MAX 4

struct scan_pool {
    struct eng_scripts *reg;
    struct scan_job **jobs; /* costliest first */
    size_t n;
    atomic_size_t next;
};

static void *scan_pool_main(void *arg)
{
    struct scan_pool *p = arg;
    struct scan_vm keep = {0};
    size_t i;
    while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
        scan_prepare(p->reg, p->jobs[i]);
        if (p->jobs[i]->todo)
            scan_validate(p->reg, p->jobs[i], &keep);
    }
    eng_vm_free(keep.vm);
    return NULL;
}

/* What a file's validation costs, roughly, before it is read: a mapping runs its data tests
 * (each runs the mapping), so mappings first, then the larger files. */
static int scan_cost_cmp(const void *a, const void *b)
{
    const struct scan_job *ja = *(struct scan_job *const *)a;
    const struct scan_job *jb = *(struct scan_job *const *)b;
    char na[256], nb[256];
    int ma = mapping_name(ja->logical, na, sizeof na) != NULL;
    int mb = mapping_name(jb->logical, nb, sizeof nb) != NULL;
    if (ma != mb)
        return mb - ma;
    return ja->st.st_size < jb->st.st_size ? 1 : ja->st.st_size > jb->st.st_size ? -1 : 0;
}

/* Read and validate the files of the first scan on up to SCRIPTS_VALIDATORS_MAX threads (this
 * one included, one per online CPU). With nothing published yet, every validation VM reads the
 * files it requires from disk whatever the order, so the outcome is the one of a scan in
 * listing order; the registry's entries are made in that order first, and the commits follow
 * it (the first default_for claim wins). */
static void scan_first(struct eng_scripts *reg, struct scan_list *l)
{
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < l->n; i++)
        (void)get_locked(reg, l->jobs[i].logical); /* out of memory: scan_prepare says so */
    pthread_mutex_unlock(&reg->mu);
    struct scan_pool p = {.reg = reg, .n = l->n};
    p.jobs = calloc(l->n > 0 ? l->n : 1, sizeof(struct scan_job *));
    if (p.jobs == NULL) { /* out of memory: one file after the other, here */
        for (size_t i = 0; i < l->n; i++) {
            scan_prepare(reg, &l->jobs[i]);
            if (l->jobs[i].todo)
                scan_validate(reg, &l->jobs[i], NULL);
        }
        return;
    }
    for (size_t i = 0; i < p.n; i++)
        p.jobs[i] = &l->jobs[i];
    qsort(p.jobs, p.n, sizeof(struct scan_job *), scan_cost_cmp);
    atomic_init(&p.next, 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus > 1 ? (size_t)cpus : 1;
    if (want > SCRIPTS_VALIDATORS_MAX)
        want = SCRIPTS_VALIDATORS_MAX;
    if (want > p.n)
        want = p.n > 0 ? p.n : 1;
    pthread_t th[SCRIPTS_VALIDATORS_MAX];
    size_t started = 0;
    for (size_t i = 1; i < want; i++) {
        if (pthread_create(&th[started], NULL, scan_pool_main, &p) != 0)
            break; /* fewer helpers: this thread takes their share */
        started++;
    }
    scan_pool_main(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(p.jobs);
}

int eng_scripts_scan(struct eng_scripts *reg, int *changed)
{
    int count = 0;
    pthread_mutex_lock(&reg->scan_mu);
    /* each library a scan's validation VMs require is compiled once (lua/chunks.h) */
    eng_chunks_open();
    pthread_mutex_lock(&reg->mu);
    int first = reg->n == 0; /* nothing listed, so nothing published yet */
    for (size_t i = 0; i < reg->n; i++)
        reg->items[i].seen = 0;
    pthread_mutex_unlock(&reg->mu);

    /* Libraries first, so that mappings and connectors validate against them. */
    struct scan_list l = {0};
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/lib", reg->dirs[0]);
    scan_dir(reg, 0, lib, "lib/", 1, &l);
    scan_dir(reg, 0, reg->dirs[0], "", 0, &l);
    scan_dir(reg, 1, reg->dirs[1], "", 0, &l);
    if (first) {
        scan_first(reg, &l);
        for (size_t i = 0; i < l.n; i++)
            if (l.jobs[i].todo)
                scan_commit(reg, &l.jobs[i], &count);
    } else {
        /* one file after the other: each validates against what the earlier ones published */
        for (size_t i = 0; i < l.n; i++) {
            struct scan_job *j = &l.jobs[i];
            scan_prepare(reg, j);
            if (!j->todo)
                continue;
            scan_validate(reg, j, NULL);
            scan_commit(reg, j, &count);
        }
    }
    for (size_t i = 0; i < l.n; i++)
        scan_job_free(&l.jobs[i]);
    free(l.jobs);

    /* Drop what disappeared (compacting the table in place). */
    pthread_mutex_lock(&reg->mu);
    size_t kept = 0;
    int republish = 0;
    for (size_t i = 0; i < reg->n; i++) {
        struct script *s = &reg->items[i];
        if (s->seen) {
            if (kept != i)
                reg->items[kept] = *s;
            kept++;
            continue;
        }
        eng_log_kv(ENG_LOG_INFO, NULL, NULL, "script removed",
                   (const char *const[]){"path", s->logical, NULL});
        if (s->src != NULL) {
            atomic_fetch_add(&reg->generation, 1);
            count++;
            republish = 1;
            if (decl_of(s)->ndefault > 0)
                reg->claims++;
        }
        free(s->decl);
        free(s->logical);
        free(s->src);
        free(s->error);
    }
    reg->n = kept;
    if (republish)
        policy_publish_locked(reg); /* what the removed versions declared goes with them */
    recount_errors_locked(reg);
    pthread_mutex_unlock(&reg->mu);
    eng_chunks_close();
    pthread_mutex_unlock(&reg->scan_mu);
    if (changed != NULL)
        *changed = count;
    return 0;
}

/* ---------- watcher ---------- */

static void *watch_main(void *arg)
{
    struct eng_scripts *reg = arg;
    for (;;) {
        struct pollfd fds[2] = {{reg->stop_pipe[0], POLLIN, 0}, {reg->inotify_fd, POLLIN, 0}};
        int nfds = reg->inotify_fd >= 0 ? 2 : 1;
        int r = poll(fds, (nfds_t)nfds, SCRIPTS_RESCAN_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (fds[0].revents != 0)
            break;
        if (nfds == 2 && (fds[1].revents & POLLIN)) {
            char events[8192];
            struct timespec settle = {0, SCRIPTS_SETTLE_MS * 1000000L};
            nanosleep(&settle, NULL);
            while (read(reg->inotify_fd, events, sizeof events) > 0)
                ; /* drain: one rescan covers every event */
        }
        eng_scripts_scan(reg, NULL);
    }
    return NULL;
}

int eng_scripts_start(struct eng_scripts *reg, struct eng_err *err)
{
    reg->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (reg->inotify_fd < 0)
        eng_logf(ENG_LOG_WARN, "scripts: inotify unavailable (%s); polling every %d ms",
                 strerror(errno), SCRIPTS_RESCAN_MS);
    eng_scripts_scan(reg, NULL);
    if (pipe2(reg->stop_pipe, O_CLOEXEC) != 0)
        return eng_err_set(err, ENG_EIO, "cannot create the watcher's pipe: %s", strerror(errno));
    if (pthread_create(&reg->watcher, NULL, watch_main, reg) != 0)
        return eng_err_set(err, ENG_EIO, "cannot start the script watcher thread");
    reg->watching = 1;
    return 0;
}

void eng_scripts_status_json(struct eng_scripts *reg, struct eng_buf *out)
{
    pthread_mutex_lock(&reg->mu);
    eng_buf_putc(out, '[');
    for (size_t i = 0; i < reg->n; i++) {
        const struct script *s = &reg->items[i];
        const char *kind = strncmp(s->logical, "mappings/", 9) == 0              ? "mapping"
                           : strncmp(s->logical, "scripts/connectors/", 19) == 0 ? "connector"
                                                                                 : "library";
        if (i > 0)
            eng_buf_putc(out, ',');
        eng_buf_puts(out, "{\"path\":");
        eng_buf_json_str(out, s->logical, strlen(s->logical));
        eng_buf_printf(out, ",\"kind\":\"%s\",\"active\":%s", kind,
                       s->src != NULL ? "true" : "false");
        if (s->src != NULL)
            eng_buf_printf(out, ",\"generation\":%llu,\"sha256\":\"%s\",\"loadedAt\":\"%s\"",
                           (unsigned long long)s->generation, s->sha, s->loaded_at);
        if (s->error != NULL) {
            eng_buf_puts(out, ",\"error\":");
            eng_buf_json_str(out, s->error, strlen(s->error));
            eng_buf_printf(out, ",\"errorAt\":\"%s\"", s->error_at);
        } else {
            eng_buf_puts(out, ",\"error\":null");
        }
        eng_buf_putc(out, '}');
    }
    eng_buf_putc(out, ']');
    pthread_mutex_unlock(&reg->mu);
}

/*
 * chunks.c - the compiled-chunk table of a scan (see chunks.h).
 * Owns: the entries (chunk name, the text, the dump of its compiled function), freed when the
 * last window closes. The mutex guards the table and is held while a dump is loaded (loading
 * raises nothing: lua_load reports every error as a status).
 */
#include "lua/chunks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Bytes of texts and dumps kept at most: past this a text is compiled as if no window were open
 * (a scan of huge files costs what it did). */
#define CHUNKS_MAX_BYTES ((size_t)32 << 20)

struct chunk {
    struct chunk *next;
    char *name;
    char *src;
    size_t len;
    char *dump;
    size_t dump_len;
};

static pthread_mutex_t chunks_mu = PTHREAD_MUTEX_INITIALIZER;
static int chunks_windows;   /* open windows */
static struct chunk *chunks; /* newest first */
static size_t chunks_bytes;

static void chunks_free_all(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c->name);
        free(c->src);
        free(c->dump);
        free(c);
        c = next;
    }
}

void eng_chunks_open(void)
{
    pthread_mutex_lock(&chunks_mu);
    chunks_windows++;
    pthread_mutex_unlock(&chunks_mu);
}

void eng_chunks_close(void)
{
    struct chunk *drop = NULL;
    pthread_mutex_lock(&chunks_mu);
    if (chunks_windows > 0 && --chunks_windows == 0) {
        drop = chunks;
        chunks = NULL;
        chunks_bytes = 0;
    }
    pthread_mutex_unlock(&chunks_mu);
    chunks_free_all(drop);
}

struct dump_buf {
    char *data;
    size_t len, cap;
    int oom;
};

static int dump_write(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    struct dump_buf *b = ud;
    if (b->oom)
        return 1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->oom = 1;
            return 1;
        }
        b->data = d, b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Keep the dump of the function on top of L's stack for (chunkname, src). Any failure only
 * means the next VM compiles the text again. */
static void chunks_add(lua_State *L, const char *src, size_t len, const char *chunkname)
{
    struct dump_buf b = {0};
    struct chunk *c = calloc(1, sizeof *c);
    if (c == NULL || lua_dump(L, dump_write, &b, 0) != 0 || b.oom)
        goto fail;
    c->name = strdup(chunkname);
    c->src = malloc(len > 0 ? len : 1);
    if (c->name == NULL || c->src == NULL)
        goto fail;
    memcpy(c->src, src, len);
    c->len = len;
    c->dump = b.data, c->dump_len = b.len;
    b.data = NULL;
    pthread_mutex_lock(&chunks_mu);
    /* still open, still room, and not added meanwhile by another validator */
    int keep = chunks_windows > 0 && chunks_bytes + len + c->dump_len <= CHUNKS_MAX_BYTES;
    for (struct chunk *o = chunks; keep && o != NULL; o = o->next)
        if (o->len == len && strcmp(o->name, chunkname) == 0 && memcmp(o->src, src, len) == 0)
            keep = 0;
    if (keep) {
        c->next = chunks;
        chunks = c;
        chunks_bytes += len + c->dump_len;
        c = NULL;
    }
    pthread_mutex_unlock(&chunks_mu);
fail:
    free(b.data);
    chunks_free_all(c);
}

int eng_chunks_load(lua_State *L, const char *src, size_t len, const char *chunkname)
{
    pthread_mutex_lock(&chunks_mu);
    int open = chunks_windows > 0;
    for (struct chunk *c = open ? chunks : NULL; c != NULL; c = c->next) {
        if (c->len != len || strcmp(c->name, chunkname) != 0 || memcmp(c->src, src, len) != 0)
            continue;
        /* the dump of this very text: mode "b" reads nothing else */
        int st = luaL_loadbufferx(L, c->dump, c->dump_len, chunkname, "b");
        pthread_mutex_unlock(&chunks_mu);
        return st;
    }
    pthread_mutex_unlock(&chunks_mu);
    int st = luaL_loadbufferx(L, src, len, chunkname, "t");
    if (st == LUA_OK && open)
        chunks_add(L, src, len, chunkname);
    return st;
}

/*
 * test_api_tokens.c - data/api_tokens.c: a token's hash finds its tenant until it is revoked
 * or expires, use is recorded at most once a minute, the list filters by tenant.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/api_tokens.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "test_api_tokens"
#include "store_fixture.h"

static void text(struct eng_store *st, const char *sql, char *out, size_t size)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    out[0] = '\0';
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err) == 0 &&
        eng_store_step(s, &err) == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 0, NULL);
        snprintf(out, size, "%s", v != NULL ? v : "(null)");
    }
    eng_store_finalize(s);
}

struct seen {
    int n;
    char names[4][32];
    char last_used[4][40];
};

static void collect(void *ud, const struct eng_api_token *t)
{
    struct seen *s = ud;
    if (s->n < 4) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s/%s", t->tenant, t->name);
        snprintf(s->last_used[s->n], sizeof s->last_used[0], "%s",
                 t->last_used_at != NULL ? t->last_used_at : "never");
    }
    s->n++;
}

static void test_tokens(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char tenant[65], v[64];
    long long id1 = 0, id2 = 0;
    CHECK_INT(eng_api_tokens_insert(st, "t1", "ci", "aa11", "ts_aaaaaaa", &id1, &err), 0);
    CHECK_INT(eng_api_tokens_insert(st, "t2", "", "bb22", "ts_bbbbbbb", &id2, &err), 0);
    CHECK(id1 > 0 && id2 > id1);

    CHECK_INT(eng_api_tokens_lookup(st, "aa11", tenant, sizeof tenant, &err), 1);
    CHECK_STR(tenant, "t1");
    CHECK_INT(eng_api_tokens_lookup(st, "cc33", tenant, sizeof tenant, &err), 0);
    /* a tenant that does not fit is not an answer */
    CHECK_INT(eng_api_tokens_lookup(st, "aa11", tenant, 2, &err), 0);

    /* use is recorded once, then not again within the minute */
    text(st, "SELECT last_used_at FROM api_tokens WHERE token_hash = 'aa11'", v, sizeof v);
    CHECK_STR(v, "(null)");
    CHECK_INT(eng_api_tokens_touch(st, "aa11", &err), 0);
    text(st, "SELECT last_used_at FROM api_tokens WHERE token_hash = 'aa11'", v, sizeof v);
    CHECK(strlen(v) == 24 && v[23] == 'Z');
    REQUIRE(eng_store_exec(st,
                           "UPDATE api_tokens SET last_used_at = '2020-01-01T00:00:00.000Z'"
                           " WHERE token_hash = 'aa11'",
                           &err) == 0);
    CHECK_INT(eng_api_tokens_touch(st, "aa11", &err), 0);
    text(st, "SELECT last_used_at > '2021' FROM api_tokens WHERE token_hash = 'aa11'", v, sizeof v);
    CHECK_STR(v, "1");
    text(st, "SELECT last_used_at FROM api_tokens WHERE token_hash = 'aa11'", v, sizeof v);
    char first[64];
    snprintf(first, sizeof first, "%s", v);
    CHECK_INT(eng_api_tokens_touch(st, "aa11", &err), 0);
    text(st, "SELECT last_used_at FROM api_tokens WHERE token_hash = 'aa11'", v, sizeof v);
    CHECK_STR(v, first);

    /* the list: every tenant, or one */
    struct seen all = {0}, one = {0};
    CHECK_INT(eng_api_tokens_list(st, NULL, collect, &all, &err), 0);
    CHECK_INT(all.n, 2);
    CHECK_STR(all.names[0], "t1/ci");
    CHECK_STR(all.names[1], "t2/");
    CHECK_STR(all.last_used[1], "never");
    CHECK_INT(eng_api_tokens_list(st, "t2", collect, &one, &err), 0);
    CHECK_INT(one.n, 1);
    CHECK_STR(one.names[0], "t2/");

    /* revoked: found no more, and revoking again changes nothing */
    CHECK_INT(eng_api_tokens_revoke(st, id1, &err), 1);
    CHECK_INT(eng_api_tokens_revoke(st, id1, &err), 0);
    CHECK_INT(eng_api_tokens_revoke(st, 999, &err), 0);
    CHECK_INT(eng_api_tokens_lookup(st, "aa11", tenant, sizeof tenant, &err), 0);
    /* expired: found no more */
    REQUIRE(eng_store_exec(st,
                           "UPDATE api_tokens SET expires_at = '2020-01-01T00:00:00.000Z'"
                           " WHERE token_hash = 'bb22'",
                           &err) == 0);
    CHECK_INT(eng_api_tokens_lookup(st, "bb22", tenant, sizeof tenant, &err), 0);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_tokens))

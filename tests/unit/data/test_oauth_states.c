/*
 * test_oauth_states.c - data/oauth_states.c: a state is consumed once, only before its expiry,
 * only for its platform; a released state can be consumed again; old rows are dropped.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/oauth_states.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "test_oauth_states"
#include "store_fixture.h"

static long long count(struct eng_store *st)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    long long n = -1;
    if (eng_store_prepare(st, "SELECT count(*) FROM oauth_states", -1, ENG_STORE_TRUSTED, &s,
                          &err) == 0 &&
        eng_store_step(s, &err) == ENG_STORE_ROW)
        n = (long long)eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return n;
}

static void test_states(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char expires[40], tenant[65];
    CHECK_INT(
        eng_oauth_states_insert(st, "h1", "t1", "quickbooks", 600, expires, sizeof expires, &err),
        0);
    CHECK(strlen(expires) == 24 && expires[23] == 'Z');
    /* another platform does not see it */
    CHECK_INT(eng_oauth_states_consume(st, "h1", "xero", tenant, sizeof tenant, &err), 0);
    /* once */
    CHECK_INT(eng_oauth_states_consume(st, "h1", "quickbooks", tenant, sizeof tenant, &err), 1);
    CHECK_STR(tenant, "t1");
    CHECK_INT(eng_oauth_states_consume(st, "h1", "quickbooks", tenant, sizeof tenant, &err), 0);
    /* given back: once more */
    eng_oauth_states_release(st, "h1");
    CHECK_INT(eng_oauth_states_consume(st, "h1", "quickbooks", tenant, sizeof tenant, &err), 1);
    /* expired: refused; a day past expiry: dropped at the next insert */
    CHECK_INT(
        eng_oauth_states_insert(st, "h2", "t1", "quickbooks", -10, expires, sizeof expires, &err),
        0);
    CHECK_INT(eng_oauth_states_consume(st, "h2", "quickbooks", tenant, sizeof tenant, &err), 0);
    CHECK_INT(eng_oauth_states_insert(st, "h3", "t1", "quickbooks", -2 * 86400, expires,
                                      sizeof expires, &err),
              0);
    CHECK_INT(count(st), 3);
    CHECK_INT(
        eng_oauth_states_insert(st, "h4", "t1", "quickbooks", 600, expires, sizeof expires, &err),
        0);
    CHECK_INT(count(st), 3); /* h3 went */
    /* a tenant longer than the buffer is no answer */
    CHECK_INT(eng_oauth_states_consume(st, "h4", "quickbooks", tenant, 2, &err), 0);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_states))

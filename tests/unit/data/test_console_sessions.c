/*
 * test_console_sessions.c - data/console_sessions.c: a session is found by the hash of its
 * cookie value until it expires or is deleted; it keeps its principal (a tenant's token hash,
 * or the administrator's fingerprint, never both); expired rows are pruned at the next login;
 * one principal keeps its newest ENG_CONSOLE_SESSIONS_PER_PRINCIPAL; use is recorded at most
 * once a minute; known_tenants lists every tenant the store knows.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/api_tokens.h"
#include "data/console_sessions.h"

#include <stdio.h>
#include <string.h>

#define STORE_FIXTURE_NAME "test_console_sessions"
#include "store_fixture.h"

/* "000...0d": 64 characters */
#define Z64(d) "000000000000000000000000000000000000000000000000000000000000000" d

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

/* a 64-character hex id made of one repeated digit */
static const char *hid(char buf[65], char ch)
{
    memset(buf, ch, 64);
    buf[64] = '\0';
    return buf;
}

static struct eng_console_session tenant_session(const char *tenant, char token_ch)
{
    struct eng_console_session s;
    memset(&s, 0, sizeof s);
    snprintf(s.tenant, sizeof s.tenant, "%s", tenant);
    memset(s.token_hash, token_ch, 64);
    return s;
}

static void test_create_lookup_delete(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char id[65], v[256];
    struct eng_console_session s = tenant_session("t1", 'a'), got;
    CHECK_INT(eng_console_sessions_create(st, hid(id, '1'), &s, 3600, &err), 0);
    CHECK(strlen(s.expires_at) == 24 && s.expires_at[23] == 'Z');
    text(st,
         "SELECT expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+3590 seconds') AND "
         "expires_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+3610 seconds') FROM "
         "console_sessions",
         v, sizeof v);
    CHECK_STR(v, "1");
    /* the row holds the hash it was given and the principal, nothing else */
    text(st,
         "SELECT id_hash || '|' || tenant_id || '|' || is_admin || '|' || token_hash || '|' "
         "|| coalesce(admin_fp, 'null') FROM console_sessions",
         v, sizeof v);
    char want[200];
    snprintf(want, sizeof want, "%s|t1|0|%s|null", hid(id, '1'), s.token_hash);
    CHECK_STR(v, want);

    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '1'), &got, &err), 1);
    CHECK_STR(got.tenant, "t1");
    CHECK_INT(got.admin, 0);
    CHECK_STR(got.token_hash, s.token_hash);
    CHECK_STR(got.admin_fp, "");
    CHECK_STR(got.expires_at, s.expires_at);
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '2'), &got, &err), 0);
    CHECK_STR(got.tenant, "");

    /* an administrator's: the fingerprint, no token */
    struct eng_console_session a;
    memset(&a, 0, sizeof a);
    snprintf(a.tenant, sizeof a.tenant, "default");
    a.admin = 1;
    memset(a.admin_fp, 'f', 64);
    CHECK_INT(eng_console_sessions_create(st, hid(id, '3'), &a, 60, &err), 0);
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '3'), &got, &err), 1);
    CHECK_INT(got.admin, 1);
    CHECK_STR(got.admin_fp, a.admin_fp);
    CHECK_STR(got.token_hash, "");

    /* the same id twice is refused (the cookie value is random: a clash is a bug) */
    CHECK(eng_console_sessions_create(st, hid(id, '1'), &s, 60, &err) < 0);
    /* a row that is both, or neither, is refused by the schema */
    CHECK(eng_store_exec(st,
                         "INSERT INTO console_sessions (id_hash, tenant_id, is_admin, token_hash, "
                         "admin_fp, expires_at) VALUES ('" Z64("9") "', 't', 1, 'x', 'y', "
                                                                    "'2999-01-01T00:00:00.000Z')",
                         &err) != 0);
    CHECK(eng_store_exec(st,
                         "INSERT INTO console_sessions (id_hash, tenant_id, is_admin, expires_at) "
                         "VALUES ('" Z64("8") "', 't', 0, '2999-01-01T00:00:00.000Z')",
                         &err) != 0);

    /* deleted: found no more; deleting again changes nothing */
    CHECK_INT(eng_console_sessions_delete(st, hid(id, '1'), &err), 1);
    CHECK_INT(eng_console_sessions_delete(st, hid(id, '1'), &err), 0);
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '1'), &got, &err), 0);
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '3'), &got, &err), 1);
    done(st);
}

static void test_expiry_and_prune(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char id[65], v[64];
    struct eng_console_session s = tenant_session("t1", 'a'), got;
    CHECK_INT(eng_console_sessions_create(st, hid(id, '1'), &s, 3600, &err), 0);
    CHECK_INT(eng_console_sessions_create(st, hid(id, '2'), &s, 3600, &err), 0);
    REQUIRE(eng_store_exec(st,
                           "UPDATE console_sessions SET expires_at = '2020-01-01T00:00:00.000Z' "
                           "WHERE id_hash LIKE '1%'",
                           &err) == 0);
    /* expired: not found, though the row is still there until a prune */
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '1'), &got, &err), 0);
    text(st, "SELECT COUNT(*) FROM console_sessions", v, sizeof v);
    CHECK_STR(v, "2");
    CHECK_INT(eng_console_sessions_prune(st, &err), 1);
    text(st, "SELECT COUNT(*) FROM console_sessions", v, sizeof v);
    CHECK_STR(v, "1");
    CHECK_INT(eng_console_sessions_lookup(st, hid(id, '2'), &got, &err), 1);
    /* a login prunes too */
    REQUIRE(eng_store_exec(st,
                           "UPDATE console_sessions SET expires_at = '2020-01-01T00:00:00.000Z'",
                           &err) == 0);
    struct eng_console_session o = tenant_session("t2", 'b');
    CHECK_INT(eng_console_sessions_create(st, hid(id, '3'), &o, 60, &err), 0);
    text(st, "SELECT group_concat(tenant_id) FROM console_sessions", v, sizeof v);
    CHECK_STR(v, "t2");
    done(st);
}

static void test_cap_per_principal(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char id[65], v[64];
    const int extra = 3;
    struct eng_console_session s = tenant_session("t1", 'a');
    struct eng_console_session other = tenant_session("t1", 'b');
    CHECK_INT(eng_console_sessions_create(st,
                                          "b"
                                          "0000000000000000000000000000000000000000000000"
                                          "00000000000000000",
                                          &other, 60, &err),
              0);
    for (int i = 0; i < ENG_CONSOLE_SESSIONS_PER_PRINCIPAL + extra; i++) {
        snprintf(id, sizeof id, "%064d", i + 1);
        CHECK_INT(eng_console_sessions_create(st, id, &s, 60, &err), 0);
    }
    snprintf(v, sizeof v, "%d", ENG_CONSOLE_SESSIONS_PER_PRINCIPAL);
    char n[64];
    text(st, "SELECT COUNT(*) FROM console_sessions WHERE token_hash LIKE 'a%'", n, sizeof n);
    CHECK_STR(n, v);
    /* the oldest went, the newest stayed; another token's session is untouched */
    struct eng_console_session got;
    snprintf(id, sizeof id, "%064d", 1);
    CHECK_INT(eng_console_sessions_lookup(st, id, &got, &err), 0);
    snprintf(id, sizeof id, "%064d", ENG_CONSOLE_SESSIONS_PER_PRINCIPAL + extra);
    CHECK_INT(eng_console_sessions_lookup(st, id, &got, &err), 1);
    text(st, "SELECT COUNT(*) FROM console_sessions WHERE token_hash LIKE 'b%'", n, sizeof n);
    CHECK_STR(n, "1");
    done(st);
}

static void test_touch(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char id[65], v[64], first[64];
    struct eng_console_session s = tenant_session("t1", 'a');
    CHECK_INT(eng_console_sessions_create(st, hid(id, '1'), &s, 60, &err), 0);
    REQUIRE(eng_store_exec(st,
                           "UPDATE console_sessions SET last_seen_at = '2020-01-01T00:00:00.000Z'",
                           &err) == 0);
    CHECK_INT(eng_console_sessions_touch(st, hid(id, '1'), &err), 0);
    text(st, "SELECT last_seen_at FROM console_sessions", first, sizeof first);
    CHECK(strcmp(first, "2021") > 0);
    CHECK_INT(eng_console_sessions_touch(st, hid(id, '1'), &err), 0);
    text(st, "SELECT last_seen_at FROM console_sessions", v, sizeof v);
    CHECK_STR(v, first); /* not again within the minute */
    done(st);
}

struct names {
    int n;
    char all[256];
};

static void collect(void *ud, const char *tenant)
{
    struct names *l = ud;
    size_t used = strlen(l->all);
    snprintf(l->all + used, sizeof l->all - used, "%s%s", l->n++ ? "," : "", tenant);
}

static void test_known_tenants(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    CHECK_INT(eng_api_tokens_insert(st, "tok", "", "aa11", "ts_a", NULL, &err), 0);
    REQUIRE(eng_store_exec(st,
                           "INSERT INTO settings (tenant_id, key, value) VALUES ('set', 'k', '{}');"
                           "INSERT INTO tenants (id) VALUES ('row');"
                           "INSERT INTO settings (tenant_id, key, value) VALUES ('tok', 'k', '{}')",
                           &err) == 0);
    struct names l = {0, ""};
    CHECK_INT(eng_console_tenants_list(st, collect, &l, &err), 0);
    CHECK_STR(l.all, "default,row,set,tok"); /* each once, in order */
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_create_lookup_delete), CHECK_CASE(test_expiry_and_prune),
           CHECK_CASE(test_cap_per_principal), CHECK_CASE(test_touch),
           CHECK_CASE(test_known_tenants))

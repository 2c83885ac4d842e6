/*
 * test_ingest.c - engine/flow/ingest.c against a real, migrated SQLite file: an item's done()
 * comes only after its rows are committed (another connection sees them), the webhook_events
 * row and the sync_queue job it makes, dedupe of deliveries and of jobs (pending covers, running
 * gets K#event), the replay window's stale events, unrouted QuickBooks events and their replay,
 * many submitters sharing group commits, the start-up catch-up sweep, and store errors in the
 * log: at most 20 lines a minute, the rest counted.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt/store.h"
#include "check.h"
#include "flow/ingest.h"
#include "base/policy.h"
#include "webhook/webhook.h"

static char dbpath[128];

static const char *schema_dir(void)
{
    const char *d = getenv("SCHEMA_DIR");
    return d != NULL ? d : "schema";
}

/* A fresh migrated database file (dbpath); 0 or -1. */
static int fresh(void)
{
    char dir[] = "/tmp/test_ingest.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/i.db", dir);
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    int rc = eng_store_open(dbpath, &st, &err);
    if (rc == 0)
        rc = eng_store_migrate(st, schema_dir(), NULL, &err);
    if (rc != 0)
        fprintf(stderr, "setup: %s\n", err.msg);
    eng_store_close(st);
    return rc == 0 ? 0 : -1;
}

static struct eng_store *conn(void)
{
    struct eng_store *st = NULL;
    return eng_store_open(dbpath, &st, NULL) == 0 ? st : NULL;
}

/* First column of the first row of sql (with optional text parameter ?1) on a new connection:
 * an integer, or -999 when there is no row. */
static long long q_int(const char *sql, const char *p1)
{
    struct eng_store *st = conn();
    struct eng_store_stmt *s = NULL;
    long long v = -999;
    if (st != NULL && eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
        if (p1 != NULL)
            eng_store_bind_str(s, 1, p1);
        if (eng_store_step(s, NULL) == ENG_STORE_ROW)
            v = eng_store_column_int64(s, 0);
    }
    eng_store_finalize(s);
    eng_store_close(st);
    return v;
}

/* The same as text into a static buffer ("(null)" for SQL NULL, "(none)" for no row). */
static const char *q_text(const char *sql, const char *p1)
{
    static char out[1024];
    struct eng_store *st = conn();
    struct eng_store_stmt *s = NULL;
    snprintf(out, sizeof out, "(none)");
    if (st != NULL && eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
        if (p1 != NULL)
            eng_store_bind_str(s, 1, p1);
        if (eng_store_step(s, NULL) == ENG_STORE_ROW) {
            size_t n = 0;
            const char *t = eng_store_column_text(s, 0, &n);
            snprintf(out, sizeof out, "%.*s", t != NULL ? (int)n : 6, t != NULL ? t : "(null)");
        }
    }
    eng_store_finalize(s);
    eng_store_close(st);
    return out;
}

static void exec(const char *sql)
{
    struct eng_store *st = conn();
    struct eng_err err = {0};
    if (st == NULL || eng_store_exec(st, sql, &err) != 0)
        fprintf(stderr, "exec: %s: %s\n", sql, err.msg);
    eng_store_close(st);
}

/* ---- submitting and waiting ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* What a submitter waits on (the item's ud). */
struct waiter {
    int done;
    long long *seen; /* NULL, or: events * 1000 + jobs as another connection sees them */
};

/* Called by the writer: the commit has returned, so another connection sees the rows. */
static void on_done(struct eng_ingest_item *it)
{
    struct waiter *w = it->ud;
    if (w->seen != NULL)
        *w->seen = q_int("SELECT count(*) FROM webhook_events", NULL) * 1000 +
                   q_int("SELECT count(*) FROM sync_queue", NULL);
    pthread_mutex_lock(&mu);
    w->done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int run_item(struct eng_ingest *ing, struct eng_ingest_item *it, long long *seen)
{
    struct waiter w = {0, seen};
    it->done = on_done;
    it->ud = &w;
    int rc = eng_ingest_submit(ing, it);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&mu);
    while (!w.done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    it->ud = NULL;
    return it->rc;
}

static struct eng_ingest *start(int64_t window)
{
    struct eng_ingest_opts o = {.window_s = window, .sync_full = 1};
    struct eng_ingest *ing = NULL;
    struct eng_err err = {0};
    if (eng_ingest_start(dbpath, &o, &ing, &err) != 0)
        fprintf(stderr, "start: %s\n", err.msg);
    return ing;
}

/* One WooCommerce order.updated delivery for tenant into the store; the item's outcome. */
static struct eng_ingest_item woo(struct eng_ingest *ing, const char *tenant, const char *delivery,
                                  const char *order_id, long long *seen)
{
    char body[128];
    snprintf(body, sizeof body, "{\"id\":%s,\"status\":\"processing\"}", order_id);
    struct eng_webhook_woo_headers h = {.source = "https://shop.example",
                                        .topic = "order.updated",
                                        .resource = "order",
                                        .event = "updated",
                                        .delivery_id = delivery};
    struct eng_webhook_event ev;
    struct eng_ingest_item it = {.kind = ENG_INGEST_EVENTS};
    static const struct eng_policy_routes routes = {1, {{"order", "orders"}}};
    if (eng_webhook_parse_woo(tenant, &h, body, strlen(body), &routes, &ev) != 0) {
        it.rc = -12345;
        return it;
    }
    it.events = &ev;
    it.nevents = 1;
    it.headers_json = "{\"x-wc-webhook-topic\":\"order.updated\"}";
    run_item(ing, &it, seen);
    free(ev.jobs);
    it.events = NULL;
    return it;
}

/* One QuickBooks CloudEvent (Invoice entity, updated) received at now with the writer's window. */
static struct eng_ingest_item qbo(struct eng_ingest *ing, const char *id, const char *realm,
                                  const char *entity_id, const char *time, int64_t now)
{
    char body[512];
    snprintf(body, sizeof body,
             "[{\"specversion\":\"1.0\",\"id\":\"%s\",\"type\":\"qbo.invoice.updated.v1\","
             "\"intuitentityid\":\"%s\",\"intuitaccountid\":\"%s\",\"time\":\"%s\"}]",
             id, entity_id, realm, time);
    struct eng_webhook_event *ev = NULL;
    int n = 0;
    struct eng_ingest_item it = {.kind = ENG_INGEST_EVENTS};
    if (eng_webhook_parse_qbo(body, strlen(body), now, eng_ingest_window(ing), &ev, &n, NULL) !=
        0) {
        it.rc = -12345;
        return it;
    }
    it.events = ev;
    it.nevents = n;
    it.headers_json = "{}";
    run_item(ing, &it, NULL);
    eng_webhook_events_free(ev, n);
    it.events = NULL;
    return it;
}

static struct eng_ingest_item replay(struct eng_ingest *ing, long long id, const char *tenant,
                                     int admin)
{
    struct eng_ingest_item it = {.kind = ENG_INGEST_REPLAY, .replay_id = id, .replay_admin = admin};
    snprintf(it.replay_tenant, sizeof it.replay_tenant, "%s", tenant);
    run_item(ing, &it, NULL);
    return it;
}

#define T2026 1767225600 /* 2026-01-01T00:00:00Z */

/* ---- tests ---- */

static void test_accept_and_queue(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *ing = start(86400);
    REQUIRE(ing != NULL);
    long long seen = -1;
    struct eng_ingest_item it = woo(ing, "t1", "d1", "727", &seen);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.stored, 1);
    CHECK_INT(it.jobs, 1);
    CHECK_INT(it.duplicates + it.rejected + it.unrouted + it.ignored, 0);
    CHECK_INT(seen, 1001); /* durable before done(): a second connection saw event and job */

    long long ev = q_int("SELECT id FROM webhook_events", NULL);
    CHECK(ev > 0);
    CHECK_STR(q_text("SELECT source || '|' || format || '|' || tenant_id || '|' || account_id || "
                     "'|' || event_id || '|' || topic || '|' || resource || '|' || resource_id || "
                     "'|' || status || '|' || signature_valid || '|' || headers FROM "
                     "webhook_events",
                     NULL),
              "woocommerce|woocommerce|t1|https://shop.example|d1|order.updated|order|727|queued|1|"
              "{\"x-wc-webhook-topic\":\"order.updated\"}");
    CHECK_STR(q_text("SELECT CAST(body AS TEXT) FROM webhook_events", NULL),
              "{\"id\":727,\"status\":\"processing\"}");
    CHECK_STR(q_text("SELECT coalesce(error, 'none') || coalesce(event_time, '-') FROM "
                     "webhook_events",
                     NULL),
              "none-");
    CHECK_STR(q_text("SELECT tenant_id || '|' || kind || '|' || entity || '|' || priority || '|' "
                     "|| dedupe_key || '|' || status FROM sync_queue",
                     NULL),
              "t1|record|orders|10|woocommerce:orders:727|pending");
    CHECK_INT(q_int("SELECT webhook_event_id FROM sync_queue", NULL), ev);
    char want[256];
    snprintf(want, sizeof want,
             "{\"source\":\"woocommerce\",\"entity\":\"orders\",\"id\":\"727\",\"event\":"
             "\"updated\",\"webhookEventId\":%lld}",
             ev);
    CHECK_STR(q_text("SELECT payload FROM sync_queue", NULL), want);

    struct eng_buf m;
    eng_buf_init(&m);
    eng_ingest_metrics(ing, &m);
    CHECK(m.data != NULL &&
          strstr(m.data, "tallysync_webhook_ingested_total{outcome=\"stored\"} 1\n") != NULL);
    eng_buf_free(&m);
    eng_ingest_stop(ing);
}

static void test_dedupe(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *ing = start(86400);
    REQUIRE(ing != NULL);
    CHECK_INT(woo(ing, "t1", "d1", "727", NULL).jobs, 1);
    /* the same delivery again (a retry): stored once, no second job */
    struct eng_ingest_item it = woo(ing, "t1", "d1", "727", NULL);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.duplicates, 1);
    CHECK_INT(it.stored, 0);
    CHECK_INT(it.jobs, 0);
    CHECK_INT(q_int("SELECT count(*) FROM webhook_events", NULL), 1);
    /* another delivery for the same record: stored, but the pending job covers it */
    it = woo(ing, "t1", "d2", "727", NULL);
    CHECK_INT(it.stored, 1);
    CHECK_INT(it.jobs, 0);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue", NULL), 1);
    /* the job is running: the change may come after its read, so K#event is queued */
    exec("UPDATE sync_queue SET status = 'running', lease_owner = 'w1', lease_expires_at = "
         "'2999-01-01T00:00:00.000Z'");
    it = woo(ing, "t1", "d3", "727", NULL);
    CHECK_INT(it.jobs, 1);
    long long d3 = q_int("SELECT id FROM webhook_events WHERE event_id = 'd3'", NULL);
    char key[64];
    snprintf(key, sizeof key, "woocommerce:orders:727#%lld", d3);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue WHERE dedupe_key = ?1 AND status = "
                    "'pending'",
                    key),
              1);
    /* ... and that pending K#n covers the next change while K still runs */
    it = woo(ing, "t1", "d4", "727", NULL);
    CHECK_INT(it.stored, 1);
    CHECK_INT(it.jobs, 0);
    /* no delivery id: never deduplicated as a delivery */
    CHECK_INT(woo(ing, "t1", NULL, "800", NULL).stored, 1);
    CHECK_INT(woo(ing, "t1", NULL, "800", NULL).stored, 1);
    CHECK_INT(q_int("SELECT count(*) FROM webhook_events WHERE resource_id = '800' AND event_id "
                    "IS NULL",
                    NULL),
              2);
    /* another tenant, the same record id: its own job */
    CHECK_INT(woo(ing, "t2", "d1-t2", "727", NULL).jobs, 1);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue WHERE tenant_id = 't2'", NULL), 1);
    eng_ingest_stop(ing);
}

static void test_replay_window(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *off = start(0);
    REQUIRE(off != NULL);
    CHECK(eng_ingest_window(off) == 0);
    eng_ingest_stop(off);
    struct eng_ingest *ing = start(3600);
    REQUIRE(ing != NULL);
    CHECK(eng_ingest_window(ing) == 3600);
    exec("INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id, "
         "external_account_id) VALUES ('t1', 'quickbooks', x'00', 'k', '4242')");
    /* and proven (data/realm_owners.h): a typed realm alone routes nothing */
    exec("INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by) VALUES "
         "('quickbooks', '4242', 't1', 'connection_test')");
    /* inside the window: routed by realm and queued */
    struct eng_ingest_item it = qbo(ing, "e1", "4242", "1", "2026-01-01T00:00:00Z", T2026 + 3599);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.jobs, 1);
    CHECK_STR(q_text("SELECT tenant_id || '|' || status || '|' || event_time FROM "
                     "webhook_events WHERE event_id = 'e1'",
                     NULL),
              "t1|queued|2026-01-01T00:00:00Z");
    CHECK_STR(q_text("SELECT dedupe_key FROM sync_queue", NULL), "quickbooks:4242:Invoice:1");
    /* older than the window: kept for audit as rejected (stale), no job */
    it = qbo(ing, "e2", "4242", "2", "2026-01-01T00:00:00Z", T2026 + 3601);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.stored, 1);
    CHECK_INT(it.rejected, 1);
    CHECK_INT(it.stale, 1);
    CHECK_INT(it.jobs, 0);
    CHECK_STR(q_text("SELECT status FROM webhook_events WHERE event_id = 'e2'", NULL), "rejected");
    CHECK(strstr(q_text("SELECT error FROM webhook_events WHERE event_id = 'e2'", NULL),
                 "WEBHOOK_REPLAY_WINDOW_SECONDS") != NULL);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue", NULL), 1);
    /* a stale event is replayed on request (the window guards deliveries, not the operator) */
    long long e2 = q_int("SELECT id FROM webhook_events WHERE event_id = 'e2'", NULL);
    it = replay(ing, e2, "t1", 0);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.jobs, 1);
    CHECK_STR(q_text("SELECT status FROM webhook_events WHERE event_id = 'e2'", NULL), "queued");
    /* a malformed event has nothing to replay */
    const char *bad = "[{\"specversion\":\"1.0\",\"id\":\"e3\",\"type\":\"bogus\","
                      "\"intuitentityid\":\"3\",\"intuitaccountid\":\"4242\"}]";
    struct eng_webhook_event *ev = NULL;
    int n = 0;
    REQUIRE(eng_webhook_parse_qbo(bad, strlen(bad), T2026, 3600, &ev, &n, NULL) == 0);
    struct eng_ingest_item bi = {
        .kind = ENG_INGEST_EVENTS, .events = ev, .nevents = n, .headers_json = "{}"};
    CHECK_INT(run_item(ing, &bi, NULL), 0);
    CHECK_INT(bi.rejected, 1);
    CHECK_INT(bi.stale, 0);
    eng_webhook_events_free(ev, n);
    it = replay(ing, q_int("SELECT id FROM webhook_events WHERE event_id = 'e3'", NULL), "t1", 0);
    CHECK_INT(it.rc, ENG_EINVAL);
    CHECK(strstr(it.error, "nothing to sync") != NULL);
    eng_ingest_stop(ing);
}

static void test_unrouted_then_replay(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *ing = start(0);
    REQUIRE(ing != NULL);
    /* no tenant has connected realm 4242: stored as unrouted, no job */
    struct eng_ingest_item it = qbo(ing, "e1", "4242", "130", "2026-01-01T00:00:00Z", T2026);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.unrouted, 1);
    CHECK_INT(it.jobs, 0);
    long long id = q_int("SELECT id FROM webhook_events", NULL);
    CHECK_STR(
        q_text("SELECT coalesce(tenant_id, 'NULL') || '|' || status FROM webhook_events", NULL),
        "NULL|unrouted");
    /* replaying it before the realm is connected says so; nothing changes */
    it = replay(ing, id, "", 1);
    CHECK_INT(it.rc, ENG_EINVAL);
    CHECK(strstr(it.error, "realm 4242") != NULL);
    /* a tenant that is not the administrator cannot see an unrouted event */
    CHECK_INT(replay(ing, id, "t1", 0).rc, ENG_ENOTFOUND);
    CHECK_INT(replay(ing, id + 100, "", 1).rc, ENG_ENOTFOUND);
    CHECK_INT(q_int("SELECT replay_count FROM webhook_events", NULL), 0);
    /* connected: the replay routes it, queues its job and counts */
    exec("INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id, "
         "external_account_id) VALUES ('t1', 'quickbooks', x'00', 'k', '4242')");
    /* and proven (data/realm_owners.h): a typed realm alone routes nothing */
    exec("INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by) VALUES "
         "('quickbooks', '4242', 't1', 'connection_test')");
    it = replay(ing, id, "", 1);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.jobs, 1);
    CHECK(it.replay_count == 1);
    CHECK_STR(q_text("SELECT tenant_id || '|' || status || '|' || replay_count || '|' || "
                     "(last_replayed_at IS NOT NULL) || '|' || coalesce(error, 'none') FROM "
                     "webhook_events",
                     NULL),
              "t1|queued|1|1|none");
    CHECK_STR(
        q_text("SELECT tenant_id || '|' || entity || '|' || dedupe_key FROM sync_queue", NULL),
        "t1|Invoice|quickbooks:4242:Invoice:130");
    CHECK_INT(q_int("SELECT webhook_event_id FROM sync_queue", NULL), id);
    /* again, now as its tenant: counted, and the pending job covers it */
    it = replay(ing, id, "t1", 0);
    CHECK_INT(it.rc, 0);
    CHECK_INT(it.jobs, 0);
    CHECK(it.replay_count == 2);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue", NULL), 1);
    eng_ingest_stop(ing);
}

/* ---- many submitters, one writer ---- */

#define SUBMITTERS 4
#define PER_THREAD 150

static void *submitter(void *arg)
{
    struct eng_ingest *ing = arg;
    static _Atomic int next_id;
    for (int i = 0; i < PER_THREAD; i++) {
        char delivery[32], order[32];
        int n = atomic_fetch_add(&next_id, 1);
        snprintf(delivery, sizeof delivery, "m%d", n);
        snprintf(order, sizeof order, "%d", 1000 + n);
        struct eng_ingest_item it = woo(ing, "t1", delivery, order, NULL);
        if (it.rc != 0 || it.stored != 1 || it.jobs != 1)
            return (void *)1;
    }
    return NULL;
}

static void test_many_submitters(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *ing = start(0);
    REQUIRE(ing != NULL);
    pthread_t th[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++)
        REQUIRE(pthread_create(&th[i], NULL, submitter, ing) == 0);
    int failed = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        failed += r != NULL;
    }
    CHECK_INT(failed, 0);
    CHECK_INT(q_int("SELECT count(*) FROM webhook_events", NULL), SUBMITTERS * PER_THREAD);
    CHECK_INT(q_int("SELECT count(DISTINCT dedupe_key) FROM sync_queue", NULL),
              SUBMITTERS * PER_THREAD);
    struct eng_ingest_counters *c = eng_ingest_counters(ing);
    CHECK(atomic_load(&c->events_stored) == SUBMITTERS * PER_THREAD);
    CHECK(atomic_load(&c->batch_items) == SUBMITTERS * PER_THREAD);
    CHECK(atomic_load(&c->batches) >= 1 && atomic_load(&c->batches) <= SUBMITTERS * PER_THREAD);
    CHECK(atomic_load(&c->commit_failures) == 0);
    eng_ingest_stop(ing);
}

/* After downtime, one catch-up sweep per tenant and platform that was receiving webhooks. */
static void test_startup_sweep(void)
{
    REQUIRE(fresh() == 0);
    struct eng_ingest *ing = start(0);
    REQUIRE(ing != NULL);
    CHECK_INT(q_int("SELECT count(*) FROM sync_queue WHERE kind = 'sweep'", NULL), 0);
    woo(ing, "t1", "d1", "1", NULL);
    woo(ing, "t2", "d2", "1", NULL); /* t2 has no active credentials: no sweep */
    eng_ingest_stop(ing);
    exec("INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id) VALUES "
         "('t1', 'woocommerce', x'00', 'k')");
    for (int round = 0; round < 2; round++) { /* a second start adds none while one is pending */
        ing = start(0);
        REQUIRE(ing != NULL);
        eng_ingest_stop(ing);
        CHECK_INT(q_int("SELECT count(*) FROM sync_queue WHERE kind = 'sweep'", NULL), 1);
    }
    CHECK_STR(q_text("SELECT tenant_id || '|' || dedupe_key || '|' || priority || '|' || "
                     "json_extract(payload, '$.source') || '|' || json_extract(payload, "
                     "'$.reason') FROM sync_queue WHERE kind = 'sweep'",
                     NULL),
              "t1|sweep:woocommerce|5|woocommerce|startup");
    CHECK_INT(q_int("SELECT json_extract(s.payload, '$.since') = (SELECT max(received_at) FROM "
                    "webhook_events WHERE tenant_id = 't1') FROM sync_queue s WHERE kind = "
                    "'sweep'",
                    NULL),
              1);
}

/* A store that refuses every delivery (a trigger stands in for a full disk): each one fails, is
 * counted, and the log (stderr, captured) gets at most 20 lines of it a minute plus one saying
 * the rest are only counted, not one line per delivery. */
static void test_store_errors_are_rate_limited_in_the_log(void)
{
    REQUIRE(fresh() == 0);
    exec("CREATE TRIGGER t_full BEFORE INSERT ON webhook_events BEGIN SELECT "
         "RAISE(ABORT, 'database or disk is full'); END");
    struct eng_ingest *ing = start(0);
    REQUIRE(ing != NULL);
    char logpath[160];
    snprintf(logpath, sizeof logpath, "%s.log", dbpath);
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
    int failed = 0;
    for (int i = 0; i < 60; i++) {
        char delivery[32];
        snprintf(delivery, sizeof delivery, "full-%d", i);
        failed += woo(ing, "t1", delivery, "1", NULL).rc != 0;
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    CHECK_INT(failed, 60);
    CHECK_INT(q_int("SELECT count(*) FROM webhook_events", NULL), 0);
    int lines = 0, note = 0;
    FILE *f = fopen(logpath, "r");
    REQUIRE(f != NULL);
    char line[2048];
    while (fgets(line, sizeof line, f) != NULL) {
        lines += strstr(line, "webhook ingest: an item") != NULL;
        note += strstr(line, "the rest are counted, not logged") != NULL;
    }
    fclose(f);
    CHECK_INT(lines, 20);
    CHECK_INT(note, 1);
    struct eng_buf m;
    eng_buf_init(&m);
    eng_ingest_metrics(ing, &m);
    CHECK(m.data != NULL && strstr(m.data, "tallysync_webhook_item_failures_total 60\n") != NULL);
    eng_buf_free(&m);
    eng_ingest_stop(ing);
}

CHECK_MAIN(CHECK_CASE(test_accept_and_queue), CHECK_CASE(test_dedupe),
           CHECK_CASE(test_replay_window), CHECK_CASE(test_unrouted_then_replay),
           CHECK_CASE(test_many_submitters), CHECK_CASE(test_startup_sweep),
           CHECK_CASE(test_store_errors_are_rate_limited_in_the_log))

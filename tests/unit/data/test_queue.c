/*
 * test_queue.c - engine/data/queue.c against real, migrated SQLite files: enqueue with dedupe,
 * lanes, leases (extend, expire, take-over), backoff then dead, start-up recovery, and that two
 * threads and two processes claiming from one file never hold the same job; the statements on
 * sync_queue it answers for others (requeued runs, retries of failed records, sweeps).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#define STORE_FIXTURE_NAME "test_queue"
#include "store_fixture.h"
#include "data/queue.h"
#include "adapt/store.h"

/* A fresh migrated store (tests/unit/store_fixture.h: SQLite, or PostgreSQL with
 * STORE_FIXTURE_PG=1); returns a connection to it. */
static struct eng_store *fresh(void)
{
    store_fixture_make();
    return store_fixture_open(1);
}

static long long q_int(struct eng_store *st, const char *sql, int64_t id)
{
    struct eng_store_stmt *s = NULL;
    long long v = -999;
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return v;
    if (eng_store_param_count(s) > 0)
        eng_store_bind_int64(s, 1, id);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW)
        v = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return v;
}

static int64_t add(struct eng_store *st, const char *kind, int prio, const char *dedupe)
{
    struct eng_job_new j = {.tenant = "t1", .kind = kind, .priority = prio, .dedupe_key = dedupe};
    int64_t id = 0;
    struct eng_err err = {0};
    if (eng_queue_enqueue(st, &j, &id, NULL, &err) != 0) {
        fprintf(stderr, "enqueue: %s\n", err.msg);
        return -1;
    }
    return id;
}

static void test_enqueue_dedupe_and_lanes(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int64_t run = add(st, "run", ENG_QUEUE_LANE_BULK, NULL);
    int64_t rec = add(st, "record", ENG_QUEUE_LANE_RECORD, "woocommerce:orders:727");
    REQUIRE(run > 0 && rec > 0);

    /* the same key while pending: no second job, the first one is answered */
    struct eng_job_new j = {.tenant = "t1",
                            .kind = "record",
                            .priority = ENG_QUEUE_LANE_RECORD,
                            .dedupe_key = "woocommerce:orders:727"};
    int64_t id = 0;
    int deduped = 0;
    CHECK_INT(eng_queue_enqueue(st, &j, &id, &deduped, &err), 0);
    CHECK_INT(deduped, 1);
    CHECK_INT(id, rec);
    /* another tenant may use the same key */
    j.tenant = "t2";
    CHECK_INT(eng_queue_enqueue(st, &j, &id, &deduped, &err), 0);
    CHECK_INT(deduped, 0);
    CHECK(id != rec);
    /* bad input names what is missing */
    j.kind = "";
    CHECK_INT(eng_queue_enqueue(st, &j, &id, NULL, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "kind") != NULL);

    /* the record lane goes first even though the run is older */
    struct eng_job job;
    CHECK_INT(eng_queue_claim(st, "w1", 30000, &job, &err), 1);
    CHECK_INT(job.id, rec);
    CHECK_STR(job.kind, "record");
    CHECK_INT(job.attempts, 1);
    CHECK_STR(job.payload, "{}");
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim(st, "w1", 30000, &job, &err), 1);
    CHECK(job.id != run); /* t2's record job is in the record lane too */
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim(st, "w1", 30000, &job, &err), 1);
    CHECK_INT(job.id, run);
    CHECK(eng_queue_complete(st, job.id, "w1", &err) == 0);
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim(st, "w1", 30000, &job, &err), 0);

    /* once done, the key is free again */
    CHECK(eng_queue_complete(st, rec, "w1", &err) == 0);
    j.tenant = "t1", j.kind = "record";
    CHECK_INT(eng_queue_enqueue(st, &j, &id, &deduped, &err), 0);
    CHECK_INT(deduped, 0);
    CHECK(id != rec);
    eng_store_close(st);
}

static void test_claim_min_keeps_a_lane(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int64_t run = add(st, "run", ENG_QUEUE_LANE_BULK, NULL);
    struct eng_job job;
    /* bulk slots full: a bulk job is not taken */
    CHECK_INT(eng_queue_claim_min(st, "w", 60000, ENG_QUEUE_LANE_BULK + 1, &job, &err), 0);
    int64_t rec = add(st, "record", ENG_QUEUE_LANE_RECORD, NULL);
    CHECK_INT(eng_queue_claim_min(st, "w", 60000, ENG_QUEUE_LANE_BULK + 1, &job, &err), 1);
    CHECK_INT(job.id, rec);
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim(st, "w", 60000, &job, &err), 1);
    CHECK_INT(job.id, run);
    eng_queue_job_clear(&job);
    /* claiming a given job: only while it is pending */
    int64_t other = add(st, "run", 0, NULL);
    CHECK_INT(eng_queue_claim_id(st, other, "cli", 60000, &job, &err), 1);
    CHECK_INT(job.id, other);
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim_id(st, other, "w2", 60000, &job, &err), 0);
    eng_store_close(st);
}

static void test_lease_expiry_and_holder_checks(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int64_t id = add(st, "run", 0, NULL);
    struct eng_job a, b;
    /* a lease of 0 ms has expired as soon as it is taken: another worker takes the job over */
    REQUIRE(eng_queue_claim(st, "dead-worker", 0, &a, &err) == 1);
    REQUIRE(eng_queue_claim(st, "w2", 60000, &b, &err) == 1);
    CHECK_INT(b.id, id);
    CHECK_INT(b.attempts, 2);
    /* the old holder has lost it: every change it tries is refused */
    CHECK_INT(eng_queue_extend(st, id, "dead-worker", 60000, &err), ENG_ENOTFOUND);
    CHECK(strstr(err.msg, "lease") != NULL);
    CHECK_INT(eng_queue_complete(st, id, "dead-worker", &err), ENG_ENOTFOUND);
    CHECK_INT(eng_queue_fail(st, id, "dead-worker", "x", 1, NULL, &err), ENG_ENOTFOUND);
    /* the new holder extends; nobody else can claim a live lease */
    CHECK_INT(eng_queue_extend(st, id, "w2", 60000, &err), 0);
    struct eng_job c;
    CHECK_INT(eng_queue_claim(st, "w3", 60000, &c, &err), 0);
    CHECK_INT(eng_queue_complete(st, id, "w2", &err), 0);
    CHECK_STR(q_int(st, "SELECT status = 'done' FROM sync_queue WHERE id = ?", id) ? "done" : "?",
              "done");
    eng_queue_job_clear(&a);
    eng_queue_job_clear(&b);
    eng_store_close(st);
}

static void test_backoff_then_dead(void)
{
    CHECK_INT(eng_queue_backoff_ms(1, 0.0), 1000);
    CHECK_INT(eng_queue_backoff_ms(1, 0.999999), 1999);
    CHECK_INT(eng_queue_backoff_ms(3, 0.0), 4000); /* 2 s, 4 s, 8 s -> half of 8 s */
    CHECK_INT(eng_queue_backoff_ms(40, 0.0), 1800000);
    for (int i = 1; i < 12; i++) /* never shrinks */
        CHECK(eng_queue_backoff_ms(i + 1, 0.0) >= eng_queue_backoff_ms(i, 0.0));

    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_job_new j = {.tenant = "t1", .kind = "retry", .max_attempts = 3};
    int64_t id = 0;
    REQUIRE(eng_queue_enqueue(st, &j, &id, NULL, &err) == 0);
    for (int attempt = 1; attempt <= 3; attempt++) {
        struct eng_job job;
        REQUIRE(eng_queue_claim(st, "w", 60000, &job, &err) == 1);
        CHECK_INT(job.attempts, attempt);
        int dead = -1;
        CHECK_INT(eng_queue_fail(st, id, "w", "HTTP 503", 1, &dead, &err), 0);
        CHECK_INT(dead, attempt == 3);
        eng_queue_job_clear(&job);
        /* backing off: not claimable now, due at least a second later */
        CHECK_INT(eng_queue_claim(st, "w", 60000, &job, &err), 0);
        if (attempt < 3) {
            CHECK_INT(q_int(st,
                            "SELECT (julianday(next_attempt_at) - julianday('now')) * 86400000 "
                            ">= 900 FROM sync_queue WHERE id = ?",
                            id),
                      1);
            /* make it due now (the test does not wait for the clock) */
            CHECK(eng_store_exec(st,
                                 "UPDATE sync_queue SET next_attempt_at = '2000-01-01T00:00:00Z'",
                                 &err) == 0);
        }
    }
    CHECK_INT(q_int(st,
                    "SELECT status = 'dead' AND last_error = 'HTTP 503' FROM sync_queue "
                    "WHERE id = ?",
                    id),
              1);
    /* a permanent failure is dead at once */
    id = add(st, "record", 10, NULL);
    struct eng_job job;
    REQUIRE(eng_queue_claim(st, "w", 60000, &job, &err) == 1);
    int dead = 0;
    CHECK_INT(eng_queue_fail(st, id, "w", "400 bad", 0, &dead, &err), 0);
    CHECK_INT(dead, 1);
    eng_queue_job_clear(&job);
    /* a job whose lease expires on its last attempt is dead, not retaken forever */
    struct eng_job_new k = {.tenant = "t1", .kind = "run", .max_attempts = 1};
    REQUIRE(eng_queue_enqueue(st, &k, &id, NULL, &err) == 0);
    REQUIRE(eng_queue_claim(st, "gone", 0, &job, &err) == 1);
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_claim(st, "w", 60000, &job, &err), 0);
    CHECK_INT(q_int(st, "SELECT status = 'dead' FROM sync_queue WHERE id = ?", id), 1);
    eng_store_close(st);
}

static void test_recover_and_release(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int64_t id = add(st, "run", 0, NULL);
    struct eng_job job;
    REQUIRE(eng_queue_claim(st, "crashed", 3600000, &job, &err) == 1);
    eng_queue_job_clear(&job);
    int n = -1;
    CHECK_INT(eng_queue_recover(st, &n, &err), 0);
    CHECK_INT(n, 1);
    REQUIRE(eng_queue_claim(st, "w", 60000, &job, &err) == 1);
    CHECK_INT(job.id, id);
    CHECK_INT(job.attempts, 1); /* the interrupted attempt is not counted */
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_release(st, id, "w", 3600000, &err), 0);
    CHECK_INT(eng_queue_claim(st, "w", 60000, &job, &err), 0); /* released for later */
    CHECK_INT(q_int(st, "SELECT attempts FROM sync_queue WHERE id = ?", id), 0);
    eng_store_close(st);
}

/* ---- concurrency: every job is claimed exactly once ---- */

#define NJOBS 300

struct claimer {
    char owner[16];
    int claimed[NJOBS + 1];
    int n, errors;
};

static void claim_all(struct claimer *c)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(store_fixture_path, &st, &err) != 0) {
        c->errors++;
        return;
    }
    for (;;) {
        struct eng_job job;
        int rc = eng_queue_claim(st, c->owner, 600000, &job, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            c->errors++;
            continue; /* busy: try again */
        }
        if (job.id >= 1 && job.id <= NJOBS)
            c->claimed[job.id]++;
        c->n++;
        if (eng_queue_complete(st, job.id, c->owner, &err) != 0)
            c->errors++;
        eng_queue_job_clear(&job);
    }
    eng_store_close(st);
}

static void *claim_thread(void *arg)
{
    claim_all(arg);
    return NULL;
}

static void fill(struct eng_store *st)
{
    eng_store_exec(st, "BEGIN", NULL);
    for (int i = 0; i < NJOBS; i++)
        add(st, "record", i % 2 ? 10 : 0, NULL);
    eng_store_exec(st, "COMMIT", NULL);
}

static void test_two_threads_never_share_a_job(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    fill(st);
    static struct claimer a = {.owner = "thread-a"}, b = {.owner = "thread-b"};
    pthread_t ta, tb;
    REQUIRE(pthread_create(&ta, NULL, claim_thread, &a) == 0);
    REQUIRE(pthread_create(&tb, NULL, claim_thread, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_INT(a.n + b.n, NJOBS);
    int twice = 0;
    for (int i = 1; i <= NJOBS; i++)
        twice += a.claimed[i] + b.claimed[i] != 1;
    CHECK_INT(twice, 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue WHERE status = 'done'", 0), NJOBS);
    eng_store_close(st);
}

static void test_two_processes_never_share_a_job(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    fill(st);
    int fds[2][2];
    pid_t pids[2];
    for (int p = 0; p < 2; p++) {
        REQUIRE(pipe(fds[p]) == 0);
        pids[p] = fork();
        REQUIRE(pids[p] >= 0);
        if (pids[p] == 0) {
            static struct claimer c;
            snprintf(c.owner, sizeof c.owner, "proc-%d", p);
            claim_all(&c);
            ssize_t w = write(fds[p][1], &c, sizeof c);
            _exit(w == (ssize_t)sizeof c ? 0 : 1);
        }
        close(fds[p][1]);
    }
    static struct claimer got[2];
    for (int p = 0; p < 2; p++) {
        size_t off = 0;
        ssize_t r;
        while (off < sizeof got[p] &&
               (r = read(fds[p][0], (char *)&got[p] + off, sizeof got[p] - off)) > 0)
            off += (size_t)r;
        close(fds[p][0]);
        int status = 0;
        waitpid(pids[p], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_INT(off, sizeof got[p]);
    }
    CHECK_INT(got[0].n + got[1].n, NJOBS);
    int twice = 0;
    for (int i = 1; i <= NJOBS; i++)
        twice += got[0].claimed[i] + got[1].claimed[i] != 1;
    CHECK_INT(twice, 0);
    eng_store_close(st);
}

/* Text of the first column of sql's first row (?1 = id when it has a parameter), "" when none. */
static void q_text(struct eng_store *st, const char *sql, int64_t id, char *out, size_t size)
{
    struct eng_store_stmt *s = NULL;
    out[0] = '\0';
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return;
    if (eng_store_param_count(s) > 0)
        eng_store_bind_int64(s, 1, id);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW && eng_store_column_text(s, 0, NULL) != NULL)
        snprintf(out, size, "%s", eng_store_column_text(s, 0, NULL));
    eng_store_finalize(s);
}

/* The statements on sync_queue that other modules used to write themselves. */
static void test_requeue_runs_and_retries(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(eng_store_exec(st,
                           "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, state) VALUES"
                           " ('run-q', 't1', 'orders', 'f1', 'full', 'queued'),"
                           " ('run-r', 't1', 'orders', 'f2', 'full', 'running'),"
                           " ('run-done', 't1', 'orders', 'f1', 'full', 'succeeded')",
                           &err) == 0);
    CHECK_INT(eng_queue_pending_of_run(st, "run-q"), 0);
    /* a run whose job is gone gets one; a finished run does not; twice adds nothing */
    CHECK_INT(eng_queue_requeue_runs(st, &err), 0);
    CHECK_INT(eng_queue_requeue_runs(st, &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue WHERE kind = 'run'", 0), 2);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue WHERE run_id = 'run-done'", 0), 0);
    int64_t jq = eng_queue_pending_of_run(st, "run-q");
    CHECK(jq > 0);
    CHECK_INT(q_int(st, "SELECT max_attempts FROM sync_queue WHERE id = ?1", jq), 50);
    struct eng_job job;
    CHECK_INT(eng_queue_claim_id(st, jq, "w", 60000, &job, &err), 1);
    CHECK_STR(job.run_id, "run-q");
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_pending_of_run(st, "run-q"), 0); /* running, not pending */
    CHECK_INT(eng_queue_requeue_runs(st, &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue WHERE kind = 'run'", 0), 2);

    /* due, failed, retryable records: one retry job per tenant, flow and entity */
    REQUIRE(
        eng_store_exec(st,
                       "INSERT INTO sync_records (tenant_id, flow, source_system, source_entity,"
                       " source_id, target_system, target_type, outcome, retryable, attempts,"
                       " next_retry_at) VALUES"
                       " ('t1', 'f1', 'woocommerce', 'orders', '7', 'qbo', 'Invoice', 'failed',"
                       "  1, 1, '2000-01-01T00:00:00.000Z'),"
                       " ('t1', 'f1', 'woocommerce', 'orders', '3', 'qbo', 'Invoice', 'failed',"
                       "  1, 1, '2000-01-01T00:00:00.000Z'),"
                       " ('t1', 'f1', 'woocommerce', 'orders', '9', 'qbo', 'Invoice', 'failed',"
                       "  1, 1, '2999-01-01T00:00:00.000Z'),"
                       " ('t1', 'f1', 'woocommerce', 'orders', '5', 'qbo', 'Invoice', 'failed',"
                       "  0, 1, '2000-01-01T00:00:00.000Z')",
                       &err) == 0);
    int queued = -1;
    CHECK_INT(eng_queue_retry_failed(st, &queued, &err), 0);
    CHECK_INT(queued, 1);
    char v[256];
    q_text(st,
           "SELECT dedupe_key || ' ' || priority || ' ' || json_extract(payload, '$.entity') || ' '"
           " || (SELECT group_concat(value, ',') FROM (SELECT value FROM"
           " json_each(json_extract(payload, '$.ids')) ORDER BY value) AS ids)"
           " FROM sync_queue WHERE kind = 'retry'",
           0, v, sizeof v);
    CHECK_STR(v, "autoretry:f1:orders 10 orders 3,7");
    CHECK_INT(eng_queue_retry_failed(st, &queued, &err), 0);
    CHECK_INT(queued, 0); /* the pending one holds the key */
    eng_store_close(st);
}

/* A sweep merges into the pending one (the earlier since wins) and is not queued beside a running
 * one; at start-up one sweep per tenant and platform that was receiving webhooks. */
static void test_sweeps(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int64_t id = 0, id2 = 0;
    char since[64];
    CHECK_INT(eng_queue_sweep_merge(st, "t1", "woocommerce", "reregistered",
                                    "2026-01-02T00:00:00.000Z", &id, since, sizeof since, &err),
              1);
    CHECK(id > 0);
    CHECK_STR(since, "2026-01-02T00:00:00.000Z");
    CHECK_INT(eng_queue_sweep_merge(st, "t1", "woocommerce", "reregistered",
                                    "2026-01-01T00:00:00.000Z", &id2, since, sizeof since, &err),
              1);
    CHECK_INT(id2, id);
    CHECK_STR(since, "2026-01-01T00:00:00.000Z");
    CHECK_INT(eng_queue_sweep_merge(st, "t1", "woocommerce", "reregistered",
                                    "2026-01-03T00:00:00.000Z", &id2, since, sizeof since, &err),
              1);
    CHECK_STR(since, "2026-01-01T00:00:00.000Z");
    char v[256];
    q_text(st, "SELECT dedupe_key || ' ' || payload FROM sync_queue WHERE id = ?1", id, v,
           sizeof v);
    CHECK_STR(v, "sweep:woocommerce {\"source\":\"woocommerce\",\"reason\":\"reregistered\","
                 "\"since\":\"2026-01-01T00:00:00.000Z\"}");
    struct eng_job job;
    CHECK_INT(eng_queue_claim_id(st, id, "w", 60000, &job, &err), 1);
    eng_queue_job_clear(&job);
    CHECK_INT(eng_queue_sweep_merge(st, "t1", "woocommerce", "reregistered",
                                    "2025-01-01T00:00:00.000Z", &id2, since, sizeof since, &err),
              0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue", 0), 1);
    CHECK_INT(eng_queue_complete(st, id, "w", &err), 0);

    /* start-up: t1 has woocommerce credentials and deliveries; t2 credentials only */
    REQUIRE(eng_store_exec(st,
                           "INSERT INTO integration_credentials (tenant_id, platform, ciphertext,"
                           " key_id) VALUES ('t1', 'woocommerce', x'00', 'k'),"
                           " ('t2', 'woocommerce', x'00', 'k');"
                           "INSERT INTO webhook_events (source, tenant_id, received_at) VALUES"
                           " ('woocommerce', 't1', '2026-03-01T00:00:00.000Z'),"
                           " ('woocommerce', 't1', '2026-03-02T00:00:00.000Z')",
                           &err) == 0);
    CHECK_INT(eng_queue_sweep_startup(st, &err), 0);
    CHECK_INT(eng_queue_sweep_startup(st, &err), 0);
    CHECK_INT(q_int(st, "SELECT count(*) FROM sync_queue WHERE status = 'pending'", 0), 1);
    q_text(st,
           "SELECT tenant_id || ' ' || json_extract(payload, '$.reason') || ' '"
           " || json_extract(payload, '$.since') FROM sync_queue WHERE status = 'pending'",
           0, v, sizeof v);
    CHECK_STR(v, "t1 startup 2026-03-02T00:00:00.000Z");
    eng_store_close(st);
}

CHECK_MAIN(CHECK_CASE(test_enqueue_dedupe_and_lanes), CHECK_CASE(test_claim_min_keeps_a_lane),
           CHECK_CASE(test_lease_expiry_and_holder_checks), CHECK_CASE(test_backoff_then_dead),
           CHECK_CASE(test_recover_and_release), CHECK_CASE(test_two_threads_never_share_a_job),
           CHECK_CASE(test_two_processes_never_share_a_job),
           CHECK_CASE(test_requeue_runs_and_retries), CHECK_CASE(test_sweeps))

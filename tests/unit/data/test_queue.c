/*
 * test_queue.c - engine/data/queue.c against real, migrated SQLite files: enqueue with dedupe, lanes,
 * leases (extend, expire, take-over), backoff then dead, start-up recovery, and that two threads
 * and two processes claiming from one file never hold the same job.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "data/queue.h"
#include "adapt/store.h"

static char dbpath[128];

static const char *schema_dir(void)
{
    const char *d = getenv("SCHEMA_DIR");
    return d != NULL ? d : "schema";
}

/* A fresh migrated database; returns a connection to it. */
static struct eng_store *fresh(void)
{
    char dir[] = "/tmp/test_queue.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(dbpath, sizeof dbpath, "%s/q.db", dir);
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(dbpath, &st, &err) != 0 || eng_store_migrate(st, schema_dir(), NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        eng_store_close(st);
        return NULL;
    }
    return st;
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
    if (eng_store_open(dbpath, &st, &err) != 0) {
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

CHECK_MAIN(CHECK_CASE(test_enqueue_dedupe_and_lanes), CHECK_CASE(test_claim_min_keeps_a_lane),
           CHECK_CASE(test_lease_expiry_and_holder_checks), CHECK_CASE(test_backoff_then_dead),
           CHECK_CASE(test_recover_and_release), CHECK_CASE(test_two_threads_never_share_a_job),
           CHECK_CASE(test_two_processes_never_share_a_job))

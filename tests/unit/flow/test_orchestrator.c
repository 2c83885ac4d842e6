/*
 * test_orchestrator.c - the dispatcher (engine/flow/orchestrator.c) with a real worker pool,
 * real VMs reading scripts/ and a real, migrated SQLite file: a job runs once and its outcome
 * is applied (done, or dead when it can never succeed: not retried); jobs a dead process held
 * are recovered at start and run; a job handed to a worker when the engine stops gives its work
 * back without counting the attempt; a run extends its lease before every page (test scripts in
 * a scratch scripts folder: a source that reports the lease it sees, a target that keeps it);
 * a job whose end the store refused (a trigger stands in for a full disk) is recorded once the
 * store takes writes again, not after its ten-minute lease, and a run backing off shows why as
 * soon as its row can be written.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapt/store.h"
#include "check.h"
#include "data/queue.h"
#include "lua/vm.h"
#include "flow/sync.h"

static char url[160];
static struct eng_config cfg;

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v != NULL ? v : d;
}

static struct eng_store *fresh(void)
{
    char dir[] = "/tmp/test_orchestrator.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(url, sizeof url, "%s/o.db", dir);
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(url, &st, &err) != 0 ||
        eng_store_migrate(st, env_or("SCHEMA_DIR", "schema"), NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        eng_store_close(st);
        return NULL;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.database_url = url;
    cfg.connector_timeout_ms = 2000;
    return st;
}

static uint64_t gen_of(void *ud)
{
    (void)ud;
    return 1;
}

static struct eng_workers *workers(int n)
{
    struct eng_vm_opts o = {.scripts_dir = (char *)env_or("SCRIPTS_DIR", "scripts"),
                            .mappings_dir = (char *)env_or("MAPPINGS_DIR", "mappings"),
                            .database_path = url};
    struct eng_workers_scripts ws = {NULL, gen_of, NULL}; /* sources from disk */
    struct eng_err err = {0};
    struct eng_workers *w = eng_workers_start(n, &o, &ws, &err);
    if (w == NULL)
        fprintf(stderr, "workers: %s\n", err.msg);
    return w;
}

static int64_t add(struct eng_store *st, const char *kind, const char *payload)
{
    struct eng_job_new j = {.tenant = "t1",
                            .kind = kind,
                            .payload = payload,
                            .priority = ENG_QUEUE_LANE_RECORD,
                            .max_attempts = 5};
    int64_t id = 0;
    struct eng_err err = {0};
    if (eng_queue_enqueue(st, &j, &id, NULL, &err) != 0) {
        fprintf(stderr, "enqueue: %s\n", err.msg);
        return -1;
    }
    return id;
}

static char status_buf[32];
static const char *status_of(struct eng_store *st, int64_t id, long long *attempts)
{
    struct eng_store_stmt *s = NULL;
    snprintf(status_buf, sizeof status_buf, "?");
    if (eng_store_prepare(st, "SELECT status, attempts FROM sync_queue WHERE id = ?", -1,
                          ENG_STORE_TRUSTED, &s, NULL) != 0)
        return status_buf;
    eng_store_bind_int64(s, 1, id);
    if (eng_store_step(s, NULL) == ENG_STORE_ROW) {
        snprintf(status_buf, sizeof status_buf, "%s", eng_store_column_text(s, 0, NULL));
        if (attempts != NULL)
            *attempts = eng_store_column_int64(s, 1);
    }
    eng_store_finalize(s);
    return status_buf;
}

/* Wait until job id leaves pending/running (10 s at most). */
static void wait_settled(struct eng_store *st, int64_t id)
{
    for (int i = 0; i < 1000; i++) {
        const char *s = status_of(st, id, NULL);
        if (strcmp(s, "pending") != 0 && strcmp(s, "running") != 0)
            return;
        usleep(10000);
    }
}

static void test_a_job_runs_once(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_workers *w = workers(2);
    REQUIRE(w != NULL);
    /* a record job for an entity no flow reads: done, through lib.sync on a worker's VM */
    int64_t rec = add(st, "record", "{\"entity\": \"nothing\", \"id\": 1}");
    /* a job that can never succeed: dead at once, never retried */
    int64_t bogus = add(st, "bogus", NULL);
    REQUIRE(rec > 0 && bogus > 0);
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_err err = {0};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 2, &err);
    REQUIRE(o != NULL);
    eng_orchestrator_notify(o);
    wait_settled(st, rec);
    wait_settled(st, bogus);
    usleep(300000); /* long enough for a wrong second claim */
    eng_orchestrator_stop(o);
    eng_workers_stop(w);
    long long attempts = 0;
    CHECK_STR(status_of(st, rec, &attempts), "done");
    CHECK_INT(attempts, 1);
    CHECK_STR(status_of(st, bogus, &attempts), "dead");
    CHECK_INT(attempts, 1);
    eng_store_close(st);
}

static void test_jobs_of_a_dead_process_resume_at_start(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    int64_t id = add(st, "record", "{\"entity\": \"nothing\", \"id\": 2}");
    REQUIRE(id > 0);
    struct eng_job job;
    struct eng_err err = {0};
    /* claimed by a process that then died: its lease would last ten minutes */
    REQUIRE(eng_queue_claim(st, "engine-gone-1", 600000, &job, &err) == 1);
    eng_queue_job_clear(&job);
    CHECK_STR(status_of(st, id, NULL), "running");
    struct eng_workers *w = workers(1);
    REQUIRE(w != NULL);
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 1, &err);
    REQUIRE(o != NULL);
    wait_settled(st, id);
    eng_orchestrator_stop(o);
    eng_workers_stop(w);
    long long attempts = 0;
    CHECK_STR(status_of(st, id, &attempts), "done");
    CHECK_INT(attempts, 1); /* the interrupted attempt is not counted */
    eng_store_close(st);
}

/* A task that holds the only worker until released. */
struct blocker {
    struct eng_task task;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released;
    atomic_int running, done;
};

static void blocker_run(struct eng_task *t, struct eng_vm *vm)
{
    (void)vm;
    struct blocker *b = (struct blocker *)t;
    atomic_store(&b->running, 1);
    pthread_mutex_lock(&b->mu);
    while (!b->released)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void blocker_done(struct eng_task *t)
{
    atomic_store(&((struct blocker *)t)->done, 1);
}

static void *stopper(void *arg)
{
    eng_orchestrator_stop(arg);
    return NULL;
}

static void test_stop_gives_the_job_back(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_workers *w = workers(1);
    REQUIRE(w != NULL);
    struct blocker b = {.task = {.run = blocker_run, .done = blocker_done},
                        .mu = PTHREAD_MUTEX_INITIALIZER,
                        .cv = PTHREAD_COND_INITIALIZER};
    REQUIRE(eng_workers_submit(w, &b.task) == 0);
    while (!atomic_load(&b.running))
        usleep(1000);
    int64_t id = add(st, "record", "{\"entity\": \"nothing\", \"id\": 3}");
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_err err = {0};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 2, &err);
    REQUIRE(o != NULL);
    /* the dispatcher claims it and hands it to the pool, where it waits behind the blocker */
    for (int i = 0; i < 1000 && eng_workers_queued(w) != 1; i++)
        usleep(10000);
    CHECK_INT(eng_workers_queued(w), 1);
    CHECK_STR(status_of(st, id, NULL), "running");
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, stopper, o) == 0);
    usleep(500000); /* the stop is under way: it waits for the job in flight */
    pthread_mutex_lock(&b.mu);
    b.released = 1;
    pthread_cond_broadcast(&b.cv);
    pthread_mutex_unlock(&b.mu);
    pthread_join(th, NULL);
    eng_workers_stop(w);
    long long attempts = -1;
    CHECK_STR(status_of(st, id, &attempts), "pending"); /* given back, not run */
    CHECK_INT(attempts, 0);
    CHECK_INT(atomic_load(&b.done), 1);
    eng_store_close(st);
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* A source of three slow pages, each record carrying the lease its job holds right then; a
 * target whose document id is that lease; a flow between them. */
static int test_scripts(char *scripts, char *mappings)
{
    char dir[] = "/tmp/test_orchestrator_scripts.XXXXXX", lib[512], cwd[256];
    if (mkdtemp(dir) == NULL || getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    snprintf(scripts, 256, "%s/scripts", dir);
    snprintf(mappings, 256, "%s/mappings", dir);
    char conn[300];
    snprintf(conn, sizeof conn, "%s/connectors", scripts);
    if (mkdir(scripts, 0700) != 0 || mkdir(mappings, 0700) != 0 || mkdir(conn, 0700) != 0)
        return -1;
    const char *src = env_or("SCRIPTS_DIR", "scripts");
    snprintf(lib, sizeof lib, "%s%s%s/lib", src[0] == '/' ? "" : cwd, src[0] == '/' ? "" : "/",
             src);
    char link[300];
    snprintf(link, sizeof link, "%s/lib", scripts);
    if (symlink(lib, link) != 0 && errno != EEXIST)
        return -1;
    return write_file(conn, "t_src.lua",
                      "local db = require 'engine.db'\n"
                      "local M = { name = 't_src', credentials = {} }\n"
                      "function M.read(ctx, entity, opts)\n"
                      "  local n = 0\n"
                      "  return function()\n"
                      "    n = n + 1\n"
                      "    if n > 3 then return nil end\n"
                      "    local t0 = os.clock()\n"
                      "    while os.clock() - t0 < 0.03 do end\n"
                      "    local lease = db.value(\"SELECT lease_expires_at FROM sync_queue "
                      "WHERE kind = 'run'\")\n"
                      "    return { { id = n, lease = lease } }, { total = 3 }\n"
                      "  end\n"
                      "end\n"
                      "return M\n") |
           write_file(conn, "t_dst.lua",
                      "local M = { name = 't_dst', credentials = {} }\n"
                      "function M.create(ctx, entity, doc, rid) return { Id = doc.Lease } end\n"
                      "function M.update(ctx, entity, body) return { Id = body.Id } end\n"
                      "return M\n") |
           write_file(mappings, "t_flow.lua",
                      "return { name = 't_flow',\n"
                      "  source = { connector = 't_src', entity = 'things' },\n"
                      "  target = { connector = 't_dst', entity = 'Thing' },\n"
                      "  map = function(rec) return { Name = 'thing ' .. rec.id, Lease = "
                      "rec.lease } end }\n");
}

static void test_a_run_extends_its_lease(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    char scripts[256], mappings[256];
    REQUIRE(test_scripts(scripts, mappings) == 0);
    /* t_src reads the queue's lease: a table workers' scripts may not read */
    struct eng_vm_opts vo = {
        .scripts_dir = scripts, .mappings_dir = mappings, .database_path = url, .db_all_tables = 1};
    struct eng_workers_scripts ws = {NULL, gen_of, NULL};
    struct eng_err err = {0};
    struct eng_workers *w = eng_workers_start(1, &vo, &ws, &err);
    REQUIRE(w != NULL);
    struct eng_sync_req req = {
        .tenant = "t1", .entity = "things", .flow = "t_flow", .mode = "full", .origin = "test"};
    char id[ENG_SYNC_ID_SIZE], active[ENG_SYNC_ID_SIZE];
    REQUIRE(eng_sync_create_run(st, &req, id, active, &err) == 0);
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 1, &err);
    REQUIRE(o != NULL);
    char state[32] = "";
    for (int i = 0; i < 1000; i++) {
        struct eng_store_stmt *s = NULL;
        if (eng_store_prepare(st, "SELECT state FROM sync_runs WHERE id = ?", -1, ENG_STORE_TRUSTED,
                              &s, NULL) == 0) {
            eng_store_bind_str(s, 1, id);
            if (eng_store_step(s, NULL) == ENG_STORE_ROW)
                snprintf(state, sizeof state, "%s", eng_store_column_text(s, 0, NULL));
            eng_store_finalize(s);
        }
        if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
            break;
        usleep(10000);
    }
    eng_orchestrator_stop(o);
    eng_workers_stop(w);
    CHECK_STR(state, "succeeded");
    /* three pages, each written with the lease its job held then: later every time */
    struct eng_store_stmt *s = NULL;
    char lease[3][40] = {"", "", ""};
    int n = 0;
    REQUIRE(eng_store_prepare(st,
                              "SELECT target_id FROM sync_records WHERE run_id = ? ORDER BY "
                              "CAST(source_id AS INTEGER)",
                              -1, ENG_STORE_TRUSTED, &s, NULL) == 0);
    eng_store_bind_str(s, 1, id);
    while (n < 3 && eng_store_step(s, NULL) == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 0, NULL);
        snprintf(lease[n++], sizeof lease[0], "%s", v != NULL ? v : "");
    }
    eng_store_finalize(s);
    CHECK_INT(n, 3);
    CHECK(lease[0][0] != '\0');
    CHECK(strcmp(lease[0], lease[1]) < 0);
    CHECK(strcmp(lease[1], lease[2]) < 0);
    eng_store_close(st);
}

static long long count_of(struct eng_store *st, const char *sql)
{
    struct eng_store_stmt *s = NULL;
    long long n = -1;
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0 &&
        eng_store_step(s, NULL) == ENG_STORE_ROW)
        n = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return n;
}

/* The store refuses the write of a job's end (as a full disk or a read-only file would: the
 * trigger fails the UPDATE, and keeps a note that it was tried). Once the fault is gone, the end
 * is recorded without waiting out the job's lease (ENG_SYNC_LEASE_MS) or a restart. */
static void test_an_end_the_store_refused_is_recorded_later(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    REQUIRE(eng_store_exec(st,
                           "CREATE TABLE t_fault_hits (n INTEGER);"
                           "CREATE TRIGGER t_fault BEFORE UPDATE OF status ON sync_queue "
                           "WHEN NEW.status <> 'running' BEGIN INSERT INTO t_fault_hits VALUES (1);"
                           " SELECT RAISE(FAIL, 'database or disk is full'); END",
                           &err) == 0);
    int64_t done = add(st, "record", "{\"entity\": \"nothing\", \"id\": 4}");
    int64_t bogus = add(st, "bogus", NULL); /* its end: dead */
    REQUIRE(done > 0 && bogus > 0);
    struct eng_workers *w = workers(2);
    REQUIRE(w != NULL);
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 2, &err);
    REQUIRE(o != NULL);
    eng_orchestrator_notify(o);
    for (int i = 0; i < 1000 && count_of(st, "SELECT count(*) FROM t_fault_hits") < 2; i++)
        usleep(10000);
    CHECK(count_of(st, "SELECT count(*) FROM t_fault_hits") >= 2); /* both ends were refused */
    CHECK_STR(status_of(st, done, NULL), "running");
    CHECK_STR(status_of(st, bogus, NULL), "running");
    REQUIRE(eng_store_exec(st, "DROP TRIGGER t_fault", &err) == 0); /* the fault is gone */
    wait_settled(st, done);
    wait_settled(st, bogus);
    eng_orchestrator_stop(o);
    eng_workers_stop(w);
    long long attempts = 0;
    CHECK_STR(status_of(st, done, &attempts), "done");
    CHECK_INT(attempts, 1); /* recorded, not run again */
    CHECK_STR(status_of(st, bogus, &attempts), "dead");
    CHECK_INT(attempts, 1);
    eng_store_close(st);
}

static void text_of(struct eng_store *st, const char *sql, const char *p1, char *out, size_t size)
{
    struct eng_store_stmt *s = NULL;
    snprintf(out, size, "(none)");
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0) {
        eng_store_bind_str(s, 1, p1);
        if (eng_store_step(s, NULL) == ENG_STORE_ROW) {
            const char *v = eng_store_column_text(s, 0, NULL);
            snprintf(out, size, "%s", v != NULL ? v : "(null)");
        }
    }
    eng_store_finalize(s);
}

/* A run whose source is down backs off (RETRY) while the store refuses both the queue's write
 * and the run's error: once the run's row can be written again it shows why ("retrying after:
 * ..."), and once the queue can be written the job goes back to pending, both without waiting
 * out the lease. */
static void test_a_run_shows_the_error_once_it_can_be_written(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    char scripts[256], mappings[256], conn[300];
    REQUIRE(test_scripts(scripts, mappings) == 0);
    snprintf(conn, sizeof conn, "%s/connectors", scripts);
    REQUIRE((write_file(conn, "t_down.lua",
                        "local M = { name = 't_down', credentials = {} }\n"
                        "function M.read(ctx, entity, opts)\n"
                        "  return function() return nil, 'the source is down' end\n"
                        "end\n"
                        "return M\n") |
             write_file(mappings, "t_down_flow.lua",
                        "return { name = 't_down_flow',\n"
                        "  source = { connector = 't_down', entity = 'things' },\n"
                        "  target = { connector = 't_dst', entity = 'Thing' },\n"
                        "  map = function(rec) return { Name = 'thing' } end }\n")) == 0);
    struct eng_err err = {0};
    REQUIRE(eng_store_exec(st,
                           "CREATE TABLE t_fault (queue INTEGER, runs INTEGER);"
                           "INSERT INTO t_fault VALUES (1, 1);"
                           "CREATE TABLE t_fault_hits (n INTEGER);"
                           "CREATE TRIGGER t_fault_q BEFORE UPDATE OF status ON sync_queue "
                           "WHEN NEW.status <> 'running' AND (SELECT queue FROM t_fault) BEGIN "
                           "INSERT INTO t_fault_hits VALUES (1);"
                           " SELECT RAISE(FAIL, 'database or disk is full'); END;"
                           "CREATE TRIGGER t_fault_r BEFORE UPDATE OF error ON sync_runs "
                           "WHEN NEW.error IS NOT NULL AND (SELECT runs FROM t_fault) BEGIN"
                           " SELECT RAISE(FAIL, 'database or disk is full'); END",
                           &err) == 0);
    struct eng_vm_opts vo = {
        .scripts_dir = scripts, .mappings_dir = mappings, .database_path = url};
    struct eng_workers_scripts ws = {NULL, gen_of, NULL};
    struct eng_workers *w = eng_workers_start(1, &vo, &ws, &err);
    REQUIRE(w != NULL);
    struct eng_sync_req req = {.tenant = "t1",
                               .entity = "things",
                               .flow = "t_down_flow",
                               .mode = "full",
                               .origin = "test"};
    char id[ENG_SYNC_ID_SIZE], active[ENG_SYNC_ID_SIZE], error[256];
    REQUIRE(eng_sync_create_run(st, &req, id, active, &err) == 0);
    int64_t job = eng_queue_pending_of_run(st, id);
    REQUIRE(job > 0);
    struct eng_sync_env env = {.cfg = &cfg};
    struct eng_orch *o = eng_orchestrator_start(&env, w, 1, &err);
    REQUIRE(o != NULL);
    for (int i = 0; i < 1000 && count_of(st, "SELECT count(*) FROM t_fault_hits") < 1; i++)
        usleep(10000);
    CHECK(count_of(st, "SELECT count(*) FROM t_fault_hits") >= 1); /* the end was refused */
    text_of(st, "SELECT coalesce(error, '(null)') FROM sync_runs WHERE id = ?1", id, error,
            sizeof error);
    CHECK_STR(error, "(null)");
    /* the run's row can be written again, the queue cannot yet */
    REQUIRE(eng_store_exec(st, "UPDATE t_fault SET runs = 0", &err) == 0);
    for (int i = 0; i < 1000; i++) {
        text_of(st, "SELECT coalesce(error, '(null)') FROM sync_runs WHERE id = ?1", id, error,
                sizeof error);
        if (strcmp(error, "(null)") != 0)
            break;
        usleep(10000);
    }
    CHECK(strncmp(error, "retrying after: ", 16) == 0 && strstr(error, "the source is down"));
    CHECK_STR(status_of(st, job, NULL), "running");
    REQUIRE(eng_store_exec(st, "UPDATE t_fault SET queue = 0", &err) == 0); /* the fault is gone */
    for (int i = 0; i < 1000 && strcmp(status_of(st, job, NULL), "running") == 0; i++)
        usleep(10000);
    eng_orchestrator_stop(o);
    eng_workers_stop(w);
    long long attempts = 0;
    CHECK_STR(status_of(st, job, &attempts), "pending"); /* backs off, to run again */
    CHECK_INT(attempts, 1);
    eng_store_close(st);
}

CHECK_MAIN(CHECK_CASE(test_a_job_runs_once),
           CHECK_CASE(test_jobs_of_a_dead_process_resume_at_start),
           CHECK_CASE(test_stop_gives_the_job_back), CHECK_CASE(test_a_run_extends_its_lease),
           CHECK_CASE(test_an_end_the_store_refused_is_recorded_later),
           CHECK_CASE(test_a_run_shows_the_error_once_it_can_be_written))

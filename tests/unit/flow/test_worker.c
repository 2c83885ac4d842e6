/*
 * test_worker.c - the worker pool (engine/flow/worker.c): every task runs exactly once and then
 * hears done() once; a worker keeps its VM between tasks and builds a fresh one when the
 * scripts' generation moves; on stop, tasks still queued run with vm == NULL (so their
 * submitters hear back) and a submit is refused. The watchdog: a task busy past the stuck
 * threshold is reported (index, what, since) while the other worker keeps serving; when it comes
 * back its worker replaces the VM before the next task; a heartbeat restarts the clock; a stop
 * with a grace abandons a stuck worker, hands queued tasks back, and the worker frees the pool
 * if it ever comes back.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lua/vm.h"
#include "flow/worker.h"

static atomic_ullong generation = 1;

static uint64_t gen_of(void *ud)
{
    (void)ud;
    return atomic_load(&generation);
}

/* lib/counter.lua: a module loaded once per VM (loads counts it); what a task does to its
 * variable is put back after the task (issue 12: nothing of one task reaches the next) */
static atomic_int loads;
static char *source(void *ud, const char *logical, size_t *len)
{
    (void)ud;
    atomic_fetch_add(&loads, 1);
    static const char src[] = "local n = 0\nreturn { next = function() n = n + 1; return n end }\n";
    if (strcmp(logical, "scripts/lib/counter.lua") != 0)
        return NULL;
    char *s = malloc(sizeof src);
    if (s != NULL) {
        memcpy(s, src, sizeof src);
        *len = sizeof src - 1;
    }
    return s;
}

struct t {
    struct eng_task task;
    atomic_int runs, dones, had_vm;
    long long counter;
    int block;
    const char *beat_after; /* set: eng_workers_beat(beat_after) once released, then block on
                             * the second gate */
    pthread_mutex_t *mu2;
    pthread_cond_t *cv2;
    int *released2;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *released;
};

static void t_run(struct eng_task *task, struct eng_vm *vm)
{
    struct t *t = (struct t *)task;
    atomic_fetch_add(&t->runs, 1);
    atomic_store(&t->had_vm, vm != NULL);
    if (vm != NULL)
        eng_vm_call(vm, "lib.counter", "next", 0, NULL, ">i", &t->counter);
    if (t->block) {
        pthread_mutex_lock(t->mu);
        while (!*t->released)
            pthread_cond_wait(t->cv, t->mu);
        pthread_mutex_unlock(t->mu);
    }
    if (t->beat_after != NULL) {
        eng_workers_beat(t->beat_after);
        pthread_mutex_lock(t->mu2);
        while (!*t->released2)
            pthread_cond_wait(t->cv2, t->mu2);
        pthread_mutex_unlock(t->mu2);
    }
}

static void t_done(struct eng_task *task)
{
    atomic_fetch_add(&((struct t *)task)->dones, 1);
}

static struct eng_workers *start(int n)
{
    struct eng_vm_opts o = {0};
    struct eng_workers_scripts ws = {source, gen_of, NULL};
    struct eng_err err = {0};
    struct eng_workers *w = eng_workers_start(n, &o, &ws, &err);
    if (w == NULL)
        fprintf(stderr, "start: %s\n", err.msg);
    return w;
}

static void init(struct t *t)
{
    memset(t, 0, sizeof *t);
    t->task.run = t_run;
    t->task.done = t_done;
}

static void wait_done(struct t *t, int n)
{
    for (int i = 0; i < 5000; i++) {
        int all = 1;
        for (int j = 0; j < n; j++)
            all &= atomic_load(&t[j].dones) == 1;
        if (all)
            return;
        usleep(1000);
    }
}

static void test_each_task_runs_once(void)
{
    struct eng_workers *w = start(3);
    REQUIRE(w != NULL);
    CHECK_INT(eng_workers_count(w), 3);
    static struct t ts[200];
    for (int i = 0; i < 200; i++) {
        init(&ts[i]);
        REQUIRE(eng_workers_submit(w, &ts[i].task) == 0);
    }
    wait_done(ts, 200);
    eng_workers_stop(w);
    int once = 0, vm = 0;
    for (int i = 0; i < 200; i++) {
        once += atomic_load(&ts[i].runs) == 1 && atomic_load(&ts[i].dones) == 1;
        vm += atomic_load(&ts[i].had_vm);
    }
    CHECK_INT(once, 200);
    CHECK_INT(vm, 200);
}

static void test_vm_kept_then_rebuilt_on_a_new_generation(void)
{
    atomic_store(&loads, 0);
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    struct t ts[3];
    for (int i = 0; i < 3; i++) {
        init(&ts[i]);
        if (i == 2)
            atomic_fetch_add(&generation, 1); /* a publish between the second and third */
        REQUIRE(eng_workers_submit(w, &ts[i].task) == 0);
        wait_done(&ts[i], 1);
    }
    eng_workers_stop(w);
    CHECK_INT(ts[0].counter, 1);
    CHECK_INT(ts[1].counter, 1); /* the same VM, but the module's variable was put back */
    CHECK_INT(ts[2].counter, 1);
    CHECK_INT(atomic_load(&loads), 2); /* loaded once for the first two, again after the move */
}

static void *stopper(void *arg)
{
    eng_workers_stop(arg);
    return NULL;
}

static void test_stop_hands_queued_tasks_back(void)
{
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int released = 0;
    struct t busy, queued[3];
    static struct t late[256];
    init(&busy);
    busy.block = 1, busy.mu = &mu, busy.cv = &cv, busy.released = &released;
    REQUIRE(eng_workers_submit(w, &busy.task) == 0);
    while (atomic_load(&busy.runs) == 0)
        usleep(1000);
    for (int i = 0; i < 3; i++) {
        init(&queued[i]);
        REQUIRE(eng_workers_submit(w, &queued[i].task) == 0);
    }
    CHECK_INT(eng_workers_queued(w), 3);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, stopper, w) == 0);
    /* once stopping, a submit is refused */
    int rc = 0, n = 0;
    do { /* one accepted before the stop began is handed back like the others */
        init(&late[n]);
        rc = eng_workers_submit(w, &late[n].task);
        n++;
        usleep(1000);
    } while (rc == 0 && n < 256);
    CHECK_INT(rc, ENG_EINVAL);
    pthread_mutex_lock(&mu);
    released = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&busy.dones), 1);
    CHECK_INT(atomic_load(&busy.had_vm), 1);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(atomic_load(&queued[i].runs), 1);
        CHECK_INT(atomic_load(&queued[i].dones), 1);
        CHECK_INT(atomic_load(&queued[i].had_vm), 0); /* no Lua while stopping */
    }
}

/* ---- the watchdog ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->released = 0;
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void blocker(struct t *t, struct gate *g, const char *what)
{
    init(t);
    t->block = 1, t->mu = &g->mu, t->cv = &g->cv, t->released = &g->released;
    t->task.what = what;
}

/* The first worker whose state is stuck (polled up to 10 s); -1 when none became stuck. */
static int wait_stuck(struct eng_workers *w, struct eng_worker_state *st)
{
    for (int i = 0; i < 10000; i++) {
        for (int k = 0; k < eng_workers_count(w); k++)
            if (eng_workers_state(w, k, st) == 0 && st->stuck)
                return k;
        usleep(1000);
    }
    return -1;
}

static void wait_idle(struct eng_workers *w, int k, struct eng_worker_state *st)
{
    for (int i = 0; i < 10000; i++) {
        if (eng_workers_state(w, k, st) == 0 && !st->busy)
            return;
        usleep(1000);
    }
}

static void test_stuck_worker_reported_while_the_other_serves(void)
{
    struct eng_workers *w = start(2);
    REQUIRE(w != NULL);
    eng_workers_set_stuck_ms(w, 50);
    struct gate g;
    gate_init(&g);
    struct t busy;
    blocker(&busy, &g, "sync job 7 (record orders)");
    busy.task.tenant = "acme";
    REQUIRE(eng_workers_submit(w, &busy.task) == 0);
    struct eng_worker_state st;
    int k = wait_stuck(w, &st);
    REQUIRE(k >= 0);
    CHECK_INT(st.index, k + 1);
    CHECK_INT(st.busy, 1);
    CHECK_STR(st.what, "sync job 7 (record orders)");
    CHECK_STR(st.tenant, "acme");
    CHECK(st.for_ms >= 50);
    CHECK(st.since_ms > 1600000000000LL); /* a wall-clock time */
    CHECK_INT(eng_workers_check(w), 1);
    /* the other worker still serves tasks meanwhile */
    static struct t others[20];
    for (int i = 0; i < 20; i++) {
        init(&others[i]);
        REQUIRE(eng_workers_submit(w, &others[i].task) == 0);
    }
    wait_done(others, 20);
    int served = 0;
    for (int i = 0; i < 20; i++)
        served += atomic_load(&others[i].dones) == 1 && atomic_load(&others[i].had_vm);
    CHECK_INT(served, 20);
    CHECK_INT(eng_workers_state(w, k, &st), 0);
    CHECK_INT(st.stuck, 1); /* still stuck: it has not come back */
    gate_open(&g);
    wait_done(&busy, 1);
    wait_idle(w, k, &st);
    CHECK_INT(st.busy, 0);
    CHECK_INT(st.stuck, 0);
    CHECK_INT(st.vm_replacements, 1);
    CHECK_INT(eng_workers_check(w), 0);
    CHECK_INT(eng_workers_state(w, 2, &st), ENG_EINVAL);
    eng_workers_stop(w);
}

static void test_vm_replaced_after_a_stuck_task(void)
{
    atomic_store(&loads, 0);
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    eng_workers_set_stuck_ms(w, 50);
    struct gate g;
    gate_init(&g);
    struct t first, busy, next;
    init(&first);
    REQUIRE(eng_workers_submit(w, &first.task) == 0);
    wait_done(&first, 1);
    blocker(&busy, &g, "dry run");
    REQUIRE(eng_workers_submit(w, &busy.task) == 0);
    struct eng_worker_state st;
    REQUIRE(wait_stuck(w, &st) == 0);
    gate_open(&g);
    wait_done(&busy, 1);
    int loads_before_next = atomic_load(&loads);
    init(&next);
    REQUIRE(eng_workers_submit(w, &next.task) == 0);
    wait_done(&next, 1);
    CHECK_INT(loads_before_next, 1);   /* the same VM until it got stuck */
    CHECK_INT(atomic_load(&loads), 2); /* a fresh VM after it came back: the module loads again */
    wait_idle(w, 0, &st);
    CHECK_INT(st.vm_replacements, 1);
    CHECK_INT(st.tasks, 3);
    eng_workers_stop(w);
}

static void test_a_heartbeat_restarts_the_clock(void)
{
    atomic_store(&loads, 0);
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    eng_workers_beat("not a worker thread: nothing happens");
    eng_workers_set_stuck_ms(w, 50);
    struct gate g, g2;
    gate_init(&g);
    gate_init(&g2);
    struct t first, busy, next;
    init(&first);
    REQUIRE(eng_workers_submit(w, &first.task) == 0);
    wait_done(&first, 1);
    blocker(&busy, &g, "sync job 9 (run orders)");
    busy.beat_after = "sync job 9 (run orders), page 2";
    busy.mu2 = &g2.mu, busy.cv2 = &g2.cv, busy.released2 = &g2.released;
    REQUIRE(eng_workers_submit(w, &busy.task) == 0);
    struct eng_worker_state st;
    REQUIRE(wait_stuck(w, &st) == 0);
    CHECK_STR(st.what, "sync job 9 (run orders)");
    long long since = st.since_ms;
    usleep(20000);
    gate_open(&g); /* its first step ends: it beats and starts the second */
    for (int i = 0; i < 10000; i++) {
        if (eng_workers_state(w, 0, &st) == 0 && strstr(st.what, "page 2") != NULL)
            break;
        usleep(1000);
    }
    CHECK_STR(st.what, "sync job 9 (run orders), page 2");
    CHECK(st.since_ms > since); /* the clock restarted at the beat */
    gate_open(&g2);
    wait_done(&busy, 1);
    CHECK_INT(atomic_load(&loads), 1); /* first and busy ran on one VM */
    init(&next);
    REQUIRE(eng_workers_submit(w, &next.task) == 0);
    wait_done(&next, 1);
    CHECK_INT(atomic_load(&loads), 2); /* its first step overran: the VM was replaced after it */
    wait_idle(w, 0, &st);
    CHECK_INT(st.vm_replacements, 1);
    eng_workers_stop(w);
}

static void test_a_quick_task_keeps_its_vm(void)
{
    atomic_store(&loads, 0);
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    eng_workers_set_stuck_ms(w, 60000);
    struct t ts[3];
    for (int i = 0; i < 3; i++) {
        init(&ts[i]);
        REQUIRE(eng_workers_submit(w, &ts[i].task) == 0);
        wait_done(&ts[i], 1);
    }
    CHECK_INT(atomic_load(&loads), 1); /* one VM served all three */
    struct eng_worker_state st;
    wait_idle(w, 0, &st);
    CHECK_INT(st.vm_replacements, 0);
    CHECK_INT(st.tasks, 3);
    CHECK_INT(st.stuck, 0);
    eng_workers_stop(w);
}

static void test_stop_within_abandons_a_stuck_worker(void)
{
    struct eng_workers *w = start(1);
    REQUIRE(w != NULL);
    eng_workers_set_stuck_ms(w, 50);
    struct gate g;
    gate_init(&g);
    struct t busy, queued[3];
    blocker(&busy, &g, "stuck for good");
    REQUIRE(eng_workers_submit(w, &busy.task) == 0);
    while (atomic_load(&busy.runs) == 0)
        usleep(1000);
    for (int i = 0; i < 3; i++) {
        init(&queued[i]);
        REQUIRE(eng_workers_submit(w, &queued[i].task) == 0);
    }
    CHECK_INT(eng_workers_stop_within(w, 100), 1); /* w is left to the stuck thread */
    for (int i = 0; i < 3; i++) {                  /* handed back to their submitters at once */
        CHECK_INT(atomic_load(&queued[i].dones), 1);
        CHECK_INT(atomic_load(&queued[i].had_vm), 0);
    }
    CHECK_INT(atomic_load(&busy.dones), 0);
    gate_open(&g); /* it comes back: its task ends, the thread frees the pool (ASan: no leak) */
    wait_done(&busy, 1);
    CHECK_INT(atomic_load(&busy.dones), 1);
}

static void test_stop_within_in_time_frees_the_pool(void)
{
    struct eng_workers *w = start(2);
    REQUIRE(w != NULL);
    struct t ts[4];
    for (int i = 0; i < 4; i++) {
        init(&ts[i]);
        REQUIRE(eng_workers_submit(w, &ts[i].task) == 0);
    }
    CHECK_INT(eng_workers_stop_within(w, 60000), 0);
    for (int i = 0; i < 4; i++)
        CHECK_INT(atomic_load(&ts[i].dones), 1);
}

CHECK_MAIN(CHECK_CASE(test_each_task_runs_once),
           CHECK_CASE(test_vm_kept_then_rebuilt_on_a_new_generation),
           CHECK_CASE(test_stop_hands_queued_tasks_back),
           CHECK_CASE(test_stuck_worker_reported_while_the_other_serves),
           CHECK_CASE(test_vm_replaced_after_a_stuck_task),
           CHECK_CASE(test_a_heartbeat_restarts_the_clock),
           CHECK_CASE(test_a_quick_task_keeps_its_vm),
           CHECK_CASE(test_stop_within_abandons_a_stuck_worker),
           CHECK_CASE(test_stop_within_in_time_frees_the_pool))

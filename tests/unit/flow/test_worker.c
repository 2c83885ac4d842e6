/*
 * test_worker.c - the worker pool (engine/flow/worker.c): every task runs exactly once and then
 * hears done() once; a worker keeps its VM between tasks and builds a fresh one when the
 * scripts' generation moves; on stop, tasks still queued run with vm == NULL (so their
 * submitters hear back) and a submit is refused.
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

CHECK_MAIN(CHECK_CASE(test_each_task_runs_once),
           CHECK_CASE(test_vm_kept_then_rebuilt_on_a_new_generation),
           CHECK_CASE(test_stop_hands_queued_tasks_back))

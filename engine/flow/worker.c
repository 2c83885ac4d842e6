/*
 * worker.c - the worker pool (see worker.h). Owns the threads, the queue and each thread's VM.
 * A VM is created, used and closed on its own thread only.
 */
#include "flow/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "lua/scripts.h"
#include "lua/vm.h"

#define WORKERS_MAX_QUEUE 4096

struct eng_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct eng_task *head, *tail;
    int queued;
    int stopping;
    int n;
    pthread_t *threads;
    struct eng_vm_opts vmopts;
    struct eng_workers_scripts scripts;
};

static struct eng_task *next_task(struct eng_workers *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->cv, &w->mu);
    struct eng_task *t = w->head;
    if (t != NULL) {
        w->head = t->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        t->next = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    return t;
}

static void *worker_main(void *arg)
{
    struct eng_workers *w = arg;
    struct eng_vm *vm = NULL;
    uint64_t gen = 0;
    struct eng_task *t;

    while ((t = next_task(w)) != NULL) {
        int stopping;
        pthread_mutex_lock(&w->mu);
        stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);
        uint64_t now = w->scripts.generation(w->scripts.ud);
        if (!stopping && (vm == NULL || now != gen)) {
            /* Between tasks: build the new VM first, close the old one only if that worked. */
            struct eng_err err = {0};
            struct eng_vm *fresh = eng_vm_new(&w->vmopts, &err);
            if (fresh != NULL) {
                eng_vm_free(vm);
                vm = fresh;
                gen = now;
            } else {
                eng_logf(ENG_LOG_ERROR, "worker: cannot build a VM: %s", err.msg);
            }
        }
        struct eng_vm *use = stopping ? NULL : vm;
        if (use != NULL && t->tenant != NULL)
            eng_vm_set_context(use, t->tenant, NULL);
        t->run(t, use);
        if (use != NULL && t->tenant != NULL)
            eng_vm_set_context(use, NULL, NULL);
        t->done(t);
    }
    eng_vm_free(vm);
    return NULL;
}

struct eng_workers *eng_workers_start(int n, const struct eng_vm_opts *vmopts,
                                      const struct eng_workers_scripts *scripts,
                                      struct eng_err *err)
{
    struct eng_workers *w = calloc(1, sizeof *w);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    if (w == NULL || threads == NULL) {
        free(w);
        free(threads);
        eng_err_set(err, ENG_ENOMEM, "out of memory starting the workers");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = threads;
    w->vmopts = *vmopts;
    w->scripts = *scripts;
    w->vmopts.source = scripts->source;
    w->vmopts.source_ud = scripts->ud;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
            eng_err_set(err, ENG_EIO, "cannot start worker thread %d", i + 1);
            eng_workers_stop(w);
            return NULL;
        }
        w->n++;
    }
    return w;
}

int eng_workers_submit(struct eng_workers *w, struct eng_task *t)
{
    int rc = 0;
    t->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        rc = ENG_EINVAL;
    } else if (w->queued >= WORKERS_MAX_QUEUE) {
        rc = ENG_EBUSY;
    } else {
        if (w->tail != NULL)
            w->tail->next = t;
        else
            w->head = t;
        w->tail = t;
        w->queued++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int eng_workers_queued(struct eng_workers *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->queued;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int eng_workers_count(const struct eng_workers *w)
{
    return w->n; /* written only by eng_workers_start, before the pointer is shared */
}

void eng_workers_stop(struct eng_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    /* No thread is left: hand any remaining task back to its submitter. */
    struct eng_task *t;
    while ((t = w->head) != NULL) {
        w->head = t->next;
        t->run(t, NULL);
        t->done(t);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
}

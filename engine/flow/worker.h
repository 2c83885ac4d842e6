/*
 * worker.h - the worker pool: N threads, each owning one sandboxed VM built from the script
 * registry's published sources and rebuilt between tasks when the registry's generation moves.
 * Tasks are small C structs submitted from any thread (the HTTP server, the scheduler); a task
 * runs on one worker with that worker's VM, then its done() callback is the worker's last
 * touch of it. Ownership of a task stays with its submitter.
 */
#ifndef ENG_WORKER_H
#define ENG_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct eng_scripts;
struct eng_vm;
struct eng_vm_opts;

struct eng_task {
    /* Runs on a worker. vm is NULL when the pool is stopping or no VM could be built; the
     * task must then report a failure without touching Lua. */
    void (*run)(struct eng_task *t, struct eng_vm *vm);
    /* Called after run; the worker never touches t afterwards. */
    void (*done)(struct eng_task *t);
    /* Optional: the tenant engine.log names while run runs (the worker sets the VM's context
     * around run). NULL: none. Must stay valid until run returns. */
    const char *tenant;
    struct eng_task *next; /* queue link, owned by the pool while queued */
};

struct eng_workers;

/* Where the workers' VMs get their scripts (the registry's published sources, lua/scripts.h,
 * handed in by the caller so the pool does not depend on the registry): source(ud, ...) reads
 * one, generation(ud) moves when they change; each worker then rebuilds its VM between tasks. */
struct eng_workers_scripts {
    char *(*source)(void *ud, const char *relpath, size_t *len); /* an eng_vm_source_fn */
    uint64_t (*generation)(void *ud);
    void *ud;
};

/* Start n workers whose VMs use vmopts (copied) with sources from scripts (copied). */
struct eng_workers *eng_workers_start(int n, const struct eng_vm_opts *vmopts,
                                      const struct eng_workers_scripts *scripts,
                                      struct eng_err *err);
/* Queue t. ENG_EBUSY when the queue is full (the caller answers 503), ENG_EINVAL when stopping. */
int eng_workers_submit(struct eng_workers *w, struct eng_task *t);
/* Tasks waiting (for metrics and readiness). */
int eng_workers_queued(struct eng_workers *w);
/* Worker threads running (WORKERS; fixed once started): for metrics. */
int eng_workers_count(const struct eng_workers *w);
/* Stop: queued tasks run with vm == NULL (so their submitters hear back), then join. */
void eng_workers_stop(struct eng_workers *w);

#endif

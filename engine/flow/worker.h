/*
 * worker.h - the worker pool: N threads, each owning one sandboxed VM built from the script
 * registry's published sources and rebuilt between tasks when the registry's generation moves.
 * Tasks are small C structs submitted from any thread (the HTTP server, the scheduler); a task
 * runs on one worker with that worker's VM, then its done() callback is the worker's last
 * touch of it. Ownership of a task stays with its submitter.
 * The watchdog: each worker has a heartbeat (when its task, or the task's last step, began, and
 * what it runs). A worker whose heartbeat is older than the stuck threshold (WORKER_STUCK_MS) is
 * reported stuck (eng_workers_state: GET /ready, /metrics); when it comes back it replaces its
 * VM (free, then new) on its own thread before its next task, since a call that overran may
 * have left the state poisoned. A stop waits a bounded grace, then abandons the stuck workers.
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
    /* Optional: what the task is, for a stuck worker's report ("sync job 12 (run orders)");
     * copied when the task starts. NULL: "a task". */
    const char *what;
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
/* The same, waiting at most grace_ms (< 0: for ever) for the tasks in flight. Returns 0 when
 * every worker ended (w is freed), or the number of workers still busy at the deadline: each is
 * logged (index, task, since when) and abandoned, queued tasks are handed back to their
 * submitters, and w is freed by the last abandoned thread if it ever comes back; the caller must
 * not use w again, nor free what running tasks may touch (the process is meant to exit). */
int eng_workers_stop_within(struct eng_workers *w, long long grace_ms);

/* ---- the watchdog ---- */

#define ENG_WORKERS_STUCK_MS_DEFAULT 600000LL

/* A worker whose heartbeat is older than ms (> 0) is stuck (default
 * ENG_WORKERS_STUCK_MS_DEFAULT). Any thread, any time. */
void eng_workers_set_stuck_ms(struct eng_workers *w, long long ms);
/* Called by a task's own code on its worker thread between steps of a long task (a page of a
 * run, a record of a dry run): the heartbeat restarts, so a long task that keeps moving is not
 * stuck; what (copied; NULL keeps the task's) says what it runs now. A no-op on any other
 * thread (the CLI). */
void eng_workers_beat(const char *what);

struct eng_worker_state {
    int index;                /* 1-based, as logs and /ready name it */
    int busy;                 /* running a task (or building or replacing its VM) */
    int stuck;                /* busy, and its heartbeat older than the stuck threshold */
    long long since_ms;       /* busy: wall-clock time of its heartbeat (ms since the epoch) */
    long long for_ms;         /* busy: ms since then */
    unsigned long long tasks; /* tasks it finished */
    unsigned long long vm_replacements; /* VMs it replaced after coming back from being stuck */
    char what[96];                      /* busy: what it runs ("" when idle) */
    char tenant[65];                    /* busy: the task's tenant ("" when none) */
};
/* The state of worker i (0-based, < eng_workers_count) into *out; 0, or ENG_EINVAL past the
 * last. A worker newly found stuck is logged once (here or by eng_workers_check). */
int eng_workers_state(struct eng_workers *w, int i, struct eng_worker_state *out);
/* Log each worker newly found stuck (once per episode); the number stuck now. The dispatcher
 * calls it about once a second so a stuck worker is logged without anyone asking. */
int eng_workers_check(struct eng_workers *w);

#endif

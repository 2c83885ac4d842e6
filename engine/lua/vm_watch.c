/*
 * vm_watch.c - the script budget's deadline, watched at no cost per instruction: while a call
 * runs, its VM has no hook (Lua 5.4 calls luaG_traceexec on every instruction while any count
 * hook is set); one watchdog thread for the process sleeps until the earliest deadline of the
 * calls in flight and, when one passes, sends a signal to that VM's own thread, whose handler
 * arms the budget hook (lua_sethook from a signal handler: what lua.c does on SIGINT, documented
 * safe by Lua). The hook then raises the budget error as before (vm.c).
 * Owns: the watchdog thread (started by the first registered VM, joined when the last one
 * leaves), its list, and the process's disposition of ENG_VM_WATCH_SIGNAL.
 * Must not: touch a lua_State from the watchdog thread (only the signal, handled on the VM's
 * own thread, arms its hook); take a lock or allocate in the handler.
 */
#include "lua/vm_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

/* SIGURG: ignored by default, passed on silently by debuggers, used by nothing in the engine
 * (Go's runtime preempts with it for the same reasons). ThreadSanitizer holds an asynchronous
 * signal back until the thread next calls into libc, which a pure Lua loop never does: under
 * it the watchdog sends SIGSYS, which TSan delivers at once (it treats SIGSYS as synchronous).
 * The mechanism checked under TSan is the same; only the number differs. */
#if defined(__SANITIZE_THREAD__)
#define WATCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WATCH_TSAN 1
#endif
#endif
#ifdef WATCH_TSAN
#define ENG_VM_WATCH_SIGNAL SIGSYS
#else
#define ENG_VM_WATCH_SIGNAL SIGURG
#endif

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the signal handler reads 64-bit atomics");

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_init_failed;
static pthread_mutex_t watch_life = PTHREAD_MUTEX_INITIALIZER; /* start and stop, in order */
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;   /* the list, stop, the wait */
static pthread_cond_t watch_cv;                                /* CLOCK_MONOTONIC */
static struct eng_vm_watch *watch_list;
static int watch_count;
static int watch_stop;
static pthread_t watch_thread;
/* When the watchdog wakes next (ms, CLOCK_MONOTONIC; LLONG_MAX: not before it is woken). A
 * call whose deadline is earlier wakes it; any other call costs no system call. */
static _Atomic long long watch_next = LLONG_MAX;
/* The watches whose calls run on this thread, innermost first (a call on one VM may run
 * another VM's call inside it); read by the handler. */
static _Thread_local struct eng_vm_watch *volatile watch_running;

/* On the VM's thread: arm the hook of every call here whose deadline has passed. A late signal
 * (its call ended, the next one has time left) finds nothing to do. */
static void watch_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    long long now = eng_now_ms();
    for (struct eng_vm_watch *w = watch_running; w != NULL; w = w->running_prev) {
        long long d = atomic_load(&w->deadline_ms);
        if (d != 0 && now >= d)
            lua_sethook(w->L, w->hook, LUA_MASKCOUNT, 1);
    }
    errno = saved;
}

static void watch_init(void)
{
    pthread_condattr_t ca;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watch_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (pthread_condattr_init(&ca) != 0) {
        watch_init_failed = 1;
        return;
    }
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&watch_cv, &ca) != 0 || sigaction(ENG_VM_WATCH_SIGNAL, &sa, NULL) != 0)
        watch_init_failed = 1;
    pthread_condattr_destroy(&ca);
}

/* The deadline of w's current call and that call's number, read consistently (the owner
 * bumps gen before it sets the deadline). 0: no call running. Under watch_mu. */
static long long watch_due(struct eng_vm_watch *w, unsigned long long *gen)
{
    for (;;) {
        unsigned long long g1 = atomic_load(&w->gen);
        long long d = atomic_load(&w->deadline_ms);
        if (atomic_load(&w->gen) == g1) {
            *gen = g1;
            return d;
        }
    }
}

/* Signal every call past its deadline (once per call); return the earliest deadline of the
 * others. Under watch_mu. */
static long long watch_scan(long long now)
{
    long long next = LLONG_MAX;
    for (struct eng_vm_watch *w = watch_list; w != NULL; w = w->next) {
        unsigned long long g;
        long long d = watch_due(w, &g);
        if (d == 0 || w->sent == g)
            continue;
        if (d <= now) {
            pthread_kill(w->owner, ENG_VM_WATCH_SIGNAL);
            w->sent = g;
        } else if (d < next) {
            next = d;
        }
    }
    return next;
}

/* The earliest deadline not signalled yet. Under watch_mu. */
static long long watch_earliest(void)
{
    long long next = LLONG_MAX;
    for (struct eng_vm_watch *w = watch_list; w != NULL; w = w->next) {
        unsigned long long g;
        long long d = watch_due(w, &g);
        if (d != 0 && w->sent != g && d < next)
            next = d;
    }
    return next;
}

static void *watch_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_mu);
    while (!watch_stop) {
        long long next = watch_scan(eng_now_ms());
        atomic_store(&watch_next, next);
        /* A call that set its deadline before the store above may have read the old
         * watch_next and not woken us: it is seen here. One that reads the new value wakes
         * us (under watch_mu, so not before the wait below has begun) when it is earlier. */
        if (watch_earliest() < next)
            continue;
        if (next == LLONG_MAX) {
            pthread_cond_wait(&watch_cv, &watch_mu);
        } else {
            struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000L};
            pthread_cond_timedwait(&watch_cv, &watch_mu, &ts);
        }
    }
    atomic_store(&watch_next, LLONG_MAX);
    pthread_mutex_unlock(&watch_mu);
    return NULL;
}

int eng_vm_watch_add(struct eng_vm_watch *w, lua_State *L, lua_Hook hook)
{
    memset(w, 0, sizeof *w);
    w->L = L;
    w->hook = hook;
    w->owner = pthread_self();
    if (pthread_once(&watch_once, watch_init) != 0 || watch_init_failed)
        return -1;
    /* the owner must be able to take the signal (serve blocks others for sigwait) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, ENG_VM_WATCH_SIGNAL);
    if (pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0)
        return -1;

    int rc = 0;
    pthread_mutex_lock(&watch_life);
    pthread_mutex_lock(&watch_mu);
    w->next = watch_list;
    watch_list = w;
    if (++watch_count == 1) {
        /* the watchdog takes no signal: process-directed ones go to the threads that wait
         * for them */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        watch_stop = 0;
        if (pthread_create(&watch_thread, NULL, watch_main, NULL) != 0) {
            watch_list = w->next;
            watch_count = 0;
            rc = -1;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&watch_mu);
    pthread_mutex_unlock(&watch_life);
    if (rc == 0)
        w->registered = 1;
    return rc;
}

void eng_vm_watch_remove(struct eng_vm_watch *w)
{
    if (!w->registered)
        return;
    pthread_mutex_lock(&watch_life);
    pthread_mutex_lock(&watch_mu);
    for (struct eng_vm_watch **p = &watch_list; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    int last = --watch_count == 0;
    if (last) {
        watch_stop = 1;
        pthread_cond_signal(&watch_cv);
    }
    pthread_mutex_unlock(&watch_mu);
    if (last)
        pthread_join(watch_thread, NULL);
    pthread_mutex_unlock(&watch_life);
    w->registered = 0;
}

void eng_vm_watch_begin(struct eng_vm_watch *w, long long deadline_ms)
{
    atomic_fetch_add(&w->gen, 1);
    atomic_store(&w->deadline_ms, deadline_ms);
    w->running_prev = watch_running;
    atomic_signal_fence(memory_order_seq_cst);
    watch_running = w;
    if (w->registered && atomic_load(&watch_next) > deadline_ms) {
        pthread_mutex_lock(&watch_mu);
        pthread_cond_signal(&watch_cv);
        pthread_mutex_unlock(&watch_mu);
    }
}

void eng_vm_watch_end(struct eng_vm_watch *w)
{
    atomic_store(&w->deadline_ms, 0);
    atomic_signal_fence(memory_order_seq_cst);
    watch_running = w->running_prev;
}

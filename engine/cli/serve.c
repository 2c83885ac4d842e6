/*
 * serve.c - `tallysync serve`: migrate, load the scripts and watch them, start the workers and
 * the HTTP server, then wait for SIGINT/SIGTERM and shut down in reverse order (workers before
 * the server, so every suspended request is answered before the server closes). The stop is
 * bounded: workers still busy after SHUTDOWN_GRACE_MS are named in the log and abandoned, and the
 * process exits at once (status 1); a guard thread ends any other wait SERVE_STOP_MARGIN_MS
 * later, so no stuck thread (worker, script watcher) holds the process for ever.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "base/clock.h"
#include "cli/cli.h"
#include "adapt/httpd.h"
#include "flow/ingest.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/vault.h"
#include "lua/scripts.h"
#include "flow/sync.h"
#include "flow/webhook_health.h"
#include "flow/worker.h"

/* What a stop may take beyond SHUTDOWN_GRACE_MS (the server's drain, the ingest writer's last
 * commit, joining the script watcher) before the guard ends the process. */
#define SERVE_STOP_MARGIN_MS 10000

/* The stop's last resort: a thread that ends the process when the stop is not done by its
 * deadline (the normal path says done() first and joins it). */
struct stop_guard {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    struct timespec at;
    int done, started;
};

static void *stop_guard_main(void *arg)
{
    struct stop_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (!g->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &g->at);
    int done = g->done;
    pthread_mutex_unlock(&g->mu);
    if (!done) {
        eng_logf(ENG_LOG_ERROR,
                 "the stop did not finish within SHUTDOWN_GRACE_MS + %d ms: "
                 "exiting without it",
                 SERVE_STOP_MARGIN_MS);
        fflush(NULL);
        _exit(1);
    }
    return NULL;
}

static void stop_guard_start(struct stop_guard *g, long long ms)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_MONOTONIC, &g->at);
    g->at.tv_sec += (time_t)(ms / 1000);
    g->at.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (g->at.tv_nsec >= 1000000000L) {
        g->at.tv_sec++;
        g->at.tv_nsec -= 1000000000L;
    }
    g->started = pthread_create(&g->th, NULL, stop_guard_main, g) == 0;
}

static void stop_guard_end(struct stop_guard *g)
{
    pthread_mutex_lock(&g->mu);
    g->done = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->started)
        pthread_join(g->th, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* The database's part of the start, on its own thread beside the first script scan. */
struct db_start {
    pthread_t th;
    struct eng_config *cfg; /* read only here: migrate_store applies the operator settings */
    struct eng_store *hold; /* out: the connection held through the start, or NULL */
    int rc;                 /* out: 0, or 1 when the migrations failed (said on stderr) */
};

static void *db_start_main(void *arg)
{
    struct db_start *d = arg;
    /* One connection held through the start: the connections that come and go meanwhile
     * (migrations, the key check) are then never the last one, whose close checkpoints the
     * WAL into the database and deletes it (two checkpoints and their fsyncs on every start).
     * A failure to open is the migrations' to report. */
    struct eng_err herr = {0};
    /* a read maps the WAL index: from then on this connection counts as open to the others */
    if (eng_store_open(d->cfg->database_url, &d->hold, &herr) == 0 &&
        eng_store_exec(d->hold, "SELECT count(*) FROM sqlite_schema", &herr) != 0) {
        eng_store_close(d->hold);
        d->hold = NULL;
    }
    d->rc = eng_cli_migrate_store(d->cfg, "serve", 2) != 0;
    return NULL;
}

/* The workers' view of the registry's generation (flow/worker.h does not know the registry). */
static uint64_t scripts_generation(void *reg)
{
    return eng_scripts_generation(reg);
}

int eng_cli_serve(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        printf("usage: tallysync serve\n\n"
               "Starts the engine on API_HOST:API_PORT (default 127.0.0.1:8923) with the store at\n"
               "DATABASE_URL (default sqlite:./data/pos.db): applies pending migrations, loads\n"
               "SCRIPTS_DIR and MAPPINGS_DIR and reloads them on change, runs WORKERS worker\n"
               "threads. Logs go to stderr (LOG_FORMAT). Stops cleanly on SIGINT or SIGTERM.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "tallysync serve: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    /* Every thread started below inherits this mask; only sigwait() sees the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct eng_config cfg;
    if (eng_cli_config(&cfg, "serve") != 0)
        return 1;
    /* The database's part of the start (opening it, the migrations: a new database's ~10
     * fdatasyncs) runs beside the first script scan, which needs no database (validation VMs
     * have none); both are done before anything that uses either starts. */
    struct db_start dbs = {.cfg = &cfg};
    int db_thread = pthread_create(&dbs.th, NULL, db_start_main, &dbs) == 0;
    if (!db_thread)
        db_start_main(&dbs);
    struct eng_err err = {0}, serr = {0};
    struct eng_vm_opts vmopts;
    eng_cli_vm_opts(&cfg, &vmopts);
    struct eng_scripts *scripts = eng_scripts_new(&vmopts, &serr);
    /* the first scan: every script validated before the server listens */
    int scan_rc = scripts != NULL ? eng_scripts_start(scripts, &serr) : serr.code;
    if (db_thread)
        pthread_join(dbs.th, NULL);
    struct eng_store *hold = dbs.hold;
    if (dbs.rc != 0) {
        eng_scripts_free(scripts);
        eng_store_close(hold);
        eng_config_free(&cfg);
        return 1;
    }
    /* The vault's key is required: without it stored credentials could be neither read nor
     * written, and a silent default key would be no protection at all. */
    struct eng_keyring *keys = NULL;
    if (eng_keyring_from_env(&keys, &err) != 0) {
        fprintf(stderr, "tallysync serve: %s\n", err.msg);
        eng_scripts_free(scripts);
        eng_store_close(hold);
        eng_config_free(&cfg);
        return 1;
    }
    /* Keys that do not open what is stored: said once here, then by GET /ready (503) and
     * every integration status. The engine still runs, degraded: webhooks keep being taken
     * and the credentials can be stored again through the API. */
    struct eng_store *kst = hold;
    char keymsg[1024];
    if ((kst == NULL && eng_store_open(cfg.database_url, &kst, &err) != 0) ||
        eng_vault_check_keys(kst, keys, keymsg, sizeof keymsg, &err) < 0)
        eng_logf(ENG_LOG_WARN, "cannot check the encryption keys against the store: %s", err.msg);
    else if (keymsg[0] != '\0')
        eng_log_kv(ENG_LOG_ERROR, NULL, NULL,
                   "the configured encryption keys do not open the stored credentials",
                   (const char *const[]){"detail", keymsg, "current_key_id",
                                         eng_keyring_current_id(keys), NULL});
    if (kst != hold)
        eng_store_close(kst);
    memset(&err, 0, sizeof err);

    struct eng_workers *workers = NULL;
    struct eng_httpd *httpd = NULL;
    struct eng_orch *orch = NULL;
    struct eng_webhook_health_timer *whh = NULL;
    struct eng_api api = {.cfg = &cfg,
                          .scripts = scripts,
                          .keys = keys,
                          .policy = scripts != NULL ? eng_scripts_policy(scripts) : NULL};
    api.started_ms = eng_now_ms();
    int status = 1;

    if (scripts == NULL || scan_rc != 0) {
        err = serr;
        goto out;
    }
    if (eng_api_init(&api, &err) != 0)
        goto out;
    struct eng_workers_scripts ws = {eng_scripts_source, scripts_generation, scripts};
    workers = eng_workers_start(cfg.workers, &vmopts, &ws, &err);
    if (workers == NULL)
        goto out;
    eng_workers_set_stuck_ms(workers, cfg.worker_stuck_ms); /* WORKER_STUCK_MS */
    api.workers = workers;
    /* the sync dispatcher: interrupted runs resume now; bulk runs hold at most WORKERS - 1
     * workers, so webhooks, retries and API requests that need a worker still get one */
    struct eng_sync_env senv = {.cfg = &cfg, .keys = keys, .policy = api.policy};
    /* SYNC_DISPATCHER=off: jobs are queued but not run (tests of the producers, maintenance) */
    if (cfg.sync_dispatch) {
        orch = eng_orchestrator_start(&senv, workers, cfg.workers, &err);
        if (orch == NULL)
            goto out;
    }
    api.orch = orch;
    struct eng_ingest_opts ingest_opts = {.window_s = cfg.webhook_replay_window_s,
                                          .sync_full = cfg.webhook_sync_full,
                                          .policy = api.policy};
    if (eng_ingest_start(cfg.database_url, &ingest_opts, &api.ingest, &err) != 0)
        goto out;
    struct eng_httpd_opts hopts = {
        .host = cfg.api_bind, /* API_HOST, resolved by the configuration */
        .port = cfg.api_port,
        .max_body = cfg.max_body_bytes,
        .threads = 2,
        .handler = eng_api_handle,
        .app = &api,
        .headers_timeout_s = cfg.http_headers_timeout_s,
        .body_timeout_s = cfg.http_body_timeout_s,
        .per_address = cfg.http_connections_per_address,
        .unlimited_prefix = "/api/webhooks/", /* vendors deliver from few addresses */
        .trusted_proxies = cfg.trusted_proxies,
    };
    if (eng_httpd_start(&hopts, &httpd, &err) != 0)
        goto out;
    if (eng_webhook_health_timer_start(&cfg, keys, workers, &whh, &err) !=
        0) /* WEBHOOK_CHECK_INTERVAL_S */
        goto out;

    /* the ingest writer's connection is open by now: this close checkpoints nothing */
    eng_store_close(hold);
    hold = NULL;
    /* Start-up's garbage (the validation VMs, the migrations) goes back to the system: what
     * the heap keeps free otherwise stays resident for the life of the process. */
    malloc_trim(0);
    if (cfg.api_token == NULL)
        eng_logf(ENG_LOG_WARN, "API_TOKEN is not set: only tenant tokens (tallysync token "
                               "create) can use the API");
    char port[16];
    snprintf(port, sizeof port, "%d", eng_httpd_port(httpd));
    eng_log_kv(
        ENG_LOG_INFO, NULL, NULL, "listening",
        (const char *const[]){"host", cfg.api_host, "address", cfg.api_bind, "port", port, NULL});
    int sig = 0;
    sigdelset(&set, SIGPIPE);
    sigwait(&set, &sig);
    eng_log_kv(ENG_LOG_INFO, NULL, NULL, "stopping",
               (const char *const[]){"signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL});
    status = 0;

out:
    if (status != 0)
        fprintf(stderr, "tallysync serve: %s\n", err.msg);
    eng_store_close(hold);
    struct stop_guard guard;
    stop_guard_start(&guard, cfg.shutdown_grace_ms + SERVE_STOP_MARGIN_MS);
    long long deadline = eng_now_ms() + cfg.shutdown_grace_ms; /* SHUTDOWN_GRACE_MS */
    /* jobs give their work back before the workers stop */
    eng_orchestrator_stop_within(orch, cfg.shutdown_grace_ms);
    eng_webhook_health_timer_stop(whh); /* submits to the workers: stopped first */
    long long left = deadline - eng_now_ms();
    int abandoned = eng_workers_stop_within(workers, left > 0 ? left : 0);
    if (abandoned > 0) {
        /* Each abandoned worker is named in the log (flow/worker.c). What they hold may still
         * be in use: nothing is freed, the process ends here. A job in flight is given back by
         * the next start's recovery (or taken by another engine when its lease expires); a
         * webhook delivery not yet committed was not answered, so its sender retries it. */
        char n[16];
        snprintf(n, sizeof n, "%d", abandoned);
        eng_log_kv(ENG_LOG_ERROR, NULL, NULL,
                   "stopped without the workers still busy after SHUTDOWN_GRACE_MS",
                   (const char *const[]){"abandoned", n, NULL});
        fflush(NULL);
        _exit(1);
    }
    eng_webhook_health_timer_free(whh);
    eng_httpd_stop(httpd); /* the ingest writer still answers the webhooks it holds meanwhile */
    eng_ingest_stop(api.ingest);
    eng_scripts_free(scripts);
    eng_api_fini(&api);
    eng_keyring_free(keys);
    eng_config_free(&cfg);
    stop_guard_end(&guard);
    return status;
}

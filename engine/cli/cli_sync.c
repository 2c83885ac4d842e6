/*
 * cli_sync.c - `tallysync sync ENTITY --mode full|incremental [--dry-run] [--tenant T]
 * [--flow F]`: queue one run like the API does and execute it in this process (a running
 * `serve` that takes it first is fine: then this command follows its progress). Refuses up
 * front when the tenant lacks credentials for the flow's source or target. On a terminal a
 * progress bar (log lines go above it) and the changes after it; otherwise progress lines and
 * one line per change as it is recorded (a dry run's field differences under each); then a
 * summary and each failed record with its reason.
 * Owns: its store connections, its VM and the progress thread (joined before returning).
 * Exit status: 0 succeeded, 1 partial / failed / cancelled or an error, 2 usage.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_sync_show.h"
#include "base/log.h"
#include "adapt/store.h"
#include "flow/sync.h"
#include "data/vault.h"
#include "base/policy.h"
#include "lua/scripts.h"

static void sync_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tallysync sync ENTITY --mode full|incremental [--dry-run] [--tenant T] "
        "[--flow F]\n\n"
        "Runs one sync of ENTITY (orders, customers, products, refunds, or any entity with\n"
        "--flow)\n"
        "for tenant T (default: default), as POST /api/sync/{entity} would, in this process.\n"
        "On a terminal: a progress bar (log lines go above it), then the changes. Otherwise:\n"
        "progress lines and one line per change as it happens (\"create orders 5001 ->\n"
        "quickbooks Invoice 163\", \"failed orders 6100: <reason>\"). Then a summary and each\n"
        "failed record with its reason. --dry-run writes nothing to the target and changes no\n"
        "cursor; it prints what would change, with each field difference against the target.\n"
        "Refused at once when tenant T has no credentials for the flow's source or target.\n"
        "Exit status: 0 when the run succeeded, 1 when it ended partial, failed or cancelled.\n");
}

struct progress {
    const char *db, *id;
    int tty;
    atomic_int done;
    char state[16];
    int64_t last; /* the last record printed (not on a terminal) */
};

/* Print the run's progress; returns 1 when the run is over. */
static int show(struct eng_store *st, struct progress *p, char *last, size_t lastsize)
{
    struct eng_store_stmt *s = NULL;
    if (eng_store_prepare(st,
                          "SELECT state, progress, records_total, records_read, records_created, "
                          "records_updated, records_unchanged, records_skipped, records_failed "
                          "FROM sync_runs WHERE id = ?",
                          -1, ENG_STORE_TRUSTED, &s, NULL) != 0)
        return 0;
    eng_store_bind_text(s, 1, p->id, strlen(p->id));
    int over = 0;
    if (eng_store_step(s, NULL) == ENG_STORE_ROW) {
        snprintf(p->state, sizeof p->state, "%s", eng_store_column_text(s, 0, NULL));
        double pr = eng_store_column_double(s, 1);
        char line[256];
        snprintf(line, sizeof line,
                 "%s read %lld/%lld created %lld updated %lld unchanged %lld skipped %lld failed "
                 "%lld",
                 p->state, (long long)eng_store_column_int64(s, 3),
                 (long long)eng_store_column_int64(s, 2), (long long)eng_store_column_int64(s, 4),
                 (long long)eng_store_column_int64(s, 5), (long long)eng_store_column_int64(s, 6),
                 (long long)eng_store_column_int64(s, 7), (long long)eng_store_column_int64(s, 8));
        over = strcmp(p->state, "queued") != 0 && strcmp(p->state, "running") != 0;
        if (p->tty) {
            char bar[31], status[320];
            int fill = (int)(pr * 30.0 + 0.5);
            for (int i = 0; i < 30; i++)
                bar[i] = i < fill ? '#' : '.';
            bar[30] = '\0';
            snprintf(status, sizeof status, "[%s] %3d%% %s", bar, (int)(pr * 100.0 + 0.5), line);
            eng_log_status(stdout, status); /* log lines are written above it */
        } else if (strcmp(line, last) != 0) {
            printf("progress %d%% %s\n", (int)(pr * 100.0 + 0.5), line);
            fflush(stdout);
        }
        snprintf(last, lastsize, "%s", line);
    }
    eng_store_finalize(s);
    if (!p->tty)
        eng_cli_sync_show_changes(st, p->id, &p->last, 0, stdout);
    return over;
}

static void *progress_main(void *arg)
{
    struct progress *p = arg;
    struct eng_store *st = NULL;
    char last[256] = "";
    if (eng_store_open(p->db, &st, NULL) != 0)
        return NULL;
    while (!atomic_load(&p->done)) {
        if (show(st, p, last, sizeof last))
            break;
        /* a quarter second between looks, cut short when the run ends here (done): the
         * command then exits at once, not up to 250 ms later */
        for (int i = 0; i < 25 && !atomic_load(&p->done); i++) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    show(st, p, last, sizeof last);
    if (p->tty)
        eng_log_status(stdout, NULL);
    eng_store_close(st);
    return NULL;
}

/* Execute the claimed job here with vm and keys; returns 0, or 1 after printing why. */
static int execute_here(const struct eng_config *cfg, struct eng_store *st, struct eng_vm *vm,
                        const struct eng_keyring *keys, struct eng_job *job, const char *owner)
{
    struct eng_err err = {0};
    struct eng_sync_env env = {.cfg = cfg, .keys = keys, .stopping = NULL};
    enum eng_sync_outcome out = eng_sync_execute(vm, st, &env, job, owner, &err);
    int status = 0;
    switch (out) {
    case ENG_SYNC_DONE:
        eng_queue_complete(st, job->id, owner, NULL);
        break;
    case ENG_SYNC_RETRY:
    case ENG_SYNC_FATAL:
        eng_queue_fail(st, job->id, owner, err.msg, out == ENG_SYNC_RETRY, NULL, NULL);
        eng_log_status(stdout, NULL);
        fprintf(stderr, "tallysync sync: %s%s\n", err.msg,
                out == ENG_SYNC_RETRY ? " (the run stays queued: `tallysync serve` resumes it)"
                                      : "");
        status = 1;
        break;
    default:
        eng_queue_release(st, job->id, owner, 0, NULL);
        break;
    }
    return status;
}

/* The default flow of entity as the scripts declare it (the registry's scan, as `serve` makes
 * at start, its lines at WARN only): 0, or 2 after saying which entities have one. */
static int default_flow(const struct eng_config *cfg, const char *entity, char *flow, size_t size)
{
    struct eng_vm_opts opts;
    eng_cli_vm_opts(cfg, &opts);
    struct eng_err err = {0};
    struct eng_scripts *reg = eng_scripts_new(&opts, &err);
    if (reg == NULL) {
        fprintf(stderr, "tallysync sync: %s\n", err.msg);
        return 1;
    }
    enum eng_log_level level = eng_log_get_level();
    if (level < ENG_LOG_WARN)
        eng_log_set_level(ENG_LOG_WARN);
    eng_scripts_declarations_only(reg); /* the run loads and checks its own scripts */
    eng_scripts_scan(reg, NULL);
    eng_log_set_level(level);
    int rc = eng_sync_default_flow(eng_scripts_policy(reg), NULL, entity, flow, size);
    if (rc != 0) {
        char known[200];
        eng_policy_default_entities(eng_scripts_policy(reg), known, sizeof known);
        fprintf(stderr, "tallysync sync: entity '%s' has no default flow (%s): give --flow\n",
                entity, known);
    }
    eng_scripts_free(reg);
    return rc == 0 ? 0 : 2;
}

/* Refuse a run that could only fail: 0, or 1 after naming each missing connection. */
static int check_connections(const struct eng_config *cfg, struct eng_store *st, struct eng_vm *vm,
                             const struct eng_keyring *keys, const char *tenant, const char *flow)
{
    struct eng_sync_env env = {.cfg = cfg, .keys = keys};
    struct eng_sync_missing miss[2];
    int n = 0;
    struct eng_err err = {0};
    if (eng_sync_check_connections(vm, &env, st, tenant, flow, miss, &n, &err) != 0) {
        fprintf(stderr, "tallysync sync: flow %s cannot start: %s\n", flow, err.msg);
        return 1;
    }
    if (n == 0)
        return 0;
    fprintf(stderr, "tallysync sync: cannot start %s for tenant '%s':\n", flow, tenant);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  %s (%s): %s\n", miss[i].platform, miss[i].role,
                strcmp(miss[i].reason, "no_credentials") == 0
                    ? "no credentials stored (POST /api/integrations/{platform}/credentials)"
                    : "the stored credentials cannot be opened with the configured "
                      "INTEGRATION_ENCRYPTION_KEY");
    return 1;
}

int eng_cli_sync(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        sync_usage(stdout);
        return 0;
    }
    const char *entity = NULL, *mode = NULL, *tenant = "default", *flow = NULL;
    int dry = 0;
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
            continue;
        }
        if (strcmp(argv[i], "--mode") == 0)
            slot = &mode;
        else if (strcmp(argv[i], "--tenant") == 0)
            slot = &tenant;
        else if (strcmp(argv[i], "--flow") == 0)
            slot = &flow;
        else if (argv[i][0] != '-' && entity == NULL) {
            entity = argv[i];
            continue;
        }
        if (eng_cli_option_value("sync", argc, argv, &i, slot) != 0)
            return 2;
    }
    if (entity == NULL || mode == NULL) {
        fprintf(stderr, "tallysync sync: ENTITY and --mode are required (see --help)\n");
        return 2;
    }
    if (strcmp(mode, "full") != 0 && strcmp(mode, "incremental") != 0) {
        fprintf(stderr, "tallysync sync: --mode must be full or incremental, not '%s'\n", mode);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct eng_config cfg;
    if (eng_cli_config(&cfg, "sync") != 0)
        return 1;
    char fbuf[72];
    int frc = flow == NULL ? default_flow(&cfg, entity, fbuf, sizeof fbuf) : 0;
    if (frc != 0) {
        eng_config_free(&cfg);
        return frc;
    }
    const char *f = flow != NULL ? flow : fbuf;
    if (eng_cli_migrate_store(&cfg, "sync", 1) != 0) {
        eng_config_free(&cfg);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", cfg.mappings_dir, f);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "tallysync sync: no mapping named '%s' (no readable %s)\n", f, path);
        eng_config_free(&cfg);
        return 1;
    }
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    struct eng_keyring *keys = NULL;
    struct eng_vm *vm = NULL;
    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    if (eng_store_open(cfg.database_url, &st, &err) != 0 ||
        eng_keyring_from_env(&keys, &err) != 0 || (vm = eng_vm_new(&opts, &err)) == NULL) {
        fprintf(stderr, "tallysync sync: %s\n", err.msg);
        eng_keyring_free(keys);
        eng_store_close(st);
        eng_config_free(&cfg);
        return 1;
    }
    if (check_connections(&cfg, st, vm, keys, tenant, f) != 0) {
        eng_vm_free(vm);
        eng_keyring_free(keys);
        eng_store_close(st);
        eng_config_free(&cfg);
        return 1;
    }
    struct eng_sync_req r = {.tenant = tenant,
                             .entity = entity,
                             .flow = f,
                             .mode = mode,
                             .dry_run = dry,
                             .origin = "cli",
                             .requested_by = "cli"};
    char id[ENG_SYNC_ID_SIZE], active[ENG_SYNC_ID_SIZE];
    int rc = eng_sync_create_run(st, &r, id, active, &err);
    if (rc != 0) {
        fprintf(stderr, "tallysync sync: %s\n", err.msg);
        eng_vm_free(vm);
        eng_keyring_free(keys);
        eng_store_close(st);
        eng_config_free(&cfg);
        return 1;
    }
    printf("sync %s queued (%s, %s%s, tenant %s)\n", id, f, mode, dry ? ", dry run" : "", tenant);
    fflush(stdout);

    struct progress p = {.db = cfg.database_url, .id = id, .tty = isatty(STDOUT_FILENO)};
    pthread_t th;
    int have_thread = pthread_create(&th, NULL, progress_main, &p) == 0;
    char owner[64];
    snprintf(owner, sizeof owner, "cli-%ld", (long)getpid());
    struct eng_job job;
    int status = 0, here = 0;
    int64_t jid = eng_queue_pending_of_run(st, id);
    if (jid > 0 && eng_queue_claim_id(st, jid, owner, ENG_SYNC_LEASE_MS, &job, &err) == 1) {
        status = execute_here(&cfg, st, vm, keys, &job, owner);
        here = 1;
        eng_queue_job_clear(&job);
    }
    /* else a running engine took it: follow its progress */
    if (have_thread) {
        if (status != 0 || here) /* the run ended here (else: follow the engine's progress) */
            atomic_store(&p.done, 1);
        pthread_join(th, NULL);
    }
    if (p.tty) { /* the changes, now that the bar is gone (the first 100) */
        long shown = eng_cli_sync_show_changes(st, id, &p.last, 100, stdout);
        if (shown == 100)
            printf("... more changes: GET /api/sync/status/%s/records\n", id);
    }
    /* summary */
    struct eng_store_stmt *s = NULL;
    if (eng_store_prepare(st,
                          "SELECT state, records_read, records_created, records_updated, "
                          "records_unchanged, records_skipped, records_failed, coalesce(error, "
                          "''), (julianday(coalesce(finished_at, updated_at)) - "
                          "julianday(coalesce(started_at, created_at))) * 86400.0 FROM "
                          "sync_runs WHERE id = ?",
                          -1, ENG_STORE_TRUSTED, &s, &err) == 0) {
        eng_store_bind_text(s, 1, id, strlen(id));
        if (eng_store_step(s, &err) == ENG_STORE_ROW) {
            const char *state = eng_store_column_text(s, 0, NULL);
            printf("sync %s %s: read %lld, created %lld, updated %lld, unchanged %lld, skipped "
                   "%lld, failed %lld in %.1f s%s%s\n",
                   id, state, (long long)eng_store_column_int64(s, 1),
                   (long long)eng_store_column_int64(s, 2), (long long)eng_store_column_int64(s, 3),
                   (long long)eng_store_column_int64(s, 4), (long long)eng_store_column_int64(s, 5),
                   (long long)eng_store_column_int64(s, 6), eng_store_column_double(s, 8),
                   *eng_store_column_text(s, 7, NULL) ? ": " : "",
                   eng_store_column_text(s, 7, NULL));
            if (strcmp(state, "succeeded") != 0)
                status = 1;
        }
        eng_store_finalize(s);
    }
    eng_cli_sync_show_failures(st, id, 50, stdout);
    eng_vm_free(vm);
    eng_keyring_free(keys);
    eng_store_close(st);
    eng_config_free(&cfg);
    return status;
}

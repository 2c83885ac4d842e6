/*
 * config.h - the engine's settings, read once at start-up from the environment and an optional
 * ./.env file (real environment variables win over .env). Names follow the seed's reference.
 * Owns: the strings in struct eng_config (freed by eng_config_free). Must not: log values.
 */
#ifndef ENG_CONFIG_H
#define ENG_CONFIG_H

#include <stddef.h>

#include "base/err.h"

/* DATABASE_URL when unset. The store creates this one's directory: the same text as
 * ENG_STORE_DEFAULT_URL (adapt/store.h; base/ may not include it), checked by test_config. */
#define ENG_CONFIG_DEFAULT_DATABASE_URL "sqlite:./data/pos.db"

struct eng_config {
    char *database_url;                /* DATABASE_URL, default sqlite:./data/pos.db */
    char *api_host;                    /* API_HOST, default 127.0.0.1: an address or a name */
    char *api_bind;                    /* API_HOST resolved: the numeric address to bind */
    int api_port;                      /* API_PORT, default 8923 */
    char *scripts_dir;                 /* SCRIPTS_DIR */
    char *mappings_dir;                /* MAPPINGS_DIR */
    char *schema_dir;                  /* SCHEMA_DIR */
    char *web_dir;                     /* WEB_DIR: the console's built files (web/dist) */
    int workers;                       /* WORKERS, default 2 */
    long long script_timeout_ms;       /* SCRIPT_TIMEOUT_MS, default 2000 */
    long long script_max_instructions; /* SCRIPT_MAX_INSTRUCTIONS, default 0 (not counted) */
    size_t script_memory_bytes;        /* SCRIPT_MEMORY_MB, default 64 */
    int log_level;                     /* LOG_LEVEL */
    int log_format;                    /* LOG_FORMAT: enum eng_log_format */
    size_t max_body_bytes;             /* MAX_BODY_BYTES, default 1 MiB: larger bodies get 413 */
    long long connector_timeout_ms;    /* CONNECTOR_TIMEOUT_MS, default 30000: budget of a call that
                                        * waits on a remote system (test, read, write) */
    long long worker_stuck_ms;         /* WORKER_STUCK_MS, default 600000: a worker busy this long
                                        * since its last heartbeat is reported stuck (/ready) */
    long long shutdown_grace_ms;       /* SHUTDOWN_GRACE_MS, default 30000: how long a stop waits
                                        * for the workers before it abandons the stuck ones */
    long long dry_run_max_records;     /* DRY_RUN_MAX_RECORDS, default 1000: records one dry run
                                        * (API or CLI) maps; more are refused */
    long long session_ttl_s;           /* SESSION_TTL_S, default 43200 (12 h): how long a console
                                        * login lasts (60 s .. 30 days) */
    long long impact_records;          /* IMPACT_RECORDS, default 200 (1..1000): the snapshots an
                                        * impact preview maps when the request names no limit */
    long long snapshots_keep;          /* SNAPSHOTS_KEEP, default 1000: source snapshots kept per
                                        * tenant and flow (record_snapshots) */
    /* Secrets and endpoints: held here, never logged. NULL when unset. */
    char *api_token;                  /* API_TOKEN: the administrator's bearer token */
    char *oauth_redirect_uri;         /* OAUTH_REDIRECT_URI */
    char *woocommerce_webhook_secret; /* WOOCOMMERCE_WEBHOOK_SECRET (default tenant) */
    char *quickbooks_webhook_secret;  /* QUICKBOOKS_WEBHOOK_SECRET (verifier token) */
    char *quickbooks_token_url;       /* QUICKBOOKS_TOKEN_URL, default Intuit's */
    char *quickbooks_auth_url;        /* QUICKBOOKS_AUTH_URL, default Intuit's */
    char *quickbooks_api_base;        /* QUICKBOOKS_API_BASE (scheme and host), default per env */
    char *anonymous_tenant;           /* API_ANONYMOUS_TENANT (the demo's sandbox): requests with
                                       * no Authorization act as this tenant; loopback hosts only */

    /* WooCommerce webhook health (webhook_health.h) */
    char *webhook_public_url; /* WEBHOOK_PUBLIC_URL: the engine's public base URL as the store
                               * reaches it (https unless loopback), no trailing '/'; NULL when
                               * unset (webhooks cannot be registered) */
    long long webhook_check_interval_s; /* WEBHOOK_CHECK_INTERVAL_S, default 3600; 0 = off */
    int sync_dispatch; /* SYNC_DISPATCHER on (default) or off: serve queues jobs, runs none */

    /* Webhook ingest (ingest.h) */
    long long webhook_replay_window_s; /* WEBHOOK_REPLAY_WINDOW_SECONDS, default 86400; 0 = off:
                                        * events whose own time is older are kept as rejected */
    int webhook_sync_full; /* WEBHOOK_SYNC full (default, 1: an acknowledged event survives power
                            * loss) or normal (0: it survives a crash of the process) */

    /* Outbound HTTP (httpc.h) */
    char *http_ca_file; /* ENGINE_HTTP_CA_FILE: a PEM bundle outbound HTTPS trusts instead of the
                         * system's (a test or private CA); NULL when unset */
    char *allow_private_targets; /* ALLOW_PRIVATE_TARGETS: loopback/private/link-local/metadata
                                  * addresses outbound requests may reach ("1" = all, or a list of
                                  * addresses and CIDR ranges); NULL = none (checked by httpc) */

    /* Inbound HTTP (httpd.h) */
    char *trusted_proxies;            /* TRUSTED_PROXIES: addresses/CIDR ranges whose
                                       * X-Forwarded-For is believed; NULL = nobody's */
    int http_headers_timeout_s;       /* HTTP_HEADERS_TIMEOUT_S, default 10: a request's headers
                                       * arrive whole within this, however they trickle */
    int http_body_timeout_s;          /* HTTP_BODY_TIMEOUT_S, default 60: then its body */
    int http_connections_per_address; /* HTTP_CONNECTIONS_PER_ADDRESS, default 32: connections
                                       * one address holds waiting for headers or in API
                                       * requests (webhook deliveries not counted) */
};

/* Load .env (if present in the working directory) into the environment without overriding,
 * then read every setting. Bad values are ENG_EINVAL naming the variable. */
int eng_config_load(struct eng_config *cfg, struct eng_err *err);
void eng_config_free(struct eng_config *cfg);

/* Parse a .env file: KEY=VALUE lines, '#' comments, optional `export `, single or double
 * quotes. Sets variables not already set. Missing file is not an error. */
int eng_config_load_dotenv(const char *path, struct eng_err *err);

/* A URL a secret may be sent to (WEBHOOK_PUBLIC_URL's rule): http(s)://host[:port][/path], no
 * query, fragment, user info or blank, at most 512 bytes; https unless the host is loopback.
 * Trailing '/' removed in place. ENG_EINVAL naming var otherwise. */
int eng_config_url_check(char *url, const char *var, struct eng_err *err);
/* The name when the engine reads a variable of that name, else NULL. */
const char *eng_config_known(const char *name);
/* The i-th variable the engine reads, NULL past the last (tests clear them all). */
const char *eng_config_known_at(size_t i);
/* The known variable nearest to name by edit distance when it is plausibly a typo of it (at
 * most 3 edits and under a third of its length: API_PROT -> API_PORT), else NULL. */
const char *eng_config_nearest(const char *name);

#endif

/*
 * config.c - environment and .env parsing. Owns the strings of struct eng_config.
 * Folder defaults: the variable, else ./<name> when it exists, else the source tree's folder
 * (so a freshly built binary run from anywhere still finds its scripts).
 */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "base/log.h"

#ifndef ENG_SOURCE_DIR
#define ENG_SOURCE_DIR "."
#endif

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Every variable the engine reads (a getenv anywhere under engine/): a .env name that is not
 * here is a typo or another program's setting, and is warned about. tests/unit/base/test_config.c
 * checks this list against the sources, so a new setting cannot be forgotten here. */
static const char *const known_vars[] = {
    "ALLOW_PRIVATE_TARGETS",
    "API_ANONYMOUS_TENANT",
    "API_HOST",
    "API_PORT",
    "API_TOKEN",
    "CONNECTOR_TIMEOUT_MS",
    "DATABASE_URL",
    "DRY_RUN_MAX_RECORDS",
    "ENGINE_HTTP_CA_FILE",
    "HTTP_BODY_TIMEOUT_S",
    "HTTP_CONNECTIONS_PER_ADDRESS",
    "HTTP_HEADERS_TIMEOUT_S",
    "IMPACT_RECORDS",
    "INTEGRATION_ENCRYPTION_KEY",
    "INTEGRATION_ENCRYPTION_KEY_PREVIOUS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "MAPPINGS_DIR",
    "MAX_BODY_BYTES",
    "OAUTH_REDIRECT_URI",
    "QUICKBOOKS_API_BASE",
    "QUICKBOOKS_AUTH_URL",
    "QUICKBOOKS_TOKEN_URL",
    "QUICKBOOKS_WEBHOOK_SECRET",
    "SCHEMA_DIR",
    "SCRIPTS_DIR",
    "SCRIPT_MAX_INSTRUCTIONS",
    "SCRIPT_MEMORY_MB",
    "SCRIPT_TIMEOUT_MS",
    "SESSION_TTL_S",
    "SHUTDOWN_GRACE_MS",
    "SNAPSHOTS_KEEP",
    "SYNC_DISPATCHER",
    "TRUSTED_PROXIES",
    "WEBHOOK_CHECK_INTERVAL_S",
    "WEBHOOK_PUBLIC_URL",
    "WEBHOOK_REPLAY_WINDOW_SECONDS",
    "WEBHOOK_SYNC",
    "WEB_DIR",
    "WOOCOMMERCE_WEBHOOK_SECRET",
    "WORKERS",
    "WORKER_STUCK_MS",
};

#define NAME_CMP_MAX 64 /* names compared for the suggestion; longer ones get none */

/* Edit distance (insert, delete, substitute, swap two neighbours) of two names, both at most
 * NAME_CMP_MAX long. Rows of the classic table, three kept. */
static size_t name_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t rows[3][NAME_CMP_MAX + 1];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= m; j++)
        p[j] = j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t d = p[j] + 1;
            if (c[j - 1] + 1 < d)
                d = c[j - 1] + 1;
            if (p[j - 1] + cost < d)
                d = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            c[j] = d;
        }
        size_t *t = pp;
        pp = p, p = c, c = t;
    }
    return p[m];
}

const char *eng_config_known(const char *name)
{
    for (size_t i = 0; i < sizeof known_vars / sizeof known_vars[0]; i++)
        if (strcmp(known_vars[i], name) == 0)
            return known_vars[i];
    return NULL;
}

const char *eng_config_known_at(size_t i)
{
    return i < sizeof known_vars / sizeof known_vars[0] ? known_vars[i] : NULL;
}

const char *eng_config_nearest(const char *name)
{
    if (strlen(name) > NAME_CMP_MAX)
        return NULL;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < sizeof known_vars / sizeof known_vars[0]; i++) {
        size_t d = name_distance(name, known_vars[i]);
        if (d < best_d)
            best = known_vars[i], best_d = d;
    }
    /* a suggestion only when it is plausibly the same word: at most 3 edits, under a third */
    return best != NULL && best_d <= 3 && best_d * 3 < strlen(best) ? best : NULL;
}

#define DOTENV_LINE_MAX 65536 /* bytes in one .env line, its newline included */

int eng_config_load_dotenv(const char *path, struct eng_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT
                   ? 0
                   : eng_err_set(err, ENG_EIO, "cannot read %s: %s", path, strerror(errno));
    /* A line is read whole (getline): a fixed buffer would cut a long value and parse its rest
     * as a line of its own, which could set another variable. */
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (got > DOTENV_LINE_MAX) {
            rc = eng_err_set(err, ENG_EINVAL, "%s:%d: line longer than %d bytes", path, lineno,
                             DOTENV_LINE_MAX);
            break;
        }
        if (memchr(line, '\0', (size_t)got) != NULL) { /* the rest would be silently dropped */
            rc = eng_err_set(err, ENG_EINVAL, "%s:%d: a NUL byte", path, lineno);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = eng_err_set(err, ENG_EINVAL, "%s:%d: expected KEY=VALUE", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        size_t n = strlen(val);
        if (n >= 2 && (val[0] == '"' || val[0] == '\'') && val[n - 1] == val[0]) {
            val[n - 1] = '\0';
            val++;
        } else {
            char *hash = strstr(val, " #"); /* inline comment after an unquoted value */
            if (hash != NULL)
                *hash = '\0', val = trim(val);
        }
        for (const char *k = key; *k; k++) {
            if (!(isalnum((unsigned char)*k) || *k == '_')) {
                rc = eng_err_set(err, ENG_EINVAL, "%s:%d: invalid variable name", path, lineno);
                break;
            }
        }
        if (rc != 0)
            break;
        if (eng_config_known(key) == NULL) { /* the name only: the value may be a secret */
            const char *near = eng_config_nearest(key);
            eng_logf(ENG_LOG_WARN, "%s:%d: %.64s%s is not a setting of tallysync: ignored%s%s%s",
                     path, lineno, key, strlen(key) > 64 ? "..." : "",
                     near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        }
        setenv(key, val, 0);
    }
    free(line);
    fclose(f);
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *dir_setting(const char *var, const char *name)
{
    const char *v = getenv(var);
    if (v != NULL && *v != '\0')
        return strdup(v);
    char local[PATH_MAX];
    snprintf(local, sizeof local, "./%s", name);
    if (is_dir(local))
        return strdup(local);
    snprintf(local, sizeof local, "%s/%s", ENG_SOURCE_DIR, name);
    return strdup(local);
}

static int int_setting(const char *var, long long def, long long lo, long long hi, long long *out,
                       struct eng_err *err)
{
    const char *v = getenv(var);
    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || x < lo || x > hi)
        return eng_err_set(err, ENG_EINVAL, "%s must be an integer from %lld to %lld", var, lo, hi);
    *out = x;
    return 0;
}

/* A public base URL (WEBHOOK_PUBLIC_URL): http(s)://host[:port][/path], no query, fragment or
 * user info; https unless the host is loopback (a store never delivers to plain HTTP on the
 * internet: the signed payloads carry customers' data). Trailing '/' removed in place. */
static int public_url_check(char *url, const char *var, struct eng_err *err)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    int https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "%s must start with https:// (e.g. https://sync.example.com)", var);
    const char *host = url + (https ? 8 : 7);
    size_t hlen = strcspn(host, "/");
    if (hlen == 0 || strpbrk(url, "?#@ \t") != NULL || n > 512)
        return eng_err_set(err, ENG_EINVAL,
                           "%s must be a base URL like https://sync.example.com (a host, an "
                           "optional port and path; no query, fragment or user name)",
                           var);
    char name[256];
    size_t nlen = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/");
    snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : sizeof name - 1), host);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int loopback = strcmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0 ||
                   (strncmp(name, "127.", 4) == 0 && strspn(name, "0123456789.") == strlen(name));
    if (!https && !loopback)
        return eng_err_set(err, ENG_EINVAL,
                           "%s must use https:// (plain http is allowed for loopback hosts only, "
                           "not %s)",
                           var, name);
    return 0;
}

/* API_HOST to the one numeric address the server binds: an address as it is, a name by
 * getaddrinfo, its first IPv4 address, else its first IPv6 one (one listening socket; IPv4 first
 * because "localhost" lists ::1 first on some systems while clients mostly dial 127.0.0.1). */
static int resolve_host(const char *host, char **out, struct eng_err *err)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
        *out = strdup(host);
        return *out != NULL ? 0 : eng_err_set(err, ENG_ENOMEM, "out of memory");
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "API_HOST '%.200s' does not resolve (%s): use an address of this "
                           "machine (e.g. 127.0.0.1) or a name that resolves to one",
                           host, gai_strerror(rc));
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; a != NULL && pick == NULL; a = a->ai_next)
        if (a->ai_family == AF_INET)
            pick = a;
    for (const struct addrinfo *a = res; a != NULL && pick == NULL; a = a->ai_next)
        if (a->ai_family == AF_INET6)
            pick = a;
    char text[INET6_ADDRSTRLEN] = "";
    if (pick != NULL) {
        const void *addr =
            pick->ai_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)(void *)pick->ai_addr)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)(void *)pick->ai_addr)->sin6_addr;
        inet_ntop(pick->ai_family, addr, text, sizeof text);
    }
    freeaddrinfo(res);
    if (text[0] == '\0')
        return eng_err_set(err, ENG_EINVAL, "API_HOST '%.200s' has no IPv4 or IPv6 address", host);
    *out = strdup(text);
    return *out != NULL ? 0 : eng_err_set(err, ENG_ENOMEM, "out of memory");
}

/* 1 when a numeric address is loopback: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
static int is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) != 1)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

int eng_config_load(struct eng_config *cfg, struct eng_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = eng_config_load_dotenv(".env", err);
    if (rc != 0)
        return rc;

    const char *v = getenv("DATABASE_URL");
    cfg->database_url = strdup(v && *v ? v : ENG_CONFIG_DEFAULT_DATABASE_URL);
    v = getenv("API_HOST");
    cfg->api_host = strdup(v && *v ? v : "127.0.0.1");
    cfg->scripts_dir = dir_setting("SCRIPTS_DIR", "scripts");
    cfg->mappings_dir = dir_setting("MAPPINGS_DIR", "mappings");
    cfg->schema_dir = dir_setting("SCHEMA_DIR", "schema");
    cfg->web_dir = dir_setting("WEB_DIR", "web/dist");
    if (!cfg->database_url || !cfg->api_host || !cfg->scripts_dir || !cfg->mappings_dir ||
        !cfg->schema_dir || !cfg->web_dir)
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading the configuration");

    long long x = 0;
    if ((rc = int_setting("API_PORT", 8923, 0, 65535, &x, err)) != 0)
        return rc;
    cfg->api_port = (int)x;
    if ((rc = int_setting("WORKERS", 2, 1, 64, &x, err)) != 0)
        return rc;
    cfg->workers = (int)x;
    if ((rc = int_setting("SCRIPT_TIMEOUT_MS", 2000, 10, 3600000, &x, err)) != 0)
        return rc;
    cfg->script_timeout_ms = x;
    if ((rc = int_setting("SCRIPT_MAX_INSTRUCTIONS", 0, 0, 100000000000LL, &x, err)) != 0)
        return rc;
    cfg->script_max_instructions = x;
    if ((rc = int_setting("SCRIPT_MEMORY_MB", 64, 1, 4096, &x, err)) != 0)
        return rc;
    cfg->script_memory_bytes = (size_t)x << 20;

    if ((rc = int_setting("MAX_BODY_BYTES", 1 << 20, 1024, 1LL << 30, &x, err)) != 0)
        return rc;
    cfg->max_body_bytes = (size_t)x;
    if ((rc = int_setting("CONNECTOR_TIMEOUT_MS", 30000, 100, 3600000, &x, err)) != 0)
        return rc;
    cfg->connector_timeout_ms = x;
    /* the worker watchdog (flow/worker.h): far above a call's budget by default */
    if ((rc = int_setting("WORKER_STUCK_MS", 600000, 100, 86400000, &x, err)) != 0)
        return rc;
    cfg->worker_stuck_ms = x;
    if ((rc = int_setting("SHUTDOWN_GRACE_MS", 30000, 0, 3600000, &x, err)) != 0)
        return rc;
    cfg->shutdown_grace_ms = x;
    if ((rc = int_setting("HTTP_HEADERS_TIMEOUT_S", 10, 1, 3600, &x, err)) != 0)
        return rc;
    cfg->http_headers_timeout_s = (int)x;
    if ((rc = int_setting("HTTP_BODY_TIMEOUT_S", 60, 1, 3600, &x, err)) != 0)
        return rc;
    cfg->http_body_timeout_s = (int)x;
    if ((rc = int_setting("HTTP_CONNECTIONS_PER_ADDRESS", 32, 1, 100000, &x, err)) != 0)
        return rc;
    cfg->http_connections_per_address = (int)x;
    if ((rc = int_setting("DRY_RUN_MAX_RECORDS", 1000, 1, 1000000, &x, err)) != 0)
        return rc;
    cfg->dry_run_max_records = x;
    if ((rc = int_setting("SESSION_TTL_S", 43200, 60, 2592000, &x, err)) != 0)
        return rc;
    cfg->session_ttl_s = x;
    if ((rc = int_setting("IMPACT_RECORDS", 200, 1, 1000, &x, err)) != 0)
        return rc;
    cfg->impact_records = x;
    if ((rc = int_setting("SNAPSHOTS_KEEP", 1000, 1, 1000000, &x, err)) != 0)
        return rc;
    cfg->snapshots_keep = x;

    static const struct {
        const char *var;
        const char *def;
        size_t off;
    } strs[] = {
        {"API_TOKEN", NULL, offsetof(struct eng_config, api_token)},
        {"OAUTH_REDIRECT_URI", "http://localhost:8923/api/integrations/quickbooks/callback",
         offsetof(struct eng_config, oauth_redirect_uri)},
        {"WOOCOMMERCE_WEBHOOK_SECRET", NULL,
         offsetof(struct eng_config, woocommerce_webhook_secret)},
        {"QUICKBOOKS_WEBHOOK_SECRET", NULL, offsetof(struct eng_config, quickbooks_webhook_secret)},
        {"QUICKBOOKS_TOKEN_URL", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
         offsetof(struct eng_config, quickbooks_token_url)},
        {"QUICKBOOKS_AUTH_URL", "https://appcenter.intuit.com/connect/oauth2",
         offsetof(struct eng_config, quickbooks_auth_url)},
        {"QUICKBOOKS_API_BASE", NULL, offsetof(struct eng_config, quickbooks_api_base)},
        {"API_ANONYMOUS_TENANT", NULL, offsetof(struct eng_config, anonymous_tenant)},
        {"WEBHOOK_PUBLIC_URL", NULL, offsetof(struct eng_config, webhook_public_url)},
        {"ENGINE_HTTP_CA_FILE", NULL, offsetof(struct eng_config, http_ca_file)},
        {"ALLOW_PRIVATE_TARGETS", NULL, offsetof(struct eng_config, allow_private_targets)},
        {"TRUSTED_PROXIES", NULL, offsetof(struct eng_config, trusted_proxies)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        v = getenv(strs[i].var);
        const char *val = v != NULL && *v != '\0' ? v : strs[i].def;
        if (val == NULL)
            continue;
        char *copy = strdup(val);
        if (copy == NULL)
            return eng_err_set(err, ENG_ENOMEM, "out of memory reading the configuration");
        *(char **)(void *)((char *)cfg + strs[i].off) = copy;
    }
    if (cfg->api_token != NULL && strlen(cfg->api_token) < 16)
        return eng_err_set(err, ENG_EINVAL,
                           "API_TOKEN must be at least 16 characters (try `tallysync keygen`)");

    if ((rc = resolve_host(cfg->api_host, &cfg->api_bind, err)) != 0)
        return rc;
    /* Anonymous access is for the local demo: never on an address another machine can reach.
     * Judged on the address bound, so a name is as good as the address it resolves to. */
    if (cfg->anonymous_tenant != NULL && !is_loopback(cfg->api_bind))
        return eng_err_set(err, ENG_EINVAL,
                           "API_ANONYMOUS_TENANT is for a local demo: it needs API_HOST on "
                           "loopback (127.0.0.1, ::1 or localhost), not %.200s (%s)",
                           cfg->api_host, cfg->api_bind);
    if (cfg->anonymous_tenant != NULL &&
        (strlen(cfg->anonymous_tenant) > 64 ||
         strspn(cfg->anonymous_tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_-.") != strlen(cfg->anonymous_tenant)))
        return eng_err_set(err, ENG_EINVAL,
                           "API_ANONYMOUS_TENANT must be a tenant id (1-64 letters, digits, '_', "
                           "'-' or '.')");

    if (cfg->webhook_public_url != NULL &&
        (rc = public_url_check(cfg->webhook_public_url, "WEBHOOK_PUBLIC_URL", err)) != 0)
        return rc;
    if ((rc = int_setting("WEBHOOK_CHECK_INTERVAL_S", 3600, 0, 31LL * 86400, &x, err)) != 0)
        return rc;
    cfg->webhook_check_interval_s = x;

    if ((rc = int_setting("WEBHOOK_REPLAY_WINDOW_SECONDS", 86400, 0, 366LL * 86400, &x, err)) != 0)
        return rc;
    cfg->webhook_replay_window_s = x;
    v = getenv("WEBHOOK_SYNC");
    cfg->webhook_sync_full = 1;
    if (v != NULL && *v != '\0') {
        if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0)
            return eng_err_set(err, ENG_EINVAL, "WEBHOOK_SYNC must be full or normal");
        cfg->webhook_sync_full = strcmp(v, "full") == 0;
    }

    v = getenv("SYNC_DISPATCHER");
    cfg->sync_dispatch = 1;
    if (v != NULL && *v != '\0') {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) /* a typo must not run jobs */
            return eng_err_set(err, ENG_EINVAL, "SYNC_DISPATCHER must be on or off");
        cfg->sync_dispatch = strcmp(v, "on") == 0;
    }
    v = getenv("LOG_LEVEL");
    cfg->log_level = ENG_LOG_INFO;
    if (v != NULL && *v != '\0') {
        int lvl = eng_log_level_parse(v);
        if (lvl < 0)
            return eng_err_set(err, ENG_EINVAL, "LOG_LEVEL must be debug, info, warn or error");
        cfg->log_level = lvl;
    }
    v = getenv("LOG_FORMAT");
    cfg->log_format = ENG_LOG_FORMAT_AUTO;
    if (v != NULL && *v != '\0') {
        int f = eng_log_format_parse(v);
        if (f < 0)
            return eng_err_set(err, ENG_EINVAL,
                               "LOG_FORMAT must be auto (text on a terminal, JSON otherwise), "
                               "text or json");
        cfg->log_format = f;
    }
    return 0;
}

void eng_config_free(struct eng_config *cfg)
{
    free(cfg->database_url);
    free(cfg->api_host);
    free(cfg->api_bind);
    free(cfg->scripts_dir);
    free(cfg->mappings_dir);
    free(cfg->schema_dir);
    free(cfg->web_dir);
    char **secrets[] = {&cfg->api_token, &cfg->woocommerce_webhook_secret,
                        &cfg->quickbooks_webhook_secret};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (*secrets[i] != NULL) /* best effort: leave no secret in freed memory */
            memset(*secrets[i], 0, strlen(*secrets[i]));
    free(cfg->api_token);
    free(cfg->oauth_redirect_uri);
    free(cfg->woocommerce_webhook_secret);
    free(cfg->quickbooks_webhook_secret);
    free(cfg->quickbooks_token_url);
    free(cfg->quickbooks_auth_url);
    free(cfg->quickbooks_api_base);
    free(cfg->anonymous_tenant);
    free(cfg->webhook_public_url);
    free(cfg->http_ca_file);
    free(cfg->allow_private_targets);
    free(cfg->trusted_proxies);
    memset(cfg, 0, sizeof *cfg);
}

/* The rule for every URL a secret may be sent to, also applied to the operator settings stored
 * in the database (operator_settings.c). */
int eng_config_url_check(char *url, const char *var, struct eng_err *err)
{
    return public_url_check(url, var, err);
}

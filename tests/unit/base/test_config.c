/*
 * test_config.c - config.c: every variable the engine reads is known to the .env check, and the
 * nearest-name suggestion for a typo (issue 10 item 12), and every default as loaded from an
 * environment that sets nothing (the behaviour behind each is in tests/integration/defaults.sh).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "check.h"
#include "base/config.h"
#include "adapt/store.h"
#include "base/log.h"
#include "data/operator_settings.h"

/* Each NAME in `getenv("NAME"`, `_setting("NAME"` and (config.c's table) `{"NAME",` of every
 * engine/ file must be a known variable. Answers how many names were seen. */
static int scan_file(const char *path)
{
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, 0, NULL) != 0) {
        eng_buf_free(&b);
        return 0;
    }
    static const char *const marks[] = {"getenv(\"", "_setting(\"", "{\""};
    int seen = 0;
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        for (const char *p = strstr(b.data, marks[m]); p != NULL; p = strstr(p + 1, marks[m])) {
            const char *name = p + strlen(marks[m]);
            size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            /* a name without '_' (WORKERS) counts too; in the table only NAME_LIKE strings */
            if (n < 3 || name[n] != '"' || (m == 2 && strchr(name, '_') > name + n))
                continue;
            if (m == 2 && (strstr(path, "/config.c") == NULL || name[n + 1] != ','))
                continue;
            char var[128];
            snprintf(var, sizeof var, "%.*s", (int)n, name);
            if (eng_config_known(var) == NULL)
                fprintf(stderr, "%s reads %s, which config.c's known_vars lacks\n", path, var);
            CHECK(eng_config_known(var) != NULL);
            seen++;
        }
    }
    eng_buf_free(&b);
    return seen;
}

/* The .c files of one folder. */
static int scan_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        seen += scan_file(path);
    }
    closedir(d);
    return seen;
}

static void test_every_read_variable_is_known(void)
{
    const char *root = getenv("ENG_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/engine", root != NULL ? root : ".");
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    int seen = scan_dir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) { /* and every layer's folder */
        if (e->d_name[0] == '.')
            continue;
        char sub[8192];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        seen += scan_dir(sub);
    }
    closedir(d);
    CHECK(seen >= 25); /* the scan found the settings (a scan that finds nothing proves nothing) */
}

static void test_nearest(void)
{
    CHECK_STR(eng_config_known("API_PORT"), "API_PORT");
    CHECK(eng_config_known("API_PROT") == NULL);
    CHECK_STR(eng_config_nearest("API_PROT"), "API_PORT"); /* the issue's own typo */
    CHECK_STR(eng_config_nearest("DATABSE_URL"), "DATABASE_URL");
    CHECK_STR(eng_config_nearest("INTEGRATION_ENCRYPTON_KEY"), "INTEGRATION_ENCRYPTION_KEY");
    CHECK(eng_config_nearest("PGPASSWORD") == NULL); /* another program's: no wild guess */
    CHECK(eng_config_nearest("X") == NULL);
    char longname[200];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(eng_config_nearest(longname) == NULL);
}

/* issue 10 item 10: API_HOST may be a name; loopback is judged on the address it binds. */
static void test_api_host(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX";
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    REQUIRE(chdir(tmp) == 0); /* no .env of the caller's */
    struct eng_config cfg;
    struct eng_err err = {0};
    static const struct {
        const char *host, *anon, *bind; /* bind NULL: refused */
    } cases[] = {
        {"127.0.0.1", NULL, "127.0.0.1"},
        {"localhost", NULL, "127.0.0.1"},
        {"localhost", "demo", "127.0.0.1"},
        {"::1", "demo", "::1"},
        {"127.0.1.1", "demo", "127.0.1.1"},
        {"0.0.0.0", NULL, "0.0.0.0"},
        {"0.0.0.0", "demo", NULL},
        {"::", "demo", NULL},
        {"no-such-host.invalid", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("API_HOST", cases[i].host, 1);
        if (cases[i].anon != NULL)
            setenv("API_ANONYMOUS_TENANT", cases[i].anon, 1);
        else
            unsetenv("API_ANONYMOUS_TENANT");
        int rc = eng_config_load(&cfg, &err);
        if (cases[i].bind != NULL) {
            CHECK_INT(rc, 0);
            if (rc == 0)
                CHECK_STR(cfg.api_bind, cases[i].bind);
            else
                fprintf(stderr, "API_HOST=%s: %s\n", cases[i].host, err.msg);
        } else {
            CHECK(rc != 0);
            CHECK(strstr(err.msg, "API_") != NULL); /* names the variable */
        }
        eng_config_free(&cfg);
    }
    unsetenv("API_HOST");
    unsetenv("API_ANONYMOUS_TENANT");
    CHECK(chdir(cwd) == 0);
    rmdir(tmp);
}

/* Every setting unset, no ./.env, no ./scripts: each field holds the documented default (README
 * "Configuration"), and the operator settings' built-in defaults are the same values. */
static void test_defaults_from_a_clean_environment(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX";
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    REQUIRE(chdir(tmp) == 0);
    size_t n = 0;
    for (const char *v; (v = eng_config_known_at(n)) != NULL; n++)
        unsetenv(v);
    CHECK(n >= 29); /* the list was walked */
    struct eng_config cfg;
    struct eng_err err = {0};
    int rc = eng_config_load(&cfg, &err);
    CHECK_INT(rc, 0);
    if (rc == 0) {
        CHECK_STR(cfg.database_url, "sqlite:./data/pos.db");
        CHECK_STR(ENG_CONFIG_DEFAULT_DATABASE_URL, ENG_STORE_DEFAULT_URL); /* one default */
        CHECK_STR(cfg.api_host, "127.0.0.1");
        CHECK_STR(cfg.api_bind, "127.0.0.1");
        CHECK_INT(cfg.api_port, 8923);
        CHECK_STR(cfg.scripts_dir, ENG_SOURCE_DIR "/scripts"); /* no ./scripts here */
        CHECK_STR(cfg.mappings_dir, ENG_SOURCE_DIR "/mappings");
        CHECK_STR(cfg.schema_dir, ENG_SOURCE_DIR "/schema");
        CHECK_STR(cfg.web_dir, ENG_SOURCE_DIR "/web/dist"); /* no ./web/dist here */
        CHECK_INT(cfg.workers, 2);
        CHECK(cfg.script_timeout_ms == 2000);
        CHECK(cfg.script_max_instructions == 0); /* not counted: the time budget alone */
        CHECK(cfg.script_memory_bytes == (size_t)64 << 20);
        CHECK_INT(cfg.log_level, ENG_LOG_INFO);
        CHECK_INT(cfg.log_format, ENG_LOG_FORMAT_AUTO);
        CHECK(cfg.max_body_bytes == 1048576);
        CHECK(cfg.connector_timeout_ms == 30000);
        CHECK(cfg.worker_stuck_ms == 600000);  /* WORKER_STUCK_MS */
        CHECK(cfg.shutdown_grace_ms == 30000); /* SHUTDOWN_GRACE_MS */
        CHECK(cfg.dry_run_max_records == 1000);
        CHECK(cfg.session_ttl_s == 43200); /* SESSION_TTL_S: 12 h */
        CHECK(cfg.impact_records == 200);  /* IMPACT_RECORDS */
        CHECK(cfg.snapshots_keep == 1000); /* SNAPSHOTS_KEEP */
        CHECK(cfg.api_token == NULL);
        CHECK_STR(cfg.oauth_redirect_uri,
                  "http://localhost:8923/api/integrations/quickbooks/callback");
        CHECK(cfg.woocommerce_webhook_secret == NULL);
        CHECK(cfg.quickbooks_webhook_secret == NULL);
        CHECK_STR(cfg.quickbooks_token_url,
                  "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer");
        CHECK_STR(cfg.quickbooks_auth_url, "https://appcenter.intuit.com/connect/oauth2");
        CHECK(cfg.quickbooks_api_base == NULL);   /* per credential environment (connctx) */
        CHECK(cfg.allow_private_targets == NULL); /* outbound: public addresses only */
        CHECK(cfg.trusted_proxies == NULL);       /* nobody's X-Forwarded-For */
        CHECK_INT(cfg.http_headers_timeout_s, 10);
        CHECK_INT(cfg.http_body_timeout_s, 60);
        CHECK_INT(cfg.http_connections_per_address, 32);
        CHECK(cfg.anonymous_tenant == NULL);
        CHECK(cfg.webhook_public_url == NULL);
        CHECK(cfg.webhook_check_interval_s == 3600);
        CHECK_INT(cfg.sync_dispatch, 1);
        CHECK(cfg.webhook_replay_window_s == 86400); /* WEBHOOK_REPLAY_WINDOW_SECONDS */
        CHECK_INT(cfg.webhook_sync_full, 1);         /* WEBHOOK_SYNC full */
        CHECK(cfg.http_ca_file == NULL);             /* ENGINE_HTTP_CA_FILE: system CAs */
        for (size_t i = 0; i < eng_operator_settings_ndefs; i++) {
            const struct eng_operator_def *d = &eng_operator_settings_defs[i];
            const char *got = *(char *const *)(const void *)((const char *)&cfg + d->cfg_off);
            if (d->def == NULL)
                CHECK(got == NULL);
            else
                CHECK_STR(got, d->def); /* one default, whichever file a reader looks in */
        }
    } else {
        fprintf(stderr, "defaults: %s\n", err.msg);
    }
    eng_config_free(&cfg);
    CHECK(chdir(cwd) == 0);
    rmdir(tmp);
}

/* SYNC_DISPATCHER: on or off; anything else (a typo of off) is refused by name, never run. */
static void test_sync_dispatcher(void)
{
    static const struct {
        const char *v;
        int ok, on;
    } cases[] = {{"on", 1, 1}, {"off", 1, 0}, {"", 1, 1}, {"of", 0, 0}, {"OFF", 0, 0}, {"0", 0, 0}};
    char tmp[] = "/tmp/test_config.XXXXXX";
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    REQUIRE(chdir(tmp) == 0); /* no .env of the caller's */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("SYNC_DISPATCHER", cases[i].v, 1);
        struct eng_config cfg;
        struct eng_err err = {0};
        int rc = eng_config_load(&cfg, &err);
        if (cases[i].ok) {
            CHECK_INT(rc, 0);
            CHECK_INT(cfg.sync_dispatch, cases[i].on);
        } else {
            CHECK(rc != 0);
            CHECK(strstr(err.msg, "SYNC_DISPATCHER must be on or off") != NULL);
        }
        eng_config_free(&cfg);
    }
    unsetenv("SYNC_DISPATCHER");
    CHECK(chdir(cwd) == 0);
    rmdir(tmp);
}

/* WEBHOOK_REPLAY_WINDOW_SECONDS, WEBHOOK_SYNC and ENGINE_HTTP_CA_FILE are read here (no longer
 * by ingest.c and httpc.c themselves): values, and bad ones refused by name. */
/* The inbound HTTP limits: integers in range, a bad value names its variable. */
static void test_http_limits(void)
{
    static const struct {
        const char *var, *value;
        int ok;
    } cases[] = {
        {"HTTP_HEADERS_TIMEOUT_S", "5", 1},       {"HTTP_HEADERS_TIMEOUT_S", "0", 0},
        {"HTTP_HEADERS_TIMEOUT_S", "3601", 0},    {"HTTP_BODY_TIMEOUT_S", "3600", 1},
        {"HTTP_BODY_TIMEOUT_S", "10s", 0},        {"HTTP_CONNECTIONS_PER_ADDRESS", "1", 1},
        {"HTTP_CONNECTIONS_PER_ADDRESS", "0", 0}, {"HTTP_CONNECTIONS_PER_ADDRESS", "-3", 0},
    };
    char tmp[] = "/tmp/test_config.XXXXXX";
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    REQUIRE(chdir(tmp) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        struct eng_config cfg;
        struct eng_err err = {0};
        int rc = eng_config_load(&cfg, &err);
        if (cases[i].ok) {
            CHECK_INT(rc, 0);
        } else {
            CHECK_INT(rc, ENG_EINVAL);
            CHECK(strstr(err.msg, cases[i].var) != NULL);
        }
        eng_config_free(&cfg);
        unsetenv(cases[i].var);
    }
    CHECK(chdir(cwd) == 0);
    rmdir(tmp);
}

static void test_webhook_and_http_settings(void)
{
    static const struct {
        const char *window, *sync, *ca;
        int ok;
        long long window_s;
        int full;
    } cases[] = {
        {"0", "normal", "/etc/ca.pem", 1, 0, 0}, {"3600", "full", "", 1, 3600, 1},
        {"31622400", "", NULL, 1, 31622400, 1},  {"31622401", "full", NULL, 0, 0, 0},
        {"-1", "full", NULL, 0, 0, 0},           {"1h", "full", NULL, 0, 0, 0},
        {"60", "FULL", NULL, 0, 0, 0},           {"60", "off", NULL, 0, 0, 0},
    };
    char tmp[] = "/tmp/test_config.XXXXXX";
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    REQUIRE(chdir(tmp) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("WEBHOOK_REPLAY_WINDOW_SECONDS", cases[i].window, 1);
        setenv("WEBHOOK_SYNC", cases[i].sync, 1);
        if (cases[i].ca != NULL)
            setenv("ENGINE_HTTP_CA_FILE", cases[i].ca, 1);
        else
            unsetenv("ENGINE_HTTP_CA_FILE");
        struct eng_config cfg;
        struct eng_err err = {0};
        int rc = eng_config_load(&cfg, &err);
        if (cases[i].ok) {
            CHECK_INT(rc, 0);
            CHECK(cfg.webhook_replay_window_s == cases[i].window_s);
            CHECK_INT(cfg.webhook_sync_full, cases[i].full);
            if (cases[i].ca != NULL && cases[i].ca[0] != '\0')
                CHECK_STR(cfg.http_ca_file, cases[i].ca);
            else
                CHECK(cfg.http_ca_file == NULL);
        } else {
            CHECK(rc != 0);
            CHECK(strstr(err.msg, strstr(err.msg, "SYNC")
                                      ? "WEBHOOK_SYNC must be full or normal"
                                      : "WEBHOOK_REPLAY_WINDOW_SECONDS") != NULL);
        }
        eng_config_free(&cfg);
    }
    unsetenv("WEBHOOK_REPLAY_WINDOW_SECONDS");
    unsetenv("WEBHOOK_SYNC");
    unsetenv("ENGINE_HTTP_CA_FILE");
    CHECK(chdir(cwd) == 0);
    rmdir(tmp);
}

/* ---- the .env parser (eng_config_load_dotenv) ---- */

/* Write text to dir/.env; the path is written to path. */
static int write_dotenv(const char *dir, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/.env", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = strlen(text), w = fwrite(text, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Parse path with stderr (the log) captured into log (NUL-terminated, truncated to size). */
static int dotenv_logged(const char *path, struct eng_err *err, char *log, size_t size)
{
    char cap[] = "/tmp/test_config_log.XXXXXX";
    int fd = mkstemp(cap);
    if (fd < 0)
        return -100;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = eng_config_load_dotenv(path, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t got = pread(fd, log, size - 1, 0);
    log[got > 0 ? (size_t)got : 0] = '\0';
    close(fd);
    unlink(cap);
    return rc;
}

static const char *const dotenv_vars[] = {
    "DATABASE_URL",       "API_HOST",       "API_PORT",           "WORKERS",           "API_TOKEN",
    "OAUTH_REDIRECT_URI", "LOG_LEVEL",      "WEBHOOK_PUBLIC_URL", "SCRIPT_TIMEOUT_MS", "API_PROT",
    "API_TOKNE",          "MAX_BODY_BYTES", "SCHEMA_DIR",         "MAPPINGS_DIR"};

static void dotenv_clear(void)
{
    for (size_t i = 0; i < sizeof dotenv_vars / sizeof dotenv_vars[0]; i++)
        unsetenv(dotenv_vars[i]);
}

static int env_is(const char *name, const char *want)
{
    const char *v = getenv(name);
    if (v == NULL || strcmp(v, want) != 0) {
        fprintf(stderr, "  %s = %s%s%s, expected \"%s\"\n", name, v ? "\"" : "", v ? v : "(unset)",
                v ? "\"" : "", want);
        return 0;
    }
    return 1;
}

/* A long line is one line (fuzz_dotenv: an 8 KiB buffer cut it, and its rest, parsed as a line
 * of its own, set another variable); a NUL byte or a line over 64 KiB is an error naming it. */
static void test_dotenv_long_line(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX", path[4096], log[8192];
    REQUIRE(mkdtemp(tmp) != NULL);
    dotenv_clear();
    static char text[20000];
    size_t n = (size_t)snprintf(text, sizeof text, "WORKERS=");
    memset(text + n, 'x', 8191 - n); /* the old buffer's 8191 bytes end here */
    snprintf(text + 8191, sizeof text - 8191, "API_TOKEN=evil\nAPI_PORT=1\n");
    REQUIRE(write_dotenv(tmp, text, path, sizeof path) == 0);
    struct eng_err err = {0};
    CHECK_INT(dotenv_logged(path, &err, log, sizeof log), 0);
    CHECK(getenv("API_TOKEN") == NULL);
    const char *w = getenv("WORKERS");
    CHECK(w != NULL && strlen(w) == 8183 + strlen("API_TOKEN=evil") &&
          strcmp(w + 8183, "API_TOKEN=evil") == 0);
    CHECK(env_is("API_PORT", "1"));
    dotenv_clear();

    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    static const char nul[] = "API_PORT=1\n# c\nAPI_HOST=a\0b\n";
    fwrite(nul, 1, sizeof nul - 1, f);
    fclose(f);
    CHECK_INT(dotenv_logged(path, &err, log, sizeof log), ENG_EINVAL);
    CHECK(strstr(err.msg, ":3: a NUL byte") != NULL);

    memset(text, 'y', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    memcpy(text, "API_HOST=", 9);
    f = fopen(path, "wb");
    REQUIRE(f != NULL);
    for (int i = 0; i < 4; i++) /* 80 KB on one line */
        fwrite(text, 1, strlen(text), f);
    fclose(f);
    CHECK_INT(dotenv_logged(path, &err, log, sizeof log), ENG_EINVAL);
    CHECK(strstr(err.msg, ":1: line longer than 65536 bytes") != NULL);
    dotenv_clear();
    unlink(path);
    rmdir(tmp);
}

/* Quoting, comments, `export`, spaces, CRLF, '=' inside a value: what a hand-written .env holds. */
static void test_dotenv_syntax(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX", path[4096], log[8192];
    REQUIRE(mkdtemp(tmp) != NULL);
    dotenv_clear();
    REQUIRE(write_dotenv(tmp,
                         "# a comment line\n"
                         "\n"
                         "   # an indented comment\n"
                         "DATABASE_URL=sqlite:/var/db/a=b.db\n"        /* '=' in the value */
                         "API_HOST = 0.0.0.0   \n"                     /* spaces around */
                         "export API_PORT=9001\n"                      /* shell style */
                         "WORKERS=4 # four workers\n"                  /* inline comment */
                         "API_TOKEN=\"tok en # not a comment\"\n"      /* double quotes */
                         "OAUTH_REDIRECT_URI='http://x/cb#frag'\n"     /* single quotes */
                         "LOG_LEVEL=\"warn\"\r\n"                      /* CRLF, quoted */
                         "WEBHOOK_PUBLIC_URL=https://shop.example\r\n" /* CRLF */
                         "SCRIPT_TIMEOUT_MS=a#b\n"                     /* '#' without space */
                         "MAX_BODY_BYTES=\"unterminated\n"             /* one quote: verbatim */
                         "SCHEMA_DIR=\"\"\n"                           /* empty, quoted */
                         "MAPPINGS_DIR=\n",                            /* empty */
                         path, sizeof path) == 0);
    struct eng_err err = {0};
    int rc = dotenv_logged(path, &err, log, sizeof log);
    CHECK_INT(rc, 0);
    CHECK(env_is("DATABASE_URL", "sqlite:/var/db/a=b.db"));
    CHECK(env_is("API_HOST", "0.0.0.0"));
    CHECK(env_is("API_PORT", "9001"));
    CHECK(env_is("WORKERS", "4"));
    CHECK(env_is("API_TOKEN", "tok en # not a comment"));
    CHECK(env_is("OAUTH_REDIRECT_URI", "http://x/cb#frag"));
    CHECK(env_is("LOG_LEVEL", "warn"));
    CHECK(env_is("WEBHOOK_PUBLIC_URL", "https://shop.example"));
    CHECK(env_is("SCRIPT_TIMEOUT_MS", "a#b"));
    CHECK(env_is("MAX_BODY_BYTES", "\"unterminated"));
    CHECK(env_is("SCHEMA_DIR", ""));
    CHECK(env_is("MAPPINGS_DIR", ""));
    CHECK(strstr(log, "not a setting") == NULL); /* every name was known: no warning */
    dotenv_clear();
    unlink(path);
    rmdir(tmp);
}

/* The real environment wins over .env; a missing .env is not an error. */
static void test_dotenv_environment_wins(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX", path[4096], cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(mkdtemp(tmp) != NULL);
    dotenv_clear();
    struct eng_err err = {0};
    snprintf(path, sizeof path, "%s/.env", tmp);
    CHECK_INT(eng_config_load_dotenv(path, &err), 0); /* no file yet */

    REQUIRE(write_dotenv(tmp, "API_PORT=2222\nWORKERS=3\nexport API_HOST=127.0.0.2\n", path,
                         sizeof path) == 0);
    setenv("API_PORT", "1111", 1);
    setenv("API_HOST", "", 1); /* set, even empty, is set: .env does not fill it */
    CHECK_INT(eng_config_load_dotenv(path, &err), 0);
    CHECK(env_is("API_PORT", "1111"));
    CHECK(env_is("WORKERS", "3"));
    CHECK(env_is("API_HOST", ""));

    /* the same through eng_config_load, which reads ./.env */
    dotenv_clear();
    setenv("API_PORT", "1111", 1);
    REQUIRE(chdir(tmp) == 0);
    struct eng_config cfg;
    int rc = eng_config_load(&cfg, &err);
    CHECK(chdir(cwd) == 0);
    CHECK_INT(rc, 0);
    if (rc == 0) {
        CHECK_INT(cfg.api_port, 1111); /* the environment's */
        CHECK_INT(cfg.workers, 3);     /* .env's */
        CHECK_STR(cfg.api_host, "127.0.0.2");
        eng_config_free(&cfg);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    dotenv_clear();
    unlink(path);
    rmdir(tmp);
}

/* An unknown name is warned with the nearest known one (never its value: it may be a secret);
 * a line that is not KEY=VALUE or a name with other characters is refused naming file:line. */
static void test_dotenv_unknown_and_invalid(void)
{
    char tmp[] = "/tmp/test_config.XXXXXX", path[4096], log[8192];
    REQUIRE(mkdtemp(tmp) != NULL);
    dotenv_clear();
    REQUIRE(write_dotenv(tmp,
                         "API_PROT=8080\n"
                         "API_TOKNE=s3cret-value-never-logged\n"
                         "PGPASSWORD=other-programs-secret\n",
                         path, sizeof path) == 0);
    struct eng_err err = {0};
    CHECK_INT(dotenv_logged(path, &err, log, sizeof log), 0);
    CHECK(strstr(log, "API_PROT is not a setting of tallysync") != NULL);
    CHECK(strstr(log, "did you mean API_PORT?") != NULL);
    CHECK(strstr(log, "API_TOKNE is not a setting") != NULL);
    CHECK(strstr(log, "did you mean API_TOKEN?") != NULL);
    CHECK(strstr(log, "PGPASSWORD is not a setting") != NULL);
    CHECK(strstr(log, ":1: API_PROT") != NULL && strstr(log, ":3: PGPASSWORD") != NULL);
    CHECK(strstr(log, "s3cret") == NULL); /* values never reach the log */
    CHECK(strstr(log, "other-programs-secret") == NULL);
    CHECK(strstr(log, "8080") == NULL);
    CHECK(getenv("API_PORT") == NULL); /* a typo sets nothing it was not named */
    if (strstr(log, "did you mean API_PORT?") == NULL)
        fprintf(stderr, "  log was: %s\n", log);
    unsetenv("PGPASSWORD");

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"API_PORT=1\nJUSTAWORD\n", ":2: expected KEY=VALUE"},
        {"# c\n\nBAD-NAME=1\n", ":3: invalid variable name"},
        {"API PORT=1\n", ":1: invalid variable name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dotenv_clear();
        REQUIRE(write_dotenv(tmp, bad[i].text, path, sizeof path) == 0);
        memset(&err, 0, sizeof err);
        int rc = dotenv_logged(path, &err, log, sizeof log);
        CHECK_INT(rc, ENG_EINVAL);
        CHECK(strstr(err.msg, path) != NULL);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fprintf(stderr, "  case %zu: %s\n", i, err.msg);
        CHECK(strstr(err.msg, bad[i].msg) != NULL);
    }
    dotenv_clear();
    unlink(path);
    rmdir(tmp);
}

CHECK_MAIN(CHECK_CASE(test_every_read_variable_is_known), CHECK_CASE(test_nearest),
           CHECK_CASE(test_api_host), CHECK_CASE(test_defaults_from_a_clean_environment),
           CHECK_CASE(test_sync_dispatcher), CHECK_CASE(test_webhook_and_http_settings),
           CHECK_CASE(test_http_limits), CHECK_CASE(test_dotenv_syntax),
           CHECK_CASE(test_dotenv_environment_wins), CHECK_CASE(test_dotenv_unknown_and_invalid),
           CHECK_CASE(test_dotenv_long_line))

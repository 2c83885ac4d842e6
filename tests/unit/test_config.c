/*
 * test_config.c - config.c: every variable the engine reads is known to the .env check, and the
 * nearest-name suggestion for a typo (issue 10 item 12).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "config.h"

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
            if (n < 3 || name[n] != '"' || strchr(name, '_') > name + n)
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

static void test_every_read_variable_is_known(void)
{
    const char *root = getenv("ENG_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/engine", root != NULL ? root : ".");
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
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

CHECK_MAIN(CHECK_CASE(test_every_read_variable_is_known), CHECK_CASE(test_nearest),
           CHECK_CASE(test_api_host))

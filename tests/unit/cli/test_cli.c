/*
 * test_cli.c - unit tier for engine/cli/cli.c's `run` (eng_cli_run) in this process, its stdout
 * and stderr captured in files: the chunk's arguments, and the two kinds of failure the user is
 * told apart - "tallysync run: --ctx PLATFORM: <why>" when the connector context cannot be built
 * (no key, no credentials) and "tallysync run: <file:line: message>" when the script fails, with
 * or without a context. Owns only its scratch folder.
 */
#include "check.h"
#include "adapt/crypto.h"
#include "cli/cli.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char out_text[8192], err_text[8192];

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void read_file(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* eng_cli_run("run", args..., NULL) with stdout and stderr captured into out_text / err_text. */
static int run(const char *a1, ...)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = "run";
    va_list ap;
    va_start(ap, a1);
    for (const char *a = a1; a != NULL && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    char opath[128], epath[128];
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = eng_cli_run(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    read_file(opath, out_text, sizeof out_text);
    read_file(epath, err_text, sizeof err_text);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    if (dir[0] != '\0')
        return;
    snprintf(dir, sizeof dir, "/tmp/test_cli.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/cli.db", dir);
    setenv("DATABASE_URL", url, 1);
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    unsetenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS");
    write_file("args.lua", "local a, b = ...\nprint(a, b)\n");
    write_file("boom.lua", "local ctx = ...\nerror('boom ' .. type(ctx))\n");
    write_file("ctx.lua", "local ctx, a = ...\nprint(type(ctx), ctx.platform, ctx.tenant, a)\n");
    atexit(cleanup);
    if (chdir(dir) != 0) { /* relative script paths, and no .env of the source tree */
        perror("chdir");
        exit(2);
    }
}

static void use_key(void)
{
    unsigned char key[32];
    char b64[64];
    memset(key, 0x5A, sizeof key);
    eng_crypto_base64_encode(key, sizeof key, b64, sizeof b64, NULL, NULL);
    setenv("INTEGRATION_ENCRYPTION_KEY", b64, 1);
}

static void test_run_arguments(void)
{
    setup();
    CHECK_INT(run("args.lua", "x", "y", NULL), 0);
    CHECK_STR(out_text, "x\ty\n");
    CHECK_INT(run(NULL), 2); /* no file: usage */
    CHECK(strstr(err_text, "usage: tallysync run") != NULL);
}

static void test_script_error(void)
{
    setup();
    CHECK_INT(run("boom.lua", NULL), 1);
    CHECK(strncmp(err_text, "tallysync run: boom.lua:2: boom nil", 35) == 0);
    CHECK(strstr(err_text, "--ctx") == NULL);
    CHECK_INT(run("missing.lua", NULL), 1);
    CHECK(strstr(err_text, "tallysync run: ") != NULL && strstr(err_text, "missing.lua") != NULL);
    CHECK(strstr(err_text, "--ctx") == NULL);
}

static void test_context_failures(void)
{
    setup();
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    CHECK_INT(run("--ctx", "woocommerce", "args.lua", NULL), 1);
    CHECK(strstr(err_text, "tallysync run: --ctx woocommerce: INTEGRATION_ENCRYPTION_KEY is not "
                           "set") != NULL);
    CHECK_STR(out_text, "");
    use_key();
    CHECK_INT(run("--ctx", "woocommerce", "--tenant", "t9", "args.lua", NULL), 1);
    CHECK(strstr(err_text, "tallysync run: --ctx woocommerce: no credentials stored for "
                           "woocommerce") != NULL);
    CHECK_STR(out_text, ""); /* the script did not run */
}

static void test_context_then_script(void)
{
    setup();
    use_key();
    /* pos declares no credentials: its context builds from nothing stored */
    CHECK_INT(run("--ctx", "pos", "--tenant", "t7", "ctx.lua", "z", NULL), 0);
    CHECK_STR(out_text, "table\tpos\tt7\tz\n");
    /* with a context, a failing script is a script error, not a --ctx one */
    CHECK_INT(run("--ctx", "pos", "boom.lua", NULL), 1);
    CHECK(strncmp(err_text, "tallysync run: boom.lua:2: boom table", 37) == 0);
    CHECK(strstr(err_text, "--ctx") == NULL);
}

CHECK_MAIN(CHECK_CASE(test_run_arguments), CHECK_CASE(test_script_error),
           CHECK_CASE(test_context_failures), CHECK_CASE(test_context_then_script))

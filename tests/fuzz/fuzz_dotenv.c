/*
 * fuzz_dotenv.c - libFuzzer target: the .env parser of base/config.c (eng_config_load_dotenv)
 * and the URL rule settings share (eng_config_url_check), plus the typo suggestion that runs
 * on every unknown name (eng_config_nearest).
 * Input: the bytes of a .env file (written to a scratch file, as the parser reads a path).
 * Checks: no crash or sanitizer report; every variable the file set is a valid name and
 * nothing already in the environment was overridden. The environment is put back after each
 * input (variables the file added are removed), so inputs do not leak into each other.
 * Corpus: tests/fuzz/corpus/dotenv/ (.env files like tools/start.sh writes, quoting, comments).
 */
#include "fuzz.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"

extern char **environ;

static char **before; /* "NAME=value" copies of the environment at start */
static size_t nbefore;
static char path[64];

static int was_there(const char *entry)
{
    for (size_t i = 0; i < nbefore; i++)
        if (strcmp(before[i], entry) == 0)
            return 1;
    return 0;
}

static void setup(void)
{
    for (char **e = environ; *e != NULL; e++)
        nbefore++;
    before = calloc(nbefore + 1, sizeof *before);
    check(before != NULL);
    for (size_t i = 0; i < nbefore; i++)
        before[i] = strdup(environ[i]);
    char dir[] = "/tmp/fuzz_dotenv.XXXXXX";
    check(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/.env", dir);
    eng_log_set_level(ENG_LOG_ERROR); /* the unknown-name warnings */
}

/* Remove what the input added; check nothing that was there changed. */
static void restore(void)
{
    for (;;) {
        char *added = NULL;
        for (char **e = environ; *e != NULL && added == NULL; e++)
            if (!was_there(*e))
                added = *e;
        if (added == NULL)
            break;
        size_t k = strcspn(added, "=");
        check(k > 0);
        for (size_t i = 0; i < k; i++)
            check(isalnum((unsigned char)added[i]) || added[i] == '_');
        char name[8192];
        check(k < sizeof name);
        memcpy(name, added, k);
        name[k] = '\0';
        /* not an override: a name set before keeps its value (so the entry differs only when
         * the name is new) */
        for (size_t i = 0; i < nbefore; i++)
            check(strncmp(before[i], name, k) != 0 || before[i][k] != '=');
        unsetenv(name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (before == NULL)
        setup();
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size);
    fclose(f);
    struct eng_err err = {0};
    int rc = eng_config_load_dotenv(path, &err);
    check(rc == 0 || rc == ENG_EINVAL);
    restore();

    /* the first line as a URL setting, and as a name to suggest for */
    char url[1024];
    size_t k = 0;
    while (k < size && k < sizeof url - 1 && data[k] != '\n')
        k++;
    memcpy(url, data, k);
    url[k] = '\0';
    eng_config_nearest(url);
    eng_config_known(url);
    rc = eng_config_url_check(url, "FUZZ_URL", &err);
    if (rc == 0)
        check(strlen(url) <= 512);
    return 0;
}

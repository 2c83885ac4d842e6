/*
 * registry_fixture.h - a scratch script registry for the unit tests of hot reload: new_registry()
 * makes scripts/ and mappings/ folders under /tmp (named after REGISTRY_FIXTURE_NAME, which the
 * test defines before including this) holding copies of the real lib.mapping and the libraries
 * it requires, so mappings are checked by the contract as in a deployment; write_file() writes
 * a file atomically, as editors do; status() is the registry's status JSON; cleanup() frees the
 * registry and removes the folders.
 * Owns: those folders, for one registry at a time.
 */
#ifndef REGISTRY_FIXTURE_H
#define REGISTRY_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "lua/scripts.h"

#ifndef REGISTRY_FIXTURE_NAME
#error "define REGISTRY_FIXTURE_NAME (the test's name) before including registry_fixture.h"
#endif

static char root[256], sdir[300], mdir[300];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
    rename(tmp, path); /* atomically, as editors do */
}

static struct eng_scripts *new_registry(void)
{
    snprintf(root, sizeof root, "/tmp/%s-XXXXXX", REGISTRY_FIXTURE_NAME);
    if (mkdtemp(root) == NULL)
        abort();
    snprintf(sdir, sizeof sdir, "%s/scripts", root);
    snprintf(mdir, sizeof mdir, "%s/mappings", root);
    mkdir(sdir, 0755);
    mkdir(mdir, 0755);
    char lib[320];
    snprintf(lib, sizeof lib, "%s/lib", sdir);
    mkdir(lib, 0755);
    /* mappings are checked by the real lib.mapping (the contract), as in a deployment */
    char cmd[1100];
    const char *src = getenv("ENG_SOURCE_DIR") ? getenv("ENG_SOURCE_DIR") : ".";
    snprintf(cmd, sizeof cmd,
             "cp '%s/scripts/lib/mapping.lua' '%s/scripts/lib/mapping_rules.lua' "
             "'%s/scripts/lib/civil_date.lua' '%s/'",
             src, src, src, lib);
    if (system(cmd) != 0)
        abort();
    struct eng_vm_opts o = {0};
    o.scripts_dir = sdir;
    o.mappings_dir = mdir;
    o.budget_ms = 500;
    struct eng_err err = {0};
    struct eng_scripts *reg = eng_scripts_new(&o, &err);
    if (reg == NULL)
        fprintf(stderr, "eng_scripts_new: %s\n", err.msg);
    return reg;
}

static void cleanup(struct eng_scripts *reg)
{
    eng_scripts_free(reg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
}

static char *status(struct eng_scripts *reg)
{
    struct eng_buf b;
    eng_buf_init(&b);
    eng_scripts_status_json(reg, &b);
    return eng_buf_take(&b, NULL);
}

#endif

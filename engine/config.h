/*
 * config.h - the engine's settings, read once at start-up from the environment and an optional
 * ./.env file (real environment variables win over .env). Names follow the seed's reference.
 * Owns: the strings in struct eng_config (freed by eng_config_free). Must not: log values.
 */
#ifndef ENG_CONFIG_H
#define ENG_CONFIG_H

#include <stddef.h>

#include "err.h"

struct eng_config {
    char *database_url;                /* DATABASE_URL, default sqlite:./data/pos.db */
    char *api_host;                    /* API_HOST, default 127.0.0.1 */
    int api_port;                      /* API_PORT, default 8923 */
    char *scripts_dir;                 /* SCRIPTS_DIR */
    char *mappings_dir;                /* MAPPINGS_DIR */
    char *schema_dir;                  /* SCHEMA_DIR */
    char *web_dir;                     /* WEB_DIR */
    int workers;                       /* WORKERS, default 2 */
    long long script_timeout_ms;       /* SCRIPT_TIMEOUT_MS, default 2000 */
    long long script_max_instructions; /* SCRIPT_MAX_INSTRUCTIONS, default 200000000 */
    size_t script_memory_bytes;        /* SCRIPT_MEMORY_MB, default 64 */
    int log_level;                     /* LOG_LEVEL */
};

/* Load .env (if present in the working directory) into the environment without overriding,
 * then read every setting. Bad values are ENG_EINVAL naming the variable. */
int eng_config_load(struct eng_config *cfg, struct eng_err *err);
void eng_config_free(struct eng_config *cfg);

/* Parse a .env file: KEY=VALUE lines, '#' comments, optional `export `, single or double
 * quotes. Sets variables not already set. Missing file is not an error. */
int eng_config_load_dotenv(const char *path, struct eng_err *err);

#endif

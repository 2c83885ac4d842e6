/*
 * cli_sync_show.h - what `tallysync sync` prints about a run's records: one line per change
 * (and, in a dry run, each field difference under its record), and the failed records with
 * their reasons. Reads sync_records only; never writes.
 */
#ifndef ENG_CLI_SYNC_SHOW_H
#define ENG_CLI_SYNC_SHOW_H

#include <stdint.h>
#include <stdio.h>

#include "adapt/store.h"

/* Print the changes of run_id recorded after record id *last (created, updated, skipped,
 * failed, conflict; unchanged records are not changes), at most max records (0: all), and move
 * *last. Returns the records printed, or a negative code on a store error. */
long eng_cli_sync_show_changes(struct eng_store *st, const char *run_id, int64_t *last, long max,
                               FILE *out);

/* Print the run's failed records that are still failing, each with its reason, at most max,
 * then how many more there are. Returns how many failed records there are (printed or not). */
long eng_cli_sync_show_failures(struct eng_store *st, const char *run_id, long max, FILE *out);

#endif

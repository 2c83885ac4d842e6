# shellcheck shell=bash
# tests/integration/lib/store.sh - the tests read and write the engine's store through the
# store's own API, not the sqlite3 command (issue 15): tests/tools/store_sql.c (STORE_SQL_BIN,
# built beside tallysync; ctest passes its path as it passes TALLYSYNC_BIN) opens DATABASE_URL or
# a path through engine/adapt/store.h with a 20 s busy timeout (the engine's write locks are
# waited for, never read as an empty answer) and prints rows as `sqlite3 DB "SQL"` does: columns
# joined by '|', one row a line, NULL as nothing, no header. Several statements may be given;
# each one's rows are printed. An error: the store's message on stderr, exit 1.
# Sourced by common.sh, so every test has:
#   sq [SQL]           on the test's store (DATABASE_URL); no SQL argument: the SQL from stdin
#   sq_at DB [SQL]     on another store: a DATABASE_URL or a file path
# Lines that check SQLite itself (journal mode, the WAL file, a checkpoint, integrity_check of
# the file) keep the sqlite3 command and say why: they are SQLite-only cases.
# Must not: touch anything but the store it is given.

STORE_SQL_BIN=${STORE_SQL_BIN:-$(dirname "$TALLYSYNC_BIN")/store_sql}
export STORE_SQL_BIN

sq_at() {
    [[ -x "$STORE_SQL_BIN" ]] || {
        echo "STORE_SQL_BIN=$STORE_SQL_BIN is not an executable (build the store_sql target)" >&2
        return 127
    }
    "$STORE_SQL_BIN" "$@"
}

sq() { sq_at "$DATABASE_URL" "$@"; }

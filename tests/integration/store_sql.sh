#!/usr/bin/env bash
# tests/integration/store_sql.sh - the tests' door to the store (tests/tools/store_sql.c through
# lib/store.sh's sq / sq_at) prints what `sqlite3 DB "SQL"` prints by default, which every other
# test's expectations were written against: columns joined by '|', one row a line, NULL as
# nothing, blobs as their bytes, no header; several statements in one text (split at ';' outside
# quotes, comments and a trigger's BEGIN ... END), from the argument or from stdin; the store's
# message and exit 1 on an error, with nothing after it run; a path or a DATABASE_URL.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools python3
[[ -x "$STORE_SQL_BIN" ]] || { fail "STORE_SQL_BIN=$STORE_SQL_BIN is not an executable"; finish; }

echo "== rows as sqlite3 prints them"
out=$(sq "CREATE TABLE t (a, b TEXT, c BLOB);
    INSERT INTO t VALUES (1, 'x;y', x'414243'), (NULL, 'it''s \"q\"', NULL), (2.5, NULL, x'');
    SELECT a, b, c FROM t ORDER BY rowid; SELECT count(*) FROM t;" 2>&1)
assert_eq "three statements, the rows of the two SELECTs: | between columns, NULL as nothing" \
    "1|x;y|ABC
|it's \"q\"|
2.5||
3" "$out"
assert_eq "numbers as SQLite's text of them" "0.1|1.0|1.0e+20|0.333333333333333|-7" \
    "$(sq "SELECT 0.1, 1.0, 1e20, 1 / 3.0, -7")"
assert_eq "a statement without rows prints nothing" "" "$(sq "UPDATE t SET a = 3 WHERE a = 1")"
assert_eq "... and made its change" 1 "$(sq "SELECT count(*) FROM t WHERE a = 3")"
assert_eq "text with a newline and a '|' is printed as it is" "a|b
c|d" "$(sq "SELECT 'a|b' || char(10) || 'c', 'd'")"
assert_eq "hex() of a blob" "414243" "$(sq "SELECT hex(c) FROM t WHERE b = 'x;y'")"
assert_eq "empty SQL: nothing, exit 0" "0:" "$(out=$(sq ''); echo "$?:$out")"

echo "== several statements from stdin"
out=$(sq <<'SQL' 2>&1
-- a comment; with a semicolon
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
  UPDATE t SET b = CASE WHEN new.a > 10 THEN 'big' ELSE 'small' END WHERE rowid = new.rowid;
  SELECT 1; -- inside the trigger's body: not a statement of its own
END;
/* a block comment; */ INSERT INTO t (a) VALUES (11);;
INSERT INTO t (a) VALUES (4);
SELECT a, b FROM t WHERE a IN (4, 11) ORDER BY a;
SQL
)
assert_eq "a trigger's body stays one statement; comments and ';;' are skipped" "4|small
11|big" "$out"

echo "== errors"
out=$(sq "SELECT 1; SELECT nope FROM t; INSERT INTO t (a) VALUES (99)" 2>"$T/err")
rc=$?
assert_eq "an error: exit 1" 1 "$rc"
assert_eq "... the rows before it are printed" 1 "$out"
assert_contains "... the store's message, naming the statement" "$(cat "$T/err")" \
    "statement 2: no such column: nope"
assert_eq "... and nothing after it runs" 0 "$(sq "SELECT count(*) FROM t WHERE a = 99")"
sq "INSERT INTO nope VALUES (1)" 2>/dev/null
assert_eq "a write that fails: exit 1" 1 "$?"
"$STORE_SQL_BIN" >/dev/null 2>&1
assert_eq "no database named: usage, exit 2" 2 "$?"
sq_at "$T/missing/dir/x.db" "SELECT 1" >/dev/null 2>"$T/err2"
assert_eq "a folder that does not exist: exit 1" 1 "$?"
assert_contains "... saying so" "$(cat "$T/err2")" "does not exist"

echo "== a path or a DATABASE_URL"
assert_eq "the same store by its path" 5 "$(sq_at "$T/pos.db" "SELECT count(*) FROM t")"
assert_eq "... and by sqlite:PATH" 5 "$(sq_at "sqlite:$T/pos.db" "SELECT count(*) FROM t")"

echo "== the engine's write lock is waited for"
python3 - "$T/pos.db" >"$T/lock.out" 2>&1 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO t (a) VALUES (42)")
print("locked", flush=True)
time.sleep(1.5)
db.execute("COMMIT")
PY
bg_track $!
# shellcheck disable=SC2317  # called through wait_for
locked() { grep -q locked "$T/lock.out"; }
wait_for 10000 locked || fail "the lock holder starts" "$(cat "$T/lock.out")"
start=$(now_ms)
out=$(sq "INSERT INTO t (a) VALUES (43); SELECT count(*) FROM t WHERE a IN (42, 43)" 2>&1)
assert_eq "a write behind another process's transaction waits for its commit" 2 "$out"
assert_ge "... (it waited: ms)" "$(($(now_ms) - start))" 500

finish

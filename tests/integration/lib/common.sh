# shellcheck shell=bash disable=SC2034  # sourced: the globals it sets are read by the tests
# tests/integration/lib/common.sh - shared helpers of the integration tests (sourced, never run;
# it lives under lib/ because ctest registers every tests/integration/*.sh at the top level).
#
# Gives: the environment with defaults (TALLYSYNC_BIN, ENG_SOURCE_DIR, SCRIPTS_DIR, MAPPINGS_DIR,
# SCHEMA_DIR, FIXTURES_DIR = tests/fixtures), a private scratch folder $T (mktemp -d) that is also the working
# directory (so no ./.env or ./data of the caller leaks in), DATABASE_URL inside it, counters
# with check/assert helpers and `finish` (prints "N passed, M failed", exits non-zero on a
# failure), a monotonic-enough clock in ms, wait_for with a deadline, `serve_start`/`serve_stop`
# on a free port (API_PORT=0, port read from the "listening" log line), an `http` helper, and
# `sq` / `sq_at`: SQL on the store through the engine's store API (lib/store.sh).
# Everything a test starts in the background goes through bg_track, and the EXIT trap kills
# exactly those pids (never by name) and removes $T.
# Must not: sleep blindly where it can poll, or touch anything outside $T.

set -u
set -o pipefail

ENG_SOURCE_DIR=${ENG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
TALLYSYNC_BIN=${TALLYSYNC_BIN:-$ENG_SOURCE_DIR/build/tallysync}
SCRIPTS_DIR=${SCRIPTS_DIR:-$ENG_SOURCE_DIR/scripts}
MAPPINGS_DIR=${MAPPINGS_DIR:-$ENG_SOURCE_DIR/mappings}
SCHEMA_DIR=${SCHEMA_DIR:-$ENG_SOURCE_DIR/schema}
FIXTURES_DIR=${FIXTURES_DIR:-$ENG_SOURCE_DIR/tests/fixtures}
export TALLYSYNC_BIN ENG_SOURCE_DIR SCRIPTS_DIR MAPPINGS_DIR SCHEMA_DIR FIXTURES_DIR
# Settings of the caller's shell that would change what the tests observe.
unset API_PORT API_HOST WORKERS LOG_LEVEL LOG_FORMAT SCRIPT_TIMEOUT_MS SCRIPT_MAX_INSTRUCTIONS \
    SCRIPT_MEMORY_MB ENGINE_HTTP_CA_FILE INTEGRATION_ENCRYPTION_KEY_PREVIOUS MAX_BODY_BYTES \
    WOOCOMMERCE_WEBHOOK_SECRET QUICKBOOKS_WEBHOOK_SECRET QUICKBOOKS_TOKEN_URL QUICKBOOKS_API_BASE
# Every test engine gets an administrator token and an encryption key of its own (test-only
# values); `http` sends the token unless HTTP_AUTH=0.
export API_TOKEN="test-admin-token-$$-$RANDOM$RANDOM"
# Every mock listens on loopback, which outbound requests refuse by default (ssrf.sh tests that,
# unsetting this); TRUSTED_PROXIES and the HTTP_* limits keep their defaults unless a test sets them.
export ALLOW_PRIVATE_TARGETS=1
unset TRUSTED_PROXIES HTTP_HEADERS_TIMEOUT_S HTTP_BODY_TIMEOUT_S HTTP_CONNECTIONS_PER_ADDRESS
export INTEGRATION_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"
AUTH_HEADER="Authorization: Bearer $API_TOKEN"

PASSED=0
FAILED=0
TS_PIDS=()
SERVE_N=0
SERVE_PID=""
SERVE_PORT=""
SERVE_LOG=""
BASE=""

T=$(mktemp -d "${TMPDIR:-/tmp}/tallysync-it.XXXXXX") || {
    echo "cannot create a scratch folder" >&2
    exit 1
}
export DATABASE_URL="sqlite:$T/pos.db"
# sq / sq_at: SQL on the store through the engine's store API (lib/store.sh)
# shellcheck source=tests/integration/lib/store.sh
source "$ENG_SOURCE_DIR/tests/integration/lib/store.sh"

ts_cleanup() {
    local pid
    for pid in "${TS_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${TS_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    cd / && rm -rf "$T"
}
trap ts_cleanup EXIT
trap 'exit 130' INT TERM # run the EXIT trap on interruption too
cd "$T" || exit 1

# ---- results ----

pass() {
    PASSED=$((PASSED + 1))
    printf 'ok   %s\n' "$1"
}

# fail DESCRIPTION [DETAIL...]: DETAIL lines are printed indented under the failure.
fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL %s\n' "$1"
    shift
    local d
    for d in "$@"; do
        printf '%s\n' "$d" | head -n 40 | sed 's/^/     | /'
    done
}

# check DESCRIPTION COMMAND [ARGS...]: passes when the command succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "command failed: $*"; fi
}

assert_eq() { # DESCRIPTION EXPECTED ACTUAL
    if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

assert_ne() { # DESCRIPTION UNEXPECTED ACTUAL
    if [[ "$2" != "$3" ]]; then pass "$1"; else fail "$1" "both are: $3"; fi
}

assert_contains() { # DESCRIPTION HAYSTACK NEEDLE
    if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1" "missing: $3" "in: $2"; fi
}

assert_not_contains() { # DESCRIPTION HAYSTACK NEEDLE
    if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1" "unexpected: $3" "in: $2"; fi
}

assert_match() { # DESCRIPTION EXTENDED_REGEX TEXT
    # a here-string, not a pipe: grep -q stops at the first match, and under pipefail the
    # writer's SIGPIPE would turn that match into a failure
    if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "no match for /$2/" "in: $3"; fi
}

assert_lt() { # DESCRIPTION VALUE LIMIT (integers)
    if [[ "$2" =~ ^-?[0-9]+$ ]] && (("$2" < "$3")); then pass "$1"; else fail "$1" "$2 is not < $3"; fi
}

assert_ge() { # DESCRIPTION VALUE LIMIT (integers)
    if [[ "$2" =~ ^-?[0-9]+$ ]] && (("$2" >= "$3")); then pass "$1"; else fail "$1" "$2 is not >= $3"; fi
}

# assert_jq DESCRIPTION JSON FILTER: passes when `jq -e FILTER` is true on JSON. Empty JSON
# fails (jq 1.6 -e exits 0 on no input: an answer that never came would pass).
assert_jq() {
    # "has a non-space character" by pattern: stripping every space first (${2//[[:space:]]/})
    # is quadratic in bash and held a multi-megabyte answer for minutes
    if [[ $2 == *[![:space:]]* ]] && printf '%s' "$2" | jq -e "$3" >/dev/null 2>&1; then
        pass "$1"
    else
        fail "$1" "jq -e '$3' is not true on:" "$2"
    fi
}

finish() {
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED > 0)); then exit 1; fi
    exit 0
}

# Abort early (counted as a failure) when a prerequisite is missing.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { fail "$tool is not installed"; finish; }
    done
    [[ -x "$TALLYSYNC_BIN" ]] || { fail "TALLYSYNC_BIN=$TALLYSYNC_BIN is not an executable"; finish; }
}

# peak OUT ERR COMMAND [ARGS...]: run COMMAND with stdout to OUT and stderr to ERR; its peak
# RSS (KB, the kernel's own count for the child) in PEAK and its exit status in RC.
peak() {
    local out=$1 err=$2
    shift 2
    PEAK=$(python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "wb") as o, open(sys.argv[2], "wb") as e:
    rc = subprocess.call(sys.argv[3:], stdout=o, stderr=e)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)' "$out" "$err" "$@")
    RC=${PEAK#* }
    PEAK=${PEAK% *}
}

# ---- time and polling ----

now_ms() {
    local us=${EPOCHREALTIME/[.,]/}
    echo $((10#$us / 1000))
}

# wait_for TIMEOUT_MS COMMAND [ARGS...]: poll every 50 ms until COMMAND succeeds (0) or the
# deadline passes (1). Sets WAITED_MS to the time spent.
wait_for() {
    local timeout=$1
    shift
    local start
    start=$(now_ms)
    local deadline=$((start + timeout))
    while :; do
        if "$@"; then
            WAITED_MS=$(($(now_ms) - start))
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            WAITED_MS=$(($(now_ms) - start))
            return 1
        fi
        sleep 0.05
    done
}

bg_track() { TS_PIDS+=("$1"); }

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ "$state" != Z ]]
}

pid_gone() { ! pid_alive "$1"; }

# ---- the binary ----

# run_bin OUT_PREFIX [ARGS...]: run tallysync, stdout to OUT_PREFIX.out, stderr to
# OUT_PREFIX.err; sets RC, OUT, ERR and ELAPSED_MS. Never lets a hung binary hang the test.
run_bin() {
    local prefix=$1
    shift
    local start
    start=$(now_ms)
    timeout -k 5 60 "$TALLYSYNC_BIN" "$@" >"$prefix.out" 2>"$prefix.err"
    RC=$?
    ELAPSED_MS=$(($(now_ms) - start))
    OUT=$(cat "$prefix.out")
    ERR=$(cat "$prefix.err")
}

# ---- serve ----

serve_listening_port() { # LOG: print the port of the "listening" line, if any
    grep -F '"msg":"listening"' "$1" 2>/dev/null | head -n 1 | jq -r '.port // empty' 2>/dev/null
}

_serve_up_or_dead() {
    [[ -n "$(serve_listening_port "$SERVE_LOG")" ]] || pid_gone "$SERVE_PID"
}

# serve_start [VAR=VALUE...]: start `tallysync serve` on a free port with extra environment;
# sets SERVE_PID, SERVE_PORT, SERVE_LOG (its stderr) and BASE (http://127.0.0.1:PORT).
# Returns non-zero (and records a failure) when it does not listen within 30 s.
serve_start() {
    SERVE_N=$((SERVE_N + 1))
    SERVE_LOG="$T/serve.$SERVE_N.err"
    env API_PORT=0 "$@" "$TALLYSYNC_BIN" serve >"$T/serve.$SERVE_N.out" 2>"$SERVE_LOG" &
    SERVE_PID=$!
    bg_track "$SERVE_PID"
    wait_for 30000 _serve_up_or_dead
    SERVE_PORT=$(serve_listening_port "$SERVE_LOG")
    if [[ -z "$SERVE_PORT" ]] || ! pid_alive "$SERVE_PID"; then
        fail "serve #$SERVE_N starts and logs its port" "$(cat "$SERVE_LOG")"
        return 1
    fi
    BASE="http://127.0.0.1:$SERVE_PORT"
    return 0
}

# serve_stop [TIMEOUT_MS]: SIGTERM the current serve and wait for it (default 10 s, then
# SIGKILL). Sets STOP_RC (its exit status, or 999 when it had to be killed) and STOP_MS.
serve_stop() {
    local timeout=${1:-10000}
    STOP_RC=999
    STOP_MS=0
    [[ -n "$SERVE_PID" ]] || return 0
    local start
    start=$(now_ms)
    kill -TERM "$SERVE_PID" 2>/dev/null
    if wait_for "$timeout" pid_gone "$SERVE_PID"; then
        STOP_MS=$(($(now_ms) - start))
        wait "$SERVE_PID" 2>/dev/null
        STOP_RC=$?
    else
        STOP_MS=$(($(now_ms) - start))
        kill -KILL "$SERVE_PID" 2>/dev/null
        wait "$SERVE_PID" 2>/dev/null
    fi
    SERVE_PID=""
}

# http METHOD PATH [CURL_ARGS...]: request $BASE$PATH; sets CODE, BODY and HEADERS (raw
# response headers). CODE is 000 when the connection failed or timed out (10 s).
HTTP_N=0
http() {
    local method=$1 path=$2
    shift 2
    HTTP_N=$((HTTP_N + 1))
    local b="$T/http.$HTTP_N.body" h="$T/http.$HTTP_N.headers"
    local auth=()
    [[ "${HTTP_AUTH:-1}" == 1 ]] && auth=(-H "$AUTH_HEADER")
    CODE=$(curl -s -X "$method" --max-time 10 -o "$b" -D "$h" -w '%{http_code}' "${auth[@]}" \
        "$@" "$BASE$path" 2>/dev/null) || true
    [[ -n "$CODE" ]] || CODE=000
    BODY=$(cat "$b" 2>/dev/null)
    HEADERS=$(tr -d '\r' <"$h" 2>/dev/null)
    rm -f "$b" "$h"
}

# header NAME: the value of response header NAME of the last `http` call (case-insensitive).
header() {
    printf '%s\n' "$HEADERS" | awk -v n="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v } }' | tail -n 1
}

# dry_run_http MAPPING JSON_BODY: POST a dry run; sets CODE and BODY.
dry_run_http() {
    http POST "/api/mappings/$1/dry-run" -H 'Content-Type: application/json' --data-binary "$2"
}

# dry_run_file MAPPING FILE [CONTENT_TYPE]: POST FILE as a dry run with $DRY_RUN_AUTH (default
# $AUTH_HEADER), up to 60 s (tests of hostile input time how long it took); sets CODE (000 when no
# answer came), MS (elapsed), BYTES (the answer's size) and BODY (its first 100,000 bytes).
dry_run_file() {
    local start
    rm -f "$T/dry_run_answer" # no earlier answer is read as this one's
    start=$(now_ms)
    CODE=$(curl -s --max-time 60 -o "$T/dry_run_answer" -w '%{http_code}' -X POST \
        -H "${DRY_RUN_AUTH:-$AUTH_HEADER}" -H "Content-Type: ${3:-application/json}" \
        --data-binary @"$2" "$BASE/api/mappings/$1/dry-run" 2>/dev/null)
    [[ -n "$CODE" ]] || CODE=000
    MS=$(($(now_ms) - start))
    BYTES=$(wc -c 2>/dev/null <"$T/dry_run_answer" || echo 0)
    BODY=$(head -c 100000 "$T/dry_run_answer" 2>/dev/null)
}

# A copy of the script folders in $T, for tests that edit them; exports the new paths.
copy_script_dirs() {
    mkdir -p "$T/scripts" "$T/mappings"
    cp -R "$SCRIPTS_DIR/." "$T/scripts/"
    cp -R "$MAPPINGS_DIR/." "$T/mappings/"
    SCRIPTS_DIR="$T/scripts"
    MAPPINGS_DIR="$T/mappings"
    export SCRIPTS_DIR MAPPINGS_DIR
}

#!/usr/bin/env bash
# tools/test.sh - the whole test suite, as CI runs it (.ci/run calls this). Tiers, in order:
#   layers  tools/check_layers.py: which engine/ folder may include which headers
#   plain   gcc RelWithDebInfo build, warnings are errors, every ctest tier (unit, script, browser,
#           integration, valgrind), and the PostgreSQL store's tests (ENG_TEST_PG) against a private
#           server tools/pg_server.sh starts for this tier and stops on every way out
#   builds  compile only (no tests), warnings are errors: Release, Debug, RelWithDebInfo with gcc
#           and with clang (gcc RelWithDebInfo is the plain tier's build)
#   asan    AddressSanitizer + UndefinedBehaviorSanitizer build, every ctest tier again
#   tsan    ThreadSanitizer build: the unit tests of the threaded parts and the integration tests
#           that run `serve` (tsan_tests below; README, Tests, says which and why)
#   fuzz    clang libFuzzer build (-DENG_FUZZ=ON): each target of tests/fuzz for 20 s from its
#           corpus (tests/fuzz/README.md); with --long, an hour each
# usage: tools/test.sh [--long] [TIER...]   (default: every tier; e.g. `tools/test.sh layers tsan`)
#   --long  the long runs: each fuzz target for FUZZ_LONG_SECONDS (default 3600) instead of 20 s
# Every tier runs even when an earlier one failed; the summary names the failed ones and the exit
# status is 1 if any failed. JOBS (default nproc) is the parallelism of builds and ctest.
set -uo pipefail
cd "$(dirname "$0")/.."
long=0
if [[ ${1:-} == --long ]]; then
    long=1
    shift
fi
tools/setup.sh --test || exit 1
jobs=${JOBS:-$(nproc)}

# TSan runs the unit tests of the threaded parts and every integration test that starts `serve`
# (found by grep, so a new one joins by itself) but TSAN_SKIP: api_bodies (hostile bodies, one
# request at a time: ~2 min under TSan), sync_defaults (~4 min) and sync_faults (~1 min), whose
# threads the sync_* tests kept here already run, and budget (its 10 s client limit is about a
# script's speed, and TSan's allocator makes the memory-cap case slower than that on a busy
# machine). All of them pass under TSan when run by hand: `ctest --test-dir build-tsan -R NAME`.
TSAN_UNIT='test_(log|ratelimit|queue|scheduler|scripts|vm|httpc|store|worker|orchestrator|ingest|policy)'
TSAN_SKIP=' api_bodies sync_defaults sync_faults budget '
# ... and the integration tests of CLI commands that run threads without `serve`: dryrun_jobs
# (`dry-run --jobs 4`).
TSAN_ALSO=' dryrun_jobs '
tsan_tests() {
    local f name names=""
    for f in tests/integration/*.sh; do
        name=$(basename "$f" .sh)
        grep -qE 'serve_start|[" ]serve( |"|$)|tools/(demo|start)\.sh' "$f" ||
            [[ $TSAN_ALSO == *" $name "* ]] || continue
        [[ $TSAN_SKIP == *" $name "* ]] && continue
        names+="${names:+|}$name"
    done
    echo "^unit\.$TSAN_UNIT\$|^integration\.($names)\$"
}

configure() { # DIR then cmake arguments
    local dir=$1
    shift
    cmake -S . -B "$dir" -DENG_WERROR=ON "$@" >/dev/null
}

tier_layers() {
    python3 tools/check_layers.py
}

# The plain tier's PostgreSQL server (tools/pg_server.sh): its folder while it runs, stopped by
# pg_stop at the tier's end and by the trap below on any other way out (error, ^C, kill).
pg_dir=""
pg_stop() {
    if [[ -n $pg_dir ]]; then
        tools/pg_server.sh stop "$pg_dir"
        pg_dir=""
    fi
}
trap pg_stop EXIT
trap 'pg_stop; exit 130' INT
trap 'pg_stop; exit 143' TERM

# The PostgreSQL tests are registered (ENG_TEST_PG) in this tier only, and fail when the server
# is missing: a server that cannot start fails them rather than skipping them. The URL (with its
# random password) goes to the tests through the environment, never to the output.
tier_plain() {
    local rc
    # in /tmp, not TMPDIR: the server's user (nobody, when we are root) must reach the folder
    pg_dir=$(mktemp -d /tmp/tallysync-pg.XXXXXX)
    rmdir "$pg_dir"
    if ! TALLYSYNC_TEST_PG_URL=$(tools/pg_server.sh start "$pg_dir"); then
        echo "-- the PostgreSQL test server did not start: the PostgreSQL store's tests will fail"
        TALLYSYNC_TEST_PG_URL=""
        pg_dir=""
    fi
    export TALLYSYNC_TEST_PG_URL
    configure build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE= -DENG_BUILD_TESTS=ON \
        -DENG_TEST_PG=ON &&
        cmake --build build-test -j"$jobs" &&
        ctest --test-dir build-test --output-on-failure -j"$jobs"
    rc=$?
    pg_stop
    unset TALLYSYNC_TEST_PG_URL
    return $rc
}

tier_builds() {
    local cc type dir rc=0 log
    for cc in gcc clang; do
        for type in Release Debug RelWithDebInfo; do
            [[ $cc == gcc && $type == RelWithDebInfo ]] && continue # the plain tier's build
            dir=build-matrix/$cc-$type
            log=$dir.log
            mkdir -p build-matrix
            echo "-- $cc $type"
            if ! { CC=$cc configure "$dir" -DCMAKE_BUILD_TYPE="$type" -DENG_SANITIZE= \
                -DENG_BUILD_TESTS=OFF && cmake --build "$dir" -j"$jobs"; } >"$log" 2>&1; then
                grep -E 'error|warning' "$log" | head -20
                echo "-- $cc $type: FAILED (whole log: $log)"
                rc=1
            fi
        done
    done
    return $rc
}

tier_asan() {
    configure build-asan -DCMAKE_BUILD_TYPE=Debug "-DENG_SANITIZE=address;undefined" \
        -DENG_BUILD_TESTS=ON &&
        cmake --build build-asan -j"$jobs" &&
        ctest --test-dir build-asan --output-on-failure -j"$jobs"
}

tier_tsan() {
    # halt_on_error: a race fails the test that shows it (its report is in the test's output).
    configure build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE=thread \
        -DENG_BUILD_TESTS=ON &&
        cmake --build build-tsan -j"$jobs" &&
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
            ctest --test-dir build-tsan --output-on-failure -j"$jobs" -R "$(tsan_tests)"
}

# Each fuzz target runs from a scratch copy of what it found (build-fuzz/corpus/NAME, first, so
# new inputs go there) and the kept corpus (tests/fuzz/corpus/NAME, read only). A crash, a
# sanitizer report, an input slower than 20 s (a hang: a budget dodged) or more than 2 GB fails
# the tier; the input is saved as build-fuzz/artifacts/NAME/crash-* (or timeout-*, oom-*):
# reproduce with `build-fuzz/fuzz_NAME FILE`, keep it in tests/fuzz/corpus/NAME/ once fixed.
# ASan's quarantine is cut to 64 MB: at its default (256 MB) the VM targets' RSS crept past the
# 2 GB limit within the hour (no leak: 42 MB with no quarantine at all).
tier_fuzz() {
    local secs=20 src name dir log rc=0 opts
    [[ $long == 1 ]] && secs=${FUZZ_LONG_SECONDS:-3600}
    CC=clang configure build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE= \
        -DENG_BUILD_TESTS=OFF -DENG_FUZZ=ON &&
        cmake --build build-fuzz -j"$jobs" || return 1
    for src in tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        name=${name#fuzz_}
        dir=build-fuzz/corpus/$name
        log=build-fuzz/fuzz_$name.log
        mkdir -p "$dir" "build-fuzz/artifacts/$name"
        opts=(-max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
            -artifact_prefix="build-fuzz/artifacts/$name/")
        [[ -f tests/fuzz/fuzz_$name.dict ]] && opts+=(-dict="tests/fuzz/fuzz_$name.dict")
        if ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64} build-fuzz/fuzz_"$name" \
            "${opts[@]}" "$dir" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
            echo "-- $name: $(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" |
                grep -o '[0-9]*$') inputs in $secs s, $(grep -ao 'cov: [0-9]*' "$log" |
                tail -1) edges"
        else
            grep -aE 'ERROR|SUMMARY|check failed|Test unit written' "$log" | head -8
            echo "-- $name: FAILED (whole log: $log)"
            rc=1
        fi
    done
    return $rc
}

all=(layers plain builds asan tsan fuzz)
tiers=("$@")
[[ ${#tiers[@]} -gt 0 ]] || tiers=("${all[@]}")
failed=()
for t in "${tiers[@]}"; do
    if ! declare -F "tier_$t" >/dev/null; then
        echo "test.sh: no tier '$t' (tiers: ${all[*]})" >&2
        exit 2
    fi
done
for t in "${tiers[@]}"; do
    echo "== $t"
    start=$SECONDS
    if "tier_$t"; then
        echo "== $t: passed ($((SECONDS - start)) s)"
    else
        echo "== $t: FAILED ($((SECONDS - start)) s)"
        failed+=("$t")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== failed tiers: ${failed[*]}"
    exit 1
fi
echo "== every tier passed: ${tiers[*]}"

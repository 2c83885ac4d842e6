#!/usr/bin/env bash
# bench/sync_crash_1000x20.sh - the issue's full crash proof: 1,000 orders, 20 SIGKILLs at random
# moments, exactly one invoice per order at the end. The same script as the suite's
# tests/integration/sync_crash.sh (200 x 5), scaled up; takes several minutes.
# Usage (from the source root, after building): bench/sync_crash_1000x20.sh [BUILD_DIR]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build-dev}" && pwd)
bin=$build/tallysync
export TALLYSYNC_BIN=$bin ENG_SOURCE_DIR=$root SCRIPTS_DIR=$root/scripts \
    MAPPINGS_DIR=$root/mappings SCHEMA_DIR=$root/schema FIXTURES_DIR=$root/tests/fixtures
SYNC_CRASH_ORDERS=1000 SYNC_CRASH_KILLS=20 exec bash "$root/tests/integration/sync_crash.sh"

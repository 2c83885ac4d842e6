#!/usr/bin/env bash
# tools/test.sh - the whole test suite, as CI runs it (.ci/run calls this).
#  1. installs what is missing (tools/setup.sh --test)
#  2. a warnings-as-errors build with every tier: unit, script, integration (+ valgrind dry run)
#  3. the same tiers again under AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test
jobs=$(nproc)

echo "== build (warnings are errors)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_WERROR=ON -DENG_SANITIZE= >/dev/null
cmake --build build-test -j"$jobs"
echo "== tests"
ctest --test-dir build-test --output-on-failure -j"$jobs"

echo "== build under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DENG_WERROR=ON "-DENG_SANITIZE=address;undefined" >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under the sanitizers"
ctest --test-dir build-asan --output-on-failure -j"$jobs"

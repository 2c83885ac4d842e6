# shellcheck shell=bash disable=SC2034  # sourced: the globals it sets are read by the tests
# tests/browser/lib/browser_env.sh - set-up shared by the console's browser tests (sourced after
# tests/integration/lib/common.sh and sync_env.sh): the real engine serving the built console
# (web/dist, built by tools/build_web.sh) beside the real mocks, and `browser_run FILE.mjs`,
# which runs one Playwright script in Debian's chromium and counts its results with ours.
# Must not: touch anything outside $T (screenshots go to SCREENSHOTS_DIR, set by the caller).

WEB_DIST=${WEB_DIST:-$ENG_SOURCE_DIR/web/dist}
CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
# Under ctest the screenshots land in the build folder; run by hand they update docs/screenshots
# (the folder the README links).
SCREENSHOTS_DIR=${SCREENSHOTS_DIR:-$ENG_SOURCE_DIR/docs/screenshots}
export WEB_DIST CHROMIUM_BIN SCREENSHOTS_DIR

browser_require() {
    require_tools node jq curl python3
    [[ -x "$CHROMIUM_BIN" ]] || { fail "chromium is installed ($CHROMIUM_BIN; tools/setup.sh --test)"; finish; }
    [[ -f "$WEB_DIST/index.html" ]] || { fail "the console is built ($WEB_DIST; tools/build_web.sh)"; finish; }
    [[ -d "$ENG_SOURCE_DIR/web/node_modules/playwright-core" ]] ||
        { fail "playwright-core is installed (web/node_modules; tools/build_web.sh)"; finish; }
}

# browser_serve [VAR=VALUE...]: serve_start with the console.
browser_serve() {
    serve_start WEB_DIR="$WEB_DIST" "$@"
}

# browser_run FILE.mjs [VAR=VALUE...]: run a Playwright script (node) against $BASE with the
# admin token and whatever else the test exports; its "ok   ..." / "FAIL ..." lines count as ours.
browser_run() {
    local script=$1 line
    shift
    local out="$T/browser.$(basename "$script" .mjs).out"
    env ENGINE_URL="$BASE" ADMIN_TOKEN="$API_TOKEN" "$@" \
        timeout -k 5 600 node "$script" >"$out" 2>&1
    local rc=$?
    while IFS= read -r line; do
        case $line in
        "ok   "*) PASSED=$((PASSED + 1)); printf '%s\n' "$line" ;;
        "FAIL "*) FAILED=$((FAILED + 1)); printf '%s\n' "$line" ;;
        *) printf '     %s\n' "$line" ;;
        esac
    done <"$out"
    if ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
        fail "$(basename "$script") ran to its end (exit $rc)"
    fi
}

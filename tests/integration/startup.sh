#!/usr/bin/env bash
# tests/integration/startup.sh - what `tallysync serve` checks and says at start (issue 10):
# API_HOST as a host name (item 10). Each check runs the real binary on a free port.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl getent

echo "== API_HOST as a host name"
if getent ahostsv4 localhost >/dev/null; then
    serve_start API_HOST=localhost || finish
    line=$(grep -F '"msg":"listening"' "$SERVE_LOG" | head -n 1)
    assert_jq "API_HOST=localhost listens, naming the host and the address bound" "$line" \
        '.host == "localhost" and (.address | test("^127\\."))'
    http GET /health
    assert_eq "... and answers on 127.0.0.1" 200 "$CODE"
    serve_stop
    serve_start API_HOST=localhost API_ANONYMOUS_TENANT=demo || finish
    HTTP_AUTH=0 http GET /api/integrations
    assert_eq "API_ANONYMOUS_TENANT accepts API_HOST=localhost (loopback by its address)" 200 "$CODE"
    serve_stop
else
    fail "this machine resolves localhost to an IPv4 address (getent ahostsv4 localhost)"
fi
API_HOST=no-such-host.invalid API_PORT=0 run_bin "$T/badhost" serve
assert_eq "a name that does not resolve is refused at start" 1 "$RC"
assert_contains "... naming API_HOST and the name" "$ERR" "API_HOST 'no-such-host.invalid' does not resolve"
assert_not_contains "... before listening" "$ERR" '"msg":"listening"'
API_HOST=0.0.0.0 API_ANONYMOUS_TENANT=demo API_PORT=0 run_bin "$T/anyhost" serve
assert_eq "API_ANONYMOUS_TENANT on 0.0.0.0 is still refused" 1 "$RC"
assert_contains "... saying it needs loopback" "$ERR" "needs API_HOST on loopback"

finish

#!/usr/bin/env bash
# tests/integration/header_edges.sh - request header and body edge cases on raw sockets (issue
# 12, item 11): a NUL inside the Authorization header (or any header) is refused with 400, not
# read as the token before it; a body announced larger than MAX_BODY_BYTES (Content-Length: 2^62)
# is refused at once with 413, without the engine waiting for a byte of it; the well-formed
# neighbours of each still work.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl python3

SLOW="$ENG_SOURCE_DIR/tests/mocks/slow_client.py"
serve_start SYNC_DISPATCHER=off MAX_BODY_BYTES=65536 || finish

# raw NAME PRINTF_FORMAT [ARGS...]: send the bytes printf makes (\0 included) on a fresh
# connection; STATUS is the answer's code, "none" (no answer within 5 s) or "closed".
raw() {
    local name=$1
    shift
    # shellcheck disable=SC2059  # the format is the request, escapes and all
    printf "$@" >"$T/$name.req"
    STATUS=$(python3 "$SLOW" raw "$SERVE_PORT" "$T/$name.req" --wait 5)
}

echo "== a NUL inside a header"
raw ok-crlf 'GET /api/integrations HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$API_TOKEN"
assert_eq "the token, well-formed: 200" 200 "$STATUS"
raw nul-crlf 'GET /api/integrations HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\0junk\r\nConnection: close\r\n\r\n' "$API_TOKEN"
assert_eq "the token followed by NUL and more: 400 (not the token before the NUL)" 400 "$STATUS"
raw nul-last 'GET /api/integrations HTTP/1.1\r\nHost: e\r\nConnection: close\r\nAuthorization: Bearer %s\0x\r\n\r\n' "$API_TOKEN"
assert_eq "... as the last header: 400" 400 "$STATUS"
raw nul-lf 'GET /api/integrations HTTP/1.1\nHost: e\nAuthorization: Bearer %s\0junk\nConnection: close\n\n' "$API_TOKEN"
assert_eq "... with bare LF line ends: 400" 400 "$STATUS"
raw ok-lf 'GET /api/integrations HTTP/1.1\nHost: e\nAuthorization: Bearer %s\nConnection: close\n\n' "$API_TOKEN"
assert_eq "bare LF line ends, well-formed: 200" 200 "$STATUS"
raw nul-other 'GET /health HTTP/1.1\r\nHost: e\r\nX-Note: a\0b\r\nConnection: close\r\n\r\n'
assert_eq "a NUL in any other header: 400" 400 "$STATUS"
raw nul-tenant 'GET /api/integrations HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\r\nX-Tenant-ID: default\0other\r\nConnection: close\r\n\r\n' "$API_TOKEN"
assert_eq "a NUL in X-Tenant-ID: 400" 400 "$STATUS"
raw empty-values 'GET /health HTTP/1.1\r\nHost: e\r\nX-Empty:\r\nX-Spaces:   \r\nConnection: close\r\n\r\n'
assert_eq "empty header values: 200" 200 "$STATUS"

echo "== a body announced larger than MAX_BODY_BYTES: 413 at once"
raw huge 'POST /api/sync/orders HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 4611686018427387904\r\n\r\n{' "$API_TOKEN"
assert_eq "Content-Length: 2^62, one byte sent: 413 without waiting for the rest" 413 "$STATUS"
raw huge-hook 'POST /api/webhooks/woocommerce HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nContent-Length: 4611686018427387904\r\n\r\n'
assert_eq "... on a webhook route too" 413 "$STATUS"
raw over 'POST /api/sync/orders HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 65537\r\n\r\n' "$API_TOKEN"
assert_eq "MAX_BODY_BYTES + 1 announced, nothing sent: 413" 413 "$STATUS"
raw at 'POST /api/sync/orders HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' "$API_TOKEN"
assert_ne "a small body is read and handled (not 413)" 413 "$STATUS"
assert_ne "... and answered" none "$STATUS"
HTTP_AUTH=0 http GET /health
assert_eq "the engine still answers" 200 "$CODE"

serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish

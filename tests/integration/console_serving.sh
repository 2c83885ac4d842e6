#!/usr/bin/env bash
# tests/integration/console_serving.sh - `serve` serves the web console from WEB_DIR: every file
# byte for byte with its content type, the CSP and the other security headers, no-cache for
# unhashed names and a year's immutable cache under assets/, index.html for / and for
# extension-less paths (client-side routes), 404 for a missing file with an extension; HEAD;
# /api/... unmatched still the JSON 404 and /health, /ready, /metrics unshadowed; other methods
# 405; traversal (.., encoded, %00, backslashes), hidden names, symbolic links (escaping or not),
# a FIFO, a directory, an unknown extension and an oversized file refused; without a built
# console (no index.html, no WEB_DIR) / answers 503 naming tools/build_web.sh.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl cmp mkfifo truncate

CSP="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))'

# A copy of the fixture console, with the hostile entries a real WEB_DIR could hold.
WEB="$T/web"
cp -R "$FIXTURES_DIR/web" "$WEB"
mkdir -p "$T/outside"
printf 'outside-secret\n' >"$T/outside/secret.txt"
printf 'outside-secret\n' >"$T/outside.txt"
printf 'HIDDEN=outside-secret\n' >"$WEB/.env"
printf 'outside-secret\n' >"$WEB/notes.lua"
ln -s "$T/outside.txt" "$WEB/escape.txt"               # a link out of WEB_DIR
ln -s "$T/outside" "$WEB/assets/out"                   # a directory link out of it
ln -s "$WEB/robots.txt" "$WEB/inside-link.txt"         # a link that stays inside
mkfifo "$WEB/pipe.txt"                                 # would hang a plain open
mkdir -p "$WEB/dir.js"                                 # a directory named like a file
truncate -s $((16 * 1024 * 1024 + 1)) "$WEB/assets/huge-0a0a0a.js" # over the 16 MiB bound

serve_start WEB_DIR="$WEB" || finish
export HTTP_AUTH=0 # the console's files need no token

# fetch PATH [CURL_ARGS...]: GET into $T/got (bytes kept exact); sets CODE and HEADERS
fetch() {
    local path=$1
    shift
    rm -f "$T/got"
    CODE=$(curl -s --max-time 10 -o "$T/got" -D "$T/got.h" -w '%{http_code}' "$@" "$BASE$path" \
        2>/dev/null) || true
    [[ -n "$CODE" ]] || CODE=000
    HEADERS=$(tr -d '\r' <"$T/got.h" 2>/dev/null)
    BODY=$(head -c 100000 "$T/got" 2>/dev/null | tr -d '\0')
}

echo "== every file, with its content type, byte for byte"
while read -r path type; do
    fetch "$path"
    assert_eq "GET $path: 200" 200 "$CODE"
    assert_eq "GET $path: Content-Type $type" "$type" "$(header Content-Type)"
    check "GET $path: the file's exact bytes" cmp -s "$T/got" "$WEB$path"
done <<'EOF'
/index.html text/html; charset=utf-8
/assets/app-3f2a1c.js text/javascript; charset=utf-8
/assets/mod-9b8c7d.mjs text/javascript; charset=utf-8
/assets/app-3f2a1c.css text/css; charset=utf-8
/assets/app-3f2a1c.js.map application/json
/manifest.json application/json
/logo.svg image/svg+xml
/icon.png image/png
/favicon.ico image/x-icon
/assets/font-1a2b3c.woff2 font/woff2
/robots.txt text/plain; charset=utf-8
EOF

echo "== the security headers on every console answer"
for path in / /index.html /assets/app-3f2a1c.js /logo.svg /runs/r-1 /missing.js; do
    fetch "$path"
    assert_eq "GET $path: the strict Content-Security-Policy" "$CSP" \
        "$(header Content-Security-Policy)"
    assert_eq "GET $path: X-Content-Type-Options nosniff" nosniff "$(header X-Content-Type-Options)"
    assert_eq "GET $path: Referrer-Policy no-referrer" no-referrer "$(header Referrer-Policy)"
    assert_eq "GET $path: X-Frame-Options DENY" DENY "$(header X-Frame-Options)"
    assert_eq "GET $path: one Cache-Control header" 1 \
        "$(printf '%s\n' "$HEADERS" | grep -ci '^cache-control:')"
done

echo "== cache rules"
for path in / /index.html /logo.svg /manifest.json /runs/r-1; do
    fetch "$path"
    assert_eq "GET $path (an unhashed name): Cache-Control no-cache" no-cache \
        "$(header Cache-Control)"
done
for path in /assets/app-3f2a1c.js /assets/app-3f2a1c.css /assets/font-1a2b3c.woff2; do
    fetch "$path"
    assert_eq "GET $path (under assets/): cached a year, immutable" \
        "public, max-age=31536000, immutable" "$(header Cache-Control)"
done
fetch /missing.js
assert_eq "a 404 is not cached (no-store)" no-store "$(header Cache-Control)"

echo "== revalidation (ETag, If-None-Match)"
fetch /index.html
etag=$(header ETag)
assert_match "a file has an ETag" '^"[0-9a-f]+-[0-9a-f]+"$' "$etag"
fetch /index.html -H "If-None-Match: $etag"
assert_eq "the same ETag back: 304" 304 "$CODE"
check "... with no body" test ! -s "$T/got"
assert_eq "... and the headers of a 200" "no-cache|$CSP|$etag" \
    "$(header Cache-Control)|$(header Content-Security-Policy)|$(header ETag)"
fetch /runs/r-1 -H "If-None-Match: \"x\", $etag"
assert_eq "a console route answers the index's ETag too: 304" 304 "$CODE"
fetch /index.html -H 'If-None-Match: "0-0"'
assert_eq "another ETag: 200 with the file" 200 "$CODE"
printf '<!doctype html><title>changed</title>\n' >"$WEB/index.html"
fetch /index.html -H "If-None-Match: $etag"
assert_eq "after the file changes, the old ETag: 200" 200 "$CODE"
assert_contains "... with the new content" "$BODY" "changed"
cp "$FIXTURES_DIR/web/index.html" "$WEB/index.html"

echo "== / and the console's own routes answer index.html"
for path in / /runs /runs/r-1 /mappings/woo_order_to_qbo_invoice/edit /runs/ "/failures?x=1" \
    /metricsx /healthz /apix; do
    fetch "$path"
    assert_eq "GET $path: 200" 200 "$CODE"
    check "GET $path: the index page" cmp -s "$T/got" "$WEB/index.html"
    assert_eq "GET $path: as HTML" "text/html; charset=utf-8" "$(header Content-Type)"
done
for path in /missing.js /assets/app-000000.js /runs/r-1.json /missing.png; do
    fetch "$path"
    assert_eq "GET $path (a file name that is not there): 404" 404 "$CODE"
    assert_not_contains "... not the index page" "$BODY" "fixture-index"
done

echo "== the API's paths stay the API's"
for path in /api /api/ /api/nope /api/index.html /api/assets/app-3f2a1c.js /health/x /ready/x \
    /metrics/x; do
    fetch "$path"
    assert_eq "GET $path: 404" 404 "$CODE"
    assert_jq "GET $path: the JSON error envelope" "$BODY" "$ENVELOPE and .error.code == \"not_found\""
done
fetch /health
assert_jq "GET /health is still the engine's" "$BODY" '.status == "ok"'
fetch /ready
assert_eq "GET /ready is still the engine's" "application/json" "$(header Content-Type)"
fetch /metrics
assert_contains "GET /metrics is still the engine's" "$BODY" "tallysync_workers"
fetch /api/openapi.json
assert_jq "GET /api/openapi.json is still the engine's" "$BODY" '.openapi == "3.1.0"'
fetch /api/scripts
assert_eq "an /api route still wants a token" 401 "$CODE"

echo "== HEAD"
size=$(wc -c <"$WEB/assets/app-3f2a1c.js")
fetch /assets/app-3f2a1c.js -I
assert_eq "HEAD of a file: 200" 200 "$CODE"
assert_eq "... its Content-Length is the file's size" "$size" "$(header Content-Length)"
check "... no body (curl -I's output is the headers alone)" cmp -s "$T/got" "$T/got.h"
assert_eq "... with the content type" "text/javascript; charset=utf-8" "$(header Content-Type)"
assert_eq "... and the headers of a GET" "$CSP" "$(header Content-Security-Policy)"
fetch /runs/r-1 -I
assert_eq "HEAD of a console route: 200 with the index's length" \
    "200 $(wc -c <"$WEB/index.html")" "$CODE $(header Content-Length)"
fetch /missing.js -I
assert_eq "HEAD of a missing file: 404" 404 "$CODE"

echo "== other methods"
for m in POST PUT DELETE PATCH; do
    fetch / -X "$m" -H 'Content-Type: application/json' --data-binary '{}'
    assert_eq "$m /: 405" 405 "$CODE"
    assert_match "... Allow: GET, HEAD" '^GET, HEAD$' "$(header Allow)"
    assert_jq "... the JSON error envelope" "$BODY" "$ENVELOPE"
done
fetch /api/nope -X POST -H 'Content-Type: application/json' --data-binary '{}'
assert_eq "POST to an unknown /api path: 404 (no 405 from the console)" 404 "$CODE"

echo "== traversal and odd names are refused"
for path in "/../outside.txt" "/../../../../etc/passwd" "/assets/../../outside.txt" \
    "/%2e%2e/outside.txt" "/%2e%2e/%2e%2e/%2e%2e/etc/passwd" "/assets/..%2f..%2foutside.txt" \
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd" "/..%5c..%5coutside.txt" "/assets/%2e%2e/index.html" \
    "/./index.html" "/assets/./app-3f2a1c.js" "/index.html%00.js" "/robots.txt%00" \
    "/index%2ehtml%00" "/.env" "/assets/.hidden.js" "/%2eenv" "/notes.lua" "/escape.txt" \
    "/assets/out/secret.txt" "/inside-link.txt" "/pipe.txt" "/dir.js" "/..%252f..%252foutside.txt" \
    "/%252e%252e/outside.txt" "/index.html;.js" "/a%20b.js" '/..\..\outside.txt'; do
    fetch "$path" --path-as-is
    assert_eq "GET $path: 404" 404 "$CODE"
    assert_not_contains "... and nothing of the file" "$BODY" "outside-secret"
    assert_not_contains "... nor /etc/passwd" "$BODY" "root:"
done
# empty segments are skipped: still inside WEB_DIR
fetch //assets//app-3f2a1c.js --path-as-is
check "GET //assets//app-3f2a1c.js: the file (empty segments skipped)" cmp -s "$T/got" \
    "$WEB/assets/app-3f2a1c.js"
fetch //etc/passwd --path-as-is
assert_not_contains "GET //etc/passwd: never the system's file" "$BODY" "root:"
fetch /assets/huge-0a0a0a.js
assert_eq "a file over 16 MiB: refused (500), not read into memory whole" 500 "$CODE"
fetch /health
assert_eq "... and the engine answers" 200 "$CODE"

echo "== a path longer than the limit"
long=$(printf 'a%.0s' $(seq 1 1100))
fetch "/$long.js"
assert_eq "GET of a 1100-character name: 404" 404 "$CODE"
deep=$(printf '/a%.0s' $(seq 1 20))
fetch "$deep/x.js"
assert_eq "GET 20 folders deep: 404" 404 "$CODE"
serve_stop

echo "== the console not built"
mkdir -p "$T/empty/assets"
serve_start WEB_DIR="$T/empty" || finish
for path in / /runs/r-1; do
    fetch "$path"
    assert_eq "no index.html: GET $path answers 503" 503 "$CODE"
    assert_eq "... as HTML" "text/html; charset=utf-8" "$(header Content-Type)"
    assert_contains "... saying the console is not built" "$BODY" "console is not built"
    assert_contains "... and naming the command that builds it" "$BODY" "tools/build_web.sh"
    assert_eq "... with the CSP" "$CSP" "$(header Content-Security-Policy)"
done
fetch /assets/app.js
assert_eq "an asset of a console not built: 404" 404 "$CODE"
fetch /health
assert_eq "the API still answers" 200 "$CODE"
serve_stop
serve_start WEB_DIR="$T/no-such-folder" || finish
fetch /
assert_eq "WEB_DIR that does not exist: GET / answers 503 too" 503 "$CODE"
assert_not_contains "... without naming the folder" "$BODY" "no-such-folder"
serve_stop

finish

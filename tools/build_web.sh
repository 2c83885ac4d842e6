#!/usr/bin/env bash
# tools/build_web.sh - bundle the web console into web/dist/ (what `tallysync serve` hands out
# under /, WEB_DIR). Installs web/'s npm packages exactly as web/package-lock.json pins them
# (npm ci, only when the lockfile changed since the last install), then runs esbuild (web/build.mjs).
# Quiet and quick when nothing changed. tools/setup.sh runs it; so do start.sh and test.sh through it.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build_web: node and npm are needed to build the console (tools/setup.sh installs them)" >&2
  exit 1
fi

stamp=node_modules/.lock-installed
if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
  echo "build_web: installing the console's npm packages (web/package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json "$stamp"
fi

# Rebuild only when a source is newer than the bundle.
if [[ -f dist/index.html ]] &&
  [[ -z $(find src public build.mjs package-lock.json -newer dist/index.html -print -quit) ]]; then
  exit 0
fi
node build.mjs >/dev/null
echo "build_web: web/dist/ built" >&2

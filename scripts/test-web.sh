#!/usr/bin/env bash
# The web app's tests (web/): the type checker, the Vitest unit tests, then the Playwright
# end-to-end tests in Debian's Chromium, headless, against a real `dagy server` that Playwright
# starts on a fresh home (web/playwright.config.ts). The app is built first (`make web`).
# Chromium is installed with apt when it is missing (browsers are not downloaded by npm here).
# `scripts/test-web.sh unit` runs the first two only, `scripts/test-web.sh e2e` the last
# (scripts/test.sh runs them at different times); no argument runs all three.
set -euo pipefail
cd "$(dirname "$0")/.."
part="${1:-all}"

if ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "npm (Node.js 20+) is needed to test the web app." >&2
    exit 1
  fi
  echo "note: npm not found; the web app's tests are skipped." >&2
  exit 0
fi

install_chromium() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || {
      echo "Chromium is missing and cannot be installed without root: apt-get install chromium" >&2
      exit 1
    }
    apt=(sudo -n "${apt[@]}")
  fi
  "${apt[@]}" >/dev/null || { "${apt[0]}" apt-get update -q >/dev/null; "${apt[@]}" >/dev/null; }
}
cd web
if [ "$part" != e2e ]; then
  # The committed API types are the server's current OpenAPI document (`npm run gen:api` after a
  # route or schema change), so the app is type-checked against what the server really answers.
  types="$(mktemp -d)"
  trap 'rm -rf "$types"' EXIT
  "${PYTHON:-../.venv/bin/python}" ../scripts/dump_openapi.py "$types/openapi.json" >/dev/null
  npx openapi-typescript "$types/openapi.json" -o "$types/schema.d.ts" >/dev/null 2>&1
  cmp -s "$types/schema.d.ts" src/api/schema.d.ts || {
    echo "web/src/api/schema.d.ts is out of date: run 'npm run gen:api' in web/ and commit it." >&2
    exit 1
  }
  npm run --silent typecheck
  npx vitest run
fi
if [ "$part" != unit ]; then
  CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"
  if [ -z "$CHROMIUM" ]; then
    install_chromium
    CHROMIUM="$(command -v chromium)"
  fi
  export CHROMIUM
  npx playwright test
fi

#!/usr/bin/env bash
# Runs every test: lint, import contracts and the type checker, and the suite on SQLite and
# PostgreSQL, in parallel worker processes (pytest-xdist): DAGY_TEST_WORKERS sets how many (a number
# or "auto", one per CPU; 0 or 1 runs the suite in this one process). Arguments are pytest's, and
# lint runs first: `scripts/test.sh -k schedules`, `scripts/test.sh tests/server/test_flows.py -x`.
# Without arguments it also runs the HA test bed and the web app's tests (what `make test` runs).
# PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) are reached, or started
# with this machine's service commands when they are installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

pg_ready() { "$BIN/python" - <<'PY' 2>/dev/null
import psycopg
psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=2).close()
PY
}
redis_ready() { "$BIN/python" -c "import redis; redis.Redis(host='127.0.0.1', port=6379, socket_timeout=2).ping()" 2>/dev/null; }

if ! pg_ready && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 20); do pg_ready && break; sleep 0.5; done
fi
if ! redis_ready && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
  for _ in $(seq 20); do redis_ready && break; sleep 0.5; done
fi

if pg_ready; then
  export DAGY_TEST_POSTGRES_URL="${DAGY_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable on 127.0.0.1:5432; CI runs every test on it." >&2
  exit 1
else
  echo "note: PostgreSQL not reachable; running the suite on SQLite only." >&2
fi
if redis_ready; then
  export DAGY_TEST_REDIS_URL="${DAGY_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
fi
# The `docker` executor's tests run real containers on Podman with the runc runtime
# (tests/executors/conftest.py), deploy/compose.yml is checked by docker-compose (tests/deploy), and
# the web app's end-to-end tests drive Debian's Chromium (scripts/test-web.sh): what is missing is
# installed with apt when this is root; without them those tests are skipped (Chromium: test-web.sh
# tries again, and fails in CI).
tools=()
for tool in podman runc docker-compose chromium; do command -v "$tool" >/dev/null || tools+=("$tool"); done
if [ "${#tools[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${tools[@]}")
  "${apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && "${apt[@]}" >/dev/null; } \
    || echo "note: ${tools[*]} could not be installed; their tests are skipped." >&2
fi

lint() {
  "$BIN/ruff" check src tests bench
  "$BIN/lint-imports" --no-cache
  "$BIN/mypy"  # src/, as [tool.mypy] in pyproject.toml says
}
# The suite spends much of its time waiting on subprocesses, sockets and the databases, so more
# workers than CPUs pays: 3 was the quickest on the 2-core CI machine (docs/development.md).
workers="${DAGY_TEST_WORKERS:-3}"
parallel=()
case "$workers" in
  0 | 1) ;;
  *) parallel=(-n "$workers" --dist worksteal) ;;
esac
if [ "$#" -gt 0 ]; then
  lint
  exec "$BIN/python" -m pytest ${parallel[@]+"${parallel[@]}"} "$@"
fi
# Without arguments, everything, in two overlapping parts: the suite but the HA test bed, beside the
# web app's type check and unit tests (scripts/test-web.sh unit: a minute or two of one CPU); then
# side by side the bed (tests/server/test_ha.py, marker `ha`: minutes of processes of its own, so
# never beside the xdist workers, driven for a fixed time), the web app's end-to-end tests
# (test-web.sh e2e), which mostly wait on a browser but time out under the suite's load, and lint
# with the type checker. The exit status is the first failure's.
status=0
scripts/test-web.sh unit &
web_unit=$!
"$BIN/python" -m pytest ${parallel[@]+"${parallel[@]}"} -m "not ha" || status=$?
scripts/test-web.sh e2e &
web_e2e=$!
lint &
linted=$!
"$BIN/python" -m pytest -p no:xdist -m ha || status=$((status ? status : $?))
for job in "$web_unit" "$web_e2e" "$linted"; do
  wait "$job" || status=$((status ? status : $?))
done
exit "$status"

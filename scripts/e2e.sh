#!/usr/bin/env bash
# Serves the built console on a fresh embedded cluster (with demo data) at a free port and runs the
# Playwright tests against it. Expects `cargo leptos build` to have run (target/debug + target/site).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RUSTCARE_BIN:-target/debug/rustcare-partitions}
export RUSTCARE_DATA_DIR="$PWD/.data/e2e"
unset DATABASE_URL
# The specs compare pages with SQL; a scheduled create or cleanup made up at start (on a Sunday
# morning, say) would change the demo under them. The scheduler has its own tests.
export RUSTCARE_SCHEDULER=off

"$bin" db stop >/dev/null 2>&1 || true
rm -rf "$RUSTCARE_DATA_DIR"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$RUSTCARE_DATA_DIR.log"
LEPTOS_SITE_ROOT=target/site "$bin" serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; "$bin" db stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then echo "the console exited; its log:" >&2; cat "$log" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/" >/dev/null || { echo "the console did not answer; its log:" >&2; cat "$log" >&2; exit 1; }

url=$("$bin" db url | sed -n 's/^  DATABASE_URL=//p')
cd end2end
BASE_URL="http://127.0.0.1:$port" E2E_DATABASE_URL="$url" npx playwright test "$@"

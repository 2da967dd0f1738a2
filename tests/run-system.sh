#!/usr/bin/env bash
# run-system.sh — the system tests (ctest `system`): a throwaway PostgreSQL
# cluster in a temporary directory, migrated with BIN_DIR/3min, then the Node
# test files of tests/system/ (node:test and the official MCP SDK client),
# each of which starts its own edge and workers from BIN_DIR.
#
# Usage: tests/run-system.sh [BIN_DIR]   (default: bin; bin/asan = sanitizer build)
#
# The database in DATABASE_URL is never touched: the variable is unset first
# and the tests get the throwaway cluster as TEST_DATABASE_URL. When BIN_DIR
# holds the ASan/UBSan build, a sanitizer report in any process's stderr
# fails the run even when the test that started the process passed (a leak
# shows only when a process exits).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=$(cd "${1:-$ROOT/bin}" && pwd) || { echo "run-system: no such directory: ${1:-}" >&2; exit 2; }
unset DATABASE_URL
# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"

for b in 3min edge worker; do
  [ -x "$BIN_DIR/$b" ] || { echo "run-system: $BIN_DIR/$b is missing; build first" >&2; exit 2; }
done
[ -d "$ROOT/tests/node_modules/@modelcontextprotocol/sdk" ] ||
  { echo "run-system: tests/node_modules is missing; run: cd tests && npm ci" >&2; exit 2; }

sanitized=0
case "$BIN_DIR" in */asan) sanitized=1 ;; esac
if [ "$sanitized" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

WORK=$(mktemp -d /tmp/3min-system.XXXXXX)
cleanup() {
  pg_destroy "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 130' INT   # later signals must not cut the cleanup short
trap 'trap "" INT TERM; exit 143' TERM

pg_start "$WORK/pg" >/dev/null || { echo "run-system: PostgreSQL did not start" >&2; exit 1; }
TEST_DATABASE_URL=$DATABASE_URL
unset DATABASE_URL
DATABASE_URL=$TEST_DATABASE_URL "$BIN_DIR/3min" migrate >"$WORK/migrate.log" 2>&1 || {
  echo "run-system: migration failed:" >&2
  cat "$WORK/migrate.log" >&2
  exit 1
}

mkdir -p "$WORK/logs"
export TEST_DATABASE_URL BIN_DIR
export TEST_LOG_DIR=$WORK/logs
export TEST_PSQL=${PG_BIN:-/usr/lib/postgresql/15/bin}/psql
export TEST_SANITIZED=$sanitized

cd "$ROOT/tests" || exit 1
# Files run one at a time in name order: each starts its own processes, and
# the fault tests need the machine's cores to themselves.
# TEST_FILES (e.g. "system/20_sdk.test.mjs") narrows the run while developing.
# shellcheck disable=SC2086
node --test --test-concurrency=1 ${TEST_FILES:-system/*.test.mjs}
rc=$?

if [ "$sanitized" = 1 ]; then
  reports=$(grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$WORK"/logs/*.log 2>/dev/null)
  if [ -n "$reports" ]; then
    for f in $reports; do
      echo "=== sanitizer report in $(basename "$f") ===" >&2
      grep -n -A40 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$f" | head -80 >&2
    done
    [ "$rc" = 0 ] && rc=1
  fi
fi
if [ "$rc" != 0 ]; then
  # Keep the process logs for a look after the cluster is gone.
  kept=$(mktemp -d /tmp/3min-system-logs.XXXXXX)
  cp -a "$WORK"/logs/. "$kept"/ 2>/dev/null
  echo "run-system: failed (status $rc); the edge, worker and 3min logs are in $kept" >&2
fi
exit "$rc"

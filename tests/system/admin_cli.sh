#!/usr/bin/env bash
# The checks are single-quoted on purpose: check() evaluates them later.
# shellcheck disable=SC2016,SC2034
# admin_cli.sh — system test of `3min` against a real PostgreSQL: migrations
# (idempotent, concurrent, worker password), accounts, MCP keys (create, the
# stored hash resolving through resolve_mcp_key, list, revoke) and exit codes.
# Usage: tests/system/admin_cli.sh [BIN_DIR]   (default: bin)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$(cd "${1:-$ROOT/bin}" && pwd)/3min
# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"

WORK=$(mktemp -d /tmp/3min-admin-test.XXXXXX)
trap 'pg_destroy "$WORK/pg"; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg" >/dev/null || exit 1
PSQL=(/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -XtAq -v ON_ERROR_STOP=1)

fails=0
ok() { printf 'ok   %s\n' "$1"; }
no() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# expect NAME STATUS CMD...: runs CMD, checks its exit status.
expect() {
  local name=$1 want=$2 got
  shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"
  got=$?
  if [ "$got" = "$want" ]; then ok "$name"; else
    no "$name (exit $got, wanted $want)"
    sed 's/^/     /' "$WORK/err"
  fi
}
check() { if eval "$2"; then ok "$1"; else no "$1"; fi; }

expect "usage without DATABASE_URL is exit 2" 2 env -u DATABASE_URL "$BIN" help
expect "migrate without DATABASE_URL fails clearly" 1 env -u DATABASE_URL "$BIN" migrate
check "  ... naming the variable" 'grep -q DATABASE_URL "$WORK/err"'
expect "unknown command is exit 2" 2 "$BIN" frobnicate

# Three migrations at once on an empty database: the advisory lock makes
# exactly one apply each file.
for i in 1 2 3; do "$BIN" migrate >"$WORK/m$i" 2>&1 & done
wait
check "concurrent migrates apply each file once" \
  '[ "$(cat "$WORK"/m1 "$WORK"/m2 "$WORK"/m3 | grep -c "^applied 001_")" = 1 ]'
expect "migrate again is a no-op" 0 "$BIN" migrate
check "  ... and says so" 'grep -q "up to date" "$WORK/out"'
check "schema_migrations records every file of deploy/sql, once" \
  '[ "$("${PSQL[@]}" -c "SELECT string_agg(version, chr(32) ORDER BY version) FROM schema_migrations")" = "$(ls "$ROOT"/deploy/sql/*.sql | sed "s|.*/||; s|_.*||" | sort | paste -sd " ")" ]'
expect "worker password is set" 0 env DATABASE_WORKER_PASSWORD="it's a secret" "$BIN" migrate
check "  ... stored as SCRAM, never in clear" \
  '"${PSQL[@]}" -c "SELECT rolpassword FROM pg_authid WHERE rolname = '\''tm_worker'\''" | grep -q "^SCRAM-SHA-256"'

expect "account create" 0 "$BIN" account create --email ann@example.com --password 'correct horse' --plan pro
ACCT=$(cat "$WORK/out")
check "  ... prints the account id" '[[ $ACCT =~ ^[0-9a-f-]{36}$ ]]'
check "  ... verified, plan pro, argon2id hash" \
  '[ "$("${PSQL[@]}" -c "SELECT verified, plan, password_hash LIKE '\''\$argon2id\$%'\'' FROM accounts WHERE id = '\''$ACCT'\''")" = "t|pro|t" ]'
expect "duplicate e-mail (any case) is exit 1" 1 "$BIN" account create --email ANN@example.com --password 'correct horse'
check "  ... with a clear message" 'grep -q "already exists" "$WORK/err"'
expect "short password is exit 2" 2 "$BIN" account create --email bob@example.com --password short
expect "bad e-mail is exit 2" 2 "$BIN" account create --email bob@localhost --password 'correct horse'
expect "bad plan is exit 2" 2 "$BIN" account create --email bob@example.com --password 'correct horse' --plan gold
expect "unknown flag is exit 2" 2 "$BIN" account create --email bob@example.com --password 'correct horse' --x 1
expect "password from stdin" 0 bash -c "printf 'from stdin 123\n' | '$BIN' account create --email bob@example.com --password -"

expect "mcp-key create" 0 "$BIN" mcp-key create --email ann@example.com --name laptop --scopes read,execute
KEY=$(cat "$WORK/out")
check "  ... prints only the key" '[[ $KEY =~ ^tm_mcp_[A-Za-z0-9_-]{43}$ ]] && [ "$(wc -l <"$WORK/out")" = 1 ]'
check "  ... stores SHA-256 of the key, which resolve_mcp_key finds" \
  '[ "$("${PSQL[@]}" -c "SELECT account_id, name, scopes FROM resolve_mcp_key(sha256(convert_to('\''$KEY'\'', '\''UTF8'\'')))")" = "$ACCT|laptop|{read,execute}" ]'
check "  ... and the first 11 characters as prefix" \
  '[ "$("${PSQL[@]}" -c "SELECT prefix FROM mcp_api_keys WHERE name = '\''laptop'\''")" = "${KEY:0:11}" ]'
expect "mcp-key create for an unknown account is exit 1" 1 "$BIN" mcp-key create --email nobody@example.com
expect "unknown scope is exit 2" 2 "$BIN" mcp-key create --email ann@example.com --scopes admin
expect "mcp-key list" 0 "$BIN" mcp-key list --email ann@example.com
check "  ... shows the key by prefix, used (resolved above), not revoked" \
  'grep -q "laptop .*${KEY:0:11}….*read,execute .*Z .*Z *no$" "$WORK/out" && ! grep -q "$KEY" "$WORK/out"'
KEY_ID=$("${PSQL[@]}" -c "SELECT id FROM mcp_api_keys WHERE name = 'laptop'")
expect "mcp-key revoke" 0 "$BIN" mcp-key revoke "$KEY_ID"
check "  ... the key no longer resolves" \
  '[ -z "$("${PSQL[@]}" -c "SELECT key_id FROM resolve_mcp_key(sha256(convert_to('\''$KEY'\'', '\''UTF8'\'')))")" ]'
expect "revoke of an unknown id is exit 1" 1 "$BIN" mcp-key revoke 00000000-0000-0000-0000-000000000000
expect "revoke of a non-uuid is exit 2" 2 "$BIN" mcp-key revoke "1 OR 1=1"

if [ "$fails" -gt 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"

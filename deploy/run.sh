#!/usr/bin/env bash
# run.sh — what `make run` runs once bin/ is built: the whole platform on one
# machine, for trying it out and for development.
#
#   1. Without DATABASE_URL, a throwaway PostgreSQL cluster in $STATE_DIR/pg
#      (deploy/lib/pg.sh); with it, that database.
#   2. bin/3min migrate.
#   3. The first time (no $STATE_DIR/demo.env): a demo account and a demo MCP
#      key, saved in $STATE_DIR/demo.env (mode 600).
#   4. The MCP URL, the demo login, the key and ready-to-paste client
#      configurations.
#   5. One edge, $WORKERS workers and one bin/jobs (webhooks, e-mail) in the
#      foreground, logging to this terminal. A worker or jobs process that
#      dies is restarted after a second; if the edge dies, everything stops.
#
# Ctrl-C, SIGINT or SIGTERM stops every process this script started, the
# PostgreSQL cluster included when it started it. The next run reuses the
# state directory (database, demo login, key).
#
# Environment: STATE_DIR (.run), EDGE_LISTEN (127.0.0.1:8080), PUBLIC_URL
# (http://$EDGE_LISTEN), WORKERS (2), DATABASE_URL (unset: embedded cluster),
# BIN_DIR (bin; bin/asan runs the sanitizer build), ALLOW_PRIVATE_WEBHOOKS (1:
# webhooks to local receivers), SMTP_URL (unset: e-mails are written to
# MAIL_DIR, default $STATE_DIR/mail). Everything else is passed
# through to the processes (see the configuration table of the README).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

log() { printf '%s run: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

BIN_DIR=${BIN_DIR:-$ROOT/bin}
STATE_DIR=${STATE_DIR:-.run}
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
EDGE_LISTEN=${EDGE_LISTEN:-127.0.0.1:8080}
PUBLIC_URL=${PUBLIC_URL:-http://$EDGE_LISTEN}
PUBLIC_URL=${PUBLIC_URL%/}
WORKERS=${WORKERS:-2}
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || die "WORKERS must be a number from 1 to 99, not '$WORKERS'"
# Local development sends webhooks to local receivers over plain http.
ALLOW_PRIVATE_WEBHOOKS=${ALLOW_PRIVATE_WEBHOOKS:-1}
export STATE_DIR EDGE_LISTEN PUBLIC_URL WORKERS ALLOW_PRIVATE_WEBHOOKS

for b in 3min edge worker jobs; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing; build first (make build)"
done

# One run per state directory: two would share the database, the demo key
# and the workers' socket. The lock goes away with this process.
exec 9>"$STATE_DIR/run.lock"
flock -n 9 || die "another run is using $STATE_DIR (set STATE_DIR for a second one)"

started_pg=0
edge_pid=
supervisors=()

# Stops what we started: TERM first, KILL after 10 s, then the database.
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap '' INT TERM
  local pids=() p
  [ -n "$edge_pid" ] && pids+=("$edge_pid")
  pids+=("${supervisors[@]}")
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 100); do
      alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for p in "${pids[@]}"; do
      if kill -0 "$p" 2>/dev/null; then
        log "process $p did not stop in 10 s; killing it"
        pkill -KILL -P "$p" 2>/dev/null || true   # a supervisor's worker
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    wait 2>/dev/null || true
  fi
  if [ "$started_pg" = 1 ]; then
    log "stopping PostgreSQL"
    pg_stop "$STATE_DIR/pg" || log "PostgreSQL did not stop cleanly"
  fi
  exit "$rc"
}
trap cleanup EXIT
# The first INT or TERM starts the cleanup; later ones are ignored from then
# on. `make run` forwards a TERM it receives to this script, so a TERM sent to
# the whole process group arrives twice: a second `exit` inside the EXIT trap
# would end the script before it stopped anything.
trap 'trap "" INT TERM; exit 130' INT
trap 'trap "" INT TERM; exit 143' TERM

if [ -z "${DATABASE_URL:-}" ]; then
  log "starting PostgreSQL in $STATE_DIR/pg"
  started_pg=1
  pg_start "$STATE_DIR/pg" || die "PostgreSQL did not start"
fi
export DATABASE_URL

"$BIN_DIR/3min" migrate || die "migration failed"

# --- the demo account and key --------------------------------------------
# DEMO_EMAIL may be set: the tests, whose runs share one database, use their own.
DEMO_EMAIL=${DEMO_EMAIL:-demo@3minapi.local}
DEMO_ENV=$STATE_DIR/demo.env

account_exists() { "$BIN_DIR/3min" mcp-key list --email "$DEMO_EMAIL" >/dev/null 2>&1; }

seed_demo() {
  local password key
  if account_exists; then
    # The database outlived demo.env: its password cannot be recovered, but
    # a fresh key still gives MCP access.
    password="(unknown: the account predates $DEMO_ENV)"
  else
    password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    printf '%s\n' "$password" |
      "$BIN_DIR/3min" account create --email "$DEMO_EMAIL" --password - >/dev/null ||
      die "creating the demo account failed"
  fi
  key=$("$BIN_DIR/3min" mcp-key create --email "$DEMO_EMAIL" --name demo 2>/dev/null) ||
    die "creating the demo MCP key failed"
  (
    umask 077
    printf 'DEMO_EMAIL=%q\nDEMO_PASSWORD=%q\nDEMO_MCP_KEY=%q\n' \
      "$DEMO_EMAIL" "$password" "$key" >"$DEMO_ENV.tmp"
  )
  mv "$DEMO_ENV.tmp" "$DEMO_ENV"
  chmod 600 "$DEMO_ENV"
  log "created the demo account and MCP key ($DEMO_ENV)"
}

if [ ! -f "$DEMO_ENV" ]; then
  seed_demo
elif ! account_exists; then
  # A cluster under /tmp (see deploy/lib/pg.sh) does not survive a reboot.
  log "the demo account is gone (new database); creating it again"
  seed_demo
fi
# shellcheck source=/dev/null
source "$DEMO_ENV"

# Without a relay, e-mails (sign-up verification, password reset,
# invitations, alerts) are written as .eml files, so sign-up works locally.
if [ -z "${SMTP_URL:-}" ]; then
  export MAIL_DIR=${MAIL_DIR:-$STATE_DIR/mail}
  MAIL_NOTE="written to $MAIL_DIR (set SMTP_URL to send them)"
else
  MAIL_NOTE="sent through the relay in SMTP_URL"
fi

MCP_URL=$PUBLIC_URL/api/mcp
cat <<EOF

  3Min API is starting.

  MCP URL        $MCP_URL
  Demo login     $DEMO_EMAIL / $DEMO_PASSWORD
  Demo MCP key   $DEMO_MCP_KEY
  Dashboard      $PUBLIC_URL/login
  State          $STATE_DIR  (demo.env holds the login and the key)
  E-mails        $MAIL_NOTE

  Claude Code:
    claude mcp add --transport http 3minapi $MCP_URL --header "Authorization: Bearer $DEMO_MCP_KEY"

  Cursor (~/.cursor/mcp.json):
    {"mcpServers":{"3minapi":{"url":"$MCP_URL","headers":{"Authorization":"Bearer $DEMO_MCP_KEY"}}}}

  Ctrl-C stops everything.

EOF

# --- the processes -----------------------------------------------------------

# Runs a command again each time it dies, until TERM. Runs in a subshell
# (where INT stays ignored: stopping is left to the main script, which sends
# TERM to the supervisors). Workers and jobs exit 0 only when asked to stop
# (Ctrl-C reaches the whole process group, them included): that is not
# restarted.
supervise() {
  local name=$1 child=0 stopping=0 rc
  shift
  trap '' INT
  trap 'stopping=1; [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null' TERM
  while :; do
    "$@" &
    child=$!
    rc=0
    wait "$child" || rc=$?
    # A TERM interrupts `wait`; wait again for the child's own exit.
    while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
    [ "$stopping" = 1 ] && exit 0
    if [ "$rc" = 0 ]; then
      log "$name stopped"
      exit 0
    fi
    log "$name exited with status $rc; restarting it in 1 s"
    sleep 1 &
    child=$!
    wait "$child" || true
    [ "$stopping" = 1 ] && exit 0
  done
}

"$BIN_DIR/edge" &
edge_pid=$!
log "edge started (pid $edge_pid) on $EDGE_LISTEN"
for i in $(seq "$WORKERS"); do
  supervise "worker $i" "$BIN_DIR/worker" &
  supervisors+=($!)
done
log "$WORKERS workers started"
supervise "jobs" "$BIN_DIR/jobs" &
supervisors+=($!)
log "jobs started (webhooks and notification e-mails)"

# The edge is the front door: without it nothing can reach the workers, so
# its exit ends the run (INT and TERM interrupt this wait and do the same).
rc=0
wait "$edge_pid" || rc=$?
edge_pid=
if [ "$rc" = 0 ]; then
  # The edge exits 0 only when it was asked to stop (INT or TERM): a stop, not a failure.
  log "edge stopped; stopping the rest"
  exit 0
fi
log "edge exited with status $rc; stopping"
exit "$rc"

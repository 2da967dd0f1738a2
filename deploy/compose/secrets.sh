#!/usr/bin/env bash
# secrets.sh — makes the secret files docker-compose.yml mounts, once: each
# file that is missing from SECRETS_DIR (default deploy/compose/secrets) is
# created with fresh random content; existing files are never changed (the
# database keeps the passwords it was created with).
#
#   db_password          the owner role tm_owner (PostgreSQL superuser)
#   db_worker_password   the worker role tm_worker (set by `3min migrate`)
#   db_jobs_password     the jobs role tm_jobs (set by `3min migrate`)
#   signing_key.pem      ES256 key that signs OAuth access tokens (edge)
#   keys_secret          key that encrypts stored gateway secrets (worker, jobs, edge)
#   grafana_admin_password  Grafana's admin password (profile `grafana`)
#
# The directory is mode 700 and owned by the user running this; the files
# are mode 644 so that the containers' non-root users can read them through
# the bind mounts (compose without swarm does not change owners), and only
# someone who can enter the directory can reach them. Keep the directory out
# of version control and back it up with the database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${SECRETS_DIR:-$ROOT/deploy/compose/secrets}

mkdir -p "$DIR"
chmod 700 "$DIR"
umask 022

rand() { head -c "$1" /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

make_one() {   # make_one NAME COMMAND...: COMMAND's output into NAME, unless it exists
  local name=$1
  shift
  [ -s "$DIR/$name" ] && return 0
  "$@" >"$DIR/$name.tmp"
  chmod 644 "$DIR/$name.tmp"
  mv "$DIR/$name.tmp" "$DIR/$name"
  echo "created $DIR/$name"
}

password() { rand 24; echo; }
keybox_key() { rand 32; echo; }   # 32 bytes, 43 base64url characters
signing_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null; }

make_one db_password password
make_one db_worker_password password
make_one db_jobs_password password
make_one keys_secret keybox_key
make_one signing_key.pem signing_key
make_one grafana_admin_password password   # the `grafana` profile's admin user

#!/bin/sh
# 3min-entrypoint — entry point of the platform image. Secrets may be given as
# files (compose or Kubernetes secrets mounted read-only) instead of
# environment variables: for each VAR below, VAR_FILE names a file whose
# content (without the trailing newline) becomes VAR. A VAR set directly
# wins over its VAR_FILE. Then the command runs in place of this script.
#
#   DATABASE_URL                the owner's URL (3min migrate and the CLI)
#   DATABASE_PASSWORD           the owner's password; exported as PGPASSWORD,
#                               which libpq uses when the URL has none
#   DATABASE_WORKER_PASSWORD    the worker role's password
#   DATABASE_JOBS_PASSWORD      the jobs role's password
#   SMTP_URL                    may hold a password
#
# SIGNING_KEY_FILE and KEYS_SECRET_FILE are read by the programs themselves:
# they are paths already, and are left alone here.
set -eu

fail() { echo "3min-entrypoint: $*" >&2; exit 64; }

from_file() {   # from_file VAR [TARGET]: VAR_FILE's content into TARGET (default VAR)
  var=$1 target=${2:-$1}
  eval "file=\${${var}_FILE:-}"
  eval "direct=\${${target}:-}"
  [ -n "$file" ] || return 0
  if [ -n "$direct" ]; then
    unset "${var}_FILE"
    return 0
  fi
  [ -r "$file" ] || fail "${var}_FILE: cannot read $file"
  value=$(cat "$file")
  [ -n "$value" ] || fail "${var}_FILE: $file is empty"
  export "$target=$value"
  unset "${var}_FILE"
}

if [ -n "${DATABASE_PASSWORD:-}" ] && [ -z "${PGPASSWORD:-}" ]; then export PGPASSWORD="$DATABASE_PASSWORD"; fi
unset DATABASE_PASSWORD
from_file DATABASE_URL
from_file DATABASE_PASSWORD PGPASSWORD
from_file DATABASE_WORKER_PASSWORD
from_file DATABASE_JOBS_PASSWORD
from_file SMTP_URL
unset value direct file var target

exec "$@"

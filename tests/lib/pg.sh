# shellcheck shell=bash
# pg.sh — the throwaway PostgreSQL cluster of the test suite: pg_start DIR,
# pg_stop DIR, pg_destroy DIR. The functions live in deploy/lib/pg.sh, which
# `make run` uses too; see there for where the files go and why.
# shellcheck source=deploy/lib/pg.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib/pg.sh"

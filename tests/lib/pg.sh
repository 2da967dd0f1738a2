# shellcheck shell=bash
# pg.sh — the throwaway PostgreSQL cluster of the test suite: pg_start DIR,
# pg_stop DIR. One copy of the functions lives in deploy/lib/pg.sh (make run
# uses them too); see there for where the files go and why.
# shellcheck source=deploy/lib/pg.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib/pg.sh"

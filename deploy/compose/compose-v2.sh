#!/usr/bin/env bash
# compose-v2.sh — prints the path of a Compose v2 binary (the `docker compose`
# plugin, which also runs on its own as `docker-compose` with v2 syntax), so
# `make test-compose` can run the stack with both Compose versions.
#
# Debian 12 packages only Compose 1.29. In order, this uses:
#   1. COMPOSE_V2 from the environment, when it runs and says v2;
#   2. an installed plugin (the usual cli-plugins directories);
#   3. Debian's own Compose v2 package (docker-compose 2.26.1-4 from Debian 13,
#      a Go program that needs only libc6 >= 2.34): downloaded once from the
#      Debian archive, checked against the SHA-256 below, unpacked with
#      dpkg-deb (not installed: it would replace the 1.29 package of the same
#      name) into CACHE_DIR.
# Exit status 1 when none of these gives a working v2 (the reason on stderr).
#
# Environment: COMPOSE_V2, CACHE_DIR (/var/cache/3min-ci/compose-v2 when that
# can be made, else ~/.cache/3min/compose-v2), DEBIAN_MIRROR
# (http://deb.debian.org/debian).
set -euo pipefail

VERSION=2.26.1-4
DEB=pool/main/d/docker-compose/docker-compose_${VERSION}_amd64.deb
SHA256=47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf '%s compose-v2: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

is_v2() {   # is_v2 BINARY: it runs here and reports a 2.x version
  [ -x "$1" ] && "$1" version --short 2>/dev/null | grep -Eq '^v?2\.'
}

if [ -n "${COMPOSE_V2:-}" ]; then
  is_v2 "$COMPOSE_V2" || { say "COMPOSE_V2=$COMPOSE_V2 is not a working Compose v2"; exit 1; }
  printf '%s\n' "$COMPOSE_V2"
  exit 0
fi

for p in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose \
         /usr/local/lib/docker/cli-plugins/docker-compose "${HOME:-/root}/.docker/cli-plugins/docker-compose"; do
  if is_v2 "$p"; then printf '%s\n' "$p"; exit 0; fi
done

if [ -z "${CACHE_DIR:-}" ]; then
  if mkdir -p /var/cache/3min-ci/compose-v2 2>/dev/null && [ -w /var/cache/3min-ci/compose-v2 ]; then
    CACHE_DIR=/var/cache/3min-ci/compose-v2
  else
    CACHE_DIR=${HOME:-/root}/.cache/3min/compose-v2
  fi
fi
BIN=$CACHE_DIR/$VERSION/docker-compose
if is_v2 "$BIN"; then printf '%s\n' "$BIN"; exit 0; fi

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || { say "only amd64 is handled (Debian's package)"; exit 1; }
for tool in curl dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { say "$tool is missing"; exit 1; }
done
mkdir -p "$CACHE_DIR"
tmp=$(mktemp -d "$CACHE_DIR/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "fetching Debian's docker-compose $VERSION (Compose v2) from $MIRROR"
if ! curl -sSf --max-time 300 -o "$tmp/compose.deb" "$MIRROR/$DEB"; then
  say "download of $MIRROR/$DEB failed"
  exit 1
fi
if [ "$(sha256sum "$tmp/compose.deb" | cut -d' ' -f1)" != "$SHA256" ]; then
  say "$DEB does not have the expected SHA-256: not used"
  exit 1
fi
dpkg-deb -x "$tmp/compose.deb" "$tmp/root"
mkdir -p "$CACHE_DIR/$VERSION"
install -m 0755 "$tmp/root/usr/libexec/docker/cli-plugins/docker-compose" "$BIN.new"
mv "$BIN.new" "$BIN"
is_v2 "$BIN" || { say "the unpacked binary does not run here"; exit 1; }
say "Compose v2 in $BIN"
printf '%s\n' "$BIN"

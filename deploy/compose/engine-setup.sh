#!/usr/bin/env bash
# engine-setup.sh — a container engine for docker-compose on a Debian 12 machine
# that has no Docker daemon and may not reach any registry: rootful podman
# (runc runtime) serving the Docker API on a socket, driven by Debian's
# docker-compose 1.29. Every image is built locally on a base image made here
# with debootstrap, so nothing is ever pulled.
#
#   engine-setup.sh [up]   install the packages, configure podman, make the base
#                          image, start the API socket and the healthcheck pump
#   engine-setup.sh check  exit 0 when the API socket answers
#   engine-setup.sh down   stop the socket service and the pump started by `up`
#
# Environment:
#   BASE_IMAGE   name of the base image (localhost/debian:bookworm)
#   BASE_CACHE   a gzip'd `podman save` of the base image: loaded when the file
#                exists (seconds instead of minutes of debootstrap), written
#                after a fresh build when set
#   DEBIAN_MIRROR  mirror for debootstrap (default: the host's apt source)
#
# Needs root. Prints "export DOCKER_HOST=..." when ready.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm}
SOCK=/run/podman/podman.sock
STATE=/run/3min-compose-engine
export DOCKER_HOST=unix://$SOCK

say() { printf '%s engine: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "$*"; exit 1; }
timed() { local t=$SECONDS; "$@"; say "$1 took $((SECONDS - t)) s"; }

[ "$(id -u)" = 0 ] || die "needs root (rootful podman)"

socket_ok() { curl -sf --max-time 3 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }

packages() {
  local missing=() p
  for p in podman runc catatonit netavark aardvark-dns debootstrap docker-compose curl gzip; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" update
  # docker-compose's Recommends are docker.io, containerd and apparmor: not wanted,
  # podman is the engine. podman's own Recommends (netavark, aardvark-dns, ...) are.
  "${apt[@]}" install --no-install-recommends podman runc catatonit netavark aardvark-dns \
    debootstrap docker-compose curl gzip iptables conmon uidmap
}

# podman's defaults fail on these machines in three ways, each fixed here:
#  - it asks for RLIMIT_NOFILE=1048576 and a bigger RLIMIT_NPROC than root may
#    set without CAP_SYS_RESOURCE ("setrlimit ... Operation not permitted");
#  - crun refuses hybrid cgroups (v1 controllers plus a v2 mount); runc works;
#  - netavark, not CNI (whose plugins are not installed), with container
#    networks in private ranges that do not clash with the host's.
configure() {
  local conf=/etc/containers/containers.conf want
  want=$(cat <<'CONF'
# containers.conf for compose stacks of 3Min API (deploy/compose/engine-setup.sh).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
default_subnet = "10.200.0.0/24"
default_subnet_pools = [{"base" = "10.201.0.0/16", "size" = 24}]
CONF
)
  mkdir -p /etc/containers
  if [ -f "$conf" ] && [ "$(cat "$conf")" = "$want" ]; then return 0; fi
  if [ -f "$conf" ] && ! grep -q engine-setup.sh "$conf"; then
    cp "$conf" "$conf.before-3min"
    say "kept the previous $conf as $conf.before-3min"
  fi
  printf '%s\n' "$want" >"$conf"
}

# The base image: a minimal Debian 12 from debootstrap, with the host's apt
# sources (so apt inside image builds reaches the same mirror as the host).
base_image() {
  if podman image exists "$BASE_IMAGE"; then return 0; fi
  if [ -n "${BASE_CACHE:-}" ] && [ -s "$BASE_CACHE" ]; then
    say "loading $BASE_IMAGE from $BASE_CACHE"
    # podman 4.3 does not gunzip an archive itself.
    if gzip -dc "$BASE_CACHE" | podman load >/dev/null && podman image exists "$BASE_IMAGE"; then
      return 0
    fi
    say "$BASE_CACHE is unusable; making the base image again"
  fi
  local mirror root
  mirror=${DEBIAN_MIRROR:-}
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d /var/tmp/3min-base.XXXXXX)
  say "debootstrap bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    die "debootstrap failed"
  fi
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
    rm -f "$root/etc/apt/sources.list"
  elif [ -f /etc/apt/sources.list ]; then
    cp /etc/apt/sources.list "$root/etc/apt/sources.list"
  fi
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root" "$root.log"
  if [ -n "${BASE_CACHE:-}" ]; then
    mkdir -p "$(dirname "$BASE_CACHE")"
    podman save "$BASE_IMAGE" | gzip -1 >"$BASE_CACHE.tmp" && mv "$BASE_CACHE.tmp" "$BASE_CACHE"
    say "saved $BASE_IMAGE to $BASE_CACHE"
  fi
}

running() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

services() {
  mkdir -p "$STATE" "$(dirname "$SOCK")"
  if ! socket_ok; then
    setsid podman system service --time=0 "unix://$SOCK" >"$STATE/service.log" 2>&1 </dev/null &
    echo $! >"$STATE/service.pid"
    local i
    for i in $(seq 100); do socket_ok && break; sleep 0.2; done
    socket_ok || { tail -20 "$STATE/service.log" >&2; die "the podman API socket did not answer"; }
  fi
  # podman schedules healthchecks with systemd timers. Without systemd as PID 1
  # they never run, every container stays "starting" and `depends_on:
  # condition: service_healthy` waits forever; this loop runs them instead.
  if ! running pump; then
    setsid bash -c 'while :; do
        for c in $(podman ps -q --filter health=starting --filter health=healthy --filter health=unhealthy); do
          podman healthcheck run "$c" >/dev/null 2>&1 || true
        done
        sleep 2
      done' >/dev/null 2>&1 </dev/null &
    echo $! >"$STATE/pump.pid"
  fi
}

stop() {
  local n
  for n in pump service; do
    if running "$n"; then kill "$(cat "$STATE/$n.pid")" 2>/dev/null || true; fi
    rm -f "$STATE/$n.pid"
  done
}

case ${1:-up} in
  up)
    timed packages
    configure
    timed base_image
    services
    say "ready"
    echo "export DOCKER_HOST=unix://$SOCK"
    ;;
  check) socket_ok ;;
  down) stop ;;
  *) echo "usage: $0 [up|check|down]" >&2; exit 2 ;;
esac

# 3Min API — top-level commands. `make run` runs the platform, `make test` runs
# the whole suite (the one CI runs). Both install missing Debian packages first.
SHELL := /bin/bash
JOBS  ?= $(shell nproc)

DEB_PACKAGES := build-essential cmake pkg-config libevent-dev libnng-dev libmsgpack-dev \
  libpq-dev libjwt-dev libjansson-dev libsodium-dev libssl-dev libcmocka-dev zlib1g-dev \
  postgresql wrk procps util-linux chromium jq curl openssl gzip iproute2

.PHONY: all build asan deps run test test-unit test-asan test-compose bench format clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBIN_DIR=$(CURDIR)/bin >/dev/null
	@cmake --build build -j $(JOBS)

# Same binaries with AddressSanitizer + UndefinedBehaviorSanitizer, in bin/asan/.
asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON -DBIN_DIR=$(CURDIR)/bin/asan >/dev/null
	@cmake --build build-asan -j $(JOBS)

tests/node_modules: tests/package.json tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund
	@touch $@

run: deps build
	@deploy/run.sh

# The whole suite: unit tests (cmocka) and system tests (real PostgreSQL,
# edge, workers and the official MCP SDK client), all through ctest.
# `make test SANITIZE=1` runs the same suite against the ASan/UBSan build.
ifeq ($(SANITIZE),1)
test: deps asan tests/node_modules
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure
else
test: deps build tests/node_modules
	cd build && ctest --output-on-failure
endif

test-unit: build
	cd build && ctest --output-on-failure -R '^unit\.'

test-asan:
	$(MAKE) test SANITIZE=1

# The compose stack in real containers (tests/compose/run.sh): images,
# up --scale worker=3, MCP end to end, scaling under load, down -v. As root
# on Debian it sets up podman + docker-compose itself; status 77 from the
# script means no engine could be set up (its banner says why): not a failure.
test-compose: deps tests/node_modules
	@tests/compose/run.sh; rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

bench: deps build tests/node_modules
	@cmake --build build -j $(JOBS) --target bench_http_ceiling bench_pg_ceiling
	@bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan bin

# AlphaDome. Each target installs what it needs first (scripts/setup.sh: idempotent, seconds when warm).
#   make test   every test of the project (.ci/run calls exactly this)
#   make test-ha  the Patroni failover/switchover test alone (make test runs it too)
#   make run    a local cluster in .run/ with the extension and the Kassangas seed
#   make stop   stops that cluster and its relay
#   make bench  throughput and latency, as ratios to pgbench baselines of the same run
#   make soak   ten minutes of mixed traffic: memory, connections, queue, table sizes each minute
#   make count  instructions of one ingest and of a message's whole life beside a plain insert (callgrind)
#   make packages       Debian packages of the extension, the relay and the console (target/packages/)
#   make test-packages  those packages installed and run in a clean Debian root (make test runs it)
#   make test-images    the container images built on a local base and started (make test runs it)
#   make test-pg17      the extension's tests on PostgreSQL 17, in a Debian trixie root (make test runs it)
SHELL := /bin/bash

# The one place that names the PostgreSQL major: every script, the test harness and the image
# builds read these (PG_MAJOR=17 make test builds and tests against PostgreSQL 17).
export PG_MAJOR ?= 15
export PG_CONFIG ?= /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config

.PHONY: setup test test-ha run stop bench soak count packages test-packages test-images test-pg17
setup:
	@scripts/setup.sh

test: setup
	@scripts/test.sh

# relay/tests/ha.rs: deploy/patroni/up.sh's cluster, the extension installed first.
test-ha: setup
	@scripts/install-extension.sh >/dev/null
	@cargo test -p alphadome-relay --test ha

run: setup
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

bench: setup
	@scripts/bench.sh

soak: setup
	@scripts/soak.sh

count: setup
	@scripts/count-instructions.sh

packages: setup
	@scripts/packages.sh

test-packages: packages
	@scripts/test-packages.sh

test-images: packages
	@scripts/test-images.sh

test-pg17: setup
	@scripts/test-pg17.sh

# rung: build, demo, tests, benchmark. Every target installs what it needs
# on a Debian machine as root (see deps).
GO       ?= go
BIN      := rung
DEMO     := /tmp/rung-demo

.PHONY: all build deps demo test bench conformance clean

all: build

build:
	$(GO) build -o $(BIN) .

# Debian packages the build and the tests need: busybox-static for the
# test and demo rootfs, libseccomp-dev for seccomp (cgo), runc and crun as
# the references the benchmark compares against.
deps:
	@if ! command -v busybox >/dev/null || ! command -v runc >/dev/null || ! command -v crun >/dev/null || ! dpkg -s libseccomp-dev >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static libseccomp-dev runc crun >/dev/null; \
	fi
	$(GO) mod download

# A container on the embedded busybox bundle that shows its own isolation.
demo: deps build
	sh demo/demo.sh ./$(BIN) $(DEMO)

test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# The runtime-tools validation suite, rung and crun side by side (~4 min).
conformance: deps build
	bash tests/conformance/run.sh

bench: deps build
	$(GO) run ./tests/bench -rung ./$(BIN)

clean:
	rm -f $(BIN)

# rung: build, demo, tests, benchmark. Every target installs what it needs
# on a Debian machine as root (see deps).
GO       ?= go
BIN      := rung
DEMO     := /tmp/rung-demo
# urfave_cli_no_docs leaves out urfave/cli's man and markdown generators
# (and their dependencies), which rung never calls. rung is linked
# statically, libseccomp and libc included, as runc's releases are: every
# rung process (the runtime and each init) then starts without ld.so
# loading and relocating two libraries, about 0.3 ms each here. netgo and
# osusergo keep glibc's NSS (which a static binary cannot load) out: users
# and groups come from /etc/passwd and /etc/group, as in runc's static
# builds. The tests build rung the same way (tests/fixture/build.go).
TAGS     := urfave_cli_no_docs netgo osusergo
LDFLAGS  := -extldflags=-static

.PHONY: all build deps demo-deps demo test fuzz vm bench conformance clean

all: build

build:
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) .

# Debian packages. Building rung needs cgo (gcc, libc6-dev) and
# libseccomp through pkg-config; the demo adds busybox-static for its
# rootfs. The tests add runc and crun as the references the benchmark
# compares against; podman, containerd, docker.io and the CNI plugins for
# the engine tests, and crictl (from the Go module proxy) to drive
# containerd's CRI as Kubernetes does; dbus-daemon for rung check's test
# of a bus without systemd; uidmap (newuidmap/newgidmap) for the rootless
# tests. mmdebstrap, QEMU and e2fsprogs build and boot the Debian 12
# guest of the VM test (tests/vm).
BUILD_PKGS := gcc libc6-dev pkg-config libseccomp-dev
DEMO_PKGS  := $(BUILD_PKGS) busybox-static
PKGS   := $(DEMO_PKGS) runc crun podman conmon catatonit containerd docker.io containernetworking-plugins dbus-daemon uidmap \
	mmdebstrap qemu-system-x86 qemu-utils e2fsprogs
CRICTL := sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0

# apt-install installs the packages named in $(1) unless all are there.
define apt-install
	@if ! dpkg -s $(1) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	fi
endef

deps:
	$(call apt-install,$(PKGS))
	@command -v crictl >/dev/null || GOBIN=/usr/local/bin $(GO) install $(CRICTL)
	$(GO) mod download

# Only what the demo needs: the build and busybox.
demo-deps:
	$(call apt-install,$(DEMO_PKGS))
	$(GO) mod download

# A container at each rung on the tests' busybox rootfs (tests/fixture),
# showing its own isolation.
demo: demo-deps build
	GO=$(GO) sh demo/demo.sh ./$(BIN) $(DEMO)

# The VM test runs after the native suites, alone: it needs both cores.
test: deps build
	$(GO) vet ./...
	$(GO) vet -tags vm ./tests/vm
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz
	$(MAKE) vm

# Every Go fuzz target for FUZZTIME each (default 30s); fails on a crasher.
# `go test` above already runs each target's seed corpus and regression
# cases (testdata/fuzz).
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash tests/fuzz/run.sh

# The integration and engines suites inside a Debian 12 guest (systemd,
# cgroup v2) under QEMU; the image is cached in $$RUNG_VM_CACHE (default
# tests/.cache/vm). RUNG_VM_SUITES=integration,engines picks suites,
# RUNG_VM_RUN=regexp narrows them.
vm: deps
	$(GO) test -tags vm -count=1 -v -timeout 75m ./tests/vm

# The runtime-tools validation suite, rung and crun side by side (~4 min).
conformance: deps build
	bash tests/conformance/run.sh

bench: deps build
	$(GO) run ./tests/bench -rung ./$(BIN)

clean:
	rm -f $(BIN)

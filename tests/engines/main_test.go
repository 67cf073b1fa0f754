// Package engines drives rung through the engines people use: podman,
// containerd (ctr, and Kubernetes' CRI through crictl) and Docker, each
// started privately by the test. Every scenario runs with runc as the
// runtime too, and the report puts both side by side: a scenario that
// fails with rung fails the test; one where runc differs is reported.
package engines

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/tests/fixture"
)

// runtimeBin is one OCI runtime the engines are pointed at.
type runtimeBin struct {
	Name string // rung or runc
	Path string
}

var (
	work     string       // the run's private directory
	runtimes []runtimeBin // rung first, then the reference
	rootfs   string       // the busybox rootfs the images are built from
	// Image tarballs in docker-archive format, which podman load, docker
	// load and ctr import all take. No registry is reachable here.
	imageTar string // localhost/rung-busybox:latest, CMD sh
	pauseTar string // localhost/rung-pause:latest, a CRI sandbox's pause
)

const (
	imageName = "localhost/rung-busybox:latest"
	pauseName = "localhost/rung-pause:latest"
)

// The binaries the engine tests need; .ci/run and `make deps` install them.
var needed = []string{"podman", "conmon", "containerd", "ctr", "containerd-shim-runc-v2", "dockerd", "/usr/bin/docker", "crictl", "runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "engines: the engine tests run as root")
		os.Exit(1)
	}
	code := func() int {
		for _, b := range needed {
			if _, err := exec.LookPath(b); err != nil {
				fmt.Fprintf(os.Stderr, "engines: %s missing (make deps installs the engines): %v\n", b, err)
				return 1
			}
		}
		var err error
		if work, err = os.MkdirTemp("", "rung-engines-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Chmod(work, 0o755)
		defer os.RemoveAll(work)
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "engines: setup:", err)
			return 1
		}
		code := m.Run()
		stopDaemons()
		report.write()
		return code
	}()
	os.Exit(code)
}

func setup() error {
	detectHost()
	fmt.Println("engines: host:", hostShape())
	// RUNG_TEST_BINARY: a rung built beforehand (the VM's payload has
	// no Go toolchain).
	rung := os.Getenv("RUNG_TEST_BINARY")
	if rung == "" {
		rung = filepath.Join(work, "rung")
		if out, err := exec.Command("go", append(append([]string{"build"}, fixture.RungBuildFlags...), "-o", rung, "../..")...).CombinedOutput(); err != nil {
			return fmt.Errorf("build rung: %v\n%s", err, out)
		}
	}
	runc, _ := exec.LookPath("runc")
	runtimes = []runtimeBin{{"rung", rung}, {"runc", runc}}
	rootfs = filepath.Join(work, "rootfs")
	if err := fixture.Rootfs(rootfs, nil); err != nil {
		return err
	}
	imageTar = filepath.Join(work, "busybox.tar")
	if err := writeImage(imageTar, imageName, rootfs, nil, []string{"sh"}); err != nil {
		return err
	}
	pauseTar = filepath.Join(work, "pause.tar")
	// A sandbox's pause process: sleeps until told to stop.
	pause := []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}
	return writeImage(pauseTar, pauseName, rootfs, pause, nil)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// hardLimits are this process' hard RLIMIT_NOFILE and RLIMIT_NPROC: the
// most a container may ask for on a machine whose root lacks
// CAP_SYS_RESOURCE (as this one does).
func hardLimits() (nofile, nproc uint64) {
	var l unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &l)
	nofile = l.Max
	unix.Getrlimit(unix.RLIMIT_NPROC, &l)
	nproc = min(l.Max, 32768)
	return nofile, nproc
}

package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// podman runs podman with a private store and the runtime of c: cgroupfs
// (no systemd here), file events, no network unless a test asks.
type podmanT struct {
	root, runroot, conf string
}

var (
	podmanOnce sync.Once
	podmanEnv  *podmanT
	podmanErr  error
)

func podmanSetup() (*podmanT, error) {
	podmanOnce.Do(func() {
		p := &podmanT{root: filepath.Join(work, "podman/root"), runroot: filepath.Join(work, "podman/run"), conf: filepath.Join(work, "podman/containers.conf")}
		os.MkdirAll(filepath.Dir(p.conf), 0o755)
		// No systemd, no journald: cgroupfs and files. podman asks for
		// 1048576 open files and processes, above this machine's hard
		// limits, and root here lacks CAP_SYS_RESOURCE: runc and rung
		// both refuse that, so the defaults are the machine's own.
		nofile, nproc := hardLimits()
		conf := fmt.Sprintf("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n[containers]\nlog_driver = \"k8s-file\"\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n", nofile, nofile, nproc, nproc)
		if podmanErr = os.WriteFile(p.conf, []byte(conf), 0o644); podmanErr != nil {
			return
		}
		r := p.cmd(nil, 120*time.Second, "", "load", "-i", imageTar)
		if r.Code != 0 {
			podmanErr = errorf("podman load: %s", r)
			return
		}
		podmanEnv = p
	})
	return podmanEnv, podmanErr
}

func (p *podmanT) cmd(c *C, timeout time.Duration, stdin string, args ...string) result {
	argv := []string{"podman", "--root", p.root, "--runroot", p.runroot, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(p.runroot, "tmp")}
	if c != nil {
		argv = append(argv, "--runtime", c.RT.Path)
	}
	return command(timeout, stdin, []string{"CONTAINERS_CONF=" + p.conf}, append(argv, args...)...)
}

// podman runs a podman command with c's runtime and a 60 s timeout.
func (c *C) podman(args ...string) result {
	p, err := podmanSetup()
	if err != nil {
		c.Fatalf("podman setup: %v", err)
	}
	return p.cmd(c, 60*time.Second, "", args...)
}

func (c *C) podmanMust(args ...string) string {
	r := c.podman(args...)
	if r.Code != 0 {
		c.Fatalf("podman %s: %s", strings.Join(args, " "), r)
	}
	return r.Out
}

func TestPodman(t *testing.T) {
	scenario(t, "podman", "run --rm with output", func(c *C) {
		out := c.podmanMust("run", "--rm", "--network", "none", imageName, "sh", "-c", "echo hello from $(hostname -s 2>/dev/null || hostname)")
		if !strings.HasPrefix(out, "hello from ") {
			c.Fatalf("output %q", out)
		}
	})
}

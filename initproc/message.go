package initproc

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// The fds init is started with, after stdio.
const (
	SyncFd = 3 // socket to the runtime
	FifoFd = 4 // O_PATH handle of <state>/exec.fifo
	// LogFd is the log pipe (Config.Log, ExecConfig.Log): debug lines for
	// the runtime's log, one LogLine each, until init waits for start.
	LogFd = 5
)

// Config is everything init needs; it is the only input init trusts.
type Config struct {
	ID      string      `json:"id"`
	Spec    *specs.Spec `json:"spec"`
	Bundle  string      `json:"bundle"`
	Rootfs  string      `json:"rootfs"` // absolute, cleaned
	NoPivot bool        `json:"noPivot,omitempty"`
	// NoNewKeyring keeps the caller's session keyring instead of joining
	// a fresh one named after the container.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// ConsoleFd is the connected console socket when process.terminal.
	ConsoleFd int `json:"consoleFd,omitempty"`
	// PreserveFds are init's fds that the container process gets as 3, 4, ...
	PreserveFds []int `json:"preserveFds,omitempty"`
	// HookState is the container state hooks get on stdin, status and all
	// but what init fills in; nil when the config has no hooks.
	HookState *specs.State `json:"hookState,omitempty"`
	// Namespaces init was cloned into, as OCI type names; init decides
	// from these whether to build a rootfs, set a hostname, and so on.
	Namespaces []string `json:"namespaces"`
	// Joined are the namespaces entered by path; the container owns them
	// as much as the new ones (a pod's), but init must not create them.
	Joined []string `json:"joined,omitempty"`
	// HostRootMount is, for a container in the runtime's mount namespace,
	// the mount id of the copy of the rootfs the runtime stacked on it:
	// init mounts only inside it, and checks it is there.
	HostRootMount uint64 `json:"hostRootMount,omitempty"`
	// SELinux: the runtime found SELinux enabled on the host, and init
	// applies process.selinuxLabel and linux.mountLabel (it cannot tell
	// from inside; without SELinux the runtime refused the labels).
	SELinux bool `json:"selinux,omitempty"`
	// Log: LogFd is the log pipe (the runtime logs at debug level).
	Log bool `json:"log,omitempty"`
	// AwaitCgroup: the config comes while the runtime moves init into its
	// cgroup (on cgroup v1 the attach may wait an RCU grace period), so
	// that init decodes it meanwhile; init does nothing else until
	// CgroupJoined says it is in the cgroup.
	AwaitCgroup bool `json:"awaitCgroup,omitempty"`
	// Park: init may wait long for start (a create, not a run), and drops
	// the mappings it no longer needs as it waits (droppableMappings).
	Park bool `json:"park,omitempty"`
	// BindSources: init asks (BindSourcesRequest) for its bind mounts'
	// sources, which the runtime opens in init's mount namespace and sends
	// in one message, in the order of BindSourcePaths.
	BindSources bool `json:"bindSources,omitempty"`
	// SeccompBPF is linux.seccomp compiled by the runtime (PrepareSeccomp).
	SeccompBPF *SeccompBPF `json:"seccompBPF,omitempty"`
	// bindFds: mount index → fd received for its source.
	bindFds map[int]int
}

// check refuses a Config init cannot act on, before init does anything:
// it makes sure that what setup reads without looking is there. The
// runtime sends only such Configs; FuzzMessages holds init to it.
func (cfg *Config) check() error {
	s := cfg.Spec
	if s == nil || s.Process == nil {
		return errors.New("config carries no process")
	}
	if s.Linux == nil {
		return errors.New("config carries no linux section")
	}
	if _, err := parseKinds(cfg.Namespaces); err != nil {
		return err
	}
	if _, err := parseKinds(cfg.Joined); err != nil {
		return err
	}
	if s.Hooks != nil && cfg.HookState == nil {
		// Every hook gets the container's state on stdin.
		return errors.New("config carries hooks but no hook state")
	}
	return nil
}

// ExecConfig is what `rung exec` sends the process it started in the
// container's namespaces.
type ExecConfig struct {
	Process   *specs.Process      `json:"process"`
	ConsoleFd int                 `json:"consoleFd,omitempty"` // with process.terminal
	Seccomp   *specs.LinuxSeccomp `json:"seccomp,omitempty"`
	// SeccompBPF is Seccomp compiled by the runtime (PrepareSeccomp).
	SeccompBPF *SeccompBPF `json:"seccompBPF,omitempty"`
	// PreserveFds: this process' fds to hand on as 3, 4, ... (--preserve-fds)
	PreserveFds []int `json:"preserveFds,omitempty"`
	// RootFd: init's root directory, to chroot into, for a container that
	// shares the runtime's mount namespace (joining namespaces does not
	// change the root then).
	RootFd int `json:"rootFd,omitempty"`
	// SELinux: apply process.selinuxLabel (see Config.SELinux).
	SELinux bool `json:"selinux,omitempty"`
	// Log: LogFd is the log pipe (the runtime logs at debug level).
	Log bool `json:"log,omitempty"`
	// Joined: the identity of each namespace the process joined, by
	// /proc name. The process checks itself on a private procfs: a
	// rootless runtime may not read /proc/<pid>/ns of the non-dumpable
	// process (CVE-2016-9962 keeps it so).
	Joined map[string]libns.Identity `json:"joined,omitempty"`
}

package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/libns"
)

// writeProc writes a file under the private procfs instance. The handle
// is a procfs init mounted itself, detached from every path, and the
// lookup refuses symlinks and mount crossings: no mount the container's
// rootfs stacks on /proc can redirect the write (CVE-2025-52881).
func writeProc(procfs *os.File, name, value string) error {
	if procfs == nil {
		return errors.New("no private procfs available")
	}
	fd, err := unix.Openat2(int(procfs.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs", name)
	}
	_, err = unix.Write(fd, []byte(value))
	return err
}

// selfProc names a file of this process in the private procfs by pid:
// writeProc follows no symlink, not even "self".
func selfProc(name string) string { return fmt.Sprintf("%d/%s", os.Getpid(), name) }

// sysctlNamespace names the namespace a sysctl belongs to; sysctls of no
// namespace would change the host and are refused, as runc does.
func sysctlNamespace(key string) (libns.Kind, bool) {
	switch {
	case strings.HasPrefix(key, "net."):
		return libns.Net, true
	case strings.HasPrefix(key, "fs.mqueue."),
		key == "kernel.msgmax", key == "kernel.msgmnb", key == "kernel.msgmni", key == "kernel.sem",
		key == "kernel.shmall", key == "kernel.shmmax", key == "kernel.shmmni", key == "kernel.shm_rmid_forced":
		return libns.IPC, true
	case key == "kernel.hostname", key == "kernel.domainname":
		return libns.UTS, true
	}
	return 0, false
}

func setSysctls(procfs *os.File, sysctls map[string]string, ns libns.Set) error {
	for key, value := range sysctls {
		k, ok := sysctlNamespace(key)
		if !ok {
			return fmt.Errorf("linux.sysctl: %s is not namespaced: setting it would change the host", key)
		}
		if !ns.Has(k) {
			return fmt.Errorf("linux.sysctl: %s needs a new %s namespace", key, k)
		}
		path := "sys/" + strings.ReplaceAll(key, ".", "/")
		if err := writeProc(procfs, path, value); err != nil {
			return fmt.Errorf("linux.sysctl: %s=%s: %w", key, value, err)
		}
	}
	return nil
}

func setOOMScoreAdj(procfs *os.File, adj *int) error {
	if adj == nil {
		return nil
	}
	if err := writeProc(procfs, selfProc("oom_score_adj"), fmt.Sprint(*adj)); err != nil {
		return fmt.Errorf("process.oomScoreAdj %d: %w", *adj, err)
	}
	return nil
}

// setAppArmor asks for the profile on exec; without AppArmor the request
// cannot be honoured, so it is an error, as with runc and crun.
func setAppArmor(procfs *os.File, profile string) error {
	if profile == "" {
		return nil
	}
	if data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err != nil || !strings.HasPrefix(string(data), "Y") {
		return fmt.Errorf("process.apparmorProfile %q: apparmor is not enabled on this system", profile)
	}
	if err := writeProc(procfs, selfProc("attr/apparmor/exec"), "exec "+profile); err != nil {
		if err2 := writeProc(procfs, selfProc("attr/exec"), "exec "+profile); err2 != nil {
			return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
		}
	}
	return nil
}

// setSELinuxLabel asks for process.selinuxLabel on the next exec (the
// container process's, or a startContainer hook's, which runs in the
// container too) and on the keys this process creates (the session
// keyring), as runc does. on is the runtime's finding, made on the host
// before init existed: /sys/fs/selinux here may be the container's. The
// writes go through the private procfs (CVE-2025-52881), to the files
// go-selinux's SetExecLabel and SetKeyLabel write.
func setSELinuxLabel(procfs *os.File, label string, on bool) error {
	if label == "" {
		return nil
	}
	if !on {
		return fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on the host: the label cannot be applied", label)
	}
	if err := writeProc(procfs, selfProc("attr/keycreate"), label); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("process.selinuxLabel %q: key label: %w", label, err)
	}
	if err := writeProc(procfs, selfProc("attr/exec"), label); err != nil {
		return fmt.Errorf("process.selinuxLabel %q: %w", label, err)
	}
	return nil
}

func setPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	var persona int
	switch p.Domain {
	case specs.PerLinux:
		persona = 0x0000
	case specs.PerLinux32:
		persona = 0x0008
	default:
		return fmt.Errorf("linux.personality.domain: unknown domain %q", p.Domain)
	}
	if len(p.Flags) > 0 {
		return fmt.Errorf("linux.personality.flags: not supported")
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(persona), 0, 0); e != 0 {
		return fmt.Errorf("linux.personality: %w", e)
	}
	return nil
}

// loopbackUp sets lo up in a network namespace the container created: a
// new namespace starts with it down, and engines (podman's and
// Kubernetes' pods) rely on 127.0.0.1 working, as runc and crun bring it up.
func loopbackUp() error {
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(sock)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: read flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(sock, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: set lo up: %w", err)
	}
	return nil
}

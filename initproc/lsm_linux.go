package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

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

package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
)

// selinuxLabels decides, from the host and before init exists, whether
// the SELinux labels of a config can be applied. Inside the container
// /sys/fs/selinux is the container's, so init cannot tell; asked there
// the answer was always "disabled" and the labels were silently dropped.
// A label that cannot be applied is refused: the container would run
// unconfined. It reports whether init must apply labels.
func selinuxLabels(p *specs.Process, mountLabel string) (bool, error) {
	field, label := "", ""
	switch {
	case p != nil && p.SelinuxLabel != "":
		field, label = "process.selinuxLabel", p.SelinuxLabel
	case mountLabel != "":
		field, label = "linux.mountLabel", mountLabel
	default:
		return false, nil
	}
	if !selinux.GetEnabled() {
		// runc's words, with the field named.
		return false, fmt.Errorf("%s %q: selinux label is specified in config, but selinux is disabled or not supported", field, label)
	}
	return true, nil
}

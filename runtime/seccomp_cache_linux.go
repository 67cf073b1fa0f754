package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/rungrt/rung/initproc"
	"github.com/rungrt/rung/internal/phase"
)

// prepareSeccomp compiles sc for init or exec's process, through the
// compiled-filter cache under root (initproc.PrepareSeccomp), into *dst.
// A profile that does not compile fails as it did when init compiled it:
// same message, same point (before init touches the rootfs).
func prepareSeccomp(dst **initproc.SeccompBPF, root string, sc *specs.LinuxSeccomp) error {
	if sc == nil {
		return nil
	}
	bpf, note, err := initproc.PrepareSeccomp(root, sc)
	if err != nil {
		return fmt.Errorf("unable to start container process: %w", err)
	}
	logrus.Debug(note)
	phase.Mark("seccomp-prepared")
	*dst = bpf
	return nil
}

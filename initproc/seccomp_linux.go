package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

var seccompActions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
}

var seccompOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// seccompProgram is a compiled filter: plain BPF and the seccomp(2) flags.
// Loading it allocates nothing, so it can go in after the rlimits, which
// may leave the Go runtime and libc no room to allocate (RLIMIT_AS).
type seccompProgram struct {
	filter []unix.SockFilter
	flags  uintptr
}

// Load installs the filter on this thread and, with TSYNC, every other.
func (p *seccompProgram) Load() error {
	prog := unix.SockFprog{Len: uint16(len(p.filter)), Filter: &p.filter[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.flags, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return e
	}
	return nil
}

// buildSeccomp compiles linux.seccomp at create time, so a profile
// libseccomp rejects fails the create. Every part of the profile is
// honoured or refused.
func buildSeccomp(sc *specs.LinuxSeccomp) (*seccompProgram, error) {
	f, flags, err := buildSeccompFilter(sc)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Release()
	bpf, err := exportBPF(f)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: compile: %w", err)
	}
	if len(bpf) == 0 || len(bpf)%8 != 0 {
		return nil, errors.New("linux.seccomp: compile: malformed program")
	}
	prog, err := enosysStub(sc)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	for i := 0; i < len(bpf)/8; i++ {
		b := bpf[i*8:]
		prog = append(prog, unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:]),
		})
	}
	// The ENOSYS stub counts towards the kernel's limit too.
	if n := len(prog); n > bpfMaxInsns {
		return nil, fmt.Errorf("linux.seccomp: the compiled filter has %d instructions, more than the kernel's limit of %d", n, bpfMaxInsns)
	}
	return &seccompProgram{filter: prog, flags: flags}, nil
}

// exportBPF gets the compiled program through a memfd: ExportBPFMem needs
// libseccomp 2.6, Debian 12 has 2.5.
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("rung-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	mem := os.NewFile(uintptr(fd), "rung-seccomp")
	defer mem.Close()
	if err := f.ExportBPF(mem); err != nil {
		return nil, err
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(mem)
}

func buildSeccompFilter(sc *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, uintptr, error) {
	if sc == nil {
		return nil, 0, nil
	}
	if sc.ListenerPath != "" {
		return nil, 0, errors.New("linux.seccomp.listenerPath: seccomp notify is not supported yet")
	}
	def, err := seccompAction(sc.DefaultAction, sc.DefaultErrnoRet)
	if err != nil {
		return nil, 0, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, 0, fmt.Errorf("linux.seccomp: %w", err)
	}
	fail := func(err error) (*libseccomp.ScmpFilter, uintptr, error) {
		f.Release()
		return nil, 0, err
	}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_TSYNC)
	// no_new_privs is process.noNewPrivileges' to decide, not libseccomp's.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return fail(fmt.Errorf("linux.seccomp: %w", err))
	}
	for _, a := range sc.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(a))
		if err != nil {
			return fail(fmt.Errorf("linux.seccomp.architectures: %s: %w", a, err))
		}
		if err := f.AddArch(arch); err != nil {
			return fail(fmt.Errorf("linux.seccomp.architectures: %s: %w", a, err))
		}
	}
	for _, flag := range sc.Flags {
		var err error
		switch flag {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// Only changes how a notify listener waits; notify is refused.
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Always set.
		default:
			err = fmt.Errorf("unknown flag")
		}
		if err != nil {
			return fail(fmt.Errorf("linux.seccomp.flags: %s: %w", flag, err))
		}
	}
	for i, rule := range sc.Syscalls {
		if err := addSeccompRule(f, rule, def); err != nil {
			return fail(fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err))
		}
	}
	return f, flags, nil
}

// archName is libseccomp's name for an OCI arch (SCMP_ARCH_X86_64 → x86_64).
func archName(a specs.Arch) string {
	return strings.TrimPrefix(strings.ToLower(string(a)), "scmp_arch_")
}

func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("action %q is not supported", a)
	}
	switch act {
	case libseccomp.ActErrno, libseccomp.ActTrace:
		ret := uint(unix.EPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		// The filter's return data is 16 bits: a larger value would be
		// cut to another one silently (65537 to 1, EPERM), and the kernel
		// caps an errno at MAX_ERRNO.
		limit := uint(0xffff)
		if act == libseccomp.ActErrno {
			limit = maxErrno
		}
		if ret > limit {
			return 0, fmt.Errorf("errnoRet %d: out of range for %s (0 to %d)", ret, a, limit)
		}
		act = act.SetReturnCode(int16(uint16(ret)))
	}
	return act, nil
}

// maxErrno is the kernel's MAX_ERRNO: the largest errno a syscall, and so
// a seccomp filter, can return.
const maxErrno = 4095

// bpfMaxInsns is the kernel's BPF_MAXINSNS, the longest classic BPF
// program seccomp(2) takes. The length goes to the kernel as 16 bits: a
// longer program must be refused here, or it would be cut short.
const bpfMaxInsns = 4096

func addSeccompRule(f *libseccomp.ScmpFilter, rule specs.LinuxSyscall, def libseccomp.ScmpAction) error {
	act, err := seccompAction(rule.Action, rule.ErrnoRet)
	if err != nil {
		return err
	}
	if act == def {
		return nil // libseccomp refuses a rule that repeats the default
	}
	var conds []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	repeated := false
	for _, a := range rule.Args {
		op, ok := seccompOps[a.Op]
		if !ok {
			return fmt.Errorf("unknown operator %q", a.Op)
		}
		vals := []uint64{a.Value}
		if op == libseccomp.CompareMaskedEqual {
			vals = append(vals, a.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, vals...)
		if err != nil {
			return err
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	for _, name := range rule.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			// Profiles list syscalls newer than this libseccomp knows; like
			// runc, such names are skipped.
			continue
		}
		switch {
		case len(conds) == 0:
			err = f.AddRule(call, act)
		case repeated:
			// libseccomp refuses two conditions on one argument in a rule;
			// one rule per condition gives the runtime-spec meaning.
			for _, c := range conds {
				if err = f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = f.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("syscall %s: %w", name, err)
		}
	}
	return nil
}

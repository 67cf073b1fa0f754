package initproc

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The ENOSYS stub, as runc puts before its filters: a syscall newer than
// every syscall the profile names gets -ENOSYS, not the default action.
// A libc that tries a new syscall first (clone3, faccessat2, openat2)
// falls back to the old one on ENOSYS, and breaks on EPERM, under a
// profile written before the syscall existed. Profiles that default to
// allowing (allow, log), or to ENOSYS already, get no stub.

// x32 syscalls run under the x86_64 audit arch with this bit set.
const x32SyscallBit = 0x40000000

var auditArches = map[libseccomp.ScmpArch]uint32{
	libseccomp.ArchAMD64: unix.AUDIT_ARCH_X86_64,
	libseccomp.ArchX86:   unix.AUDIT_ARCH_I386,
	libseccomp.ArchARM64: unix.AUDIT_ARCH_AARCH64,
	libseccomp.ArchARM:   unix.AUDIT_ARCH_ARM,
}

// enosysStub returns the cBPF to run before the filter libseccomp built
// for sc, or nil. Jumps to len(stub) land on the filter's first
// instruction.
func enosysStub(sc *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	switch sc.DefaultAction {
	case specs.ActAllow, specs.ActLog:
		return nil, nil
	}
	if sc.DefaultErrnoRet != nil && *sc.DefaultErrnoRet == uint(unix.ENOSYS) {
		return nil, nil
	}
	arches, max, err := highestSyscalls(sc)
	if err != nil {
		return nil, err
	}
	return assembleStub(arches, max)
}

// highestSyscalls is the profile's arches and, per arch, the highest
// number of a syscall it names (-1 for none).
func highestSyscalls(sc *specs.LinuxSeccomp) ([]libseccomp.ScmpArch, map[libseccomp.ScmpArch]int64, error) {
	// As runc: only the arches the profile lists get the stub (a profile
	// without any gets none).
	var arches []libseccomp.ScmpArch
	for _, a := range sc.Architectures {
		arch, err := archOf(a)
		if err != nil {
			return nil, nil, err
		}
		arches = append(arches, arch)
	}
	max := map[libseccomp.ScmpArch]int64{}
	for _, arch := range arches {
		max[arch] = -1
		for _, rule := range sc.Syscalls {
			for _, name := range rule.Names {
				nr, err := libseccomp.GetSyscallFromNameByArch(name, arch)
				if err != nil || int64(nr) < 0 { // unknown here, or not on this arch
					continue
				}
				if arch == libseccomp.ArchX32 {
					nr |= x32SyscallBit
				}
				if int64(nr) > max[arch] {
					max[arch] = int64(nr)
				}
			}
		}
	}
	return arches, max, nil
}

// stubAsm is a tiny BPF assembler: jumps name labels, resolved by link.
type stubAsm struct {
	prog   []stubInsn
	labels map[string]int
}

type stubInsn struct {
	f      unix.SockFilter
	jt, jf string
}

func (a *stubAsm) emit(code uint16, k uint32, jt, jf string) {
	a.prog = append(a.prog, stubInsn{unix.SockFilter{Code: code, K: k}, jt, jf})
}

func (a *stubAsm) label(name string) { a.labels[name] = len(a.prog) }

// link resolves the labels; the unconditional jump at jaIdx goes to main.
func (a *stubAsm) link(jaIdx int) ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(a.prog))
	for i, in := range a.prog {
		f := in.f
		for _, j := range []struct {
			label string
			dst   *uint8
		}{{in.jt, &f.Jt}, {in.jf, &f.Jf}} {
			if j.label == "" {
				continue
			}
			off := a.labels[j.label] - i - 1
			if off < 0 || off > 255 {
				return nil, fmt.Errorf("seccomp ENOSYS stub: jump to %s out of range", j.label)
			}
			*j.dst = uint8(off)
		}
		if i == jaIdx {
			f.K = uint32(a.labels["main"] - i - 1)
		}
		out[i] = f
	}
	return out, nil
}

// assembleStub writes the stub: per arch, a syscall above the profile's
// highest gets ENOSYS; everything else goes on to the filter ("main").
func assembleStub(arches []libseccomp.ScmpArch, max map[libseccomp.ScmpArch]int64) ([]unix.SockFilter, error) {
	x32, hasX32 := max[libseccomp.ArchX32]
	hasX32 = hasX32 && x32 >= 0
	a := &stubAsm{labels: map[string]int{}}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		offNr = 0 // struct seccomp_data: nr, arch, ...
		offAr = 4
	)
	a.emit(ldAbs, offAr, "", "")
	n := 0
	for _, arch := range arches {
		audit, ok := auditArches[arch]
		if !ok || max[arch] < 0 {
			continue // x32 is handled with x86_64; other arches go straight to the filter
		}
		next := fmt.Sprintf("arch%d", n+1)
		a.label(fmt.Sprintf("arch%d", n))
		n++
		a.emit(jeq, audit, "", next)
		a.emit(ldAbs, offNr, "", "")
		if arch == libseccomp.ArchAMD64 {
			if hasX32 {
				a.emit(jset, x32SyscallBit, "x32", "")
			} else {
				a.emit(jset, x32SyscallBit, "main", "")
			}
		}
		a.emit(jgt, uint32(max[arch]), "enosys", "main")
	}
	if n == 0 {
		return nil, nil
	}
	a.label(fmt.Sprintf("arch%d", n))
	// No arch matched: on to the filter (ja's offset is set by link).
	a.emit(unix.BPF_JMP|unix.BPF_JA, 0, "", "")
	jaIdx := len(a.prog) - 1
	if hasX32 {
		a.label("x32")
		a.emit(jgt, uint32(x32), "enosys", "main")
	}
	a.label("enosys")
	a.emit(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS), "", "")
	a.label("main")
	return a.link(jaIdx)
}

func archOf(a specs.Arch) (libseccomp.ScmpArch, error) {
	arch, err := libseccomp.GetArchFromString(archName(a))
	if err != nil {
		return 0, fmt.Errorf("linux.seccomp.architectures: %s: %w", a, err)
	}
	return arch, nil
}

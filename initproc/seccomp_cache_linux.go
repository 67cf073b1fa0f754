package initproc

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/rungrt/rung/internal/seccompcache"
)

// The runtime, not init, compiles linux.seccomp (PrepareSeccomp): it
// knows the state root, so containers with the same profile share one
// compile through internal/seccompcache, and init, in the container's
// namespaces, only checks and loads the program it is sent.

// SeccompBPF is a compiled linux.seccomp, as the runtime sends it to init
// (Config, ExecConfig): the cBPF program, ENOSYS stub included, 8 bytes
// per instruction in the host's byte order, and the seccomp(2) flags.
type SeccompBPF struct {
	Program []byte `json:"program"`
	Flags   uint64 `json:"flags"`
}

// cacheFormat names what rung puts in an entry (stub + libseccomp's
// program, the flags): change it when that changes.
const cacheFormat = "rung seccomp cache 1"

// PrepareSeccomp compiles sc, or takes the program from the cache under
// root that an earlier compile of the same inputs left. It returns nil
// for no profile. Its errors are the compile's; the cache can only turn
// a compile into a copy of its result, and a cache it cannot trust or
// use is passed over (the note says why, for the debug log).
func PrepareSeccomp(root string, sc *specs.LinuxSeccomp) (bpf *SeccompBPF, note string, err error) {
	if sc == nil {
		return nil, "", nil
	}
	key, kerr := seccompCacheKey(sc)
	var dir *seccompcache.Dir
	if kerr == nil && root != "" {
		dir, kerr = seccompcache.Open(root)
	}
	if kerr != nil {
		note = fmt.Sprintf("seccomp: compiled, cache not used: %v", kerr)
	} else {
		defer dir.Close()
		prog, flags, lerr := dir.Load(key)
		if lerr == nil {
			return &SeccompBPF{Program: prog, Flags: flags}, fmt.Sprintf("seccomp: compiled filter taken from %s/%x", dir.Path(), key), nil
		}
		note = fmt.Sprintf("seccomp: compiled, no usable cache entry %s/%x: %v", dir.Path(), key, lerr)
	}
	p, err := buildSeccomp(sc)
	if err != nil {
		return nil, "", err
	}
	bpf = p.bpf()
	if dir != nil {
		if serr := dir.Store(key, bpf.Program, bpf.Flags); serr != nil {
			note += fmt.Sprintf("; not cached: %v", serr)
		}
	}
	return bpf, note, nil
}

// bpf is the wire (and cache) form of p.
func (p *seccompProgram) bpf() *SeccompBPF {
	out := make([]byte, 0, 8*len(p.filter))
	for _, f := range p.filter {
		out = binary.NativeEndian.AppendUint16(out, f.Code)
		out = append(out, f.Jt, f.Jf)
		out = binary.NativeEndian.AppendUint32(out, f.K)
	}
	return &SeccompBPF{Program: out, Flags: uint64(p.flags)}
}

// seccompFor is the filter init loads for sc: the program the runtime
// sent. A profile without a program is refused: the container would run
// unfiltered.
func seccompFor(sc *specs.LinuxSeccomp, b *SeccompBPF) (*seccompProgram, error) {
	switch {
	case sc == nil && b == nil:
		return nil, nil
	case sc == nil:
		return nil, errors.New("linux.seccomp: a compiled filter came without a profile")
	case b == nil:
		return nil, errors.New("linux.seccomp: the runtime sent no compiled filter")
	}
	n := len(b.Program) / 8
	if n == 0 || len(b.Program)%8 != 0 {
		return nil, errors.New("linux.seccomp: malformed compiled filter")
	}
	if n > bpfMaxInsns {
		return nil, fmt.Errorf("linux.seccomp: the compiled filter has %d instructions, more than the kernel's limit of %d", n, bpfMaxInsns)
	}
	p := &seccompProgram{filter: make([]unix.SockFilter, n), flags: uintptr(b.Flags)}
	for i := range p.filter {
		c := b.Program[i*8:]
		p.filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(c[0:]), Jt: c[2], Jf: c[3], K: binary.NativeEndian.Uint32(c[4:])}
	}
	p.notify = p.flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
	return p, nil
}

// seccompCacheKey hashes everything that decides the compiled program:
// the profile (its JSON encoding, which is canonical for the struct),
// libseccomp's version and API level, the native arch, and this rung
// binary (its Go build ID, which changes with any of its code). The
// kernel release goes in too: the API level libseccomp detects is the
// kernel's.
func seccompCacheKey(sc *specs.LinuxSeccomp) ([32]byte, error) {
	id, err := exeBuildID()
	if err != nil {
		return [32]byte{}, err
	}
	api, err := libseccomp.GetAPI()
	if err != nil {
		return [32]byte{}, fmt.Errorf("libseccomp API level: %w", err)
	}
	arch, err := libseccomp.GetNativeArch()
	if err != nil {
		return [32]byte{}, fmt.Errorf("libseccomp native arch: %w", err)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return [32]byte{}, err
	}
	maj, min, mic := libseccomp.GetLibraryVersion()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%x\x00libseccomp %d.%d.%d api %d\x00%s\x00%s\x00%s\x00",
		cacheFormat, id, maj, min, mic, api, arch, unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Version[:]))
	if err := json.NewEncoder(h).Encode(sc); err != nil {
		return [32]byte{}, err
	}
	var key [32]byte
	h.Sum(key[:0])
	return key, nil
}

var buildID = sync.OnceValues(func() ([]byte, error) {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read rung's build ID: %w", err)
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return nil, errors.New("rung has no Go build ID note")
	}
	data, err := s.Data()
	if err != nil || len(data) == 0 {
		return nil, fmt.Errorf("read rung's build ID: %v", err)
	}
	return data, nil
})

func exeBuildID() ([]byte, error) { return buildID() }

package initproc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
	id, err := readGoBuildID("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read rung's Go build ID: %w", err)
	}
	return id, nil
})

func exeBuildID() ([]byte, error) { return buildID() }

// readGoBuildID returns the Go build ID note (owner "Go", type 4, as the
// Go linker writes it) of the 64-bit ELF file at path, reading only the
// headers and notes; debug/elf would add some 300 KiB to every rung.
func readGoBuildID(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr := make([]byte, 64)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, err
	}
	if string(hdr[:4]) != "\x7fELF" || hdr[4] != 2 || hdr[5] != 1 {
		return nil, errors.New("not a little-endian 64-bit ELF file")
	}
	le := binary.LittleEndian
	phoff, phentsize, phnum := le.Uint64(hdr[32:]), uint64(le.Uint16(hdr[54:])), uint64(le.Uint16(hdr[56:]))
	if phentsize < 56 || phnum == 0 || phnum > 64 {
		return nil, errors.New("odd program headers")
	}
	phs := make([]byte, phentsize*phnum)
	if _, err := f.ReadAt(phs, int64(phoff)); err != nil {
		return nil, err
	}
	for i := uint64(0); i < phnum; i++ {
		ph := phs[i*phentsize:]
		if le.Uint32(ph[0:]) != 4 { // PT_NOTE
			continue
		}
		off, size := le.Uint64(ph[8:]), le.Uint64(ph[32:])
		if size > 1<<16 {
			continue
		}
		notes := make([]byte, size)
		if _, err := f.ReadAt(notes, int64(off)); err != nil {
			return nil, err
		}
		for len(notes) >= 12 {
			namesz, descsz, typ := uint64(le.Uint32(notes[0:])), uint64(le.Uint32(notes[4:])), le.Uint32(notes[8:])
			name, desc := 12+(namesz+3)&^3, 12+(namesz+3)&^3+(descsz+3)&^3
			if desc > uint64(len(notes)) {
				break
			}
			if namesz == 4 && string(notes[12:15]) == "Go\x00" && typ == 4 && descsz > 0 {
				return bytes.Clone(notes[name : name+descsz]), nil
			}
			notes = notes[desc:]
		}
	}
	return nil, errors.New("no Go build ID note")
}

// Package seccompcache keeps compiled seccomp filters under the state
// root, so that containers with the same profile do not each pay
// libseccomp's compile (33–43 ms for an engine's default profile of a few
// hundred rules, issue 14).
//
// An entry is only ever a copy of what the compiler produced for the same
// inputs: the caller names it by a hash of everything that decides the
// program (the profile, libseccomp's version and API level, the arch, the
// rung binary), and anything this package cannot vouch for is a miss, not
// an error, after which the caller compiles as it would without a cache.
// Whoever can write the directory can choose the filter of the caller's
// next container, so the directory and every entry must be the caller's
// own, not writable by group or others, and are opened without following
// symlinks; anything else is ignored and never written to.
//
// Entry layout (header fields little-endian, program as loaded):
//
//	magic[8] key[32] flags u64 count u32 reserved u32 program[8*count] sha256[32]
//
// where the trailing sha256 covers every byte before it.
package seccompcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// DirName is the cache's directory under the state root. '@' is not
// allowed in a container ID, so no container's state directory can take
// the name, and `list` can tell it apart.
const DirName = "@seccomp-cache"

const (
	magic      = "RUNGSCF1"
	headerSize = 8 + 32 + 8 + 4 + 4
	sumSize    = sha256.Size
	// MaxInsns is the kernel's BPF_MAXINSNS: no entry can hold more.
	MaxInsns = 4096
	maxSize  = headerSize + 8*MaxInsns + sumSize

	// The bounds on the directory: an engine uses a handful of profiles,
	// and one entry is at most 33 KiB.
	maxEntries = 64
	maxBytes   = 4 << 20
	tmpPrefix  = ".tmp-"
)

// ErrMiss is a key with no entry.
var ErrMiss = errors.New("no cached filter")

// Dir is an open cache directory, checked to be the caller's.
type Dir struct {
	fd   int
	path string
	euid uint32
}

// Open opens root's cache directory, making it (0700) if it is missing.
// It fails when the directory is not the caller's to trust.
func Open(root string) (*Dir, error) {
	path := root + "/" + DirName
	if err := unix.Mkdir(path, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("make %s: %w", path, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d := &Dir{fd: fd, path: path, euid: uint32(os.Geteuid())}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		d.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if err := d.trusted(&st, unix.S_IFDIR); err != nil {
		d.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Path is the directory's path, for messages.
func (d *Dir) Path() string { return d.path }

// Close releases the directory.
func (d *Dir) Close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// trusted: the caller's own, of the given type, and only the caller may
// write it.
func (d *Dir) trusted(st *unix.Stat_t, typ uint32) error {
	switch {
	case st.Mode&unix.S_IFMT != typ:
		return errors.New("not the expected file type")
	case st.Uid != d.euid:
		return fmt.Errorf("owned by uid %d, not %d", st.Uid, d.euid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("mode %#o is writable by group or others", st.Mode&0o7777)
	case typ == unix.S_IFREG && st.Nlink != 1:
		return fmt.Errorf("%d hard links", st.Nlink)
	}
	return nil
}

func entryName(key [32]byte) string { return fmt.Sprintf("%x", key) }

// Load returns the program and seccomp(2) flags stored for key: ErrMiss
// when there is none, another error when the entry is not to be trusted
// or is damaged. A hit refreshes the entry's mtime, the eviction order.
func (d *Dir) Load(key [32]byte) (prog []byte, flags uint64, err error) {
	fd, err := unix.Openat(d.fd, entryName(key), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, 0, ErrMiss
	}
	if err != nil {
		return nil, 0, err // ELOOP: a symlink where an entry should be
	}
	f := os.NewFile(uintptr(fd), entryName(key))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, err
	}
	if err := d.trusted(&st, unix.S_IFREG); err != nil {
		return nil, 0, err
	}
	if st.Size < headerSize+8+sumSize || st.Size > maxSize {
		return nil, 0, fmt.Errorf("size %d out of range", st.Size)
	}
	data := make([]byte, st.Size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, 0, err
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return nil, 0, errors.New("grew while read")
	}
	prog, flags, err = decode(key, data)
	if err != nil {
		return nil, 0, err
	}
	_ = unix.UtimesNanoAt(d.fd, entryName(key), []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}, unix.AT_SYMLINK_NOFOLLOW)
	return prog, flags, nil
}

func encode(key [32]byte, prog []byte, flags uint64) []byte {
	out := make([]byte, headerSize, headerSize+len(prog)+sumSize)
	copy(out, magic)
	copy(out[8:], key[:])
	binary.LittleEndian.PutUint64(out[40:], flags)
	binary.LittleEndian.PutUint32(out[48:], uint32(len(prog)/8))
	out = append(out, prog...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

func decode(key [32]byte, data []byte) ([]byte, uint64, error) {
	if len(data) < headerSize+sumSize {
		return nil, 0, errors.New("truncated")
	}
	body, sum := data[:len(data)-sumSize], data[len(data)-sumSize:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, 0, errors.New("checksum mismatch")
	}
	if string(body[:8]) != magic {
		return nil, 0, errors.New("not a rung seccomp cache entry")
	}
	if !bytes.Equal(body[8:40], key[:]) {
		return nil, 0, errors.New("entry is for another key")
	}
	n := binary.LittleEndian.Uint32(body[48:])
	if n == 0 || n > MaxInsns || uint64(len(body)-headerSize) != 8*uint64(n) {
		return nil, 0, fmt.Errorf("%d instructions in %d bytes", n, len(body)-headerSize)
	}
	prog := append([]byte(nil), body[headerSize:]...)
	return prog, binary.LittleEndian.Uint64(body[40:]), nil
}

// Store writes the entry for key atomically (a temporary file renamed
// over the name), then trims the directory to its bounds.
func (d *Dir) Store(key [32]byte, prog []byte, flags uint64) error {
	if len(prog) == 0 || len(prog)%8 != 0 || len(prog)/8 > MaxInsns {
		return fmt.Errorf("refusing to cache a program of %d bytes", len(prog))
	}
	data := encode(key, prog, flags)
	var rnd [8]byte
	if _, err := unix.Getrandom(rnd[:], 0); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s%x", tmpPrefix, rnd)
	fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d.fd, tmp, d.fd, entryName(key))
	}
	if err != nil {
		_ = unix.Unlinkat(d.fd, tmp, 0)
		return err
	}
	return d.trim(entryName(key))
}

// trim evicts the least recently used entries beyond maxEntries or
// maxBytes, and what is not an entry: temporary files left by a killed
// writer (older than a minute), and anything else a cache does not hold.
// keep, just stored, goes first whatever its mtime (timestamps are
// coarse: entries stored in one tick tie).
func (d *Dir) trim(keep string) error {
	// A description of its own: a dup would share, and leave at the
	// end, the directory offset of d.fd.
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(fd), d.path)
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return err
	}
	type entry struct {
		name  string
		size  int64
		mtime int64
	}
	var entries []entry
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &now)
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		mtime := st.Mtim.Nano()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			if now.Nano()-mtime > 60e9 {
				_ = unix.Unlinkat(d.fd, name, 0)
			}
			continue
		case len(name) != 64 || st.Mode&unix.S_IFMT != unix.S_IFREG:
			// A directory is left alone: unlinkat fails on it anyway.
			_ = unix.Unlinkat(d.fd, name, 0)
			continue
		}
		entries = append(entries, entry{name, st.Size, mtime})
	}
	sort.Slice(entries, func(i, j int) bool {
		if (entries[i].name == keep) != (entries[j].name == keep) {
			return entries[i].name == keep
		}
		return entries[i].mtime > entries[j].mtime
	})
	var total int64
	for i, e := range entries {
		total += e.size
		if i >= maxEntries || total > maxBytes {
			_ = unix.Unlinkat(d.fd, e.name, 0)
		}
	}
	return nil
}

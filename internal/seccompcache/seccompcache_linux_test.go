package seccompcache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func prog(n int, b byte) []byte { return bytes.Repeat([]byte{b}, 8*n) }

func TestRoundTrip(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key := sha256.Sum256([]byte("profile"))
	if _, _, err := d.Load(key); !errors.Is(err, ErrMiss) {
		t.Fatalf("empty cache: %v", err)
	}
	p := prog(300, 7)
	if err := d.Store(key, p, 0x19); err != nil {
		t.Fatal(err)
	}
	got, flags, err := d.Load(key)
	if err != nil || !bytes.Equal(got, p) || flags != 0x19 {
		t.Fatalf("load: %d bytes, flags %#x, %v", len(got), flags, err)
	}
	for _, bad := range [][]byte{nil, prog(1, 0)[:7], prog(MaxInsns+1, 0)} {
		if err := d.Store(key, bad, 0); err == nil {
			t.Errorf("stored a program of %d bytes", len(bad))
		}
	}
}

// Every damage to an entry is caught by Load, never returned as a hit.
func TestLoadRefuses(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key := sha256.Sum256([]byte("k"))
	path := filepath.Join(root, DirName, entryName(key))
	good := encode(key, prog(10, 1), 1)
	resum := func(b []byte) []byte {
		s := sha256.Sum256(b[:len(b)-sumSize])
		copy(b[len(b)-sumSize:], s[:])
		return b
	}
	other := sha256.Sum256([]byte("other"))
	for name, data := range map[string][]byte{
		"flipped":     func() []byte { b := bytes.Clone(good); b[headerSize] ^= 1; return b }(),
		"truncated":   good[:len(good)-1],
		"cut by 8":    good[:len(good)-8],
		"empty":       {},
		"other key":   encode(other, prog(10, 1), 1),
		"bad magic":   resum(func() []byte { b := bytes.Clone(good); b[0] = 'X'; return b }()),
		"bad count":   resum(func() []byte { b := bytes.Clone(good); b[48] = 11; return b }()),
		"zero insns":  resum(append(bytes.Clone(good[:headerSize]), make([]byte, sumSize)...)),
		"appended":    append(bytes.Clone(good), 0),
		"huge header": resum(func() []byte { b := bytes.Clone(good); b[51] = 0xff; return b }()),
	} {
		os.Remove(path)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Load(key); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	// The good entry in the wrong places.
	os.Remove(path)
	os.WriteFile(path, good, 0o600)
	if _, _, err := d.Load(key); err != nil {
		t.Fatalf("good entry: %v", err)
	}
	os.Chmod(path, 0o660)
	if _, _, err := d.Load(key); err == nil {
		t.Error("group-writable entry loaded")
	}
	os.Chmod(path, 0o600)
	os.Link(path, path+".link")
	if _, _, err := d.Load(key); err == nil {
		t.Error("hard-linked entry loaded")
	}
	os.Remove(path + ".link")
	if os.Geteuid() == 0 {
		os.Chown(path, 1000, 1000)
		if _, _, err := d.Load(key); err == nil {
			t.Error("another user's entry loaded")
		}
		os.Chown(path, 0, 0)
	}
	os.Rename(path, filepath.Join(root, "aside"))
	os.Symlink(filepath.Join(root, "aside"), path)
	if _, _, err := d.Load(key); err == nil || errors.Is(err, ErrMiss) {
		t.Errorf("symlinked entry: %v", err)
	}
	os.Remove(path)
	unix.Mkfifo(path, 0o600)
	if _, _, err := d.Load(key); err == nil {
		t.Error("fifo loaded")
	}
}

func TestOpenRefuses(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, DirName)
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	if _, err := Open(root); err == nil {
		t.Error("world-writable directory opened")
	}
	os.Remove(dir)
	other := t.TempDir()
	os.Chmod(other, 0o700)
	os.Symlink(other, dir)
	if _, err := Open(root); err == nil {
		t.Error("symlinked directory opened")
	}
}

// The directory never holds more than maxEntries entries.
func TestTrim(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var last [32]byte
	for i := 0; i < maxEntries+20; i++ {
		last = sha256.Sum256([]byte{byte(i)})
		if err := d.Store(last, prog(4, byte(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := os.ReadDir(d.Path())
	if len(names) != maxEntries {
		t.Errorf("%d files after %d stores, want %d", len(names), maxEntries+20, maxEntries)
	}
	if _, _, err := d.Load(last); err != nil {
		t.Errorf("the newest entry was evicted: %v", err)
	}
}

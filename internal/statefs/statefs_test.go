package statefs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pid")
	for _, data := range []string{"123", "45"} {
		if err := WriteFileAtomic(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != data {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	// No temporary file is left behind.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(entries))
	}
}

// TestLock takes a real flock twice: the second, not waiting, must fail
// with ErrLocked while the first is held, and succeed once it is closed.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	first, err := Lock(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Lock(dir, false); !errors.Is(err, ErrLocked) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	first.Close()
	second, err := Lock(dir, false)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	second.Close()
	if _, err := Lock(filepath.Join(dir, "missing"), true); err == nil {
		t.Fatal("locked a missing directory")
	}
}

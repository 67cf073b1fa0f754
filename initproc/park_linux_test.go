package initproc

import (
	"errors"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// One mapping of each kind sharedFileRanges must tell apart.
const smapsSample = `00400000-00403000 r--p 00000000 fe:00 42                                 /usr/bin/rung
Size:                 12 kB
Rss:                  12 kB
Anonymous:             0 kB
Locked:                0 kB
00403000-00712000 r-xp 00003000 fe:00 42                                 /usr/bin/rung
Rss:                3060 kB
Anonymous:             0 kB
Locked:                0 kB
00a9d000-00a9e000 r--p 0069c000 fe:00 42                                 /usr/bin/rung
Rss:                   4 kB
Anonymous:             4 kB
Locked:                0 kB
00a9e000-00ac8000 rw-p 0069d000 fe:00 42                                 /usr/bin/rung
Rss:                 144 kB
Anonymous:            44 kB
Locked:                0 kB
00ac8000-02aff000 rw-p 00000000 00:00 0
Rss:                  84 kB
Anonymous:            84 kB
7f0000000000-7f0000010000 r--s 00000000 fe:00 77                         /dev/shm/x
Rss:                  64 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 r-xp 00000000 fe:00 78                         /usr/lib/libc.so.6
Rss:                1024 kB
Anonymous:             0 kB
Locked:                8 kB
7f0000200000-7f0000300000 r--p 00100000 fe:00 78                         /usr/lib/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
7f0000300000-7f0000301000 r--p 00200000 fe:00 78                         /usr/lib/libc.so.6 (deleted)
Rss:                   4 kB
Anonymous:             0 kB
Locked:                0 kB
`

// TestSharedFileRanges: only private, read-only, resident file mappings
// without an anonymous or locked page are dropped. The RELRO-like one
// (read-only now, with a relocated copy-on-write page) must stay: giving
// it back its file contents would undo the relocations.
func TestSharedFileRanges(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "smaps")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(smapsSample); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	got := sharedFileRanges(f)
	want := []fileRange{{0x400000, 0x403000}, {0x403000, 0x712000}, {0x7f0000300000, 0x7f0000301000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ranges %x, want %x", got, want)
	}
}

// TestDropSharedFileMappingsOfALiveProcess drops this test process's own
// read-only file mappings as a parked init does, then goes on running Go
// code and calling into libseccomp and libc through their relocated
// tables: had a relocated page been dropped, the call would jump through
// an unrelocated entry and crash.
func TestDropSharedFileMappingsOfALiveProcess(t *testing.T) {
	smaps, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	ranges := sharedFileRanges(smaps)
	smaps.Close()
	if len(ranges) == 0 {
		t.Fatal("no droppable mapping found in this process")
	}
	before := rssFileKiB(t)
	for _, r := range ranges {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); e != 0 {
			t.Fatalf("madvise %x-%x: %v", r.start, r.end, e)
		}
	}
	after := rssFileKiB(t)
	if after >= before {
		t.Errorf("RssFile %d KiB before, %d after: nothing dropped", before, after)
	}
	// Into libseccomp (seccomp_init, which calls libc's calloc) and back.
	filter, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		t.Fatalf("libseccomp after the drop: %v", err)
	}
	if err := filter.AddArch(seccomp.ArchAMD64); err != nil && !errors.Is(err, syscall.EEXIST) {
		t.Errorf("libseccomp after the drop: %v", err)
	}
	filter.Release()
	// New threads: in a cgo binary the Go runtime makes them with libc's
	// pthread_create, through the binary's own relocated table.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a thread of its own, dropped at exit
			time.Sleep(10 * time.Millisecond)
		}()
	}
	wg.Wait()
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("RssFile: %v", err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

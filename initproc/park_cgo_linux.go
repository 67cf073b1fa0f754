package initproc

/*
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

// Drops the page-table entries of the ranges (start, end pairs), then
// blocks in openat until `rung start` opens the fifo for reading. Both in
// one call, in C: once the entries are gone, any Go code that ran before
// the wait (the return to Go, the scheduler's hand-off) would fault its
// pages straight back, about 3 MiB of them when this was done from Go.
static int rung_drop_and_open(const uintptr_t *ranges, int n, int dirfd, const char *path) {
	for (int i = 0; i < n; i++)
		madvise((void *)ranges[2 * i], ranges[2 * i + 1] - ranges[2 * i], MADV_DONTNEED);
	int fd;
	do
		fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// dropAndOpen drops ranges (none: nothing) and opens path, relative to
// dirfd, for writing: the blocking open of exec.fifo.
func dropAndOpen(ranges []fileRange, dirfd int, path string) (int, error) {
	flat := make([]C.uintptr_t, 0, 2*len(ranges)+1)
	for _, r := range ranges {
		flat = append(flat, C.uintptr_t(r.start), C.uintptr_t(r.end))
	}
	flat = append(flat, 0) // never empty: &flat[0] below
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	fd := int(C.rung_drop_and_open(&flat[0], C.int(len(ranges)), C.int(dirfd), cpath))
	if fd < 0 {
		return -1, syscall.Errno(-fd)
	}
	return fd, nil
}

package initproc

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// droppableMappings lists what a parked init keeps mapped but no longer
// uses before it waits for `rung start`, which may be long: between create
// and start a node can hold many of them. These are the read-only file
// mappings, rung's text and rodata. dropAndOpen drops their page-table
// entries as it blocks: the pages stay in the page cache, shared with
// every other rung process, and the few that the exec path touches come
// back by minor faults after start. Without this each parked init counts
// about 8 MiB of the binary in its RSS, as runc's does. It runs after
// create has returned (about 0.8 ms, reading smaps); a GC here was tried
// and freed nothing.
//
// Only mappings that are not writable and hold no anonymous (copy-on-write)
// page are dropped: a RELRO segment, relocated and then made read-only,
// holds anonymous pages and is left alone, since MADV_DONTNEED would give
// it back its unrelocated file contents. The list comes from init's
// private procfs, never from the container's /proc, which the image may
// have faked; without one nothing is dropped.
func droppableMappings(procfs *os.File) []fileRange {
	if procfs == nil {
		return nil
	}
	fd, err := unix.Openat(int(procfs.Fd()), "self/smaps", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "smaps")
	defer f.Close()
	return sharedFileRanges(f)
}

// fileRange is one mapping of /proc/self/smaps that may be dropped.
type fileRange struct{ start, end uintptr }

// sharedFileRanges reads smaps and returns the mappings backed by a file
// (a non-zero inode), not writable, private, with resident pages and none
// of them anonymous or locked.
func sharedFileRanges(f *os.File) []fileRange {
	var out []fileRange
	var cur fileRange
	var ok bool
	var rss, anon, locked int64
	flush := func() {
		if ok && rss > 0 && anon == 0 && locked == 0 {
			out = append(out, cur)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if isMappingHeader(fields[0]) {
			flush()
			cur, ok = parseMapping(fields)
			rss, anon, locked = 0, 0, 0
			continue
		}
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(string(fields[1]), 10, 64)
		switch string(fields[0]) {
		case "Rss:":
			rss = n
		case "Anonymous:":
			anon = n
		case "Locked:":
			locked = n
		}
	}
	if sc.Err() != nil {
		return nil // a partial read could miss an Anonymous line
	}
	flush()
	return out
}

// isMappingHeader: smaps' header lines start with "start-end" in hex,
// its field lines with "Name:".
func isMappingHeader(first []byte) bool {
	return bytes.IndexByte(first, '-') > 0 && !bytes.HasSuffix(first, []byte(":"))
}

// parseMapping reads "start-end perms offset dev inode [path]" and says
// whether the mapping is a private, read-only mapping of a file.
func parseMapping(fields [][]byte) (fileRange, bool) {
	if len(fields) < 5 {
		return fileRange{}, false
	}
	bounds := bytes.SplitN(fields[0], []byte("-"), 2)
	start, err1 := strconv.ParseUint(string(bounds[0]), 16, 64)
	end, err2 := strconv.ParseUint(string(bounds[1]), 16, 64)
	perms := fields[1]
	inode, err3 := strconv.ParseUint(string(fields[4]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || end <= start || len(perms) < 4 {
		return fileRange{}, false
	}
	if inode == 0 || perms[1] == 'w' || perms[3] != 'p' {
		return fileRange{}, false
	}
	return fileRange{uintptr(start), uintptr(end)}, true
}

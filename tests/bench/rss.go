package main

// Peak RSS from rusage is wrong for small runtimes when the parent is a Go
// program: os/exec starts children with clone(CLONE_VM|CLONE_VFORK), so
// the mm the child leaves at execve is this program's, and the kernel
// folds that mm's high-water mark into the child's ru_maxrss. Every
// runtime then reads at least this program's own RSS (about 8 MiB), which
// hides crun (about 3 MiB) and rung entirely. The taskstats exit record is
// taken from the mm the task has when it exits, the runtime's own, so it
// is used instead wherever the kernel has it (CONFIG_TASK_XACCT). It
// covers the runtime process alone, not children it reaped as ru_maxrss
// does; for create and state of these three runtimes GNU time's %M (from
// a small parent) agrees with it to within noise.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exitRSS receives the kernel's taskstats record of every task that exits.
type exitRSS struct {
	fd     int
	family uint16
	buf    []byte
}

func openExitRSS() (*exitRSS, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	e := &exitRSS{fd: fd, buf: make([]byte, 1<<16)}
	if err := e.setup(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return e, nil
}

func (e *exitRSS) setup() error {
	if err := unix.Bind(e.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// Every exit on the machine lands here until it is drained; a large
	// buffer keeps a busy moment from overflowing it between commands.
	if err := unix.SetsockoptInt(e.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		return err
	}
	family, err := e.resolveFamily()
	if err != nil {
		return fmt.Errorf("resolve the TASKSTATS netlink family: %w", err)
	}
	e.family = family
	cpus, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return err
	}
	mask := strings.TrimSpace(string(cpus)) + "\x00"
	if err := e.request(e.family, unix.TASKSTATS_CMD_GET, unix.TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, []byte(mask)); err != nil {
		return fmt.Errorf("register for taskstats exit records: %w", err)
	}
	_, err = e.reply()
	return err
}

func (e *exitRSS) resolveFamily() (uint16, error) {
	if err := e.request(unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, unix.CTRL_ATTR_FAMILY_NAME, []byte("TASKSTATS\x00")); err != nil {
		return 0, err
	}
	msg, err := e.reply()
	if err != nil {
		return 0, err
	}
	for _, a := range attrs(genlPayload(msg)) {
		if a.typ == unix.CTRL_ATTR_FAMILY_ID && len(a.data) >= 2 {
			return binary.NativeEndian.Uint16(a.data), nil
		}
	}
	return 0, errors.New("no family id in the reply")
}

// request sends one generic netlink command with one attribute, asking
// for an ack so that a refusal comes back as an error.
func (e *exitRSS) request(family uint16, cmd uint8, attrType uint16, value []byte) error {
	attrLen := unix.SizeofNlAttr + len(value)
	msgLen := unix.SizeofNlMsghdr + genlHdrLen + nlAlign(attrLen)
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], family)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(b[8:], 1) // seq
	b[unix.SizeofNlMsghdr] = cmd
	b[unix.SizeofNlMsghdr+1] = 1 // genl version
	a := b[unix.SizeofNlMsghdr+genlHdrLen:]
	ne.PutUint16(a[0:], uint16(attrLen))
	ne.PutUint16(a[2:], attrType)
	copy(a[unix.SizeofNlAttr:], value)
	return unix.Sendto(e.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// reply reads until the answer to the last request: its data message if
// it has one (returned), then its ack or error.
func (e *exitRSS) reply() (data *syscall.NetlinkMessage, err error) {
	for {
		n, _, err := unix.Recvfrom(e.fd, e.buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(e.buf[:n])
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != 1 {
				continue // an exit record that came first
			}
			if m.Header.Type != unix.NLMSG_ERROR {
				// A copy: the next Recvfrom overwrites e.buf.
				data = &syscall.NetlinkMessage{Header: m.Header, Data: append([]byte(nil), m.Data...)}
				continue
			}
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return nil, syscall.Errno(-errno)
				}
			}
			return data, nil
		}
	}
}

// drain reads every queued exit record and returns the highest RSS, in
// KiB, among the tasks whose parent is this program. Only one runtime
// command runs at a time and the containers it starts are not our
// children, so those tasks are exactly the threads of the command that
// just ended. The kernel queues a task's record before the task can be
// reaped, so after Wait the command's records are all here.
func (e *exitRSS) drain() (kib int64, found bool, err error) {
	self := uint32(os.Getpid())
	for {
		n, _, rerr := unix.Recvfrom(e.fd, e.buf, unix.MSG_DONTWAIT)
		if errors.Is(rerr, unix.EAGAIN) {
			return kib, found, err
		}
		if rerr != nil {
			// ENOBUFS: records were lost. Keep draining, but say so.
			err = fmt.Errorf("taskstats: %w", rerr)
			continue
		}
		msgs, perr := syscall.ParseNetlinkMessage(e.buf[:n])
		if perr != nil {
			return kib, found, perr
		}
		for i := range msgs {
			if msgs[i].Header.Type != e.family {
				continue
			}
			for _, st := range exitStats(&msgs[i]) {
				if ppid(st) == self {
					kib = max(kib, int64(hiwaterRSS(st)))
					found = true
				}
			}
		}
	}
}

func (e *exitRSS) close() { unix.Close(e.fd) }

// exitStats returns the struct taskstats of each per-task record in m.
func exitStats(m *syscall.NetlinkMessage) [][]byte {
	var out [][]byte
	for _, a := range attrs(genlPayload(m)) {
		if a.typ != unix.TASKSTATS_TYPE_AGGR_PID {
			continue // AGGR_TGID sums a whole group and has no RSS
		}
		for _, in := range attrs(a.data) {
			if in.typ == unix.TASKSTATS_TYPE_STATS {
				out = append(out, in.data)
			}
		}
	}
	return out
}

// The fields read from struct taskstats, at the offsets x/sys/unix has
// for it. The kernel only ever appends fields, so the offsets hold.
var (
	offPPID    = unsafe.Offsetof(unix.Taskstats{}.Ac_ppid)
	offHiwater = unsafe.Offsetof(unix.Taskstats{}.Hiwater_rss)
)

func ppid(st []byte) uint32 {
	if uintptr(len(st)) < offPPID+4 {
		return 0
	}
	return binary.NativeEndian.Uint32(st[offPPID:])
}

// hiwaterRSS is the task's peak RSS in KiB.
func hiwaterRSS(st []byte) uint64 {
	if uintptr(len(st)) < offHiwater+8 {
		return 0
	}
	return binary.NativeEndian.Uint64(st[offHiwater:])
}

// genlHdrLen is sizeof(struct genlmsghdr), which x/sys/unix has no
// constant for.
const genlHdrLen = int(unsafe.Sizeof(unix.Genlmsghdr{}))

type nlattr struct {
	typ  uint16
	data []byte
}

// attrs splits a run of netlink attributes.
func attrs(b []byte) []nlattr {
	var out []nlattr
	for len(b) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		if l < unix.SizeofNlAttr || l > len(b) {
			break
		}
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		out = append(out, nlattr{typ: typ, data: b[unix.SizeofNlAttr:l]})
		b = b[min(nlAlign(l), len(b)):]
	}
	return out
}

func genlPayload(m *syscall.NetlinkMessage) []byte {
	if m == nil || len(m.Data) < genlHdrLen {
		return nil
	}
	return m.Data[genlHdrLen:]
}

func nlAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

// selfRSS is the high-water mark of this program's mm in KiB, the floor
// under any ru_maxrss it reads for a child. (Its own ru_maxrss would not
// do: that has the same artefact and holds the go command's RSS.)
func selfRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		}
	}
	return "?"
}

// parkedRSS reads the resident memory of a live process, in KiB, from
// /proc/<pid>/status: all of it (VmRSS) and its anonymous part (RssAnon),
// the part no other process shares.
func parkedRSS(pid int) (rss, anon int64, err error) {
	if pid <= 0 {
		return 0, 0, fmt.Errorf("no pid (%d)", pid)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range strings.Split(string(status), "\n") {
		key, v, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "RssAnon") {
			continue
		}
		var kib int64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %v", pid, key, err)
		}
		if key == "VmRSS" {
			rss = kib
		} else {
			anon = kib
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS/RssAnon", pid)
	}
	return rss, anon, nil
}

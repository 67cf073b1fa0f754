package initproc

import (
	"testing"

	"github.com/rungrt/rung/libns"
)

// TestSysctlNamespace follows the kernel's split of /proc/sys, which runc's
// validator copies: net.* lives in the network namespace; fs.mqueue.* and
// the SysV IPC limits (ipc/ipc_sysctl.c) in the IPC namespace;
// kernel.hostname and kernel.domainname (kernel/utsname_sysctl.c) in the
// UTS namespace. Everything else is global, and writing it from a
// container would change the host, so it must be refused (ok false).
func TestSysctlNamespace(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want libns.Kind
		ok   bool
	}{
		{"net.ipv4.ip_forward", libns.Net, true},
		{"net.core.somaxconn", libns.Net, true},
		{"net.ipv6.conf.all.disable_ipv6", libns.Net, true},
		{"fs.mqueue.queues_max", libns.IPC, true},
		{"fs.mqueue.msg_max", libns.IPC, true},
		{"kernel.msgmax", libns.IPC, true},
		{"kernel.msgmnb", libns.IPC, true},
		{"kernel.msgmni", libns.IPC, true},
		{"kernel.sem", libns.IPC, true},
		{"kernel.shmall", libns.IPC, true},
		{"kernel.shmmax", libns.IPC, true},
		{"kernel.shmmni", libns.IPC, true},
		{"kernel.shm_rmid_forced", libns.IPC, true},
		{"kernel.hostname", libns.UTS, true},
		{"kernel.domainname", libns.UTS, true},
		// Global: the host's.
		{"vm.swappiness", 0, false},
		{"kernel.pid_max", 0, false},
		{"kernel.core_pattern", 0, false},
		{"fs.file-max", 0, false},
		{"fs.mqueue", 0, false}, // the directory, not a key in it
		{"net", 0, false},
		{"network.x", 0, false},
		{"kernel.hostnamex", 0, false},
		{"kernel.sem_next_id", 0, false}, // not in runc's list either
		{"kernel.shmmax.x", 0, false},
		{"Net.ipv4.ip_forward", 0, false}, // keys are case-sensitive paths
		{"", 0, false},
	} {
		got, ok := sysctlNamespace(tc.key)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%q: %v %v, want %v %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

package runtime

import (
	"os"
	"path/filepath"

	"github.com/opencontainers/cgroups"
)

// warmCgroupAttach starts, in the background, the wait that the first
// cgroup v1 attach of a command would otherwise do on its critical path.
//
// Every write to a cgroup.procs file takes cgroup_threadgroup_rwsem for
// writing (kernel/cgroup/cgroup.c, cgroup_attach_lock). That percpu rwsem
// sits in its readers' fast path between writers, and the first writer
// after a quiet spell waits for a whole RCU grace period to leave it
// (rcu_sync_enter): 2 to 14 ms measured here, for the first of the v1
// hierarchies a container joins; the next writers within a grace period
// of the last one pass at once. create, run and exec each attach a process
// late, after they have read the config or the state, opened namespaces
// and cloned the child; so each command moves itself into the cgroup it
// is already in as it starts, a no-op migration that begins the same wait
// while the command does its own work. The real attach then usually finds
// the lock warm.
//
// Only for root on a host with v1 hierarchies: on cgroup v2 rung joins by
// CLONE_INTO_CGROUP, which takes no write lock, and a rootless caller may
// not write its own cgroup.procs. Errors are ignored: this is a head
// start, never a step the command depends on.
func warmCgroupAttach() {
	if os.Geteuid() != 0 || cgroups.IsCgroup2UnifiedMode() {
		return
	}
	go func() {
		for _, subsystem := range []string{"pids", "memory", "cpu", "devices"} {
			dir, err := cgroups.GetOwnCgroupPath(subsystem)
			if err != nil {
				continue
			}
			// "0" is the writing process itself (cgroup_procs_write_start).
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("0"), 0); err == nil {
				return
			}
		}
	}()
}

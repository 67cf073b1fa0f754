package initproc

import (
	"fmt"
	"os"
	"strings"

	"github.com/rungrt/rung/libns"
)

// sysctlNamespace names the namespace a sysctl belongs to; sysctls of no
// namespace would change the host and are refused, as runc does.
func sysctlNamespace(key string) (libns.Kind, bool) {
	switch {
	case strings.HasPrefix(key, "net."):
		return libns.Net, true
	case strings.HasPrefix(key, "fs.mqueue."),
		key == "kernel.msgmax", key == "kernel.msgmnb", key == "kernel.msgmni", key == "kernel.sem",
		key == "kernel.shmall", key == "kernel.shmmax", key == "kernel.shmmni", key == "kernel.shm_rmid_forced":
		return libns.IPC, true
	case key == "kernel.hostname", key == "kernel.domainname":
		return libns.UTS, true
	}
	return 0, false
}

// setSysctls writes linux.sysctl through the private procfs (writeProc),
// each only where the container has the namespace the sysctl belongs to.
func setSysctls(procfs *os.File, sysctls map[string]string, ns libns.Set) error {
	for key, value := range sysctls {
		k, ok := sysctlNamespace(key)
		if !ok {
			return fmt.Errorf("linux.sysctl: %s is not namespaced: setting it would change the host", key)
		}
		if !ns.Has(k) {
			return fmt.Errorf("linux.sysctl: %s needs a new %s namespace", key, k)
		}
		path := "sys/" + strings.ReplaceAll(key, ".", "/")
		if err := writeProc(procfs, path, value); err != nil {
			return fmt.Errorf("linux.sysctl: %s=%s: %w", key, value, err)
		}
	}
	return nil
}

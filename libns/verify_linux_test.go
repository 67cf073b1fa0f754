package libns

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestIsOurs asks the real kernel: every namespace of this process is its
// own, and a child made with new uts and ipc namespaces (in a new user
// namespace, so the test needs no privilege) shares the rest only.
func TestIsOurs(t *testing.T) {
	for _, k := range AllKinds() {
		id, err := IdentityOf(0, k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if ours, err := IsOurs(k, id); err != nil || !ours {
			t.Fatalf("%s: IsOurs(own identity) = %v, %v", k, ours, err)
		}
	}
	cmd := exec.Command("/bin/sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a child in new namespaces: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	newKinds := NewSet(User, UTS, IPC)
	for _, k := range AllKinds() {
		shared, err := SharesOurs(pid, k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if shared == newKinds.Has(k) {
			t.Errorf("%s: child shares the runtime's namespace = %v, want %v", k, shared, !newKinds.Has(k))
		}
		// The same answer through an open namespace file.
		f, err := OpenNamespace(ContainerNSPath(pid, k), k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		id, err := FileIdentity(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if ours, err := IsOurs(k, id); err != nil || ours != shared {
			t.Errorf("%s: IsOurs(file identity) = %v, %v; want %v", k, ours, err, shared)
		}
	}
	if err := VerifyNew(pid, newKinds); err != nil {
		t.Errorf("VerifyNew(new namespaces): %v", err)
	}
	if err := VerifyNew(pid, NewSet(Net)); err == nil {
		t.Error("VerifyNew accepted the runtime's own net namespace")
	}
}

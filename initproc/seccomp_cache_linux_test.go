package initproc

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// readGoBuildID reads what the go tool calls the binary's build ID.
func TestReadGoBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	id, err := readGoBuildID(exe)
	if err != nil || string(id) != strings.TrimSpace(string(out)) {
		t.Fatalf("build ID %q (%v), the go tool says %q", id, err, out)
	}
	if _, err := readGoBuildID("/bin/sh"); err == nil {
		t.Error("a C binary has a Go build ID")
	}
}

// What init loads from the wire form is what the compiler made, and the
// key follows the profile.
func TestSeccompWireForm(t *testing.T) {
	eperm := uint(1)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}}}
	p, err := buildSeccomp(sc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := seccompFor(sc, p.bpf())
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip: %+v, %v; compiled %+v", back, err, p)
	}
	if _, err := seccompFor(sc, nil); err == nil {
		t.Error("a profile without a program was accepted")
	}
	if _, err := seccompFor(nil, p.bpf()); err == nil {
		t.Error("a program without a profile was accepted")
	}
	if _, err := seccompFor(sc, &SeccompBPF{Program: make([]byte, 12)}); err == nil {
		t.Error("a program of 12 bytes was accepted")
	}
	if _, err := seccompFor(sc, &SeccompBPF{Program: make([]byte, 8*(bpfMaxInsns+1))}); err == nil {
		t.Error("a program over the kernel's limit was accepted")
	}
	k1, err1 := seccompCacheKey(sc)
	k2, err2 := seccompCacheKey(sc)
	sc.Syscalls[0].Names = append(sc.Syscalls[0].Names, "close")
	k3, err3 := seccompCacheKey(sc)
	if err1 != nil || err2 != nil || err3 != nil || k1 != k2 || k1 == k3 {
		t.Errorf("keys %x %x %x (%v %v %v)", k1, k2, k3, err1, err2, err3)
	}
}

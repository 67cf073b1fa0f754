package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHooksRunInOrderWithState: every hook kind runs at its point of the
// lifecycle with the state on stdin; host-side hooks write to a log on the
// host, startContainer (which runs inside) to a file in the rootfs.
func TestHooksRunInOrderWithState(t *testing.T) {
	e := newEnv(t)
	logf := filepath.Join(e.dir, "hooks.log")
	hook := func(name string) specs.Hook {
		// The state's status and pid presence, then the hook's name.
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
			`read -r s; echo "` + name + ` $(echo "$s" | grep -o '"status":"[a-z]*"')" >> ` + logf}}
	}
	b := e.bundle("b", "strict", func(s *specs.Spec) {
		sleeper(s)
		s.Root.Readonly = false
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")}, //nolint:staticcheck // deprecated, still honoured
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /tmp/startContainer"}}},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		}
	})
	e.must("create", "--bundle", b, "h")
	created, _ := os.ReadFile(logf)
	want := "prestart \"status\":\"created\"\ncreateRuntime \"status\":\"created\"\ncreateContainer \"status\":\"created\"\n"
	if string(created) != want {
		t.Fatalf("hooks after create:\n%s\nwant:\n%s", created, want)
	}
	e.must("start", "h")
	waitFile(t, filepath.Join(b, "rootfs/tmp/startContainer"))
	e.must("delete", "-f", "h")
	all, _ := os.ReadFile(logf)
	if want += "poststart \"status\":\"running\"\npoststop \"status\":\"stopped\"\n"; string(all) != want {
		t.Fatalf("hooks:\n%s\nwant:\n%s", all, want)
	}
	data, _ := os.ReadFile(filepath.Join(b, "rootfs/tmp/startContainer"))
	var st specs.State
	if err := json.Unmarshal(data, &st); err != nil || st.ID != "h" || st.Pid == 0 || st.Bundle != b {
		t.Fatalf("startContainer state %q: %v", data, err)
	}
	e.noLeftovers("h")
}

func TestFailingHookFailsCreate(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []string{"createRuntime", "createContainer"} {
		b := e.bundle(kind, "strict", func(s *specs.Spec) {
			sleeper(s)
			fail := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook broke >&2; exit 7"}}}
			if kind == "createRuntime" {
				s.Hooks = &specs.Hooks{CreateRuntime: fail}
			} else {
				s.Hooks = &specs.Hooks{CreateContainer: fail}
			}
		})
		r := e.rung("create", "--bundle", b, "f")
		failed(t, kind+" hook failing", r, kind+" hook #0", "hook broke")
		e.noLeftovers("f")
	}
	// A timeout counts as failure.
	one := 1
	b := e.bundle("slow", "strict", func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}}}
	})
	failed(t, "slow hook", e.rung("create", "--bundle", b, "slow"), "timed out")
	e.noLeftovers("slow")
	// Failing poststart and poststop only warn.
	b = e.bundle("warn", "strict", func(s *specs.Spec) {
		sleeper(s)
		fail := []specs.Hook{{Path: "/bin/false"}}
		s.Hooks = &specs.Hooks{Poststart: fail, Poststop: fail}
	})
	e.must("run", "-d", "--bundle", b, "warn")
	if r := e.must("delete", "-f", "warn"); !strings.Contains(r.stderr, "poststop hook #0") {
		t.Errorf("failing poststop: no warning: %q", r.stderr)
	}
	e.noLeftovers("warn")
}

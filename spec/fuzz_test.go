package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// fieldErr is how every Validate error starts: the config field at fault,
// as "root.path:", "process.rlimits[2].type:" or "linux.namespaces:".
var fieldErr = regexp.MustCompile(`^[a-z][A-Za-z]*(\[\d+\])?(\.[A-Za-z]+(\[\d+\])?)*: `)

// FuzzParseValidate feeds arbitrary bytes to config.json loading and
// validation. Neither may panic; a refusal names the field at fault; an
// accepted config has a consistent namespace plan and reads the same
// after the JSON round trip the state file puts it through (start, exec
// and delete use that copy).
func FuzzParseValidate(f *testing.F) {
	bundle := f.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "file"), nil, 0o644); err != nil {
		f.Fatal(err)
	}
	def, err := json.Marshal(Template(libns.Strict))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if s != nil || !strings.HasPrefix(err.Error(), "parse config.json: ") {
				t.Fatalf("Parse: %v, %v", s, err)
			}
			return
		}
		plan, err := Validate(s, bundle)
		if err != nil {
			if !fieldErr.MatchString(err.Error()) {
				t.Fatalf("Validate error names no field: %q", err)
			}
			return
		}
		if s.Root == nil || s.Process == nil || len(s.Process.Args) == 0 || s.Linux == nil {
			t.Fatalf("Validate accepted a config without root, process or linux: %s", data)
		}
		checkPlan(t, s.Linux.Namespaces, plan)

		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal an accepted config: %v", err)
		}
		s2, err := Parse(again)
		if err != nil {
			t.Fatalf("an accepted config does not parse back: %v\n%s", err, again)
		}
		plan2, err := Validate(s2, bundle)
		if err != nil {
			t.Fatalf("an accepted config is refused after a JSON round trip: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(plan, plan2) {
			t.Fatalf("plan changed in the JSON round trip: %+v, then %+v", plan, plan2)
		}
	})
}

// FuzzPlanNamespaces builds linux.namespaces from a compact text form,
// "type" or "type=path" separated by ";", and checks the plan's
// invariants: each listed kind is created or joined, never both; the
// ladder's structural rules hold; the reading is the ladder's reading of
// the whole set and never rises when a namespace is taken away.
func FuzzPlanNamespaces(f *testing.F) {
	for _, s := range []string{
		"pid;network;ipc;uts;mount;cgroup", // runc spec's default
		"user;mount;pid;network;ipc;uts;cgroup",
		"network=/var/run/netns/pod;ipc=/proc/1/ns/ipc;uts=/proc/1/ns/uts;pid;mount",
		"user=/proc/42/ns/user;mount=/proc/42/ns/mnt;pid",
		"user;network=/run/netns/x;mount",
		"pid",
		"user",
		"mount;mount",
		"network=relative/path",
		"time;cgroup",
		"",
		"bogus",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var list []specs.LinuxNamespace
		if text != "" {
			for _, e := range strings.Split(text, ";") {
				typ, path, _ := strings.Cut(e, "=")
				list = append(list, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(typ), Path: path})
			}
		}
		s := &specs.Spec{Linux: &specs.Linux{Namespaces: list}}
		plan, err := PlanNamespaces(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "linux.namespaces") {
				t.Fatalf("error names no field: %q", err)
			}
			return
		}
		checkPlan(t, list, plan)
	})
}

// checkPlan checks an accepted plan against the list it was built from.
func checkPlan(t *testing.T, list []specs.LinuxNamespace, plan Plan) {
	t.Helper()
	joined := plan.Joined()
	if plan.Create&joined != 0 {
		t.Fatalf("%s both created and joined", plan.Create&joined)
	}
	if len(list) != len(plan.Create.Kinds())+len(plan.Join) {
		t.Fatalf("%d namespaces listed, plan creates %s and joins %d", len(list), plan.Create, len(plan.Join))
	}
	for i, ns := range list {
		k, err := libns.ParseKind(ns.Type)
		if err != nil {
			t.Fatalf("accepted unknown namespace type %q", ns.Type)
		}
		if ns.Path == "" && !plan.Create.Has(k) || ns.Path != "" && !joined.Has(k) {
			t.Fatalf("linux.namespaces[%d] %+v is not in the plan %+v", i, ns, plan)
		}
	}
	for _, j := range plan.Join {
		if !filepath.IsAbs(j.Path) || list[j.Index].Path != j.Path {
			t.Fatalf("join %+v does not match linux.namespaces[%d]", j, j.Index)
		}
	}
	all := plan.Create | joined
	if plan.Create.Has(libns.User) && len(plan.Join) > 0 {
		t.Fatalf("a new user namespace with joined namespaces was accepted")
	}
	if all.Has(libns.User) && !all.Has(libns.Mount) && !all.Has(libns.PID) {
		t.Fatalf("a user namespace without mount or pid namespace was accepted")
	}
	if (len(plan.Warnings) > 0) != (all.Has(libns.PID) && !all.Has(libns.Mount)) {
		t.Fatalf("%s: warnings %q", all, plan.Warnings)
	}
	if plan.Reading != libns.Assess(all) {
		t.Fatalf("reading %s, want %s", plan.Reading, libns.Assess(all))
	}
	for _, k := range all.Kinds() {
		if less := libns.Assess(all.Minus(libns.NewSet(k))); less.Rung > plan.Reading.Rung {
			t.Fatalf("%s reads %s, but without %s it reads %s", all, plan.Reading, k, less)
		}
	}
}

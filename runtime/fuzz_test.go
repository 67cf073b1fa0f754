package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/hostroot"
)

// FuzzSystemdCgroupsPath: no cgroupsPath makes ParseSystemdCgroupsPath
// panic; a refusal names linux.cgroupsPath; an accepted one has a valid
// slice (ending in ".slice"), a prefix and name no path separator can
// hide in, and reads the same when spelled back.
func FuzzSystemdCgroupsPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, path, id string) {
		u, err := ParseSystemdCgroupsPath(path, id, false)
		if err != nil {
			if u != nil || !strings.Contains(err.Error(), "linux.cgroupsPath") {
				t.Fatalf("%q: %+v, %v", path, u, err)
			}
			return
		}
		if path == "" {
			if *u != (SystemdUnit{"system.slice", defaultScopePrefix, id}) {
				t.Fatalf("empty path: %+v", u)
			}
			if ValidateID(id) != nil {
				return // create refuses the id first
			}
		}
		if !strings.HasSuffix(u.Slice, ".slice") {
			t.Fatalf("%q: slice %q", path, u.Slice)
		}
		if _, err := systemd.ExpandSlice(u.Slice); err != nil {
			t.Fatalf("%q: slice %q: %v", path, u.Slice, err)
		}
		for _, v := range []string{u.ScopePrefix, u.Name} {
			if strings.ContainsAny(v, "/\\\x00") || v == "." || v == ".." {
				t.Fatalf("%q: %+v escapes its slice", path, u)
			}
		}
		if u.Name == "" {
			t.Fatalf("%q: empty name", path)
		}
		if strings.HasSuffix(u.Name, ".slice") {
			if _, err := systemd.ExpandSlice(u.Name); err != nil {
				t.Fatalf("%q: name %q: %v", path, u.Name, err)
			}
		}
		back, err := ParseSystemdCgroupsPath(u.Slice+":"+u.ScopePrefix+":"+u.Name, id, false)
		if err != nil || *back != *u {
			t.Fatalf("%q: %+v spelled back reads %+v, %v", path, u, back, err)
		}
	})
}

// FuzzUpdateResources takes the resources a container was created with
// and the JSON of `update --resources`, both arbitrary. Decoding and
// merging never panic; merging the same update twice equals merging it
// once; every field the update sets is set, every other keeps its value;
// devices never change; and the merged resources convert to cgroup
// settings (for cgroupfs, and systemd where the path reads as one) with
// the config's device rules first and the default ones after.
func FuzzUpdateResources(f *testing.F) {
	f.Fuzz(func(t *testing.T, cgroupsPath string, created, update []byte) {
		var base specs.LinuxResources
		if json.Unmarshal(created, &base) != nil {
			return
		}
		src, err := DecodeResources(bytes.NewReader(update))
		if err != nil {
			if src != nil {
				t.Fatalf("DecodeResources: %+v with %v", src, err)
			}
			return
		}
		// Independent copies of the created resources, decoded again.
		var once, twice specs.LinuxResources
		_ = json.Unmarshal(created, &once)
		_ = json.Unmarshal(created, &twice)
		mergeResources(&once, src)
		mergeResources(&twice, src)
		mergeResources(&twice, src)
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("merge not idempotent:\n%s\n%s", js(once), js(twice))
		}
		checkMerged(t, reflect.ValueOf(&base).Elem(), reflect.ValueOf(src).Elem(), reflect.ValueOf(&once).Elem(), "resources")

		s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: cgroupsPath, Resources: &once}}
		before := &specs.Spec{Linux: &specs.Linux{CgroupsPath: cgroupsPath, Resources: &base}}
		cg, _, err := cgroupConfig(s, "fuzz", nil)
		cgBefore, _, errBefore := cgroupConfig(before, "fuzz", nil)
		if (err == nil) != (errBefore == nil) {
			// Only the devices can refuse, and an update leaves them.
			t.Fatalf("cgroupConfig: %v before the update, %v after", errBefore, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "linux.resources.devices[") {
				t.Fatalf("cgroupConfig error names no field: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(cg.Resources.Devices, cgBefore.Resources.Devices) {
			t.Fatalf("an update changed the device rules")
		}
		if cg.Path != cgroupsPath || (cg.Path == "") == (cg.Name == "") || cg.Parent != "" || cg.Systemd {
			t.Fatalf("cgroupfs %q: path %q name %q parent %q", cgroupsPath, cg.Path, cg.Name, cg.Parent)
		}
		n := len(base.Devices)
		if len(cg.Resources.Devices) != n+len(defaultDeviceRules(s)) {
			t.Fatalf("%d device rules from %d in the config", len(cg.Resources.Devices), n)
		}
		for i, r := range cg.Resources.Devices {
			if !r.Permissions.IsValid() || !strings.ContainsRune("abcp", rune(r.Type)) {
				t.Fatalf("device rule %d: %+v", i, r)
			}
			if i < n && r.Allow != base.Devices[i].Allow {
				t.Fatalf("device rule %d allows %v, the config says %v", i, r.Allow, base.Devices[i].Allow)
			}
		}
		if unit, err := ParseSystemdCgroupsPath(cgroupsPath, "fuzz", false); err == nil {
			cg, _, err := cgroupConfig(s, "fuzz", unit)
			if err != nil || !cg.Systemd || cg.Path != "" || cg.Parent != unit.Slice || cg.Name != unit.Name || cg.ScopePrefix != unit.ScopePrefix {
				t.Fatalf("systemd %q: %+v, %v", cgroupsPath, cg, err)
			}
		}
	})
}

// checkMerged walks the resources: where the update sets a field (a
// non-nil pointer, slice or map, a non-empty string) the result has the
// update's value, or for a map each of its keys; elsewhere the result
// keeps the created value. Devices and rdma are left as created: an
// update must not widen device access, and rdma is not updated (as in
// runc).
func checkMerged(t *testing.T, base, src, got reflect.Value, at string) {
	t.Helper()
	switch at {
	case "resources.Devices", "resources.Rdma":
		if !reflect.DeepEqual(base.Interface(), got.Interface()) {
			t.Fatalf("%s changed by an update: %s", at, js(got.Interface()))
		}
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for i := 0; i < src.NumField(); i++ {
			checkMerged(t, base.Field(i), src.Field(i), got.Field(i), at+"."+src.Type().Field(i).Name)
		}
		return
	case reflect.Pointer:
		if src.IsNil() {
			break
		}
		if src.Elem().Kind() == reflect.Struct && at != "resources.Pids" && at != "resources.Network" {
			// A section: merged field by field.
			if got.IsNil() {
				t.Fatalf("%s: the update sets it, the result has none", at)
			}
			b := base
			if b.IsNil() {
				b = reflect.New(src.Elem().Type())
			}
			checkMerged(t, b.Elem(), src.Elem(), got.Elem(), at)
			return
		}
		if got.IsNil() || !reflect.DeepEqual(src.Elem().Interface(), got.Elem().Interface()) {
			t.Fatalf("%s: update %s, result %s", at, js(src.Interface()), js(got.Interface()))
		}
		return
	case reflect.Map:
		if src.IsNil() {
			break
		}
		for _, k := range src.MapKeys() {
			if v := got.MapIndex(k); !v.IsValid() || !reflect.DeepEqual(v.Interface(), src.MapIndex(k).Interface()) {
				t.Fatalf("%s[%v]: update %v, result %v", at, k, src.MapIndex(k), v)
			}
		}
		for _, k := range got.MapKeys() {
			if !src.MapIndex(k).IsValid() && (!base.MapIndex(k).IsValid() || base.MapIndex(k).Interface() != got.MapIndex(k).Interface()) {
				t.Fatalf("%s[%v]: neither created nor updated", at, k)
			}
		}
		return
	case reflect.Slice:
		if src.IsNil() {
			break
		}
		if !reflect.DeepEqual(src.Interface(), got.Interface()) {
			t.Fatalf("%s: update %s, result %s", at, js(src.Interface()), js(got.Interface()))
		}
		return
	case reflect.String:
		if src.String() == "" {
			break
		}
		if got.String() != src.String() {
			t.Fatalf("%s: update %q, result %q", at, src.String(), got.String())
		}
		return
	}
	if !reflect.DeepEqual(base.Interface(), got.Interface()) {
		t.Fatalf("%s: not in the update, but changed from %s to %s", at, js(base.Interface()), js(got.Interface()))
	}
}

func js(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// FuzzStateLoad writes arbitrary bytes as a container's state files and
// loads them: no panic, in loading or in what state and the hooks then
// read; a corrupt file gives an error naming it; a state file that loads
// is written back byte for byte the same.
func FuzzStateLoad(f *testing.F) {
	root := f.TempDir()
	const id = "fuzz"
	dir := stateDir(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{stateFile, cgroupRefFile, hostroot.RecordFile} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		c, err := Load(root, id)
		if err != nil {
			if c != nil || errors.Is(err, ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, stateFile)) {
				t.Fatalf("Load: %+v, %v", c, err)
			}
		} else {
			// What state, list and the hooks read of a loaded record.
			// State looks at /proc for the recorded pid, reading only.
			if st := c.State(); st.ID != c.Rec.ID {
				t.Fatalf("state of %q says %q", c.Rec.ID, st.ID)
			}
			_, _ = c.hooks()
			var hs specs.State
			if err := json.Unmarshal(c.hookState(specs.StateStopped), &hs); err != nil || hs.Pid != 0 {
				t.Fatalf("hook state %+v, %v", hs, err)
			}
			want, err := json.Marshal(c.Rec)
			if err != nil {
				t.Fatalf("marshal a loaded record: %v", err)
			}
			if err := writeRecord(dir, c.Rec); err != nil {
				t.Fatal(err)
			}
			back, err := readRecord(dir)
			if err != nil {
				t.Fatalf("a loaded record, written back, does not load: %v", err)
			}
			if got, _ := json.Marshal(back); !bytes.Equal(got, want) {
				t.Fatalf("record changed in a write and read:\n%s\n%s", want, got)
			}
		}
		if ref, err := readCgroupRef(dir); err != nil {
			if ref != nil || !strings.Contains(err.Error(), filepath.Join(dir, cgroupRefFile)) {
				t.Fatalf("readCgroupRef: %+v, %v", ref, err)
			}
		}
		if hr, err := hostroot.Read(dir); err != nil {
			if hr != nil || !strings.Contains(err.Error(), hostroot.RecordFile) {
				t.Fatalf("hostroot.Read: %+v, %v", hr, err)
			}
		} else if !filepath.IsAbs(hr.Rootfs) || filepath.Clean(hr.Rootfs) == "/" || hr.MntID == 0 {
			t.Fatalf("hostroot.Read accepted %+v", hr)
		}
	})
}

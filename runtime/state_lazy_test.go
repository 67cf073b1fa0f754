package runtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A record read from state.json keeps its config as bytes until asked:
// written back untouched, read as hooks alone, decoded whole by Spec, and
// a config that is not a spec is a corrupt state for whoever asks for it.
func TestRecordConfigDecodedOnDemand(t *testing.T) {
	const hooked = `{"id":"a","pid":1,"config":{"ociVersion":"1.2.1","hooks":{"poststop":[{"path":"/bin/true"}]},"process":{"cwd":"/","args":["sh"]}}}`
	var r Record
	if err := json.Unmarshal([]byte(hooked), &r); err != nil {
		t.Fatal(err)
	}
	if r.config != nil {
		t.Fatal("config decoded at read")
	}
	h, err := r.Hooks()
	if err != nil || h == nil || len(h.Poststop) != 1 || h.Poststop[0].Path != "/bin/true" {
		t.Fatalf("hooks %+v, %v", h, err)
	}
	if r.config != nil {
		t.Fatal("Hooks decoded the whole config")
	}
	p, sc, err := r.ExecParts()
	if err != nil || p == nil || p.Args[0] != "sh" || sc != nil || r.config != nil {
		t.Fatalf("exec parts %+v %+v, %v (config decoded: %v)", p, sc, err, r.config != nil)
	}
	out, err := json.Marshal(&r)
	if err != nil || !strings.Contains(string(out), `"config":{"ociVersion":"1.2.1","hooks":{"poststop":[{"path":"/bin/true"}]}`) {
		t.Fatalf("written back: %s, %v", out, err)
	}
	s, err := r.Spec()
	if err != nil || s == nil || s.Process == nil || s.Process.Args[0] != "sh" {
		t.Fatalf("spec %+v, %v", s, err)
	}

	for _, bad := range []string{`{"id":"b","config":{"process":5}}`, `{"id":"b","config":{"hooks":[1]}}`} {
		var b Record
		if err := json.Unmarshal([]byte(bad), &b); err != nil {
			t.Fatalf("%s: read: %v", bad, err)
		}
		if _, err := b.Spec(); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: Spec: %v, want a corrupt state", bad, err)
		}
	}
	var b Record
	_ = json.Unmarshal([]byte(`{"id":"b","config":{"hooks":[1]}}`), &b)
	if _, err := b.Hooks(); !errors.Is(err, ErrCorruptState) {
		t.Errorf("Hooks of a config whose hooks are not hooks: %v", err)
	}

	var none Record
	if err := json.Unmarshal([]byte(`{"id":"c","config":null}`), &none); err != nil {
		t.Fatal(err)
	}
	if s, err := none.Spec(); s != nil || err != nil {
		t.Errorf("no config: %+v, %v", s, err)
	}
	if h, err := none.Hooks(); h != nil || err != nil {
		t.Errorf("no config: hooks %+v, %v", h, err)
	}
}

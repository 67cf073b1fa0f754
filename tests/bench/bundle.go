package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rungrt/rung/tests/fixture"
)

// bundles are the bundles every runtime uses: one whose process exits at
// once (for `run`), the same with an engine's seccomp profile, and one
// that stays up (for the lifecycle cycle).
type bundles struct {
	run, seccomp, cycle string
	seccompErr          error // why there is no seccomp bundle
}

func makeBundles(work, rungBin string) (bundles, error) {
	b := bundles{run: filepath.Join(work, "bundle-run"), cycle: filepath.Join(work, "bundle-cycle")}
	if err := makeBundle(b.run, rungBin, []string{"/bin/true"}); err != nil {
		return bundles{}, err
	}
	if err := makeBundle(b.cycle, rungBin, []string{"sleep", "1000"}); err != nil {
		return bundles{}, err
	}
	seccomp := filepath.Join(work, "bundle-seccomp")
	if err := makeBundle(seccomp, rungBin, []string{"/bin/true"}); err != nil {
		return bundles{}, err
	}
	b.seccompErr = editConfig(filepath.Join(seccomp, "config.json"), func(c map[string]any) error {
		var caps []string
		if p, ok := c["process"].(map[string]any); ok {
			if cs, ok := p["capabilities"].(map[string]any); ok {
				for _, v := range asSlice(cs["bounding"]) {
					caps = append(caps, fmt.Sprint(v))
				}
			}
		}
		sc, err := engineSeccomp(caps)
		if err != nil {
			return err
		}
		c["linux"].(map[string]any)["seccomp"] = sc
		return nil
	})
	if b.seccompErr == nil {
		b.seccomp = seccomp
	}
	return b, nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// makeBundle writes a busybox rootfs and rung's default config.json into
// dir, with process.args replaced by args.
func makeBundle(dir, rungBin string, args []string) error {
	if err := fixture.Mkdir755(dir); err != nil {
		return err
	}
	if err := fixture.Rootfs(filepath.Join(dir, "rootfs"), nil); err != nil {
		return err
	}
	if out, err := exec.Command(rungBin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %v: %s", rungBin, err, strings.TrimSpace(string(out)))
	}
	return editConfig(filepath.Join(dir, "config.json"), func(c map[string]any) error {
		proc, ok := c["process"].(map[string]any)
		if !ok {
			return fmt.Errorf("config.json has no process object")
		}
		proc["args"] = args
		// The template asks for a terminal, as runc's does; the benchmark
		// runs detached on plain stdio.
		proc["terminal"] = false
		// crun 1.8.1 refuses any ociVersion without "1.0" in it ("unknown
		// version specified"), and rung writes 1.2.1. Nothing in rung's
		// default config is newer than 1.0, so 1.0.2 (runc's) is still true.
		c["ociVersion"] = "1.0.2"
		return nil
	})
}

// editConfig rewrites a config.json through a generic map, so that fields
// this program does not know about survive unchanged.
func editConfig(path string, edit func(map[string]any) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if err := edit(c); err != nil {
		return err
	}
	data, err = json.MarshalIndent(c, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

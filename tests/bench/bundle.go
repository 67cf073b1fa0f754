package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const busybox = "/bin/busybox"

// bundles are the two bundles every runtime uses: one whose process exits
// at once (for `run`) and one that stays up (for the lifecycle cycle).
type bundles struct {
	run, cycle string
}

func makeBundles(work, rungBin string) (bundles, error) {
	if _, err := os.Stat(busybox); err != nil {
		return bundles{}, fmt.Errorf("%s missing: apt-get install busybox-static (%v)", busybox, err)
	}
	b := bundles{run: filepath.Join(work, "bundle-run"), cycle: filepath.Join(work, "bundle-cycle")}
	if err := makeBundle(b.run, rungBin, []string{"/bin/true"}); err != nil {
		return bundles{}, err
	}
	if err := makeBundle(b.cycle, rungBin, []string{"sleep", "1000"}); err != nil {
		return bundles{}, err
	}
	return b, nil
}

// makeBundle writes a busybox rootfs and rung's default config.json into
// dir, with process.args replaced by args.
func makeBundle(dir, rungBin string, args []string) error {
	if err := mkdir755(dir); err != nil {
		return err
	}
	if err := makeRootfs(filepath.Join(dir, "rootfs")); err != nil {
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
		// crun 1.8.1 refuses any ociVersion without "1.0" in it ("unknown
		// version specified"), and rung writes 1.2.1. Nothing in rung's
		// default config is newer than 1.0, so 1.0.2 (runc's) is still true.
		c["ociVersion"] = "1.0.2"
		return nil
	})
}

// makeRootfs builds a minimal busybox rootfs. The applet links are
// relative because `busybox --install -s` makes absolute ones, which point
// at the host's busybox until pivot_root and at nothing after it.
func makeRootfs(dir string) error {
	for _, d := range []string{"", "bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := mkdir755(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %v", busybox, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		// A link named busybox would replace the binary with a loop.
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return err
		}
	}
	return nil
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

// mkdir755 makes dir with mode 0755 whatever the umask.
func mkdir755(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

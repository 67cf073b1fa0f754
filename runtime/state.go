package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// Status is the OCI container status.
type Status string

// The statuses rung reports. The runtime spec's "creating" is not one, as
// in runc: a container has no state record until create has finished,
// and a command meanwhile finds its directory locked (errBeingCreated).
const (
	Created Status = "created"
	Running Status = "running"
	Paused  Status = "paused"
	Stopped Status = "stopped"
)

// Isolation is rung's reading of a container on the isolation ladder.
type Isolation struct {
	Rung       string   `json:"rung"`
	Namespaces []string `json:"namespaces"`
	Extras     []string `json:"extras"`
	Joined     []string `json:"joined,omitempty"` // entered by path, not created
	// Verified says the reading was checked on the live init at create
	// (libns.VerifyNew, VerifyJoined): each namespace differs from the
	// runtime's own, or is the one joined. Create fails otherwise, so a
	// record always holds true; the field stays because the state JSON
	// shows it and engines and tests read it. `rung verify` re-checks.
	Verified bool `json:"verified"`
	// HostProc: a proc mount without a pid namespace of its own shows
	// the host's processes (hostproc_linux.go).
	HostProc bool `json:"hostProc,omitempty"`
}

// Record is what state.json holds: enough to find and identify the
// container's init and to tear the container down.
type Record struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	StartTime   uint64            `json:"startTime"` // of pid, against pid reuse
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Isolation   Isolation         `json:"isolation"`
	// PidNS is set when the container has its own pid namespace: killing
	// its init then ends every process in it.
	PidNS bool `json:"pidNamespace"`
	// Cgroup is the container's cgroup, nil when it has none.
	Cgroup *CgroupRef `json:"cgroup,omitempty"`
	// config is the config as it was at create: start, exec and delete use
	// it (hooks, the process to base exec on, seccomp) even if the bundle
	// has changed since. It is read through Spec, Hooks or ExecParts only:
	// a record read from state.json keeps it as bytes (rawConfig) until
	// asked, so that no caller can take an undecoded config for none.
	config *specs.Spec
	// rawConfig is the config as read, not decoded yet. Decoding a whole
	// spec costs a fresh Go process about 0.8 ms (encoding/json's first
	// walk of some 80 spec types), and state, kill, list, pause and ps
	// never look at it; start and delete want its hooks, exec its process.
	rawConfig json.RawMessage
}

// recordFields is Record without its methods, for the codec below;
// encoding/json leaves its unexported config fields out.
type recordFields Record

// MarshalJSON writes the record with its config: the one given at create,
// or the bytes read when they were never decoded.
func (r Record) MarshalJSON() ([]byte, error) {
	var config any = r.config
	if r.config == nil && r.rawConfig != nil {
		config = r.rawConfig
	}
	return json.Marshal(struct {
		*recordFields
		Config any `json:"config"`
	}{(*recordFields)(&r), config})
}

// UnmarshalJSON reads all but the config, which it keeps as bytes.
func (r *Record) UnmarshalJSON(data []byte) error {
	in := struct {
		*recordFields
		Config json.RawMessage `json:"config"`
	}{recordFields: (*recordFields)(r)}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	r.config, r.rawConfig = nil, in.Config
	return nil
}

// Spec is the config recorded at create, decoded on first use; nil when
// none was recorded.
func (r *Record) Spec() (*specs.Spec, error) {
	if r.config == nil && !isNullJSON(r.rawConfig) {
		var s specs.Spec
		if err := r.decodeRaw(&s); err != nil {
			return nil, err
		}
		r.config, r.rawConfig = &s, nil
	}
	return r.config, nil
}

// Hooks are the recorded config's hooks, decoded alone when the config
// was not: start and delete need nothing else of it.
func (r *Record) Hooks() (*specs.Hooks, error) {
	if r.config != nil {
		return r.config.Hooks, nil
	}
	var only struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	if err := r.decodeRaw(&only); err != nil {
		return nil, err
	}
	return only.Hooks, nil
}

// ExecParts are what exec takes from the recorded config, decoded alone
// when the config was not: the process a new one is based on, and the
// seccomp profile.
func (r *Record) ExecParts() (*specs.Process, *specs.LinuxSeccomp, error) {
	if r.config != nil {
		var seccomp *specs.LinuxSeccomp
		if r.config.Linux != nil {
			seccomp = r.config.Linux.Seccomp
		}
		return r.config.Process, seccomp, nil
	}
	var only struct {
		Process *specs.Process `json:"process"`
		Linux   *struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := r.decodeRaw(&only); err != nil {
		return nil, nil, err
	}
	if only.Linux == nil {
		return only.Process, nil, nil
	}
	return only.Process, only.Linux.Seccomp, nil
}

// decodeRaw decodes the undecoded config, or the part of it v names, into
// v; without a config it leaves v as it is.
func (r *Record) decodeRaw(v any) error {
	if isNullJSON(r.rawConfig) {
		return nil
	}
	if err := json.Unmarshal(r.rawConfig, v); err != nil {
		return fmt.Errorf("%w: config: %v", ErrCorruptState, err)
	}
	return nil
}

func isNullJSON(b json.RawMessage) bool {
	return len(b) == 0 || string(b) == "null"
}

// State is the `rung state` output: the OCI state plus rung's isolation.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Isolation   *Isolation        `json:"isolation,omitempty"`
}

// ErrNotExist is the text engines match on for a missing container.
var ErrNotExist = errors.New("container does not exist")

// ErrCorruptState is a state file that cannot be read as one.
var ErrCorruptState = errors.New("corrupt state file")

func stateDir(root, id string) string { return filepath.Join(root, id) }

// writeRecord replaces state.json atomically: a reader sees the old file
// or the new one, never a torn write.
func writeRecord(dir string, r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func readRecord(dir string) (*Record, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorruptState, filepath.Join(dir, stateFile), err)
	}
	return &r, nil
}

// ociVersion is the runtime-spec version rung implements.
var ociVersion = specs.Version

// checkRoot refuses a state root that someone else could have planted or
// can write to: a symlink owned by another user (never followed), or a
// directory not owned by the caller or writable by group or others, where
// another user could plant a container's state directory.
func checkRoot(root string) error {
	fi, err := os.Lstat(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil // create makes it, 0700
	}
	if err != nil {
		return fmt.Errorf("state root: %w", err)
	}
	euid := uint32(os.Geteuid())
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSymlink != 0 {
		if st.Uid != euid {
			return fmt.Errorf("state root %s is a symlink owned by uid %d, not %d: refused, not followed", root, st.Uid, euid)
		}
		if fi, err = os.Stat(root); err != nil {
			return fmt.Errorf("state root: %w", err)
		}
		st = fi.Sys().(*syscall.Stat_t)
	}
	if st.Uid != euid && unix.Access(root, unix.W_OK|unix.X_OK) != nil {
		// Someone else's that we cannot use anyway (a user's rung with
		// root's /run/rung): the caller's own error says so, as runc's.
		return nil
	}
	return checkOwnDir("state root", root, fi, st, euid)
}

func checkOwnDir(what, path string, fi os.FileInfo, st *syscall.Stat_t, euid uint32) error {
	if !fi.IsDir() {
		return fmt.Errorf("%s %s is not a directory: refused", what, path)
	}
	if st.Uid != euid {
		return fmt.Errorf("%s %s is owned by uid %d, not %d: refused", what, path, st.Uid, euid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s %s is writable by others (mode %04o): refused", what, path, fi.Mode().Perm())
	}
	return nil
}

// checkStateDir refuses a container's state directory that is a symlink
// (never followed) or that is not the caller's own.
func checkStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("state directory %s is a symlink: refused, not followed", dir)
	}
	return checkOwnDir("state directory", dir, fi, fi.Sys().(*syscall.Stat_t), uint32(os.Geteuid()))
}

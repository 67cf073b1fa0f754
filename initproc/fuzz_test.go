package initproc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// FuzzMountOptions checks the mount option parser on arbitrary option
// lists (comma separated here): the last of two opposite options wins,
// each known option sets exactly its flag and attribute, unknown ones
// pass through to the filesystem in order, and parsing what the result
// says gives the same result (known options round-trip).
func FuzzMountOptions(f *testing.F) {
	for _, s := range [][2]string{
		{"proc", "nosuid,noexec,nodev"},
		{"tmpfs", "nosuid,strictatime,mode=755,size=65536k"},
		{"devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"mqueue", "nosuid,noexec,nodev"},
		{"sysfs", "nosuid,noexec,nodev,ro"},
		{"cgroup", "nosuid,noexec,nodev,relatime,ro"},
		{"bind", "rbind,ro,rprivate"},
		{"none", "bind,rw,nosymfollow,noatime,rslave"},
		{"tmpfs", "tmpcopyup,mode=1777,size=1g,rshared"},
		{"overlay", "lowerdir=/a:/b,upperdir=/u,workdir=/w,ro,rw"},
		{"ext4", "remount,ro,sync,dirsync,lazytime,iversion,mand,silent,defaults"},
		{"bind", "suid,dev,exec,diratime,async,nomand,loud,nolazytime,noiversion,symfollow,relatime"},
		{"bind", "rbind,rro,rnosuid,rdev,rexec,rnoatime,rsymfollow"},
		{"bind", "rrw,rsuid,rnodev,rnoexec,rnodiratime,rdiratime,rstrictatime,rnosymfollow"},
		{"", ",,"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, list string) {
		opts := strings.Split(list, ",")
		o := parseMountOptions(typ, opts)
		checkMountOptions(t, typ, opts, o)
		again := parseMountOptions(typ, canonicalOptions(o))
		if !equalMountOptions(o, again) {
			t.Fatalf("%q %q: %+v\nround trip through %q: %+v", typ, list, o, canonicalOptions(o), again)
		}
	})
}

func checkMountOptions(t *testing.T, typ string, opts []string, o mountOptions) {
	t.Helper()
	// The last mention of a flag, as itself or its opposite, decides it.
	for name, fo := range flagOpts {
		if fo.clear || fo.flag == 0 {
			continue
		}
		last := ""
		for _, opt := range opts {
			if g, ok := flagOpts[opt]; ok && g.flag == fo.flag {
				last = opt
			}
		}
		set := last != "" && !flagOpts[last].clear
		if (o.flags&fo.flag != 0) != set {
			t.Fatalf("%q: flag of %s is %v, last said %q", opts, name, !set, last)
		}
		if fo.attr == 0 {
			continue
		}
		cleared := last != "" && flagOpts[last].clear
		if (o.attrSet&fo.attr != 0) != set || (o.attrClr&fo.attr != 0) != cleared {
			t.Fatalf("%q: attribute of %s: set %#x clear %#x, last said %q", opts, name, o.attrSet, o.attrClr, last)
		}
	}
	lastAtime, lastRecAtime, lastProp := "", "", ""
	bind, rec, copyup := typ == "bind", false, false
	var data []string
	for _, opt := range opts {
		switch opt {
		case "bind":
			bind = true
			continue
		case "rbind":
			bind, rec = true, true
			continue
		case "tmpcopyup":
			copyup = true
			continue
		}
		if _, ok := atimeOpts[opt]; ok {
			lastAtime = opt
		} else if _, ok := recursiveOpts[opt]; ok {
		} else if _, ok := recursiveAtimeOpts[opt]; ok {
			lastRecAtime = opt
		} else if _, ok := propagationOpts[opt]; ok {
			lastProp = opt
		} else if _, ok := flagOpts[opt]; !ok {
			data = append(data, opt)
		}
	}
	const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	if lastAtime == "" {
		if o.flags&atimeFlags != 0 || (o.attrSet|o.attrClr)&unix.MOUNT_ATTR__ATIME != 0 {
			t.Fatalf("%q: atime set with no atime option: %+v", opts, o)
		}
	} else {
		a := atimeOpts[lastAtime]
		if o.flags&atimeFlags != a.flag || o.attrSet&unix.MOUNT_ATTR__ATIME != a.attr || o.attrClr&unix.MOUNT_ATTR__ATIME != unix.MOUNT_ATTR__ATIME {
			t.Fatalf("%q: atime: %+v, last said %q", opts, o, lastAtime)
		}
	}
	// No attribute other than the atime field is both set and cleared.
	if o.attrSet&o.attrClr&^unix.MOUNT_ATTR__ATIME != 0 {
		t.Fatalf("%q: attributes %#x both set and cleared", opts, o.attrSet&o.attrClr)
	}
	checkRecursiveOptions(t, opts, o, lastRecAtime)
	if o.propagation != propagationOpts[lastProp] {
		t.Fatalf("%q: propagation %#x, last said %q", opts, o.propagation, lastProp)
	}
	if o.bind != bind || o.recursive != rec || o.tmpcopyup != copyup {
		t.Fatalf("%q: bind %v recursive %v tmpcopyup %v", opts, o.bind, o.recursive, o.tmpcopyup)
	}
	if strings.Join(o.data, "\x00") != strings.Join(data, "\x00") || len(o.data) != len(data) {
		t.Fatalf("%q: data %q, want %q", opts, o.data, data)
	}
}

// checkRecursiveOptions: the recursive forms (rro, rnosuid, ...) change
// only the recursive attributes, the last of two opposites winning, and
// the last recursive atime option sets the whole atime field.
func checkRecursiveOptions(t *testing.T, opts []string, o mountOptions, lastRecAtime string) {
	t.Helper()
	for name, r := range recursiveOpts {
		if r.clear {
			continue
		}
		last := ""
		for _, opt := range opts {
			if g, ok := recursiveOpts[opt]; ok && g.attr == r.attr {
				last = opt
			}
		}
		set := last != "" && !recursiveOpts[last].clear
		cleared := last != "" && recursiveOpts[last].clear
		if (o.recAttrSet&r.attr != 0) != set || (o.recAttrClr&r.attr != 0) != cleared {
			t.Fatalf("%q: recursive attribute of %s: set %#x clear %#x, last said %q", opts, name, o.recAttrSet, o.recAttrClr, last)
		}
	}
	const atime = unix.MOUNT_ATTR__ATIME
	if lastRecAtime == "" {
		if (o.recAttrSet|o.recAttrClr)&atime != 0 {
			t.Fatalf("%q: recursive atime set with no recursive atime option: %+v", opts, o)
		}
	} else if o.recAttrSet&atime != recursiveAtimeOpts[lastRecAtime] || o.recAttrClr&atime != atime {
		t.Fatalf("%q: recursive atime: %+v, last said %q", opts, o, lastRecAtime)
	}
}

// canonicalOptions spells parsed options back as an option list.
func canonicalOptions(o mountOptions) []string {
	var out []string
	if o.bind {
		out = append(out, "bind")
	}
	if o.recursive {
		out = append(out, "rbind")
	}
	if o.tmpcopyup {
		out = append(out, "tmpcopyup")
	}
	for name, fo := range flagOpts {
		switch {
		case fo.flag == 0:
		case !fo.clear && o.flags&fo.flag != 0:
			out = append(out, name)
		case fo.clear && fo.attr != 0 && o.attrClr&fo.attr != 0:
			out = append(out, name)
		}
	}
	for name, a := range atimeOpts {
		if o.flags&a.flag != 0 {
			out = append(out, name)
		}
	}
	for name, p := range propagationOpts {
		if o.propagation == p && p != 0 {
			out = append(out, name)
		}
	}
	for name, r := range recursiveOpts {
		if (!r.clear && o.recAttrSet&r.attr != 0) || (r.clear && o.recAttrClr&r.attr != 0) {
			out = append(out, name)
		}
	}
	if o.recAttrClr&unix.MOUNT_ATTR__ATIME != 0 {
		for _, name := range []string{"rnoatime", "rrelatime", "rstrictatime"} {
			if o.recAttrSet&unix.MOUNT_ATTR__ATIME == recursiveAtimeOpts[name] {
				out = append(out, name)
			}
		}
	}
	return append(out, o.data...)
}

func equalMountOptions(a, b mountOptions) bool {
	return a.flags == b.flags && a.attrSet == b.attrSet && a.attrClr == b.attrClr &&
		a.recAttrSet == b.recAttrSet && a.recAttrClr == b.recAttrClr &&
		a.propagation == b.propagation && a.bind == b.bind && a.recursive == b.recursive &&
		a.tmpcopyup == b.tmpcopyup && strings.Join(a.data, "\x00") == strings.Join(b.data, "\x00") &&
		len(a.data) == len(b.data)
}

// FuzzMessages decodes arbitrary bytes as each message of the
// parent↔child protocol, the way each side reads them: init's Config then
// the runtime's messages, the exec'd process' ExecConfig, the runtime's
// stream of init's messages. Nothing may panic; a Config init accepts must
// carry what init then reads without checking (the process, linux, the
// hook state); a message Receive accepts has a known kind, and a message
// with no type or an unknown one is an error, never taken as a message;
// and every message must mean the same after being re-sent (encode,
// decode, encode).
func FuzzMessages(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		var cfg Config
		if dec.Decode(&cfg) == nil {
			resend(t, &cfg, &Config{})
			checkInitConfig(t, &cfg)
			receiveAll(t, dec)
		}

		var ec ExecConfig
		if json.NewDecoder(bytes.NewReader(data)).Decode(&ec) == nil {
			resend(t, &ec, &ExecConfig{})
		}

		receiveAll(t, json.NewDecoder(bytes.NewReader(data)))
	})
}

// receiveAll reads messages as either side does until the first error,
// and checks each one.
func receiveAll(t *testing.T, dec *json.Decoder) {
	t.Helper()
	for {
		raw := dec.InputOffset()
		m, err := Receive(dec)
		if err != nil {
			return
		}
		if _, ok := decoders[m.Kind()]; !ok || m.Kind() == "" {
			t.Fatalf("message at %d: kind %q accepted", raw, m.Kind())
		}
		if f, ok := m.(Failed); ok && f.Error == "" {
			t.Fatalf("message at %d: Failed without text accepted", raw)
		}
		resendMessage(t, m)
	}
}

// resendMessage checks that a message reads the same once sent again.
func resendMessage(t *testing.T, m Message) {
	t.Helper()
	var first, second bytes.Buffer
	if err := Send(json.NewEncoder(&first), m); err != nil {
		t.Fatalf("send %T: %v", m, err)
	}
	again, err := Receive(json.NewDecoder(bytes.NewReader(first.Bytes())))
	if err != nil {
		t.Fatalf("receive %T %s: %v", m, first.Bytes(), err)
	}
	if err := Send(json.NewEncoder(&second), again); err != nil {
		t.Fatalf("send %T again: %v", m, err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatalf("%T changed when re-sent:\n%s\n%s", m, first.Bytes(), second.Bytes())
	}
}

// checkInitConfig does, for a Config init accepts, the pure work init
// does with it before and around the kernel work: namespace kinds, mount
// options, the hook state.
func checkInitConfig(t *testing.T, cfg *Config) {
	t.Helper()
	if cfg.check() != nil {
		return // setup refuses it before anything else
	}
	s := cfg.Spec
	_, _ = seccompFor(s.Linux.Seccomp, cfg.SeccompBPF) // setup's first read of the config
	for _, m := range s.Mounts {
		parseMountOptions(m.Type, m.Options)
	}
	if s.Hooks != nil {
		var st specs.State
		if err := json.Unmarshal(cfg.hookState(specs.StateCreated), &st); err != nil || st.Status != specs.StateCreated {
			t.Fatalf("hook state %+v, %v", st, err)
		}
	}
}

// resend checks that v, decoded, reads the same once encoded again: what
// one side sends is what the other side gets.
func resend[T any](t *testing.T, v *T, fresh *T) {
	t.Helper()
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	if err := json.Unmarshal(first, fresh); err != nil {
		t.Fatalf("decode %T %s: %v", v, first, err)
	}
	second, err := json.Marshal(fresh)
	if err != nil {
		t.Fatalf("encode %T again: %v", v, err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("%T changed when re-sent:\n%s\n%s", v, first, second)
	}
}

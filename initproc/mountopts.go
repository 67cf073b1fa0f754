package initproc

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is a config mount's options, split the way the kernel
// wants them.
type mountOptions struct {
	flags   uintptr // mount(2) flags for a new filesystem
	attrSet uint64  // mount_setattr(2) attributes for a bind mount's top mount
	attrClr uint64
	// recAttrSet, recAttrClr: the recursive forms (rro, rnosuid, ...),
	// for every mount of the tree, with AT_RECURSIVE.
	recAttrSet  uint64
	recAttrClr  uint64
	propagation uintptr // MS_PRIVATE, MS_SLAVE, ... with MS_REC for r*
	bind        bool
	recursive   bool
	// tmpcopyup (runc's and crun's extension): a tmpfs starts with a copy
	// of what the directory it covers held.
	tmpcopyup bool
	data      []string // filesystem-specific options, passed through
	// slave is no option of the config's: init sets it on every bind
	// copy it makes in the host's mount namespace, which bindTree then
	// makes a slave before attaching it (see package hostroot).
	slave bool
}

type flagOpt struct {
	clear bool
	flag  uintptr
	attr  uint64
}

var flagOpts = map[string]flagOpt{
	"ro":          {false, unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	"rw":          {true, unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	"suid":        {true, unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	"nodev":       {false, unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	"dev":         {true, unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	"noexec":      {false, unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	"nodiratime":  {false, unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	"diratime":    {true, unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	"sync":        {false, unix.MS_SYNCHRONOUS, 0},
	"async":       {true, unix.MS_SYNCHRONOUS, 0},
	"dirsync":     {false, unix.MS_DIRSYNC, 0},
	"mand":        {false, unix.MS_MANDLOCK, 0},
	"nomand":      {true, unix.MS_MANDLOCK, 0},
	"silent":      {false, unix.MS_SILENT, 0},
	"loud":        {true, unix.MS_SILENT, 0},
	"lazytime":    {false, unix.MS_LAZYTIME, 0},
	"nolazytime":  {true, unix.MS_LAZYTIME, 0},
	"iversion":    {false, unix.MS_I_VERSION, 0},
	"noiversion":  {true, unix.MS_I_VERSION, 0},
	"remount":     {false, unix.MS_REMOUNT, 0},
	"defaults":    {false, 0, 0},
	"nosymfollow": {false, unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"symfollow":   {true, unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recursiveOpts are runtime-spec 1.1's recursive mount options: set by
// mount_setattr(2) with AT_RECURSIVE on every mount of the tree, where the
// plain forms, as with runc, only change an rbind's top mount.
var recursiveOpts = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recursiveAtimeOpts: the atime attributes are one field, cleared as a
// whole (MOUNT_ATTR__ATIME) before one is set; relatime is its zero.
var recursiveAtimeOpts = map[string]uint64{
	"rnoatime":       unix.MOUNT_ATTR_NOATIME,
	"rrelatime":      unix.MOUNT_ATTR_RELATIME,
	"rstrictatime":   unix.MOUNT_ATTR_STRICTATIME,
	"ratime":         unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":    unix.MOUNT_ATTR_STRICTATIME,
	"rnostrictatime": unix.MOUNT_ATTR_RELATIME,
}

var atimeOpts = map[string]struct {
	flag uintptr
	attr uint64
}{
	"noatime":     {unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
	"relatime":    {unix.MS_RELATIME, unix.MOUNT_ATTR_RELATIME},
	"strictatime": {unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
}

var propagationOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

func parseMountOptions(mountType string, opts []string) mountOptions {
	var o mountOptions
	if mountType == "bind" {
		o.bind = true
	}
	for _, opt := range opts {
		switch opt {
		case "bind":
			o.bind = true
			continue
		case "rbind":
			o.bind, o.recursive = true, true
			continue
		case "tmpcopyup":
			o.tmpcopyup = true
			continue
		}
		if f, ok := flagOpts[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.attrSet &^= f.attr
				o.attrClr |= f.attr
			} else {
				o.flags |= f.flag
				o.attrSet |= f.attr
				o.attrClr &^= f.attr
			}
			continue
		}
		if a, ok := atimeOpts[opt]; ok {
			o.flags &^= unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
			o.flags |= a.flag
			o.attrSet = o.attrSet&^unix.MOUNT_ATTR__ATIME | a.attr
			o.attrClr |= unix.MOUNT_ATTR__ATIME
			continue
		}
		if r, ok := recursiveOpts[opt]; ok {
			if r.clear {
				o.recAttrSet &^= r.attr
				o.recAttrClr |= r.attr
			} else {
				o.recAttrSet |= r.attr
				o.recAttrClr &^= r.attr
			}
			continue
		}
		if a, ok := recursiveAtimeOpts[opt]; ok {
			o.recAttrSet = o.recAttrSet&^unix.MOUNT_ATTR__ATIME | a
			o.recAttrClr |= unix.MOUNT_ATTR__ATIME
			continue
		}
		if p, ok := propagationOpts[opt]; ok {
			o.propagation = p
			continue
		}
		o.data = append(o.data, opt)
	}
	return o
}

func (o mountOptions) dataString() string { return strings.Join(o.data, ",") }

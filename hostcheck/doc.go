// Package hostcheck finds out what this host can give a container runtime,
// for `rung check`: which cgroup layout and controllers it has, whether
// systemd can be reached over D-Bus, who may create user namespaces, time
// namespaces, seccomp, the new mount API, pidfds and CLONE_INTO_CGROUP, and
// from all of that which rungs of the isolation ladder (libns.Rung) root
// and an unprivileged user can get here. Operators and engines run it
// before choosing a runtime.
//
// Every answer is asked of the kernel, not inferred from its version:
//   - each namespace kind is created in a throwaway child (a clone that
//     execs the empty path, fails with ENOENT and exits at once, so
//     nothing is left); an unprivileged user's are created together with
//     a new user namespace, the only way it can, by rung re-executed as
//     that user (ProbeArg) without capabilities or groups;
//   - the mount API calls are made with a flag bit no kernel defines, a
//     bad fd and a NULL path, which the kernel rejects before doing
//     anything: EINVAL proves the call exists, ENOSYS that it does not;
//   - CLONE_INTO_CGROUP clones a child into the caller's own cgroup2
//     cgroup, which moves nothing;
//   - systemd is asked for its Version over the system bus, its private
//     socket (root) or the caller's user bus, each within a second.
//
// The pure decisions (Ladder, the errno readings, the cgroup mode from
// mountinfo, /etc/subuid) are in report.go and unit-tested without root.
//
// # JSON (rung check --format json)
//
// The field names are stable; new fields may be added. A probe is
// {"state": "yes"|"no"|"unknown", "reason": "..."}: unknown means not
// asked (a non-root caller cannot probe root's namespaces) or not
// understood, and every decision that depends on it fails closed.
//
//	kernel                 uname release
//	caller                 {uid, root, user}: who ran the check
//	cgroup.mode            "unified" | "hybrid" | "legacy" | "none"
//	cgroup.v2              null, or {mountpoint, controllers (root
//	                       cgroup.controllers), subtreeControl (root
//	                       cgroup.subtree_control: what is delegated to
//	                       children), own (the caller's cgroup),
//	                       ownControllers (what is delegated to it)}
//	cgroup.v1              [{mountpoint, controllers}], one per hierarchy
//	systemd                {pid1 (its command name), booted
//	                       (/run/systemd/system exists), reachable (state:
//	                       the system instance answered), systemBus,
//	                       private, userBus}; each bus is a probe with
//	                       address and, when it answered, version
//	userNamespaces         {maxUserNamespaces, unprivilegedUsernsClone
//	                       (Debian), apparmorRestrictUnprivilegedUserns
//	                       (Ubuntu): null when the kernel lacks the knob;
//	                       limits: {kind: user.max_<kind>_namespaces};
//	                       subordinateIds: {user, uids, gids ([{start,
//	                       count}] from /etc/subuid, /etc/subgid),
//	                       newuidmap, newgidmap ({path, privileged}),
//	                       multiRange (probe)}}
//	seccomp                {kernel (probe), actions (actions_avail),
//	                       userNotif (probe), libseccomp (version),
//	                       libseccompApi}
//	syscalls               probes: openTree, moveMount, mountSetattr,
//	                       statmount, pidfdOpen, clone3, cloneIntoCgroup
//	root, unprivileged     {user, uid, namespaces: {OCI kind: probe},
//	                       rungs: [{rung, state, reason}] for none,
//	                       standard, strict, quantum in that order,
//	                       highest: the highest possible rung, "" if none}
//	notes                  [string]: what the report cannot say in fields
//
// A rung is possible when every namespace it requires can be created (for
// an unprivileged user, inside a new user namespace) and the kernel has the
// calls every rung start needs: open_tree, move_mount, mount_setattr and
// pidfd_open.
package hostcheck

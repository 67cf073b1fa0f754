// Package hostroot is rung's design for a container without a mount
// namespace of its own.
//
// Such a container inherits the host's mount namespace (runtime spec: an
// absent namespace type is inherited), so init makes its mounts there.
// They must neither reach the rest of the host while the container runs
// nor outlive it (crun leaves them on the host). So:
//
//   - Before init starts, the runtime stacks a copy of the rootfs on the
//     rootfs (Attach), every mount of it a slave, and records it in the
//     state directory (RecordFile) before it is attached, so it is never
//     on the mount table unrecorded. A host-wide registry refuses a second
//     container on the same rootfs, whatever its --root.
//   - Init checks it is on that copy (CheckRoot), mounts only inside it,
//     and makes each bind copy a slave before attaching it: a copy of a
//     shared mount joins its peer group (the kernel's clone_mnt), so a
//     mount later made below it would appear on the host, and unmounting
//     it at delete would propagate to the host's own mounts. It chroots
//     into the copy, as pivot_root would swap the host's own root.
//   - exec finds the copy from the record, not from init's mount
//     namespace now, and checks the container's root is still its root
//     (Copy.IsRootOf): init may have unshared a namespace of its own, or
//     chroot'ed elsewhere.
//   - delete, a failed create and the removal of a killed create's
//     leftovers detach that one copy (Detach), and with it everything
//     below it, and nothing else: not the rootfs' own mount (an engine's
//     overlay), not what was mounted below the rootfs before create. A
//     mount is never unmounted by path: mount ids (never-reused ones from
//     Linux 6.8) tell the copy from a later mount in its place.
//
// The runtime uses Attach, Has, Read and Detach; init uses CheckRoot.
// The package holds no mutable state: everything it knows is in the
// record and on the mount table.
package hostroot

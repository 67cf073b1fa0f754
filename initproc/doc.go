// Package initproc is the child side of a container: `rung init`, started
// by the runtime inside the container's new namespaces, and `rung nsexec`,
// the process `rung exec` starts in a running container's namespaces.
// init builds the root filesystem, sets up the process (hostname, rlimits,
// user, capabilities, no_new_privs), reports readiness, waits for
// `rung start` on exec.fifo, and execs the user process, which stays
// PID 1. Both end in the same finish (finish_linux.go).
//
// # Protocol
//
// The runtime and the child talk over one socket (fd SyncFd). The first
// message is the runtime's Config (create) or ExecConfig (exec); after it
// each message is one JSON line {"type": Kind, "body": {...}}, one Go type
// per Kind (protocol.go). A message with no type, an unknown type, or a
// type not expected at that point is an error for the reader, never
// success. Three answers carry fds and are one byte with SCM_RIGHTS
// instead of JSON ('F'/'E' bind sources, 'S' notify fd).
//
// create (rung create → rung init):
//
//	runtime                                       init
//	   |  clone/exec `rung init` in namespaces      |
//	   |-- [rootless: newuidmap, newgidmap] '\n' -->|  re-exec as the namespace's root
//	   |-- Config{awaitCgroup} -------------------->|  decode it
//	   |  move init into its cgroup                 |
//	   |-- CgroupJoined --------------------------->|  check the config
//	   |<---------------------- BindSourcesRequest -|  (Config.BindSources)
//	   |-- 'F' + fds, or 'E' ---------------------->|  mount them
//	   |<--------------------- RuntimeHooksRequest -|  (prestart, createRuntime hooks)
//	   |  run the hooks                             |
//	   |-- HooksDone ------------------------------>|  createContainer hooks, pivot_root
//	   |<-------------------------- SeccompFdOffer -|  (linux.seccomp.listenerPath)
//	   |-- SeccompFdAccept ------------------------>|
//	   |<------------------------- 'S' + notify fd -|
//	   |  send the fd to the agent                  |
//	   |-- SeccompFdPassed ------------------------>|
//	   |<- Ready{warnings, notes} or Failed{error} -|
//	   |  verify namespaces, write state.json       |
//	   |-- Release -------------------------------->|  close the socket and the log,
//	   |                                            |  wait on exec.fifo
//
// exec (rung exec → rung nsexec):
//
//	runtime                                       process
//	   |  exec `rung nsexec`: the constructor joins |
//	   |<------------- pid, on the pid pipe (fd 4) -|
//	   |  verify namespaces, join the cgroup        |
//	   |-- ExecConfig ----------------------------->|  finish
//	   |<------ SeccompFdOffer ... SeccompFdPassed -|  (as in create)
//	   |<--------------------------- Failed{error} -|  then exit 127
//	   |<---- end-of-file: exec'd (CLOEXEC socket) -|
//
// Config comes before the attach only when there is one to make (init
// was not cloned into its cgroup, as on cgroup v2): then awaitCgroup is
// set, and init waits for CgroupJoined before anything but decoding.
//
// On error: the child sends Failed with the error text (init exits 1, the
// exec'd process 127) and sends nothing else. The runtime, on Failed,
// end-of-file before Ready, a JSON error or an unexpected message, kills
// and reaps the child and reports the error; create also removes the
// cgroup and the state directory. The child that reads end-of-file or an
// unexpected message where it waits (CgroupJoined, HooksDone, SeccompFdAccept,
// SeccompFdPassed, Release) exits without running anything, so a runtime
// killed mid-create leaves no container process behind.
package initproc

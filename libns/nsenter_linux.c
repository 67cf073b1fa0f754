// The one part of rung that runs before the Go runtime: joining existing
// namespaces. A Go process is multi-threaded before main, and the kernel
// lets only a single-threaded process setns into a user namespace (and
// time and mount namespaces are awkward for the same reason), so this
// constructor does it first. It makes no decision: the runtime opened and
// checked every fd, and the environment says what to join. See join.go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_NS 16

static void die(const char *what, int fd) {
	int err = errno;
	dprintf(2, "rung nsenter: %s (fd %d): %s\n", what, fd, strerror(err));
	_exit(1);
}

// set_time_offsets writes the runtime's linux.timeOffsets, already in the
// kernel's "clock secs nanosecs" lines, in one write.
static void set_time_offsets(const char *offsets) {
	if (offsets == NULL || *offsets == '\0')
		return;
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /proc/self/timens_offsets", -1);
	size_t len = strlen(offsets);
	if (write(fd, offsets, len) != (ssize_t)len)
		die("write linux.timeOffsets", fd);
	close(fd);
}

static int join(int fd, int type) {
	if (setns(fd, type) < 0)
		die("setns", fd);
	close(fd);
	return 0;
}

// join_one joins one namespace; after a user namespace it becomes that
// namespace's root: the caller's uid is not mapped there when it is the
// host's root, and then files created from here on (mount targets,
// device nodes) fail with EOVERFLOW and exec drops every capability.
static void join_one(int fd, int type, int *must_fork) {
	join(fd, type);
	if (type == CLONE_NEWPID || type == CLONE_NEWTIME)
		*must_fork = 1;
	if (type != CLONE_NEWUSER)
		return;
	// EPERM: a rootless container's namespace has setgroups denied.
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		die("setgroups", -1);
	if (setresgid(0, 0, 0) < 0)
		die("setresgid", -1);
	if (setresuid(0, 0, 0) < 0)
		die("setresuid", -1);
}

// _RUNG_NSENTER="FD:TYPE,FD:TYPE,...;PIDFD;UNSHARE" with TYPE the
// CLONE_NEW* value and UNSHARE the CLONE_NEW* flags to create after the
// joins (inside a joined user namespace, so it owns them). When a pid or
// time namespace is joined or created, the process forks, because those
// apply to children only; the parent writes the child's pid (as the
// runtime sees it) to PIDFD and exits, the child goes on. A new time
// namespace's offsets come in _RUNG_TIMENS_OFFSETS. Without a fork the
// process writes its own pid there once it has joined.
__attribute__((constructor)) static void rung_nsenter(void) {
	const char *env = getenv("_RUNG_NSENTER");
	if (env == NULL)
		return;
	// CVE-2016-9962: nothing in the joined namespaces may ptrace this
	// process or read its fds while it still holds the runtime's.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("prctl(PR_SET_DUMPABLE)", -1);

	int fds[MAX_NS], types[MAX_NS], n = 0, pidfd = -1, unshare_flags = 0;
	// Three fields, the first possibly empty: split by hand, as strtok
	// would skip an empty one.
	char *spec = strdup(env), *save = NULL, *p;
	char *list = spec;
	char *pidpart = strchr(list, ';');
	if (pidpart == NULL)
		die("malformed _RUNG_NSENTER", -1);
	*pidpart++ = '\0';
	char *unsharepart = strchr(pidpart, ';');
	if (unsharepart != NULL)
		*unsharepart++ = '\0';
	pidfd = atoi(pidpart);
	if (unsharepart != NULL)
		unshare_flags = atoi(unsharepart);
	for (p = strtok_r(list, ",", &save); p != NULL && n < MAX_NS; p = strtok_r(NULL, ",", &save)) {
		if (sscanf(p, "%d:%d", &fds[n], &types[n]) != 2)
			die("malformed _RUNG_NSENTER", -1);
		n++;
	}
	free(spec);
	unsetenv("_RUNG_NSENTER");

	int must_fork = 0;
	// Root joins everything but the user namespace first, while it still
	// has its privileges over all of them (a host namespace among them),
	// and the user namespace last. A rootless caller has no privilege
	// but the one the container's user namespace gives it over the
	// namespaces that namespace owns: it joins the user namespace first.
	int user_first = geteuid() != 0;
	for (int pass = 0; pass < 2; pass++) {
		int want_user = (pass == 0) == user_first;
		for (int i = 0; i < n; i++) {
			if ((types[i] == CLONE_NEWUSER) == want_user)
				join_one(fds[i], types[i], &must_fork);
		}
	}

	if (unshare_flags != 0) {
		if (unshare(unshare_flags) < 0)
			die("unshare", -1);
		if (unshare_flags & CLONE_NEWPID)
			must_fork = 1;
		// A new time namespace takes its offsets before any process is in
		// it, and only the child forked below enters it.
		if (unshare_flags & CLONE_NEWTIME) {
			set_time_offsets(getenv("_RUNG_TIMENS_OFFSETS"));
			must_fork = 1;
		}
	}
	unsetenv("_RUNG_TIMENS_OFFSETS");
	if (!must_fork) {
		// Report anyway: the runtime verifies the joins only after this
		// line, and would otherwise race this constructor.
		if (pidfd >= 0) {
			if (dprintf(pidfd, "%d\n", getpid()) < 0)
				die("report pid", pidfd);
			close(pidfd);
		}
		return;
	}
	pid_t child = fork();
	if (child < 0)
		die("fork", -1);
	if (child > 0) {
		if (pidfd < 0 || dprintf(pidfd, "%d\n", child) < 0)
			die("report child pid", pidfd);
		_exit(0);
	}
	if (pidfd >= 0)
		close(pidfd);
}

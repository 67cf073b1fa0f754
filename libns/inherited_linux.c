// Which fds the caller really passed. --preserve-fds N hands fds 3 ..
// 3+N-1 on to the container, but by the time the command runs the Go
// runtime and rung itself have opened files of their own (the host's
// cgroup cpu files for GOMAXPROCS, the state directory), and a number the
// caller left closed may be one of them: a host directory fd in the
// container is CVE-2024-21626 again. So this constructor, which runs
// before the Go runtime, records which of those fds were open at start.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "inherited_linux.h"

static unsigned char inherited[RUNG_MAX_INHERITED];

// from_proc_fd reads /proc/self/fd: a handful of system calls, where asking
// each fd with fcntl is 1024 of them (about 150 us) in every rung process.
// Unlike poll's POLLNVAL it also lists O_PATH fds. Returns -1 without a
// procfs.
static int from_proc_fd(void) {
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || fd == self)
			continue;
		if (fd >= 3 && fd < 3 + RUNG_MAX_INHERITED)
			inherited[fd - 3] = 1;
	}
	closedir(d);
	return 0;
}

__attribute__((constructor)) static void rung_record_inherited(int argc, char **argv) {
	// init and the exec'd process hold only fds the runtime gave them:
	// nothing there is asked about.
	if (argc > 1 && (strcmp(argv[1], "init") == 0 || strcmp(argv[1], "nsexec") == 0))
		return;
	if (from_proc_fd() == 0)
		return;
	for (int i = 0; i < RUNG_MAX_INHERITED; i++)
		inherited[i] = fcntl(3 + i, F_GETFD) >= 0;
}

int rung_fd_inherited(int fd) {
	if (fd < 3 || fd >= 3 + RUNG_MAX_INHERITED)
		return 0;
	return inherited[fd - 3];
}

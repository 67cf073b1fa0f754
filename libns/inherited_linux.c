// Which fds the caller really passed. --preserve-fds N hands fds 3 ..
// 3+N-1 on to the container, but by the time the command runs the Go
// runtime and rung itself have opened files of their own (the host's
// cgroup cpu files for GOMAXPROCS, the state directory), and a number the
// caller left closed may be one of them: a host directory fd in the
// container is CVE-2024-21626 again. So this constructor, which runs
// before the Go runtime, records which of those fds were open at start.
#define _GNU_SOURCE
#include <fcntl.h>

#include "inherited_linux.h"

static unsigned char inherited[RUNG_MAX_INHERITED];

__attribute__((constructor)) static void rung_record_inherited(void) {
	for (int i = 0; i < RUNG_MAX_INHERITED; i++)
		inherited[i] = fcntl(3 + i, F_GETFD) >= 0;
}

int rung_fd_inherited(int fd) {
	if (fd < 3 || fd >= 3 + RUNG_MAX_INHERITED)
		return 0;
	return inherited[fd - 3];
}

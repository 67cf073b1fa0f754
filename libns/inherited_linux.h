// The fds 3 .. 3+RUNG_MAX_INHERITED-1 are recorded; --preserve-fds allows
// at most 1000.
#define RUNG_MAX_INHERITED 1024

int rung_fd_inherited(int fd);

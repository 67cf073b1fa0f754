package libns

// #include "inherited_linux.h"
import "C"

// Inherited reports whether fd was open when this process started, before
// the Go runtime opened anything: only such an fd was passed by the
// caller and may go on to a container (--preserve-fds). It is recorded by
// the constructor in inherited_linux.c.
func Inherited(fd int) bool {
	return C.rung_fd_inherited(C.int(fd)) != 0
}

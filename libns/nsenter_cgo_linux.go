package libns

// Importing "C" links nsenter_linux.c, whose constructor runs in every
// rung process before the Go runtime and acts only when _RUNG_NSENTER is
// set (see EnterEnv).

// #cgo CFLAGS: -Wall -Werror
import "C"

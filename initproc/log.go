package initproc

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// LogLine is one line init (or exec's process) writes on its log pipe; the
// runtime writes it to its own log (--log, --log-format) at that level, so
// `--debug` shows the child's set-up stages as runc's does.
type LogLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// logPipe is the write end of the log pipe, nil when the runtime does not
// log at debug level (it then passes none).
var logPipe *os.File

// openLog takes over fd as the log pipe. It is made close-on-exec at once:
// neither a hook nor the container process may inherit it.
func openLog(fd int) {
	if fd <= 0 {
		return
	}
	unix.CloseOnExec(fd)
	logPipe = os.NewFile(uintptr(fd), "log")
}

// debugf logs one set-up stage at debug level.
func debugf(format string, args ...any) {
	if logPipe == nil {
		return
	}
	line, _ := json.Marshal(LogLine{Level: "debug", Msg: fmt.Sprintf(format, args...)})
	if _, err := logPipe.Write(append(line, '\n')); err != nil {
		// The runtime stopped reading: log nothing more.
		logPipe.Close()
		logPipe = nil
	}
}

// closeLog ends the log: the runtime reads end-of-file and stops waiting.
func closeLog() {
	if logPipe != nil {
		logPipe.Close()
		logPipe = nil
	}
}

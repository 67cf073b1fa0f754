package runtime

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/rungrt/rung/initproc"
)

// childLog forwards the lines a child (init, or exec's process) writes on
// its log pipe to the runtime's log, at their own level, as runc relays
// its init's: `--debug --log F` then shows the child's set-up stages, in
// text or json. It exists only while the runtime logs at debug level.
type childLog struct {
	w    *os.File // the child's end; nil when not logging
	done chan struct{}
}

// newChildLog makes the pipe when the runtime logs at debug level, and
// returns a no-op childLog otherwise.
func newChildLog() (*childLog, error) {
	l := &childLog{done: make(chan struct{})}
	if !logrus.IsLevelEnabled(logrus.DebugLevel) {
		close(l.done)
		return l, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	l.w = w
	go func() {
		defer close(l.done)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var line initproc.LogLine
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				logrus.Debugf("child log: %s", sc.Text())
				continue
			}
			level, err := logrus.ParseLevel(line.Level)
			if err != nil {
				level = logrus.DebugLevel
			}
			logrus.StandardLogger().Log(level, line.Msg)
		}
	}()
	return l, nil
}

// started closes the runtime's copy of the child's end, once the child
// holds its own: end-of-file then means the child closed it or exited.
func (l *childLog) started() {
	if l.w != nil {
		l.w.Close()
	}
}

// wait blocks until the child's end is closed and every line is logged.
func (l *childLog) wait() { <-l.done }

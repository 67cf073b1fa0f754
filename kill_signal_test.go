package main

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseSignal follows kill(1) and runc's kill: a number, or a name with
// or without SIG in any case. 0 is kill(2)'s null signal (nothing is sent;
// the exit code says whether the container runs). Linux numbers signals 1
// to 64 (SIGRTMAX, signal(7)); anything else is refused.
func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    unix.Signal
		wantErr string
	}{
		{"9", unix.SIGKILL, ""},
		{"KILL", unix.SIGKILL, ""},
		{"SIGKILL", unix.SIGKILL, ""},
		{"sigkill", unix.SIGKILL, ""},
		{"kill", unix.SIGKILL, ""},
		{"SiGhUp", unix.SIGHUP, ""},
		{"TERM", unix.SIGTERM, ""},
		{"15", unix.SIGTERM, ""},
		{"USR1", unix.SIGUSR1, ""},
		{"SIGWINCH", unix.SIGWINCH, ""},
		{"0", 0, ""},
		{"64", unix.Signal(64), ""},
		{"34", unix.Signal(34), ""}, // SIGRTMIN, by number only
		{"65", 0, `invalid signal "65"`},
		{"-1", 0, `invalid signal "-1"`},
		{"NOTASIGNAL", 0, `unknown signal "NOTASIGNAL"`},
		{"SIG", 0, `unknown signal "SIG"`},
		{"", 0, `unknown signal ""`},
		{"9x", 0, `unknown signal "9x"`},
		{" 9", 0, `unknown signal " 9"`},
		{"SIGSIGKILL", 0, `unknown signal "SIGSIGKILL"`},
	} {
		got, err := parseSignal(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %d", tc.in, got, err, int(tc.want))
		}
	}
}

package initproc

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSeccompActionRange(t *testing.T) {
	u := func(v uint) *uint { return &v }
	for _, c := range []struct {
		act specs.LinuxSeccompAction
		ret *uint
		ok  bool
	}{
		{specs.ActErrno, nil, true},
		{specs.ActErrno, u(0), true},
		{specs.ActErrno, u(4095), true},
		{specs.ActErrno, u(4096), false},
		{specs.ActErrno, u(65537), false},
		{specs.ActTrace, u(65535), true},
		{specs.ActTrace, u(65536), false},
		{specs.ActAllow, u(65537), true}, // no return data: errnoRet unused
	} {
		_, err := seccompAction(c.act, c.ret)
		if (err == nil) != c.ok {
			t.Errorf("%s errnoRet %v: err %v, want ok=%v", c.act, c.ret, err, c.ok)
		}
	}
}

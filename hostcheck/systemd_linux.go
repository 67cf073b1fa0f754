package hostcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// systemdTimeout bounds each attempt to reach systemd: a bus that accepts
// the connection and never answers must not hang the check.
const systemdTimeout = time.Second

// probeSystemd asks systemd for its version the way its cgroup manager
// would talk to it: through the D-Bus daemon, through systemd's private
// socket (root only), and, for an unprivileged caller, through its user
// instance's bus.
func probeSystemd(root bool) Systemd {
	s := Systemd{Pid1: "unknown"}
	if b, err := os.ReadFile("/proc/1/comm"); err == nil {
		s.Pid1 = strings.TrimSpace(string(b))
	}
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		s.Booted = true
	}

	sysAddr := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	if sysAddr == "" {
		sysAddr = "unix:path=/run/dbus/system_bus_socket"
	}
	s.SystemBus = askSystemd(sysAddr, true)
	s.Private = Bus{Address: "unix:path=/run/systemd/private", Probe: unknown("not probed: the private socket is root's")}
	if root {
		s.Private = askSystemd(s.Private.Address, false)
	}
	s.Reachable = No
	if s.SystemBus.OK() || s.Private.OK() {
		s.Reachable = Yes
	}

	s.UserBus = Bus{Probe: unknown("not probed: the caller is root")}
	if !root {
		addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
		if addr == "" {
			if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
				addr = "unix:path=" + filepath.Join(dir, "bus")
			}
		}
		if addr == "" {
			s.UserBus = Bus{Probe: no("no user bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")}
		} else {
			s.UserBus = askSystemd(addr, true)
		}
	}
	return s
}

// askSystemd connects to addr and reads the manager's Version property.
// hello is false for systemd's private socket, which is no bus.
func askSystemd(addr string, hello bool) Bus {
	b := Bus{Address: addr}
	ctx, cancel := context.WithTimeout(context.Background(), systemdTimeout)
	defer cancel() // also closes the connection (dbus.WithContext)
	type answer struct {
		version string
		err     error
	}
	ch := make(chan answer, 1)
	go func() {
		conn, err := sdbus.NewConnection(func() (*dbus.Conn, error) {
			c, err := dbus.Dial(addr, dbus.WithContext(ctx))
			if err != nil {
				return nil, err
			}
			if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
				c.Close()
				return nil, fmt.Errorf("authenticate: %w", err)
			}
			if hello {
				if err := c.Hello(); err != nil {
					c.Close()
					return nil, fmt.Errorf("hello: %w", err)
				}
			}
			return c, nil
		})
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer conn.Close()
		v, err := conn.GetManagerProperty("Version")
		if err != nil {
			err = fmt.Errorf("ask org.freedesktop.systemd1 for its version: %w", err)
		}
		ch <- answer{version: strings.Trim(v, `"`), err: err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			b.Probe = no(a.err.Error())
			return b
		}
		b.Probe, b.Version = yes(), a.version
	case <-ctx.Done():
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", systemdTimeout)
		}
		b.Probe = no(err.Error())
	}
	return b
}

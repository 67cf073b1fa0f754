package libns

import (
	"errors"
	"fmt"
	"strings"
)

// Rung is a step on the isolation ladder.
type Rung int

// The ladder, lowest first.
const (
	None Rung = iota
	Standard
	Strict
	Quantum
)

var rungNames = [...]string{None: "none", Standard: "standard", Strict: "strict", Quantum: "quantum"}

// rungSets holds the namespaces each rung requires.
var rungSets = [...]Set{
	None:     0,
	Standard: NewSet(Mount),
	Strict:   NewSet(Mount, PID, Net, IPC),
	Quantum:  NewSet(Mount, PID, Net, IPC, UTS, User),
}

// String is the rung's lower-case name, as the CLI and state JSON spell it.
func (r Rung) String() string {
	if r < None || r > Quantum {
		return fmt.Sprintf("Rung(%d)", int(r))
	}
	return rungNames[r]
}

// Requires is the set of namespaces r needs.
func (r Rung) Requires() Set { return rungSets[r] }

// ParseRung reads a rung name, case-insensitively.
func ParseRung(s string) (Rung, error) {
	for r, name := range rungNames {
		if strings.EqualFold(s, name) {
			return Rung(r), nil
		}
	}
	return None, fmt.Errorf("unknown isolation rung %q (want none, standard, strict or quantum)", s)
}

// Reading is how a set of isolating namespaces reads on the ladder.
type Reading struct {
	Rung   Rung
	Extras Set // isolating namespaces beyond what Rung requires
}

// Assess places a set of namespaces that really isolate (created new, or
// joined from something other than the host) on the ladder: the highest rung
// whose set it fully contains, plus what it has beyond that.
func Assess(isolated Set) Reading {
	r := None
	for cand := Quantum; cand > None; cand-- {
		if isolated&cand.Requires() == cand.Requires() {
			r = cand
			break
		}
	}
	return Reading{Rung: r, Extras: isolated.Minus(r.Requires())}
}

// String reads like "strict+uts,cgroup".
func (rd Reading) String() string {
	if rd.Extras == 0 {
		return rd.Rung.String()
	}
	return rd.Rung.String() + "+" + rd.Extras.String()
}

// ErrBelowRung is wrapped by RequireRung's error.
var ErrBelowRung = errors.New("isolation below the required rung")

// RequireRung refuses a set of isolating namespaces below min, naming what is missing.
func RequireRung(isolated Set, min Rung) error {
	missing := min.Requires().Minus(isolated)
	if missing == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s namespaces, missing %s",
		ErrBelowRung, min, min.Requires(), missing)
}

// CheckOrigin applies the ladder's structural rules to the namespaces a
// container will have: a user namespace with neither a mount nor a pid
// namespace is refused (it would grant capabilities over nothing the
// container owns, and every host path stays in reach); a pid namespace
// without a mount namespace is allowed with a warning, since the container
// would see the host's /proc.
func CheckOrigin(isolated Set) (warnings []string, err error) {
	if isolated.Has(User) && !isolated.Has(Mount) && !isolated.Has(PID) {
		return nil, errors.New("a user namespace needs a mount or pid namespace beside it")
	}
	if isolated.Has(PID) && !isolated.Has(Mount) {
		warnings = append(warnings, "pid namespace without a mount namespace: /proc in the container shows the host's processes")
	}
	return warnings, nil
}

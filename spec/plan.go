package spec

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// Plan is what the config asks of namespaces: the kinds to create new in
// init's clone, and how the container reads on the isolation ladder.
type Plan struct {
	Create   libns.Set     // created new
	Join     []JoinPath    // existing namespaces to enter
	Reading  libns.Reading // the ladder reading of the isolating namespaces
	Warnings []string      // accepted, but worth telling the operator
}

// JoinPath is a config namespace with a path.
type JoinPath struct {
	Kind  libns.Kind
	Path  string
	Index int // in linux.namespaces, for error messages
}

// Joined is the set of kinds the plan joins.
func (p Plan) Joined() libns.Set {
	var s libns.Set
	for _, j := range p.Join {
		s = s.Add(j.Kind)
	}
	return s
}

// PlanNamespaces reads linux.namespaces. Every entry must name a known kind
// once; an entry with a path is joined, the others are created. The
// reading counts joined namespaces as isolating: the runtime corrects that
// for a joined namespace that turns out to be its own (the host's).
func PlanNamespaces(s *specs.Spec) (Plan, error) {
	var p Plan
	if s.Linux == nil {
		return p, nil
	}
	var seen libns.Set
	for i, ns := range s.Linux.Namespaces {
		k, err := libns.ParseKind(ns.Type)
		if err != nil {
			return Plan{}, fmt.Errorf("linux.namespaces[%d]: %w", i, err)
		}
		if seen.Has(k) {
			return Plan{}, fmt.Errorf("linux.namespaces[%d]: %s namespace listed twice", i, k)
		}
		seen = seen.Add(k)
		if ns.Path != "" {
			if !filepath.IsAbs(ns.Path) {
				return Plan{}, fmt.Errorf("linux.namespaces[%d].path: %q is not an absolute path", i, ns.Path)
			}
			p.Join = append(p.Join, JoinPath{Kind: k, Path: ns.Path, Index: i})
			continue
		}
		p.Create = p.Create.Add(k)
	}
	if p.Create.Has(libns.User) && len(p.Join) > 0 {
		// A new user namespace would own nothing it joins: every setns
		// after it fails. Join the user namespace too, or create all.
		return Plan{}, fmt.Errorf("linux.namespaces: joining %s namespaces while creating a new user namespace is not supported", p.Joined())
	}
	w, err := libns.CheckOrigin(p.Create | p.Joined())
	if err != nil {
		return Plan{}, fmt.Errorf("linux.namespaces: %w", err)
	}
	p.Warnings = w
	p.Reading = libns.Assess(p.Create | p.Joined())
	return p, nil
}

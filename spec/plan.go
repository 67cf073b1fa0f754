package spec

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rungrt/rung/libns"
)

// Plan is what the config asks of namespaces: the kinds to create new in
// init's clone, and how the container reads on the isolation ladder.
type Plan struct {
	Create   libns.Set     // created new by clone flags
	Reading  libns.Reading // the ladder reading of the isolating namespaces
	Warnings []string      // accepted, but worth telling the operator
}

// PlanNamespaces reads linux.namespaces. Every entry must name a known kind
// once. An entry with a path asks to join an existing namespace; until rung
// can join namespaces it refuses such a config rather than quietly creating
// a new namespace or sharing the host's.
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
			return Plan{}, fmt.Errorf("linux.namespaces[%d].path: joining an existing %s namespace (%s) is not supported yet", i, k, ns.Path)
		}
		p.Create = p.Create.Add(k)
	}
	w, err := libns.CheckOrigin(p.Create)
	if err != nil {
		return Plan{}, fmt.Errorf("linux.namespaces: %w", err)
	}
	p.Warnings = w
	p.Reading = libns.Assess(p.Create)
	return p, nil
}

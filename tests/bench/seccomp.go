package main

import "github.com/rungrt/rung/tests/fixture"

// engineSeccomp is linux.seccomp as podman would hand it for a container
// with the bounding set caps (fixture.EngineSeccomp).
func engineSeccomp(caps []string) (map[string]any, error) { return fixture.EngineSeccomp(caps) }

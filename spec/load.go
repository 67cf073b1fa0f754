// Package spec loads and validates an OCI bundle's config.json, writes the
// default config for `rung spec`, and derives the namespace plan a
// container's init is started with.
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigName is the bundle's config file.
const ConfigName = "config.json"

// Load reads bundle/config.json. Unknown fields are ignored, as the
// runtime spec requires (config.md, "Extensibility"); a known field rung
// cannot honour is refused by Validate instead.
func Load(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, ConfigName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("JSON specification file %s not found in bundle %s", ConfigName, bundle)
		}
		return nil, fmt.Errorf("read %s: %w", ConfigName, err)
	}
	return Parse(data)
}

// Parse decodes a config.json.
func Parse(data []byte) (*specs.Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var s specs.Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", ConfigName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse %s: trailing data after the JSON object", ConfigName)
	}
	return &s, nil
}

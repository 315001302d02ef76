package site

import (
	"fmt"
	"strings"

	"github.com/c981/c981/services/shared/config"
)

// Load reads the site model at path strictly (unknown fields are errors,
// reported as "path:line:col: message") and validates it. Validation
// problems are returned together as a *ValidationError whose lines read
// "path:line: message".
func Load(path string) (*Model, error) {
	var m Model
	data, err := config.LoadYAML(path, &m)
	if err != nil {
		return nil, err
	}
	if err := m.validate(path, data); err != nil {
		return nil, err
	}
	return &m, nil
}

// Parse decodes and validates a site model held in memory; name is used in
// error messages in place of a file name.
func Parse(name string, data []byte) (*Model, error) {
	var m Model
	if err := config.DecodeYAML(name, data, &m); err != nil {
		return nil, err
	}
	if err := m.validate(name, data); err != nil {
		return nil, err
	}
	return &m, nil
}

// Issue is one validation problem of a site model.
type Issue struct {
	// Path is the YAML path of the offending node, e.g. "$.zones[3].cidrs[0]".
	Path string
	// Line is the 1-based line of the node in the file, 0 when unknown.
	Line int
	// Message describes the problem.
	Message string
}

// ValidationError lists every problem found in a site model, in file order
// of the checks (site, zones, assets, conduits, maintenance windows).
type ValidationError struct {
	// File is the file (or name) the model came from, "" when validated
	// without one.
	File string
	// Issues are the problems found; never empty.
	Issues []Issue
}

// Error returns one line per issue: "file:line: message", falling back to
// "file: path: message" when the line is unknown.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case e.File != "" && is.Line > 0:
			fmt.Fprintf(&b, "%s:%d: %s", e.File, is.Line, is.Message)
		case e.File != "":
			fmt.Fprintf(&b, "%s: %s: %s", e.File, is.Path, is.Message)
		default:
			fmt.Fprintf(&b, "%s: %s", is.Path, is.Message)
		}
	}
	return b.String()
}

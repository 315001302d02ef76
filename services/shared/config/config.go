// Package config loads C-981's YAML files (service configs, site models,
// rules, playbooks) strictly, with errors that name file:line, and finds the
// line of a YAML path so later validation errors can point at it too.
package config

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// LoadYAML reads path and decodes it into v, rejecting unknown fields.
func LoadYAML(path string, v any) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := DecodeYAML(path, data, v); err != nil {
		return nil, err
	}
	return data, nil
}

// DecodeYAML decodes data (named name in errors) into v, rejecting unknown
// fields. Errors read "name:line:col: message".
func DecodeYAML(name string, data []byte, v any) (err error) {
	// The YAML library panics on some malformed documents (e.g. a bare
	// "!" tag as a mapping value, found by fuzzing the playbook loader):
	// bad input is an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed YAML (the parser failed: %v)", name, r)
		}
	}()
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict()); err != nil {
		var se yaml.Error
		if ok := asYAMLError(err, &se); ok && se.GetToken() != nil {
			p := se.GetToken().Position
			return fmt.Errorf("%s:%d:%d: %s", name, p.Line, p.Column, se.GetMessage())
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func asYAMLError(err error, target *yaml.Error) bool {
	for e := err; e != nil; {
		if ye, ok := e.(yaml.Error); ok {
			*target = ye
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// Line returns the 1-based line of the node at YAML path (e.g.
// "$.rules[2].condition") in data, or 0 when it cannot be found.
func Line(data []byte, path string) int {
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

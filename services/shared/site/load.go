package site

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/c981/c981/services/shared/config"
)

// Load reads the site model at path strictly (unknown fields are errors,
// reported as "path:line:col: message") and validates it. Validation
// problems are returned together as a *ValidationError whose lines read
// "path:line: message".
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parse(path, data)
}

// Parse decodes and validates a site model held in memory; name is used in
// error messages in place of a file name.
func Parse(name string, data []byte) (*Model, error) { return parse(name, data) }

// parse decodes a site model strictly (unknown fields are errors) and
// validates it. A large inventory is mostly decoding, so a model written in
// plain YAML is first decoded with go.yaml.in/yaml/v3, about 4 times faster
// than the shared config decoder; that model is used when plainYAML finds
// nothing in the document on which the two decoders could differ and it
// validates. Anything else is decoded again by config.DecodeYAML and
// validated, so every error reads exactly as without the fast path:
// "name:line:col: message" for YAML, "name:line: message" for validation.
// TestDecodersAgree and FuzzDecoders check that both decoders yield the
// same model whenever the fast one is used.
func parse(name string, data []byte) (*Model, error) {
	var m Model
	if fastDecode(data, &m) && m.validate(name, data) == nil {
		return &m, nil
	}
	m = Model{}
	if err := config.DecodeYAML(name, data, &m); err != nil {
		return nil, err
	}
	if err := m.validate(name, data); err != nil {
		return nil, err
	}
	return &m, nil
}

// fastDecode decodes data into m with go.yaml.in/yaml/v3 — and an asset
// list written one flow mapping per line with splitAssets — and reports
// whether it did; false leaves m in an undefined state.
func fastDecode(data []byte, m *Model) bool {
	if bytes.Contains(data, []byte("\n---")) || bytes.Contains(data, []byte("\n...")) {
		return false // several documents: leave them to the config decoder
	}
	rest, assets, line, lines := splitAssets(data)
	if lines {
		data = rest
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || !plainYAML(doc.Content[0], reflect.TypeFor[Model]()) {
		return false
	}
	if doc.Content[0].Decode(m) != nil {
		return false
	}
	if lines {
		if !emptyAssetsAt(doc.Content[0], line) {
			return false
		}
		m.Assets = assets
	}
	return true
}

// emptyAssetsAt reports whether the root mapping has the key "assets" at the
// start of the given line with an empty flow sequence as its value: where
// splitAssets put it.
func emptyAssetsAt(root *yaml.Node, line int) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == "assets" {
			return k.Line == line && k.Column == 1 && k.Style == 0 && v.Kind == yaml.SequenceNode && len(v.Content) == 0
		}
	}
	return false
}

// plainYAML reports whether node decodes into a value of type t the same
// way with both decoders: every mapping key names a field of its struct
// (so the non-strict node decoder cannot drop unknown fields), no sequence
// item is null (yaml.v3 drops those, config keeps zero values), and every
// scalar is a plain or quoted scalar of the field's own type — a string
// tagged !!str or !!timestamp (double-quoted ones in printable ASCII), an
// integer in decimal digits, a bool true or false. Aliases, merge keys,
// block scalars and nulls in place of a struct or scalar are left to the
// config decoder.
func plainYAML(n *yaml.Node, t reflect.Type) bool {
	if n.Kind == yaml.AliasNode {
		return false
	}
	if t.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return true
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" || k.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return false
			}
			ft, ok := yamlField(t, k.Value)
			if !ok || !plainYAML(n.Content[i+1], ft) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return true
		}
		if n.Kind != yaml.SequenceNode {
			return false
		}
		for _, item := range n.Content {
			if !plainYAML(item, t.Elem()) {
				return false
			}
		}
		return true
	}
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false
	}
	switch t.Kind() {
	case reflect.String:
		// An unquoted timestamp (a one-off window's start) is kept as
		// written by both.
		return (n.Tag == "!!str" || n.Tag == "!!timestamp") && (n.Style&yaml.DoubleQuotedStyle == 0 || isPrintableASCII(n.Value))
	case reflect.Int:
		return n.Tag == "!!int" && isDecimal(n.Value, false)
	case reflect.Float64:
		return (n.Tag == "!!int" || n.Tag == "!!float") && isDecimal(n.Value, true)
	case reflect.Bool:
		return n.Tag == "!!bool" && (n.Value == "true" || n.Value == "false")
	}
	return false
}

// yamlFields caches, by struct type, the field types by yaml tag.
var yamlFields sync.Map // reflect.Type -> map[string]reflect.Type

// yamlField returns the type of the field of struct type t whose yaml tag
// is name.
func yamlField(t reflect.Type, name string) (reflect.Type, bool) {
	fs, ok := yamlFields.Load(t)
	if !ok {
		m := make(map[string]reflect.Type, t.NumField())
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				m[tag] = f.Type
			}
		}
		fs, _ = yamlFields.LoadOrStore(t, m)
	}
	ft, ok := fs.(map[string]reflect.Type)[name]
	return ft, ok
}

// isPrintableASCII reports whether s has only printable ASCII characters:
// a double-quoted string without the escapes of characters beyond them,
// which the decoders might translate differently.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// isDecimal reports whether s is an optionally negative run of at most 9
// decimal digits without a leading zero (which could read as octal), with
// one '.' and more digits when frac allows it.
func isDecimal(s string, frac bool) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, fracPart, dot := strings.Cut(s, ".")
	if dot && (!frac || fracPart == "") {
		return false
	}
	if intPart == "" || len(intPart) > 9 || len(fracPart) > 9 || (len(intPart) > 1 && intPart[0] == '0') {
		return false
	}
	for _, c := range intPart + fracPart {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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

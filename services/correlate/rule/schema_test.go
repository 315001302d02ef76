package rule

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ruleSchema compiles schemas/rule.schema.json.
func ruleSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile("../../../schemas/rule.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const id = "https://c981.dev/schemas/rule.schema.json"
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validateYAML validates a YAML rule file against the schema.
func validateYAML(s *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// TestPackMatchesSchema validates every rules/*.yaml against the JSON
// Schema (the loader, which also type-checks expressions, must agree).
func TestPackMatchesSchema(t *testing.T) {
	s := ruleSchema(t)
	files, err := filepath.Glob(filepath.Join(packDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s: %v", packDir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateYAML(s, data); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		})
	}
}

// TestSchemaRejects checks that the schema and the loader reject the same
// structural mistakes.
func TestSchemaRejects(t *testing.T) {
	s := ruleSchema(t)
	head := "rules:\n  - id: X-1\n    title: t\n    severity: high\n"
	tests := []struct{ name, body, schemaWant string }{
		{"threshold without window", "    kind: threshold\n    condition: kind == \"flow\"\n    threshold: 3\n", "window"},
		{"sequence with a condition", "    kind: sequence\n    condition: kind == \"flow\"\n    within: 5m\n    group_by: [src_ip]\n    steps: [{condition: 'true'}, {condition: 'true'}]\n", "not"},
		{"absence without key", "    kind: absence\n    condition: kind == \"flow\"\n    interval: 5m\n", "group_by"},
		{"match with window", "    condition: kind == \"flow\"\n    window: 5m\n", "not"},
		{"bad duration", "    kind: threshold\n    condition: kind == \"flow\"\n    threshold: 3\n    window: five minutes\n", "pattern"},
		{"unknown attribute", "    condition: kind == \"flow\"\n    filter: x\n", "filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(head + tt.body)
			err := validateYAML(s, data)
			if err == nil || !strings.Contains(err.Error(), tt.schemaWant) {
				t.Errorf("schema: err = %v, want one mentioning %q", err, tt.schemaWant)
			}
			if _, lerr := Parse("x.yaml", data); lerr == nil {
				t.Errorf("the loader accepts what the schema rejects")
			}
		})
	}
}

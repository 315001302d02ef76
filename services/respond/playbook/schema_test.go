package playbook

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "../../../schemas/playbook.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("playbook.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("playbook.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return s
}

// yamlToJSONDoc decodes YAML into the generic document the validator takes.
func yamlToJSONDoc(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestPackValidatesAgainstSchema validates every playbooks/*.yaml (and the
// deliberately unsafe test playbook, which is well-formed: only the engine
// refuses it) against schemas/playbook.schema.json, and checks the loader
// accepts the same files.
func TestPackValidatesAgainstSchema(t *testing.T) {
	s := compileSchema(t)
	files, err := filepath.Glob(filepath.Join(packDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no playbooks in %s: %v", packDir, err)
	}
	files = append(files, "../respond/testdata/unsafe/playbooks.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlToJSONDoc(t, data)); err != nil {
				t.Errorf("%s does not validate against %s: %v", f, schemaFile, err)
			}
			if _, err := Parse(f, data); err != nil {
				t.Errorf("loader rejects %s: %v", f, err)
			}
		})
	}
}

// TestSchemaRejectsBadPlaybooks proves the schema can fail, for the same
// mistakes the loader rejects.
func TestSchemaRejectsBadPlaybooks(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name string
		yaml string
	}{
		{"unknown field", `playbooks: [{id: P, title: T, applies_to: "true", colour: red, steps: [{id: s, kind: guidance, audience: operator, text: x}]}]`},
		{"unknown action", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: action, action: format_disk, audience: operator}]}]`},
		{"action step without action", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: action, audience: operator}]}]`},
		{"missing audience", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: notify, action: notify}]}]`},
		{"unknown audience", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: notify, action: notify, audience: ceo}]}]`},
		{"guidance without text", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: guidance, audience: operator}]}]`},
		{"automatic guidance", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: guidance, audience: operator, text: x, automatic: true}]}]`},
		{"approval without roles", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: approval, audience: operator}]}]`},
		{"unknown role", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: action, action: reboot, audience: operator, approvals: {roles: [plant_owner]}}]}]`},
		{"bad timeout", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: action, action: reboot, audience: operator, timeout: soon}]}]`},
		{"bad class", `playbooks: [{id: P, title: T, applies_to: "true", steps: [{id: s, kind: action, action: reboot, audience: operator, class: harmless}]}]`},
		{"no steps", `playbooks: [{id: P, title: T, applies_to: "true", steps: []}]`},
		{"no playbooks", `playbooks: []`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Validate(yamlToJSONDoc(t, []byte(tc.yaml))); err == nil {
				t.Errorf("schema accepted %s", tc.yaml)
			}
			if _, err := Parse("bad.yaml", []byte(tc.yaml)); err == nil {
				t.Errorf("loader accepted %s", tc.yaml)
			}
		})
	}
}

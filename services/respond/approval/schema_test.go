package approval

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/c981/c981/services/shared/event"
)

const (
	schemaFile  = "../../../schemas/approval.schema.json"
	exampleFile = "../../../schemas/examples/approval.json"
)

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
	c.AssertFormat()
	if err := c.AddResource("approval.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("approval.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(doc)
}

// TestApprovalSchemaMatchesGoType: the example validates and decodes into
// event.Approval without unknown fields, the Go encoding validates, the bus
// codec round-trips it, and the schema's properties are the Go json names.
func TestApprovalSchemaMatchesGoType(t *testing.T) {
	s := compileSchema(t)
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, s, data); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	var a event.Approval
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("example does not decode: %v", err)
	}
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, s, out); err != nil {
		t.Fatalf("Go-encoded approval does not validate: %v\n%s", err, out)
	}
	bin, err := event.Marshal(event.ApprovalBatch{a})
	if err != nil {
		t.Fatal(err)
	}
	var back event.ApprovalBatch
	if err := event.Unmarshal(bin, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || !reflect.DeepEqual(back[0], a) {
		t.Fatalf("bus codec round trip: %+v, want %+v", back, a)
	}

	var raw map[string]any
	schemaData, _ := os.ReadFile(schemaFile)
	if err := json.Unmarshal(schemaData, &raw); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for k := range raw["properties"].(map[string]any) {
		want = append(want, k)
	}
	typ := reflect.TypeFor[event.Approval]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Fatalf("schema properties %v\n     Go json fields %v", want, got)
	}
}

// TestApprovalSchemaRejects proves the schema can fail.
func TestApprovalSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, field string
		value       any
	}{
		{"unknown verdict", "verdict", "maybe"},
		{"no approver", "approver", ""},
		{"plan id not a uuid", "plan_id", "42"},
		{"version zero", "incident_version", 0},
		{"time not a time", "at", "yesterday"},
		{"mass-assigned field", "approved", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			m[tc.field] = tc.value
			bad, _ := json.Marshal(m)
			if err := validate(t, s, bad); err == nil {
				t.Fatalf("document with %s=%v validated", tc.field, tc.value)
			}
		})
	}
}

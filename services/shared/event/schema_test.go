package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/c981/c981/services/shared/event"
)

const schemaDir = "../../../schemas"

// compileSchemas loads every schemas/*.schema.json under its $id.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", schemaDir, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	ids := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s: no $id", f)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = id
	}
	out := map[string]*jsonschema.Schema{}
	for name, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			t.Fatalf("compile %s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

func validateJSON(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return s.Validate(doc)
}

// TestSchemasMatchGoTypes checks the examples validate, that they decode into
// the Go types without unknown fields, that what the Go types encode
// validates, and that schema properties and Go json names are the same sets.
func TestSchemasMatchGoTypes(t *testing.T) {
	schemas := compileSchemas(t)
	cases := []struct {
		schema string
		newV   func() any
	}{
		{"event", func() any { return new(event.Event) }},
		{"alert", func() any { return new(event.Alert) }},
		{"incident", func() any { return new(event.Incident) }},
		{"action", func() any { return new(event.Plan) }},
		{"deadletter", func() any { return new(event.DeadLetter) }},
	}
	for _, tc := range cases {
		t.Run(tc.schema, func(t *testing.T) {
			s := schemas[tc.schema]
			if s == nil {
				t.Fatalf("schema %s missing", tc.schema)
			}
			data, err := os.ReadFile(filepath.Join(schemaDir, "examples", tc.schema+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, s, data); err != nil {
				t.Fatalf("example does not validate: %v", err)
			}
			v := tc.newV()
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("example does not decode into %T: %v", v, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, s, out); err != nil {
				t.Fatalf("Go-encoded %T does not validate: %v\n%s", v, err, out)
			}
			// The bus codec must round-trip the same value.
			bin, err := event.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			v2 := tc.newV()
			if err := event.Unmarshal(bin, v2); err != nil {
				t.Fatal(err)
			}
			out2, _ := json.Marshal(v2)
			if !bytes.Equal(out, out2) {
				t.Fatalf("bus codec round trip differs:\n%s\n%s", out, out2)
			}
		})
	}
}

// TestSchemaPropertiesAreGoFields compares property names recursively.
func TestSchemaPropertiesAreGoFields(t *testing.T) {
	raw := map[string]map[string]any{}
	files, _ := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = m
	}
	def := func(schema, name string) map[string]any {
		return raw[schema]["$defs"].(map[string]any)[name].(map[string]any)
	}
	cases := []struct {
		name   string
		schema map[string]any
		typ    reflect.Type
	}{
		{"event", raw["event"], reflect.TypeFor[event.Event]()},
		{"endpoint", def("event", "endpoint"), reflect.TypeFor[event.Endpoint]()},
		{"flow", def("event", "flow"), reflect.TypeFor[event.Flow]()},
		{"maint", def("event", "maint"), reflect.TypeFor[event.Maint]()},
		{"alert", raw["alert"], reflect.TypeFor[event.Alert]()},
		{"incident", raw["incident"], reflect.TypeFor[event.Incident]()},
		{"action", raw["action"], reflect.TypeFor[event.Plan]()},
		{"step", def("action", "step"), reflect.TypeFor[event.Step]()},
		{"deadletter", raw["deadletter"], reflect.TypeFor[event.DeadLetter]()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props := tc.schema["properties"].(map[string]any)
			var want []string
			for k := range props {
				want = append(want, k)
			}
			var got []string
			for i := range tc.typ.NumField() {
				tag := tc.typ.Field(i).Tag.Get("json")
				name, _, _ := strings.Cut(tag, ",")
				if name != "" && name != "-" {
					got = append(got, name)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(want, got) {
				t.Fatalf("schema properties %v\n     Go json fields %v", want, got)
			}
		})
	}
}

// TestSchemaRejectsBadDocuments proves the validation can fail.
func TestSchemaRejectsBadDocuments(t *testing.T) {
	schemas := compileSchemas(t)
	cases := []struct {
		schema, name, field string
		value               any
	}{
		{"alert", "unknown severity", "severity", "urgent"},
		{"alert", "id not a uuid", "id", "42"},
		{"event", "port out of range", "dst_port", 70000},
		{"event", "unknown kind", "kind", "banana"},
		{"incident", "unknown status", "status", "done"},
		{"action", "no steps", "steps", []any{}},
		{"deadletter", "no reason", "reason", ""},
	}
	for _, tc := range cases {
		t.Run(tc.schema+"/"+tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(schemaDir, "examples", tc.schema+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			m[tc.field] = tc.value
			bad, _ := json.Marshal(m)
			if err := validateJSON(t, schemas[tc.schema], bad); err == nil {
				t.Fatalf("document with %s=%v validated", tc.field, tc.value)
			}
		})
	}
}

// TestDemoSiteModelValidates checks the bundled demo plant against the site
// model schema.
func TestDemoSiteModelValidates(t *testing.T) {
	schemas := compileSchemas(t)
	s := schemas["site"]
	if s == nil {
		t.Fatal("schemas/site.schema.json missing")
	}
	data, err := os.ReadFile("../../../deploy/demo/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, s, js); err != nil {
		t.Fatalf("deploy/demo/site.yaml does not validate: %v", err)
	}
}

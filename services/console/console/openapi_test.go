package console_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/c981/c981/services/console/console"
)

// openAPIDoc is the part of an OpenAPI 3 document the tests check.
type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Security   []map[string][]string                  `json:"security"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		Schemas         map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]struct {
		Content map[string]json.RawMessage `json:"content"`
	} `json:"responses"`
}

func TestOpenAPI(t *testing.T) {
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(console.OpenAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok || len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Error("the document does not require the bearerAuth security scheme globally")
	}

	svc := newService(t, console.Config{})
	var documented []string
	ids := map[string]bool{}
	pathParam := regexp.MustCompile(`\{([a-z]+)\}`)
	refs := regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`)
	for path, ops := range doc.Paths {
		for method, o := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented = append(documented, pattern)
			if ids[o.OperationID] || o.OperationID == "" {
				t.Errorf("%s: operationId %q missing or repeated", pattern, o.OperationID)
			}
			ids[o.OperationID] = true
			public := o.Security != nil && len(*o.Security) == 0
			if !public {
				for _, code := range []string{"401", "429"} {
					r, ok := o.Responses[code]
					if _, isProblem := r.Content["application/problem+json"]; !ok || !isProblem {
						t.Errorf("%s: no %s problem response", pattern, code)
					}
				}
			}
			var want, got []string
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			for _, p := range o.Parameters {
				if p.In == "path" {
					got = append(got, p.Name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: path parameters %v, want %v", pattern, got, want)
			}
		}
	}
	for _, m := range refs.FindAllSubmatch(console.OpenAPI, -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("reference to the undefined schema %s", m[1])
		}
	}
	routes := svc.Routes()
	slices.Sort(documented)
	slices.Sort(routes)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("the OpenAPI document describes %s, which is not served", d)
		}
	}

	rec := get(svc.Handler(), "/api/openapi.json", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), console.OpenAPI) {
		t.Errorf("GET /api/openapi.json: %d %s, want the document", rec.Code, rec.Header().Get("Content-Type"))
	}
}

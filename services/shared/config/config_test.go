package config

import (
	"strings"
	"testing"
)

type sample struct {
	Rules []struct {
		ID        string `yaml:"id"`
		Condition string `yaml:"condition"`
	} `yaml:"rules"`
}

func TestDecodeYAML(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"valid", "rules:\n  - id: a\n    condition: x\n", ""},
		{"unknown field names its line", "rules:\n  - id: a\n    conditon: x\n", "f.yaml:3:"},
		{"syntax error names its line", "rules:\n  - id: a\n   condition: [\n", "f.yaml:"},
		{"wrong type", "rules: 5\n", "f.yaml:1:"},
		{"bare tag the parser panics on", "rules: ! \n", "f.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v sample
			err := DecodeYAML("f.yaml", []byte(tc.doc), &v)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

func TestLine(t *testing.T) {
	doc := []byte("rules:\n  - id: a\n    condition: x\n  - id: b\n    condition: >-\n      y\n")
	tests := []struct {
		path string
		want int
	}{
		{"$.rules[0].condition", 3},
		{"$.rules[1].id", 4},
		{"$.rules[1].condition", 5},
		{"$.rules[7].id", 0},
		{"not a path", 0},
	}
	for _, tc := range tests {
		if got := Line(doc, tc.path); got != tc.want {
			t.Errorf("Line(%s) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

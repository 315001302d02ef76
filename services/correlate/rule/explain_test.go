package rule

import (
	"testing"

	"github.com/c981/c981/services/shared/event"
)

func TestExplain(t *testing.T) {
	rules, err := Parse("x.yaml", []byte(`rules:
  - id: X-1
    title: Download
    severity: high
    condition: >-
      operation == "program_download" and dst.role in controller_roles
      and not (maint.active and "program_download" in maint.allowed_ops)
  - id: X-2
    title: Seq
    severity: high
    kind: sequence
    within: 5m
    group_by: [src_ip]
    steps:
      - condition: operation == "program_upload"
      - condition: bytes_out > 1000
`))
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Operation: "program_download", Dst: event.Endpoint{Role: "hmi"}, Maint: event.Maint{Active: true}}
	exps, err := rules[0].Explain(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 1 || exps[0].Matched || exps[0].Clause.Op != "and" || len(exps[0].Clause.Operands) != 3 {
		t.Fatalf("explanation = %+v, want a failed AND of three clauses", exps)
	}
	ops := exps[0].Clause.Operands
	if ops[0].Value != true || ops[1].Value != false || ops[2].Value != true || ops[2].Op != "not" {
		t.Errorf("operands = %+v, want true, false (the role clause), true (not ...)", ops)
	}
	if ops[1].Expr != "dst.role in controller_roles" {
		t.Errorf("failing clause = %q", ops[1].Expr)
	}
	exps, err = rules[1].Explain(&event.Event{BytesOut: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 2 || exps[0].Matched || !exps[1].Matched {
		t.Errorf("sequence explanation = %+v, want step 1 failing and step 2 holding", exps)
	}
}

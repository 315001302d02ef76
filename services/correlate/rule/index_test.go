package rule

import (
	"slices"
	"testing"
)

func TestBestConstraint(t *testing.T) {
	tests := []struct {
		cond   string
		field  string
		values []string
	}{
		{`operation == "program_download" and dst.role in controller_roles`, "operation", []string{"program_download"}},
		{`dst.role in controller_roles and operation in write_ops`, "operation", WriteOps},
		{`"4720" == event_code`, "event_code", []string{"4720"}},
		{`kind == "flow" and dst_port == 502`, "dst_port", []string{"502"}},
		{`kind == "flow" and dst_port in [502, 102]`, "dst_port", []string{"502", "102"}},
		{`operation == "a" or operation == "b"`, "operation", []string{"a", "b"}},
		{`dst.safety and (operation in write_ops or not flow.allowed)`, "dst.safety", []string{"true"}},
		{`kind == "flow" and not flow.allowed`, "flow.allowed", []string{"false"}},
		{`kind == "flow" and flow.new_pair == true`, "flow.new_pair", []string{"true"}},
		// Not indexable: disjunctions over different fields, negations,
		// computed values, inequalities, type mismatches.
		{`operation == "a" or category == "b"`, "", nil},
		{`operation != "read"`, "", nil},
		{`lower(outcome) == "failure"`, "", nil},
		{`dst_port > 1000`, "", nil},
		{`fields["op"] == "write"`, "", nil},
		{`not (operation == "read")`, "", nil},
		{`operation in [1, 2] or true`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			field, values := bestConstraint(tt.cond)
			if field != tt.field || !slices.Equal(values, tt.values) {
				t.Errorf("bestConstraint = %q %v, want %q %v", field, values, tt.field, tt.values)
			}
		})
	}
}

// TestIndexSelectivity bounds the work per event of the 1000-rule set of
// BenchmarkMatch1000Rules: the candidate index must leave a handful of
// conditions per event, or the speed target is out of reach whatever the
// cost of one condition.
func TestIndexSelectivity(t *testing.T) {
	pack, err := LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(append(slices.Clone(pack.Rules()), generatedRules(t, 1000-len(pack.Rules()))...)...)
	if err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(t)
	var buf []int32
	total, most := 0, 0
	for i := range evs {
		buf = set.index.candidates(&evs[i], buf)
		total += len(buf)
		most = max(most, len(buf))
	}
	avg := float64(total) / float64(len(evs))
	t.Logf("%d conditions, %.2f candidates per event on average, %d at most", len(set.index.entries), avg, most)
	if avg > 8 || most > 40 {
		t.Errorf("%.2f candidates per event on average (%d at most); want at most 8 (40)", avg, most)
	}
}

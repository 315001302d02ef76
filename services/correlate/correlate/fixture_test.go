package correlate

import (
	"context"
	"flag"
	"testing"

	"github.com/c981/c981/services/correlate/rule"
)

var update = flag.Bool("update", false, "rewrite the expected.json goldens of the rule fixtures")

// TestRulePackFixtures runs every fixture of the rule pack through the
// Engine (events one at a time, fake clock) and compares the alerts with
// expected.json; every enabled rule must have a fixture.
func TestRulePackFixtures(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatalf("load rule pack: %v", err)
	}
	dirs, err := FixtureDirs(packDir)
	if err != nil {
		t.Fatal(err)
	}
	for id, dir := range dirs {
		t.Run(id, func(t *testing.T) {
			res, err := RunFixture(context.Background(), set, id, dir)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := WriteExpected(dir, res.Got); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, p := range res.Problems {
				t.Error(p)
			}
		})
	}
	for _, r := range set.Enabled() {
		if _, ok := dirs[r.ID]; !ok {
			t.Errorf("rule %s (%s:%d) has no fixture in %s/testdata/%s", r.ID, r.File, r.Line, packDir, r.ID)
		}
	}
	if n := len(set.Enabled()); n < 15 {
		t.Errorf("the pack has %d enabled rules, want at least 15", n)
	}
}

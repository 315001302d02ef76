package correlate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// FixtureClock is the fake processing time of fixture runs: alerts and
// incident versions are stamped with it, so results do not depend on the
// wall clock.
var FixtureClock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FixtureAlert is one alert as a rule fixture's expected.json records it.
type FixtureAlert struct {
	// EventID is the event that raised the alert (for an absence alert: the
	// last expected event before the silence).
	EventID string `json:"event_id"`
	// RuleID and Severity are the rule's.
	RuleID   string `json:"rule_id"`
	Severity string `json:"severity"`
	// IncidentKey groups the alert into an incident.
	IncidentKey string `json:"incident_key"`
	// Time is the alert's event time.
	Time time.Time `json:"time"`
	// EventIDs are the contributing events when there are several.
	EventIDs []string `json:"event_ids,omitempty"`
}

// FixtureResult is the outcome of running one rule's fixture.
type FixtureResult struct {
	// RuleID is the rule the fixture tests (its directory name).
	RuleID string
	// Dir is the fixture directory.
	Dir string
	// Got are the alerts the whole pack raised for the fixture's events.
	Got []FixtureAlert
	// Want are the alerts of expected.json (nil when it does not exist).
	Want []FixtureAlert
	// Problems lists why the fixture fails; empty when it passes.
	Problems []string
}

// OK reports whether the fixture passed.
func (r FixtureResult) OK() bool { return len(r.Problems) == 0 }

// ReadEventsFile decodes a JSON-lines file of enriched events, rejecting
// unknown fields so that fixture typos do not go unnoticed. Errors name
// file:line.
func ReadEventsFile(path string) ([]event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadEvents(path, f)
}

// ReadEvents decodes JSON-lines enriched events from r; name is used in
// errors.
func ReadEvents(name string, r io.Reader) ([]event.Event, error) {
	var evs []event.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return evs, nil
}

// FixtureDirs returns the fixture directories of a rule pack
// (<rulesDir>/testdata/<RULE-ID>) by rule id.
func FixtureDirs(rulesDir string) (map[string]string, error) {
	base := filepath.Join(rulesDir, "testdata")
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("rule fixtures: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = filepath.Join(base, e.Name())
		}
	}
	return out, nil
}

// RunFixture feeds the events of dir/events.jsonl one at a time (as a
// stream) through an Engine with the whole set and a fake clock, and
// compares the alerts with dir/expected.json. The fixture must make its
// rule alert at least once and contain at least one event that contributes
// to no alert of its rule. An error means the fixture could not be run.
func RunFixture(ctx context.Context, set *rule.Set, ruleID, dir string) (FixtureResult, error) {
	res := FixtureResult{RuleID: ruleID, Dir: dir}
	evs, err := ReadEventsFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		return res, err
	}
	if _, ok := set.Rule(ruleID); !ok {
		res.Problems = append(res.Problems, fmt.Sprintf("fixture %s names no rule of the pack", ruleID))
	}
	var logs bytes.Buffer
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{
		Now:    func() time.Time { return FixtureClock },
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	res.Got = []FixtureAlert{}
	contributed := map[string]bool{}
	for i := range evs {
		alerts, _, err := eng.Process(ctx, evs[i:i+1])
		if err != nil {
			return res, fmt.Errorf("fixture %s: %w", ruleID, err)
		}
		for _, a := range alerts {
			fa := FixtureAlert{EventID: a.EventIDs[len(a.EventIDs)-1], RuleID: a.RuleID, Severity: a.Severity, IncidentKey: a.IncidentKey, Time: a.Time}
			if len(a.EventIDs) > 1 {
				fa.EventIDs = a.EventIDs
			}
			res.Got = append(res.Got, fa)
			if a.RuleID == ruleID {
				for _, id := range a.EventIDs {
					contributed[id] = true
				}
			}
		}
	}
	if logs.Len() > 0 {
		res.Problems = append(res.Problems, "evaluation errors:\n"+logs.String())
	}
	if len(contributed) == 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("no alert of %s", ruleID))
	}
	if len(contributed) == len(evs) {
		res.Problems = append(res.Problems, fmt.Sprintf("every event contributes to an alert of %s; add at least one that must not", ruleID))
	}
	want, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		res.Problems = append(res.Problems, "no expected.json (run with -update to create it)")
		return res, nil
	case err != nil:
		return res, err
	}
	if err := json.Unmarshal(want, &res.Want); err != nil {
		return res, fmt.Errorf("%s: %w", filepath.Join(dir, "expected.json"), err)
	}
	if d := DiffFixture(res.Want, res.Got); d != "" {
		res.Problems = append(res.Problems, "alerts differ from expected.json:\n"+d)
	}
	return res, nil
}

// WriteExpected writes got as dir/expected.json (the -update of fixtures).
func WriteExpected(dir string, got []FixtureAlert) error {
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "expected.json"), append(data, '\n'), 0o644)
}

// DiffFixture lists the alerts missing from got ("- missing") and the
// unexpected ones ("+ unexpected"), or notes a different order; "" when
// equal.
func DiffFixture(want, got []FixtureAlert) string {
	eq := func(a, b FixtureAlert) bool {
		return a.EventID == b.EventID && a.RuleID == b.RuleID && a.Severity == b.Severity &&
			a.IncidentKey == b.IncidentKey && a.Time.Equal(b.Time) && slices.Equal(a.EventIDs, b.EventIDs)
	}
	if slices.EqualFunc(want, got, eq) {
		return ""
	}
	show := func(a FixtureAlert) string {
		s := fmt.Sprintf("%s %s event=%s key=%s time=%s", a.RuleID, a.Severity, a.EventID, a.IncidentKey, a.Time.UTC().Format(time.RFC3339))
		if len(a.EventIDs) > 0 {
			s += " events=" + strings.Join(a.EventIDs, ",")
		}
		return s
	}
	var lines []string
	for _, a := range want {
		if !slices.ContainsFunc(got, func(b FixtureAlert) bool { return eq(a, b) }) {
			lines = append(lines, "- missing    "+show(a))
		}
	}
	for _, a := range got {
		if !slices.ContainsFunc(want, func(b FixtureAlert) bool { return eq(a, b) }) {
			lines = append(lines, "+ unexpected "+show(a))
		}
	}
	if len(lines) == 0 {
		return "same alerts in a different order\n"
	}
	sort.Stable(sort.StringSlice(lines))
	return strings.Join(lines, "\n") + "\n"
}

package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// buildInput is the form of a testdata/build/*.json input.
type buildInput struct {
	Now       time.Time            `json:"now"`
	SiteModel string               `json:"site_model"` // file in testdata/, "" for none
	Incident  event.Incident       `json:"incident"`
	Triage    event.Triage         `json:"triage"`
	Alerts    []event.Alert        `json:"alerts"`
	EventIDs  []string             `json:"event_ids"`
	Plans     []event.Plan         `json:"plans"`
	Audit     []report.AuditRecord `json:"audit"`
}

func loadInput(t testing.TB, path string) report.Input {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in buildInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := report.Input{
		Incident: in.Incident, Triage: in.Triage, Alerts: in.Alerts, EventIDs: in.EventIDs,
		Plans: in.Plans, Audit: in.Audit, Now: in.Now,
	}
	if in.SiteModel != "" {
		m, err := site.Load(filepath.Join("testdata", in.SiteModel))
		if err != nil {
			t.Fatal(err)
		}
		out.Site = m
	}
	return out
}

// checkGolden compares got with testdata/<name>, rewriting it with -update.
func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking)\ngot:\n%s", path, got)
	}
}

// TestBuildGolden builds the report of every testdata/build input and
// compares its JSON and Markdown forms with the goldens beside it.
func TestBuildGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "build", "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if strings.Contains(name, ".") {
			continue // a golden
		}
		t.Run(name, func(t *testing.T) {
			r := report.Build(loadInput(t, path))
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("build", name+".report.json"), append(js, '\n'))
			checkGolden(t, filepath.Join("build", name+".report.md"), r.Markdown())
		})
	}
}

// TestBuild checks the derived fields of the significant SIS incident
// field by field, so a wrong golden cannot hide them.
func TestBuild(t *testing.T) {
	r := report.Build(loadInput(t, filepath.Join("testdata", "build", "sis-significant.json")))
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name string
		got  *time.Time
		want string
	}{
		{"first observed", r.Timeline.FirstObservedAt, "2026-11-26T10:00:05Z"},
		{"detected", r.Timeline.DetectedAt, "2026-11-26T10:00:06Z"},
		{"reported", r.Timeline.ReportedAt, "2026-11-26T10:00:06Z"},
		{"became aware", r.Timeline.BecameAwareAt, "2026-11-26T10:30:00Z"},
		{"classified", r.Timeline.ClassifiedAt, "2026-11-26T10:40:00Z"},
		{"acknowledged", r.Timeline.AcknowledgedAt, "2026-11-26T10:10:00Z"},
		{"contained after the reopening", r.Timeline.ContainedAt, "2026-11-26T16:00:00Z"},
		{"recovered", r.Timeline.RecoveredAt, "2026-11-27T08:00:00Z"},
		{"closed", r.Timeline.ClosedAt, "2026-11-30T09:00:00Z"},
	} {
		if c.got == nil || !c.got.Equal(at(c.want)) {
			t.Errorf("%s = %v, want %s", c.name, c.got, c.want)
		}
	}
	if r.Incident.Status != event.StatusClosed || r.Incident.Phase != report.PhaseLearnLessons {
		t.Errorf("status %s phase %s, want the triage's closed / learn_lessons", r.Incident.Status, r.Incident.Phase)
	}
	if want := []string{"T0836", "T0843", "T0855"}; !slices.Equal(r.Classification.AttackICS, want) {
		t.Errorf("ATT&CK %v, want %v", r.Classification.AttackICS, want)
	}
	states := map[string]string{}
	for _, a := range r.Response.Actions {
		states[a.PlanID+"/"+a.StepID] = a.State
	}
	wantStates := map[string]string{
		"p1/isolate-sis":   report.ActionRejected,
		"p2/notify-safety": "done",
		"p2/restart-sis":   report.ActionForbidden,
		"p2/block-conduit": report.ActionApproved, // sam twice counts once, olga second
		"p2/verify-sif":    report.ActionManual,
	}
	for k, want := range wantStates {
		if states[k] != want {
			t.Errorf("action %s state %q, want %q", k, states[k], want)
		}
	}
	if got := r.Response.Actions[0].PlanID; got != "p1" {
		t.Errorf("first action of plan %s, want the incident version 1 plan p1", got)
	}
	var audits int
	for _, e := range r.Evidence {
		if e.Kind == report.EvidenceAudit {
			audits++
		}
	}
	if audits != 5 {
		t.Errorf("%d audit evidence references, want 5 (a redelivered record counts once)", audits)
	}
	// Early warning on time; notification 2h after the 72 h deadline; the
	// final report is due a month after the notification.
	wantClocks := []struct{ state, due string }{
		{report.StateDone, "2026-11-27T10:30:00Z"},
		{report.StateDoneLate, "2026-11-29T10:30:00Z"},
		{report.StatePending, "2026-12-29T12:00:00Z"},
	}
	if len(r.NIS2.Clocks) != 3 {
		t.Fatalf("clocks %+v", r.NIS2.Clocks)
	}
	for i, w := range wantClocks {
		c := r.NIS2.Clocks[i]
		if c.State != w.state || c.DueAt == nil || !c.DueAt.Equal(at(w.due)) {
			t.Errorf("clock %s: %s due %v, want %s due %s", c.Submission, c.State, c.DueAt, w.state, w.due)
		}
	}
	if r.NIS2.Clocks[1].LateSeconds != 5400 {
		t.Errorf("notification late by %ds, want 5400", r.NIS2.Clocks[1].LateSeconds)
	}
	for _, c := range r.Controls {
		if c.ID == "A.5.27" && c.Status != report.ControlEvidenced {
			t.Errorf("A.5.27 %s with lessons learned recorded", c.Status)
		}
		if c.ID == "Art. 23(4)(d)" && (c.Status != report.ControlPartial || !slices.Equal(c.Missing, []string{"nis2.final_report.submitted_at"})) {
			t.Errorf("Art. 23(4)(d) %s missing %v, want partial without the final report", c.Status, c.Missing)
		}
	}
	var sis report.Asset
	for _, a := range r.Scope.Assets {
		if a.ID == "demo-plant/sis-01" {
			sis = a
		}
	}
	if !sis.Safety || sis.SLT != 3 || sis.Purdue == nil || *sis.Purdue != 1 || sis.Zone != "demo-plant/safety" || !sis.Known {
		t.Errorf("sis-01 scope %+v, want the model's safety zone, Purdue 1, SL-T 3", sis)
	}
	if r.Scope.NIS2EntityClass != "essential" || r.Scope.NIS2Sector != "chemicals" || r.Scope.LegalEntity != "Demo Plant" {
		t.Errorf("scope %+v, want the site model's NIS2 class, sector and name", r.Scope)
	}
}

// TestBuildNotSignificant checks that the NIS2 controls do not apply and
// no clock runs for an incident nobody marked significant.
func TestBuildNotSignificant(t *testing.T) {
	r := report.Build(loadInput(t, filepath.Join("testdata", "build", "never-triaged.json")))
	if r.NIS2.Significant || len(r.NIS2.Clocks) != 0 || r.NIS2.Overdue {
		t.Errorf("nis2 %+v, want no clocks", r.NIS2)
	}
	if r.Incident.Status != event.StatusResolved || r.Incident.TriageVersion != 0 {
		t.Errorf("status %s triage version %d, want the correlator's status before any triage", r.Incident.Status, r.Incident.TriageVersion)
	}
	for _, c := range r.Controls {
		if (c.Framework == report.NIS2Dir) != (c.Status == report.ControlNotApplicable) {
			t.Errorf("%s %s: %s", c.Framework, c.ID, c.Status)
		}
	}
	if r.Decisions == nil || r.Notes == nil || r.Evidence == nil || r.Response.Actions == nil || r.Scope.Assets == nil {
		t.Error("a list is nil (JSON null instead of [])")
	}
}

// TestControlMapFields checks that every field the control map names is
// evaluated: a misspelt field would otherwise always read as missing.
func TestControlMapFields(t *testing.T) {
	r := report.Build(loadInput(t, filepath.Join("testdata", "build", "sis-significant.json")))
	doc, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(doc, &generic); err != nil {
		t.Fatal(err)
	}
	for _, c := range report.ControlMap {
		for _, f := range c.Fields {
			parts := strings.Split(f, ".")
			switch parts[0] {
			case "nis2", "evidence":
				continue // a clock or evidence kind, checked below
			}
			var v any = generic
			for _, p := range parts {
				m, ok := v.(map[string]any)
				if !ok {
					t.Errorf("%s %s: field %s is not in the report", c.Framework, c.ID, f)
					break
				}
				if v, ok = m[p]; !ok {
					t.Errorf("%s %s: field %s is not in the report", c.Framework, c.ID, f)
					break
				}
			}
		}
	}
	for _, c := range r.Controls {
		if c.Framework != report.NIS2Dir && c.ID != "A.5.24" && c.Status == report.ControlMissing {
			t.Errorf("%s %s missing on a fully documented incident: %v", c.Framework, c.ID, c.Missing)
		}
	}
}

// TestMarkdownEscapes checks that people's text cannot add structure
// (headings, links, images, HTML, table cells) to the Markdown report.
func TestMarkdownEscapes(t *testing.T) {
	in := loadInput(t, filepath.Join("testdata", "build", "sis-significant.json"))
	in.Incident.Title = "x\n# injected heading | cell"
	in.Triage.Notes = []event.Note{{Author: "m", Role: "analyst", Text: "[link](http://evil) ![img](http://evil) <b>bold</b>\n---"}}
	in.Triage.ISMS.LessonsLearned = "line\n---\n<script>"
	md := string(report.Build(in).Markdown())
	for _, bad := range []string{`\n# injected`, `[^\\]\]\(http`, `[^\\]\[link`, `<b>`, `<script>`, `\n---\n`, `[^\\]\| cell`} {
		if regexp.MustCompile(bad).MatchString(md) {
			t.Errorf("markdown matches %s:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, `\[link\]`) || !strings.Contains(md, "&lt;script&gt;") {
		t.Errorf("escaped text missing:\n%s", md)
	}
}

package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Markdown renders the report as a Markdown document for people: the same
// content as the JSON form, in sections. Text recorded by people (titles,
// notes, lessons learned) is escaped so that it cannot change the
// document's structure.
func (r Report) Markdown() []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	inc := r.Incident
	w("# Incident report: %s\n\n", inline(inc.Title))
	w("| | |\n|---|---|\n")
	row := func(k, v string) { w("| %s | %s |\n", k, cell(v)) }
	row("Incident", inc.ID)
	row("Site", inc.Site)
	row("Status", inc.Status+" (ISO/IEC 27035 phase: "+orDash(inc.Phase)+")")
	row("Assignee", orDash(inc.Assignee))
	row("Incident version / triage version", strconv.FormatUint(inc.Version, 10)+" / "+strconv.FormatUint(inc.TriageVersion, 10))
	row("Risk", strconv.Itoa(inc.Risk))
	row("Generated", stamp(&r.GeneratedAt))
	row("Report schema", strconv.Itoa(r.SchemaVersion))

	c := r.Classification
	w("\n## Classification (A.5.25)\n\n| | |\n|---|---|\n")
	row("Type", orDash(c.Type))
	row("Category", orDash(c.Category))
	row("Severity", orDash(c.Severity))
	row("ATT&CK", orDash(strings.Join(c.AttackICS, ", ")))
	row("NIS2 significant", yesNo(c.Significant))

	d := r.Detection
	w("\n## Detection and reporting (A.6.8)\n\n| | |\n|---|---|\n")
	row("Reporter", d.Reporter)
	row("Rules", orDash(strings.Join(d.RuleIDs, ", ")))
	row("Alerts / events", strconv.Itoa(d.Alerts)+" / "+strconv.Itoa(d.Events))
	if len(d.Sources) > 0 {
		row("Sources", strings.Join(d.Sources, ", "))
	}

	if len(d.AlertList) > 0 {
		w("\n### Alerts\n\n")
		if len(d.AlertList) < d.Alerts {
			w("The first %d of %d alerts.\n\n", len(d.AlertList), d.Alerts)
		}
		w("| Time (UTC) | Rule | Severity | ATT&CK | Summary |\n|---|---|---|---|---|\n")
		for _, a := range d.AlertList {
			w("| %s | %s | %s | %s | %s |\n", stamp(&a.Time), cell(a.RuleID), cell(a.Severity), cell(orDash(strings.Join(a.Techniques, ", "))), cell(a.Summary))
		}
	}

	t := r.Timeline
	w("\n## Timeline (UTC)\n\n| Milestone | Time |\n|---|---|\n")
	for _, m := range []struct {
		name string
		at   *time.Time
	}{
		{"First observed", t.FirstObservedAt}, {"Detected", t.DetectedAt}, {"Reported", t.ReportedAt},
		{"Became aware (NIS2)", t.BecameAwareAt}, {"Classified", t.ClassifiedAt}, {"Acknowledged", t.AcknowledgedAt},
		{"Contained", t.ContainedAt}, {"Recovered", t.RecoveredAt}, {"Closed", t.ClosedAt},
	} {
		row(m.name, stamp(m.at))
	}

	s := r.Scope
	w("\n## Scope\n\n| | |\n|---|---|\n")
	row("Site", s.Site+nameSuffix(s.SiteName))
	row("Legal entity", orDash(s.LegalEntity))
	row("NIS2 entity class / sector", orDash(s.NIS2EntityClass)+" / "+orDash(s.NIS2Sector))
	row("Time zone", s.Timezone)
	w("\n### Affected assets\n\n")
	if len(s.Assets) == 0 {
		w("None recorded.\n")
	} else {
		w("| Asset | Role | Zone | Purdue | Criticality | Safety | SL-T |\n|---|---|---|---|---|---|---|\n")
		for _, a := range s.Assets {
			id := a.ID + nameSuffix(a.Name)
			if !a.Known {
				id += " (not inventoried)"
			}
			w("| %s | %s | %s | %s | %s | %s | %s |\n", cell(id), cell(orDash(a.Role)), cell(orDash(a.Zone)), purdue(a.Purdue),
				cell(orDash(a.Criticality)), yesNo(a.Safety), level(a.SLT))
		}
	}
	w("\n### Affected zones\n\n")
	if len(s.Zones) == 0 {
		w("None recorded.\n")
	} else {
		w("| Zone | Kind | Purdue | Safety | SL-T | SL-A |\n|---|---|---|---|---|---|\n")
		for _, z := range s.Zones {
			w("| %s | %s | %s | %s | %s | %s |\n", cell(z.ID+nameSuffix(z.Name)), cell(orDash(z.Kind)), purdue(z.Purdue), yesNo(z.Safety), level(z.SLT), level(z.SLA))
		}
	}

	im := r.Impact
	w("\n## Impact\n\n| Dimension | Rating |\n|---|---|\n")
	row("Confidentiality", orDash(im.Confidentiality))
	row("Integrity", orDash(im.Integrity))
	row("Availability", orDash(im.Availability))
	row("Safety", orDash(im.Safety))
	row("Operations", orDash(im.Operations))

	w("\n## Response actions (A.5.26)\n\n")
	if len(r.Response.Actions) == 0 {
		w("No response plan recorded.\n")
	} else {
		w("| Proposed | Playbook | Step | Class | Decision | State | Approvers | Approvals |\n|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Response.Actions {
			step := a.StepID + " (" + a.Kind
			if a.Action != "" {
				step += " " + a.Action
			}
			step += "): " + a.Text
			state := a.State
			if a.ExecutedAt != nil {
				state += " at " + stamp(a.ExecutedAt)
			}
			approvers := strings.Join(a.RequiredApprovers, ", ")
			if a.Quorum > 1 {
				approvers += " (" + strconv.Itoa(a.Quorum) + " people)"
			}
			var given []string
			for _, ap := range a.Approvals {
				given = append(given, ap.Verdict+" by "+ap.By+" ("+ap.Role+") at "+stamp(&ap.At))
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", stamp(&a.ProposedAt), cell(a.Playbook), cell(step), cell(a.Class),
				cell(a.Decision+": "+a.Reason), cell(state), cell(orDash(approvers)), cell(orDash(strings.Join(given, "; "))))
		}
	}

	w("\n## NIS2 Article 23\n\n")
	if !r.NIS2.Significant {
		w("Not marked as a significant incident: no NIS2 notification clocks run.\n")
	} else {
		w("| Submission | Due (UTC) | Submitted (UTC) | State |\n|---|---|---|---|\n")
		for _, c := range r.NIS2.Clocks {
			state := c.State
			if c.LateSeconds > 0 {
				state += " (" + (time.Duration(c.LateSeconds) * time.Second).String() + " late)"
			}
			if c.State == StateOverdue {
				state = "**" + state + "**"
			}
			w("| %s | %s | %s | %s |\n", strings.ReplaceAll(c.Submission, "_", " "), stamp(c.DueAt), stamp(c.SubmittedAt), state)
		}
	}

	w("\n## Evidence (A.5.28)\n\n")
	for _, e := range r.Evidence {
		line := e.Kind + ": " + e.Ref
		if e.Hash != "" {
			line += " (hash " + e.Hash + ")"
		}
		w("- %s\n", inline(line))
	}
	if len(r.Evidence) == 0 {
		w("None recorded.\n")
	}

	w("\n## Lessons learned (A.5.27)\n\n")
	if r.LessonsLearned == "" {
		w("Not recorded yet.\n")
	} else {
		w("%s\n", block(r.LessonsLearned))
	}

	w("\n## Decisions and changes\n\n")
	if len(r.Decisions) == 0 {
		w("No triage changes recorded.\n")
	} else {
		w("| Version | Time (UTC) | Who | Field | From | To |\n|---|---|---|---|---|---|\n")
		for _, ch := range r.Decisions {
			w("| %d | %s | %s | %s | %s | %s |\n", ch.Version, stamp(&ch.At), cell(ch.Actor+" ("+ch.Role+")"), cell(ch.Field), cell(orDash(ch.From)), cell(orDash(ch.To)))
		}
	}
	if len(r.Notes) > 0 {
		w("\n### Notes\n\n")
		for _, n := range r.Notes {
			w("- %s, %s (%s): %s\n", stamp(&n.At), inline(n.Author), inline(n.Role), inline(n.Text))
		}
	}

	w("\n## Control references\n\n| Framework | Control | Title | Status | Missing |\n|---|---|---|---|---|\n")
	for _, c := range r.Controls {
		w("| %s | %s | %s | %s | %s |\n", c.Framework, c.ID, c.Title, strings.ReplaceAll(c.Status, "_", " "), cell(orDash(strings.Join(c.Missing, ", "))))
	}
	return []byte(b.String())
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func purdue(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func level(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// mdSpecial are the characters escaped in people's text: Markdown
// punctuation and HTML's angle brackets.
var mdSpecial = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "#", `\#`,
	"<", "&lt;", ">", "&gt;", "|", `\|`, "!", `\!`, "~", `\~`,
)

// inline escapes text for one line: Markdown and HTML characters are
// escaped and line breaks become spaces.
func inline(s string) string {
	return mdSpecial.Replace(lineBreaks.Replace(s))
}

// lineBreaks turns line breaks into spaces (inline), newlines (block).
var (
	lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	newlines   = strings.NewReplacer("\r\n", "\n", "\r", "\n")
)

// cell escapes text for a table cell (inline, pipes escaped too).
func cell(s string) string { return inline(s) }

// block escapes multi-line text, keeping its line breaks as paragraphs'
// hard breaks.
func block(s string) string {
	lines := strings.Split(newlines.Replace(s), "\n")
	for i, l := range lines {
		l = mdSpecial.Replace(strings.TrimRight(l, " \t"))
		if l != "" && strings.ContainsRune("-+=~", rune(l[0])) {
			l = `\` + l // a list item, setext underline or fence
		}
		lines[i] = l
	}
	return strings.Join(lines, "  \n")
}

package report_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

// shape counts the structural lines of a Markdown document: headings,
// table rows, list items, and raw HTML openings anywhere.
func shape(md string) (headings, rows, items, html int) {
	for _, l := range strings.FieldsFunc(md, func(r rune) bool { return r == '\n' || r == '\r' }) {
		switch {
		case strings.HasPrefix(l, "#"):
			headings++
		case strings.HasPrefix(l, "|"):
			rows++
		case strings.HasPrefix(l, "- "):
			items++
		}
	}
	return headings, rows, items, strings.Count(md, "<")
}

// FuzzMarkdownText checks that no text people write into an incident
// (title, notes, lessons learned, evidence references, assignee) changes
// the structure of the Markdown report: the same headings, table rows and
// list items as with plain text, and no raw HTML.
func FuzzMarkdownText(f *testing.F) {
	for _, s := range []string{"plain", "# heading\n| a | b |\n- item", "<script>x</script>", "line\r# cr heading", "[l](u) ![i](u) `c` *e* _u_ ~s~",
		"\\| escaped pipe", "---\n===", "\r\n\r\n", "ü\u2028x"} {
		f.Add(s)
	}
	in := loadInput(f, filepath.Join("testdata", "build", "sis-significant.json"))
	with := func(text string) string {
		x := in
		x.Incident.Title = text
		x.Triage.Assignee = text
		x.Triage.Notes = []event.Note{{Author: text, Role: text, Text: text}}
		x.Triage.ISMS.LessonsLearned = "review"
		if text != "" {
			x.Triage.ISMS.LessonsLearned = text
		}
		x.Triage.ISMS.Evidence = []string{text}
		return string(report.Build(x).Markdown())
	}
	h0, r0, i0, _ := shape(with("plain"))
	f.Fuzz(func(t *testing.T, text string) {
		md := with(text)
		h, r, i, html := shape(md)
		if h != h0 || r != r0 || i != i0 || html != 0 {
			t.Errorf("text %q changes the structure: headings %d/%d rows %d/%d items %d/%d html %d\n%s", text, h, h0, r, r0, i, i0, html, md)
		}
	})
}

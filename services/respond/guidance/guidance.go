package guidance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Always is what every operator is told, whatever the playbooks say: the
// process comes first and the evidence must survive.
var Always = struct {
	Check []string
	DoNot []string
}{
	Check: []string{
		"Verify the process values of the affected unit on independent indication (local gauges, field panel, a second HMI), not only on the HMI that talks to the affected device.",
	},
	DoNot: []string{
		"Do not power-cycle, restart or unplug controllers, HMIs, workstations or network equipment.",
		"Do not log users off the HMIs or the engineering workstation; do not change passwords on them.",
		"Do not scan, ping or log on to the affected devices to investigate.",
	},
}

// Item is one instruction with where it comes from.
type Item struct {
	Text string `json:"text"`
	// Why explains a refused step (forbidden) or an approval requirement.
	Why string `json:"why,omitempty"`
	// Playbook and Step identify the plan step ("" for built-in items).
	Playbook string `json:"playbook,omitempty"`
	Step     string `json:"step,omitempty"`
}

// Pending is a step that waits for approval.
type Pending struct {
	Item
	// Approvers are the roles that must each approve, Quorum how many
	// distinct people.
	Approvers []string `json:"approvers"`
	Quorum    int      `json:"quorum"`
	// YourApproval is true when the operator's side (shift supervisor) is
	// among the approvers.
	YourApproval bool `json:"your_approval"`
	// Timeout is how long the approval is awaited ("" when the default
	// applies); after it nothing is done and notification continues.
	Timeout string `json:"timeout,omitempty"`
}

// Guidance is the plain-language plan for the operator of one zone.
type Guidance struct {
	IncidentID      string `json:"incident_id"`
	IncidentVersion uint64 `json:"incident_version"`
	Site            string `json:"site"`
	Title           string `json:"title"`
	Severity        string `json:"severity"`
	Risk            int    `json:"risk"`
	// Zone and Asset name the affected zone and device in the operator's words.
	Zone  string `json:"zone"`
	Asset string `json:"asset"`
	// Safety is true when a safety system is involved.
	Safety bool `json:"safety"`
	// Check: what the operator checks. DoNot: what the operator must not do
	// (built-in rules and every refused step). Call: whom to call.
	Check []Item   `json:"check"`
	DoNot []Item   `json:"do_not"`
	Call  []string `json:"call"`
	// Automatic is what C-981 does by itself (passive or at the IDMZ).
	Automatic []Item `json:"automatic"`
	// Waiting are the steps waiting for approval.
	Waiting []Pending `json:"waiting"`
	// Others are instructions for other people (SOC, engineers), for context.
	Others []Item `json:"others"`
}

// Names maps zone and asset ids to human names (from the site model); a
// missing name falls back to the id.
type Names struct {
	Zones  map[string]string
	Assets map[string]string
}

// callOrder lists the people the operator may call, most urgent first.
var callOrder = []string{"safety_engineer", "shift_supervisor", "control_engineer", "ot_security_lead", "soc_analyst", "operations_manager", "management", "site_manager"}

var roleNames = map[string]string{
	"safety_engineer":    "the safety engineer",
	"shift_supervisor":   "the shift supervisor",
	"control_engineer":   "the control engineer on duty",
	"ot_security_lead":   "the OT security lead",
	"soc_analyst":        "the SOC (security operations)",
	"operations_manager": "the operations manager",
	"management":         "plant management",
	"site_manager":       "the site manager",
	"operator":           "the control room",
}

// RoleName returns a role in plain words ("the control engineer on duty").
func RoleName(role string) string {
	if n, ok := roleNames[role]; ok {
		return n
	}
	return strings.ReplaceAll(role, "_", " ")
}

// Build derives the operator guidance of inc from its plans (in priority
// order). It is deterministic: the same input gives the same Guidance.
func Build(inc event.Incident, plans []event.Plan, names Names) Guidance {
	g := Guidance{
		IncidentID:      inc.ID,
		IncidentVersion: inc.Version,
		Site:            inc.Site,
		Title:           inc.Title,
		Severity:        inc.Severity,
		Risk:            inc.Risk,
		Zone:            name(names.Zones, inc.Target.Zone, "unknown zone"),
		Asset:           assetName(inc.Target, names),
		Safety:          inc.Target.Safety || inc.Target.ZoneKind == "safety" || inc.Target.Role == "sis",
		Check:           []Item{},
		DoNot:           []Item{},
		Automatic:       []Item{},
		Waiting:         []Pending{},
		Others:          []Item{},
	}
	seen := map[string]bool{}
	add := func(list *[]Item, it Item) {
		key := it.Text + "\x00" + it.Why
		if seen[key] {
			return
		}
		seen[key] = true
		*list = append(*list, it)
	}
	for _, t := range Always.Check {
		add(&g.Check, Item{Text: t})
	}
	for _, t := range Always.DoNot {
		add(&g.DoNot, Item{Text: t})
	}
	calls := map[string]bool{"control_engineer": true}
	if g.Safety {
		calls["safety_engineer"] = true
	}
	for _, p := range plans {
		for _, st := range p.Steps {
			it := Item{Text: st.Text, Playbook: p.PlaybookID, Step: st.ID}
			if st.Audience != "" && st.Audience != "operator" && st.Kind == "notify" {
				calls[st.Audience] = true
			}
			switch {
			case st.Decision == event.DecisionForbidden:
				it.Text = "Not done: " + st.Text
				it.Why = st.Reason
				add(&g.DoNot, it)
			case st.Decision == event.DecisionNeedsApproval:
				it.Why = st.Reason
				pd := Pending{Item: it, Approvers: slices.Clone(st.Approvers), Quorum: st.Quorum,
					YourApproval: slices.Contains(st.Approvers, "shift_supervisor")}
				if st.TimeoutSeconds > 0 {
					pd.Timeout = shortDuration(time.Duration(st.TimeoutSeconds) * time.Second)
				}
				if !seen["pending\x00"+p.PlaybookID+st.ID] {
					seen["pending\x00"+p.PlaybookID+st.ID] = true
					g.Waiting = append(g.Waiting, pd)
				}
				for _, r := range st.Approvers {
					calls[r] = true
				}
			case st.Kind == "guidance" && st.Audience == "operator":
				add(&g.Check, it)
			case st.Audience == "operator":
				// A notification to the control room is read by the operator.
				add(&g.Check, it)
			case st.Automatic && st.Kind == "notify":
				it.Text = "Notifies " + RoleName(st.Audience) + ": " + st.Text
				add(&g.Automatic, it)
			case st.Automatic && st.Kind != "guidance":
				add(&g.Automatic, it)
			default:
				add(&g.Others, it)
			}
		}
	}
	for _, r := range callOrder {
		if calls[r] {
			g.Call = append(g.Call, RoleName(r))
			delete(calls, r)
		}
	}
	rest := make([]string, 0, len(calls))
	for r := range calls {
		rest = append(rest, r)
	}
	slices.Sort(rest)
	for _, r := range rest {
		g.Call = append(g.Call, RoleName(r))
	}
	return g
}

func name(m map[string]string, id, unknown string) string {
	if id == "" || id == "unknown" {
		return unknown
	}
	if n, ok := m[id]; ok && n != "" {
		return n
	}
	return id
}

func assetName(e event.Endpoint, names Names) string {
	switch {
	case e.AssetID != "":
		if n, ok := names.Assets[e.AssetID]; ok && n != "" {
			return n
		}
		if e.AssetName != "" {
			return e.AssetName
		}
		return e.AssetID
	case e.IP != "":
		return "unknown device " + e.IP
	}
	return "unknown device"
}

// Markdown renders g for people: headings in the operator's order of need.
func Markdown(g Guidance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", orDefault(g.Title, "Incident "+g.IncidentID))
	fmt.Fprintf(&b, "Incident `%s` version %d at site %s. Severity **%s**, risk %d/100.  \n", g.IncidentID, g.IncidentVersion, g.Site, g.Severity, g.Risk)
	fmt.Fprintf(&b, "Affected: **%s** in **%s**.", g.Asset, g.Zone)
	if g.Safety {
		b.WriteString(" **A safety system is involved: the safety engineer decides.**")
	}
	b.WriteString("\n\n## Check now\n\n")
	for _, it := range g.Check {
		b.WriteString("- " + it.Text + "\n")
	}
	b.WriteString("\n## Do NOT\n\n")
	for _, it := range g.DoNot {
		b.WriteString("- " + it.Text)
		if it.Why != "" {
			b.WriteString(" _(" + it.Why + ")_")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Call\n\n")
	for _, c := range g.Call {
		b.WriteString("- " + c + "\n")
	}
	b.WriteString("\n## Waiting for approval\n\n")
	if len(g.Waiting) == 0 {
		b.WriteString("Nothing waits for approval.\n")
	}
	for _, p := range g.Waiting {
		who := make([]string, len(p.Approvers))
		for i, r := range p.Approvers {
			who[i] = RoleName(r)
		}
		fmt.Fprintf(&b, "- **%s** — %s Needs %s distinct %s: %s", p.Step, sentence(p.Text), strconv.Itoa(p.Quorum), plural(p.Quorum, "approver", "approvers"), strings.Join(who, ", "))
		if p.YourApproval {
			b.WriteString(" (**your approval is needed**)")
		}
		if p.Timeout != "" {
			b.WriteString(". Without approval within " + p.Timeout + " nothing is done and notification continues")
		}
		b.WriteString(".\n")
	}
	b.WriteString("\n## Done automatically by C-981\n\n")
	if len(g.Automatic) == 0 {
		b.WriteString("Nothing.\n")
	}
	for _, it := range g.Automatic {
		b.WriteString("- " + it.Text + "\n")
	}
	if len(g.Others) > 0 {
		b.WriteString("\n## For the engineers and the SOC (for your information)\n\n")
		for _, it := range g.Others {
			b.WriteString("- " + it.Text + "\n")
		}
	}
	return b.String()
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// NamesOf returns the zone and asset names of site models.
func NamesOf(models ...*site.Model) Names {
	n := Names{Zones: map[string]string{}, Assets: map[string]string{}}
	for _, m := range models {
		for _, z := range m.Zones {
			n.Zones[z.ID] = z.Name
		}
		for _, a := range m.Assets {
			n.Assets[a.ID] = a.Name
		}
	}
	return n
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// shortDuration formats d without zero trailing units: 30m, 8h, 1h30m.
func shortDuration(d time.Duration) string {
	out := d.String()
	out = strings.TrimSuffix(out, "0s")
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	if out == "" {
		return "0s"
	}
	return out
}

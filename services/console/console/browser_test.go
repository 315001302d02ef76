package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// Browser tests: the web UI in Debian's headless Chromium, driven by
// chromedp, against a running console with the ClickHouse fixture and an
// embedded JetStream. Screenshots go to $C981_ARTIFACTS (default
// var/artifacts/browser under the repository root).

// Tokens of the browser tests' users (all scoped to the demo plant).
const (
	analyst2Token = "browser-analyst-two-demo-01"
	safetyToken   = "browser-safety-engineer-01"
	controlToken  = "browser-control-engineer-01"
	ismsToken     = "browser-isms-owner-token-01"
)

// chromiumPath returns the browser to test with: $C981_CHROMIUM or
// /usr/bin/chromium. Without it the test fails in CI (CI=true) and is
// skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("C981_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("Chromium not found at %s (%v): install it with apt-get install -y chromium, or set C981_CHROMIUM", p, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// artifactsDir is where screenshots are written.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("C981_ARTIFACTS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.work")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatalf("no go.work above %s; set C981_ARTIFACTS", wd)
			}
			root = parent
		}
		dir = filepath.Join(root, "var", "artifacts", "browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// uiEnv is a running console and a headless browser.
type uiEnv struct {
	*streamEnv
	base      string
	artifacts string
	browser   context.Context
	mu        sync.Mutex
	problems  []string
}

// newUIEnv starts the console (with the browser tests' users, or in demo
// mode) and the browser.
func newUIEnv(t *testing.T, demo bool) *uiEnv {
	t.Helper()
	exe := chromiumPath(t)
	cfg := console.Config{Sites: []string{"testdata/sites"}}
	if !demo {
		cfg.Tokens = append(cfg.Tokens,
			console.TokenConfig{Token: analyst2Token, User: "bea", Roles: []string{console.RoleAnalyst}, Sites: []string{fixture.Site}},
			console.TokenConfig{Token: safetyToken, User: "sam", Roles: []string{console.RoleSafetyEngineer}, Sites: []string{fixture.Site}},
			console.TokenConfig{Token: controlToken, User: "cora", Roles: []string{console.RoleControlEngineer}, Sites: []string{fixture.Site}},
			console.TokenConfig{Token: ismsToken, User: "isa", Roles: []string{console.RoleISMSOwner}, Sites: []string{fixture.Site}})
	}
	se := newStreamEnv(t, cfg, demo)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- se.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("console: %v", err)
		}
	})
	select {
	case <-se.svc.Ready():
	case err := <-errc:
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	dir := artifactsDir(t)
	// Screenshots of an earlier run of this test would be mistaken for
	// this run's.
	old, err := filepath.Glob(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+"-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	return &uiEnv{streamEnv: se, base: "http://" + se.svc.Addr(), artifacts: dir, browser: bctx}
}

// tab opens a browser tab (its own sessionStorage) signed in with token,
// or with the demo mode button when token is empty; uncaught exceptions
// and Content-Security-Policy violations in it fail the test.
func (e *uiEnv) tab(t *testing.T, name, token string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			text := m.String()
			if m.IsException() || strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Refused to") {
				e.mu.Lock()
				e.problems = append(e.problems, fmt.Sprintf("%s: %s:%d %s", name, m.URL, m.Line+1, text))
				e.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, p := range e.problems {
			t.Errorf("browser console: %s", p)
		}
		e.problems = nil
	})
	e.do(t, ctx, name+"-login-page", chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	e.shot(t, ctx, name+"-login")
	if token == "" {
		e.do(t, ctx, name+"-login", chromedp.Click(chromedp.CSS("#demo")))
	} else {
		e.do(t, ctx, name+"-login", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")))
	}
	e.wait(t, ctx, name+"-queue", `document.querySelectorAll('#queue-rows tr[data-id]').length > 0`)
	return ctx
}

// do runs actions, with a screenshot of the page when they fail.
func (e *uiEnv) do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		e.shot(t, ctx, "FAILED-"+step)
		t.Fatalf("%s: %v", step, err)
	}
}

// wait polls the JavaScript condition cond until it holds (15 s).
func (e *uiEnv) wait(t *testing.T, ctx context.Context, step, cond string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			e.shot(t, ctx, "FAILED-"+step)
			flash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('flash')?.textContent || ''`))
			t.Fatalf("%s: %s did not become true within 15s (err %v; status bar %q)", step, cond, err, flash)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot writes a full-page screenshot to the artifacts directory.
func (e *uiEnv) shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(e.artifacts, strings.ReplaceAll(t.Name(), "/", "-")+"-"+name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Errorf("write screenshot: %v", err)
		return
	}
	t.Logf("screenshot %s", path)
}

func key(k string) chromedp.Action[chromedp.Void] { return chromedp.KeyEvent(k) }

func rowStatus(id, status string) string {
	return fmt.Sprintf(`document.querySelector('#queue-rows tr[data-id="%s"][data-status="%s"]')`, id, status)
}

// TestBrowserTriage: the analyst's triage flow — open the queue, filter
// with the keyboard, acknowledge (a) and see it live in a second tab,
// open an incident (Enter), see its zone/conduit picture, change its
// status and add a note while a colleague's tab follows live, and get the
// 409 answer for a change based on a stale version.
func TestBrowserTriage(t *testing.T) {
	e := newUIEnv(t, false)
	modbus := event.NewID("incident", "hmi-modbus")
	a := e.tab(t, "ana", demoAnalystToken)
	b := e.tab(t, "bea", analyst2Token)
	e.wait(t, a, "live", `document.body.dataset.live === 'live'`)
	e.wait(t, b, "live-b", `document.body.dataset.live === 'live'`)
	e.shot(t, a, "queue")

	// j and k move the selection.
	sel := `[...document.querySelectorAll('#queue-rows tr')].findIndex((r) => r.classList.contains('sel'))`
	e.wait(t, a, "first-selected", sel+` === 0`)
	e.do(t, a, "j", key("j"), key("j"))
	e.wait(t, a, "third-selected", sel+` === 2`)
	e.do(t, a, "k", key("k"))
	e.wait(t, a, "second-selected", sel+` === 1`)

	// Filter with the keyboard: / focuses the text filter, Enter applies it.
	e.do(t, a, "slash", key("/"))
	e.wait(t, a, "filter-focused", `document.activeElement.id === 'f-q'`)
	// (CDP types the "/" into the field after focusing it, which a real
	// keypress does not, as the handler cancels it.)
	e.do(t, a, "filter", chromedp.Evaluate[chromedp.Void](`document.getElementById('f-q').value = ''`), chromedp.SendKeys(chromedp.CSS("#f-q"), "Modbus\r"))
	e.wait(t, a, "filtered", fmt.Sprintf(`(() => { const r = [...document.querySelectorAll('#queue-rows tr[data-id]')]; return r.length === 1 && r[0].dataset.id === %q })()`, modbus))
	e.do(t, a, "blur", key(kb.Escape))
	e.shot(t, a, "queue-filtered")

	// a acknowledges the selected incident; the other tab sees it live.
	e.wait(t, b, "b-new", rowStatus(modbus, "new"))
	e.do(t, a, "acknowledge", key("a"))
	e.wait(t, a, "acknowledged", rowStatus(modbus, "acknowledged"))
	e.wait(t, b, "b-acknowledged", rowStatus(modbus, "acknowledged"))
	e.shot(t, b, "queue-live-update")

	// Enter opens it.
	e.do(t, a, "open", key(kb.Enter))
	e.wait(t, a, "incident-page", fmt.Sprintf(`location.hash === '#/incident/%s' && document.querySelector('#page-incident h1')?.textContent.includes('Modbus write to PLC-101')`, modbus))

	// Bea opens it too, but her live updates are cut (the stream is
	// blocked): when Ana assigns it, Bea's page still shows the old
	// version, and her change based on it is refused with 409 and the page
	// says so.
	if _, err := chromedp.Call(b, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: e.base + "/api/stream", Block: true}}}); err != nil {
		t.Fatal(err)
	}
	e.do(t, b, "b-open", chromedp.Navigate(e.base+"/#/incident/"+modbus), chromedp.Reload())
	e.wait(t, b, "b-incident-page", `document.querySelector('#page-incident h1')?.textContent.includes('Modbus write to PLC-101') && document.body.dataset.live !== 'live'`)
	e.do(t, a, "assign", chromedp.SendKeys(chromedp.CSS("#assignee"), "ana"), chromedp.Click(chromedp.CSS("#save")))
	e.wait(t, a, "assigned", `document.getElementById('flash').textContent === 'Saved.'`)
	e.do(t, b, "b-assign", chromedp.SendKeys(chromedp.CSS("#assignee"), "bea"), chromedp.Click(chromedp.CSS("#save")))
	e.wait(t, b, "b-conflict", `document.getElementById('flash').textContent.includes('changed by someone else, reload')`)
	e.shot(t, b, "incident-409")
	if _, err := chromedp.Call(b, network.SetBlockedURLs, network.SetBlockedURLsParams{}); err != nil {
		t.Fatal(err)
	}
	e.do(t, b, "b-reload", chromedp.Reload())
	e.wait(t, b, "b-live-again", `document.body.dataset.live === 'live' && document.querySelector('#page-incident')?.textContent.includes('ana')`)

	// Both open the SIS incident: the conduit violation is highlighted.
	for _, tab := range []context.Context{a, b} {
		e.do(t, tab, "open-sis", chromedp.Navigate(e.base+"/#/incident/"+fixture.IncidentSIS))
		e.wait(t, tab, "violation", `document.getElementById('violation')?.textContent.includes('not allowed by conduit control-safety')`)
	}
	e.wait(t, a, "zone-svg", `document.querySelector('#zonepic svg.zonepic.violated text.zname')?.textContent === 'demo-plant/control'`)
	e.wait(t, a, "timeline", `document.querySelectorAll('#timeline li').length >= 4`)
	e.wait(t, a, "plan-steps", `document.querySelector('tr.decision-forbidden td.reason')?.textContent.includes('never automated')`)
	e.wait(t, a, "superseded-step", `document.querySelector('tr[data-step="isolate-conduit"] td.state')?.textContent.includes('no longer waiting') && !document.querySelector('tr[data-step="isolate-conduit"] button.approve')`)
	e.shot(t, a, "incident-sis")

	// Ana contains it and adds a note; Bea's page follows live.
	e.do(t, a, "contain", chromedp.Evaluate[chromedp.Void](`document.getElementById('status').value = 'contained'`), chromedp.Click(chromedp.CSS("#save")))
	e.wait(t, a, "contained", `document.querySelector('#page-incident .st-contained')`)
	e.wait(t, b, "b-contained", `document.querySelector('#page-incident .st-contained')`)
	e.do(t, a, "note", chromedp.SendKeys(chromedp.CSS("#note"), "Checked the SIS trip status with the control room."), chromedp.Click(chromedp.CSS("#add-note")))
	e.wait(t, a, "note-shown", `document.getElementById('notes').textContent.includes('Checked the SIS trip status')`)
	e.wait(t, b, "b-note-shown", `document.getElementById('notes').textContent.includes('Checked the SIS trip status')`)
	e.shot(t, b, "incident-live-note")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(entry.Value()); !strings.Contains(s, `"status":"contained"`) || !strings.Contains(s, "Checked the SIS trip status") || !strings.Contains(s, `"actor":"ana"`) {
		t.Errorf("stored triage %s, want contained with Ana's note", s)
	}
}

// TestBrowserApproval: two people with the step's approver roles approve
// the same step from the operator page; both approvals reach the bus.
func TestBrowserApproval(t *testing.T) {
	e := newUIEnv(t, false)
	now := time.Now().UTC().Truncate(time.Second)
	inc := event.Incident{
		ID: event.NewID("incident", "browser-approval"), Version: 1, Site: fixture.Site, Key: "browser|approval",
		Title: "Unexpected write to the SIS (browser test)", Severity: event.SevCritical, Status: event.StatusNew,
		OpenedAt: now, FirstSeen: now, LastSeen: now, UpdatedAt: now, AlertIDs: []string{}, RuleIDs: []string{"sis-write"},
		Zones: []string{"demo-plant/safety"},
	}
	plan := event.Plan{
		ID: event.NewID("plan", inc.ID, "1"), IncidentID: inc.ID, IncidentVersion: 1, Site: fixture.Site,
		PlaybookID: "safety-system-tamper", PlaybookTitle: "Suspected tampering with a safety system", CreatedAt: now,
		Steps: []event.Step{
			{Index: 0, ID: "tell-operator", Kind: "guidance", Class: event.ClassPassive, Audience: "operator",
				Text: "Keep the process in a safe state; do not reset the SIS.", Decision: event.DecisionAllowed, Reason: "passive step"},
			{Index: 1, ID: "block-writes", Kind: "action", Action: "block_flow", Class: event.ClassBoundary, Audience: "network",
				Text: "Block writes from the control zone to the safety zone", Decision: event.DecisionNeedsApproval,
				Reason: "boundary action towards a safety zone needs two approvers", Quorum: 2, TimeoutSeconds: 3600,
				Approvers: []string{"safety_engineer", "control_engineer"}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, e.conn, fixture.Dataset{Incidents: []fixture.Version{{Incident: inc}}, Plans: []event.Plan{plan}}); err != nil {
		t.Fatal(err)
	}
	button := fmt.Sprintf("#approve-%s-block-writes", plan.ID)
	for _, u := range []struct{ name, token string }{{"sam", safetyToken}, {"cora", controlToken}} {
		tab := e.tab(t, u.name, u.token)
		e.do(t, tab, u.name+"-operator", chromedp.Navigate(e.base+"/#/operator/"+fixture.Site))
		e.wait(t, tab, u.name+"-guidance", `document.getElementById('guidance').textContent.includes('do not reset the SIS')`)
		e.wait(t, tab, u.name+"-request", fmt.Sprintf(`document.querySelector(%q)`, button))
		e.shot(t, tab, u.name+"-approvals")
		e.do(t, tab, u.name+"-approve", chromedp.Click(chromedp.CSS(button)))
		e.wait(t, tab, u.name+"-recorded", `document.getElementById('flash').textContent === 'Approval recorded.'`)
		e.shot(t, tab, u.name+"-approved")
		// The incident page shows the request with its approvers and deadline.
		e.do(t, tab, u.name+"-incident", chromedp.Navigate(e.base+"/#/incident/"+inc.ID))
		e.wait(t, tab, u.name+"-step-state", `document.querySelector('tr[data-step="block-writes"] td.state')?.textContent.includes('(safety_engineer / control_engineer), decide by')`)
	}

	cons, err := e.js.OrderedConsumer(ctx, bus.StreamApprovals, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("approvals on the bus: %v (got %v)", err, got)
		}
		var as []event.Approval
		if err := event.Unmarshal(msg.Data(), (*event.ApprovalBatch)(&as)); err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.PlanID != plan.ID || a.StepID != "block-writes" || a.Verdict != event.VerdictApprove || a.IncidentVersion != 1 {
				t.Errorf("approval %+v", a)
			}
			got = append(got, a.Approver+"/"+a.Role)
		}
	}
	slices.Sort(got)
	if want := []string{"cora/control_engineer", "sam/safety_engineer"}; !slices.Equal(got, want) {
		t.Errorf("approvals by %v, want %v", got, want)
	}
}

// TestBrowserReports: the reports page (NIS2 clocks, period summary) and
// an incident report downloaded from the incident page.
func TestBrowserReports(t *testing.T) {
	e := newUIEnv(t, false)
	dir := t.TempDir()
	a := e.tab(t, "ana", demoAnalystToken)
	if _, err := chromedp.CallBrowser(a, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	// The SIS incident is a NIS2 significant incident the entity became
	// aware of two days ago, with no early warning sent: overdue. (The
	// ClickHouse row is what the store writes for the revision on the bus.)
	aware := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	tr := event.NewTriage(fixture.IncidentSIS, fixture.Site)
	tr.Version, tr.Status, tr.UpdatedAt, tr.UpdatedBy = 1, event.StatusInvestigating, aware, "isa"
	tr.ISMS = event.ISMSRecord{Classification: "incident", Category: "safety", Significant: true, BecameAwareAt: &aware}
	doc, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batch, err := e.conn.PrepareBatch(ctx, "INSERT INTO incident_triage (site, incident_id, version, status, updated_at, updated_by, classification, category, significant, became_aware_at, doc)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(tr.Site, tr.IncidentID, tr.Version, tr.Status, tr.UpdatedAt, tr.UpdatedBy, "incident", "safety", uint8(1), &aware, string(doc)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	putTriage(t, e.js, tr) // the bus holds the same revision

	e.do(t, a, "reports", chromedp.Navigate(e.base+"/#/reports"))
	e.wait(t, a, "nis2", fmt.Sprintf(`document.querySelector('#nis2 tr.overdue-row[data-id="%s"] td.overdue')?.textContent.includes('OVERDUE')`, fixture.IncidentSIS))
	e.wait(t, a, "nis2-banner", `document.getElementById('nis2-overdue')?.textContent.includes('overdue')`)
	e.wait(t, a, "summary", `document.getElementById('summary-card')?.textContent.includes('Opened')`)
	e.shot(t, a, "reports")

	e.do(t, a, "incident", chromedp.Navigate(e.base+"/#/incident/"+fixture.IncidentSIS))
	e.wait(t, a, "report-button", `document.getElementById('report-md')`)
	e.do(t, a, "download", chromedp.Click(chromedp.CSS("#report-md")))
	e.wait(t, a, "downloaded", `document.getElementById('flash').textContent === 'Report downloaded.'`)
	path := filepath.Join(dir, "incident-"+fixture.IncidentSIS+".md")
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			if !strings.Contains(string(data), "Write to a safety system outside an allowed conduit") {
				t.Errorf("the downloaded report does not name the incident:\n%.500s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no report at %s (%v; directory has %v)", path, err, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.shot(t, a, "report-downloaded")

	// The ISMS owner records the classification and corrects the time of
	// awareness on the incident page: the NIS2 clocks follow, the early
	// warning overdue.
	isa := e.tab(t, "isa", ismsToken)
	e.do(t, isa, "isms-incident", chromedp.Navigate(e.base+"/#/incident/"+fixture.IncidentSIS))
	e.wait(t, isa, "isms-panel", `document.getElementById('isms-significant')`)
	awareLocal := time.Now().UTC().Add(-30 * time.Hour).Format("2006-01-02T15:04")
	e.do(t, isa, "isms-fill",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById('isms-significant').checked = true;
			document.getElementById('isms-became_aware_at').value = %q;
			document.getElementById('isms-classification').value = 'incident';
			document.getElementById('isms-category').value = 'safety';
			document.getElementById('isms-impact-safety').value = 'high'`, awareLocal)),
		chromedp.Click(chromedp.CSS("#isms-save")))
	e.wait(t, isa, "isms-saved", `document.getElementById('flash').textContent === 'ISMS record saved.'`)
	e.wait(t, isa, "isms-overdue", `document.querySelector('#isms-clocks tr.overdue-row')?.textContent.includes('Early warning')`)
	e.shot(t, isa, "isms-clocks")
	kv, err := e.js.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	var got event.Triage
	if err := json.Unmarshal(entry.Value(), &got); err != nil {
		t.Fatal(err)
	}
	if !got.ISMS.Significant || got.ISMS.BecameAwareAt == nil || got.ISMS.BecameAwareAt.Format("2006-01-02T15:04") != awareLocal ||
		got.ISMS.Category != "safety" || got.ISMS.Classification != "incident" || got.ISMS.Impact.Safety != "high" {
		t.Errorf("stored ISMS record %+v", got.ISMS)
	}
}

// TestBrowserDemoMode: on a console without tokens (loopback), the demo
// button signs in read-only: the queue shows every site, and a change is
// refused as the roles do not allow it.
func TestBrowserDemoMode(t *testing.T) {
	e := newUIEnv(t, true)
	d := e.tab(t, "demo", "")
	e.wait(t, d, "who", `document.getElementById('who').textContent === 'demo (read-only)'`)
	e.wait(t, d, "all-sites", fmt.Sprintf(`document.querySelector('#queue-rows tr[data-id="%s"]') && document.querySelector('#queue-rows tr[data-id="%s"]')`, fixture.IncidentSIS, incidentOther))
	e.do(t, d, "open", chromedp.Navigate(e.base+"/#/incident/"+fixture.IncidentSIS))
	e.wait(t, d, "page", `document.getElementById('zonepic')`)
	e.do(t, d, "note", chromedp.SendKeys(chromedp.CSS("#note"), "demo note"), chromedp.Click(chromedp.CSS("#add-note")))
	e.wait(t, d, "refused", `document.getElementById('flash').textContent.includes('your roles do not allow this')`)
	e.shot(t, d, "demo-refused")
	e.do(t, d, "sign-out", chromedp.Click(chromedp.CSS("#logout")))
	e.wait(t, d, "signed-out", `document.getElementById('token') && !sessionStorage.getItem('c981.demo')`)
}

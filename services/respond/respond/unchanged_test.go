package respond

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// volatileFields are the incident fields (json names) outside the plan
// inputs unless a playbook reads them.
var volatileFields = map[string]bool{fieldVersion: true, fieldUpdatedAt: true, fieldFirstSeen: true, fieldLastSeen: true,
	fieldAlertIDs: true, fieldAlertCount: true}

// mutations returns, for every field of v's struct type (recursively into
// structs other than time.Time), its dotted json name and a copy of v with
// that field changed.
func mutations(v reflect.Value, prefix string) map[string]func(reflect.Value) {
	out := map[string]func(reflect.Value){}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + strings.Split(f.Tag.Get("json"), ",")[0]
		idx := i
		switch {
		case f.Type == reflect.TypeOf(time.Time{}):
			out[name] = func(x reflect.Value) {
				x.Field(idx).Set(reflect.ValueOf(x.Field(idx).Interface().(time.Time).Add(time.Second)))
			}
		case f.Type.Kind() == reflect.Struct:
			for sub, m := range mutations(v.Field(i), name+".") {
				out[sub] = func(x reflect.Value) { m(x.Field(idx)) }
			}
		default:
			out[name] = func(x reflect.Value) {
				fv := x.Field(idx)
				switch fv.Kind() {
				case reflect.String:
					fv.SetString(fv.String() + "x")
				case reflect.Bool:
					fv.SetBool(!fv.Bool())
				case reflect.Int, reflect.Int64, reflect.Int32:
					fv.SetInt(fv.Int() + 1)
				case reflect.Uint64:
					fv.SetUint(fv.Uint() + 1)
				case reflect.Float64, reflect.Float32:
					fv.SetFloat(fv.Float() + 1)
				case reflect.Slice:
					fv.Set(reflect.Append(fv, reflect.ValueOf("x")))
				default:
					panic("mutations: unsupported kind " + fv.Kind().String() + " of " + name)
				}
			}
		}
	}
	return out
}

// TestPlanInputs changes every field of an incident, one at a time, and
// checks that the fingerprint of the plan inputs changes exactly for the
// plan inputs: every field but the volatile ones, and those volatile
// fields a playbook reads. A field added to event.Incident or
// event.Endpoint is a plan input until it is classified otherwise.
func TestPlanInputs(t *testing.T) {
	real, err := playbook.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	reading, err := playbook.Parse("reads.yaml", []byte(`playbooks:
  - id: PB-COUNT
    title: Many alerts
    applies_to: 'alert_count > 100 and last_seen != first_seen'
    steps: [{id: s, kind: guidance, text: t, audience: operator}]
`))
	if err != nil {
		t.Fatal(err)
	}
	readingSet, err := playbook.NewSet(reading)
	if err != nil {
		t.Fatal(err)
	}
	base := readIncident(t, "PB-OT-01")
	base.AlertCount = len(base.AlertIDs)
	tests := []struct {
		name string
		set  *playbook.Set
		read map[string]bool // volatile fields the set reads
	}{
		{"rule pack", real, map[string]bool{}},
		{"playbook reading alert_count, first_seen and last_seen", readingSet, map[string]bool{fieldAlertCount: true, fieldFirstSeen: true, fieldLastSeen: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlanned(tt.set, 0)
			fp := p.inputs(&base)
			if again := base; p.inputs(&again) != fp {
				t.Fatal("the fingerprint of a copy differs")
			}
			muts := mutations(reflect.ValueOf(base), "")
			if len(muts) < 25 {
				t.Fatalf("%d fields mutated, want every field of Incident and Endpoint", len(muts))
			}
			for name, mutate := range muts {
				inc := base
				inc.AlertIDs = append([]string(nil), base.AlertIDs...)
				mutate(reflect.ValueOf(&inc).Elem())
				top := strings.Split(name, ".")[0]
				wantChange := !volatileFields[top] || tt.read[top]
				if changed := p.inputs(&inc) != fp; changed != wantChange {
					t.Errorf("changing %s: fingerprint changed %v, want %v", name, changed, wantChange)
				}
			}
		})
	}
}

// TestUnchangedVersionNotPlanned runs the stage on versions of one
// incident: a version that only adds alerts is not planned again (no plan,
// no audit record, the approval requests stay open), one that changes the
// severity is planned and supersedes the requests of the first.
func TestUnchangedVersionNotPlanned(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	svc, err := New(Config{PlaybooksDir: packDir, Audit: true, RetryDelay: 50 * time.Millisecond}, Deps{JS: env.JS, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	v1 := readIncident(t, "PB-OT-01")
	v1.Version, v1.AlertCount = 1, len(v1.AlertIDs)
	v2 := v1
	v2.Version, v2.AlertCount = 2, v1.AlertCount+5
	v2.LastSeen, v2.UpdatedAt = v1.LastSeen.Add(time.Minute), v1.UpdatedAt.Add(time.Minute)
	v2.AlertIDs = append(append([]string(nil), v1.AlertIDs...), event.NewID("alert", "more"))
	v3 := v2
	v3.Version, v3.Severity, v3.Risk = 3, "high", v2.Risk-15

	steps := []struct {
		name       string
		inc        event.Incident
		wantPlans  int // messages on C981_ACTIONS after the step
		planned    float64
		unchanged  float64
		superseded float64
	}{
		{"first version", v1, 1, 1, 0, 0},
		{"alerts added", v2, 1, 1, 1, 0},
		{"alerts added, redelivered under a new message", v2, 1, 1, 2, 0},
		{"severity changed", v3, 2, 2, 2, 2},
	}
	subject := bus.IncidentsSubject("demo-plant")
	for i, st := range steps {
		if err := bus.PublishRecords(ctx, env.JS, subject, "inc-"+st.name, []event.Incident{st.inc}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st.name, func() bool {
			c, err := env.JS.Consumer(ctx, bus.StreamIncidents, bus.ConsumerRespond)
			if err != nil {
				return false
			}
			ci, err := c.Info(ctx)
			return err == nil && ci.AckFloor.Stream == uint64(i+1)
		})
		if n := len(streamMsgs(t, env.JS, bus.StreamActions)); n != st.wantPlans {
			t.Errorf("%s: %d plan messages, want %d", st.name, n, st.wantPlans)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"planned", metricValue(t, reg, "c981_respond_incidents_total", "planned"), st.planned},
			{"unchanged", metricValue(t, reg, "c981_respond_incidents_total", "unchanged"), st.unchanged},
			{"superseded requests", metricValue(t, reg, "c981_respond_approval_requests_total", StateSuperseded), st.superseded},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", st.name, c.name, c.got, c.want)
			}
		}
	}
	// Only versions 1 and 3 have decision records.
	for _, m := range streamMsgs(t, env.JS, bus.StreamAudit) {
		if strings.Contains(string(m.Data), `"incident_version":2`) {
			t.Errorf("audit record of the unchanged version 2: %s", m.Data)
		}
	}
}

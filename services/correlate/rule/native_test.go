package rule

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/shared/event"
)

// nativeTestEvents are the bench events plus edge cases: empty values,
// mixed-case and non-ASCII text, NaN and fractional Purdue levels, IPv6
// and IPv4-mapped addresses, an open maintenance window, no fields map.
func nativeTestEvents(tb testing.TB) []event.Event {
	tb.Helper()
	evs := benchEvents(tb)
	evs = append(evs,
		event.Event{},
		event.Event{Kind: "auth", Category: "authentication", Outcome: "FAILURE", SrcIP: "::ffff:10.20.1.7", DstIP: "fd00::1",
			Src: event.Endpoint{Purdue: math.NaN(), Zone: "demo-plant/control", ZoneKind: "control"},
			Dst: event.Endpoint{Purdue: 3.5, Role: "ews", Zone: "control"}},
		event.Event{Kind: "flow", Outcome: "Échec", DstPort: 502, BytesOut: 1 << 40, Operation: "program_download",
			Src:    event.Endpoint{IP: "10.20.2.11", AssetID: "demo-plant/ews-01", Role: "ews", Purdue: 2, Safety: true},
			Dst:    event.Endpoint{Role: "sis", Purdue: 1, ZoneKind: "safety", Criticality: "critical"},
			Maint:  event.Maint{Active: true, AllowedOps: []string{"program_download"}, AllowedSources: []string{"demo-plant/ews-01"}},
			Fields: map[string]string{"mode_to": "PROGRAM", "k": ""}},
		event.Event{Kind: "alert", Techniques: []string{"T0869"}, Category: "c2", SrcIP: "not-an-ip", DstIP: "10.0.0.1",
			Src: event.Endpoint{Purdue: 3.5, ZoneKind: "dmz"}, Dst: event.Endpoint{Purdue: -1},
			Flow: event.Flow{NewPair: true, PurdueDelta: -1.5}},
		event.Event{User: " admin ", Fields: map[string]string{"k": "v", "missing": "no"}},
	)
	return evs
}

// nativeExprs are boolean expressions with whether they must compile
// natively (false: the interpreter must be used).
var nativeExprs = []struct {
	src    string
	native bool
}{
	{`operation == "program_download"`, true},
	{`"program_download" == operation`, true},
	{`operation != "read" and kind == "flow"`, true},
	{`operation in write_ops or operation in engineering_ops`, true},
	{`operation not in ["read", "write"]`, true},
	{`dst.role in controller_roles && !flow.allowed`, true},
	{`not dst.known || src.safety`, true},
	{`dst_port == 502`, true},
	{`dst_port in [102, 502, 2404]`, true},
	{`dst_port in [502.0, 1.5]`, true},
	{`dst.purdue in [1, 3.5]`, true},
	{`dst.purdue <= 3 and dst.purdue >= 0`, true},
	{`src.purdue == 3.5`, true},
	{`src.purdue < 2 or src.purdue > 2`, true},
	{`dst_port > 500 and dst_port < 503`, true},
	{`bytes_out > 1000000`, true},
	{`bytes_out >= dst_port`, true},
	{`flow.purdue_delta < -1`, true},
	{`flow.purdue_delta == -1.5`, true},
	{`src.sl_t >= dst.sl_t`, true},
	{`src_ip < dst_ip`, true},
	{`lower(outcome) in ["failure", "failed", "fail"]`, true},
	{`lower(outcome) == "échec"`, true},
	{`upper(fields["mode_to"]) == "PROGRAM"`, true},
	{`trim(user) == ""`, true},
	{`fields["k"] == "" and fields["missing"] == ""`, true},
	{`fields.mode_to == "PROGRAM"`, true},
	{`"program_download" in maint.allowed_ops`, true},
	{`src.asset_id in maint.allowed_sources or src_ip in maint.allowed_sources`, true},
	{`"T0869" in techniques`, true},
	{`signature contains "C2" or host startsWith "fw" or src_ip endsWith ".11"`, true},
	{`src_ip matches "^10\\.20\\."`, true},
	{`(src.asset_id != "" ? src.asset_id : src_ip) == "demo-plant/hmi-01"`, true},
	{`(dst.known ? dst_port : 0) == 502`, true},
	{`src_ip + ":" + dst_ip == "10.20.2.11:10.20.1.11"`, true},
	{`in_zone(src, "control") or in_zone(dst, "demo-plant/control")`, true},
	{`is_kind(dst, "safety") or has_role(src, "ews")`, true},
	{`is_controller(dst) and not is_safety(dst)`, true},
	{`purdue_at_most(src, 2) or purdue_at_least(dst, 3.5)`, true},
	{`in_cidr(src_ip, "10.20.0.0/16") or in_cidr(dst_ip, "fd00::/8")`, true},
	{`maint_allows(maint, operation) and maint_allows_source(maint, src)`, true},
	{`dst.safety == true`, true},
	// Outside the native subset: the interpreter runs them.
	{`in_cidr(src_ip, fields["net"] ?? "10.0.0.0/8")`, false},
	{`len(user) > 3`, false},
	{`dst_port + 1 == 503`, false},
	{`src?.role == "hmi"`, false},
	{`fields["k"] == nil`, false},
	{`time > received_at`, false},
	{`any(techniques, # == "T0869")`, false},
	{`let r = dst.role; r == "plc"`, false},
}

func TestNativeMatchesInterpreter(t *testing.T) {
	evs := nativeTestEvents(t)
	for _, tt := range nativeExprs {
		t.Run(tt.src, func(t *testing.T) {
			p, err := compileExpr(tt.src, expr.AsBool())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			native := nativeBool(tt.src)
			if (native != nil) != tt.native {
				t.Fatalf("native form: got %v, want %v", native != nil, tt.native)
			}
			if native == nil {
				return
			}
			env := newEnv()
			var machine vm.VM
			trues := 0
			for i := range evs {
				env.set(&evs[i])
				out, err := machine.Run(p, env)
				if err != nil {
					t.Fatalf("event %d: interpreter: %v", i, err)
				}
				if got := native(&evs[i]); got != out.(bool) {
					t.Fatalf("event %d (%s): native %v, interpreter %v", i, evs[i].ID, got, out)
				}
				if out.(bool) {
					trues++
				}
			}
			if trues == 0 || trues == len(evs) {
				t.Errorf("%d of %d events are true: add an event that tells the paths apart", trues, len(evs))
			}
		})
	}
}

func TestNativeKeysMatchInterpreter(t *testing.T) {
	keys := [][]string{
		{"src_ip"}, {"dst_ip", "lower(user)"}, {"dst.asset_id"}, {"dst_port"}, {"bytes_out"},
		{"dst.purdue"}, {"src.purdue", "flow.purdue_delta"}, {"flow.allowed"}, {`fields["mode_to"]`},
		{`src.asset_id != "" ? src.asset_id : src_ip`}, {"site", "host", "src_ip", "dst_ip"}, {},
	}
	evs := nativeTestEvents(t)
	for _, srcs := range keys {
		t.Run(slices.Concat(srcs, []string{"|"})[0], func(t *testing.T) {
			var progs []*vm.Program
			for _, s := range srcs {
				p, err := compileKeyExpr(s)
				if err != nil {
					t.Fatal(err)
				}
				progs = append(progs, p)
			}
			native := nativeKeys(srcs)
			if native == nil {
				t.Fatal("no native form")
			}
			m := &Matcher{env: newEnv()}
			for i := range evs {
				m.env.set(&evs[i])
				want, err := m.hash(progs)
				if err != nil {
					t.Fatal(err)
				}
				if got := native(fnvOffset, &evs[i]); got != want {
					t.Fatalf("event %d: native hash %x, interpreter %x", i, got, want)
				}
			}
		})
	}
}

// TestPackIsNative keeps every expression of the rule pack on the native
// path: an expression that falls back to the interpreter costs about ten
// times as much per event.
func TestPackIsNative(t *testing.T) {
	set, err := LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules() {
		if parts := r.Interpreted(); len(parts) > 0 {
			t.Errorf("rule %s: %v run in the interpreter", r.ID, parts)
		}
	}
}

// TestEvalNativeEqualsInterpreted evaluates the pack and generated rules
// with and without the native closures: same matches, hits and errors.
func TestEvalNativeEqualsInterpreted(t *testing.T) {
	pack, err := LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(append(slices.Clone(pack.Rules()), generatedRules(t, 300)...)...)
	if err != nil {
		t.Fatal(err)
	}
	native, interp := set.NewMatcher(), set.NewMatcher()
	interp.interpret = true
	matched := 0
	for _, ev := range nativeTestEvents(t) {
		m1, h1, e1 := native.Eval(&ev, nil, nil)
		m2, h2, e2 := interp.Eval(&ev, nil, nil)
		if !slices.Equal(h1, h2) || len(m1) != len(m2) || len(e1) != len(e2) {
			t.Fatalf("event %s: native %d matches %v %v, interpreted %d matches %v %v", ev.ID, len(m1), h1, e1, len(m2), h2, e2)
		}
		for i := range m1 {
			if m1[i].Rule != m2[i].Rule || m1[i].IncidentKey != m2[i].IncidentKey || m1[i].Summary != m2[i].Summary {
				t.Fatalf("event %s: match %d differs: %+v vs %+v", ev.ID, i, m1[i], m2[i])
			}
		}
		matched += len(m1) + len(h1)
	}
	if matched == 0 {
		t.Fatal("no event matched: the comparison proves nothing")
	}
}

// TestKeyHashStable pins key hashes: checkpointed window state is stored
// under them, so a change would orphan every checkpoint on upgrade.
func TestKeyHashStable(t *testing.T) {
	tests := []struct {
		v    any
		want uint64
	}{
		{"10.20.1.11", 0xfda18f6ebcdb570},
		{"", 0x392209f14dea4c24},
		{502, 0xb203be03340f8436},
		{int64(-7), 0xfcc7286876a66499},
		{3.5, 0xd72c0d817420760a},
		{2.0, 0xe826bd37714b00a5},
		{true, 0x2d2d019009bbb940},
		{false, 0x4c27c89914ab0361},
		{nil, 0xa8c7f832281a39c5},
	}
	for _, tt := range tests {
		if got := hashValue(fnvOffset, tt.v); got != tt.want {
			t.Errorf("hashValue(%#v) = %#x, want %#x", tt.v, got, tt.want)
		}
	}
	if got := hashStringValue(fnvOffset, "10.20.1.11"); got != 0xfda18f6ebcdb570 {
		t.Errorf("hashStringValue = %#x", got)
	}
	if got := hashFloat(fnvOffset, 3.5); got != 0xd72c0d817420760a {
		t.Errorf("hashFloat = %#x", got)
	}
	if got := hashBool(fnvOffset, true); got != 0x2d2d019009bbb940 {
		t.Errorf("hashBool = %#x", got)
	}
}

// TestFieldGettersMatchReflection: the direct field reads that fill an
// alert's fields render every event field exactly as the reflective
// formatValue does.
func TestFieldGettersMatchReflection(t *testing.T) {
	evs := nativeTestEvents(t)
	evs = append(evs, event.Event{DstPort: 502, BytesOut: -3, Techniques: []string{"T0869", "T0886"},
		Src: event.Endpoint{Purdue: 1.5, Known: true}, Flow: event.Flow{PurdueDelta: -0.5}})
	direct := 0
	for name, index := range fieldIndex {
		g, err := newFieldGetter(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := nativeFields[name]; ok {
			direct++
		}
		for i := range evs {
			want := formatValue(reflect.ValueOf(&evs[i]).Elem().FieldByIndex(index))
			if got := g.get(&evs[i]); got != want {
				t.Fatalf("%s on event %d: %q, want %q", name, i, got, want)
			}
		}
	}
	if direct < len(fieldIndex)-3 {
		t.Errorf("only %d of %d fields are read directly", direct, len(fieldIndex))
	}
}

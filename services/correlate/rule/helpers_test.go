package rule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/shared/event"
)

// TestHelpers checks each zone helper's meaning, in the interpreter and in
// the native form, on hand-made events.
func TestHelpers(t *testing.T) {
	plc := event.Event{
		SrcIP: "10.20.2.11", DstIP: "10.20.1.11", Operation: "program_download",
		Src: event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/ews-01", Role: "ews",
			Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2},
		Dst: event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc",
			Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1},
		Maint: event.Maint{Active: true, AllowedOps: []string{"program_download"}, AllowedSources: []string{"demo-plant/ews-01"}},
	}
	unknown := event.Event{
		SrcIP: "::ffff:192.168.7.9", DstIP: "fd00::17",
		Src: event.Endpoint{IP: "::ffff:192.168.7.9", Role: "unknown", Purdue: -1},
		Dst: event.Endpoint{IP: "fd00::17", Role: "sis", Zone: "demo-plant/sis", ZoneKind: "safety", Purdue: 1.5},
		// A window that is not open allows nothing.
		Maint: event.Maint{AllowedOps: []string{"mode_change"}, AllowedSources: []string{"::ffff:192.168.7.9"}},
	}
	tests := []struct {
		src           string
		plc, unknownV bool
	}{
		{`in_zone(dst, "demo-plant/control")`, true, false},
		{`in_zone(dst, "control")`, true, false},
		{`in_zone(dst, "plant/control")`, false, false},
		{`in_zone(src, "sis") or in_zone(dst, "sis")`, false, true},
		{`is_kind(dst, "control")`, true, false},
		{`is_kind(dst, "safety")`, false, true},
		{`has_role(src, "ews")`, true, false},
		{`is_controller(dst)`, true, true},
		{`is_controller(src)`, false, false},
		{`is_safety(dst)`, false, true},
		{`purdue_at_most(dst, 1)`, true, false},
		{`purdue_at_most(dst, 1.5)`, true, true},
		{`purdue_at_most(src, 5)`, true, false},
		{`purdue_at_least(src, 2)`, true, false},
		{`purdue_at_least(src, 0)`, true, false},
		{`in_cidr(src_ip, "10.20.0.0/16")`, true, false},
		{`in_cidr(src_ip, "192.168.0.0/16")`, false, true},
		{`in_cidr(dst_ip, "fd00::/8")`, false, true},
		{`in_cidr(dst_ip, "10.20.1.11/32")`, true, false},
		{`in_cidr(host, "0.0.0.0/0")`, false, false},
		{`maint_allows(maint, operation)`, true, false},
		{`maint_allows(maint, "mode_change")`, false, false},
		{`maint_allows_source(maint, src)`, true, false},
		{`maint_allows_source(maint, dst)`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := compileExpr(tt.src, expr.AsBool())
			if err != nil {
				t.Fatal(err)
			}
			native := nativeBool(tt.src)
			if native == nil {
				t.Fatal("no native form")
			}
			env := newEnv()
			var machine vm.VM
			for _, c := range []struct {
				name string
				ev   event.Event
				want bool
			}{{"plc", plc, tt.plc}, {"unknown", unknown, tt.unknownV}} {
				env.set(&c.ev)
				out, err := machine.Run(p, env)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if out != c.want {
					t.Errorf("%s: interpreter = %v, want %v", c.name, out, c.want)
				}
				if got := native(&c.ev); got != c.want {
					t.Errorf("%s: native = %v, want %v", c.name, got, c.want)
				}
			}
		})
	}
}

// TestInCIDRDynamic covers in_cidr with a CIDR taken from the event: the
// interpreter parses (and caches) it; an invalid one is an evaluation
// error of that rule only.
func TestInCIDRDynamic(t *testing.T) {
	src := `in_cidr(src_ip, fields["net"])`
	p, err := compileExpr(src, expr.AsBool())
	if err != nil {
		t.Fatal(err)
	}
	if nativeBool(src) != nil {
		t.Fatal("a non-constant CIDR must use the interpreter")
	}
	tests := []struct {
		net     string
		want    bool
		wantErr bool
	}{
		{"10.0.0.0/8", true, false},
		{"10.0.0.0/8", true, false}, // cached
		{"192.168.0.0/16", false, false},
		{"bogus", false, true},
	}
	env := newEnv()
	var machine vm.VM
	for _, tt := range tests {
		ev := event.Event{SrcIP: "10.1.2.3", Fields: map[string]string{"net": tt.net}}
		env.set(&ev)
		out, err := machine.Run(p, env)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: err = %v, want error %v", tt.net, err, tt.wantErr)
		}
		if err == nil && out != tt.want {
			t.Errorf("%s: %v, want %v", tt.net, out, tt.want)
		}
	}
}

// TestPrefixCacheOwnsKeys checks that the in_cidr cache keeps its own
// copy of a CIDR taken from an event: the event's string may point into
// its input message (event.UnmarshalEventsShared), which is overwritten
// or freed once the message is processed.
func TestPrefixCacheOwnsKeys(t *testing.T) {
	buf := []byte("10.77.0.0/16")
	cidr := unsafe.String(unsafe.SliceData(buf), len(buf))
	if _, err := cachedPrefix(cidr); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXXXXXX") // the message's life is over
	if _, ok := prefixCache.Load("10.77.0.0/16"); !ok {
		t.Fatal("the cached CIDR changed with its input")
	}
	prefixCache.Range(func(k, _ any) bool {
		if k.(string) == "XXXXXXXXXXXX" {
			t.Error("the cache keeps the input's bytes as a key")
		}
		return true
	})
}

// TestHelpersDocumented keeps the rule authors' documentation (README,
// JSON Schema) in step with the registered helpers.
func TestHelpersDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(packDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("../../../schemas/rule.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range Helpers {
		if !strings.Contains(string(readme), "`"+h.Name+"(") {
			t.Errorf("rules/README.md does not document %s", h.Name)
		}
		if !strings.Contains(string(schema), h.Name+"(") {
			t.Errorf("schemas/rule.schema.json does not mention %s", h.Name)
		}
		if !strings.HasPrefix(h.Signature, h.Name+"(") {
			t.Errorf("%s: signature %q", h.Name, h.Signature)
		}
	}
	if len(Helpers) != len(helperFuncs) {
		t.Errorf("%d documented helpers, %d registered", len(Helpers), len(helperFuncs))
	}
}

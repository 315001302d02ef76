package sigma

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// convertFile converts testdata/name and checks that the result loads as a
// C-981 rule.
func convertFile(t *testing.T, name string) (*Rule, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Convert(name, data, Options{})
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	out, err := Marshal([]*Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rule.Parse(name+".yaml", out); err != nil {
		t.Fatalf("converted rule does not load: %v\n%s", err, out)
	}
	return r, out
}

func TestConvertGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Sigma rules in testdata (%v)", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			_, out := convertFile(t, name)
			golden := strings.TrimSuffix(f, ".yml") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("converted rule differs from %s:\n%s", golden, out)
			}
		})
	}
}

// TestConvertedRulesMatch runs the converted real-world rules on events.
func TestConvertedRulesMatch(t *testing.T) {
	var rules []*rule.Rule
	for _, f := range []string{
		"win_security_successful_external_remote_rdp_login.yml",
		"win_security_member_added_security_enabled_global_group.yml",
		"win_new_or_renamed_user_account_with_dollar_sign.yml",
		"proc_creation_win_net_use_mount_internet_share.yml",
	} {
		_, out := convertFile(t, f)
		rs, err := rule.Parse(f, out)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rs...)
	}
	set, err := rule.NewSet(rules...)
	if err != nil {
		t.Fatal(err)
	}
	const (
		rdp    = "SIGMA-259a9cdf-c4dd-4fa2-b243-2269e5ab18a2"
		group  = "SIGMA-c43c26be-2e87-46c7-8661-284588c5a53e"
		dollar = "SIGMA-cfeed607-6aa4-4bbd-9627-b637deb723c8"
		webdav = "SIGMA-7e6237fe-3ddb-438f-9381-9bf9de5af8d0"
	)
	logon := func(ip, logonType string) event.Event {
		return event.Event{EventCode: "4624", SrcIP: ip, Fields: map[string]string{"LogonType": logonType}}
	}
	proc := func(image, orig, cmd string) event.Event {
		return event.Event{EventCode: "1", Fields: map[string]string{"Image": image, "OriginalFileName": orig, "CommandLine": cmd}}
	}
	tests := []struct {
		name string
		ev   event.Event
		want string // rule id, "" for none
	}{
		{"RDP logon from a public address", logon("8.8.8.8", "10"), rdp},
		{"RDP logon from a public IPv6 address", logon("2001:db8::1", "10"), rdp},
		{"RDP logon from the plant network", logon("10.20.2.11", "10"), ""},
		{"RDP logon from link-local IPv6", logon("fe80::1", "10"), ""},
		{"RDP logon without address", logon("-", "10"), ""},
		{"network logon", logon("8.8.8.8", "3"), ""},
		{"member added to a global group", event.Event{EventCode: "4728"}, group},
		{"legacy event id", event.Event{EventCode: "632"}, group},
		{"member removed", event.Event{EventCode: "4729"}, ""},
		{"account with $", event.Event{EventCode: "4781", Fields: map[string]string{"SamAccountName": "svc$"}}, dollar},
		{"ordinary account", event.Event{EventCode: "4720", Fields: map[string]string{"SamAccountName": "svc"}}, ""},
		{"net use of a web share (case-insensitive)", proc(`C:\Windows\System32\NET.EXE`, "", `net use Z: HTTPS://evil.example/dav`), webdav},
		{"renamed net1 by original name", proc(`C:\tmp\x.exe`, "net1.exe", `x use \\host http://a`), webdav},
		{"net use of an SMB share", proc(`C:\Windows\System32\net.exe`, "net.exe", `net use Z: \\fs01\share`), ""},
		{"other binary", proc(`C:\Windows\System32\netsh.exe`, "netsh.exe", `netsh use http`), ""},
	}
	m := set.NewMatcher()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matches, errs := m.Match(&tt.ev, nil)
			if len(errs) > 0 {
				t.Fatalf("evaluation errors: %v", errs)
			}
			var got []string
			for _, mt := range matches {
				got = append(got, mt.Rule.ID)
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("matched %v, want none", got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("matched %v, want %s", got, tt.want)
			}
		})
	}
}

// detection wraps a detection block into a minimal Sigma rule.
func detection(block string) []byte {
	return []byte("title: T\nid: x-1\nlevel: high\ndetection:\n" + block)
}

func TestConvertConditions(t *testing.T) {
	tests := []struct {
		name, block, want string
	}{
		{"equality lowers case", "  sel:\n    CommandLine: 'Net Use'\n  condition: sel\n", `lower(fields["CommandLine"]) == "net use"`},
		{"exact fields keep case", "  sel:\n    EventID: 4624\n    SourceIp: 10.0.0.1\n  condition: sel\n", `event_code == "4624" and src_ip == "10.0.0.1"`},
		{"values are ORed into in", "  sel:\n    EventID: [4720, 4781]\n  condition: sel\n", `event_code in ["4720", "4781"]`},
		{"integer field", "  sel:\n    DestinationPort: [502, 102]\n  condition: sel\n", `dst_port in [502, 102]`},
		{"leading and trailing wildcards", "  sel:\n    Image: '*\\cmd.exe'\n    CommandLine: 'whoami*'\n    ParentImage: '*temp*'\n  condition: sel\n",
			`lower(fields["Image"]) endsWith "\\cmd.exe" and lower(fields["CommandLine"]) startsWith "whoami" and lower(fields["ParentImage"]) contains "temp"`},
		{"inner wildcards", "  sel:\n    Image: 'C:\\\\*\\a?.exe'\n  condition: sel\n", `lower(fields["Image"]) matches "(?s)^c:\\\\.*\\\\a.\\.exe$"`},
		{"escaped star is literal", "  sel:\n    Image: 'C:\\*\\a?.exe'\n  condition: sel\n", `lower(fields["Image"]) matches "(?s)^c:\\*\\\\a.\\.exe$"`},
		{"escaped wildcard", "  sel:\n    CommandLine|contains: 'a\\*b'\n  condition: sel\n", `lower(fields["CommandLine"]) contains "a*b"`},
		{"cased", "  sel:\n    CommandLine|contains|cased: 'IEX'\n  condition: sel\n", `fields["CommandLine"] contains "IEX"`},
		{"all", "  sel:\n    CommandLine|contains|all: [a, b]\n  condition: sel\n", `(lower(fields["CommandLine"]) contains "a" and lower(fields["CommandLine"]) contains "b")`},
		{"re", "  sel:\n    CommandLine|re: '^x[0-9]+'\n  condition: sel\n", `fields["CommandLine"] matches "^x[0-9]+"`},
		{"cidr", "  sel:\n    DestinationIp|cidr: 10.0.0.0/8\n  condition: sel\n", `in_cidr(dst_ip, "10.0.0.0/8")`},
		{"null and exists", "  sel:\n    User: null\n    Image|exists: true\n  condition: sel\n", `user == "" and fields["Image"] != ""`},
		{"keywords", "  keywords:\n    - mimikatz\n    - 'sekurlsa::'\n  condition: keywords\n", `(lower(message) contains "mimikatz" or lower(message) contains "sekurlsa::")`},
		{"list of maps", "  sel:\n    - User: a\n    - User: b\n      Computer: h\n  condition: sel\n", `(lower(user) == "a" or lower(user) == "b" and lower(host) == "h")`},
		{"not and parentheses", "  a:\n    User: a\n  b:\n    User: b\n  c:\n    User: c\n  condition: a and not (b or c)\n",
			`lower(user) == "a" and not (lower(user) == "b" or lower(user) == "c")`},
		{"1 of them skips _ names", "  a:\n    User: a\n  _b:\n    User: b\n  condition: 1 of them\n", `lower(user) == "a"`},
		{"all of pattern", "  sel_a:\n    User: a\n  sel_b:\n    Computer: h\n  other:\n    User: x\n  condition: all of sel_*\n", `(lower(user) == "a" and lower(host) == "h")`},
		{"condition list", "  a:\n    User: a\n  b:\n    User: b\n  condition:\n    - a\n    - b\n", `(lower(user) == "a") or (lower(user) == "b")`},
		{"quotes in values", "  sel:\n    CommandLine|contains: 'say \"hi\"'\n  condition: sel\n", `lower(fields["CommandLine"]) contains "say \"hi\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Convert("t.yml", detection(tt.block), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Condition != tt.want {
				t.Errorf("condition\n got %s\nwant %s", r.Condition, tt.want)
			}
			out, err := Marshal([]*Rule{r})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rule.Parse("t.yaml", out); err != nil {
				t.Fatalf("does not load: %v\n%s", err, out)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not YAML", "title: [", "t.yml: not a Sigma rule"},
		{"no detection", "title: T\n", "t.yml: no detection"},
		{"no condition", string(detection("  sel:\n    User: a\n")), "no condition"},
		{"aggregation", string(detection("  sel:\n    User: a\n  condition: sel | count() by src_ip > 5\n")), "aggregations"},
		{"timeframe", string(detection("  sel:\n    User: a\n  timeframe: 5m\n  condition: sel\n")), "timeframe"},
		{"correlation rule", "title: T\ncorrelation:\n  type: event_count\ndetection:\n  condition: x\n", "correlation rules are not supported"},
		{"unknown identifier", string(detection("  sel:\n    User: a\n  condition: sel and nope\n")), `unknown search identifier "nope"`},
		{"N of", string(detection("  sel:\n    User: a\n  condition: 2 of sel*\n")), `"2" of is not supported`},
		{"unsupported modifier", string(detection("  sel:\n    CommandLine|base64offset|contains: a\n  condition: sel\n")), `modifier "base64offset" is not supported`},
		{"bad cidr", string(detection("  sel:\n    SourceIp|cidr: 10.0.0.0/33\n  condition: sel\n")), "invalid CIDR"},
		{"bad regexp", string(detection("  sel:\n    CommandLine|re: '(?<=a)b'\n  condition: sel\n")), "Go RE2 syntax"},
		{"text in an integer field", string(detection("  sel:\n    DestinationPort: http\n  condition: sel\n")), "http is not an integer"},
		{"contains on an integer field", string(detection("  sel:\n    DestinationPort|contains: 50\n  condition: sel\n")), "integer field"},
		{"missing parenthesis", string(detection("  sel:\n    User: a\n  condition: (sel\n")), "missing )"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Convert("t.yml", []byte(tt.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "t.yml: ") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// FuzzConvert: no input crashes the converter, and every rule it produces
// loads (compiles and type-checks) as a C-981 rule.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(detection("  sel:\n    Image: 'C:\\*\\a?.exe'\n  k:\n    - x*y\n  condition: sel or not k\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Convert("fuzz.yml", data, Options{})
		if err != nil {
			return
		}
		out, err := Marshal([]*Rule{r})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rule.Parse("fuzz.yaml", out); err != nil {
			t.Fatalf("converted rule does not load: %v\n%s", err, out)
		}
	})
}

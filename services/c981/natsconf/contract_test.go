package natsconf_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/shared/bus"
)

// contractConsts returns the string constants of package bus whose names
// start with prefix (Consumer*, Stage*), read from its source so that a
// consumer or stage added to the contract cannot be forgotten here.
func contractConsts(t *testing.T, prefix string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(repo, "services/shared/bus/*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						out[n.Name] = v
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s* constants in package bus", prefix)
	}
	return out
}

// TestEveryContractPartHasAnOwner: each durable consumer of the contract
// is pulled by exactly one service user, each stage has a user that may
// publish its dead letters, and each stream has a publisher.
func TestEveryContractPartHasAnOwner(t *testing.T) {
	users := natsconf.Users(natsconf.Options{})
	allowed := func(u natsconf.User, subject string) bool {
		return slices.ContainsFunc(u.Publish, func(p string) bool { return subjectMatch(p, subject) })
	}
	for name, durable := range contractConsts(t, "Consumer") {
		var owners []string
		for _, u := range users {
			for _, p := range u.Publish {
				if strings.HasPrefix(p, "$JS.API.CONSUMER.MSG.NEXT.") && strings.HasSuffix(p, "."+durable) {
					owners = append(owners, u.Name)
				}
			}
		}
		if len(owners) != 1 {
			t.Errorf("bus.%s (%s) is pulled by %v, want exactly one service", name, durable, owners)
		}
	}
	for name, stage := range contractConsts(t, "Stage") {
		u := natsconf.ServiceUser(stage)
		i := slices.IndexFunc(users, func(x natsconf.User) bool { return x.Name == u })
		if i < 0 {
			t.Errorf("bus.%s (%s) has no NATS user %s", name, stage, u)
			continue
		}
		if !allowed(users[i], bus.DLQSubject(stage)) {
			t.Errorf("%s may not publish its dead letters on %s", u, bus.DLQSubject(stage))
		}
		for _, other := range contractConsts(t, "Stage") {
			if other != stage && allowed(users[i], bus.DLQSubject(other)) {
				t.Errorf("%s may publish %s's dead letters", u, other)
			}
		}
	}
	for _, sc := range bus.StreamConfigs(bus.DefaultStreamOptions()) {
		for _, subj := range sc.Subjects {
			// some service's publish pattern falls into the stream
			publishes := func(u natsconf.User) bool {
				return !u.Leaf && slices.ContainsFunc(u.Publish, func(p string) bool {
					return subjectMatch(subj, strings.ReplaceAll(p, ">", "x"))
				})
			}
			if !slices.ContainsFunc(users, publishes) {
				t.Errorf("no service may publish to stream %s (%s)", sc.Name, subj)
			}
		}
	}
}

// subjectMatch reports whether subject matches the NATS pattern p.
func subjectMatch(p, subject string) bool {
	pt, st := strings.Split(p, "."), strings.Split(subject, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || (tok != "*" && tok != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

func TestSubjectMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"c981.raw.>", "c981.raw.a.b", true},
		{"c981.raw.>", "c981.raw", false},
		{"c981.dlq.ingest", "c981.dlq.ingest", true},
		{"c981.dlq.ingest", "c981.dlq.enrich", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
	}
	for _, tc := range tests {
		if got := subjectMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("subjectMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

package playbook

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// AllFields is what Fields returns for a set whose expressions read the
// whole environment ($env): every incident field counts.
const AllFields = "$env"

// Fields returns the incident fields (their expr names: severity,
// rule_ids, target, ...) that the applies_to and preconditions expressions
// of the set read, sorted; AllFields among them when an expression reads
// the whole environment. A field outside the list cannot change a plan.
func (s *Set) Fields() []string {
	seen := map[string]bool{}
	for _, p := range s.playbooks {
		identifiers(p.applies, seen)
		for i := range p.Steps {
			identifiers(p.Steps[i].pre, seen)
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// identifiers adds the names prog reads from its environment to seen.
func identifiers(prog *vm.Program, seen map[string]bool) {
	if prog == nil {
		return
	}
	root := prog.Node()
	ast.Walk(&root, identVisitor(seen))
}

type identVisitor map[string]bool

func (v identVisitor) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		v[id.Value] = true
	}
}

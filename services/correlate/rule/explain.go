package rule

import (
	"fmt"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/shared/event"
)

// Clause is one node of an explained condition: an `and`, `or` or `not`
// with its operands, or a leaf expression, with the value it had for the
// event.
type Clause struct {
	// Expr is the clause's source (normalised by the expr printer).
	Expr string `json:"expr"`
	// Op is "and", "or" or "not" for composite clauses, "" for leaves.
	Op string `json:"op,omitempty"`
	// Value is the clause's result for the event (nil after an error).
	Value any `json:"value"`
	// Err is the evaluation error, if any.
	Err string `json:"error,omitempty"`
	// Operands are the operands of a composite clause.
	Operands []Clause `json:"operands,omitempty"`
}

// Explanation explains one condition of a rule (the rule's, or one step's)
// for one event.
type Explanation struct {
	// Part is "condition" or "steps[i] (name)".
	Part string `json:"part"`
	// Matched is the condition's result.
	Matched bool `json:"matched"`
	// Clause is the condition's clause tree.
	Clause Clause `json:"clause"`
}

// Explain evaluates each condition of r (the condition, or every step of a
// sequence) against ev clause by clause, so that a rule author sees which
// clause made it fail. It evaluates every operand (no short-circuit). Like
// Matcher.Eval, it decodes ev's raw Fields when r reads them.
func (r *Rule) Explain(ev *event.Event) ([]Explanation, error) {
	needFields(ev, r.anyCondFields())
	env := newEnv()
	env.set(ev)
	var out []Explanation
	explain := func(part, src string) error {
		tree, err := parser.Parse(src)
		if err != nil {
			return fmt.Errorf("rule %s: %s: %w", r.ID, part, err)
		}
		var machine vm.VM
		c := explainNode(tree.Node, env, &machine)
		ok, _ := c.Value.(bool)
		out = append(out, Explanation{Part: part, Matched: ok && c.Err == "", Clause: c})
		return nil
	}
	if r.Kind == KindSequence {
		for i, st := range r.Steps {
			if err := explain("steps["+strconv.Itoa(i)+"] ("+st.Name+")", st.Condition); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if err := explain("condition", r.Condition); err != nil {
		return nil, err
	}
	return out, nil
}

func explainNode(n ast.Node, env *Env, machine *vm.VM) Clause {
	c := Clause{Expr: n.String()}
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "and", "&&", "or", "||":
			c.Op = map[string]string{"and": "and", "&&": "and", "or": "or", "||": "or"}[x.Operator]
			// a and b and c is one clause with three operands.
			for _, o := range []Clause{explainNode(x.Left, env, machine), explainNode(x.Right, env, machine)} {
				if o.Op == c.Op {
					c.Operands = append(c.Operands, o.Operands...)
				} else {
					c.Operands = append(c.Operands, o)
				}
			}
		}
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			c.Op = "not"
			c.Operands = []Clause{explainNode(x.Node, env, machine)}
		}
	}
	p, err := compileExpr(c.Expr, expr.AsAny())
	if err != nil {
		c.Err = err.Error()
		return c
	}
	v, err := machine.Run(p, env)
	if err != nil {
		c.Err = err.Error()
		return c
	}
	c.Value = v
	return c
}

package rule

import (
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/c981/c981/services/shared/event"
)

// indexField is an event field conditions are commonly tested against with
// equality, in order of preference (most selective first). Integer fields
// (ports) have getInt instead of get.
type indexField struct {
	name    string
	get     func(*event.Event) string
	getInt  func(*event.Event) int
	getBool func(*event.Event) bool
	isBool  bool
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

var indexFields = []indexField{
	{name: "operation", get: func(e *event.Event) string { return e.Operation }},
	{name: "event_code", get: func(e *event.Event) string { return e.EventCode }},
	{name: "dst_port", getInt: func(e *event.Event) int { return e.DstPort }},
	{name: "category", get: func(e *event.Event) string { return e.Category }},
	{name: "app_proto", get: func(e *event.Event) string { return e.AppProto }},
	{name: "action", get: func(e *event.Event) string { return e.Action }},
	{name: "signature_id", get: func(e *event.Event) string { return e.SignatureID }},
	{name: "dst.safety", isBool: true, getBool: func(e *event.Event) bool { return e.Dst.Safety }},
	{name: "flow.new_pair", isBool: true, getBool: func(e *event.Event) bool { return e.Flow.NewPair }},
	{name: "src.known", isBool: true, getBool: func(e *event.Event) bool { return e.Src.Known }},
	{name: "flow.allowed", isBool: true, getBool: func(e *event.Event) bool { return e.Flow.Allowed }},
	{name: "maint.active", isBool: true, getBool: func(e *event.Event) bool { return e.Maint.Active }},
	{name: "proto", get: func(e *event.Event) string { return e.Proto }},
	{name: "dst.role", get: func(e *event.Event) string { return e.Dst.Role }},
	{name: "src.role", get: func(e *event.Event) string { return e.Src.Role }},
	{name: "kind", get: func(e *event.Event) string { return e.Kind }},
}

// constLists are the Env list constants usable in an indexed `in`.
var constLists = map[string][]string{
	"write_ops":        WriteOps,
	"engineering_ops":  EngineeringOps,
	"controller_roles": ControllerRoles,
}

// entry is one indexed condition: a rule's, or one step of a sequence
// (step >= 0).
type entry struct {
	rule *Rule
	step int
}

// index maps the value of one event field to the conditions that can only
// hold when the field has that value. Conditions without such a clause are
// always candidates.
type index struct {
	entries []entry
	always  []int32
	fields  []valueIndex
}

type valueIndex struct {
	get    func(*event.Event) string
	values map[string][]int32
	getInt func(*event.Event) int
	ints   map[int][]int32
	// getBool, onTrue and onFalse replace the map for boolean fields.
	getBool         func(*event.Event) bool
	onTrue, onFalse []int32
	// noEmpty: no condition is indexed under "", so an empty value (the
	// most common one) needs no lookup.
	noEmpty bool
}

// buildIndex analyses the AST of every enabled condition: a top-level
// conjunct `F == "lit"`, `F in ["a", "b"]` or `F in write_ops` (or an `or`
// of such tests on the same field) on one of indexFields restricts the
// condition to events whose F is one of those values.
func buildIndex(rules []*Rule) *index {
	ix := &index{}
	byField := map[string]map[string][]int32{}
	add := func(r *Rule, step int, src string) {
		i := int32(len(ix.entries))
		ix.entries = append(ix.entries, entry{rule: r, step: step})
		field, values := bestConstraint(src)
		if field == "" {
			ix.always = append(ix.always, i)
			return
		}
		m := byField[field]
		if m == nil {
			m = map[string][]int32{}
			byField[field] = m
		}
		for _, v := range values {
			m[v] = append(m[v], i)
		}
	}
	// Integer fields are keyed by the decimal text at build time only.
	for _, r := range rules {
		if r.Kind == KindSequence {
			for i, st := range r.Steps {
				add(r, i, st.Condition)
			}
			continue
		}
		add(r, -1, r.Condition)
	}
	for _, f := range indexFields {
		m, ok := byField[f.name]
		if !ok {
			continue
		}
		if f.isBool {
			ix.fields = append(ix.fields, valueIndex{getBool: f.getBool, onTrue: m["true"], onFalse: m["false"]})
			continue
		}
		if f.getInt == nil {
			_, empty := m[""]
			ix.fields = append(ix.fields, valueIndex{get: f.get, values: m, noEmpty: !empty})
			continue
		}
		ints := map[int][]int32{}
		for v, list := range m {
			n, err := strconv.Atoi(v)
			if err != nil {
				// Unreachable: integer constraints come from IntegerNodes.
				ix.always = append(ix.always, list...)
				continue
			}
			ints[n] = append(ints[n], list...)
		}
		ix.fields = append(ix.fields, valueIndex{getInt: f.getInt, ints: ints})
	}
	slices.Sort(ix.always)
	return ix
}

// candidates appends to buf the entries that can hold for ev, in rule
// order.
func (ix *index) candidates(ev *event.Event, buf []int32) []int32 {
	buf = append(buf[:0], ix.always...)
	for i := range ix.fields {
		f := &ix.fields[i]
		switch {
		case f.getBool != nil:
			if f.getBool(ev) {
				buf = append(buf, f.onTrue...)
			} else {
				buf = append(buf, f.onFalse...)
			}
		case f.getInt != nil:
			buf = append(buf, f.ints[f.getInt(ev)]...)
		default:
			v := f.get(ev)
			if v == "" && f.noEmpty {
				continue
			}
			buf = append(buf, f.values[v]...)
		}
	}
	slices.Sort(buf)
	return buf
}

// bestConstraint returns the most selective indexable field constraint of
// a condition, or "" when it has none.
func bestConstraint(src string) (string, []string) {
	tree, err := parser.Parse(src)
	if err != nil {
		return "", nil
	}
	best, bestRank := "", len(indexFields)
	var bestVals []string
	for _, c := range conjuncts(tree.Node) {
		field, vals, ok := constraint(c)
		if !ok || !literalsFit(c, fieldKind(field)) {
			continue
		}
		for rank, f := range indexFields {
			if f.name == field && rank < bestRank {
				best, bestRank, bestVals = field, rank, vals
			}
		}
	}
	return best, bestVals
}

func conjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "and" || b.Operator == "&&") {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

// constraint recognises F == "lit", "lit" == F, F in [...], F in CONST and
// an `or` of constraints on the same field.
func constraint(n ast.Node) (string, []string, bool) {
	if isBoolField(n) {
		return n.String(), []string{"true"}, true
	}
	if u, ok := n.(*ast.UnaryNode); ok && (u.Operator == "not" || u.Operator == "!") && isBoolField(u.Node) {
		return u.Node.String(), []string{"false"}, true
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return "", nil, false
	}
	switch b.Operator {
	case "or", "||":
		lf, lv, lok := constraint(b.Left)
		rf, rv, rok := constraint(b.Right)
		if lok && rok && lf == rf {
			return lf, append(slices.Clone(lv), rv...), true
		}
	case "==":
		if v, ok := literal(b.Right); ok && isField(b.Left) {
			return b.Left.String(), []string{v}, true
		}
		if v, ok := literal(b.Left); ok && isField(b.Right) {
			return b.Right.String(), []string{v}, true
		}
	case "in":
		if !isField(b.Left) {
			break
		}
		switch r := b.Right.(type) {
		case *ast.ArrayNode:
			var vals []string
			for _, el := range r.Nodes {
				v, ok := literal(el)
				if !ok {
					return "", nil, false
				}
				vals = append(vals, v)
			}
			return b.Left.String(), vals, true
		case *ast.IdentifierNode:
			if vals, ok := constLists[r.Value]; ok {
				return b.Left.String(), vals, true
			}
		}
	}
	return "", nil, false
}

// literal returns the text of a string or integer literal.
func literal(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.IntegerNode:
		return strconv.Itoa(x.Value), true
	case *ast.BoolNode:
		return boolText(x.Value), true
	}
	return "", false
}

// isBoolField reports whether n names a boolean index field.
func isBoolField(n ast.Node) bool {
	if !isField(n) {
		return false
	}
	for _, f := range indexFields {
		if f.name == n.String() {
			return f.isBool
		}
	}
	return false
}

// isField reports whether n names one of indexFields.
func isField(n ast.Node) bool {
	switch n.(type) {
	case *ast.IdentifierNode, *ast.MemberNode:
	default:
		return false
	}
	name := n.String()
	if strings.ContainsAny(name, "[(?") {
		return false
	}
	for _, f := range indexFields {
		if f.name == name {
			return true
		}
	}
	return false
}

// fieldKind is the literal kind of the named index field: "int", "bool"
// or "string".
func fieldKind(name string) string {
	for _, f := range indexFields {
		switch {
		case f.name != name:
		case f.getInt != nil:
			return "int"
		case f.isBool:
			return "bool"
		default:
			return "string"
		}
	}
	return ""
}

// literalsFit reports whether every literal of a constraint has the kind of
// its field (integers for integer fields, booleans for boolean fields,
// strings otherwise), so that the index compares like with like.
func literalsFit(n ast.Node, kind string) bool {
	fits := func(x ast.Node) bool {
		switch x.(type) {
		case *ast.StringNode:
			return kind == "string"
		case *ast.IntegerNode:
			return kind == "int"
		case *ast.BoolNode:
			return kind == "bool"
		}
		return true // the field side
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return true // a bare boolean field or its negation
	}
	switch b.Operator {
	case "or", "||":
		return literalsFit(b.Left, kind) && literalsFit(b.Right, kind)
	case "==":
		return fits(b.Left) && fits(b.Right)
	case "in":
		if arr, ok := b.Right.(*ast.ArrayNode); ok {
			for _, el := range arr.Nodes {
				if !fits(el) {
					return false
				}
			}
		}
		return true
	}
	return false
}

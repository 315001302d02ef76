package rule

import (
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/c981/c981/services/shared/event"
)

// The native compiler turns the common subset of rule expressions into Go
// closures over *event.Event: field loads become direct (offset) reads,
// comparisons are typed, constant lists become sets and constant CIDRs and
// regular expressions are parsed once. Nothing on that path boxes values
// into interfaces, so it does not allocate; expr's interpreter, whose
// struct-environment field loads go through reflection and allocate one
// box per string, stays the reference and the fallback: an expression
// that uses anything outside the subset (optional chaining, ??, nil,
// arithmetic, closures and most builtins) runs in the VM as before.
// Every expression is compiled and type-checked by expr first, so the
// native form exists only for valid expressions, and a differential test
// and fuzz target check that both give the same results.

// nkind is the static type of a native expression.
type nkind uint8

const (
	nInvalid nkind = iota
	nBool
	nStr
	nInt   // int and int64 fields, integer literals
	nFloat // float64 fields, float literals
	nStrs  // []string
	nEp    // *event.Endpoint (src, dst)
	nMaint // *event.Maint
	nFlow  // *event.Flow (only as the base of a member access)
)

// nexpr is one natively compiled expression: the getter of its kind is
// set, and for literals also the constant.
type nexpr struct {
	kind  nkind
	b     func(*event.Event) bool
	s     func(*event.Event) string
	i     func(*event.Event) int64
	f     func(*event.Event) float64
	ss    func(*event.Event) []string
	ep    func(*event.Event) *event.Endpoint
	mt    func(*event.Event) *event.Maint
	isLit bool
	cs    string
	ci    int64
	cf    float64
	css   []string
}

func (n nexpr) numeric() bool { return n.kind == nInt || n.kind == nFloat }

// asFloat returns the float64 getter of a numeric expression.
func (n nexpr) asFloat() func(*event.Event) float64 {
	if n.kind == nFloat {
		return n.f
	}
	i := n.i
	return func(e *event.Event) float64 { return float64(i(e)) }
}

// nativeField is an event field readable at a fixed offset.
type nativeField struct {
	kind nkind
	off  uintptr
	// is64 marks an int64 (not int) field of kind nInt.
	is64 bool
}

// nativeFields maps expr paths (src_ip, dst.role, flow.allowed, ...) to
// their offsets in event.Event.
var nativeFields = buildNativeFields()

func buildNativeFields() map[string]nativeField {
	out := map[string]nativeField{}
	var walk func(t reflect.Type, prefix string, off uintptr)
	walk = func(t reflect.Type, prefix string, off uintptr) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("expr")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			o := off + f.Offset
			switch {
			case f.Type == reflect.TypeFor[string]():
				out[prefix+name] = nativeField{kind: nStr, off: o}
			case f.Type == reflect.TypeFor[bool]():
				out[prefix+name] = nativeField{kind: nBool, off: o}
			case f.Type == reflect.TypeFor[int]():
				out[prefix+name] = nativeField{kind: nInt, off: o}
			case f.Type == reflect.TypeFor[int64]():
				out[prefix+name] = nativeField{kind: nInt, off: o, is64: true}
			case f.Type == reflect.TypeFor[float64]():
				out[prefix+name] = nativeField{kind: nFloat, off: o}
			case f.Type == reflect.TypeFor[[]string]():
				out[prefix+name] = nativeField{kind: nStrs, off: o}
			case f.Type == reflect.TypeFor[time.Time]():
				// Left to the interpreter.
			case f.Type.Kind() == reflect.Struct && prefix == "":
				walk(f.Type, name+".", o)
			}
		}
	}
	walk(reflect.TypeFor[event.Event](), "", 0)
	return out
}

// expr returns the native getter of a field of event.Event. The
// offsets come from reflection on the same type, with the Go type checked
// above, so each read is of the field's own type.
func (f nativeField) expr() nexpr {
	off := f.off
	at := func(e *event.Event) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(e), off) }
	switch f.kind {
	case nStr:
		return nexpr{kind: nStr, s: func(e *event.Event) string { return *(*string)(at(e)) }}
	case nBool:
		return nexpr{kind: nBool, b: func(e *event.Event) bool { return *(*bool)(at(e)) }}
	case nInt:
		if f.is64 {
			return nexpr{kind: nInt, i: func(e *event.Event) int64 { return *(*int64)(at(e)) }}
		}
		return nexpr{kind: nInt, i: func(e *event.Event) int64 { return int64(*(*int)(at(e))) }}
	case nFloat:
		return nexpr{kind: nFloat, f: func(e *event.Event) float64 { return *(*float64)(at(e)) }}
	case nStrs:
		return nexpr{kind: nStrs, ss: func(e *event.Event) []string { return *(*[]string)(at(e)) }}
	}
	return nexpr{}
}

// nativeBool compiles a boolean expression natively; nil when it is
// outside the native subset.
func nativeBool(src string) func(*event.Event) bool {
	n, ok := nativeCompile(src)
	if !ok || n.kind != nBool {
		return nil
	}
	return n.b
}

// nativeKeys compiles key expressions into one function folding their
// values into a hash exactly as hashValue does for the interpreter's
// results; nil when one of them is outside the native subset.
func nativeKeys(srcs []string) func(uint64, *event.Event) uint64 {
	var parts []func(uint64, *event.Event) uint64
	for _, src := range srcs {
		n, ok := nativeCompile(src)
		if !ok {
			return nil
		}
		switch n.kind {
		case nStr:
			s := n.s
			parts = append(parts, func(h uint64, e *event.Event) uint64 { return hashStringValue(h, s(e)) })
		case nInt:
			i := n.i
			parts = append(parts, func(h uint64, e *event.Event) uint64 { return hashUint(hashUint(h, 2), uint64(i(e))) })
		case nFloat:
			f := n.f
			parts = append(parts, func(h uint64, e *event.Event) uint64 { return hashFloat(h, f(e)) })
		case nBool:
			b := n.b
			parts = append(parts, func(h uint64, e *event.Event) uint64 { return hashBool(h, b(e)) })
		default:
			return nil
		}
	}
	switch len(parts) {
	case 0:
		return func(h uint64, _ *event.Event) uint64 { return h }
	case 1:
		return parts[0]
	}
	return func(h uint64, e *event.Event) uint64 {
		for _, p := range parts {
			h = p(h, e)
		}
		return h
	}
}

// nativeString compiles a string expression (incident key, summary)
// natively; nil when it is outside the native subset.
func nativeString(src string) func(*event.Event) string {
	n, ok := nativeCompile(src)
	if !ok || n.kind != nStr {
		return nil
	}
	return n.s
}

func nativeCompile(src string) (nexpr, bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nexpr{}, false
	}
	return compileNode(tree.Node)
}

func compileNode(node ast.Node) (nexpr, bool) {
	switch n := node.(type) {
	case *ast.BoolNode:
		v := n.Value
		return nexpr{kind: nBool, b: func(*event.Event) bool { return v }}, true
	case *ast.StringNode:
		v := n.Value
		return nexpr{kind: nStr, s: func(*event.Event) string { return v }, isLit: true, cs: v}, true
	case *ast.IntegerNode:
		v := int64(n.Value)
		return nexpr{kind: nInt, i: func(*event.Event) int64 { return v }, isLit: true, ci: v}, true
	case *ast.FloatNode:
		v := n.Value
		return nexpr{kind: nFloat, f: func(*event.Event) float64 { return v }, isLit: true, cf: v}, true
	case *ast.ArrayNode:
		vals := make([]string, 0, len(n.Nodes))
		for _, el := range n.Nodes {
			s, ok := el.(*ast.StringNode)
			if !ok {
				return nexpr{}, false
			}
			vals = append(vals, s.Value)
		}
		return nexpr{kind: nStrs, ss: func(*event.Event) []string { return vals }, isLit: true, css: vals}, true
	case *ast.IdentifierNode:
		return compileIdent(n.Value)
	case *ast.MemberNode:
		return compileMember(n)
	case *ast.UnaryNode:
		x, ok := compileNode(n.Node)
		if !ok {
			return nexpr{}, false
		}
		switch n.Operator {
		case "not", "!":
			if x.kind != nBool {
				return nexpr{}, false
			}
			b := x.b
			return nexpr{kind: nBool, b: func(e *event.Event) bool { return !b(e) }}, true
		case "-":
			switch {
			case x.isLit && x.kind == nInt:
				return compileNode(&ast.IntegerNode{Value: int(-x.ci)})
			case x.isLit && x.kind == nFloat:
				return compileNode(&ast.FloatNode{Value: -x.cf})
			}
		}
		return nexpr{}, false
	case *ast.BinaryNode:
		return compileBinary(n)
	case *ast.ConditionalNode:
		return compileConditional(n)
	case *ast.BuiltinNode:
		return compileBuiltin(n)
	case *ast.CallNode:
		return compileCall(n)
	}
	return nexpr{}, false
}

func compileIdent(name string) (nexpr, bool) {
	switch name {
	case "src":
		return nexpr{kind: nEp, ep: func(e *event.Event) *event.Endpoint { return &e.Src }}, true
	case "dst":
		return nexpr{kind: nEp, ep: func(e *event.Event) *event.Endpoint { return &e.Dst }}, true
	case "maint":
		return nexpr{kind: nMaint, mt: func(e *event.Event) *event.Maint { return &e.Maint }}, true
	case "flow":
		return nexpr{kind: nFlow}, true
	}
	if vals, ok := constLists[name]; ok {
		vals := slices.Clone(vals)
		return nexpr{kind: nStrs, ss: func(*event.Event) []string { return vals }, isLit: true, css: vals}, true
	}
	if f, ok := nativeFields[name]; ok && !strings.Contains(name, ".") {
		return f.expr(), true
	}
	return nexpr{}, false
}

func compileMember(n *ast.MemberNode) (nexpr, bool) {
	if n.Optional || n.Method {
		return nexpr{}, false
	}
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return nexpr{}, false
	}
	base, ok := n.Node.(*ast.IdentifierNode)
	if !ok {
		return nexpr{}, false
	}
	if base.Value == "fields" {
		key := prop.Value
		// A missing key reads as the map's zero value "", as in expr.
		return nexpr{kind: nStr, s: func(e *event.Event) string { return e.Fields[key] }}, true
	}
	switch base.Value {
	case "src", "dst", "flow", "maint":
	default:
		return nexpr{}, false
	}
	f, ok := nativeFields[base.Value+"."+prop.Value]
	if !ok {
		return nexpr{}, false
	}
	return f.expr(), true
}

func compileBinary(n *ast.BinaryNode) (nexpr, bool) {
	l, ok := compileNode(n.Left)
	if !ok {
		return nexpr{}, false
	}
	// `in` against an array literal of numbers is compiled from the AST.
	if n.Operator == "in" && l.numeric() {
		return compileNumIn(l, n.Right)
	}
	r, ok := compileNode(n.Right)
	if !ok {
		return nexpr{}, false
	}
	boolOf := func(f func(*event.Event) bool) (nexpr, bool) { return nexpr{kind: nBool, b: f}, true }
	switch n.Operator {
	case "and", "&&":
		if l.kind != nBool || r.kind != nBool {
			return nexpr{}, false
		}
		a, b := l.b, r.b
		return boolOf(func(e *event.Event) bool { return a(e) && b(e) })
	case "or", "||":
		if l.kind != nBool || r.kind != nBool {
			return nexpr{}, false
		}
		a, b := l.b, r.b
		return boolOf(func(e *event.Event) bool { return a(e) || b(e) })
	case "==", "!=":
		eq, ok := compileEqual(l, r)
		if !ok {
			return nexpr{}, false
		}
		if n.Operator == "!=" {
			return boolOf(func(e *event.Event) bool { return !eq(e) })
		}
		return boolOf(eq)
	case "<", "<=", ">", ">=":
		return compileOrder(n.Operator, l, r)
	case "in":
		if l.kind != nStr || r.kind != nStrs {
			return nexpr{}, false
		}
		s := l.s
		if r.isLit {
			set := newStrSet(r.css)
			return boolOf(func(e *event.Event) bool { return set.has(s(e)) })
		}
		ss := r.ss
		return boolOf(func(e *event.Event) bool { return slices.Contains(ss(e), s(e)) })
	case "contains", "startsWith", "endsWith":
		if l.kind != nStr || r.kind != nStr {
			return nexpr{}, false
		}
		a, b := l.s, r.s
		f := map[string]func(string, string) bool{
			"contains": strings.Contains, "startsWith": strings.HasPrefix, "endsWith": strings.HasSuffix,
		}[n.Operator]
		return boolOf(func(e *event.Event) bool { return f(a(e), b(e)) })
	case "matches":
		if l.kind != nStr || r.kind != nStr || !r.isLit {
			return nexpr{}, false
		}
		re, err := regexp.Compile(r.cs)
		if err != nil {
			return nexpr{}, false
		}
		s := l.s
		return boolOf(func(e *event.Event) bool { return re.MatchString(s(e)) })
	case "+":
		if l.kind != nStr || r.kind != nStr {
			return nexpr{}, false
		}
		a, b := l.s, r.s
		return nexpr{kind: nStr, s: func(e *event.Event) string { return a(e) + b(e) }}, true
	}
	return nexpr{}, false
}

// compileEqual compiles l == r for operands of the same kind (numbers of
// either kind compare by value, as in expr).
func compileEqual(l, r nexpr) (func(*event.Event) bool, bool) {
	switch {
	case l.kind == nStr && r.kind == nStr:
		a, b := l.s, r.s
		if r.isLit {
			c := r.cs
			return func(e *event.Event) bool { return a(e) == c }, true
		}
		if l.isLit {
			c := l.cs
			return func(e *event.Event) bool { return b(e) == c }, true
		}
		return func(e *event.Event) bool { return a(e) == b(e) }, true
	case l.kind == nBool && r.kind == nBool:
		a, b := l.b, r.b
		return func(e *event.Event) bool { return a(e) == b(e) }, true
	case l.kind == nInt && r.kind == nInt:
		a, b := l.i, r.i
		if r.isLit {
			c := r.ci
			return func(e *event.Event) bool { return a(e) == c }, true
		}
		return func(e *event.Event) bool { return a(e) == b(e) }, true
	case l.numeric() && r.numeric():
		a, b := l.asFloat(), r.asFloat()
		return func(e *event.Event) bool { return a(e) == b(e) }, true
	}
	return nil, false
}

func compileOrder(op string, l, r nexpr) (nexpr, bool) {
	var cmp func(*event.Event) int
	switch {
	case l.kind == nStr && r.kind == nStr:
		a, b := l.s, r.s
		cmp = func(e *event.Event) int { return strings.Compare(a(e), b(e)) }
	case l.kind == nInt && r.kind == nInt:
		a, b := l.i, r.i
		cmp = func(e *event.Event) int {
			x, y := a(e), b(e)
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case l.numeric() && r.numeric():
		a, b := l.asFloat(), r.asFloat()
		// NaN compares false both ways, as in Go (and expr): map it to a
		// value no operator accepts.
		cmp = func(e *event.Event) int {
			x, y := a(e), b(e)
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			case x == y:
				return 0
			}
			return 2
		}
	default:
		return nexpr{}, false
	}
	var f func(*event.Event) bool
	switch op {
	case "<":
		f = func(e *event.Event) bool { return cmp(e) == -1 }
	case "<=":
		f = func(e *event.Event) bool { c := cmp(e); return c == -1 || c == 0 }
	case ">":
		f = func(e *event.Event) bool { return cmp(e) == 1 }
	case ">=":
		f = func(e *event.Event) bool { c := cmp(e); return c == 1 || c == 0 }
	}
	return nexpr{kind: nBool, b: f}, true
}

// compileNumIn compiles `number in [literals]`.
func compileNumIn(l nexpr, right ast.Node) (nexpr, bool) {
	arr, ok := right.(*ast.ArrayNode)
	if !ok {
		return nexpr{}, false
	}
	var vals []float64
	for _, el := range arr.Nodes {
		switch x := el.(type) {
		case *ast.IntegerNode:
			vals = append(vals, float64(x.Value))
		case *ast.FloatNode:
			vals = append(vals, x.Value)
		default:
			return nexpr{}, false
		}
	}
	if l.kind == nInt {
		ints := make(map[int64]struct{}, len(vals))
		for _, v := range vals {
			if v != math.Trunc(v) || math.Abs(v) >= 1<<63 {
				continue // an int never equals a fraction
			}
			ints[int64(v)] = struct{}{}
		}
		get := l.i
		return nexpr{kind: nBool, b: func(e *event.Event) bool { _, ok := ints[get(e)]; return ok }}, true
	}
	get := l.f
	return nexpr{kind: nBool, b: func(e *event.Event) bool { return slices.Contains(vals, get(e)) }}, true
}

func compileConditional(n *ast.ConditionalNode) (nexpr, bool) {
	c, ok1 := compileNode(n.Cond)
	a, ok2 := compileNode(n.Exp1)
	b, ok3 := compileNode(n.Exp2)
	if !ok1 || !ok2 || !ok3 || c.kind != nBool || a.kind != b.kind {
		return nexpr{}, false
	}
	cond := c.b
	switch a.kind {
	case nStr:
		x, y := a.s, b.s
		return nexpr{kind: nStr, s: func(e *event.Event) string {
			if cond(e) {
				return x(e)
			}
			return y(e)
		}}, true
	case nBool:
		x, y := a.b, b.b
		return nexpr{kind: nBool, b: func(e *event.Event) bool {
			if cond(e) {
				return x(e)
			}
			return y(e)
		}}, true
	case nInt:
		x, y := a.i, b.i
		return nexpr{kind: nInt, i: func(e *event.Event) int64 {
			if cond(e) {
				return x(e)
			}
			return y(e)
		}}, true
	}
	return nexpr{}, false
}

func compileBuiltin(n *ast.BuiltinNode) (nexpr, bool) {
	if len(n.Arguments) != 1 || n.Map != nil {
		return nexpr{}, false
	}
	a, ok := compileNode(n.Arguments[0])
	if !ok || a.kind != nStr {
		return nexpr{}, false
	}
	s := a.s
	switch n.Name {
	case "lower":
		return nexpr{kind: nStr, s: func(e *event.Event) string { return asciiLower(s(e)) }}, true
	case "upper":
		return nexpr{kind: nStr, s: func(e *event.Event) string { return strings.ToUpper(s(e)) }}, true
	case "trim":
		return nexpr{kind: nStr, s: func(e *event.Event) string { return strings.TrimSpace(s(e)) }}, true
	}
	return nexpr{}, false
}

// asciiLower is strings.ToLower (what expr's lower() calls) with a fast
// path that does not allocate for ASCII text that is already lower case.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

func compileCall(n *ast.CallNode) (nexpr, bool) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return nexpr{}, false
	}
	args := make([]nexpr, len(n.Arguments))
	for i, a := range n.Arguments {
		if args[i], ok = compileNode(a); !ok {
			return nexpr{}, false
		}
	}
	kinds := func(ks ...nkind) bool {
		if len(args) != len(ks) {
			return false
		}
		for i, k := range ks {
			if args[i].kind != k && !(k == nFloat && args[i].kind == nInt) {
				return false
			}
		}
		return true
	}
	boolOf := func(f func(*event.Event) bool) (nexpr, bool) { return nexpr{kind: nBool, b: f}, true }
	switch id.Value {
	case "in_zone", "is_kind", "has_role":
		if !kinds(nEp, nStr) {
			return nexpr{}, false
		}
		ep, s := args[0].ep, args[1].s
		switch id.Value {
		case "in_zone":
			return boolOf(func(e *event.Event) bool { return inZone(ep(e), s(e)) })
		case "is_kind":
			return boolOf(func(e *event.Event) bool { return ep(e).ZoneKind == s(e) })
		}
		return boolOf(func(e *event.Event) bool { return ep(e).Role == s(e) })
	case "is_controller", "is_safety":
		if !kinds(nEp) {
			return nexpr{}, false
		}
		ep := args[0].ep
		if id.Value == "is_controller" {
			set := newStrSet(ControllerRoles)
			return boolOf(func(e *event.Event) bool { return set.has(ep(e).Role) })
		}
		return boolOf(func(e *event.Event) bool { return isSafety(ep(e)) })
	case "purdue_at_most", "purdue_at_least":
		if !kinds(nEp, nFloat) {
			return nexpr{}, false
		}
		ep, level := args[0].ep, args[1].asFloat()
		if id.Value == "purdue_at_most" {
			return boolOf(func(e *event.Event) bool { return purdueAtMost(ep(e), level(e)) })
		}
		return boolOf(func(e *event.Event) bool { return purdueAtLeast(ep(e), level(e)) })
	case "in_cidr":
		if !kinds(nStr, nStr) || !args[1].isLit {
			return nexpr{}, false
		}
		pfx, err := parsePrefix(args[1].cs)
		if err != nil {
			return nexpr{}, false
		}
		ip := args[0].s
		return boolOf(func(e *event.Event) bool { return inPrefix(ip(e), pfx) })
	case "maint_allows":
		if !kinds(nMaint, nStr) {
			return nexpr{}, false
		}
		m, op := args[0].mt, args[1].s
		return boolOf(func(e *event.Event) bool { return maintAllows(m(e), op(e)) })
	case "maint_allows_source":
		if !kinds(nMaint, nEp) {
			return nexpr{}, false
		}
		m, ep := args[0].mt, args[1].ep
		return boolOf(func(e *event.Event) bool { return maintAllowsSource(m(e), ep(e)) })
	}
	return nexpr{}, false
}

// strSet is a constant string set: a linear scan for the short lists rules
// use, a map beyond.
type strSet struct {
	list []string
	m    map[string]struct{}
}

func newStrSet(vals []string) strSet {
	if len(vals) <= 8 {
		return strSet{list: slices.Clone(vals)}
	}
	m := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		m[v] = struct{}{}
	}
	return strSet{m: m}
}

func (s strSet) has(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.list {
		if x == v {
			return true
		}
	}
	return false
}

// The typed forms of hashValue, for native key expressions.

func hashStringValue(h uint64, s string) uint64 {
	h = hashUint(h, 1)
	h = hashString(h, s)
	return hashUint(h, uint64(len(s)))
}

func hashFloat(h uint64, x float64) uint64 {
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return hashUint(hashUint(h, 2), uint64(int64(x)))
	}
	return hashUint(hashUint(h, 3), math.Float64bits(x))
}

func hashBool(h uint64, b bool) uint64 {
	v := uint64(0)
	if b {
		v = 1
	}
	return hashUint(hashUint(h, 4), v)
}

// Interpreted lists the parts of r (condition, group_by, distinct,
// incident_key, summary, steps[i].condition, steps[i].by) that run in expr's interpreter because
// they use something outside the natively compiled subset; empty when the
// whole rule is evaluated natively. Interpreted parts are correct but cost
// about ten times as much per event.
func (r *Rule) Interpreted() []string {
	var parts []string
	if r.cond != nil && r.ncond == nil {
		parts = append(parts, "condition")
	}
	if len(r.groupBy) > 0 && r.nkey == nil {
		parts = append(parts, "group_by")
	}
	if r.distinct != nil && r.ndistinct == nil {
		parts = append(parts, "distinct")
	}
	if r.key != nil && r.nkeyText == nil {
		parts = append(parts, "incident_key")
	}
	if r.summary != nil && r.nsummary == nil {
		parts = append(parts, "summary")
	}
	for i, st := range r.Steps {
		if st.ncond == nil {
			parts = append(parts, "steps["+strconv.Itoa(i)+"].condition")
		}
		if st.nby == nil {
			parts = append(parts, "steps["+strconv.Itoa(i)+"].by")
		}
	}
	return parts
}

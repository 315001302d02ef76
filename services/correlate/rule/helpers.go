package rule

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Helper documents one zone helper function of the rule environment.
type Helper struct {
	// Name is the function's name in expressions.
	Name string
	// Signature is the typed signature shown to rule authors.
	Signature string
	// Doc says what the function returns.
	Doc string
}

// Helpers lists the zone helper functions every rule expression can call,
// in documentation order. They are registered with typed signatures
// (expr.Function), so a call with wrong argument types or counts fails
// when the rules are loaded; constant arguments (zone kinds, roles, Purdue
// levels, CIDRs) are validated at load time too.
var Helpers = []Helper{
	{"in_zone", "in_zone(endpoint, zone string) bool",
		`the endpoint is in the zone: its zone equals the argument, either the full id ("demo-plant/control") or the zone's id within the site ("control")`},
	{"is_kind", "is_kind(endpoint, kind string) bool",
		"the endpoint's zone is of the given kind (enterprise, dmz, operations, supervisory, control, safety, field, ...)"},
	{"has_role", "has_role(endpoint, role string) bool",
		"the endpoint's asset role is role (plc, hmi, ews, ...)"},
	{"is_controller", "is_controller(endpoint) bool",
		"the endpoint is a process controller (a role of controller_roles)"},
	{"is_safety", "is_safety(endpoint) bool",
		"the endpoint belongs to a safety function: flagged safety, role sis, or in a zone of kind safety"},
	{"purdue_at_most", "purdue_at_most(endpoint, level float) bool",
		"the endpoint has a known Purdue level (>= 0) of at most level; unknown endpoints (-1) never match"},
	{"purdue_at_least", "purdue_at_least(endpoint, level float) bool",
		"the endpoint has a known Purdue level of at least level"},
	{"in_cidr", `in_cidr(ip string, cidr string) bool`,
		`ip (src_ip, dst_ip, ...) is inside cidr ("10.20.0.0/16", IPv4 or IPv6; IPv4-mapped IPv6 addresses are unmapped); an empty or invalid ip is false, an invalid constant cidr fails at load time`},
	{"maint_allows", "maint_allows(maint, operation string) bool",
		"a maintenance window covering the event is open and allows the operation"},
	{"maint_allows_source", "maint_allows_source(maint, endpoint) bool",
		"a maintenance window covering the event is open and lists the endpoint's asset id or address as an allowed source"},
}

// helperOptions registers the helper functions with expr.
func helperOptions() []expr.Option {
	ep := func(v any) (*event.Endpoint, error) {
		e, ok := v.(*event.Endpoint)
		if !ok || e == nil {
			return nil, fmt.Errorf("expected an endpoint (src or dst), got %T", v)
		}
		return e, nil
	}
	mt := func(v any) (*event.Maint, error) {
		m, ok := v.(*event.Maint)
		if !ok || m == nil {
			return nil, fmt.Errorf("expected maint, got %T", v)
		}
		return m, nil
	}
	epStr := func(name string, f func(*event.Endpoint, string) bool) expr.Option {
		return expr.Function(name, func(p ...any) (any, error) {
			e, err := ep(p[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			s, _ := p[1].(string)
			return f(e, s), nil
		}, new(func(*event.Endpoint, string) bool))
	}
	epOnly := func(name string, f func(*event.Endpoint) bool) expr.Option {
		return expr.Function(name, func(p ...any) (any, error) {
			e, err := ep(p[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return f(e), nil
		}, new(func(*event.Endpoint) bool))
	}
	epLevel := func(name string, f func(*event.Endpoint, float64) bool) expr.Option {
		return expr.Function(name, func(p ...any) (any, error) {
			e, err := ep(p[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			var level float64
			switch x := p[1].(type) {
			case float64:
				level = x
			case int:
				level = float64(x)
			default:
				return nil, fmt.Errorf("%s: level must be a number, got %T", name, p[1])
			}
			return f(e, level), nil
		}, new(func(*event.Endpoint, float64) bool))
	}
	return []expr.Option{
		epStr("in_zone", inZone),
		epStr("is_kind", func(e *event.Endpoint, k string) bool { return e.ZoneKind == k }),
		epStr("has_role", func(e *event.Endpoint, r string) bool { return e.Role == r }),
		epOnly("is_controller", isController),
		epOnly("is_safety", isSafety),
		epLevel("purdue_at_most", purdueAtMost),
		epLevel("purdue_at_least", purdueAtLeast),
		expr.Function("in_cidr", func(p ...any) (any, error) {
			ip, _ := p[0].(string)
			cidr, _ := p[1].(string)
			pfx, err := cachedPrefix(cidr)
			if err != nil {
				return nil, fmt.Errorf("in_cidr: %w", err)
			}
			return inPrefix(ip, pfx), nil
		}, new(func(string, string) bool)),
		expr.Function("maint_allows", func(p ...any) (any, error) {
			m, err := mt(p[0])
			if err != nil {
				return nil, fmt.Errorf("maint_allows: %w", err)
			}
			op, _ := p[1].(string)
			return maintAllows(m, op), nil
		}, new(func(*event.Maint, string) bool)),
		expr.Function("maint_allows_source", func(p ...any) (any, error) {
			m, err := mt(p[0])
			if err != nil {
				return nil, fmt.Errorf("maint_allows_source: %w", err)
			}
			e, err := ep(p[1])
			if err != nil {
				return nil, fmt.Errorf("maint_allows_source: %w", err)
			}
			return maintAllowsSource(m, e), nil
		}, new(func(*event.Maint, *event.Endpoint) bool)),
	}
}

func inZone(e *event.Endpoint, zone string) bool {
	if zone == "" {
		return false
	}
	if e.Zone == zone {
		return true
	}
	i := strings.LastIndexByte(e.Zone, '/')
	return i >= 0 && !strings.Contains(zone, "/") && e.Zone[i+1:] == zone
}

func isController(e *event.Endpoint) bool { return slices.Contains(ControllerRoles, e.Role) }

func isSafety(e *event.Endpoint) bool {
	return e.Safety || e.Role == "sis" || e.ZoneKind == "safety"
}

func purdueAtMost(e *event.Endpoint, level float64) bool { return e.Purdue >= 0 && e.Purdue <= level }

func purdueAtLeast(e *event.Endpoint, level float64) bool { return e.Purdue >= 0 && e.Purdue >= level }

func maintAllows(m *event.Maint, op string) bool {
	return m.Active && slices.Contains(m.AllowedOps, op)
}

func maintAllowsSource(m *event.Maint, e *event.Endpoint) bool {
	if !m.Active {
		return false
	}
	for _, s := range m.AllowedSources {
		if s != "" && (s == e.AssetID || s == e.IP) {
			return true
		}
	}
	return false
}

// inPrefix reports whether the text address ip is inside pfx.
func inPrefix(ip string, pfx netip.Prefix) bool {
	if ip == "" {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return pfx.Contains(a.Unmap())
}

// parsePrefix parses a CIDR, masking host bits ("10.1.2.3/8" is 10.0.0.0/8).
func parsePrefix(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q (want 10.0.0.0/8 or fd00::/8)", cidr)
	}
	return p.Masked(), nil
}

// prefixCache holds the CIDRs parsed by the interpreted in_cidr (constant
// CIDRs are parsed once at load time by the native compiler; this serves
// the interpreter and non-constant arguments), bounded so that CIDRs
// taken from event data cannot grow it without limit.
var (
	prefixCache   sync.Map // string -> netip.Prefix
	prefixEntries atomic.Int64
)

const maxPrefixCache = 4096

func cachedPrefix(cidr string) (netip.Prefix, error) {
	if p, ok := prefixCache.Load(cidr); ok {
		return p.(netip.Prefix), nil
	}
	p, err := parsePrefix(cidr)
	if err != nil {
		return p, err
	}
	if prefixEntries.Add(1) <= maxPrefixCache {
		// A CIDR taken from an event may point into its input message
		// (event.UnmarshalEventsShared): the cache keeps its own copy.
		prefixCache.Store(strings.Clone(cidr), p)
	}
	return p, nil
}

// checkHelperCalls validates the constant arguments of helper calls in src
// (zone kinds, roles, Purdue levels, CIDRs), so that a typo fails when the
// rules are loaded instead of silently never matching.
func checkHelperCalls(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // expr.Compile reports syntax errors
	}
	var first error
	ast.Find(tree.Node, func(n ast.Node) bool {
		if first != nil {
			return false
		}
		call, ok := n.(*ast.CallNode)
		if !ok {
			return false
		}
		id, ok := call.Callee.(*ast.IdentifierNode)
		if !ok || len(call.Arguments) < 2 {
			return false
		}
		arg := call.Arguments[1]
		str, isStr := arg.(*ast.StringNode)
		switch id.Value {
		case "is_kind":
			if isStr && !slices.Contains(site.ZoneKinds, str.Value) {
				first = fmt.Errorf("is_kind: unknown zone kind %q (one of %s)", str.Value, strings.Join(site.ZoneKinds, ", "))
			}
		case "has_role":
			if isStr && !slices.Contains(site.Roles, str.Value) {
				first = fmt.Errorf("has_role: unknown asset role %q (one of %s)", str.Value, strings.Join(site.Roles, ", "))
			}
		case "in_zone":
			if isStr && strings.TrimSpace(str.Value) == "" {
				first = fmt.Errorf("in_zone: empty zone id")
			}
		case "in_cidr":
			if isStr {
				if _, err := parsePrefix(str.Value); err != nil {
					first = fmt.Errorf("in_cidr: %w", err)
				}
			}
		case "maint_allows":
			if isStr && str.Value == "" {
				first = fmt.Errorf("maint_allows: empty operation")
			}
		case "purdue_at_most", "purdue_at_least":
			var level float64
			switch x := arg.(type) {
			case *ast.IntegerNode:
				level = float64(x.Value)
			case *ast.FloatNode:
				level = x.Value
			default:
				return false
			}
			if level < 0 || level > 5 {
				first = fmt.Errorf("%s: Purdue level %v out of range 0..5", id.Value, level)
			}
		}
		return false
	})
	return first
}

// Package rule loads C-981 correlation rules from YAML and evaluates them
// against enriched events.
//
// A rule file holds a top-level `rules:` list. Every expression (condition,
// incident_key, summary) is an expr-lang expression compiled once at load
// time against the typed environment Env: the fields of event.Event under
// their expr names (src_ip, dst.role, flow.allowed, maint.active,
// fields["k"], ...) plus the constant lists controller_roles, write_ops and
// engineering_ops. Type errors, unknown names and non-boolean conditions are
// therefore reported when the rules are loaded, as "file:line: rule ID:
// part: error", never while events are flowing.
//
// Only rules of kind "match" (one event is enough) exist in this version;
// the stateful kinds (threshold, distinct, sequence, absence) are rejected
// with a clear error until the engine supports them.
//
// Evaluation is side-effect free and deterministic: the environment exposes
// data only, and the builtin now() is disabled so that replaying the same
// events always raises the same alerts. A Set is safe for concurrent use;
// each goroutine evaluates with its own reusable expr virtual machine
// (Matcher).
package rule

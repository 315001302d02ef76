// Package rule loads C-981 correlation rules from YAML and evaluates their
// conditions against enriched events.
//
// A rule file holds a top-level `rules:` list. Every expression (condition,
// group_by, distinct, sequence steps, incident_key, summary) is an
// expr-lang expression compiled once at load time against the typed
// environment Env: the fields of event.Event under their expr names
// (src_ip, dst.role, flow.allowed, maint.active, fields["k"], ...) plus the
// constant lists controller_roles, write_ops and engineering_ops and the
// zone helper functions (Helpers: in_zone, is_kind, purdue_at_most,
// in_cidr, maint_allows, ...), registered with typed signatures. Type
// errors, unknown names and non-boolean conditions are therefore reported
// when the rules are loaded, as "file:line: rule ID: part: error", never
// while events are flowing.
//
// Five kinds exist: match (one event), threshold, distinct, sequence and
// absence. This package evaluates the conditions: a Matcher returns a
// complete Match for a match rule and a Hit (rule, sequence step, key hash,
// distinct-value hash) for the stateful kinds, whose windows, sequences
// and timers are kept by the correlation engine (package correlate).
//
// Speed: the Set indexes every condition by a top-level equality clause on
// a selective field (operation, event_code, dst_port, category, app_proto,
// ..., kind) found in its AST, so an event runs only the conditions it can
// satisfy. Conditions and key expressions within the common subset
// (fields, literals, boolean logic, comparisons, in, string tests, ? :,
// lower/upper/trim and the helpers) are also compiled into Go closures that
// read event fields directly: they run without reflection or allocation,
// about ten times faster than expr's interpreter, which remains the
// reference (a differential test and fuzz target compare both) and the
// fallback for everything else (Rule.Interpreted lists such parts). Each
// Matcher reuses one expr VM for those; Src, Dst, Flow and Maint are
// exposed to expressions by pointer.
//
// Evaluation is side-effect free and deterministic: the environment exposes
// data only, and the builtin now() is disabled so that replaying the same
// events always raises the same alerts. Key hashes are FNV-1a, stable
// across processes, so checkpointed state stays addressable. Rule.Explain
// evaluates a condition clause by clause for rule authors. A Set is safe
// for concurrent use; each goroutine evaluates with its own Matcher.
package rule

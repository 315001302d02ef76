package rule

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/c981/c981/services/shared/event"
)

// Lazy Fields. The correlation service decodes its input with
// event.UnmarshalEventsRawFields: an event's Fields map stays MessagePack
// bytes of the message (Fields nil) until something needs it, since
// building a map per event was most of the decoding cost and most rules
// never read fields. Whether a rule reads them is decided when it is
// compiled (readsFields on the AST of each of its expressions, and its
// alert fields); the Matcher materializes an event's map
// (event.Event.DecodeFields) just before a part of a rule that reads them
// runs against the event, so that an event keeps no map unless one did:
//
//   - condFields (a rule's condition) and Step.condFields (a step's): Eval
//     decodes before testing it. Explain decodes when any condition of
//     the rule reads them.
//   - keyFields (group_by, distinct) and Step.byFields (a step's by): Eval
//     decodes once the condition held, before computing the key; KeyText
//     before rendering it.
//   - describeFields (incident_key, summary, a fields.<key> alert field):
//     describe (Eval for a match rule that matched, Describe for the alert
//     of a stateful rule) decodes before computing them.
//
// A decoded map is the one event.UnmarshalEventsShared builds (same keys
// and values, nil for a nil map, empty for an empty one; its strings share
// the message's memory), so a rule that reads fields sees exactly what it
// saw when every event had its map. DecodeFields does nothing for an event
// that has its map already (decoded otherwise, or built in Go).

// readsFields reports whether the expression src can read an event's
// Fields: it names the identifier fields (fields["k"], fields.k, `k in
// fields`, a closure over fields, or a variable of that name, which is
// counted too) or the whole environment ($env, through which any field can
// be reached). Member names (x.fields) are not identifiers and do not
// count. A source that does not parse is taken to read them (a compiled
// rule's sources always parse). An empty source reads nothing.
func readsFields(src string) bool {
	if strings.TrimSpace(src) == "" {
		return false
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return true
	}
	return ast.Find(tree.Node, func(n ast.Node) bool {
		id, ok := n.(*ast.IdentifierNode)
		return ok && (id.Value == "fields" || id.Value == "Fields" || id.Value == "$env")
	}) != nil
}

// anyReadsFields reports whether any of srcs reads fields (readsFields).
func anyReadsFields(srcs ...string) bool {
	for _, s := range srcs {
		if readsFields(s) {
			return true
		}
	}
	return false
}

// decideFields sets the fields flags of r and its steps from their
// sources (see Lazy Fields above).
func decideFields(r *Rule) {
	r.condFields = readsFields(r.Condition)
	r.keyFields = readsFields(r.Distinct) || anyReadsFields(r.GroupBy...)
	for _, st := range r.Steps {
		st.condFields = readsFields(st.Condition)
		st.byFields = anyReadsFields(st.By...)
	}
	r.describeFields = anyReadsFields(r.IncidentKey, r.Summary)
	for _, name := range r.Fields {
		if strings.HasPrefix(name, "fields.") {
			r.describeFields = true
		}
	}
}

// anyCondFields reports whether the condition of r or of one of its steps
// reads fields.
func (r *Rule) anyCondFields() bool {
	if r.condFields {
		return true
	}
	for _, st := range r.Steps {
		if st.condFields {
			return true
		}
	}
	return false
}

// ReadsFields reports whether r reads the events' Fields map: in a
// condition, key or sequence step (the Matcher decodes an event's map, see
// event.Event.DecodeFields, before that part of r runs against it), or in
// its incident key, summary or alert fields (decoded before an alert of r
// is described).
func (r *Rule) ReadsFields() bool {
	if r.anyCondFields() || r.keyFields || r.describeFields {
		return true
	}
	for _, st := range r.Steps {
		if st.byFields {
			return true
		}
	}
	return false
}

// needFields materializes ev's Fields map when it was left raw by
// event.UnmarshalEventsRawFields and need is true (a rule reads it). A nil
// ev, and an event that has its map, are left alone (not written to).
func needFields(ev *event.Event, need bool) {
	if need && ev != nil && ev.Fields == nil {
		ev.DecodeFields()
	}
}

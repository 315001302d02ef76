// Package respond is C-981's response stage. For every incident version on
// C981_INCIDENTS it selects the playbooks that apply (package playbook),
// lets the constraint engine (package constraint) decide every step against
// the incident's target, and publishes the resulting plans to
// c981.actions.<site>. Plans are advice with decisions: this stage never
// executes an action itself.
//
// Plan ids are event.NewID("plan", incident id, version, playbook id), so a
// redelivered incident produces the same plans, and the output message id
// is derived from the input message, so JetStream deduplicates the publish.
package respond

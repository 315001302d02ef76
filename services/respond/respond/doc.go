// Package respond is C-981's response stage. For every incident version on
// C981_INCIDENTS it selects the playbooks that apply (package playbook),
// lets the constraint engine (package constraint) decide every step against
// the incident's target and source and the target asset's response
// constraints from the site models (Config.Sites), and publishes the
// resulting plans to c981.actions.<site>.
//
// Optionally (Config.Audit) every step decision is appended to the site's
// hash-chained audit trail (package audit, stream C981_AUDIT), and
// (Config.Execute) the steps the engine allowed to run automatically are
// performed by the executors (package executor): signed webhooks for
// notifications and tickets, the site-local gateway for boundary actions.
// Nothing that needs approval or is forbidden is ever executed.
//
// Plan ids are event.NewID("plan", incident id, version, playbook id), so a
// redelivered incident produces the same plans, and the output message id
// is derived from the input message, so JetStream deduplicates the publish.
// Audit records have deterministic ids (deduplicated by the stream within
// its 2-minute window) and every executed step an idempotency key in a
// JetStream KV bucket, so a redelivery never runs a step twice. The input
// message is acknowledged only after plans, audit records and executions
// are durable.
package respond

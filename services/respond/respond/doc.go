// Package respond is C-981's response stage. For every incident version on
// C981_INCIDENTS it selects the playbooks that apply (package playbook),
// lets the constraint engine (package constraint) decide every step against
// the incident's target and source and the target asset's response
// constraints from the site models (Config.Sites), and publishes the
// resulting plans to c981.actions.<site>.
//
// A version that changes nothing the plans depend on is not planned again
// (counted as unchanged in c981_respond_incidents_total): most versions of
// a busy incident only add alerts (version, updated_at, first_seen,
// last_seen, alert_ids and alert_count move), and planning, auditing and
// executing each of them again cost a plan, its approval requests, an
// audit record per step and about 25 JetStream round trips for nothing.
// The plan inputs are every other incident field, plus those volatile
// fields a playbook expression reads (playbook.Set.Fields); the fingerprint
// of the last planned version per incident is kept in memory (bounded by
// Config.PlannedCache, lost on restart: a forgotten incident is planned
// again). The plans and approval requests of the last planned version stay
// current.
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
//
// # Approvals
//
// Before a plan is published, every step that needs approval gets a
// Request in the bus.KVApprovals bucket (key RequestKey: incident, plan,
// step), and the open requests of older versions of the incident are
// closed as superseded. The console publishes people's verdicts
// (event.Approval, approver and role from the authenticated caller) on
// c981.approvals.<site>; the durable consumer respond-approvals adds each
// to its request once (by id, with compare-and-set on the key's revision),
// re-validates and evaluates them with package approval (binding to plan,
// incident version and step, expiry, distinct people covering every role,
// quorum, deadline), audits every verdict, and when the request becomes
// approved runs the step once through Runner.RunApproved (the step's
// idempotency key and the outcome recorded in the request make a
// redelivered approval find it already run). A rejection, a timeout or a
// superseded plan does nothing to the process. Renotify (every
// Config.Renotify) notifies the pending and timed-out requests again
// through the notify executor, dry run respected, and audits each
// notification; it stops for approved, rejected and superseded requests.
package respond

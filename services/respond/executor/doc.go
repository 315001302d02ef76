// Package executor performs the automatic steps of response plans - and
// only those the constraint engine allowed.
//
//   - Webhook (notify and ticket): POSTs the step as JSON to an allowlisted
//     URL with an HMAC-SHA256 signature header (X-C981-Signature:
//     sha256=<hex of HMAC(secret, timestamp "." body)>, X-C981-Timestamp)
//     and an Idempotency-Key header.
//   - Gateway (boundary actions): a NATS request to the site-local gateway
//     on c981.gateway.<site>; the gateway (Gateway, a small handler run at
//     the site) re-checks the step with the constraint engine before it
//     applies anything, so a compromised or buggy central stage cannot push
//     an unsafe action.
//
// Every executor has a dry-run mode that does everything except the effect.
// Runner dispatches the steps of a plan: a step runs only when its decision
// is allowed and it is automatic; its idempotency key (incident id + step
// id + plan id) is created in a JetStream KV bucket before it runs, so a
// redelivered incident never runs a step twice (at most once: a crash
// after the key is created and before the step finished leaves it "in
// doubt" for a person rather than repeating it).
package executor

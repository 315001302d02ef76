// Package console serves C-981's console: a JSON API and a web UI over the
// incidents, alerts, events, response plans and audit records stored in
// ClickHouse and the site models (zones, conduits, assets, maintenance
// windows), for SOC analysts (triage), plant operators (constrained
// guidance and approvals) and ISMS reporting. Reads come from ClickHouse;
// writes go through the JetStream bus (Deps.JS): triage changes are
// compare-and-set updates of the incident's key in the c981_triage KV
// bucket, approvals are published on c981.approvals.<site> for the respond
// stage; without a bus the write routes answer 503.
//
// Routes (Go 1.22 ServeMux patterns; the OpenAPI 3 description is
// schemas/openapi.json, embedded and served at /api/openapi.json):
//
//	GET   /api/incidents               list incidents with risk and triage
//	                                   (site, status, severity, since, until,
//	                                   q, zone, assignee, limit, cursor)
//	GET   /api/incidents/{id}          one incident with alerts, events, plans
//	                                   and triage; ETag = triage version
//	PATCH /api/incidents/{id}          status and assignee (version or
//	                                   If-Match; stale -> 409)
//	POST  /api/incidents/{id}/notes    add a note (version)
//	PATCH /api/incidents/{id}/isms     the ISMS record (isms_owner, admin)
//	GET   /api/incidents/{id}/plans    its response plans with step decisions
//	GET   /api/incidents/{id}/alerts   its alerts
//	POST  /api/incidents/{id}/plans/{plan}/steps/{step}/approvals
//	                                   approve or reject a step as the caller
//	GET   /api/approvals               steps waiting for approval
//	GET   /api/alerts                  alert search (keyset paging)
//	GET   /api/events                  event search (site, since, until, zone,
//	                                   asset, ip, user, operation, q, limit,
//	                                   cursor)
//	GET   /api/stats/events            event counts per hour, zone and severity
//	GET   /api/stats/talkers           top cross-zone talkers and violations
//	GET   /api/sites                   the caller's sites
//	GET   /api/sites/{site}            one site model's header and list sizes
//	GET   /api/sites/{site}/zones      its zones (also conduits, assets,
//	                                   windows)
//	GET   /api/incidents/{id}/report   ISMS incident report (json, markdown)
//	GET   /api/reports/nis2            NIS2 Art. 23 clocks
//	GET   /api/reports/summary         period summary per site
//	GET   /api/stream                  live updates (server-sent events)
//	GET   /api/openapi.json            the OpenAPI document
//	GET   /, /ui/{path...}             the web UI (static, no token)
//	GET   /healthz                     ClickHouse reachability (no token)
//	GET   /metrics                     Prometheus metrics (no token)
//
// # Authentication
//
// Every /api route needs "Authorization: Bearer <token>"; a missing or
// unknown token gets 401 with WWW-Authenticate. The config's static tokens
// (Config.Tokens) map a token to a user, roles (analyst, operator,
// control_engineer, safety_engineer, manager, isms_owner, admin, auditor)
// and sites ("*" for all). Tokens are compared as SHA-256 hashes in constant
// time against every configured token. With auth: jwt, JWT bearer tokens
// (OIDC) are validated instead (JWTConfig: RS256 or HS256 with one fixed
// key, issuer, audience, expiry; user, roles and sites from claims). Other
// schemes plug in as an Authenticator with auth: external.
//
// Demo mode: with no tokens and no auth setting, every request acts as the
// built-in read-only Demo identity on all sites, logged as a warning at
// start. It is allowed only when the listen address is loopback (127.0.0.1,
// ::1, localhost), as in the all-in-one demo; on any other address New
// fails unless auth: none disables authentication explicitly.
//
// # Authorization
//
// Each route lists the roles that may use it (all roles for the read
// routes; triage writes: analyst, control and safety engineers, manager,
// ISMS owner, admin, and operators for acknowledging and notes; approvals:
// the step's approver roles; reports: analyst, manager, ISMS owner, admin,
// auditor; a caller without any of them gets 403). Every route is scoped to
// the caller's sites on the server: lists and statistics show only those
// sites, and detail routes answer an object of another site with the same
// 404 as an unknown one, so its existence is not disclosed.
//
// # Limits
//
// Each caller (token; client address in demo mode) has a token bucket
// (Config.RateLimit); an empty bucket answers 429 with Retry-After. Request
// headers and bodies are size-limited and every query runs under
// Config.QueryTimeout (504 when exceeded).
//
// # Transport and secrets
//
// With a tls section (TLSConfig) the console serves HTTPS only: TLS 1.2 or
// 1.3, optionally requiring client certificates of client_ca_file; the
// certificate and key are re-read when their files change. Key and secret
// files (tls.key_file, tokens_file, clickhouse.password_file,
// clickhouse.tls.key_file) are refused when others may read them, or group
// members unless root owns the file.
// Tokens may come from the environment (token_env) or a tokens_file, and
// the ClickHouse password from password_env or password_file, so the
// config itself needs no secret.
//
// Errors are RFC 9457 problem details (application/problem+json); invalid
// query parameters are listed in the invalid_params member.
package console

// Package console serves C-981's console API: a read-only JSON API over the
// incidents, alerts, events and response plans stored in ClickHouse, for SOC
// analysts, plant operators and ISMS reporting.
//
// Routes (Go 1.22 ServeMux patterns):
//
//	GET /api/incidents        list incidents (site, status, severity, since,
//	                          until, q, limit, cursor)
//	GET /api/incidents/{id}   one incident with alerts, events and plans
//	GET /healthz              ClickHouse reachability
//	GET /metrics              Prometheus metrics
//
// Errors are RFC 9457 problem details (application/problem+json); invalid
// query parameters are listed in the invalid_params member.
package console

// Package schemas embeds C-981's contracts so every binary carries them:
// the JSON Schemas of the Event, Alert, Incident, Plan (action audit) and
// DeadLetter records and of the site model, the numbered ClickHouse
// migrations and the OpenAPI 3 description of the console API.
package schemas

import "embed"

// JSON holds the JSON Schema documents (*.schema.json).
//
//go:embed *.schema.json
var JSON embed.FS

// ClickHouse holds the numbered ClickHouse migrations (clickhouse/NNNN_name.sql).
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS

// OpenAPI is the OpenAPI 3 description of the console API (openapi.json),
// which the console serves at /api/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

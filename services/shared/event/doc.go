// Package event defines C-981's data contracts: the normalized Event that
// every stage passes along, the enrichment context attached to it, and the
// Alert, Incident, Plan and DeadLetter records produced downstream.
//
// The JSON Schemas in schemas/ describe these same types; a test there
// checks that documents produced from these types validate. Field names are
// shared by JSON, the bus codec (msgpack with the json tags) and expr rule
// environments (expr tags), so a rule author writes `dst.zone_kind` for the
// field stored as `dst.zone_kind`.
package event

package event

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file event.go -o event_gen.go -tests=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file batch.go -o batch_gen.go -tests=false

// The bus encoding is MessagePack with the json field names, produced by
// code generated from the types of this package (msgp): no reflection on the
// hot path. Regenerate with `go generate ./event` after changing a type.
//msgp:tag json
// As for the records (event.go): a corrupt count must not be allocated.
//msgp:limit arrays:262144 maps:262144
// EventBatch's methods are hand-written (compact.go): it writes compact
// records and reads both record forms.
//msgp:ignore EventBatch

// EventBatch is a bus message's worth of events.
type EventBatch []Event

// AlertBatch is a bus message's worth of alerts.
type AlertBatch []Alert

// IncidentBatch is a bus message's worth of incident versions.
type IncidentBatch []Incident

// PlanBatch is a bus message's worth of response plans.
type PlanBatch []Plan

// DeadLetterBatch is a bus message's worth of dead letters.
type DeadLetterBatch []DeadLetter

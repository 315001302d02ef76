package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/shared/event"
)

// Options bounds the size of GetIncident results.
type Options struct {
	// MaxAlerts caps the alerts returned with an incident (default 500).
	MaxAlerts int
	// MaxEvents caps the contributing events returned with an incident
	// (default 200).
	MaxEvents int
}

// Defaults of Options.
const (
	DefaultMaxAlerts = 500
	DefaultMaxEvents = 200
)

// DB runs the console's queries on one ClickHouse connection (pool). It is
// safe for concurrent use.
type DB struct {
	conn driver.Conn
	opts Options
}

// New returns a DB on conn; zero Options fields take their defaults.
func New(conn driver.Conn, opts Options) (*DB, error) {
	if conn == nil {
		return nil, errors.New("query: nil ClickHouse connection")
	}
	if opts.MaxAlerts < 0 || opts.MaxEvents < 0 {
		return nil, fmt.Errorf("query: negative limits (max alerts %d, max events %d)", opts.MaxAlerts, opts.MaxEvents)
	}
	if opts.MaxAlerts == 0 {
		opts.MaxAlerts = DefaultMaxAlerts
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	return &DB{conn: conn, opts: opts}, nil
}

// withDeadline passes the context deadline to ClickHouse as
// max_execution_time, so the server stops working on a query the client has
// given up on.
func withDeadline(ctx context.Context) context.Context {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx
	}
	secs := int(math.Ceil(time.Until(dl).Seconds()))
	if secs < 1 {
		secs = 1
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": secs}))
}

// stamp joins a DateTime (scanned as Unix seconds) and its millisecond
// column into a UTC time.
func stamp(sec int64, ms uint16) time.Time {
	return time.UnixMilli(sec*1000 + int64(ms)).UTC()
}

// endpoint builds the zone context stored in flattened columns. Known is
// derived from the asset id (an inventoried asset always has one).
func endpoint(ip, asset, role, zone, zoneKind string, purdue float32, slt uint8, criticality string, safety bool) event.Endpoint {
	return event.Endpoint{
		IP: ip, Known: asset != "", AssetID: asset, Role: role, Zone: zone, ZoneKind: zoneKind,
		Purdue: purdueLevel(purdue), SLT: int(slt), Criticality: criticality, Safety: safety,
	}
}

// purdueLevel converts a stored Purdue level; values JSON cannot carry (NaN,
// infinities) read as -1, unknown.
func purdueLevel(p float32) float64 {
	f := float64(p)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}

// nested turns the key and value arrays of a Nested(key, value) column into
// a map (nil when empty).
func nested(keys, values []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(values) {
			m[k] = values[i]
		}
	}
	return m
}

// storedFields returns the fields of an events row: the JSON object of
// its fields_json column when that is not empty (rows stored since
// migration 0009, see services/store/chstore FieldsJSONColumn), else the
// pairs of its Nested fields.key and fields.value arrays (rows stored
// before), as nested gives them; nil for an event without fields.
func storedFields(fieldsJSON string, keys, values []string) (map[string]string, error) {
	if fieldsJSON == "" {
		return nested(keys, values), nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(fieldsJSON), &m); err != nil {
		return nil, fmt.Errorf("decode fields_json: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// nonNil returns s, or an empty slice when s is nil, so JSON shows [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

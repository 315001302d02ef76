package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tinylib/msgp/msgp"

	"github.com/c981/c981/services/shared/event"
)

// DefaultBucket is the JetStream key-value bucket of the correlator's
// incident state.
const DefaultBucket = "C981_CORRELATE_INCIDENTS"

// KVConfig configures the KVStore bucket.
type KVConfig struct {
	// Bucket is the key-value bucket name (default DefaultBucket).
	Bucket string `yaml:"bucket"`
	// Replicas is the bucket's replica count (default 1).
	Replicas int `yaml:"replicas"`
	// TTL bounds how long an incident is kept after its last change; it must
	// exceed the incident window (default 7 days).
	TTL time.Duration `yaml:"ttl"`
}

// KVStore is an IncidentStore in a JetStream key-value bucket. The current
// incident of a site and key lives under "cur.<hash of site and key>" and is
// written with a revision check; closed incidents live under "inc.<id>"
// and never change once written, so rewriting them on a retry is harmless.
// Values are Entry records in MessagePack (see encodeEntry); JSON Entry
// documents written by earlier versions are still read.
type KVStore struct {
	kv jetstream.KeyValue
}

// NewKVStore creates or updates the bucket and returns a store on it.
func NewKVStore(ctx context.Context, js jetstream.JetStream, cfg KVConfig) (*KVStore, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 7 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "C-981 correlator incident state (current incident per site and incident key, closed incidents by id)",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("incident store bucket %s: %w", cfg.Bucket, err)
	}
	return &KVStore{kv: kv}, nil
}

func currentKey(site, key string) string { return "cur." + event.NewID("incident-key", site, key) }

func closedKey(id string) string { return "inc." + id }

// Current implements IncidentStore.
func (s *KVStore) Current(ctx context.Context, site, key string) (Entry, uint64, error) {
	k := currentKey(site, key)
	kve, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, 0, ErrNotFound
	}
	if err != nil {
		return Entry{}, 0, fmt.Errorf("get current incident %s/%s: %w", site, key, err)
	}
	e, err := decodeEntry(kve.Value())
	if err != nil {
		return Entry{}, 0, fmt.Errorf("decode current incident %s/%s (%s rev %d): %w", site, key, k, kve.Revision(), err)
	}
	return e, kve.Revision(), nil
}

// Previous implements IncidentStore.
func (s *KVStore) Previous(ctx context.Context, id string) (Entry, error) {
	kve, err := s.kv.Get(ctx, closedKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("get closed incident %s: %w", id, err)
	}
	e, err := decodeEntry(kve.Value())
	if err != nil {
		return Entry{}, fmt.Errorf("decode closed incident %s: %w", id, err)
	}
	return e, nil
}

// Put implements IncidentStore.
func (s *KVStore) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	for _, c := range closed {
		data, err := encodeEntry(&c)
		if err != nil {
			return 0, fmt.Errorf("encode closed incident %s: %w", c.Incident.ID, err)
		}
		if _, err := s.kv.Put(ctx, closedKey(c.Incident.ID), data); err != nil {
			return 0, fmt.Errorf("put closed incident %s: %w", c.Incident.ID, err)
		}
	}
	data, err := encodeEntry(&cur)
	if err != nil {
		return 0, fmt.Errorf("encode incident %s: %w", cur.Incident.ID, err)
	}
	k := currentKey(cur.Incident.Site, cur.Incident.Key)
	var newRev uint64
	if rev == 0 {
		newRev, err = s.kv.Create(ctx, k, data)
	} else {
		newRev, err = s.kv.Update(ctx, k, data, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, fmt.Errorf("put incident %s (rev %d): %w", cur.Incident.ID, rev, ErrConflict)
	case err != nil:
		return 0, fmt.Errorf("put incident %s (rev %d): %w", cur.Incident.ID, rev, err)
	}
	return newRev, nil
}

var _ IncidentStore = (*KVStore)(nil)

// entryMsgpack starts an Entry encoded by encodeEntry. 0xc1 is the one
// byte MessagePack never uses, and a JSON document starts with '{'.
const entryMsgpack = 0xc1

// encodeEntry encodes an Entry as entryMsgpack followed by the incident in
// the bus codec (event.Incident's generated MessagePack), Prev as a string,
// ClosedLastSeen as Unix nanoseconds (0: none), Seq, and the Applied
// journal as an array of [seq, [[incident, alerts], ...]]. Values written
// before Seq existed end after ClosedLastSeen.
func encodeEntry(e *Entry) ([]byte, error) {
	size := 1 + e.Incident.Msgsize() + msgp.StringPrefixSize + len(e.Prev) + 2*msgp.Int64Size + msgp.ArrayHeaderSize
	for _, a := range e.Applied {
		size += 2*msgp.ArrayHeaderSize + msgp.Uint64Size
		for _, r := range a.Runs {
			size += msgp.ArrayHeaderSize + msgp.StringPrefixSize + len(r.Incident) + msgp.IntSize
		}
	}
	b := make([]byte, 0, size)
	b = append(b, entryMsgpack)
	b, err := e.Incident.MarshalMsg(b)
	if err != nil {
		return nil, err
	}
	b = msgp.AppendString(b, e.Prev)
	var closed int64
	if !e.ClosedLastSeen.IsZero() {
		closed = e.ClosedLastSeen.UnixNano()
	}
	b = msgp.AppendInt64(b, closed)
	b = msgp.AppendUint64(b, e.Seq)
	b = msgp.AppendArrayHeader(b, uint32(len(e.Applied)))
	for _, a := range e.Applied {
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendUint64(b, a.Seq)
		b = msgp.AppendArrayHeader(b, uint32(len(a.Runs)))
		for _, r := range a.Runs {
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendString(b, r.Incident)
			b = msgp.AppendInt(b, r.Alerts)
		}
	}
	return b, nil
}

// readArray reads an array header of exactly want elements (want < 0: any
// number that the remaining bytes can hold, one byte per element at least).
func readArray(b []byte, want int) (int, []byte, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return 0, nil, err
	}
	if want >= 0 && int(n) != want {
		return 0, nil, fmt.Errorf("array of %d elements, want %d", n, want)
	}
	if int(n) > len(rest) {
		return 0, nil, fmt.Errorf("array of %d elements in %d bytes", n, len(rest))
	}
	return int(n), rest, nil
}

// decodeApplied decodes the Seq and Applied journal encodeEntry appends.
func decodeApplied(e *Entry, b []byte) ([]byte, error) {
	var err error
	if e.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return nil, fmt.Errorf("seq: %w", err)
	}
	n, b, err := readArray(b, -1)
	if err != nil {
		return nil, fmt.Errorf("applied: %w", err)
	}
	if n > 0 {
		e.Applied = make([]Applied, n)
	}
	for i := range e.Applied {
		a := &e.Applied[i]
		if _, b, err = readArray(b, 2); err != nil {
			return nil, fmt.Errorf("applied %d: %w", i, err)
		}
		if a.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
			return nil, fmt.Errorf("applied %d: seq: %w", i, err)
		}
		var runs int
		if runs, b, err = readArray(b, -1); err != nil {
			return nil, fmt.Errorf("applied %d: runs: %w", i, err)
		}
		if runs > 0 { // none decodes as none, like the JSON of an empty record
			a.Runs = make([]Run, runs)
		}
		for j := range a.Runs {
			if _, b, err = readArray(b, 2); err != nil {
				return nil, fmt.Errorf("applied %d run %d: %w", i, j, err)
			}
			if a.Runs[j].Incident, b, err = msgp.ReadStringBytes(b); err != nil {
				return nil, fmt.Errorf("applied %d run %d: incident: %w", i, j, err)
			}
			if a.Runs[j].Alerts, b, err = msgp.ReadIntBytes(b); err != nil {
				return nil, fmt.Errorf("applied %d run %d: alerts: %w", i, j, err)
			}
		}
	}
	return b, nil
}

// decodeEntry decodes a value written by encodeEntry, or a JSON Entry
// document (earlier versions).
func decodeEntry(data []byte) (Entry, error) {
	var e Entry
	if len(data) == 0 || data[0] != entryMsgpack {
		err := json.Unmarshal(data, &e)
		return e, err
	}
	// The generated decoder allocates what an array header announces:
	// walk the value first, so a damaged header is an error, not a
	// gigabyte allocation.
	if _, err := msgp.Skip(data[1:]); err != nil {
		return Entry{}, fmt.Errorf("incident: %w", err)
	}
	rest, err := e.Incident.UnmarshalMsg(data[1:])
	if err != nil {
		return Entry{}, fmt.Errorf("incident: %w", err)
	}
	if e.Prev, rest, err = msgp.ReadStringBytes(rest); err != nil {
		return Entry{}, fmt.Errorf("prev: %w", err)
	}
	closed, rest, err := msgp.ReadInt64Bytes(rest)
	if err != nil {
		return Entry{}, fmt.Errorf("closed_last_seen: %w", err)
	}
	if len(rest) != 0 { // written since Seq exists
		if rest, err = decodeApplied(&e, rest); err != nil {
			return Entry{}, err
		}
	}
	if len(rest) != 0 {
		return Entry{}, fmt.Errorf("%d trailing bytes", len(rest))
	}
	if closed != 0 {
		e.ClosedLastSeen = time.Unix(0, closed).UTC()
	}
	return e, nil
}

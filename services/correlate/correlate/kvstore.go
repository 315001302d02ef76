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
// the bus codec (event.Incident's generated MessagePack), Prev as a string
// and ClosedLastSeen as Unix nanoseconds (0: none). Encoding an incident
// with its up to MaxAlerts alert ids on every update was the costliest
// part of an incident write in JSON.
func encodeEntry(e *Entry) ([]byte, error) {
	b := make([]byte, 0, 1+e.Incident.Msgsize()+msgp.StringPrefixSize+len(e.Prev)+msgp.Int64Size)
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
	return msgp.AppendInt64(b, closed), nil
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
	if len(rest) != 0 {
		return Entry{}, fmt.Errorf("%d trailing bytes", len(rest))
	}
	if closed != 0 {
		e.ClosedLastSeen = time.Unix(0, closed).UTC()
	}
	return e, nil
}

package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/event"
)

// DefaultStateBucket is the JetStream key-value bucket of the correlator's
// window and sequence state.
const DefaultStateBucket = "C981_CORRELATE_STATE"

// StateConfig configures the checkpoint bucket of stateful rules.
type StateConfig struct {
	// Bucket is the key-value bucket name (default DefaultStateBucket).
	Bucket string `yaml:"bucket"`
	// Replicas is the bucket's replica count (default 1).
	Replicas int `yaml:"replicas"`
	// TTL drops the state of a key not updated for this long (default 7
	// days); it must exceed the longest window, within or interval.
	TTL time.Duration `yaml:"ttl"`
}

// KeyRecord is the checkpoint of one key of one stateful rule.
type KeyRecord struct {
	// Rule is the rule id and Fingerprint its state fingerprint: state is
	// restored only into a rule with the same fingerprint.
	Rule        string `json:"rule"`
	Fingerprint string `json:"fp"`
	// Site is the partition and Hash the key hash.
	Site string `json:"site"`
	Hash uint64 `json:"hash"`
	// State is the key's window or sequence state.
	State keyState `json:"state"`
}

// SiteRecord is the checkpoint of one partition: its watermark and the
// destinations reported in maintenance.
type SiteRecord struct {
	Site string `json:"site"`
	// High is the highest event time seen (Unix nanoseconds).
	High int64 `json:"high"`
	// Maint are the destinations (asset ids, addresses) last reported in an
	// open maintenance window.
	Maint []string `json:"maint,omitempty"`
}

// Checkpoint is the state changed since the previous checkpoint.
type Checkpoint struct {
	// Keys are the changed keys.
	Keys []KeyRecord
	// Deleted are the keys evicted or expired, as store keys.
	Deleted []string
	// Sites are the partitions whose watermark or maintenance changed.
	Sites []SiteRecord
}

// Empty reports whether nothing changed.
func (c Checkpoint) Empty() bool { return len(c.Keys) == 0 && len(c.Deleted) == 0 && len(c.Sites) == 0 }

// keyStoreKey is the bucket key of one rule key's state.
func keyStoreKey(ruleID, site string, hash uint64) string {
	return "k." + event.NewID("correlate-state", ruleID, site, strconv.FormatUint(hash, 16))
}

func siteStoreKey(site string) string { return "s." + event.NewID("correlate-site", site) }

// TakeCheckpoint returns the state changed since the last call (deep
// copies) and starts a new change set. A caller that fails to store the
// checkpoint must not call it again before it succeeded with this one:
// use Stateful.Save, which keeps a failed checkpoint for the next attempt.
func (e *Engine) TakeCheckpoint() Checkpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.win
	var cp Checkpoint
	for ref := range w.dirty {
		rw := w.rules[ref.rule]
		if rw == nil {
			continue
		}
		st, ok := rw.keys[ref.pk]
		if !ok {
			continue
		}
		cp.Keys = append(cp.Keys, KeyRecord{Rule: ref.rule, Fingerprint: rw.rule.Fingerprint(), Site: ref.pk.site, Hash: ref.pk.key, State: st.clone()})
	}
	for ref := range w.deleted {
		cp.Deleted = append(cp.Deleted, keyStoreKey(ref.rule, ref.pk.site, ref.pk.key))
	}
	for site := range w.dirtySites {
		sr := SiteRecord{Site: site, High: w.wm[site]}
		for k := range w.maint {
			if k.site == site {
				sr.Maint = append(sr.Maint, k.target)
			}
		}
		slices.Sort(sr.Maint)
		cp.Sites = append(cp.Sites, sr)
	}
	clear(w.dirty)
	clear(w.deleted)
	clear(w.dirtySites)
	return cp
}

// Restore loads checkpointed state into the engine (before processing).
// Records of rules that are not loaded, or whose fingerprint changed, are
// skipped and returned as stale store keys.
func (e *Engine) Restore(keys []KeyRecord, sites []SiteRecord) (restored int, stale []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.win
	for _, s := range sites {
		w.wm[s.Site] = max(w.wm[s.Site], s.High)
		for _, t := range s.Maint {
			w.maint[maintKey{s.Site, t}] = true
		}
	}
	for _, k := range keys {
		rw := w.rules[k.Rule]
		if rw == nil || rw.rule.Fingerprint() != k.Fingerprint {
			stale = append(stale, keyStoreKey(k.Rule, k.Site, k.Hash))
			continue
		}
		st := k.State.clone()
		rw.keys[partKey{k.Site, k.Hash}] = &st
		restored++
	}
	for id, rw := range w.rules {
		e.metrics.LiveKeys.WithLabelValues(id).Set(float64(len(rw.keys)))
	}
	return restored, stale
}

func (s *keyState) clone() keyState {
	c := *s
	c.Times = slices.Clone(s.Times)
	c.Values = slices.Clone(s.Values)
	c.VTimes = slices.Clone(s.VTimes)
	c.Events = slices.Clone(s.Events)
	if s.Expected != nil {
		ev := *s.Expected
		ev.Raw = "" // a borrowed event still has it (see settle)
		// A borrowed event may still have raw Fields (see ownEvent):
		// the checkpoint has the map, and no pointer into the message.
		ev.DecodeFields()
		c.Expected = &ev
	}
	c.own = c.Expected // the copy owns its expected event
	return c
}

// StateStore checkpoints an Engine's window and sequence state in a
// JetStream key-value bucket: one value per rule key ("k.<id>") and per
// site ("s.<id>"), JSON-encoded. Writes are pipelined (asynchronous
// publishes to the bucket's subjects, then all acknowledgements awaited).
type StateStore struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
	// pending is a checkpoint that failed to be stored; it is merged into
	// the next Save.
	pending *Checkpoint
}

// NewStateStore creates or updates the bucket and returns a store on it.
func NewStateStore(ctx context.Context, js jetstream.JetStream, cfg StateConfig) (*StateStore, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultStateBucket
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 7 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "C-981 correlator window, sequence and absence state per rule key, and watermarks per site",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("state bucket %s: %w", cfg.Bucket, err)
	}
	return &StateStore{js: js, kv: kv, bucket: cfg.Bucket}, nil
}

// Load restores the bucket's state of the sites owns accepts (nil: all)
// into e and deletes the records of removed or changed rules. It returns
// the number of keys restored.
func (s *StateStore) Load(ctx context.Context, e *Engine, owns func(site string) bool) (int, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("load state %s: %w", s.bucket, err)
	}
	defer w.Stop()
	var keys []KeyRecord
	var sites []SiteRecord
	for {
		var ent jetstream.KeyValueEntry
		select {
		case ent = <-w.Updates():
		case <-ctx.Done():
			return 0, fmt.Errorf("load state %s: %w", s.bucket, ctx.Err())
		}
		if ent == nil {
			break
		}
		switch k := ent.Key(); {
		case len(k) > 2 && k[:2] == "k.":
			var r KeyRecord
			if err := json.Unmarshal(ent.Value(), &r); err != nil {
				return 0, fmt.Errorf("load state %s key %s: %w", s.bucket, k, err)
			}
			if owns == nil || owns(r.Site) {
				keys = append(keys, r)
			}
		case len(k) > 2 && k[:2] == "s.":
			var r SiteRecord
			if err := json.Unmarshal(ent.Value(), &r); err != nil {
				return 0, fmt.Errorf("load state %s key %s: %w", s.bucket, k, err)
			}
			if owns == nil || owns(r.Site) {
				sites = append(sites, r)
			}
		}
	}
	n, stale := e.Restore(keys, sites)
	for _, k := range stale {
		if err := s.kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return n, fmt.Errorf("drop stale state %s: %w", k, err)
		}
	}
	return n, nil
}

// Save stores the state e changed since the last Save. On error the
// changes are kept and stored by the next Save.
func (s *StateStore) Save(ctx context.Context, e *Engine) error {
	cp := e.TakeCheckpoint()
	if s.pending != nil {
		cp = merge(*s.pending, cp)
		s.pending = nil
	}
	if cp.Empty() {
		return nil
	}
	if err := s.writeOrdered(ctx, cp); err != nil {
		s.pending = &cp
		return err
	}
	return nil
}

// writeOrdered stores a checkpoint: the keys first and the watermarks
// after them (once the keys are acknowledged), so a stored watermark never
// runs ahead of the key state a replay relies on.
func (s *StateStore) writeOrdered(ctx context.Context, cp Checkpoint) error {
	if len(cp.Keys) > 0 || len(cp.Deleted) > 0 {
		if err := s.write(ctx, Checkpoint{Keys: cp.Keys, Deleted: cp.Deleted}); err != nil {
			return err
		}
	}
	if len(cp.Sites) > 0 {
		return s.write(ctx, Checkpoint{Sites: cp.Sites})
	}
	return nil
}

// merge combines an older and a newer checkpoint; newer records win.
func merge(old, cur Checkpoint) Checkpoint {
	keyOf := func(r KeyRecord) string { return keyStoreKey(r.Rule, r.Site, r.Hash) }
	seen := map[string]bool{}
	for _, r := range cur.Keys {
		seen[keyOf(r)] = true
	}
	for _, k := range cur.Deleted {
		seen[k] = true
	}
	for _, r := range old.Keys {
		if !seen[keyOf(r)] {
			cur.Keys = append(cur.Keys, r)
		}
	}
	for _, k := range old.Deleted {
		if !seen[k] {
			cur.Deleted = append(cur.Deleted, k)
		}
	}
	sites := map[string]bool{}
	for _, r := range cur.Sites {
		sites[r.Site] = true
	}
	for _, r := range old.Sites {
		if !sites[r.Site] {
			cur.Sites = append(cur.Sites, r)
		}
	}
	return cur
}

// mergeAll combines the checkpoints of consecutive messages, oldest first,
// into one: a key or a site changed by several of them is written once,
// as the last one left it (a key deleted and then changed again is
// written, one changed and then deleted is deleted). The newest records
// are taken first, so each record costs one look-up whatever the number
// of checkpoints.
func mergeAll(cps []Checkpoint) Checkpoint {
	switch len(cps) {
	case 0:
		return Checkpoint{}
	case 1:
		return cps[0]
	}
	var out Checkpoint
	seen := map[string]bool{}
	sites := map[string]bool{}
	for i := len(cps) - 1; i >= 0; i-- {
		cp := cps[i]
		for _, r := range cp.Keys {
			if k := keyStoreKey(r.Rule, r.Site, r.Hash); !seen[k] {
				seen[k] = true
				out.Keys = append(out.Keys, r)
			}
		}
		for _, k := range cp.Deleted {
			if !seen[k] {
				seen[k] = true
				out.Deleted = append(out.Deleted, k)
			}
		}
		for _, r := range cp.Sites {
			if !sites[r.Site] {
				sites[r.Site] = true
				out.Sites = append(out.Sites, r)
			}
		}
	}
	return out
}

// checkpointWindow bounds the unacknowledged state writes in flight (the
// client stalls beyond its async publish limit).
const checkpointWindow = 512

func (s *StateStore) write(ctx context.Context, cp Checkpoint) error {
	var futures []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("checkpoint state: %w", err)
			case <-ctx.Done():
				return fmt.Errorf("checkpoint state: %w", ctx.Err())
			}
		}
		futures = futures[:0]
		return nil
	}
	put := func(key string, v any) error {
		if len(futures) >= checkpointWindow {
			if err := wait(); err != nil {
				return err
			}
		}
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode state %s: %w", key, err)
		}
		f, err := s.js.PublishAsync("$KV."+s.bucket+"."+key, data)
		if err != nil {
			return fmt.Errorf("put state %s: %w", key, err)
		}
		futures = append(futures, f)
		return nil
	}
	for _, r := range cp.Keys {
		if err := put(keyStoreKey(r.Rule, r.Site, r.Hash), r); err != nil {
			return err
		}
	}
	for _, r := range cp.Sites {
		if err := put(siteStoreKey(r.Site), r); err != nil {
			return err
		}
	}
	for _, k := range cp.Deleted {
		if len(futures) >= checkpointWindow {
			if err := wait(); err != nil {
				return err
			}
		}
		msg := nats.NewMsg("$KV." + s.bucket + "." + k)
		msg.Header.Set("KV-Operation", "DEL")
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("delete state %s: %w", k, err)
		}
		futures = append(futures, f)
	}
	return wait()
}

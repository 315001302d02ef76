package respond

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/event"
)

// DefaultPlannedCache is the default of Config.PlannedCache.
const DefaultPlannedCache = 50000

// Volatile incident fields: every alert that joins an incident moves some
// of them, and no plan depends on them unless a playbook expression reads
// them (see planInputs).
const (
	fieldVersion    = "version"
	fieldUpdatedAt  = "updated_at"
	fieldFirstSeen  = "first_seen"
	fieldLastSeen   = "last_seen"
	fieldAlertIDs   = "alert_ids"
	fieldAlertCount = "alert_count"
)

// volatileOrder lists them in the order inputs hashes them.
var volatileOrder = []string{fieldVersion, fieldUpdatedAt, fieldFirstSeen, fieldLastSeen, fieldAlertIDs, fieldAlertCount}

// planned remembers, per incident, the last version respond planned and
// the fingerprint of its plan inputs, so that a newer version that changes
// none of them is not planned, audited and executed again: its plans
// would be the ones already published, with a new version number.
//
// The plan inputs of an incident version are every field of the incident
// that a plan, its decisions, its approval requests or its executions can
// depend on: id, site, key, title, severity, status, opened_at, rule_ids,
// techniques, assets, zones, risk, source, target and maint_active (the
// playbooks' expressions, the constraint context and the executors read
// these), plus any of version, updated_at, first_seen, last_seen,
// alert_ids and alert_count that a playbook's applies_to or preconditions
// reads. A version whose plan inputs equal those of the last version
// planned is skipped (counted as unchanged): the plans of that version
// stay current (the console shows the latest plan per playbook, and its
// approval requests stay open, not superseded). Playbooks and site models
// are loaded once per process, so they cannot change under a fingerprint.
//
// The memory is a bounded cache (an arbitrary eighth is forgotten when it
// is full) and is lost on restart: a forgotten incident is planned again,
// which is always correct (plans and audit records of a version have
// deterministic ids). A version is remembered only after its message's
// effects are durable.
type planned struct {
	seed maphash.Seed
	// volatile are the volatile fields some playbook reads.
	volatile map[string]bool
	max      int
	mu       sync.Mutex
	last     map[string]plannedVersion
}

type plannedVersion struct {
	version uint64
	inputs  uint64
}

// newPlanned returns the memory of planned versions for the playbook set
// (size <= 0: DefaultPlannedCache).
func newPlanned(set *playbook.Set, size int) *planned {
	if size <= 0 {
		size = DefaultPlannedCache
	}
	p := &planned{seed: maphash.MakeSeed(), volatile: map[string]bool{}, max: size, last: map[string]plannedVersion{}}
	for _, f := range set.Fields() {
		if f == playbook.AllFields {
			for _, v := range volatileOrder {
				p.volatile[v] = true
			}
		} else if slices.Contains(volatileOrder, f) {
			p.volatile[f] = true
		}
	}
	return p
}

// inputs returns the fingerprint of inc's plan inputs (a 64-bit hash with
// a per-process seed: it is never stored).
func (p *planned) inputs(inc *event.Incident) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	str := func(s string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.WriteString(s)
	}
	num := func(v uint64) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	strs := func(l []string) {
		num(uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	flag := func(b bool) {
		if b {
			num(1)
		} else {
			num(0)
		}
	}
	stamp := func(t time.Time) { num(uint64(t.UnixNano())) }
	endpoint := func(e *event.Endpoint) {
		str(e.IP)
		flag(e.Known)
		str(e.AssetID)
		str(e.AssetName)
		str(e.Role)
		str(e.Zone)
		str(e.ZoneKind)
		num(uint64(int64(e.Purdue)))
		num(uint64(int64(e.SLT)))
		str(e.Criticality)
		flag(e.Safety)
	}
	str(inc.ID)
	str(inc.Site)
	str(inc.Key)
	str(inc.Title)
	str(inc.Severity)
	str(inc.Status)
	stamp(inc.OpenedAt)
	strs(inc.RuleIDs)
	strs(inc.Techniques)
	strs(inc.Assets)
	strs(inc.Zones)
	num(uint64(int64(inc.Risk)))
	endpoint(&inc.Source)
	endpoint(&inc.Target)
	flag(inc.MaintActive)
	// Volatile fields, when read: tagged so that two different sets
	// cannot hash alike.
	for _, f := range volatileOrder {
		if !p.volatile[f] {
			continue
		}
		str(f)
		switch f {
		case fieldVersion:
			num(inc.Version)
		case fieldUpdatedAt:
			stamp(inc.UpdatedAt)
		case fieldFirstSeen:
			stamp(inc.FirstSeen)
		case fieldLastSeen:
			stamp(inc.LastSeen)
		case fieldAlertIDs:
			strs(inc.AlertIDs)
		case fieldAlertCount:
			num(uint64(int64(inc.AlertCount)))
		}
	}
	return h.Sum64()
}

// unchanged reports whether inc is a newer version of an incident whose
// last planned version had the same plan inputs (fingerprint fp).
func (p *planned) unchanged(inc *event.Incident, fp uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, ok := p.last[inc.ID]
	return ok && inc.Version > last.version && fp == last.inputs
}

// remember records that version of incident id was planned with inputs
// fp (an older version than the one remembered changes nothing).
func (p *planned) remember(id string, version, fp uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.last[id]; ok {
		if last.version >= version {
			return
		}
	} else if len(p.last) >= p.max {
		drop := max(p.max/8, 1)
		for k := range p.last {
			if drop == 0 {
				break
			}
			delete(p.last, k)
			drop--
		}
	}
	p.last[id] = plannedVersion{version: version, inputs: fp}
}

// volatileRead returns the volatile fields the playbooks read, sorted (for
// logs and tests).
func (p *planned) volatileRead() []string {
	out := make([]string, 0, len(p.volatile))
	for f := range p.volatile {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

package correlate

import (
	"slices"
	"strings"

	"github.com/c981/c981/services/shared/event"
)

// The service decodes its input with event.UnmarshalEventsRawFields: every
// string of an event is a substring of its bus message, which is about
// 1.2 MB for 1000 events, and an event's Fields stay the message's bytes
// until a rule that reads them decodes them into a map (whose strings are
// substrings of the message too; see rule.Rule.ReadsFields). Whatever the
// engine keeps beyond the processing of a batch must therefore not be one
// of those substrings, or a key of a rule window (kept for hours) would
// keep a whole message alive, and the engine's state would depend on bytes
// the engine does not own. The rule:
// a string taken from an event is copied where it is kept.
//
//   - Window, sequence and absence state (windows): site names are
//     interned (windows.site) before they are used in any map key (storing
//     a map entry stores its key again, even when the entry exists);
//     readable keys, sequence event ids and maintenance targets are
//     cloned when stored; the event ids a threshold or distinct key
//     gathered during the batch (windows.fresh) and an absence key's
//     expected event (ownEvent) are copied when the batch ends
//     (windows.settle).
//   - Alerts: their event-derived strings are copied into the engine's
//     arena as the alerts are built (the matcher's Copy hook for incident
//     key, summary and fields; newAlert for the rest), so the memo kept
//     for a retry and the alerts returned do not point into the input.
//   - Incidents (kept in the incident cache and in tryAssign's entries):
//     key, target and source, assets and zones are cloned when set
//     (newIncident, mergeAlert, addSorted). Their other strings are the
//     rule's (title, severity, rule ids, techniques) or generated ids.
//   - Checkpoints are built from the window state (owned, see above);
//     an expected event still borrowed gets its Fields decoded in the
//     copy (keyState.clone).
//   - Dead letters and log records are encoded before the batch ends (a
//     dead-lettered event's Fields are decoded first: encoders write the
//     map, not the raw bytes).
//   - The rule package's in_cidr cache clones the CIDRs it keeps.
//
// TestSharedDecodeRetention proves it: it processes batches decoded from
// a buffer, overwrites the buffer, and finds the engine's state and
// outputs unchanged.

// copier copies strings into one allocation: a first pass adds up their
// sizes (n; reading only: writing a string back costs a write barrier
// while the collector runs), a second one copies them (copy) into a
// buffer of that size. The copies are substrings of the buffer's text,
// which is only ever appended to, so they never change (were n too small,
// the buffer would grow into a new one, and the earlier copies stay
// valid).
type copier struct {
	n int
	b strings.Builder
}

// alloc ends the first pass: the buffer holds all the strings counted.
func (c *copier) alloc() { c.b.Grow(c.n) }

// copy returns a copy of s in the buffer.
func (c *copier) copy(s string) string {
	if s == "" {
		return ""
	}
	c.b.WriteString(s)
	all := c.b.String()
	return all[len(all)-len(s):]
}

// endpointSize is the size of the strings endpointStrings visits.
func endpointSize(ep *event.Endpoint) int {
	return len(ep.IP) + len(ep.AssetID) + len(ep.AssetName) + len(ep.Role) + len(ep.Zone) + len(ep.ZoneKind) + len(ep.Criticality)
}

// endpointStrings replaces every string of ep by f of it.
func endpointStrings(ep *event.Endpoint, f func(string) string) {
	ep.IP = f(ep.IP)
	ep.AssetID = f(ep.AssetID)
	ep.AssetName = f(ep.AssetName)
	ep.Role = f(ep.Role)
	ep.Zone = f(ep.Zone)
	ep.ZoneKind = f(ep.ZoneKind)
	ep.Criticality = f(ep.Criticality)
}

// alertStrings replaces by f of it every string of a that can come from
// an event: the others are the rule's (rule id, title, severity,
// techniques), generated (id, incident id) or interned (site). (The
// tests walk alerts with it.)
func alertStrings(a *event.Alert, f func(string) string) {
	a.IncidentKey = f(a.IncidentKey)
	a.Summary = f(a.Summary)
	for i := range a.EventIDs {
		a.EventIDs[i] = f(a.EventIDs[i])
	}
	endpointStrings(&a.Src, f)
	endpointStrings(&a.Dst, f)
	for k, v := range a.Fields {
		a.Fields[k] = f(v)
	}
}

// arenaChunk is the size of an arena's blocks.
const arenaChunk = 16 << 10

// arena copies strings into blocks of arenaChunk bytes (a longer string
// gets a block of its own): one allocation for many alert strings, with
// no pass to add up their sizes first. A copy keeps its block alive, so
// only what is short-lived or published copies into the arena (alerts);
// what the state keeps is cloned one by one. Not safe for concurrent use
// (the engine's mu).
type arena struct {
	b strings.Builder
}

// copy returns a copy of s in the arena.
func (a *arena) copy(s string) string {
	if s == "" {
		return ""
	}
	if a.b.Cap()-a.b.Len() < len(s) {
		// A new block; the copies in the previous one stay valid.
		a.b = strings.Builder{}
		a.b.Grow(max(arenaChunk, len(s)))
	}
	a.b.WriteString(s)
	all := a.b.String()
	return all[len(all)-len(s):]
}

// endpoint returns a copy of ep whose strings are in the arena.
func (a *arena) endpoint(ep event.Endpoint) event.Endpoint {
	endpointStrings(&ep, a.copy)
	return ep
}

// ownEndpoint returns a copy of ep whose strings share one new allocation.
func ownEndpoint(ep event.Endpoint) event.Endpoint {
	c := copier{n: endpointSize(&ep)}
	if c.n == 0 {
		return ep
	}
	c.alloc()
	endpointStrings(&ep, c.copy)
	return ep
}

// eventStrings replaces every string of ev by f of it, including those of
// its slices (the caller makes them ev's own first) but not of its Fields
// map (see ownEvent).
func eventStrings(ev *event.Event, f func(string) string) {
	for _, p := range [...]*string{&ev.ID, &ev.Site, &ev.Source, &ev.Format, &ev.Transport, &ev.Peer, &ev.PeerIdentity,
		&ev.TimeRaw, &ev.Host, &ev.App, &ev.ProcID, &ev.MsgID, &ev.Message, &ev.Vendor, &ev.Product, &ev.SignatureID,
		&ev.Signature, &ev.EventCode, &ev.Kind, &ev.Category, &ev.Action, &ev.Outcome, &ev.User, &ev.SrcIP, &ev.DstIP,
		&ev.SrcMAC, &ev.DstMAC, &ev.Proto, &ev.AppProto, &ev.Session, &ev.Operation, &ev.Raw,
		&ev.Flow.Conduit, &ev.Flow.FlowID, &ev.Flow.Violation, &ev.Maint.WindowID, &ev.Maint.WorkOrder} {
		*p = f(*p)
	}
	for _, list := range [...][]string{ev.Techniques, ev.Maint.AllowedOps, ev.Maint.AllowedSources, ev.Maint.AllowedUsers} {
		for i := range list {
			list[i] = f(list[i])
		}
	}
	endpointStrings(&ev.Src, f)
	endpointStrings(&ev.Dst, f)
}

// ownEvent sets *dst to a copy of src without its raw text whose strings,
// slices and map are its own (the strings share one new allocation): an
// event kept beyond its batch (an absence key's expected event). When the
// service's decoder left src's Fields raw (event.UnmarshalEventsRawFields)
// and no rule needed them yet, the copy decodes them: a kept event has its
// map (a rule reloaded with the same fingerprint may read it, a
// checkpoint writes it) and nothing that points into the message. src is
// not modified.
func ownEvent(dst, src *event.Event) {
	*dst = *src
	dst.DecodeFields() // src's map, or a map of src's raw fields in the message
	fields := dst.Fields
	dst.Raw = ""
	dst.Techniques = slices.Clone(src.Techniques)
	dst.Maint.AllowedOps = slices.Clone(src.Maint.AllowedOps)
	dst.Maint.AllowedSources = slices.Clone(src.Maint.AllowedSources)
	dst.Maint.AllowedUsers = slices.Clone(src.Maint.AllowedUsers)
	dst.Fields = nil
	var c copier
	eventStrings(dst, func(s string) string { c.n += len(s); return s }) // dst's own
	for k, v := range fields {
		c.n += len(k) + len(v)
	}
	c.alloc()
	eventStrings(dst, c.copy)
	if fields != nil {
		dst.Fields = make(map[string]string, len(fields))
		for k, v := range fields {
			dst.Fields[c.copy(k)] = c.copy(v)
		}
	}
}

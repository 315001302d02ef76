// Package zone answers the enrich stage's questions about a site model: which
// asset and zone an address belongs to, whether a conduit allows a cross-zone
// communication, and whether a maintenance window covers a destination at a
// given time.
//
// An Index is built once from a validated *site.Model and is then read-only,
// so it is safe for concurrent use. Zone resolution is a longest-prefix match
// over the zone CIDRs (github.com/gaissmai/bart); asset resolution is an exact
// address match. Addresses outside every zone get the Unknown context (zone
// and role "unknown", Purdue -1, Known false) — the index never guesses.
package zone

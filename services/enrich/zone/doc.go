// Package zone answers the enrich stage's questions about a site model: which
// asset and zone an endpoint belongs to, whether a conduit allows a
// cross-zone communication, and which maintenance window covers it at the
// event's time.
//
// An Index is built once from a validated *site.Model and is then read-only,
// so it is safe for concurrent use; a Set holds the indexes of many sites and
// is replaced whole when the models are reloaded. Zone resolution is a
// longest-prefix match over the zone CIDRs (github.com/gaissmai/bart); asset
// resolution is an exact match of the address, else the MAC, else (for
// address-less events) the host name. Addresses outside every zone get the
// Unknown context (zone and role "unknown", Purdue -1, Known false) — the
// index never guesses. The lookup hot path (Resolve and an allowed Check)
// does not allocate, and it is laid out for inventories larger than the CPU
// caches: IPv4 assets live in a flat open-addressing table of 16-byte,
// pointer-free slots that hold everything an endpoint needs besides its
// shared context class (the asset's id and name are offsets into a
// per-site name arena), and the allowed flows are listed per (source zone,
// destination zone) index pair with what the verdict reads of them copied
// in. Set.EnrichBatch, the enrich stage's entry point, looks up the table
// slots of a chunk of events in one tight loop before it uses any of them,
// so that their cache misses overlap. Lookups by id, MAC and host name use
// compact hash indexes of asset positions. Pairs remembers endpoint pairs
// for event.Flow.NewPair.
// The Index accessors (Zones, Conduits, Assets, Windows, Asset, Response,
// Window) are the read API for the console and the respond stage.
package zone

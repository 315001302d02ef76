// Package audit keeps C-981's response audit trail: every decision of the
// constraint engine, every executed action and every approval is a Record
// (who, what, when, why, the constraint result and the hash of the
// inputs), hash-chained per site: hash = sha256(canonical JSON of the
// record without its hash || prev_hash). Verify reports the first broken
// link, so a modified, deleted or reordered record is detected.
//
// The chain is kept in the JetStream stream C981_AUDIT on subjects
// c981.audit.<site> (Log); ClickHouse storage is done later by the store.
package audit

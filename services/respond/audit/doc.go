// Package audit keeps C-981's response audit trail: every decision of the
// constraint engine, every executed action and every approval is a Record
// (who, what, when, why, the constraint result and the hash of the
// inputs), hash-chained per site: hash = sha256(canonical JSON of the
// record without its hash || prev_hash). Verify reports the first broken
// link, so a modified, deleted or reordered record is detected. The
// canonical JSON is what encoding/json writes for a Record; it is written
// without reflection (appendRecord, checked against json.Marshal by
// TestAppendRecord and FuzzAppendRecord), since every plan step appends a
// record.
//
// The chain is kept in the JetStream stream C981_AUDIT on subjects
// c981.audit.<site> (Log); ClickHouse storage is done later by the store.
package audit

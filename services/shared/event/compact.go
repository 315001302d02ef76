package event

import (
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"
)

//go:generate go run ./internal/compactgen

// The compact (positional) record encoding of Event batches.
//
// A batch of events is a MessagePack array of records. A record is either
//
//   - a map keyed by the json field names (Event.MarshalMsg, the form every
//     batch had before the compact form existed: the streams' replay log
//     still holds such messages), or
//   - a compact record: an array of the Event's fields in the order of
//     compactOrder, without names. Endpoint, Flow and Maint are arrays in
//     their own compactOrder too; Fields is a map (nil: MessagePack nil);
//     Techniques and the Maint lists are arrays; times are the UTC instant
//     as int64 Unix nanoseconds, or the msgp time extension (the map form's
//     encoding) for instants outside the int64 nanosecond range, such as
//     the zero time.
//
// Decoders tell the two apart by the record's first byte (a map or an
// array header) and decode either to the same Event: times in UTC without
// a monotonic reading, an empty list as nil, an empty Fields as an empty
// map. AppendEvents, MarshalEvents, Marshal([]Event) and EventBatch write
// compact records; Event.MarshalMsg and the other record types keep the
// map form.
//
// The encoder and decoders are generated from the struct definitions in
// event.go and compactOrder by internal/compactgen (`go generate ./event`),
// which refuses a struct field compactOrder does not place;
// TestCompactOrderCoversFields and TestCompactGenUpToDate fail when a
// field is missing or the generated code is stale.

// compactOrder is the field order of the compact records of Event and of
// the structs it embeds, by Go field name.
//
// Schema evolution rule: the order is append-only. A new field is added at
// the end of its type's list; a field is never removed, reordered or
// retyped (a field no longer used stays, and is written as its zero
// value). A decoder fills the fields a shorter (older) record lacks with
// zero values and skips the extra trailing values of a longer (newer)
// record, so readers and writers of different versions interoperate.
var compactOrder = map[string][]string{
	"Event": {
		"ID", "Time", "ReceivedAt", "Site", "Source", "Format", "Transport", "Peer", "PeerIdentity", "TimeRaw", // 0-9
		"Host", "App", "ProcID", "MsgID", "Facility", "Severity", "Message", "Vendor", "Product", "SignatureID", // 10-19
		"Signature", "EventCode", "Techniques", "Kind", "Category", "Action", "Outcome", "User", "SrcIP", "DstIP", // 20-29
		"SrcMAC", "DstMAC", "SrcPort", "DstPort", "Proto", "AppProto", "BytesOut", "BytesIn", "Session", "Operation", // 30-39
		"Fields", "Raw", "Src", "Dst", "Flow", "Maint", "ModelVersion", // 40-46
	},
	"Endpoint": {
		"IP", "Known", "AssetID", "AssetName", "Role", "Zone", "ZoneKind", "Purdue", "SLT", "Criticality", "Safety",
	},
	"Flow": {
		"CrossZone", "Allowed", "Conduit", "FlowID", "Violation", "NewPair", "PurdueDelta", "SafetyInvolved",
	},
	"Maint": {
		"Active", "WindowID", "AllowedOps", "WorkOrder", "AllowedSources", "AllowedUsers",
	},
}

// compactLimit bounds the elements of a list or map in a compact record,
// like the msgp:limit of the map form (event.go): no legitimate list in an
// 8 MiB message has 2^18 elements.
const compactLimit = 262144

// isCompactRecord reports whether the record b starts with is a compact
// one (a MessagePack array) rather than a map-form one.
func isCompactRecord(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[0]
	return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd
}

// unmarshalRecord decodes one record of an event batch, compact or map
// form, into z.
func (z *Event) unmarshalRecord(bts []byte) ([]byte, error) {
	if isCompactRecord(bts) {
		return z.unmarshalCompact(bts)
	}
	return z.UnmarshalMsg(bts)
}

// unmarshalRecordShared is unmarshalRecord with the strings taken from d
// (see UnmarshalEventsShared).
func (z *Event) unmarshalRecordShared(bts []byte, d *sharedText) ([]byte, error) {
	if isCompactRecord(bts) {
		return z.unmarshalCompactShared(bts, d)
	}
	*z = Event{} // unmarshalShared sets only the fields the record has
	return z.unmarshalShared(bts, d)
}

// The int64 Unix-nanosecond range in whole seconds: an instant whose
// seconds lie in [minNanoSec, maxNanoSec] has a UnixNano that fits.
const (
	minNanoSec = -9223372036
	maxNanoSec = 9223372035
)

// appendStr appends s as a MessagePack string: msgp.AppendString, byte
// for byte, without its general work for the short strings (at most 31
// bytes: a one-byte header) most values of an event record are, which
// take two appends. A record has some 80 strings (many empty): this
// was the largest cost of encoding an event batch.
func appendStr(o []byte, s string) []byte {
	if len(s) <= 31 {
		return append(append(o, 0xa0|byte(len(s))), s...)
	}
	return msgp.AppendString(o, s)
}

// appendCompactTime appends t as its UTC instant: int64 Unix nanoseconds
// when they fit (9 bytes), else the msgp time extension (15 bytes, as in
// the map form). The zone and the monotonic reading are dropped, as the
// map form drops them.
func appendCompactTime(b []byte, t time.Time) []byte {
	if sec := t.Unix(); sec >= minNanoSec && sec <= maxNanoSec {
		return msgp.AppendInt64(b, sec*1e9+int64(t.Nanosecond()))
	}
	return msgp.AppendTime(b, t)
}

// readCompactTime reads a time written by appendCompactTime (an integer
// or a time extension) as a UTC time, the value the map form decodes to.
func readCompactTime(b []byte) (time.Time, []byte, error) {
	if len(b) > 0 {
		switch b[0] {
		case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // extensions
			return msgp.ReadTimeUTCBytes(b)
		}
	}
	ns, o, err := msgp.ReadInt64Bytes(b)
	if err != nil {
		return time.Time{}, o, err
	}
	return time.Unix(0, ns).UTC(), o, nil
}

// MarshalMsg appends the bus encoding of the batch (compact records, see
// AppendEvents) to b. It implements msgp.Marshaler.
func (z EventBatch) MarshalMsg(b []byte) ([]byte, error) {
	return AppendEvents(msgp.Require(b, z.Msgsize()), z)
}

// Msgsize returns an upper bound of the bytes MarshalMsg appends. It
// implements msgp.Sizer.
func (z EventBatch) Msgsize() int {
	s := msgp.ArrayHeaderSize
	for i := range z {
		s += z[i].sizeCompact()
	}
	return s
}

// UnmarshalMsg decodes a batch of events, compact or map-form records (or
// both), into z, reusing its storage; every event is decoded into a zero
// Event. It implements msgp.Unmarshaler.
func (z *EventBatch) UnmarshalMsg(bts []byte) ([]byte, error) {
	n, _, err := msgp.ReadArrayHeaderBytes(bts)
	if err != nil {
		return bts, fmt.Errorf("decode event batch: %w", err)
	}
	if n > compactLimit {
		return bts, fmt.Errorf("decode event batch: %d events: %w", n, msgp.ErrLimitExceeded)
	}
	o, err := unmarshalBatchWith(bts, (*[]Event)(z), (*Event).unmarshalRecord)
	if err != nil {
		return o, fmt.Errorf("decode event batch: %w", err)
	}
	return o, nil
}

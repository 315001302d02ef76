package chstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/event"
)

// EventRange selects stored events for ReadEvents.
type EventRange struct {
	// Site restricts to one site ("" = every site).
	Site string
	// From and To select event times in [From, To) (to the millisecond).
	From, To time.Time
	// PageSize is the number of events read per query and per call of the
	// callback (default 10,000).
	PageSize int
}

// DefaultReadPage is EventRange.PageSize when unset.
const DefaultReadPage = 10_000

// readEventsSQL reads EventColumns (in that order) of one page, except
// StoredMSColumn, which is the store's bookkeeping and not part of the
// event, with the fields.key and fields.value arrays after
// FieldsJSONColumn (the fields of the rows stored before migration 0009).
var readEventsSQL = func() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range EventColumns {
		if c == StoredMSColumn {
			continue
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if c == "id" {
			b.WriteString("toString(id)")
			continue
		}
		b.WriteString(quoteIdent(c))
		if c == FieldsJSONColumn {
			b.WriteString(", `fields.key`, `fields.value`")
		}
	}
	b.WriteString(" FROM events WHERE time >= toDateTime(?) AND time <= toDateTime(?)" +
		" AND toInt64(time) * 1000 + time_ms >= ? AND toInt64(time) * 1000 + time_ms < ?" +
		" AND (? = '' OR site = ?)" +
		" AND (toInt64(time) * 1000 + time_ms > ? OR (toInt64(time) * 1000 + time_ms = ? AND toString(id) > ?))" +
		" ORDER BY time, time_ms, toString(id) LIMIT 1 BY id LIMIT ?")
	return b.String()
}()

// ReadEvents reads the stored events of r in event-time order (then id),
// one page at a time, and calls fn with each page; it returns the number of
// events read. An event stored twice (a batch re-inserted after a crash,
// not merged yet) is read once. Columns the events table does not keep
// (none of the enrichment the rules read, since migration 0002) come back
// empty; Src.IP and Dst.IP are the event's SrcIP and DstIP. An error from fn
// stops the reading and is returned.
func ReadEvents(ctx context.Context, conn driver.Conn, r EventRange, fn func([]event.Event) error) (int, error) {
	if r.From.IsZero() || r.To.IsZero() || !r.From.Before(r.To) {
		return 0, errors.New("read events: want From before To")
	}
	page := r.PageSize
	if page <= 0 {
		page = DefaultReadPage
	}
	fromMs, toMs := r.From.UnixMilli(), r.To.UnixMilli()
	afterMs, afterID := fromMs-1, ""
	total := 0
	for {
		rows, err := conn.Query(ctx, readEventsSQL, r.From.Unix(), r.To.Unix(), fromMs, toMs, r.Site, r.Site, afterMs, afterMs, afterID, page)
		if err != nil {
			return total, fmt.Errorf("read events: %w", err)
		}
		evs := make([]event.Event, 0, page)
		for rows.Next() {
			e, err := scanEventRow(rows)
			if err != nil {
				rows.Close()
				return total, fmt.Errorf("read events: scan: %w", err)
			}
			evs = append(evs, e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return total, fmt.Errorf("read events: %w", err)
		}
		if len(evs) == 0 {
			return total, nil
		}
		total += len(evs)
		last := evs[len(evs)-1]
		afterMs, afterID = last.Time.UnixMilli(), last.ID
		if err := fn(evs); err != nil {
			return total, err
		}
		if len(evs) < page {
			return total, nil
		}
	}
}

// scanEventRow is the inverse of EventRow.
func scanEventRow(rows driver.Rows) (event.Event, error) {
	var (
		e                                         event.Event
		t, rt                                     time.Time
		tms, rms, srcPort, dstPort                uint16
		facility, severity                        int8
		fieldsJSON                                string
		keys, vals                                []string
		srcKnown, srcSafety, dstKnown, dstSafety  uint8
		crossZone, allowed, maintActive           uint8
		newPair, safetyInvolved, dstSLT, srcSLT   uint8
		srcPurdue, dstPurdue, purdueDelta         float32
		modelVersion                              uint32
		bytesOut, bytesIn                         uint64
		techniques, allowedOps, allowedSrc, users []string
	)
	err := rows.Scan(
		&e.ID, &e.Site, &t, &tms, &rt, &rms,
		&e.Source, &e.Format, &e.Transport, &e.Peer, &e.Host, &e.App, &e.ProcID, &e.MsgID,
		&facility, &severity, &e.Message, &e.Kind, &e.Category, &e.Action, &e.Outcome, &e.User,
		&e.SrcIP, &e.DstIP, &srcPort, &dstPort, &e.Proto, &e.AppProto, &e.Operation,
		&fieldsJSON, &keys, &vals, &e.Raw,
		&srcKnown, &e.Src.AssetID, &e.Src.Role, &e.Src.Zone, &e.Src.ZoneKind, &srcPurdue, &srcSafety,
		&dstKnown, &e.Dst.AssetID, &e.Dst.Role, &e.Dst.Zone, &e.Dst.ZoneKind, &dstPurdue, &dstSLT, &e.Dst.Criticality, &dstSafety,
		&crossZone, &allowed, &e.Flow.Conduit, &e.Flow.Violation,
		&maintActive, &e.Maint.WindowID, &modelVersion,
		&e.PeerIdentity, &e.TimeRaw, &e.Vendor, &e.Product, &e.SignatureID, &e.Signature, &e.EventCode, &techniques,
		&e.SrcMAC, &e.DstMAC, &bytesOut, &bytesIn, &e.Session,
		&newPair, &purdueDelta, &safetyInvolved, &e.Maint.WorkOrder,
		&e.Src.AssetName, &srcSLT, &e.Src.Criticality, &e.Dst.AssetName, &e.Flow.FlowID,
		&allowedOps, &allowedSrc, &users,
	)
	if err != nil {
		return e, err
	}
	e.Time = t.UTC().Add(time.Duration(tms) * time.Millisecond)
	e.ReceivedAt = rt.UTC().Add(time.Duration(rms) * time.Millisecond)
	e.Facility, e.Severity = int(facility), int(severity)
	e.SrcPort, e.DstPort = int(srcPort), int(dstPort)
	if e.Fields, err = DecodeStoredFields(fieldsJSON, keys, vals); err != nil {
		return e, fmt.Errorf("event %s: %w", e.ID, err)
	}
	e.Src.IP, e.Src.Known, e.Src.Purdue, e.Src.Safety, e.Src.SLT = e.SrcIP, srcKnown == 1, float64(srcPurdue), srcSafety == 1, int(srcSLT)
	e.Dst.IP, e.Dst.Known, e.Dst.Purdue, e.Dst.Safety, e.Dst.SLT = e.DstIP, dstKnown == 1, float64(dstPurdue), dstSafety == 1, int(dstSLT)
	e.Flow.CrossZone, e.Flow.Allowed, e.Flow.NewPair, e.Flow.SafetyInvolved = crossZone == 1, allowed == 1, newPair == 1, safetyInvolved == 1
	e.Flow.PurdueDelta = float64(purdueDelta)
	e.Maint.Active = maintActive == 1
	e.ModelVersion = int(modelVersion)
	e.BytesOut, e.BytesIn = int64(bytesOut), int64(bytesIn)
	e.Techniques = nilIfEmpty(techniques)
	e.Maint.AllowedOps, e.Maint.AllowedSources, e.Maint.AllowedUsers = nilIfEmpty(allowedOps), nilIfEmpty(allowedSrc), nilIfEmpty(users)
	return e, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

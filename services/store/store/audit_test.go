package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// createAuditStream creates C981_AUDIT as respond's audit.OpenLog does (the
// store module does not depend on respond; services/c981/cli tests the two
// together).
func createAuditStream(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	_, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: AuditStream, Subjects: []string{"c981.audit.>"}, Storage: jetstream.FileStorage,
		DenyDelete: true, DenyPurge: true, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// auditRecords returns n linked records of site (hashes are well-formed but
// not recomputed: the store does not verify the chain).
func auditRecords(site string, n int) []chstore.AuditRecord {
	prev := strings.Repeat("0", 64)
	out := make([]chstore.AuditRecord, n)
	for i := range out {
		h := sha256.Sum256([]byte(site + strconv.Itoa(i)))
		out[i] = chstore.AuditRecord{
			ID: event.NewID("audit-test", site, strconv.Itoa(i)), Site: site, Seq: uint64(i + 1),
			Time:  time.Date(2026, 11, 26, 10, 0, i, 987654321, time.UTC),
			Actor: "c981/respond", Kind: "decision", What: fmt.Sprintf("pb/s%d (notify)", i), Result: "automatic",
			InputsHash: hex.EncodeToString(h[:]), PrevHash: prev, Hash: hex.EncodeToString(h[:]),
		}
		prev = out[i].Hash
	}
	return out
}

func publishAudit(t *testing.T, js jetstream.JetStream, r chstore.AuditRecord) {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "c981.audit."+r.Site, data, jetstream.WithMsgID("audit/"+r.ID)); err != nil {
		t.Fatal(err)
	}
}

func auditAckPending(t *testing.T, js jetstream.JetStream) (pending, ackPending uint64) {
	t.Helper()
	c, err := js.Consumer(context.Background(), AuditStream, ConsumerStoreAudit)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 1, 0 // not created yet
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending, uint64(info.NumAckPending)
}

// TestAuditStored starts the store before respond created C981_AUDIT (the
// other tables are stored meanwhile), then publishes audit records, crashes
// the store between insert and acknowledgement and restarts it: every
// record is stored exactly once, exactly as published, and an invalid
// record is dead-lettered without holding up its neighbours.
func TestAuditStored(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.addr)
	crash := errors.New("simulated crash after audit insert")
	var audits atomic.Int32
	r := e.start(t, cfg, nil, nil, func(table string) error {
		if table == chstore.TableAudit && audits.Add(1) == 1 {
			return crash
		}
		return nil
	})

	// Without the audit stream the other writers run.
	publish(t, e.bus.JS, "c981.events."+site, "ev-1", demoEvents(0, 5))
	eventually(t, 20*time.Second, func() (bool, string) {
		var n uint64
		if err := e.conn.QueryRow(context.Background(), "SELECT count() FROM events FINAL").Scan(&n); err != nil {
			return false, err.Error() // not migrated yet
		}
		return n == 5, fmt.Sprintf("%d events stored", n)
	})

	createAuditStream(t, e.bus.JS)
	recs := auditRecords(site, 20)
	for _, rec := range recs {
		publishAudit(t, e.bus.JS, rec)
	}
	bad := recs[0]
	bad.ID, bad.Seq = event.NewID("bad"), 0
	publishAudit(t, e.bus.JS, bad)
	if err := publishRawAudit(e.bus.JS, []byte("{not json")); err != nil {
		t.Fatal(err)
	}

	select {
	case err := <-r.done:
		close(r.done)
		if !errors.Is(err, crash) {
			t.Fatalf("Run = %v; want the simulated crash", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not crash")
	}
	if _, ap := auditAckPending(t, e.bus.JS); ap == 0 {
		t.Fatal("no audit message left unacknowledged by the crash")
	}
	if n := e.count(t, "SELECT count() FROM audit"); n == 0 {
		t.Fatal("the crash happened before any audit row was inserted")
	}

	r2 := e.start(t, cfg, nil, nil, nil)
	eventually(t, 30*time.Second, func() (bool, string) {
		p, ap := auditAckPending(t, e.bus.JS)
		return p == 0 && ap == 0, fmt.Sprintf("%d undelivered, %d unacknowledged audit messages", p, ap)
	})
	if got := e.count(t, "SELECT count() FROM audit FINAL"); got != uint64(len(recs)) {
		t.Errorf("count() FINAL = %d; want %d", got, len(recs))
	}
	if got := e.count(t, "SELECT uniqExact(site, seq) FROM audit"); got != uint64(len(recs)) {
		t.Errorf("uniqExact(site, seq) = %d; want %d", got, len(recs))
	}
	if got := counter(r2.svc.m.messages.WithLabelValues(chstore.TableAudit)); got == 0 {
		t.Error("no audit message counted after the restart")
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM dead_letters FINAL WHERE stage = 'store' AND reason LIKE '%audit%'")
		return n == 2, fmt.Sprintf("%d audit dead letters; want 2 (invalid record, undecodable message)", n)
	})

	if err := e.conn.Exec(context.Background(), "OPTIMIZE TABLE audit FINAL"); err != nil {
		t.Fatal(err)
	}
	got, err := chstore.ReadAudit(context.Background(), e.conn, site)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("ReadAudit: %d rows; want %d", len(got), len(recs))
	}
	for i := range recs {
		a, _ := json.Marshal(got[i])
		b, _ := json.Marshal(recs[i])
		if string(a) != string(b) {
			t.Errorf("record %d stored as\n%s\nwant\n%s", i+1, a, b)
		}
	}
}

func publishRawAudit(js jetstream.JetStream, data []byte) error {
	_, err := js.Publish(context.Background(), "c981.audit."+site, data, jetstream.WithMsgID("audit/raw"))
	return err
}

// FuzzDecodeAudit: any message decodes to an error or to exactly one record
// that either has a full row or an ErrInvalidRow, never a panic.
func FuzzDecodeAudit(f *testing.F) {
	for _, r := range auditRecords(site, 2) {
		data, _ := json.Marshal(r)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"x","seq":0}`))
	f.Add([]byte(`{"time":"1969-01-01T00:00:00Z"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeAudit(data)
		if err != nil {
			if recs != nil {
				t.Fatalf("records with a decode error: %v", err)
			}
			return
		}
		if len(recs) != 1 {
			t.Fatalf("%d records; want 1", len(recs))
		}
		r := recs[0]
		switch {
		case r.err != nil && (!errors.Is(r.err, chstore.ErrInvalidRow) || r.rows != nil):
			t.Fatalf("err %v with %d rows", r.err, len(r.rows))
		case r.err == nil && (len(r.rows) != 1 || len(r.rows[0]) != len(chstore.AuditColumns)):
			t.Fatalf("valid record with rows %v", r.rows)
		}
	})
}

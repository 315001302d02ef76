package correlate

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/c981/c981/services/correlate/rule"
)

// FuzzReadEvents feeds arbitrary JSON lines to the fixture event reader
// and the events it accepts through the whole rule pack: neither may crash.
func FuzzReadEvents(f *testing.F) {
	for _, id := range []string{"OT-009", "OT-013", "OT-015"} {
		data, err := os.ReadFile(packDir + "/testdata/" + id + "/events.jsonl")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"id":"x","site":"s","time":"2026-11-26T10:00:00Z","kind":"flow","dst":{"role":"plc","purdue":1}}`))
	f.Add([]byte("{}\n{\"id\":1}\n"))
	set, err := rule.LoadDir(packDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ReadEvents("fuzz.jsonl", bytes.NewReader(data))
		if err != nil {
			return
		}
		e := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		for i := range evs {
			if _, _, err := e.ProcessAt(context.Background(), uint64(i+1), evs[i:i+1]); err != nil {
				t.Fatalf("process: %v", err)
			}
		}
	})
}

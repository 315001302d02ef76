package console_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

// BenchmarkStreamFanOut measures the live update stream's dispatch: decode
// one bus message of 10 incidents, encode each once as JSON and queue it
// to 100 clients; events/s counts queued client updates.
func BenchmarkStreamFanOut(b *testing.B) {
	const clients, perMsg = 100, 10
	cfg := console.Config{Addr: "127.0.0.1:0", ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}}}
	svc, err := console.New(cfg, console.Deps{Conn: fixture.Open(b), Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	var (
		incs []event.Incident
		data []byte
	)
	for i := range perMsg {
		inc := incidentOf(fixture.Site, string(rune('a'+i)))
		inc.Zones, inc.Assets, inc.RuleIDs = []string{"demo-plant/control", "demo-plant/safety"}, []string{"demo-plant/plc-101"}, []string{"r1", "r2"}
		incs = append(incs, inc)
	}
	data, err = event.Marshal(incs)
	if err != nil {
		b.Fatal(err)
	}
	msg := nats.NewMsg(bus.IncidentsSubject(fixture.Site))
	msg.Data = data
	console.StreamFanOut(b, svc, clients, msg)
	b.ReportMetric(float64(b.N)*clients*perMsg/b.Elapsed().Seconds(), "events/s")
}

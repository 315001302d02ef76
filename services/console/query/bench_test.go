package query_test

import (
	"context"
	"testing"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
)

// BenchmarkListIncidents lists the first page (50) of 2000 incidents stored
// in two versions each; rows/s counts listed incidents.
func BenchmarkListIncidents(b *testing.B) {
	conn := fixture.Open(b)
	ctx := context.Background()
	if err := fixture.Load(ctx, conn, fixture.Dataset{Incidents: fixture.Bulk(fixture.Site, 2000)}); err != nil {
		b.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		filter query.Filter
	}{
		{"first page", query.Filter{Site: fixture.Site}},
		{"filtered", query.Filter{Site: fixture.Site, Severity: "high", Status: []string{"investigating"}, Text: "incident 1"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				page, _, err := db.ListIncidents(ctx, bc.filter)
				if err != nil {
					b.Fatal(err)
				}
				rows += len(page)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkGetIncident reads the demo SIS incident with its alerts, events
// and plans.
func BenchmarkGetIncident(b *testing.B) {
	conn := fixture.Open(b)
	ctx := context.Background()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		b.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.GetIncident(ctx, fixture.IncidentSIS); err != nil {
			b.Fatal(err)
		}
	}
}

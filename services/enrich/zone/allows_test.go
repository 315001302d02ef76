package zone

import (
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// TestAllowsAgrees checks the hot path's flow matcher (allows) against
// evalFlow, which also explains violations: for every flow of the demo
// plant and a generated site, every pair of endpoints in its zones (each
// inventoried asset and an uninventoried address) and communications that
// vary transport, port, protocol, operation, time and user, they must
// agree on whether the flow allows it.
func TestAllowsAgrees(t *testing.T) {
	s := batchSet(t)
	times := []time.Time{demoNow, time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 6, 30, 0, 0, time.UTC)}
	checked, allowed := 0, 0
	for _, id := range s.Sites() {
		ix, _ := s.Index(id)
		// The endpoints of each zone: its assets and an address that is
		// not an asset's.
		eps := make([][]event.Endpoint, ix.nzones)
		for i := range ix.model.Assets {
			a := &ix.model.Assets[i]
			if len(a.IPs) == 0 {
				continue
			}
			var ep event.Endpoint
			r := ix.resolve(&ep, a.IPs[0], "", "")
			if r.zone >= 0 && len(eps[r.zone]) < 6 {
				eps[r.zone] = append(eps[r.zone], ep)
			}
		}
		for zi, z := range ix.model.Zones {
			eps[zi] = append(eps[zi], event.Endpoint{Role: UnknownRole, Zone: z.ID, ZoneKind: z.Kind, Purdue: *z.PurdueLevel})
		}
		for k, ds := range ix.dir {
			for i := range ds {
				d := &ds[i]
				si, di := k/ix.nzones, k%ix.nzones
				var conns []Conn
				ops := append([]string{"", "bogus"}, d.allow...)
				ops = append(ops, d.requireMW...)
				ports := append([]int{0, 1}, d.ports...)
				for _, proto := range []string{"", d.transport, strings.ToUpper(d.transport), "udp"} {
					for _, port := range ports {
						for _, app := range []string{"", d.protocol, strings.ToUpper(d.protocol), "other"} {
							for _, op := range ops {
								conns = append(conns, Conn{Proto: proto, Port: port, AppProto: app, Operation: op, Time: times[len(conns)%len(times)], User: []string{"", "alice"}[len(conns)%2]})
							}
						}
					}
				}
				for _, src := range eps[si] {
					for _, dst := range eps[di] {
						sr, dr := ix.refOf(&src), ix.refOf(&dst)
						for _, c := range conns {
							want := ix.evalFlow(d.cd.c, d.cf, &src, &dst, sr, dr, &c).stage == stageAllowed
							if got := ix.allows(d, &src, &dst, sr, dr, &c); got != want {
								t.Fatalf("site %s flow %s/%s: allows = %v, evalFlow %v for %+v -> %+v, %+v", id, d.conduit, d.id, got, want, src, dst, c)
							}
							checked++
							if want {
								allowed++
							}
						}
					}
				}
			}
		}
	}
	if allowed == 0 || allowed == checked {
		t.Fatalf("%d of %d cases allowed: the cases do not cover both outcomes", allowed, checked)
	}
	t.Logf("%d cases, %d allowed", checked, allowed)
}

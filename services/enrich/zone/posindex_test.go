package zone

import (
	"strings"
	"testing"

	"github.com/c981/c981/services/shared/site"
)

// TestAssetIndexes looks every asset of the demo plant and a generated
// site up by id, each MAC (in other forms) and each host name (in upper
// case), and keys that are no asset's.
func TestAssetIndexes(t *testing.T) {
	s := batchSet(t)
	n := 0
	for _, id := range s.Sites() {
		ix, _ := s.Index(id)
		for i := range ix.model.Assets {
			a := &ix.model.Assets[i]
			if got, ok := ix.Asset(a.ID); !ok || got != a {
				t.Fatalf("Asset(%q) = %v, %v", a.ID, got, ok)
			}
			for _, mac := range a.MACs {
				for _, form := range []string{mac, strings.ToUpper(mac), strings.ReplaceAll(mac, ":", "-")} {
					if got, ok := ix.AssetByMAC(form); !ok || got != a {
						t.Fatalf("AssetByMAC(%q) = %v, %v; want %s", form, got, ok, a.ID)
					}
				}
			}
			hosts := a.Hostnames
			if a.Hostname != "" {
				hosts = append([]string{a.Hostname}, hosts...)
			}
			for _, h := range hosts {
				for _, form := range []string{h, strings.ToUpper(h), strings.ToLower(h)} {
					if got, ok := ix.AssetByHostname(form); !ok || got != a {
						t.Fatalf("AssetByHostname(%q) = %v, %v; want %s", form, got, ok, a.ID)
					}
				}
				n++
			}
		}
		for _, key := range []string{"", "nope", id + "/nope", "gen-000-a-999999"} {
			if a, ok := ix.Asset(key); ok {
				t.Errorf("Asset(%q) = %s", key, a.ID)
			}
			if a, ok := ix.AssetByHostname(key); ok {
				t.Errorf("AssetByHostname(%q) = %s", key, a.ID)
			}
		}
		if a, ok := ix.AssetByMAC("02:ff:ff:ff:ff:ff"); ok {
			t.Errorf("AssetByMAC of no asset = %s", a.ID)
		}
	}
	if n < 1000 {
		t.Fatalf("only %d host names looked up", n)
	}
}

// TestResolveByNameAllocs checks that resolving by MAC and lower-case host
// name does not allocate.
func TestResolveByNameAllocs(t *testing.T) {
	s := batchSet(t)
	ix, _ := s.Index("gen-000")
	if ep := ix.Resolve("", "02:00:03:00:00:00", ""); !ep.Known {
		t.Fatalf("by MAC: %+v", ep)
	}
	if ep := ix.Resolve("", "", "gen-000-a-3"); !ep.Known {
		t.Fatalf("by host: %+v", ep)
	}
	if n := testing.AllocsPerRun(100, func() {
		ix.Resolve("", "02:00:03:00:00:00", "")
		ix.Resolve("", "", "gen-000-a-3")
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestNameArena checks ids and names in the arena and beyond it.
func TestNameArena(t *testing.T) {
	long := strings.Repeat("x", maxArenaLen+1)
	assets := []site.Asset{
		{ID: "s/a", IPs: []string{"10.0.0.1"}},
		{ID: "s/b", Name: "Bee", IPs: []string{"10.0.0.2"}},
		{ID: "s/" + long, Name: "Long", IPs: []string{"10.0.0.3"}},
		{ID: "s/c", Name: long, IPs: []string{"10.0.0.4"}},
		{ID: "s/d", Name: "s/d", IPs: []string{"10.0.0.5"}},
	}
	a := newNameArena(assets)
	refs := make([]nameRef, len(assets))
	for i := range assets {
		refs[i] = a.add(assets[i].ID, assets[i].Name)
	}
	ix := &Index{}
	ix.names, ix.long = a.done()
	for i := range assets {
		id, name := ix.slotNames(refs[i])
		if id != assets[i].ID || name != assetName(&assets[i]) {
			t.Errorf("asset %d: %q, %q", i, id[:min(len(id), 10)], name[:min(len(name), 10)])
		}
	}
	if len(ix.long) != 2 {
		t.Errorf("%d names beyond the arena, want 2", len(ix.long))
	}
}

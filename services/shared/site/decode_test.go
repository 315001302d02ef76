package site

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/c981/c981/services/shared/config"
)

// decodersAgree fails t when parse would use the fast decoder's model (it
// decodes and validates) but the shared config decoder rejects data or
// yields a different model.
func decodersAgree(t *testing.T, data []byte) {
	t.Helper()
	var fast Model
	if !fastDecode(data, &fast) || fast.Validate() != nil {
		return // parse falls back to config.DecodeYAML
	}
	var ref Model
	if err := config.DecodeYAML("x.yaml", data, &ref); err != nil {
		t.Fatalf("the fast decoder accepts what config.DecodeYAML rejects: %v", err)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("decoders disagree:\nfast   %+v\nconfig %+v", fast, ref)
	}
}

func decoderSeeds(tb testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, pat := range []string{"testdata/*.yaml", "testdata/bad/*.yaml", "testdata/csv/*.yaml", "../../../deploy/demo/*.yaml"} {
		files, err := filepath.Glob(pat)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			seeds[p] = b
		}
	}
	for _, c := range splitAssetsCases {
		seeds["splitAssets/"+c.name] = []byte(splitAssetsHead + c.assets)
	}
	return seeds
}

// TestDecodersAgree checks decode's fast path against the shared config
// decoder on every model in testdata and the demo plant.
func TestDecodersAgree(t *testing.T) {
	seeds := decoderSeeds(t)
	if len(seeds) < 10 {
		t.Fatalf("only %d seed files", len(seeds))
	}
	for name, data := range seeds {
		t.Run(name, func(t *testing.T) { decodersAgree(t, data) })
	}
	// The good models must take the fast path.
	for _, name := range []string{"testdata/good.yaml", "../../../deploy/demo/site.yaml"} {
		var m Model
		if !fastDecode(seeds[name], &m) {
			t.Errorf("%s does not take the fast path", name)
		}
	}
}

// FuzzDecoders is TestDecodersAgree on arbitrary input.
func FuzzDecoders(f *testing.F) {
	for _, data := range decoderSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(decodersAgree)
}

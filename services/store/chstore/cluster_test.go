package chstore

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// clusterFile is the generated cluster variant checked into deploy/.
const clusterFile = "../../../deploy/clickhouse/cluster.sql"

// DefaultCluster is what deploy/clickhouse/cluster.sql is generated for.
var defaultCluster = ClusterConfig{Cluster: "c981", Database: "c981"}

// TestClusterDDLUpToDate regenerates deploy/clickhouse/cluster.sql from the
// migrations and compares (go test -update rewrites it), and checks that
// every table of the migrations has a replicated and a Distributed table.
func TestClusterDDLUpToDate(t *testing.T) {
	migs, err := LoadMigrations(migrationsFS())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ClusterDDL(migs, defaultCluster)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(clusterFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(clusterFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(clusterFile)
	if err != nil {
		t.Fatalf("%v (run go test ./chstore -run ClusterDDL -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s is stale: regenerate it with `go test ./chstore -run ClusterDDLUpToDate -update` or `c981 clusterddl`", clusterFile)
	}
	tables := ClusterTables(migs)
	for _, want := range Tables {
		found := false
		for _, tb := range tables {
			found = found || tb == want
		}
		if !found {
			t.Errorf("table %s is not created by any migration", want)
		}
	}
	for _, tb := range tables {
		local := regexp.MustCompile(`CREATE TABLE IF NOT EXISTS ` + tb + `_local ON CLUSTER c981 \(.*?\) ENGINE = Replicated[A-Za-z]*MergeTree\('/clickhouse/tables/\{shard\}/c981/` + tb + `_local', '\{replica\}'`)
		dist := regexp.MustCompile(`CREATE TABLE IF NOT EXISTS ` + tb + ` ON CLUSTER c981 AS ` + tb + `_local\nENGINE = Distributed\(c981, c981, ` + tb + `_local, cityHash64\((toString\([a-z_]+\)|[a-z_]+(, [a-z_]+)*)\)\);`)
		s := string(want)
		if !local.MatchString(strings.ReplaceAll(s, "\n", " ")) {
			t.Errorf("%s: no replicated %s_local table", clusterFile, tb)
		}
		if !dist.MatchString(s) {
			t.Errorf("%s: no Distributed %s table", clusterFile, tb)
		}
	}
}

func TestClusterDDL(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		sql     string
		cfg     ClusterConfig
		want    []string
		wantErr string
	}{
		{"replacing with version",
			"CREATE TABLE IF NOT EXISTS inc (id UUID, version UInt64, site String) ENGINE = ReplacingMergeTree(version) PARTITION BY site ORDER BY (site, id)",
			defaultCluster,
			[]string{
				"CREATE TABLE IF NOT EXISTS inc_local ON CLUSTER c981 (id UUID, version UInt64, site String) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/c981/inc_local', '{replica}', version) PARTITION BY site ORDER BY (site, id);",
				"CREATE TABLE IF NOT EXISTS inc ON CLUSTER c981 AS inc_local\nENGINE = Distributed(c981, c981, inc_local, cityHash64(toString(id)));",
			}, ""},
		{"plain merge tree, first uuid of the key",
			"CREATE TABLE a (\n  site String,\n  b UUID,\n  c UUID\n) ENGINE = MergeTree() ORDER BY (site, c, b) SETTINGS index_granularity = 8192",
			ClusterConfig{Cluster: "prod", Database: "ot"},
			[]string{
				"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/ot/a_local', '{replica}') ORDER BY (site, c, b) SETTINGS index_granularity = 8192;",
				"ENGINE = Distributed(prod, ot, a_local, cityHash64(toString(c)));",
			}, ""},
		{"add column on both",
			"ALTER TABLE events ADD COLUMN x String",
			defaultCluster,
			[]string{"ALTER TABLE events_local ON CLUSTER c981 ADD COLUMN x String;\n\nALTER TABLE events ON CLUSTER c981 ADD COLUMN x String;"}, ""},
		{"other alter on the local table",
			"ALTER TABLE events DELETE WHERE site = 'x'",
			defaultCluster,
			[]string{"ALTER TABLE events_local ON CLUSTER c981 DELETE WHERE site = 'x';"}, ""},
		{"materialized view from the local tables",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS tok_mv TO tok AS\nSELECT arrayJoin(extractAll(raw, '[a-z]+')) AS token, site FROM events\nGROUP BY token, site",
			defaultCluster,
			[]string{"CREATE MATERIALIZED VIEW IF NOT EXISTS tok_mv ON CLUSTER c981 TO tok_local AS SELECT arrayJoin(extractAll(raw, '[a-z]+')) AS token, site FROM events_local\nGROUP BY token, site;"}, ""},
		{"backfill runs once through the distributed tables",
			"INSERT INTO tok (token, site) SELECT raw, site FROM events",
			defaultCluster,
			[]string{"\nINSERT INTO tok (token, site) SELECT raw, site FROM events;\n"}, ""},
		{"drop the distributed and the local table",
			"DROP TABLE IF EXISTS tok",
			defaultCluster,
			[]string{"\nDROP TABLE IF EXISTS tok ON CLUSTER c981;\n\nDROP TABLE IF EXISTS tok_local ON CLUSTER c981;\n"}, ""},
		{"drop without if exists", "drop table tok_mv", defaultCluster, []string{"\nDROP TABLE IF EXISTS tok_mv ON CLUSTER c981;\n"}, ""},
		{"drop of several tables", "DROP TABLE a, b", defaultCluster, nil, `no cluster translation for "DROP TABLE a, b"`},
		{"unknown statement", "CREATE VIEW v AS SELECT 1", defaultCluster, nil, `no cluster translation for "CREATE VIEW`},
		{"materialized view without TO", "CREATE MATERIALIZED VIEW mv ENGINE = Memory AS SELECT 1", defaultCluster, nil, `no cluster translation for "CREATE MATERIALIZED VIEW`},
		{"no uuid in key: the whole key",
			"CREATE TABLE b (s String, h DateTime) ENGINE = ReplacingMergeTree() ORDER BY (s, h)",
			defaultCluster,
			[]string{"ENGINE = Distributed(c981, c981, b_local, cityHash64(s, h));"}, ""},
		{"memory engine", "CREATE TABLE b (s String) ENGINE = Memory", defaultCluster, nil, "no MergeTree-family ENGINE"},
		{"bad cluster name", "SELECT 1", ClusterConfig{Cluster: "a b", Database: "c981"}, nil, "cluster name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := LoadMigrations(fstest.MapFS{"0001_x.sql": file(tc.sql)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ClusterDDL(migs, tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks\n%s\ngot:\n%s", w, got)
				}
			}
		})
	}
}

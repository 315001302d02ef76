package chstore

import (
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzClusterDDL feeds arbitrary migration text to the cluster generator:
// it must return output or an error, never panic, and every table it
// creates must get its replicated and Distributed statements.
func FuzzClusterDDL(f *testing.F) {
	f.Add("CREATE TABLE IF NOT EXISTS t (id UUID, v UInt64) ENGINE = ReplacingMergeTree(v) PARTITION BY toDate(now()) ORDER BY (id)")
	f.Add("ALTER TABLE events ADD COLUMN x String, ADD COLUMN y UInt8")
	f.Add("CREATE TABLE a (s String) ENGINE = MergeTree() ORDER BY (s)")
	f.Add("CREATE TABLE b (id UUID) ENGINE = Memory; SELECT 1")
	f.Add("CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT arrayJoin(extractAll(raw, '[a-z]+')) AS token FROM events GROUP BY token")
	f.Add("INSERT INTO t (token) SELECT raw FROM events")
	f.Fuzz(func(t *testing.T, sql string) {
		migs, err := LoadMigrations(fstest.MapFS{"0001_x.sql": &fstest.MapFile{Data: []byte(sql)}})
		if err != nil {
			return
		}
		out, err := ClusterDDL(migs, ClusterConfig{Cluster: "c", Database: "d"})
		if err != nil {
			return
		}
		for _, tb := range ClusterTables(migs) {
			if !strings.Contains(out, "CREATE TABLE IF NOT EXISTS "+tb+"_local ON CLUSTER c") || !strings.Contains(out, "ENGINE = Distributed(c, d, "+tb+"_local, ") {
				t.Fatalf("table %s not translated:\n%s", tb, out)
			}
		}
	})
}

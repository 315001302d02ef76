package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClusterDDLCommand(t *testing.T) {
	want, err := os.ReadFile("../../../deploy/clickhouse/cluster.sql")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "clusterddl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != string(want) {
		t.Error("c981 clusterddl differs from deploy/clickhouse/cluster.sql: regenerate it with `c981 clusterddl -o deploy/clickhouse/cluster.sql`")
	}
	file := filepath.Join(t.TempDir(), "prod.sql")
	code, out, errOut = run(t, "", "clusterddl", "--cluster", "prod", "--database", "ot", "-o", file)
	if code != 0 || !strings.HasPrefix(out, "wrote "+file+" (") || !strings.Contains(out, " tables, cluster prod, database ot)") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "ENGINE = Distributed(prod, ot, events_local, cityHash64(toString(id)))") {
		t.Errorf("generated file lacks the events Distributed table:\n%.400s", data)
	}
	if code, _, errOut := run(t, "", "clusterddl", "--cluster", "bad name"); code != 1 || !strings.Contains(errOut, "cluster name") {
		t.Errorf("bad cluster name: exit %d, %s", code, errOut)
	}
}

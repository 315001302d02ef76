package deploycheck_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/c981/c981/services/c981/cli"
	"github.com/c981/c981/services/c981/deploycheck"
	"github.com/c981/c981/services/c981/pipeline"
)

// repo is the repository root seen from this package.
const repo = "../../.."

func path(p string) string { return filepath.Join(repo, p) }

// image paths baked by deploy/Dockerfile.
const (
	imageConfig = "/etc/c981/c981.yaml"
	imageSites  = "/etc/c981/sites/"
)

var (
	usageMu sync.Mutex
	usages  = map[string]string{}
)

// usage returns `c981 <cmd> -h` output, failing the test when the CLI does
// not know the command.
func usage(t *testing.T, cmd string) string {
	t.Helper()
	usageMu.Lock()
	defer usageMu.Unlock()
	if u, ok := usages[cmd]; ok {
		return u
	}
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{cmd, "-h"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("c981 %s -h: exit %d: the CLI has no command %q\n%s", cmd, code, cmd, errb.String())
	}
	usages[cmd] = out.String() + errb.String()
	return usages[cmd]
}

// checkArgs fails when args (c981 <cmd> flags...) use a command or a flag
// the CLI does not define.
func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("%s: no c981 command", where)
	}
	u := usage(t, args[0])
	for _, f := range deploycheck.FlagNames(args[1:]) {
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f) + `\b`).MatchString(u) {
			t.Errorf("%s: c981 %s has no flag --%s", where, args[0], f)
		}
	}
}

// loadConfig loads a C-981 configuration file exactly as the stages do.
func loadConfig(t *testing.T, p string) pipeline.Config {
	t.Helper()
	cfg, err := pipeline.Load(p)
	if err != nil {
		t.Fatalf("config %s does not load: %v", p, err)
	}
	return cfg
}

// withoutCredentials zeroes the ClickHouse credentials, the console tokens
// and the console's certificate, the only parts a secret copy of a
// configuration may change.
func withoutCredentials(c pipeline.Config) pipeline.Config {
	c.ClickHouse.Username, c.ClickHouse.Password = "", ""
	c.Console.Tokens = nil
	c.Console.TLS = nil // the console's certificate files: only its copy names them
	return c
}

func equalFiles(t *testing.T, copyPath, orig string) {
	t.Helper()
	a, err := os.ReadFile(path(copyPath))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path(orig))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s: copy it again (cp %s %s)", copyPath, orig, orig, copyPath)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(path("deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	if n := strings.Count(df, "\nFROM "); n < 2 {
		t.Errorf("want a multi-stage build, got %d FROM lines", n)
	}
	copies := map[string]string{} // target -> source
	for _, m := range regexp.MustCompile(`(?m)^COPY (?:--from=\S+ )?(\S+) (\S+)$`).FindAllStringSubmatch(df, -1) {
		copies[m[2]] = m[1]
	}
	for src, target := range map[string]string{
		"deploy/config/c981.yaml": imageConfig,
		"deploy/demo/site.yaml":   imageSites + "demo-plant.yaml",
		"rules/":                  "/usr/share/c981/rules/",
		"playbooks/":              "/usr/share/c981/playbooks/",
	} {
		if copies[target] != src {
			t.Errorf("Dockerfile does not COPY %s to %s", src, target)
		}
	}
	if !strings.Contains(df, `go build`) || !strings.Contains(df, `./services/c981`) {
		t.Error("Dockerfile does not build ./services/c981")
	}
	if !strings.Contains(df, `ENTRYPOINT ["/usr/local/bin/c981"]`) {
		t.Error("Dockerfile's entrypoint is not c981")
	}
	// The baked configuration names paths the image provides.
	cfg := loadConfig(t, path("deploy/config/c981.yaml"))
	for _, p := range []string{cfg.Correlate.RulesDir, cfg.Respond.PlaybooksDir} {
		if copies[strings.TrimSuffix(p, "/")+"/"] == "" {
			t.Errorf("config path %s is not in the image", p)
		}
	}
	for _, s := range cfg.Enrich.Sites {
		if copies[s] == "" {
			t.Errorf("site model %s is not in the image", s)
		}
	}
	expose := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(df)
	if expose == nil {
		t.Fatal("no EXPOSE")
	}
	for _, want := range []string{deploycheck.Port(cfg.MetricsAddr), deploycheck.Port(cfg.Console.Addr)} {
		if !strings.Contains(expose[1], want+"/tcp") {
			t.Errorf("EXPOSE %s lacks %s/tcp", expose[1], want)
		}
	}
	for _, l := range cfg.Ingest.Listeners {
		if !strings.Contains(expose[1], deploycheck.Port(l.Addr)+"/"+l.Proto) {
			t.Errorf("EXPOSE %s lacks the %s listener %s/%s", expose[1], l.Name, deploycheck.Port(l.Addr), l.Proto)
		}
	}
}

func TestConfigs(t *testing.T) {
	base := loadConfig(t, path("deploy/config/c981.yaml"))
	cluster := loadConfig(t, path("deploy/config/c981-cluster.yaml"))
	if cluster.Streams.Replicas != 3 || cluster.Correlate.Store.Replicas != 3 || cluster.Correlate.State.Replicas != 3 || cluster.Respond.Replicas != 3 {
		t.Errorf("cluster config: streams R%d, correlator KV R%d/R%d, respond R%d; want R3", cluster.Streams.Replicas,
			cluster.Correlate.Store.Replicas, cluster.Correlate.State.Replicas, cluster.Respond.Replicas)
	}
	c := cluster
	c.Streams.Replicas, c.Correlate.Store.Replicas = base.Streams.Replicas, base.Correlate.Store.Replicas
	c.Correlate.State.Replicas, c.Respond.Replicas = base.Correlate.State.Replicas, base.Respond.Replicas
	if !equalConfig(c, base) {
		t.Error("deploy/config/c981-cluster.yaml differs from c981.yaml in more than the replica counts")
	}
	if base.NATS.URL != "" || len(base.ClickHouse.Addrs) != 0 {
		t.Error("the container config must leave nats.url and clickhouse.addrs to the --nats/--clickhouse flags")
	}
	if base.ClickHouse.Password != "" {
		t.Error("the container config holds a ClickHouse password: credentials belong in the secret copies")
	}
	// The secret copies differ only in the credentials: ClickHouse user and
	// password, and the console's bearer tokens.
	secrets := map[string]pipeline.Config{
		"deploy/compose/secrets/c981-admin.yaml":                base,
		"deploy/compose/secrets/c981-store.yaml":                base,
		"deploy/compose/secrets/c981-console.yaml":              base,
		"deploy/compose/secrets/c981-cluster-admin.yaml":        cluster,
		"deploy/compose/secrets/c981-cluster-store.yaml":        cluster,
		"deploy/compose/secrets/c981-cluster-console.yaml":      cluster,
		"deploy/k8s/base/secrets/admin-c981.yaml":               base,
		"deploy/k8s/base/secrets/store-c981.yaml":               base,
		"deploy/k8s/base/secrets/console-c981.yaml":             base,
		"deploy/k8s/overlays/cluster/secrets/admin-c981.yaml":   cluster,
		"deploy/k8s/overlays/cluster/secrets/store-c981.yaml":   cluster,
		"deploy/k8s/overlays/cluster/secrets/console-c981.yaml": cluster,
	}
	for p, want := range secrets {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(p)))+"/"+filepath.Base(p), func(t *testing.T) {
			got := loadConfig(t, deploycheck.SecretSource(path(p)))
			if got.ClickHouse.Username == "" || got.ClickHouse.Username == "default" {
				t.Errorf("%s: uses ClickHouse user %q, want a dedicated user", p, got.ClickHouse.Username)
			}
			if !equalConfig(withoutCredentials(got), withoutCredentials(want)) {
				t.Errorf("%s differs from its configuration in more than the credentials", p)
			}
			if strings.Contains(p, "console") {
				run := got // as `c981 console --clickhouse clickhouse:9000` resolves it
				run.ClickHouse.Addrs = []string{"clickhouse:9000"}
				run.ResolveClickHouse()
				cc := run.Console
				withTestCerts(t, &cc)
				cc.SetDefaults()
				if err := cc.Validate(); err != nil {
					t.Errorf("%s: the console would refuse to start: %v", p, err)
				}
			}
		})
	}
	// Copies that Kustomize needs inside its root.
	equalFiles(t, "deploy/k8s/base/config/c981.yaml", "deploy/config/c981.yaml")
	equalFiles(t, "deploy/k8s/overlays/cluster/config/c981.yaml", "deploy/config/c981-cluster.yaml")
	equalFiles(t, "deploy/k8s/base/config/demo-plant.yaml", "deploy/demo/site.yaml")
	equalFiles(t, "deploy/k8s/base/config/nats-server.conf", "deploy/nats/nats-server.conf")
	equalFiles(t, "deploy/k8s/base/config/accounts.conf", "deploy/nats/accounts.conf")
	equalFiles(t, "deploy/k8s/overlays/cluster/config/accounts.conf", "deploy/nats/accounts.conf")
	equalFiles(t, "deploy/k8s/overlays/cluster/config/cluster.conf", "deploy/nats/cluster.conf")
}

func equalConfig(a, b pipeline.Config) bool { return reflect.DeepEqual(a, b) }

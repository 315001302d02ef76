package deploycheck_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/c981/c981/services/c981/deploycheck"
	"github.com/c981/c981/services/c981/pipeline"
)

func TestCompose(t *testing.T) {
	for _, file := range []string{"deploy/compose/compose.yaml", "deploy/compose/compose.cluster.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			dir := filepath.Dir(path(file))
			cf, err := deploycheck.LoadCompose(path(file))
			if err != nil {
				t.Fatal(err)
			}
			env, err := deploycheck.EnvFileKeys(filepath.Join(dir, "env.example"))
			if err != nil {
				t.Fatal(err)
			}
			natsNodes := 0
			deployed := map[string]bool{}
			for name, svc := range cf.Services {
				for dep := range svc.DependsOn {
					if _, ok := cf.Services[dep]; !ok {
						t.Errorf("%s depends on unknown service %s", name, dep)
					}
				}
				for _, s := range svc.Secrets {
					sec, ok := cf.Secrets[s]
					if !ok {
						t.Errorf("%s uses undefined secret %s", name, s)
						continue
					}
					if !deploycheck.ExistsOrExample(filepath.Join(dir, sec.File)) {
						t.Errorf("secret %s: neither %s nor its .example exists", s, sec.File)
					}
				}
				mounts := map[string]string{} // target -> host source
				for _, v := range svc.Volumes {
					parts := strings.Split(v, ":")
					if len(parts) < 2 {
						t.Errorf("%s: volume %q has no target", name, v)
						continue
					}
					src, target := parts[0], parts[1]
					mounts[target] = src
					if strings.HasPrefix(src, ".") {
						if !deploycheck.ExistsOrExample(filepath.Join(dir, src)) && !strings.HasPrefix(src, "./secrets/") {
							t.Errorf("%s: mounted %s does not exist", name, src)
						}
					} else if _, ok := cf.Volumes[src]; !ok {
						t.Errorf("%s: named volume %s is not declared", name, src)
					}
				}
				for _, s := range append(append(slices.Clone(svc.Command), svc.Ports...), svc.Image) {
					for _, ref := range deploycheck.EnvRefs(s) {
						if !env[ref] {
							t.Errorf("%s uses ${%s}, which env.example does not define", name, ref)
						}
					}
				}
				if strings.HasPrefix(svc.Image, "nats:") {
					natsNodes++
					continue
				}
				if !strings.Contains(svc.Image, "c981") {
					continue
				}
				where := file + " " + name
				checkArgs(t, where, svc.Command)
				cmd := svc.Command[0]
				deployed[cmd] = true
				cfgPath, ok := deploycheck.Flag(svc.Command, "config")
				if !ok {
					t.Errorf("%s: no --config", where)
					continue
				}
				// The configuration is a mounted file, a secret, or the one baked in the image.
				var cfg pipeline.Config
				switch {
				case strings.HasPrefix(cfgPath, "/run/secrets/"):
					s := strings.TrimPrefix(cfgPath, "/run/secrets/")
					if !slices.Contains(svc.Secrets, s) {
						t.Errorf("%s: --config %s but the service does not get secret %s", where, cfgPath, s)
						continue
					}
					cfg = loadConfig(t, deploycheck.SecretSource(filepath.Join(dir, cf.Secrets[s].File)))
				case mounts[cfgPath] != "":
					cfg = loadConfig(t, filepath.Join(dir, mounts[cfgPath]))
				case cfgPath == imageConfig:
					cfg = loadConfig(t, path("deploy/config/c981.yaml"))
				default:
					t.Errorf("%s: --config %s is neither mounted nor in the image", where, cfgPath)
					continue
				}
				wantReplicas := 1
				if strings.Contains(file, "cluster") {
					wantReplicas = 3
				}
				if cfg.Streams.Replicas != wantReplicas {
					t.Errorf("%s: its config has R%d streams, want R%d (every stage applies the stream settings at start)", where, cfg.Streams.Replicas, wantReplicas)
				}
				checkTLS(t, where, cmd, svc.Command, cfg, mountedIn(mounts))
				if slices.Contains(pipeline.Stages, cmd) {
					checkStageCompose(t, where, cmd, svc, cfg, mounts, natsHosts(file))
				}
			}
			for _, st := range pipeline.Stages {
				if !deployed[st] {
					t.Errorf("stage %s is not deployed", st)
				}
			}
			for _, job := range []string{"nats-provision", "migrate"} {
				if !deployed[job] {
					t.Errorf("one-shot %s is missing", job)
				}
			}
			wantNodes := 1
			if strings.Contains(file, "cluster") {
				wantNodes = 3
			}
			if natsNodes != wantNodes {
				t.Errorf("%d NATS servers, want %d", natsNodes, wantNodes)
			}
		})
	}
}

func natsHosts(file string) []string {
	if strings.Contains(file, "cluster") {
		return []string{"nats-1:4222", "nats-2:4222", "nats-3:4222"}
	}
	return []string{"nats:4222"}
}

func checkStageCompose(t *testing.T, where, stage string, svc deploycheck.ComposeService, cfg pipeline.Config, mounts map[string]string, hosts []string) {
	t.Helper()
	health := strings.Join(svc.Healthcheck.Test, " ")
	if stage == "console" {
		addr, _ := deploycheck.Flag(svc.Command, "console")
		if addr == "" {
			addr = cfg.Console.Addr
		}
		if cfg.Console.TLS != nil && !strings.Contains(health, "https://") {
			t.Errorf("%s: healthcheck %q is not HTTPS, but the console serves HTTPS", where, health)
		}
		if !strings.Contains(health, ":"+deploycheck.Port(addr)+"/healthz") {
			t.Errorf("%s: healthcheck %q does not probe the console's /healthz on port %s", where, health, deploycheck.Port(addr))
		}
		if !slices.ContainsFunc(svc.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+deploycheck.Port(addr)) }) {
			t.Errorf("%s: console port %s not published", where, deploycheck.Port(addr))
		}
	}
	// Every stage uses the bus, the console too (triage writes, approvals,
	// live updates), as its own NATS user over TLS.
	url, ok := deploycheck.Flag(svc.Command, "nats")
	if !ok {
		t.Errorf("%s: no --nats", where)
	}
	for _, h := range hosts {
		if !strings.Contains(url, "@"+h) || !strings.Contains(url, "c981-"+stage+":") {
			t.Errorf("%s: --nats %s does not reach %s as c981-%s", where, url, h, stage)
		}
	}
	if !strings.HasPrefix(url, "tls://") {
		t.Errorf("%s: --nats %s is not TLS", where, url)
	}
	if stage != "console" {
		m, _ := deploycheck.Flag(svc.Command, "metrics")
		if m == "" {
			t.Errorf("%s: no --metrics: /healthz would not be served", where)
		} else if !strings.Contains(health, ":"+deploycheck.Port(m)+"/healthz") {
			t.Errorf("%s: healthcheck %q does not probe /healthz on the --metrics port %s", where, health, deploycheck.Port(m))
		}
	}
	if stage == "store" || stage == "console" {
		if ch, _ := deploycheck.Flag(svc.Command, "clickhouse"); ch == "" {
			t.Errorf("%s: no --clickhouse", where)
		}
	}
	for _, s := range cfg.Enrich.Sites {
		if stage == "enrich" && mounts[s] == "" && s != imageSites+"demo-plant.yaml" {
			t.Errorf("%s: site model %s is not mounted", where, s)
		}
	}
	if stage == "ingest" {
		for _, l := range cfg.Ingest.Listeners {
			want := deploycheck.Port(l.Addr) + ":" + deploycheck.Port(l.Addr) + "/" + l.Proto
			if !slices.ContainsFunc(svc.Ports, func(p string) bool { return strings.HasSuffix(p, want) }) {
				t.Errorf("%s: listener %s (%s %s) is not published (ports %v)", where, l.Name, l.Proto, l.Addr, svc.Ports)
			}
		}
	}
}

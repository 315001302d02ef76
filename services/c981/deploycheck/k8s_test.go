package deploycheck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/c981/c981/services/c981/deploycheck"
	"github.com/c981/c981/services/c981/pipeline"
)

// kustomization is the part of a kustomization.yaml the checks read.
type kustomization struct {
	dir        string
	resources  []string
	configMaps map[string][]string // name -> files (key=path or path)
	secrets    map[string][]string // name -> files and env files
	envs       map[string][]string // name -> env files
	patches    []string
}

func loadKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yamlUnmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if deploycheck.Str(doc, "kind") != "Kustomization" {
		t.Fatalf("%s: not a Kustomization", dir)
	}
	k := kustomization{dir: dir, configMaps: map[string][]string{}, secrets: map[string][]string{}, envs: map[string][]string{}}
	k.resources = deploycheck.Strings(doc, "resources")
	for _, g := range deploycheck.List(doc, "configMapGenerator") {
		n := deploycheck.Str(g, "name")
		k.configMaps[n] = append(deploycheck.Strings(g, "files"), deploycheck.Strings(g, "envs")...)
	}
	for _, g := range deploycheck.List(doc, "secretGenerator") {
		n := deploycheck.Str(g, "name")
		k.secrets[n] = append(deploycheck.Strings(g, "files"), deploycheck.Strings(g, "envs")...)
		k.envs[n] = deploycheck.Strings(g, "envs")
	}
	for _, p := range deploycheck.List(doc, "patches") {
		k.patches = append(k.patches, deploycheck.Str(p, "patch"))
	}
	return k
}

// genFile returns the file path of a generator entry ("key=path" or "path")
// and its key.
func genFile(entry string) (key, file string) {
	if k, f, ok := strings.Cut(entry, "="); ok {
		return k, f
	}
	return filepath.Base(entry), entry
}

// keysOf returns the keys a generated ConfigMap/Secret will have.
func (k kustomization) keysOf(t *testing.T, name string, secret bool) map[string]bool {
	t.Helper()
	entries := k.configMaps[name]
	if secret {
		entries = k.secrets[name]
	}
	keys := map[string]bool{}
	for _, e := range entries {
		key, file := genFile(e)
		if secret && slices.Contains(k.envs[name], e) {
			ek, err := deploycheck.EnvFileKeys(deploycheck.SecretSource(filepath.Join(k.dir, file)))
			if err != nil {
				t.Fatal(err)
			}
			for kk := range ek {
				keys[kk] = true
			}
			continue
		}
		keys[key] = true
	}
	return keys
}

func TestKustomize(t *testing.T) {
	base := loadKustomization(t, path("deploy/k8s/base"))
	var objs []deploycheck.Manifest
	for _, r := range base.resources {
		ms, err := deploycheck.LoadManifests(filepath.Join(base.dir, r))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, ms...)
	}
	overlays, err := filepath.Glob(path("deploy/k8s/overlays/*"))
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays: %v", err)
	}
	kusts := []kustomization{base}
	for _, o := range overlays {
		k := loadKustomization(t, o)
		if !slices.Contains(k.resources, "../../base") {
			t.Errorf("%s does not build on the base", o)
		}
		kusts = append(kusts, k)
	}

	t.Run("generator files exist", func(t *testing.T) {
		for _, k := range kusts {
			for name, entries := range mergeMaps(k.configMaps, k.secrets) {
				for _, e := range entries {
					_, f := genFile(e)
					if strings.Contains(f, "..") {
						t.Errorf("%s %s: %s is outside the kustomization root (kustomize refuses it)", k.dir, name, f)
					}
					if !deploycheck.ExistsOrExample(filepath.Join(k.dir, f)) && !isTLSFile(f) {
						t.Errorf("%s %s: neither %s nor %s.example exists", k.dir, name, f, f)
					}
				}
			}
		}
	})

	// Index the base's objects.
	deployments := map[string]deploycheck.Manifest{}
	pdbSelectors := map[string]bool{}
	for _, o := range objs {
		switch o.Kind {
		case "Deployment":
			deployments[o.Name] = o
		case "PodDisruptionBudget":
			pdbSelectors[deploycheck.Str(o.Doc, "spec", "selector", "matchLabels", "app.kubernetes.io/component")] = true
		}
	}
	for _, st := range pipeline.Stages {
		t.Run("stage "+st, func(t *testing.T) {
			d, ok := deployments["c981-"+st]
			if !ok {
				t.Fatalf("stage %s has no Deployment c981-%s", st, st)
			}
			if !pdbSelectors[st] {
				t.Errorf("no PodDisruptionBudget selects %s", st)
			}
			checkDeployment(t, base, d, st)
		})
	}
	t.Run("jobs and NATS", func(t *testing.T) {
		seen := map[string]bool{}
		for _, o := range objs {
			if o.Kind != "Job" && o.Kind != "StatefulSet" {
				continue
			}
			spec := deploycheck.Get(o.Doc, "spec", "template", "spec")
			claims := map[string]bool{}
			for _, c := range deploycheck.List(o.Doc, "spec", "volumeClaimTemplates") {
				claims[deploycheck.Str(c, "metadata", "name")] = true
			}
			checkPodRefs(t, base, o.File+" "+o.Name, spec, claims)
			c := deploycheck.List(spec, "containers")[0]
			if o.Kind == "Job" {
				args := expandArgs(deploycheck.Strings(c, "args"))
				checkArgs(t, o.Name, args)
				seen[args[0]] = true
				if cfgPath, ok := deploycheck.Flag(args, "config"); ok {
					mounts := mountSources(t, base, spec, c)
					if src := mounts[cfgPath]; src != "" {
						checkTLS(t, o.Name, args[0], args, loadConfig(t, src), mountedIn(mounts))
					} else {
						t.Errorf("%s: --config %s is not mounted", o.Name, cfgPath)
					}
				}
			}
			if o.Kind == "StatefulSet" && !pdbSelectors["nats"] {
				t.Error("no PodDisruptionBudget for NATS")
			}
		}
		for _, j := range []string{"nats-provision", "migrate"} {
			if !seen[j] {
				t.Errorf("no Job runs c981 %s", j)
			}
		}
	})
	t.Run("overlay patches target existing objects", func(t *testing.T) {
		for _, k := range kusts[1:] {
			data, err := os.ReadFile(filepath.Join(k.dir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yamlUnmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			for _, p := range deploycheck.List(doc, "patches") {
				kind, name := deploycheck.Str(p, "target", "kind"), deploycheck.Str(p, "target", "name")
				if !slices.ContainsFunc(objs, func(m deploycheck.Manifest) bool { return m.Kind == kind && m.Name == name }) {
					t.Errorf("%s patches %s/%s, which the base does not define", k.dir, kind, name)
				}
			}
			for name := range mergeMaps(k.configMaps, k.secrets) {
				if _, ok := mergeMaps(base.configMaps, base.secrets)[name]; !ok {
					t.Errorf("%s generates %s, which the base does not reference", k.dir, name)
				}
			}
		}
	})
}

func isTLSFile(f string) bool {
	return strings.HasSuffix(f, ".crt") || strings.HasSuffix(f, ".key")
}

func mergeMaps(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// expandArgs keeps Kubernetes $(VAR) references as they are (they are
// values, not flags).
func expandArgs(args []string) []string { return args }

func checkDeployment(t *testing.T, k kustomization, d deploycheck.Manifest, stage string) {
	t.Helper()
	spec := deploycheck.Get(d.Doc, "spec", "template", "spec")
	containers := deploycheck.List(spec, "containers")
	if len(containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", d.Name, len(containers))
	}
	c := containers[0]
	args := deploycheck.Strings(c, "args")
	checkArgs(t, d.Name, args)
	if args[0] != stage {
		t.Errorf("%s runs c981 %s, want %s", d.Name, args[0], stage)
	}
	checkPodRefs(t, k, d.Name, spec, nil)

	// The probes hit /healthz on the port the stage serves it on.
	ports := map[string]string{} // name -> containerPort
	for _, p := range deploycheck.List(c, "ports") {
		ports[deploycheck.Str(p, "name")] = fmt.Sprint(deploycheck.Get(p, "containerPort"))
	}
	healthAddr, _ := deploycheck.Flag(args, "metrics")
	if stage == "console" {
		healthAddr, _ = deploycheck.Flag(args, "console")
	}
	if healthAddr == "" {
		t.Fatalf("%s: no --metrics/--console address: /healthz would not be served", d.Name)
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		p := deploycheck.Get(c, probe, "httpGet")
		if p == nil {
			t.Errorf("%s: no %s", d.Name, probe)
			continue
		}
		if deploycheck.Str(p, "path") != "/healthz" {
			t.Errorf("%s: %s path %q, want /healthz", d.Name, probe, deploycheck.Str(p, "path"))
		}
		port := fmt.Sprint(deploycheck.Get(p, "port"))
		if n, ok := ports[port]; ok {
			port = n
		}
		if port != deploycheck.Port(healthAddr) {
			t.Errorf("%s: %s on port %s, but /healthz is served on %s", d.Name, probe, port, healthAddr)
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if deploycheck.Get(c, "resources", "requests", r) == nil {
			t.Errorf("%s: no %s request", d.Name, r)
		}
	}
	// Every stage uses the bus, the console too (triage writes, approvals,
	// live updates).
	if url, _ := deploycheck.Flag(args, "nats"); url != "$(NATS_URL)" {
		t.Errorf("%s: --nats %q, want $(NATS_URL) from its Secret", d.Name, url)
	}
	if stage == "store" || stage == "console" {
		if ch, _ := deploycheck.Flag(args, "clickhouse"); ch == "" {
			t.Errorf("%s: no --clickhouse", d.Name)
		}
	}
	// The --config file is mounted from a generated ConfigMap or Secret,
	// and what it names (site models) is mounted too.
	cfgPath, _ := deploycheck.Flag(args, "config")
	mounts := mountSources(t, k, spec, c)
	src := mounts[cfgPath]
	if src == "" {
		t.Fatalf("%s: --config %s is not mounted", d.Name, cfgPath)
	}
	cfg := loadConfig(t, src)
	checkTLS(t, d.Name, stage, args, cfg, mountedIn(mounts))
	if stage == "console" {
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			if s := deploycheck.Str(c, probe, "httpGet", "scheme"); cfg.Console.TLS != nil && s != "HTTPS" {
				t.Errorf("%s: %s scheme %q, but the console serves HTTPS", d.Name, probe, s)
			}
		}
	}
	if stage == "enrich" {
		for _, s := range cfg.Enrich.Sites {
			if _, ok := mounts[s]; !ok {
				t.Errorf("%s: site model %s is not mounted", d.Name, s)
			}
		}
	}
	if stage == "ingest" {
		for _, l := range cfg.Ingest.Listeners {
			found := false
			for _, p := range deploycheck.List(c, "ports") {
				if fmt.Sprint(deploycheck.Get(p, "containerPort")) == deploycheck.Port(l.Addr) && strings.EqualFold(deploycheck.Str(p, "protocol"), l.Proto) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: listener %s %s/%s has no containerPort", d.Name, l.Name, deploycheck.Port(l.Addr), l.Proto)
			}
		}
	}
}

// mountSources maps each mounted file path to the local file its
// generated ConfigMap/Secret key is made from.
func mountSources(t *testing.T, k kustomization, spec, c any) map[string]string {
	t.Helper()
	vols := map[string]any{}
	for _, v := range deploycheck.List(spec, "volumes") {
		vols[deploycheck.Str(v, "name")] = v
	}
	out := map[string]string{}
	for _, m := range deploycheck.List(c, "volumeMounts") {
		v := vols[deploycheck.Str(m, "name")]
		mp, sub := deploycheck.Str(m, "mountPath"), deploycheck.Str(m, "subPath")
		name, secret := deploycheck.Str(v, "configMap", "name"), false
		items := deploycheck.List(v, "configMap", "items")
		if name == "" {
			name, secret = deploycheck.Str(v, "secret", "secretName"), true
			items = deploycheck.List(v, "secret", "items")
		}
		entries := k.configMaps[name]
		if secret {
			entries = k.secrets[name]
		}
		files := map[string]string{} // key -> local file
		for _, e := range entries {
			key, f := genFile(e)
			files[key] = deploycheck.SecretSource(filepath.Join(k.dir, f))
		}
		switch {
		case sub != "":
			out[mp] = files[sub]
		case len(items) > 0:
			for _, it := range items {
				out[mp+"/"+deploycheck.Str(it, "path")] = files[deploycheck.Str(it, "key")]
			}
		default:
			for key, f := range files {
				out[mp+"/"+key] = f
			}
		}
	}
	return out
}

// checkPodRefs fails when a pod references a ConfigMap, Secret or key that
// the kustomization does not generate.
func checkPodRefs(t *testing.T, k kustomization, where string, spec any, claims map[string]bool) {
	t.Helper()
	var vols []any
	for _, v := range deploycheck.List(spec, "volumes") {
		vols = append(vols, v)
		// A projected volume's sources are checked like volumes of their own.
		for _, src := range deploycheck.List(v, "projected", "sources") {
			if n := deploycheck.Str(src, "secret", "name"); n != "" {
				vols = append(vols, map[string]any{"secret": map[string]any{"secretName": n, "items": deploycheck.Get(src, "secret", "items")}})
			}
			if n := deploycheck.Str(src, "configMap", "name"); n != "" {
				vols = append(vols, map[string]any{"configMap": deploycheck.Get(src, "configMap")})
			}
		}
	}
	for _, v := range vols {
		if n := deploycheck.Str(v, "configMap", "name"); n != "" {
			if _, ok := k.configMaps[n]; !ok {
				t.Errorf("%s: ConfigMap %s is not generated", where, n)
			}
			keys := k.keysOf(t, n, false)
			for _, it := range deploycheck.List(v, "configMap", "items") {
				if !keys[deploycheck.Str(it, "key")] {
					t.Errorf("%s: ConfigMap %s has no key %s", where, n, deploycheck.Str(it, "key"))
				}
			}
		}
		if n := deploycheck.Str(v, "secret", "secretName"); n != "" {
			if _, ok := k.secrets[n]; !ok {
				t.Errorf("%s: Secret %s is not generated", where, n)
			}
			keys := k.keysOf(t, n, true)
			for _, it := range deploycheck.List(v, "secret", "items") {
				if !keys[deploycheck.Str(it, "key")] {
					t.Errorf("%s: Secret %s has no key %s", where, n, deploycheck.Str(it, "key"))
				}
			}
		}
	}
	for _, c := range deploycheck.List(spec, "containers") {
		for _, e := range deploycheck.List(c, "env") {
			if n := deploycheck.Str(e, "valueFrom", "secretKeyRef", "name"); n != "" {
				key := deploycheck.Str(e, "valueFrom", "secretKeyRef", "key")
				if _, ok := k.secrets[n]; !ok {
					t.Errorf("%s: env %s from Secret %s, which is not generated", where, deploycheck.Str(e, "name"), n)
				} else if !k.keysOf(t, n, true)[key] {
					t.Errorf("%s: Secret %s has no key %s", where, n, key)
				}
			}
		}
		for _, e := range deploycheck.List(c, "envFrom") {
			if n := deploycheck.Str(e, "secretRef", "name"); n != "" {
				if _, ok := k.secrets[n]; !ok {
					t.Errorf("%s: envFrom Secret %s is not generated", where, n)
				}
			}
		}
		for _, m := range deploycheck.List(c, "volumeMounts") {
			found := false
			for _, v := range deploycheck.List(spec, "volumes") {
				if deploycheck.Str(v, "name") == deploycheck.Str(m, "name") {
					found = true
				}
			}
			if !found && !claims[deploycheck.Str(m, "name")] {
				t.Errorf("%s: volumeMount %s has no volume", where, deploycheck.Str(m, "name"))
			}
		}
	}
}

func yamlUnmarshal(data []byte, v any) error { return yaml.Unmarshal(data, v) }

package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// ComposeFile is the part of a docker compose file the checks read.
type ComposeFile struct {
	Services map[string]ComposeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

// ComposeService is one service of a compose file.
type ComposeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// LoadCompose parses a compose file (anchors and merge keys resolved).
func LoadCompose(path string) (ComposeFile, error) {
	var f ComposeFile
	data, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}

// Manifest is one Kubernetes object, decoded generically.
type Manifest struct {
	// File is where the object was read from.
	File string
	// Kind and Name identify it.
	Kind, Name string
	// Doc is the whole object.
	Doc map[string]any
}

// LoadManifests parses every document of a multi-document YAML file.
func LoadManifests(path string) ([]Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []Manifest
	for i, part := range splitDocs(string(data)) {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			return nil, fmt.Errorf("parse %s document %d: %w", path, i+1, err)
		}
		if len(doc) == 0 {
			continue
		}
		m := Manifest{File: path, Doc: doc}
		m.Kind, _ = doc["kind"].(string)
		m.Name = Str(doc, "metadata", "name")
		if m.Kind == "" || m.Name == "" {
			return nil, fmt.Errorf("%s document %d: no kind or metadata.name", path, i+1)
		}
		out = append(out, m)
	}
	return out, nil
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func splitDocs(s string) []string { return docSep.Split(s, -1) }

// Get walks a decoded YAML tree by map keys and returns the node or nil.
func Get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Str returns the string at path, or "".
func Str(v any, path ...string) string {
	s, _ := Get(v, path...).(string)
	return s
}

// List returns the list at path, or nil.
func List(v any, path ...string) []any {
	l, _ := Get(v, path...).([]any)
	return l
}

// Strings returns the list of strings at path.
func Strings(v any, path ...string) []string {
	var out []string
	for _, x := range List(v, path...) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// Flag returns the value of --name (or -name, --name=value) in args and
// whether it is present.
func Flag(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if strings.HasPrefix(a, p+"=") {
				return strings.TrimPrefix(a, p+"="), true
			}
		}
	}
	return "", false
}

// FlagNames returns the names of every flag in args ("--nats x" -> "nats").
func FlagNames(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			n := strings.TrimLeft(a, "-")
			n, _, _ = strings.Cut(n, "=")
			out = append(out, n)
		}
	}
	return out
}

// Port returns the port of a listen address (":9981", "0.0.0.0:8981").
func Port(addr string) string {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// EnvRefs returns the ${VAR} / ${VAR:-default} names referenced in s
// without a default ($$ escapes excluded).
func EnvRefs(s string) []string {
	s = strings.ReplaceAll(s, "$$", "")
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		if m[2] == "" {
			out = append(out, m[1])
		}
	}
	return out
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}`)

// EnvFileKeys returns the keys of a KEY=value file (comments skipped).
func EnvFileKeys(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	keys := map[string]bool{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=value", path, n+1)
		}
		keys[k] = true
	}
	return keys, nil
}

// ExistsOrExample reports whether path exists, or — for a secret that is
// never committed — path.example does.
func ExistsOrExample(path string) bool {
	if _, err := os.Stat(path); err == nil {
		return true
	}
	_, err := os.Stat(path + ".example")
	return err == nil
}

// SecretSource returns path, or path.example when path (an uncommitted
// secret) does not exist.
func SecretSource(path string) string {
	if _, err := os.Stat(path); err == nil {
		return path
	}
	return path + ".example"
}

// Rel joins a path relative to dir unless it is absolute.
func Rel(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

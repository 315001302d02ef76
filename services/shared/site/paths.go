package site

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Files expands paths into site model files: a file is taken as is, a
// directory contributes its *.yaml and *.yml files (not recursively, sorted
// by name). A directory without model files is an error, so a typo does not
// silently load nothing.
func Files(paths ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("site model %s: %w", p, err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("site model directory %s: %w", p, err)
		}
		n := len(files)
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				continue
			}
			files = append(files, filepath.Join(p, name))
		}
		if len(files) == n {
			return nil, fmt.Errorf("site model directory %s has no *.yaml or *.yml files", p)
		}
		slices.Sort(files[n:])
	}
	return files, nil
}

// LoadAll loads and validates the site models of paths (files or
// directories, see Files). It reports every file's problems, joined, and
// fails when two files describe the same site id.
func LoadAll(paths ...string) ([]*Model, error) {
	files, err := Files(paths...)
	if err != nil {
		return nil, err
	}
	// Decoding dominates the load time of large models: load the files in
	// parallel, then check them in file order.
	loaded := make([]*Model, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				loaded[i], errs[i] = Load(files[i])
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	models := make([]*Model, 0, len(files))
	bySite := map[string]string{}
	for i, f := range files {
		if errs[i] != nil {
			continue
		}
		m := loaded[i]
		if other, dup := bySite[m.Site.ID]; dup {
			errs[i] = fmt.Errorf("%s: site %q is already described by %s", f, m.Site.ID, other)
			continue
		}
		bySite[m.Site.ID] = f
		models = append(models, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return models, nil
}

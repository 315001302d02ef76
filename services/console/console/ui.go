package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The web UI: plain HTML, CSS and JavaScript modules embedded in the binary
// (no build step), served without authentication — the pages hold no data;
// every API call they make carries the user's bearer token.
//
//go:embed web
var webFS embed.FS

// UIContentSecurityPolicy is the Content-Security-Policy of the web UI:
// scripts, styles and connections only from the console itself, no inline
// script or style, no framing, no plugins.
const UIContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiTypes are the Content-Types of the file extensions the UI may contain;
// files of other types are not served.
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

// uiFile is one embedded file with its precomputed headers.
type uiFile struct {
	name        string
	contentType string
	etag        string
	data        []byte
}

// loadUI reads the embedded files once.
func loadUI() (map[string]*uiFile, error) {
	files := map[string]*uiFile{}
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := uiTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("web UI file %s: no content type for %q", p, path.Ext(p))
		}
		data, err := webFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("web UI file %s: %w", p, err)
		}
		sum := sha256.Sum256(data)
		name := strings.TrimPrefix(p, "web/")
		files[name] = &uiFile{name: name, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, data: data}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if files["index.html"] == nil {
		return nil, fmt.Errorf("web UI: no index.html")
	}
	return files, nil
}

// uiFiles are the embedded UI files by path below web/; loadUI's error
// can only come from a broken build (a file type without a Content-Type),
// which TestUI reports.
var uiFiles, uiErr = loadUI()

// registerUI serves the web UI on mux: the index page at / and the files
// of web/ at /ui/<path>.
func (s *Service) registerUI(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.serveUIFile(w, r, "index.html") })
	mux.HandleFunc("GET /ui/{path...}", func(w http.ResponseWriter, r *http.Request) { s.serveUIFile(w, r, r.PathValue("path")) })
}

// serveUIFile answers one embedded file with its Content-Type, an ETag
// (revalidated on every use: Cache-Control no-cache, so an upgraded console
// is picked up at once while unchanged files cost a 304) and the UI's
// security headers.
func (s *Service) serveUIFile(w http.ResponseWriter, r *http.Request, name string) {
	if uiErr != nil {
		s.log.Error("web UI unavailable", "err", uiErr)
		writeProblem(w, r, http.StatusInternalServerError, "the web UI is unavailable; see the server log", nil)
		return
	}
	f := uiFiles[name]
	if f == nil {
		writeProblem(w, r, http.StatusNotFound, "no such file", nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("Content-Security-Policy", UIContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.data))
}

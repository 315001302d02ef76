package console

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/site"
	"github.com/c981/c981/services/shared/telemetry"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Request limits of the HTTP server.
const (
	// MaxHeaderBytes bounds the request line plus headers.
	MaxHeaderBytes = 32 << 10
	// MaxBodyBytes bounds a request body: the JSON bodies of the write
	// routes (PATCH /api/incidents/{id}, its notes and isms, approvals) are
	// at most 64 KiB; larger requests are answered 413 before any handler
	// runs. The read routes take no body.
	MaxBodyBytes = 64 << 10
	// shutdownGrace is how long in-flight requests may finish at shutdown.
	shutdownGrace = 5 * time.Second
	// healthTimeout bounds the ClickHouse ping of /healthz.
	healthTimeout = 2 * time.Second
)

// Deps are the console's collaborators.
type Deps struct {
	// Conn is the ClickHouse connection (see ClickHouseConfig.Open).
	Conn driver.Conn
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Registry receives the metrics and is served on /metrics (default a
	// new telemetry.NewRegistry()).
	Registry *prometheus.Registry
	// Authenticator authenticates the callers with auth: external (an
	// OIDC/JWT validator); it is required then and not used otherwise.
	Authenticator Authenticator
	// JS is the JetStream bus the console writes through (triage changes,
	// approvals) and reads live updates from. Without it the console is
	// read-only: write routes answer 503.
	JS jetstream.JetStream
}

// Service is the console API server.
type Service struct {
	cfg     Config
	db      *query.DB
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	auth    Authenticator
	limits  *limiters
	js      jetstream.JetStream
	streams *streamHub
	sites   map[string]*siteView
	siteIDs []string

	ready   chan struct{}
	mu      sync.Mutex
	addr    string
	running bool
}

// New validates cfg (after SetDefaults) and builds the service; it does not
// listen until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("console config: %w", err)
	}
	if deps.Conn == nil {
		return nil, errors.New("console: nil ClickHouse connection")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Registry == nil {
		deps.Registry = telemetry.NewRegistry()
	}
	db, err := query.New(deps.Conn, query.Options{MaxAlerts: cfg.MaxAlerts, MaxEvents: cfg.MaxEvents})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Service{cfg: cfg, db: db, log: deps.Logger.With("stage", "console"), metrics: m, ready: make(chan struct{}), limits: newLimiters(cfg.RateLimit), js: deps.JS}
	if s.streams, err = newStreamHub(deps.JS, deps.Registry, s.log); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	switch {
	case cfg.Auth == AuthExternal:
		if deps.Authenticator == nil {
			return nil, errors.New("console: auth: external needs an Authenticator")
		}
		s.auth = deps.Authenticator
	case cfg.Auth == AuthJWT:
		if s.auth, err = NewJWT(*cfg.JWT); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	case cfg.Auth == AuthNone:
		s.log.Warn("console API authentication disabled (auth: none): every caller reads every site", "addr", cfg.Addr)
		s.auth = Fixed{ID: Anonymous}
	case cfg.DemoMode():
		// Validate allowed demo mode only on a loopback address.
		s.log.Warn("console API in demo mode: no tokens configured, every local caller is the read-only demo user on all sites", "addr", cfg.Addr)
		s.auth = Fixed{ID: Demo}
	default:
		tokens, err := cfg.StaticTokens()
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		if s.auth, err = NewStaticTokens(tokens); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	if len(cfg.Sites) > 0 {
		models, err := site.LoadAll(cfg.Sites...)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		if s.sites, s.siteIDs, err = siteViews(models); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}

	health := &telemetry.Health{}
	conn := deps.Conn
	health.Register("clickhouse", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		defer cancel()
		if err := conn.Ping(ctx); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return nil
	})
	mux := http.NewServeMux()
	paths := map[string]bool{} // a path served with several methods gets one 405 fallback
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.authorize(rt))
		if !paths[rt.path] {
			paths[rt.path] = true
			mux.HandleFunc(rt.path, methodNotAllowed)
		}
	}
	s.registerUI(mux)
	mux.HandleFunc("/", notFound)
	tel := &telemetry.Server{Registry: deps.Registry, Health: health, Logger: s.log, Mux: mux}
	s.handler = s.instrument(tel.Handler())
	return s, nil
}

// Handler returns the API handler with its middleware (metrics, limits,
// security headers, panic recovery), for tests and embedding.
func (s *Service) Handler() http.Handler { return s.handler }

// Ready is closed once Run listens; Addr then returns the bound address.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Addr returns the address Run listens on, "" before it listens.
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run listens on cfg.Addr and serves until ctx ends, then shuts down
// gracefully, letting in-flight requests finish for a few seconds. It may be
// called once.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("console: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	var tlsConf *tls.Config
	if s.cfg.TLS != nil {
		var err error
		if tlsConf, err = s.cfg.TLS.serverConfig(s.log); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("console: listen %s: %w", s.cfg.Addr, err)
	}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      s.cfg.QueryTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConf,
	}
	srv.RegisterOnShutdown(s.streams.shutdown)
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("console API listening", "addr", s.addr, "scheme", scheme)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("console: serve %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("console: shutdown %s: %w", s.addr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: serve %s: %w", s.addr, err)
	}
	s.log.Info("console API stopped", "addr", s.addr)
	return nil
}

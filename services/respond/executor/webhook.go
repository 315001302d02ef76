package executor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"
)

// Webhook headers.
const (
	HeaderSignature   = "X-C981-Signature"
	HeaderTimestamp   = "X-C981-Timestamp"
	HeaderIdempotency = "Idempotency-Key"
	HeaderDryRun      = "X-C981-Dry-Run"
)

// WebhookConfig configures a notify or ticket webhook.
//
//	url: https://hooks.example.com/c981/notify
//	secret_env: C981_NOTIFY_SECRET
//	allowed_hosts: [hooks.example.com]
//	timeout: 10s
type WebhookConfig struct {
	// Name names the executor (notify, ticket).
	Name string `yaml:"name"`
	// URL is the destination; its host must be in AllowedHosts.
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature; required. It is never written
	// in the config file: SecretEnv names the environment variable that
	// holds it (see ResolveSecret).
	Secret string `yaml:"-"`
	// SecretEnv is the environment variable holding Secret.
	SecretEnv string `yaml:"secret_env"`
	// AllowedHosts is the destination allowlist (host or host:port).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Timeout bounds one request (10s when 0).
	Timeout time.Duration `yaml:"timeout"`
}

// ResolveSecret fills Secret from SecretEnv when it is empty.
func (c WebhookConfig) ResolveSecret() WebhookConfig {
	if c.Secret == "" && c.SecretEnv != "" {
		c.Secret = os.Getenv(c.SecretEnv)
	}
	return c
}

// Webhook posts steps to an allowlisted URL with an HMAC signature.
type Webhook struct {
	cfg    WebhookConfig
	client *http.Client
	now    func() time.Time
}

// NewWebhook validates cfg: the URL must be http(s), its host allowlisted,
// and a secret set.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Name == "" {
		cfg.Name = "webhook"
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: url: %w", cfg.Name, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("webhook %s: url scheme %q must be https or http", cfg.Name, u.Scheme)
	}
	if !slices.Contains(cfg.AllowedHosts, u.Host) && !slices.Contains(cfg.AllowedHosts, u.Hostname()) {
		return nil, fmt.Errorf("webhook %s: destination %s is not in allowed_hosts %v", cfg.Name, u.Host, cfg.AllowedHosts)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("webhook %s: a signing secret is required", cfg.Name)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		// A redirect could leave the allowlist: never follow one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Webhook{cfg: cfg, client: client, now: time.Now}, nil
}

// Name implements Executor.
func (w *Webhook) Name() string { return w.cfg.Name }

// Sign returns the signature header value of body sent at ts.
func Sign(secret string, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header in constant time; receivers use it.
func Verify(secret, ts string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// Execute implements Executor. In dry-run mode nothing is sent.
func (w *Webhook) Execute(ctx context.Context, job Job) (Result, error) {
	body, err := json.Marshal(job)
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: encode: %w", w.cfg.Name, err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	if job.DryRun {
		return Result{Detail: fmt.Sprintf("dry run: would POST %d bytes to %s", len(body), w.cfg.URL)}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, ts, body))
	req.Header.Set(HeaderIdempotency, job.Key)
	resp, err := w.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, fmt.Errorf("webhook %s: %s answered %s", w.cfg.Name, w.cfg.URL, resp.Status)
	}
	return Result{Detail: fmt.Sprintf("POST %s: %s", w.cfg.URL, resp.Status)}, nil
}

package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Transport protocols.
const (
	ProtoUDP = "udp"
	ProtoTCP = "tcp"
	ProtoTLS = "tls"
	// ProtoHTTP posts batches of records (text/plain, one per line) to an
	// ingest HTTP listener's /v1/events with a bearer token and an
	// Idempotency-Key, retrying each batch until it is acknowledged.
	ProtoHTTP = "http"
)

// Framing of stream transports (RFC 6587).
const (
	FramingNewline = "lf"    // non-transparent: records end with LF
	FramingOctet   = "octet" // octet counting: "LEN SP record" (RFC 5425)
)

// Config describes one load run.
type Config struct {
	// Addr is the receiver's host:port.
	Addr string
	// Proto is udp, tcp, tls or http.
	Proto string
	// Format is rfc5424, rfc3164, cef or mix.
	Format string
	// Profile is what the records describe: plant (the default when
	// empty: routine plant traffic with a Suspicious share of records the
	// OT rule pack alerts on) or stress (Line's records, nearly all of
	// which raise alerts).
	Profile string
	// Suspicious is the plant profile's share (0..1) of suspicious
	// records; 0 sends routine traffic only. c981 loadgen's default is
	// DefaultSuspicious.
	Suspicious float64
	// Framing is lf or octet for tcp and tls; default lf for tcp, octet
	// for tls.
	Framing string
	// Rate is the target rate in records per second; 0 sends as fast as
	// possible.
	Rate int
	// Count stops after this many records; Duration stops after this long.
	// At least one must be set; the first reached ends the run.
	Count    uint64
	Duration time.Duration
	// RunID tags every record.
	RunID string
	// FirstSeq is the sequence number of the first record; default 1.
	FirstSeq uint64
	// TLS is the client configuration of proto tls (and of http, for an
	// https URL).
	TLS *tls.Config
	// Token is the bearer token of proto http; required for it.
	Token string
	// Batch is the number of records per request of proto http; default
	// DefaultHTTPBatch.
	Batch int
	// Progress, when set, receives a progress line every ProgressEvery
	// (default 1 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Now returns the send time written into records; default time.Now.
	Now func() time.Time
}

// Result is the outcome of a run.
type Result struct {
	// Sent is the number of records written (and, for streams, flushed).
	Sent uint64
	// FirstSeq and LastSeq are the sequence numbers sent.
	FirstSeq, LastSeq uint64
	// Suspicious is the number of suspicious records sent (plant profile).
	Suspicious uint64
	// Elapsed is the time from the first write to the last flush.
	Elapsed time.Duration
}

// Rate is the achieved rate in records per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// String summarises the result.
func (r Result) String() string {
	return fmt.Sprintf("sent %d records (seq %d..%d) in %s: %.0f records/s", r.Sent, r.FirstSeq, r.LastSeq, r.Elapsed.Round(time.Millisecond), r.Rate())
}

// Validate reports the first problem of c.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("loadgen: addr is required")
	case c.Proto != ProtoUDP && c.Proto != ProtoTCP && c.Proto != ProtoTLS && c.Proto != ProtoHTTP:
		return fmt.Errorf("loadgen: proto %q must be udp, tcp, tls or http", c.Proto)
	case c.Proto == ProtoHTTP && c.Token == "":
		return errors.New("loadgen: proto http needs a bearer token")
	case c.Batch < 0:
		return errors.New("loadgen: batch must not be negative")
	case !ValidFormat(c.Format):
		return fmt.Errorf("loadgen: format %q must be rfc5424, rfc3164, cef or mix", c.Format)
	case c.Profile != "" && !ValidProfile(c.Profile):
		return fmt.Errorf("loadgen: profile %q must be plant or stress", c.Profile)
	case !(c.Suspicious >= 0 && c.Suspicious <= 1):
		return fmt.Errorf("loadgen: suspicious share %v must be between 0 and 1", c.Suspicious)
	case c.Framing != "" && c.Framing != FramingNewline && c.Framing != FramingOctet:
		return fmt.Errorf("loadgen: framing %q must be lf or octet", c.Framing)
	case c.Rate < 0:
		return errors.New("loadgen: rate must not be negative")
	case c.Count == 0 && c.Duration <= 0:
		return errors.New("loadgen: a count or a duration is required")
	case c.RunID == "":
		return errors.New("loadgen: run id is required")
	}
	for _, r := range c.RunID {
		if r == ' ' || r == '"' || r == ']' || r == '\\' || r < 0x21 || r > 0x7e {
			return fmt.Errorf("loadgen: run id %q must be printable ASCII without space, '\"', ']' or '\\'", c.RunID)
		}
	}
	return nil
}

// Run connects and sends until Count records are sent, Duration passed
// or ctx ends (which is not an error). It returns what was sent.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.FirstSeq == 0 {
		cfg.FirstSeq = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	if cfg.Framing == "" {
		cfg.Framing = FramingNewline
		if cfg.Proto == ProtoTLS {
			cfg.Framing = FramingOctet
		}
	}
	if cfg.Profile == "" {
		cfg.Profile = ProfilePlant
	}
	gen, err := NewGenerator(cfg.Profile, cfg.Suspicious)
	if err != nil {
		return Result{}, err
	}
	if cfg.Proto == ProtoHTTP {
		return runHTTP(ctx, cfg, gen)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	switch cfg.Proto {
	case ProtoTLS:
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{}
		}
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tc}).DialContext(ctx, "tcp", cfg.Addr)
	default:
		conn, err = d.DialContext(ctx, cfg.Proto, cfg.Addr)
	}
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: dial %s %s: %w", cfg.Proto, cfg.Addr, err)
	}
	defer conn.Close()

	var w *bufio.Writer
	if cfg.Proto != ProtoUDP {
		w = bufio.NewWriterSize(conn, 256<<10)
	}
	res := Result{FirstSeq: cfg.FirstSeq}
	clk := newClock(&cfg)
	start := clk.start
	buf := make([]byte, 0, 1024)
	line := make([]byte, 0, 1024)
	seq := cfg.FirstSeq
	// The rate is paced in slices of 1 ms: before each slice the sender
	// may have sent Rate*elapsed records.
	for {
		now, over := clk.tick(ctx, res.Sent, nil)
		if over {
			break
		}
		allowed := uint64(1 << 10)
		if cfg.Rate > 0 {
			due := uint64(now.Sub(start).Seconds()*float64(cfg.Rate)) + 1
			if due <= res.Sent {
				if w != nil && w.Buffered() > 0 {
					if err := w.Flush(); err != nil {
						return res, fmt.Errorf("loadgen: write: %w", err)
					}
				}
				time.Sleep(time.Millisecond)
				continue
			}
			allowed = min(due-res.Sent, allowed)
		}
		if cfg.Count > 0 {
			allowed = min(allowed, cfg.Count-res.Sent)
		}
		sent := cfg.Now()
		for range allowed {
			line = gen.Line(line[:0], cfg.Format, cfg.RunID, seq, sent)
			if w == nil {
				if _, err := conn.Write(line); err != nil {
					return res, fmt.Errorf("loadgen: send datagram: %w", err)
				}
			} else {
				buf = buf[:0]
				if cfg.Framing == FramingOctet {
					buf = strconv.AppendInt(buf, int64(len(line)), 10)
					buf = append(buf, ' ')
					buf = append(buf, line...)
				} else {
					buf = append(append(buf, line...), '\n')
				}
				if _, err := w.Write(buf); err != nil {
					return res, fmt.Errorf("loadgen: write: %w", err)
				}
			}
			if gen.IsSuspicious(cfg.RunID, seq) {
				res.Suspicious++
			}
			res.LastSeq = seq
			res.Sent++
			seq++
		}
	}
	if w != nil {
		if err := w.Flush(); err != nil {
			return res, fmt.Errorf("loadgen: write: %w", err)
		}
	}
	res.Elapsed = time.Since(start)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	return res, nil
}

// clock ends a run (count reached, duration passed or ctx ended) and prints
// its progress lines; the syslog and HTTP senders share it.
type clock struct {
	cfg          *Config
	start        time.Time
	deadline     time.Time
	nextProgress time.Time
	lastProgress uint64
}

func newClock(cfg *Config) *clock {
	c := &clock{cfg: cfg, start: time.Now()}
	if cfg.Duration > 0 {
		c.deadline = c.start.Add(cfg.Duration)
	}
	c.nextProgress = c.start.Add(cfg.ProgressEvery)
	return c
}

// tick returns the current time and whether the run is over after sent
// records, printing a progress line when one is due (with extra's text
// appended, when extra is not nil).
func (c *clock) tick(ctx context.Context, sent uint64, extra func() string) (time.Time, bool) {
	cfg := c.cfg
	if cfg.Count > 0 && sent >= cfg.Count {
		return time.Time{}, true
	}
	now := time.Now()
	if !c.deadline.IsZero() && !now.Before(c.deadline) || ctx.Err() != nil {
		return now, true
	}
	if cfg.Progress != nil && !now.Before(c.nextProgress) {
		more := ""
		if extra != nil {
			more = extra()
		}
		fmt.Fprintf(cfg.Progress, "loadgen %s: %d sent, %.0f records/s now, %.0f records/s average%s\n",
			cfg.RunID, sent, float64(sent-c.lastProgress)/cfg.ProgressEvery.Seconds(), float64(sent)/now.Sub(c.start).Seconds(), more)
		c.lastProgress = sent
		c.nextProgress = c.nextProgress.Add(cfg.ProgressEvery)
	}
	return now, false
}

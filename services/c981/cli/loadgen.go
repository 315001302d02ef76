package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/c981/loadgen"
	"github.com/c981/c981/services/shared/bus"
)

func init() {
	register("loadgen", "--addr HOST:PORT --proto udp|tcp|tls|http --format rfc5424|rfc3164|cef|mix --profile plant|stress --rate N --count N|--duration D [--verify-raw NATS_URL]: send sequence-numbered syslog load", loadgenCmd)
}

// loadgenCmd sends syslog load with run ids and sequence numbers
// (package loadgen), printing a progress line every second on stderr and
// the achieved rate and its own CPU time on stdout. With --verify-raw it
// then reads C981_RAW and reports every sequence number missing or
// duplicated, and the wall-clock rate until the last record was stored;
// it fails unless every record arrived exactly once.
func loadgenCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen", stderr)
	addr := fs.String("addr", "", "receiver host:port (required)")
	proto := fs.String("proto", loadgen.ProtoTCP, "transport: udp, tcp, tls or http (POST /v1/events, retried with an Idempotency-Key until acknowledged)")
	format := fs.String("format", loadgen.FormatMix, "record format: rfc5424, rfc3164, cef or mix")
	profile := fs.String("profile", loadgen.ProfilePlant, "what the records describe: plant (routine traffic of the demo plant, a --suspicious share of it alerting) or stress (nearly every record alerts; the records of earlier runs)")
	suspicious := fs.Float64("suspicious", loadgen.DefaultSuspicious, "plant profile: share (0..1) of suspicious records, which the OT rule pack alerts on")
	framing := fs.String("framing", "", "tcp/tls framing: lf or octet (default lf for tcp, octet for tls)")
	rate := fs.Int("rate", 0, "records per second; 0 sends as fast as possible")
	count := fs.Uint64("count", 0, "stop after this many records")
	duration := fs.Duration("duration", 0, "stop after this long")
	run := fs.String("run", "", "run id written into every record (default run-<unix time>)")
	first := fs.Uint64("first-seq", 1, "sequence number of the first record")
	caFile := fs.String("ca", "", "tls: PEM CA bundle that signs the server certificate")
	certFile := fs.String("cert", "", "tls: PEM client certificate (mutual TLS)")
	keyFile := fs.String("key", "", "tls: PEM client key (mutual TLS)")
	serverName := fs.String("server-name", "", "tls: expected server name (default the host of --addr)")
	insecure := fs.Bool("insecure", false, "tls: do not verify the server certificate (testing only)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	token := fs.String("token", "", "http: bearer token (default $C981_SENSOR_TOKEN)")
	batch := fs.Int("batch", loadgen.DefaultHTTPBatch, "http: records per request")
	verifyRaw := fs.String("verify-raw", "", "after sending, read C981_RAW at this NATS URL and check every sequence number arrived exactly once")
	verifyQuiet := fs.Duration("verify-quiet", 30*time.Second, "--verify-raw gives up when no message arrived for this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *addr == "" || (*count == 0 && *duration <= 0) {
		fmt.Fprintln(stderr, "usage: c981 loadgen --addr HOST:PORT [--proto udp|tcp|tls|http] [--format rfc5424|rfc3164|cef|mix] [--profile plant|stress] [--suspicious SHARE] [--rate N] --count N|--duration D [--run ID] [--verify-raw NATS_URL]")
		return errUsage
	}
	if *profile != loadgen.ProfilePlant {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "suspicious" })
		if set {
			fmt.Fprintf(stderr, "c981 loadgen: --suspicious applies to the plant profile only, not to %q\n", *profile)
			return errUsage
		}
	}
	if *run == "" {
		*run = "run-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	cfg := loadgen.Config{
		Addr: *addr, Proto: *proto, Format: *format, Profile: *profile, Suspicious: *suspicious, Framing: *framing, Rate: *rate,
		Count: *count, Duration: *duration, RunID: *run, FirstSeq: *first, Batch: *batch, Token: *token,
	}
	if cfg.Proto == loadgen.ProtoHTTP && cfg.Token == "" {
		cfg.Token = os.Getenv("C981_SENSOR_TOKEN")
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	if *proto == loadgen.ProtoTLS || *proto == loadgen.ProtoHTTP && strings.HasPrefix(*addr, "https://") {
		tc := &tls.Config{ServerName: *serverName, InsecureSkipVerify: *insecure} //nolint:gosec // opt-in for test set-ups
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return fmt.Errorf("loadgen: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("loadgen: %s holds no PEM certificate", *caFile)
			}
		}
		if *certFile != "" || *keyFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return fmt.Errorf("loadgen: client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		cfg.TLS = tc
	}
	cpu0 := processCPU()
	start := time.Now()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	prof := "profile stress"
	if cfg.Profile == loadgen.ProfilePlant {
		prof = fmt.Sprintf("profile plant, %d suspicious", res.Suspicious)
	}
	fmt.Fprintf(stdout, "loadgen run %s: %s (%s; loadgen CPU %.2f s)\n", *run, res, prof, (processCPU() - cpu0).Seconds())
	if *verifyRaw == "" || res.Sent == 0 {
		return nil
	}
	return verifyRawCmd(ctx, stdout, *verifyRaw, *run, res, start, *verifyQuiet)
}

// verifyRawCmd checks the run on C981_RAW and prints the report and the
// wall-clock rate from the load's start until its last record was stored.
func verifyRawCmd(ctx context.Context, stdout io.Writer, url, run string, res loadgen.Result, start time.Time, quiet time.Duration) error {
	nc, js, err := bus.Connect(url, "c981-loadgen-verify")
	if err != nil {
		return fmt.Errorf("loadgen: verify raw: %w", err)
	}
	defer nc.Close()
	rep, err := loadgen.VerifyRaw(ctx, js, run, res.FirstSeq, res.LastSeq, quiet)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	fmt.Fprintln(stdout, rep)
	if !rep.OK() {
		return fmt.Errorf("loadgen: run %s: %d missing, %d duplicated, %d outside the range on C981_RAW", run, rep.Missing, rep.Duplicated, rep.Outside)
	}
	if d := rep.LastStored.Sub(start); d > 0 {
		fmt.Fprintf(stdout, "all %d records stored in C981_RAW %s after the first was sent: %.0f events/s wall-clock, 0 lost, 0 duplicated\n",
			rep.Events, d.Round(time.Millisecond), float64(rep.Events)/d.Seconds())
	}
	return nil
}

package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/c981/c981/services/c981/loadgen"
)

func init() {
	register("loadgen", "--addr HOST:PORT --proto udp|tcp|tls --format rfc5424|rfc3164|cef|mix --rate N --count N|--duration D: send sequence-numbered syslog load", loadgenCmd)
}

// loadgenCmd sends syslog load with run ids and sequence numbers
// (package loadgen), printing a progress line every second on stderr and
// the achieved rate on stdout.
func loadgenCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen", stderr)
	addr := fs.String("addr", "", "receiver host:port (required)")
	proto := fs.String("proto", loadgen.ProtoTCP, "transport: udp, tcp or tls")
	format := fs.String("format", loadgen.FormatMix, "record format: rfc5424, rfc3164, cef or mix")
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *addr == "" || (*count == 0 && *duration <= 0) {
		fmt.Fprintln(stderr, "usage: c981 loadgen --addr HOST:PORT [--proto udp|tcp|tls] [--format rfc5424|rfc3164|cef|mix] [--rate N] --count N|--duration D [--run ID]")
		return errUsage
	}
	if *run == "" {
		*run = "run-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	cfg := loadgen.Config{
		Addr: *addr, Proto: *proto, Format: *format, Framing: *framing, Rate: *rate,
		Count: *count, Duration: *duration, RunID: *run, FirstSeq: *first,
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	if *proto == loadgen.ProtoTLS {
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
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loadgen run %s: %s\n", *run, res)
	return nil
}

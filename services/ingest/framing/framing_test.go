package framing

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// result is one outcome of Next: a record or a framing failure reason.
type result struct {
	rec    string
	reason Reason
	fatal  bool
}

func readAll(t *testing.T, r *Reader) ([]result, error) {
	t.Helper()
	var out []result
	for range 1000 {
		rec, err := r.Next()
		var fe *FrameError
		switch {
		case err == nil:
			out = append(out, result{rec: string(rec)})
		case errors.As(err, &fe):
			out = append(out, result{reason: fe.Reason, fatal: fe.Fatal})
			if fe.Fatal {
				return out, nil
			}
		default:
			return out, err
		}
	}
	t.Fatal("reader did not end")
	return nil, nil
}

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name string
		in   string
		mode Mode
		want []result
	}{
		{"newline LF", "<1>a\n<2>b\n", ModeNonTransparent, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"newline CRLF and empty lines", "<1>a\r\n\n\r\n<2>b\r\n", ModeNonTransparent, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"last line without LF", "<1>a\n<2>b", ModeNonTransparent, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"octet counting", "4 <1>a4 <2>b", ModeOctetCounting, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"octet counting keeps LF inside", "6 <1>a\nb3 <2>", ModeOctetCounting, []result{{rec: "<1>a\nb"}, {rec: "<2>"}}},
		{"octet counting with trailing LF", "4 <1>a\n4 <2>b\n", ModeOctetCounting, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"octet counting with trailing CRLF", "4 <1>a\r\n4 <2>b\r\n", ModeOctetCounting, []result{{rec: "<1>a"}, {rec: "<2>b"}}},
		{"line too long is skipped", "<1>a\n" + long + "\n<2>b\n", ModeNonTransparent, []result{{rec: "<1>a"}, {reason: ReasonTooLong}, {rec: "<2>b"}}},
		{"octet count too large but skippable", "40 " + long + "4 <2>b", ModeOctetCounting, []result{{reason: ReasonTooLong}, {rec: "<2>b"}}},
		{"octet count beyond skip limit", "4 <1>a999999 " + long, ModeOctetCounting, []result{{rec: "<1>a"}, {reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count zero", "0 <1>a", ModeOctetCounting, []result{{reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count leading zero", "04 <1>a", ModeOctetCounting, []result{{reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count negative mid-stream", "4 <1>a-4 <1>a", ModeOctetCounting, []result{{rec: "<1>a"}, {reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count non-digits", "4x <1>a", ModeOctetCounting, []result{{reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count 1000 digits", strings.Repeat("9", 1000) + " x", ModeOctetCounting, []result{{reason: ReasonBadOctetCount, fatal: true}}},
		{"octet count without space at EOF", "12", ModeOctetCounting, []result{{reason: ReasonTruncated, fatal: true}}},
		{"octet frame truncated", "10 <1>a", ModeOctetCounting, []result{{reason: ReasonTruncated, fatal: true}}},
		{"TLS ClientHello on plain port", "\x16\x03\x01\x00\xa5\x01\x00\x00", ModeUnknown, []result{{reason: ReasonTLSOnPlainPort, fatal: true}}},
		{"negative count on first byte is newline framing", "-4 <1>a\n", ModeNonTransparent, []result{{rec: "-4 <1>a"}}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"halves":   func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, newR := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				r := NewReader(newR(tt.in), Options{MaxBytes: 32, MaxSkip: 64, RejectTLS: true})
				got, err := readAll(t, r)
				if err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error %v after %v", err, got)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("result %d = %+v, want %+v", i, got[i], tt.want[i])
					}
				}
				if r.Mode() != tt.mode {
					t.Errorf("mode = %v, want %v", r.Mode(), tt.mode)
				}
			})
		}
	}
}

func TestReaderTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		write func(c net.Conn)
		want  func(err error) bool
	}{
		{"idle", func(c net.Conn) {}, func(err error) bool { return errors.Is(err, ErrIdle) }},
		{"slowloris line", func(c net.Conn) {
			for range 10 {
				if _, err := c.Write([]byte("<")); err != nil {
					return
				}
				time.Sleep(40 * time.Millisecond)
			}
		}, func(err error) bool {
			var fe *FrameError
			return errors.As(err, &fe) && fe.Reason == ReasonSlowClient && fe.Fatal && len(fe.Head) > 0
		}},
		{"slowloris octet frame", func(c net.Conn) {
			_, _ = c.Write([]byte("100 <1>"))
		}, func(err error) bool {
			var fe *FrameError
			return errors.As(err, &fe) && fe.Reason == ReasonSlowClient
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			go tt.write(b)
			r := NewReader(a, Options{MaxBytes: 1024, IdleTimeout: 100 * time.Millisecond, FrameTimeout: 150 * time.Millisecond})
			start := time.Now()
			_, err := r.Next()
			if !tt.want(err) {
				t.Fatalf("Next error = %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

// FuzzReader checks that any byte stream is either split into records no
// longer than MaxBytes or ends with a classified failure, without panics or
// endless loops.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"<1>a\n<2>b\n", "4 <1>a4 <2>b", "0 x", "-1 x", "99999999999 x", "\x16\x03\x01", "12", "5 abc",
		"<1>a\r\n\x00\n", "40 " + strings.Repeat("y", 40),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(strings.NewReader(string(data)), Options{MaxBytes: 32, MaxSkip: 64, RejectTLS: true})
		for range len(data) + 2 {
			rec, err := r.Next()
			if err != nil {
				var fe *FrameError
				if errors.As(err, &fe) {
					if len(fe.Head) > 32+70 {
						t.Fatalf("head of %d bytes", len(fe.Head))
					}
					if !fe.Fatal {
						continue
					}
				}
				return
			}
			if len(rec) == 0 || len(rec) > 32 {
				t.Fatalf("record of %d bytes", len(rec))
			}
		}
		t.Fatalf("reader did not end on %d bytes", len(data))
	})
}

func BenchmarkReader(b *testing.B) {
	line := "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write c981load run=x seq=1234567 padding-to-three-hundred-bytes-padding-to-three-hundred-bytes-padding-to-three-hundred-bytes\n"
	data := strings.Repeat(line, 1000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := NewReader(strings.NewReader(data), Options{MaxBytes: 64 << 10})
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/event"
)

// lineSource reads raw records, one per line, from files or stdin.
type lineSource struct {
	files []string
	stdin io.Reader
}

// each calls fn for every line with its file name and 1-based line number.
func (s lineSource) each(fn func(name string, lineNo int, line []byte) error) error {
	read := func(name string, r io.Reader) error {
		br := bufio.NewReaderSize(r, 64<<10)
		n := 0
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				n++
				line = bytes.TrimRight(line, "\r\n")
				if len(line) > 0 {
					if ferr := fn(name, n, line); ferr != nil {
						return ferr
					}
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
	}
	if len(s.files) == 0 {
		return read("-", s.stdin)
	}
	for _, f := range s.files {
		fh, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("open %s: %w", f, err)
		}
		err = read(f, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// offlineParser returns the parser used by parse and analyze: transport
// "file", source "file", event ids derived from file name and line number.
func offlineParser(format, siteID string, now time.Time) (*syslog.Parser, error) {
	f := syslog.Format(format)
	if !f.Valid() {
		return nil, fmt.Errorf("unknown --format %q (want %s)", format, formatList())
	}
	return syslog.NewParser(syslog.Options{
		Format: f, Site: siteID, Source: "file", Transport: "file",
		Now: func() time.Time { return now },
	}), nil
}

// formatList names the formats --format accepts.
func formatList() string {
	names := make([]string, len(syslog.Formats))
	for i, f := range syslog.Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

func parseLine(p *syslog.Parser, name string, lineNo int, line []byte, now time.Time) (event.Event, error) {
	return p.Parse(line, event.NewID("file", name, strconv.Itoa(lineNo)), "", now)
}

func parseCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("parse", stderr)
	format := fs.String("format", "auto", formatList())
	siteID := fs.String("site-id", "", "site id stamped on every event")
	nowFlag := fs.String("now", "", "reference time (RFC 3339) for receipt time and RFC 3164 years; default now")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: c981 parse [--format %s] [--site-id ID] [FILE...]\n\nOne normalized event JSON per line on stdout; unparseable lines on stderr with their line number and reason; a summary at the end. auto detects the format of each line (docs/FORMATS.md).\n", strings.ReplaceAll(formatList(), ", ", "|"))
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	now, err := refTime(*nowFlag)
	if err != nil {
		return err
	}
	p, err := offlineParser(*format, *siteID, now)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var good, bad int
	err = lineSource{files: fs.Args(), stdin: stdin}.each(func(name string, n int, line []byte) error {
		ev, perr := parseLine(p, name, n, line, now)
		if perr != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: %v\n", name, n, perr)
			return nil
		}
		good++
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	fmt.Fprintf(stderr, "parsed %d lines: %d events, %d errors\n", good+bad, good, bad)
	return err
}

func refTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now: %w", err)
	}
	return t.UTC(), nil
}

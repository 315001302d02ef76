package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Mode is the framing of a connection.
type Mode int

// Framing modes. ModeUnknown is the mode before the first byte arrived.
const (
	ModeUnknown Mode = iota
	ModeOctetCounting
	ModeNonTransparent
)

// String returns the RFC 6587 name of m.
func (m Mode) String() string {
	switch m {
	case ModeOctetCounting:
		return "octet-counting"
	case ModeNonTransparent:
		return "non-transparent"
	}
	return "unknown"
}

// Reason is a short, stable label for a framing failure, used as a metric
// label value and in dead letters.
type Reason string

// Framing failure reasons.
const (
	// ReasonTooLong: the record exceeds the maximum size. Recoverable: the
	// record is skipped (its head is returned in FrameError.Head).
	ReasonTooLong Reason = "too_long"
	// ReasonBadOctetCount: the MSG-LEN of an octet-counted frame is not a
	// positive decimal number without leading zeros followed by a space, or
	// is too large to skip. Fatal.
	ReasonBadOctetCount Reason = "bad_octet_count"
	// ReasonTruncated: the stream ended inside a record (octet-counted
	// frame shorter than its MSG-LEN, or a last line without LF that is
	// returned normally is not an error). Fatal (the stream ended).
	ReasonTruncated Reason = "truncated_frame"
	// ReasonSlowClient: a record did not complete within the frame
	// timeout (slowloris). Fatal.
	ReasonSlowClient Reason = "slow_client"
	// ReasonTLSOnPlainPort: the connection starts with a TLS handshake
	// record on a plain TCP port. Fatal.
	ReasonTLSOnPlainPort Reason = "tls_on_plain_port"
)

// FrameError is a framing failure. Head holds the first bytes of the
// offending data (at most the maximum record size) for the dead letter.
type FrameError struct {
	Reason Reason
	Detail string
	Head   []byte
	// Fatal is true when the stream cannot be resynchronized and the
	// connection must be closed.
	Fatal bool
}

// Error implements error.
func (e *FrameError) Error() string { return string(e.Reason) + ": " + e.Detail }

// ErrIdle is returned by Next when no record started within the idle
// timeout. It is not a bad input: the caller just closes the connection.
var ErrIdle = errors.New("idle timeout")

// Options configure a Reader.
type Options struct {
	// MaxBytes is the maximum record size (required, > 0).
	MaxBytes int
	// MaxSkip is the largest octet count that is skipped to stay in sync
	// when it exceeds MaxBytes; larger counts are ReasonBadOctetCount.
	// 0 means 16*MaxBytes.
	MaxSkip int
	// IdleTimeout bounds the wait for the first byte of a record; 0 means
	// no limit. It needs an underlying reader with SetReadDeadline.
	IdleTimeout time.Duration
	// FrameTimeout bounds the time from a record's first byte to its last;
	// 0 means no limit.
	FrameTimeout time.Duration
	// RejectTLS makes a connection whose first bytes are a TLS handshake
	// record fail with ReasonTLSOnPlainPort.
	RejectTLS bool
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// timedReader sets the read deadline before each read of the underlying
// connection: the idle deadline while no record has started, the frame
// deadline (fixed at the record's start) while one is in progress.
type timedReader struct {
	r        io.Reader
	d        deadliner
	idle     time.Duration
	frame    time.Duration
	inFrame  bool
	start    time.Time
	deadline time.Time
}

func (t *timedReader) Read(p []byte) (int, error) {
	if t.d != nil {
		var dl time.Time
		switch {
		case t.inFrame && t.frame > 0:
			dl = t.start.Add(t.frame)
		case !t.inFrame && t.idle > 0:
			dl = time.Now().Add(t.idle)
		}
		if !dl.Equal(t.deadline) {
			if err := t.d.SetReadDeadline(dl); err != nil {
				return 0, err
			}
			t.deadline = dl
		}
	}
	return t.r.Read(p)
}

// Reader reads records from a stream. It is not safe for concurrent use.
type Reader struct {
	opts Options
	t    *timedReader
	br   *bufio.Reader
	mode Mode
	n    int // records returned, for positions
}

// NewReader returns a Reader of r. When r has SetReadDeadline (net.Conn),
// the idle and frame timeouts are applied.
func NewReader(r io.Reader, opts Options) *Reader {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 10
	}
	if opts.MaxSkip <= 0 {
		opts.MaxSkip = 16 * opts.MaxBytes
	}
	t := &timedReader{r: r, idle: opts.IdleTimeout, frame: opts.FrameTimeout}
	if d, ok := r.(deadliner); ok && (opts.IdleTimeout > 0 || opts.FrameTimeout > 0) {
		t.d = d
	}
	// Room for a whole record plus its length prefix or CR LF, so that a
	// record is returned without copying.
	return &Reader{opts: opts, t: t, br: bufio.NewReaderSize(t, opts.MaxBytes+16)}
}

// Mode returns the connection's framing (ModeUnknown before the first byte).
func (r *Reader) Mode() Mode { return r.mode }

// Records returns the 1-based position of the last record (or failure)
// Next returned: its line number with newline framing (empty lines
// count), its frame number with octet counting.
func (r *Reader) Records() int { return r.n }

// Next returns the next record without its framing. The slice is valid
// until the next call. At the end of the stream it returns io.EOF; when no
// record starts within the idle timeout, ErrIdle; a framing failure is a
// *FrameError; other errors come from the connection.
func (r *Reader) Next() ([]byte, error) {
	for {
		rec, err := r.next()
		if err == nil && len(rec) == 0 {
			r.n++
			continue // empty line between records
		}
		if err == nil {
			r.n++
		} else if _, ok := err.(*FrameError); ok {
			r.n++
		}
		return rec, err
	}
}

func (r *Reader) next() ([]byte, error) {
	r.t.inFrame = false
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, r.idleErr(err)
		}
	}
	r.t.inFrame = true
	r.t.start = time.Now()
	if r.mode == ModeUnknown {
		if err := r.detect(); err != nil {
			return nil, err
		}
	}
	if r.mode == ModeOctetCounting {
		return r.octet()
	}
	return r.line()
}

// detect chooses the framing from the first byte of the connection.
func (r *Reader) detect() error {
	if r.opts.RejectTLS {
		// A TLS record header: content type 22 (handshake), version 3.x.
		if b, _ := r.br.Peek(3); len(b) >= 2 && b[0] == 0x16 && b[1] == 0x03 {
			head, _ := r.br.Peek(min(r.br.Buffered(), 64))
			return &FrameError{Reason: ReasonTLSOnPlainPort, Detail: "the client sent a TLS handshake to a plain TCP syslog port (use the TLS listener)", Head: bytes.Clone(head), Fatal: true}
		}
	}
	b, _ := r.br.Peek(1)
	if b[0] >= '0' && b[0] <= '9' {
		r.mode = ModeOctetCounting
	} else {
		r.mode = ModeNonTransparent
	}
	return nil
}

// maxCountDigits is the longest MSG-LEN accepted (up to 999,999,999).
const maxCountDigits = 9

func (r *Reader) octet() ([]byte, error) {
	var digits [maxCountDigits + 1]byte
	nd := 0
	// Skip the LF or CR LF some senders put after each frame; a frame
	// whose count is followed by nothing else is the end of the stream.
	for {
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, r.idleErr(err)
		}
		if b[0] != '\n' && b[0] != '\r' {
			break
		}
		_, _ = r.br.Discard(1)
		if r.br.Buffered() == 0 {
			r.t.inFrame = false // wait for the next frame as idle
		}
	}
	if !r.t.inFrame {
		r.t.inFrame, r.t.start = true, time.Now()
	}
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &FrameError{Reason: ReasonTruncated, Detail: fmt.Sprintf("stream ended inside the octet count %q", digits[:nd]), Head: bytes.Clone(digits[:nd]), Fatal: true}
			}
			return nil, r.frameErr(err, digits[:nd])
		}
		if c == ' ' {
			break
		}
		bad := func(detail string) ([]byte, error) {
			head := append(bytes.Clone(digits[:nd]), c)
			more, _ := r.br.Peek(min(r.br.Buffered(), 64))
			head = append(head, more...)
			return nil, &FrameError{Reason: ReasonBadOctetCount, Detail: detail, Head: head, Fatal: true}
		}
		switch {
		case c < '0' || c > '9':
			if nd == 0 {
				return bad(fmt.Sprintf("octet-counted frame starts with %q, not a digit", c))
			}
			return bad(fmt.Sprintf("octet count %q followed by %q, not a space", digits[:nd], c))
		case nd == 0 && c == '0':
			return bad("octet count starts with 0 (zero or leading zero)")
		case nd == maxCountDigits:
			return bad(fmt.Sprintf("octet count has more than %d digits", maxCountDigits))
		}
		digits[nd] = c
		nd++
	}
	if nd == 0 {
		return nil, &FrameError{Reason: ReasonBadOctetCount, Detail: "empty octet count", Head: []byte(" "), Fatal: true}
	}
	n, _ := strconv.Atoi(string(digits[:nd]))
	if n > r.opts.MaxBytes {
		if n > r.opts.MaxSkip {
			head, _ := r.br.Peek(min(r.br.Buffered(), 64))
			return nil, &FrameError{Reason: ReasonBadOctetCount, Detail: fmt.Sprintf("octet count %d exceeds the largest skippable size %d", n, r.opts.MaxSkip), Head: append(append(bytes.Clone(digits[:nd]), ' '), head...), Fatal: true}
		}
		head, err := r.br.Peek(r.opts.MaxBytes)
		head = bytes.Clone(head)
		if err != nil {
			return nil, r.eofInFrame(err, n, head)
		}
		if _, err := r.br.Discard(n); err != nil {
			return nil, r.eofInFrame(err, n, head)
		}
		return nil, &FrameError{Reason: ReasonTooLong, Detail: fmt.Sprintf("record is %d bytes, maximum is %d (payload keeps the first %d)", n, r.opts.MaxBytes, r.opts.MaxBytes), Head: head}
	}
	rec, err := r.br.Peek(n)
	if err != nil {
		return nil, r.eofInFrame(err, n, bytes.Clone(rec))
	}
	// Discard only: no further read may refill the buffer while rec,
	// which points into it, is in use. A trailing LF that some senders add
	// after a frame is skipped before the next frame.
	_, _ = r.br.Discard(n) // cannot fail: n bytes are buffered
	return rec, nil
}

func (r *Reader) eofInFrame(err error, n int, head []byte) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FrameError{Reason: ReasonTruncated, Detail: fmt.Sprintf("stream ended after %d of %d octets", len(head), n), Head: head, Fatal: true}
	}
	return r.frameErr(err, head)
}

func (r *Reader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := bytes.Clone(b[:r.opts.MaxBytes])
		size := len(b)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = r.br.ReadSlice('\n')
			size += len(b)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, r.frameErr(err, head)
		}
		size -= len(b) - len(bytes.TrimRight(b, "\r\n"))
		return nil, &FrameError{Reason: ReasonTooLong, Detail: fmt.Sprintf("record is %d bytes, maximum is %d (payload keeps the first %d)", size, r.opts.MaxBytes, r.opts.MaxBytes), Head: head}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			return nil, r.frameErr(err, bytes.Clone(b))
		}
		if len(b) == 0 {
			return nil, io.EOF
		}
		// The last record without its LF: accepted as complete.
	}
	rec := trimLine(b)
	if len(rec) > r.opts.MaxBytes {
		return nil, &FrameError{Reason: ReasonTooLong, Detail: fmt.Sprintf("record is %d bytes, maximum is %d (payload keeps the first %d)", len(rec), r.opts.MaxBytes, r.opts.MaxBytes), Head: bytes.Clone(rec[:r.opts.MaxBytes])}
	}
	return rec, nil
}

func trimLine(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// idleErr maps an error while waiting for a record's first byte.
func (r *Reader) idleErr(err error) error {
	if isTimeout(err) {
		return ErrIdle
	}
	return err
}

// frameErr maps an error inside a record: a timeout is a slow client.
func (r *Reader) frameErr(err error, head []byte) error {
	if isTimeout(err) {
		return &FrameError{Reason: ReasonSlowClient, Detail: fmt.Sprintf("record not complete within %s (%d bytes received)", r.opts.FrameTimeout, len(head)), Head: head, Fatal: true}
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

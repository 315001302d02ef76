package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/event"
)

// ErrPoison marks a message that can never be processed (bad encoding, a
// record that violates the contract). Consume dead-letters it with the
// reason and terminates it instead of redelivering it forever.
var ErrPoison = errors.New("poison message")

// Poison wraps err so that errors.Is(err, ErrPoison) holds.
func Poison(err error) error { return fmt.Errorf("%w: %w", ErrPoison, err) }

// Connect dials NATS with unlimited reconnects and returns the connection and
// its JetStream handle; extra options (e.g. TLS.Options) are applied last.
func Connect(url, name string, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats %s: %w", Redact(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream %s: %w", Redact(url), err)
	}
	return nc, js, nil
}

// Redact returns the NATS server URL list with passwords and tokens
// replaced by "xxxxx", for logs and errors.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = neturl.User("xxxxx") // a bare user part is a token
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

// EnsureStreams creates or updates every C-981 stream. The sources of an
// existing stream are kept: they are provisioned topology (central's
// C981_RAW sourcing each site's JetStream domain, see `c981 nats-provision
// --sites`), not stage settings, so a stage starting alone never cuts a
// site off.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, cfg := range StreamConfigs(o) {
		if cfg.Sources == nil {
			s, err := js.Stream(ctx, cfg.Name)
			switch {
			case err == nil:
				cfg.Sources = s.CachedInfo().Config.Sources
			case !errors.Is(err, jetstream.ErrStreamNotFound):
				return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
			}
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// CheckStreams verifies that every C-981 stream exists, without creating or
// changing any: for stages whose NATS user may not manage streams (a
// provisioning job owns them, see `c981 nats-provision`).
func CheckStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range StreamConfigs(DefaultStreamOptions()) {
		if _, err := js.Stream(ctx, cfg.Name); err != nil {
			return fmt.Errorf("stream %s: %w (provision the streams first: c981 nats-provision)", cfg.Name, err)
		}
	}
	return nil
}

// BatchMsg is the bus message of one encoded batch of count records: data
// with the encoding and count headers (HeaderEncoding, HeaderCount).
func BatchMsg(subject string, count int, data []byte) *nats.Msg {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(HeaderEncoding, event.Encoding)
	msg.Header.Set(HeaderCount, strconv.Itoa(count))
	return msg
}

// AwaitPubAck waits for the acknowledgement of a pipelined publish
// (PublishMsgAsync): nil once it is acknowledged, else the publish's
// error, an error naming wait when expired (a timer's channel set to wait)
// fires first, or ctx's error.
func AwaitPubAck(ctx context.Context, f jetstream.PubAckFuture, expired <-chan time.Time, wait time.Duration) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-expired:
		return errors.New("no publish acknowledgement within " + wait.String())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Publish sends one batch with a deterministic message id and waits for the
// server's acknowledgement. Timeouts and missing responders (leader
// elections, restarts) are retried with the same id until ctx ends, so the
// batch is stored once. Other errors (stream full, too large) are returned.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, count int, data []byte) error {
	msg := BatchMsg(subject, count, data)
	backoff := 50 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID(msgID), jetstream.WithRetryAttempts(5), jetstream.WithRetryWait(200*time.Millisecond))
		cancel()
		if err == nil {
			return nil
		}
		if !retriable(err) || ctx.Err() != nil {
			return fmt.Errorf("publish %s (%s): %w", subject, msgID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish %s (%s): %w", subject, msgID, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func retriable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// PublishRecords encodes records as one batch and publishes it.
func PublishRecords[T any](ctx context.Context, js jetstream.JetStream, subject, msgID string, recs []T) error {
	data, err := event.Marshal(recs)
	if err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return Publish(ctx, js, subject, msgID, len(recs), data)
}

// DeadLetter publishes dead letters to the stage's DLQ subject. The message
// id is derived from the dead letters' ids.
func DeadLetter(ctx context.Context, js jetstream.JetStream, stage string, dls []event.DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	id := event.NewID("dlq", stage, dls[0].ID, dls[len(dls)-1].ID, strconv.Itoa(len(dls)))
	return PublishRecords(ctx, js, DLQSubject(stage), id, dls)
}

// Handler processes one bus message. It returns nil once the message's
// effect is durable (published downstream with a PubAck, or stored), an
// error wrapping ErrPoison for a message that can never succeed, or any
// other error to have it redelivered after a delay.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ConsumeOptions tune Consume.
type ConsumeOptions struct {
	// Stage is used for the dead-letter subject and logs.
	Stage string
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// RetryDelay is the redelivery delay after a transient error.
	RetryDelay time.Duration
	// OnPoison is called for each poison message before it is terminated
	// (for metrics); optional.
	OnPoison func(msg jetstream.Msg, err error)
	// OnFinal is called for each message whose handler failed on its final
	// delivery (the consumer's MaxDeliver), before it is dead-lettered and
	// terminated (for metrics); optional.
	OnFinal func(msg jetstream.Msg, err error)
	// PullMaxBytes, when positive, bounds each pull of the (at most 64)
	// messages buffered but not yet handled to this many bytes (see
	// PullBudget; raised to MinPullBytes); 0 pulls 64 messages whatever
	// their size.
	PullMaxBytes int
}

// Consume reads the consumer's messages one at a time and calls h for each,
// until ctx ends. A message is acknowledged only after h returns nil. A
// poison message is dead-lettered with the reason and terminated; any other
// error naks it with a delay so it is redelivered, except on the message's
// final delivery (NumDelivered reached the consumer's MaxDeliver): then it
// is dead-lettered with the reason of that last failure and terminated, so
// a message that fails forever does not block the stream.
func Consume(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, h Handler, o ConsumeOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	maxDeliver := 0
	if info := cons.CachedInfo(); info != nil && info.Config.MaxDeliver > 0 {
		maxDeliver = info.Config.MaxDeliver
	}
	var pull jetstream.PullMessagesOpt = jetstream.PullMaxMessages(64)
	if o.PullMaxBytes > 0 {
		pull = PullBudget(64, o.PullMaxBytes)
	}
	it, err := cons.Messages(pull)
	if err != nil {
		return fmt.Errorf("consume %s: %w", o.Stage, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.Warn("consumer next", "stage", o.Stage, "err", err)
			continue
		}
		herr := h(ctx, msg)
		switch {
		case herr == nil:
			if err := msg.Ack(); err != nil {
				log.Warn("ack", "stage", o.Stage, "err", err)
			}
		case errors.Is(herr, ErrPoison):
			if o.OnPoison != nil {
				o.OnPoison(msg, herr)
			}
			if _, final := finalDelivery(msg, maxDeliver); final {
				// A nak would not bring it back: retry the dead letter.
				if !deadLetterFinal(ctx, js, o, log, msg, herr) {
					return nil
				}
				continue
			}
			if err := deadLetterMsg(ctx, js, o.Stage, msg, herr); err != nil {
				log.Error("dead-letter poison message; will retry", "stage", o.Stage, "err", err)
				_ = msg.NakWithDelay(o.RetryDelay)
				continue
			}
			log.Warn("poison message dead-lettered", "stage", o.Stage, "subject", msg.Subject(), "err", herr)
			if err := msg.Term(); err != nil {
				log.Warn("term", "stage", o.Stage, "err", err)
			}
		default:
			if ctx.Err() != nil {
				_ = msg.Nak()
				return nil
			}
			if n, final := finalDelivery(msg, maxDeliver); final {
				cause := fmt.Errorf("failed on delivery %d of at most %d: %w", n, maxDeliver, herr)
				if o.OnFinal != nil {
					o.OnFinal(msg, cause)
				}
				if !deadLetterFinal(ctx, js, o, log, msg, cause) {
					return nil
				}
				continue
			}
			log.Warn("handler failed; message will be redelivered", "stage", o.Stage, "subject", msg.Subject(), "err", herr)
			_ = msg.NakWithDelay(o.RetryDelay)
		}
	}
}

// finalDelivery reports whether msg is on its last delivery under
// maxDeliver (0 = unlimited), and its delivery count.
func finalDelivery(msg jetstream.Msg, maxDeliver int) (uint64, bool) {
	if maxDeliver <= 0 {
		return 0, false
	}
	md, err := msg.Metadata()
	if err != nil {
		return 0, false
	}
	return md.NumDelivered, md.NumDelivered >= uint64(maxDeliver)
}

// deadLetterFinal dead-letters a message that failed on its final delivery
// and terminates it. JetStream will not redeliver it, so the dead-letter
// publish is retried (the message kept leased with InProgress) until it
// succeeds or ctx ends; it returns false when ctx ended first.
func deadLetterFinal(ctx context.Context, js jetstream.JetStream, o ConsumeOptions, log *slog.Logger, msg jetstream.Msg, cause error) bool {
	for {
		err := deadLetterMsg(ctx, js, o.Stage, msg, cause)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			log.Error("dead-letter of a message on its final delivery interrupted by shutdown", "stage", o.Stage, "subject", msg.Subject(), "err", err, "cause", cause)
			return false
		}
		log.Error("dead-letter message on its final delivery; retrying", "stage", o.Stage, "err", err)
		_ = msg.InProgress()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(o.RetryDelay):
		}
	}
	log.Warn("message failed on its final delivery; dead-lettered", "stage", o.Stage, "subject", msg.Subject(), "err", cause)
	if err := msg.Term(); err != nil {
		log.Warn("term", "stage", o.Stage, "err", err)
	}
	return true
}

func deadLetterMsg(ctx context.Context, js jetstream.JetStream, stage string, msg jetstream.Msg, cause error) error {
	pos := msg.Subject()
	if md, err := msg.Metadata(); err == nil {
		pos = fmt.Sprintf("%s seq %d", md.Stream, md.Sequence.Stream)
	}
	dl := event.DeadLetter{
		ID:       event.NewID("dlq-msg", stage, pos),
		Time:     time.Now().UTC(),
		Stage:    stage,
		Reason:   cause.Error(),
		Payload:  string(msg.Data()),
		Position: pos,
	}
	return DeadLetter(ctx, js, stage, []event.DeadLetter{dl})
}

// MsgID returns a deterministic id for a message derived from an input
// message: the input's stream and sequence plus a suffix naming the output.
// A redelivered input therefore produces outputs with the same ids.
func MsgID(in jetstream.Msg, suffix string) string {
	md, err := in.Metadata()
	if err != nil {
		return event.NewID("nometa", in.Subject(), string(in.Data()), suffix)
	}
	return md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10) + ":" + suffix
}

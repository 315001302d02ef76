package bus

import (
	"github.com/nats-io/nats.go/jetstream"
)

// Pull budgets. A consumer that pulls by message count holds up to that
// many messages in the client (and the server copies as many out of its
// block cache to send them) whatever their size: with batches of up to the
// streams' 8 MiB limit, 64 messages may be half a gigabyte. A byte budget
// bounds that memory instead; the consumer's MaxAckPending still bounds
// the count.
const (
	// PullOverhead is what one message costs in a pull budget on top of its
	// payload: subject, reply subject and headers.
	PullOverhead = 64 << 10
	// MinPullBytes is the smallest usable pull budget: one message of the
	// default stream limit (StreamOptions.MaxMsgSize, 8 MiB) with its
	// overhead. A smaller budget would stall the consumer on a large
	// message (the server never sends a message bigger than the request's
	// max_bytes).
	MinPullBytes = 8<<20 + PullOverhead
	// DefaultPullMaxBytes is the default byte budget of a consumer's
	// pulled-but-unprocessed messages: 32 MiB, a few ingest batches of
	// 1 MiB or enriched batches of ~1.4 MiB and still one message of the
	// maximum size.
	DefaultPullMaxBytes = 32 << 20
)

// PullBytes returns the usable pull budget for maxBytes: DefaultPullMaxBytes
// when maxBytes is 0, at least MinPullBytes and at least one message of
// maxMsgSize (the stream's limit; 0 means the default 8 MiB) with its
// overhead.
func PullBytes(maxBytes int, maxMsgSize int32) int {
	if maxBytes <= 0 {
		maxBytes = DefaultPullMaxBytes
	}
	return max(maxBytes, MinPullBytes, int(maxMsgSize)+PullOverhead)
}

// PullBudget returns the Consumer.Messages option for a pull budget: at
// most maxMsgs messages buffered in the client, and every pull request for
// at most PullBytes(maxBytes, 0) bytes. The client asks for more when half
// of the messages were handled, so it holds at most maxMsgs messages and
// about twice the byte budget; the server loads no more than a request's
// bytes for it at a time. (jetstream.PullMaxBytes alone would bound the
// bytes exactly but allocates a buffer for a million messages per
// consumer.) Use it instead of jetstream.PullMaxMessages wherever the
// messages are batches.
func PullBudget(maxMsgs, maxBytes int) jetstream.PullMessagesOpt {
	return jetstream.PullMaxMessagesWithBytesLimit(max(maxMsgs, 1), PullBytes(maxBytes, 0))
}

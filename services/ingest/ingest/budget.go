package ingest

import "sync"

// byteBudget bounds the memory of the records between the listeners and
// JetStream (Config.QueueBytes): queued, batched or being published. A
// record reserves its cost before it is queued; the publisher releases it
// once the record's batch (or dead letter) is published, or lost at
// shutdown. acquire waits for room (TCP, TLS: the reader stops reading and
// TCP pushes back on the sender); tryAcquire fails at once (UDP, NATS
// without reply: a counted drop); fits answers whether a whole request
// would fit now (HTTP 429, NATS "busy").
//
// A record larger than the whole budget is admitted when nothing else is
// reserved, so that it cannot wait forever; the bound is then one record.
type byteBudget struct {
	max int64

	mu      sync.Mutex
	used    int64
	waiting int
	// freed is closed (and replaced) by release when readers wait.
	freed chan struct{}
}

func newByteBudget(max int64) *byteBudget {
	return &byteBudget{max: max, freed: make(chan struct{})}
}

// admits reports whether n more bytes fit; called with mu held.
func (b *byteBudget) admits(n int64) bool { return b.used == 0 || b.used+n <= b.max }

// tryAcquire reserves n bytes if they fit now.
func (b *byteBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.admits(n) {
		return false
	}
	b.used += n
	return true
}

// acquire reserves n bytes, waiting until they fit. It returns false,
// reserving nothing, when abort is closed first.
func (b *byteBudget) acquire(n int64, abort <-chan struct{}) bool {
	b.mu.Lock()
	for !b.admits(n) {
		b.waiting++
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-abort:
			b.mu.Lock()
			b.waiting--
			b.mu.Unlock()
			return false
		}
		b.mu.Lock()
		b.waiting--
	}
	b.used += n
	b.mu.Unlock()
	return true
}

// release returns n reserved bytes and wakes the waiting readers.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.waiting > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
}

// fits reports whether n bytes would fit now (a request larger than the
// whole budget never fits; see admits for a single record).
func (b *byteBudget) fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used+n <= b.max
}

// inUse returns the bytes reserved now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// itemOverhead estimates the memory of a queued record besides its raw
// text: the Event struct, its fields and the unescaped values that do
// not share the raw text's memory.
const itemOverhead = 1024

// recordCost is the budget cost of a record of rawLen bytes: the raw text
// (Event.Raw or DeadLetter.Payload), as much again for values that are
// copies (unescaped, normalized, the dead letter's reason) and the
// overhead.
func recordCost(rawLen int) int64 { return 2*int64(rawLen) + itemOverhead }

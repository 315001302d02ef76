package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestConsumersRedeliverWithoutLimit: the store's durable consumers keep
// MaxDeliver unlimited (see Service.consumerConfig), unlike the
// bus.DefaultMaxDeliver of the other stages.
func TestConsumersRedeliverWithoutLimit(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(e.addr), e.conn, nil, nil)
	ctx := context.Background()
	for _, tb := range tables() {
		t.Run(tb.durable, func(t *testing.T) {
			eventually(t, 10*time.Second, func() (bool, string) {
				c, err := e.bus.JS.Consumer(ctx, tb.stream, tb.durable)
				if err != nil {
					return false, err.Error()
				}
				md := c.CachedInfo().Config.MaxDeliver
				return md == -1, fmt.Sprintf("MaxDeliver = %d; want -1", md)
			})
		})
	}
}

package main

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// deadlineContext returns a context that ends a little before the test
// binary's -timeout, so that a wait for an event that never comes fails
// the test with a message rather than a panic. Its bound is the run's
// timeout, never an asserted latency.
func deadlineContext(t *testing.T) context.Context {
	t.Helper()
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-10*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// broadcasts is a subscription to the invalidation channel that the
// instances of a test share (redisstore.Invalidations: the channel is the
// Redis prefix + "invalidate"), so that a test can wait for the message an
// instance published rather than poll another against the clock.
type broadcasts struct {
	client  *redis.Client
	channel string
	msgs    <-chan *redis.Message
}

// watchBroadcasts subscribes to the channel of the instances started with
// --redis redisURL --redis-prefix prefix. It returns once the
// subscription is made: every message published after it is seen.
func watchBroadcasts(t *testing.T, redisURL, prefix string) *broadcasts {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ps := c.Subscribe(t.Context(), prefix+"invalidate")
	t.Cleanup(func() { _ = ps.Close() })
	_, err = ps.Receive(t.Context()) // the subscription's confirmation
	require.NoError(t, err)
	return &broadcasts{client: c, channel: prefix + "invalidate", msgs: ps.Channel()}
}

// skipPast consumes every message published so far: it publishes a
// marker of its own and waits for it (Redis delivers a channel's messages
// in order), so that a later wait for an ID cannot be answered by an
// earlier broadcast of it, such as the one of the credential's creation.
// The instances drop the marker's ID from their caches, which hold no
// entry for it.
func (b *broadcasts) skipPast(t *testing.T) {
	t.Helper()
	marker := "kgtest-marker-" + rand.Text()
	require.NoError(t, b.client.Publish(t.Context(), b.channel, marker).Err())
	b.wait(t, marker)
}

// wait returns when the message id (a credential's or an account's ID, or
// redisstore.IPRulesChanged) is published; the messages before it are
// skipped. Call skipPast before the change whose broadcast it waits for.
func (b *broadcasts) wait(t *testing.T, id string) {
	t.Helper()
	ctx := deadlineContext(t)
	for {
		select {
		case m, ok := <-b.msgs:
			require.True(t, ok, "the subscription ended before %q was broadcast", id)
			if m.Payload == id {
				return
			}
		case <-ctx.Done():
			require.FailNow(t, "no broadcast of "+id, "the instance that made the change did not publish it")
		}
	}
}

// until calls do until it returns true: after the broadcast an instance
// drops its cached copy at once, but in its own goroutine, which may run
// a moment after the test saw the message. It is bounded by the test's
// -timeout, never by an asserted duration.
func until(t *testing.T, msg string, do func() bool) {
	t.Helper()
	ctx := deadlineContext(t)
	for !do() {
		require.NoError(t, ctx.Err(), msg)
	}
}

// eventually calls cond every interval until it returns true, for a
// condition the server reaches on its own, with no event a test can wait
// for: the asynchronous audit writer's next write, a reconnection to a
// store that is back. It is bounded by the test's -timeout, never by an
// asserted duration; interval only paces the calls.
func eventually(t *testing.T, interval time.Duration, msg string, cond func() bool) {
	t.Helper()
	ctx := deadlineContext(t)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			require.FailNow(t, msg)
		}
	}
}

package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/audit"
)

func TestRecordChange(t *testing.T) {
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}})
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.FixedZone("CET", 3600))

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	w.RecordChange(cancelled, keygate.Change{Action: keygate.ActionKeyRevoked, Time: at, Actor: "bk_admin\r\nforged: yes",
		KeyID: "key1", Account: "acct_1", Mode: keygate.ModeLive})
	w.RecordChange(context.Background(), keygate.Change{Action: keygate.ActionRefreshReuse, Time: at, Actor: "client1",
		KeyID: "client1", TokenID: "fam1", Subject: "user_1", Account: "acct_1", Mode: keygate.ModeTest})
	w.RecordChange(context.Background(), keygate.Change{Action: keygate.ActionKeyCreated, KeyID: "key2"})
	require.NoError(t, w.Close(context.Background()))
	w.RecordChange(context.Background(), keygate.Change{Action: keygate.ActionKeyCreated, KeyID: "after close"}) // no panic, nothing written

	page, err := sink.Query(context.Background(), audit.Query{})
	require.NoError(t, err)
	require.Len(t, page.Events, 3, "a cancelled context does not stop a management event")
	revoked, reuse, created := page.Events[2], page.Events[1], page.Events[0] // newest first
	assert.Equal(t, "key.revoked", revoked.Action)
	assert.Equal(t, at.UTC(), revoked.Time)
	assert.Equal(t, "key1", revoked.KeyID)
	assert.Equal(t, "live", revoked.Mode)
	assert.NotContains(t, revoked.Actor, "\n", "control characters are escaped")
	assert.Contains(t, revoked.Actor, "bk_admin")
	assert.Empty(t, revoked.Decision, "a management event is no request decision")

	assert.Equal(t, audit.Event{Seq: reuse.Seq, Time: at.UTC(), Action: "refresh.reuse_detected", Actor: "client1", KeyID: "client1",
		TokenID: "fam1", Subject: "user_1", Account: "acct_1", Mode: "test", Decision: audit.Deny, Reason: "refresh_reuse"}, reuse)

	assert.False(t, created.Time.IsZero(), "a change without a time is stamped now")
	assert.Equal(t, audit.Stats{Emitted: 3, Written: 3}, w.Stats())
}

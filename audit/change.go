package audit

import (
	"context"
	"time"

	"github.com/keygate/keygate"
)

// RecordChange writes c as a management event: action, actor, time and the
// public identifiers of what was acted on (key ID, token or family ID,
// subject, account, mode). A reused refresh token, a security event, is
// also marked with decision deny and reason refresh_reuse, so that it can
// be found like a refused request.
//
// It waits for room in the queue (the [Block] policy): management events
// are never dropped. The change is already stored when it is reported, so
// the cancellation of ctx does not stop it; only [Writer.Close] does
// (after which nothing can be recorded).
//
// Its signature is [keygate.ChangeFunc]'s, so that a manager reports to
// the writer directly:
//
//	apikey.Config{OnChange: w.RecordChange}
func (w *Writer) RecordChange(ctx context.Context, c keygate.Change) {
	e := Event{
		Time:    c.Time.UTC(),
		Action:  string(c.Action),
		Actor:   defaultRedactor.Field(c.Actor),
		KeyID:   defaultRedactor.Field(c.KeyID),
		TokenID: defaultRedactor.Field(c.TokenID),
		Subject: defaultRedactor.Field(c.Subject),
		Account: defaultRedactor.Field(c.Account),
		Mode:    defaultRedactor.Field(string(c.Mode)),
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if c.Action == keygate.ActionRefreshReuse {
		e.Decision, e.Reason = Deny, "refresh_reuse"
	}
	_ = w.Emit(context.WithoutCancel(ctx), e, Block)
}

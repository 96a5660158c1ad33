package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/keygate/keygate/ipbind"
)

// IPRules applies the service's own IP allow and deny lists: service-wide
// ones and those of each account, on top of
// the rules each credential carries. [*iprule.Checker] implements it.
type IPRules interface {
	// Check returns nil when a client at ip (known false: unresolved)
	// may call for account (empty for a caller without one), an error
	// wrapping [ipbind.ErrIPForbidden] when it may not, and any other
	// error when the rules cannot be read.
	Check(ctx context.Context, account string, ip netip.Addr, known bool) error
}

// checkIPRules applies AccessConfig.IPRules to a caller of account at ip:
// a refusal is 403 ip_forbidden, as a credential's own IP rules give, and
// rules that cannot be read fail closed (503).
func (s *accessState) checkIPRules(ctx context.Context, account string, ip netip.Addr, known bool) error {
	if s.cfg.IPRules == nil {
		return nil
	}
	err := s.cfg.IPRules.Check(ctx, account, ip, known)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ipbind.ErrIPForbidden):
		return fmt.Errorf("%w: %w", errIPForbidden, err)
	}
	return fmt.Errorf("middleware: IP rules: %w", err)
}

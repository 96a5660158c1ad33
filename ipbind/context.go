package ipbind

import (
	"context"
	"net/netip"
)

type contextKey struct{}

// NewContext returns a copy of ctx that carries the resolved client IP.
// The address is normalised; an invalid address is carried as unknown.
func NewContext(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, contextKey{}, normalize(ip))
}

// FromContext returns the client IP stored by [NewContext] (or by
// [Resolver.Handler]), and false when there is none or it is unknown.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	ip, _ := ctx.Value(contextKey{}).(netip.Addr)
	return ip, ip.IsValid()
}

package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := demo(ctx)
	require.NoError(t, err)
	require.Contains(t, out, "with the key: 200 orders of acct_demo (test mode)\n")
	require.Contains(t, out, "without a key: 401 ")
	require.NotRegexp(t, regexp.MustCompile(`bk_test_sk_[0-9A-Za-z]{65}`), out, "the demo must not print its key")
}

package ratelimit_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/ratelimit"
)

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ratelimit.Policy
	}{
		{"20/10s", ratelimit.Policy{Limit: 20, Window: 10 * time.Second}},
		{"100/1m", ratelimit.Policy{Limit: 100, Window: time.Minute}},
		{"100/m", ratelimit.Policy{Limit: 100, Window: time.Minute}},
		{"10/s", ratelimit.Policy{Limit: 10, Window: time.Second}},
		{"5000/h", ratelimit.Policy{Limit: 5000, Window: time.Hour}},
		{"5/1m30s", ratelimit.Policy{Limit: 5, Window: 90 * time.Second}},
		{"3/1.5s", ratelimit.Policy{Limit: 3, Window: 1500 * time.Millisecond}},
		{"1/500ms", ratelimit.Policy{Limit: 1, Window: 500 * time.Millisecond}},
		{"007/1s", ratelimit.Policy{Limit: 7, Window: time.Second}},
		{"0/1s", ratelimit.Policy{Window: time.Second}},
		{"unlimited", ratelimit.Policy{}},
	} {
		got, err := ratelimit.ParsePolicy(tt.in)
		if assert.NoError(t, err, tt.in) {
			assert.Equal(t, tt.want, got, tt.in)
		}
	}
	for _, in := range []string{
		"", "20", "/10s", "20/", "20/0s", "20/-1s", "-1/1s", "+20/10s", " 20/10s", "20/10s ",
		"20/10", "20/10x", "x/10s", "2e1/10s", "1234567890/1s", "20/10s/1", "10/5ns", "Unlimited",
	} {
		_, err := ratelimit.ParsePolicy(in)
		assert.ErrorIs(t, err, ratelimit.ErrInvalidPolicy, "%q", in)
	}
}

func TestPolicyStringRoundTrip(t *testing.T) {
	for _, s := range []string{"20/10s", "100/1m0s", "3/1.5s", "unlimited"} {
		p, err := ratelimit.ParsePolicy(s)
		require.NoError(t, err)
		assert.Equal(t, s, p.String())
	}
}

func TestPolicyFlag(t *testing.T) {
	p := ratelimit.Policy{Name: "live", Limit: 20, Window: 10 * time.Second}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Var(&p, "demo-rate-limit", "requests per window")
	require.NoError(t, fs.Parse([]string{"--demo-rate-limit", "5/2s"}))
	assert.Equal(t, ratelimit.Policy{Name: "live", Limit: 5, Window: 2 * time.Second}, p)
	assert.Error(t, fs.Parse([]string{"--demo-rate-limit", "5"}))
	assert.Equal(t, 5, p.Limit, "a refused value changes nothing")
}

func TestPolicyInterval(t *testing.T) {
	assert.Equal(t, 500*time.Millisecond, live.Interval())
	assert.Equal(t, time.Duration(333333333), ratelimit.Policy{Limit: 3, Window: time.Second}.Interval())
	assert.Zero(t, ratelimit.Policy{Window: time.Second}.Interval())
	assert.True(t, ratelimit.Policy{Limit: -1}.Unlimited())
	assert.NoError(t, ratelimit.Policy{}.Validate())
	assert.ErrorIs(t, ratelimit.Policy{Limit: 1}.Validate(), ratelimit.ErrInvalidPolicy)
}

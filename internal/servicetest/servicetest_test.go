package servicetest

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = args[0].(string)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failed = args[0].(string)
	runtime.Goexit()
}

// call runs fn with a recorder in its own goroutine, as Skip and Fatal
// end the goroutine that calls them.
func call(t *testing.T, fn func(testing.TB) string) (got string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = fn(r)
	}()
	<-done
	return got, r
}

func TestURL(t *testing.T) {
	tests := []struct {
		name        string
		fn          func(testing.TB) string
		env         string
		value, ci   string
		want        string
		skip, fatal bool
	}{
		{name: "redis set", fn: RedisURL, env: RedisEnv, value: "redis://127.0.0.1:1/0", want: "redis://127.0.0.1:1/0"},
		{name: "redis set under CI", fn: RedisURL, env: RedisEnv, value: "redis://h/1", ci: "true", want: "redis://h/1"},
		{name: "redis unset", fn: RedisURL, env: RedisEnv, skip: true},
		{name: "redis unset under CI", fn: RedisURL, env: RedisEnv, ci: "true", fatal: true},
		{name: "postgres set", fn: PostgresURL, env: PostgresEnv, value: "postgres://p@h/db", want: "postgres://p@h/db"},
		{name: "postgres unset", fn: PostgresURL, env: PostgresEnv, ci: "false", skip: true},
		{name: "postgres unset under CI", fn: PostgresURL, env: PostgresEnv, ci: "true", fatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			t.Setenv("CI", tt.ci)
			got, r := call(t, tt.fn)
			assert.Equal(t, tt.want, got)
			want := tt.env + " unset: run ./scripts/test.sh"
			if tt.skip {
				assert.Contains(t, r.skipped, want)
			} else {
				assert.Empty(t, r.skipped)
			}
			if tt.fatal {
				assert.Contains(t, r.failed, want)
			} else {
				assert.Empty(t, r.failed)
			}
		})
	}
}

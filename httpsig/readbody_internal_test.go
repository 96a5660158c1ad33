package httpsig

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// rbCounting counts the bytes read from it.
type rbCounting struct {
	r   io.Reader
	n   int
	err error // returned instead of io.EOF
}

func (c *rbCounting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if err == io.EOF && c.err != nil {
		err = c.err
	}
	return n, err
}

func (c *rbCounting) Close() error { return nil }

// TestReadBody: the limit, a body of unknown length read at most one byte
// past it, a read error, and the verified bytes put back.
func TestReadBody(t *testing.T) {
	m, err := NewManager(Config{MasterKey: make([]byte, MasterKeyLen)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: m, MaxBody: 10})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		readErr error
		want    error
	}{
		{"at the limit", strings.Repeat("a", 10), nil, nil},
		{"one over", strings.Repeat("a", 11), nil, ErrBodyTooLarge},
		{"far over", strings.Repeat("a", 1<<20), nil, ErrBodyTooLarge},
		{"read error", "abc", errors.New("reset"), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			c := &rbCounting{r: strings.NewReader(tc.body), err: tc.readErr}
			r.Body, r.ContentLength = c, -1
			body, err := v.readBody(r)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if c.n > 11 {
				t.Fatalf("read %d bytes with a limit of 10", c.n)
			}
			if err == nil {
				back, _ := io.ReadAll(r.Body)
				if string(body) != tc.body || string(back) != tc.body {
					t.Fatalf("body %q, put back %q", body, back)
				}
			}
		})
	}
}

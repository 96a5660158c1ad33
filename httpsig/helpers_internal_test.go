package httpsig

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func io_Copy(dst *strings.Builder, r *http.Request) (int64, error) { return io.Copy(dst, r.Body) }

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserHarness checks the browser harness itself on pages of its
// own: a sound page passes, a page with an unlabelled field is an
// accessibility violation, a page without a Content-Security-Policy
// fails the header check, an unescaped hostile image opens a dialog that
// the harness sees. So the console's browser test can fail.
func TestBrowserHarness(t *testing.T) {
	pages := map[string]string{
		"/good": `<!doctype html><html lang="en"><head><title>Good</title></head>
<body><main><h1>Good</h1><form method="post"><label for="name">Name</label><input id="name" name="name"><button>Sign in</button></form></main></body></html>`,
		"/unlabelled": `<!doctype html><html lang="en"><head><title>Unlabelled</title></head>
<body><main><h1>Unlabelled</h1><input name="name"></main></body></html>`,
		"/hostile": `<!doctype html><html lang="en"><head><title>Hostile</title></head>
<body><main><h1>Hostile</h1><p><img src=x onerror=alert(1)></p></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path != "/hostile" {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	b := newBrowser(t)

	res := b.navigate("good", srv.URL+"/good", pageChecks{headers: true})
	require.EqualValues(t, http.StatusOK, res.Status)
	require.Contains(t, b.html(), "<h1>Good</h1>")

	b.step("unlabelled", chromedp.Navigate(srv.URL+"/unlabelled"))
	var ids []string
	for _, v := range b.axeViolations() {
		if v.Impact == "serious" || v.Impact == "critical" {
			ids = append(ids, v.ID)
		}
	}
	require.Contains(t, ids, "label", "axe-core finds the unlabelled field")

	// The hostile page has no Content-Security-Policy: the header check
	// sees it.
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(srv.URL+"/hostile"))
	require.NoError(t, err)
	require.NotEmpty(t, securityHeaderProblems(res.Headers), "a page without a CSP")
	require.True(t, b.waitDialog("alert: 1"), "the harness sees the dialog an unescaped image opens; seen: %q", b.seenDialogs())
}

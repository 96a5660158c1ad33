package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The environment of the browser tests: the Chromium to drive (exported
// by scripts/test.sh, through scripts/chromium.sh) and, optionally, a
// directory to keep the screenshots in (default: the test's temporary
// directory).
const (
	chromiumEnv    = "KEYGATE_TEST_CHROMIUM"
	screenshotsEnv = "KEYGATE_SCREENSHOTS"
	// readmeShotsEnv names a directory (docs/, say) to write the
	// README's screenshots to: small PNGs of the top of a page.
	readmeShotsEnv = "KEYGATE_README_SHOTS"
)

// The README's screenshots: a viewport readmeShotWidth CSS pixels wide,
// drawn at readmeShotScale (so 960 pixels wide), to stay small.
const (
	readmeShotWidth = 1280
	readmeShotScale = 0.75
)

// browserStep bounds each step of a browser test: a navigation, a click,
// a screenshot, an accessibility check.
const browserStep = 30 * time.Second

// browserTotal bounds a whole browser session, starting the browser
// included.
const browserTotal = 10 * time.Minute

// axeSource is axe-core, vendored from npm for these tests only (see
// testdata/axe-core/README.md).
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// chromiumPath returns the browser the tests drive: $KEYGATE_TEST_CHROMIUM,
// else chromium on PATH. Without one the test is skipped, saying how to
// get one; under CI=true it fails instead.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := chromiumEnv + " unset and no chromium on PATH: run ./scripts/test.sh, which installs it " +
		"(or ./scripts/chromium.sh install, then eval \"$(./scripts/chromium.sh env)\")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium tab driven by a test. Each page it
// loads (navigate, click) is checked: the console's security headers when
// wanted, no serious accessibility violation (axe-core), and a screenshot
// is written.
type browser struct {
	t     *testing.T
	ctx   context.Context // the tab
	shots string          // where the screenshots go
	n     int             // pages shot so far

	// noScripts: the pages' JavaScript is off (scripts).
	noScripts bool

	mu      sync.Mutex
	dialogs []string      // the JavaScript dialogs that opened: "type: message"
	opened  chan struct{} // closed, and replaced, when a dialog opens
}

// scripts turns the pages' JavaScript on or off, from the next page on.
// The harness's own scripts (axe-core) still run.
func (b *browser) scripts(on bool) {
	b.t.Helper()
	b.setScripts(on)
	b.noScripts = !on
}

// setScripts switches script execution in the page.
func (b *browser) setScripts(on bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
	require.NoError(b.t, err)
}

// newBrowser starts headless Chromium (a profile of its own, removed when
// the test ends) and opens a tab; both close when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	total, cancelTotal := context.WithTimeout(context.Background(), browserTotal)
	alloc, cancelAlloc := chromedp.NewExecAllocator(total, opts...)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTotal()
	})
	b := &browser{t: t, ctx: tab, shots: os.Getenv(screenshotsEnv), opened: make(chan struct{})}
	if b.shots == "" {
		b.shots = t.TempDir()
	} else {
		require.NoError(t, os.MkdirAll(b.shots, 0o755))
	}
	// Start the browser and the tab: the first action's context is the
	// tab's lifetime, so it is the tab's own (bounded by browserTotal).
	require.NoError(t, chromedp.Do(tab), "starting %s", path)
	// Every dialog is recorded and closed (accepting a confirmation,
	// which the console's data-confirm buttons ask), so that the page
	// never hangs on one.
	dialogs := chromedp.Events(tab, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			close(b.opened)
			b.opened = make(chan struct{})
			b.mu.Unlock()
			ctx, cancel := context.WithTimeout(tab, browserStep)
			_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
			cancel()
		}
	}()
	return b
}

// step runs actions within browserStep.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...), "%s", what)
}

// eval evaluates a JavaScript expression and decodes its result into T.
func eval[T any](b *browser, expression string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, opts...))
	require.NoError(b.t, err, "evaluating %.80q", expression)
	return v
}

// load runs actions that load a page (a navigation, a click that submits
// a form or follows a link) and returns the response of the page loaded,
// after checking it as pageChecks says and writing its screenshot named
// name.
func (b *browser) load(name string, c pageChecks, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, actions...)
	require.NoError(b.t, err, "loading the page %s", name)
	require.NotNil(b.t, res, "loading the page %s: no response", name)
	b.check(name, res, c)
	return res
}

// navigate loads url as load does.
func (b *browser) navigate(name, url string, c pageChecks) *network.Response {
	b.t.Helper()
	return b.load(name, c, chromedp.Navigate(url))
}

// pageChecks says what to check of each page loaded.
type pageChecks struct {
	// headers requires the console's security headers.
	headers bool
}

// check checks the page just loaded, and writes its screenshot.
func (b *browser) check(name string, res *network.Response, c pageChecks) {
	b.t.Helper()
	if c.headers {
		requireSecurityHeaders(b.t, name, res.Headers)
	}
	b.screenshot(name)
	b.requireAccessible(name)
}

// screenshot writes a PNG of the whole page to the screenshot directory
// and logs its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "screenshot of %s", name)
	b.n++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, fileSafe.ReplaceAllString(name, "-")))
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot of %s: %s", name, path)
	return path
}

// readmeShot writes a screenshot of the top height CSS pixels of the
// page, scaled down, as dir/name when $KEYGATE_README_SHOTS names dir;
// otherwise it does nothing. The README's pictures are made so:
//
//	KEYGATE_README_SHOTS=$PWD/../../docs go test -run TestConsoleBrowser ./
func (b *browser) readmeShot(name string, height int64) {
	b.t.Helper()
	dir := os.Getenv(readmeShotsEnv)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.EmulateViewport(readmeShotWidth, height, chromedp.EmulateScale(readmeShotScale))))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	_, err = chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	require.NoError(b.t, err)
	path := filepath.Join(dir, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("README screenshot: %s (%d bytes)", path, len(png))
}

// fileSafe matches what a screenshot's file name replaces.
var fileSafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// axeViolation is what the tests keep of an axe-core violation.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeViolations runs axe-core on the page and returns its violations.
// The script is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy does not govern.
func (b *browser) axeViolations() []axeViolation {
	b.t.Helper()
	if b.noScripts {
		// axe-core waits on timers, which need script execution: on
		// for its run, on a page that loaded without it.
		b.setScripts(true)
		defer b.setScripts(false)
	}
	if !eval[bool](b, `typeof window.axe === "object"`) {
		eval[chromedp.Void](b, axeSource)
	}
	return eval[[]axeViolation](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help,
		nodes: v.nodes.map(n => n.target.join(" ")),
	})))`, chromedp.EvalAwaitPromise)
}

// requireAccessible requires that axe-core finds no violation of impact
// serious or critical on the page (lesser ones are logged).
func (b *browser) requireAccessible(name string) {
	b.t.Helper()
	var bad []string
	for _, v := range b.axeViolations() {
		line := fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, line)
		} else {
			b.t.Logf("page %s: accessibility (minor): %s", name, line)
		}
	}
	require.Empty(b.t, bad, "page %s: serious or critical accessibility violations", name)
}

// html returns the page's current HTML (the DOM serialised).
func (b *browser) html() string {
	b.t.Helper()
	return eval[string](b, `document.documentElement.outerHTML`)
}

// waitDialog waits until the dialog want ("type: message") has opened,
// for at most browserStep, and reports whether it did.
func (b *browser) waitDialog(want string) bool {
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	for {
		b.mu.Lock()
		seen, opened := slices.Contains(b.dialogs, want), b.opened
		b.mu.Unlock()
		if seen {
			return true
		}
		select {
		case <-opened:
		case <-ctx.Done():
			return false
		}
	}
}

// seenDialogs returns the JavaScript dialogs that opened so far.
func (b *browser) seenDialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// requireSecurityHeaders requires the console's headers on a page: a
// strict Content-Security-Policy, no referrer, nosniff, no-store.
func requireSecurityHeaders(t *testing.T, name string, h network.Headers) {
	t.Helper()
	require.Empty(t, securityHeaderProblems(h), "page %s: security headers", name)
}

// securityHeaderProblems lists what the headers h lack of the console's:
// a Content-Security-Policy with default-src 'self', frame-ancestors
// 'none' and no unsafe-inline or unsafe-eval, Referrer-Policy no-referrer,
// X-Content-Type-Options nosniff, Cache-Control no-store.
func securityHeaderProblems(h network.Headers) []string {
	get := func(name string) string {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	var problems []string
	csp := get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if directives["default-src"] != "'self'" {
		problems = append(problems, fmt.Sprintf("CSP %q: default-src is not 'self'", csp))
	}
	if directives["frame-ancestors"] != "'none'" {
		problems = append(problems, fmt.Sprintf("CSP %q: frame-ancestors is not 'none'", csp))
	}
	for _, d := range []string{"script-src", "style-src", "default-src"} {
		if strings.Contains(directives[d], "'unsafe-inline'") || strings.Contains(directives[d], "'unsafe-eval'") {
			problems = append(problems, fmt.Sprintf("CSP %q: %s allows unsafe inline or eval", csp, d))
		}
	}
	if v := get("Referrer-Policy"); v != "no-referrer" {
		problems = append(problems, fmt.Sprintf("Referrer-Policy %q", v))
	}
	if v := get("X-Content-Type-Options"); v != "nosniff" {
		problems = append(problems, fmt.Sprintf("X-Content-Type-Options %q", v))
	}
	if v := get("Cache-Control"); !strings.Contains(v, "no-store") {
		problems = append(problems, fmt.Sprintf("Cache-Control %q", v))
	}
	return problems
}

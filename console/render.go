package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/console/consolestore"
)

// The templates: templates/layout.html is the frame of every page; each
// other templates/<name>.html is a page, which defines "title" and
// "content"; templates/_<name>.html are partials, parsed with every page.
//
//go:embed templates/*.html
var templateFS embed.FS

// The static assets, served at Prefix+"/static/".
//
//go:embed static
var staticFS embed.FS

// views holds the parsed pages and the static assets.
type views struct {
	pages  map[string]*template.Template // by file name, such as "overview.html"
	assets map[string]asset              // by file name, such as "console.css"
}

// asset is one static file.
type asset struct {
	body  []byte
	ctype string
	hash  string // the first 16 hex digits of its SHA-256
}

// loadViews parses the templates for prefix and reads the static assets.
func loadViews(prefix string) (*views, error) {
	v := &views{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		v.assets[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ctype, hash: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// asset is the URL of a static file, with its content hash.
		"asset": func(name string) (string, error) {
			a, ok := v.assets[name]
			if !ok {
				return "", errors.New("console: no static asset " + name)
			}
			return prefix + "/static/" + name + "?v=" + a.hash, nil
		},
		// path is the URL of a page: path "keys" .ID is Prefix/keys/<id>,
		// each part path-escaped.
		"path": func(parts ...string) string {
			var b strings.Builder
			b.WriteString(prefix)
			for _, p := range parts {
				b.WriteByte('/')
				b.WriteString(url.PathEscape(p))
			}
			if len(parts) == 0 {
				b.WriteByte('/')
			}
			return b.String()
		},
		"time":    formatTime,
		"join":    strings.Join,
		"percent": func(part, whole int64) int64 { return percent(part, whole) },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	var partials []string
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			partials = append(partials, n)
		}
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		files := append([]string{"templates/layout.html", n}, partials...)
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, err
		}
		v.pages[base] = t
	}
	return v, nil
}

// formatTime shows t in UTC to the second, or "—" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// percent is 100*part/whole, rounded down, or 0 when whole is 0.
func percent(part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return part * 100 / whole
}

// navItem is one link of the navigation.
type navItem struct {
	Label, Href string
	Current     bool
}

// view is what every template gets: its page's Data, and around it the
// signed-in user (nil on the sign-in page), the session's form token, the
// mount prefix and the navigation.
type view struct {
	Prefix string
	User   *consolestore.User
	CSRF   string
	Nav    []navItem
	Data   any
}

// nav is the navigation for s at the request path p.
func (h *Handler) nav(s *signedIn, p string) []navItem {
	if s == nil {
		return nil
	}
	pre := h.cfg.Prefix
	op := s.User.Role == consolestore.RoleOperator
	items := []navItem{{Label: "Overview", Href: pre + "/"}}
	if op {
		items = append(items, navItem{Label: "Accounts", Href: pre + "/accounts"})
	} else {
		items = append(items, navItem{Label: "Accounts", Href: pre + "/accounts/" + url.PathEscape(s.User.Account)})
	}
	items = append(items, navItem{Label: "Keys", Href: pre + "/keys"})
	if op {
		items = append(items, navItem{Label: "Review", Href: pre + "/review"})
	}
	items = append(items, navItem{Label: "HMAC keys", Href: pre + "/hmac-keys"})
	if op {
		items = append(items, navItem{Label: "Tokens", Href: pre + "/tokens"})
	}
	items = append(items, navItem{Label: "Audit", Href: pre + "/audit"})
	for i := range items {
		href := items[i].Href
		if href == pre+"/" {
			items[i].Current = p == href
		} else {
			items[i].Current = p == href || strings.HasPrefix(p, href+"/")
		}
	}
	return items
}

// render writes the page templates/<name> inside the layout with status.
// s is nil on pages for people not signed in. A template that fails to
// execute answers 500 with the error page, never half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *signedIn, status int, name string, data any) {
	t, ok := h.views.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	v := view{Prefix: h.cfg.Prefix, Data: data, Nav: h.nav(s, r.URL.Path)}
	if s != nil {
		u := s.User
		v.User, v.CSRF = &u, s.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		if name == "error.html" {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.refuse(w, r, s, http.StatusInternalServerError, "Something went wrong while showing this page.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the Data of the error page.
type errorData struct {
	Status  int
	Title   string
	Message string
}

// refuse answers with the error page: status and a sentence for people.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, s *signedIn, status int, msg string) {
	h.render(w, r, s, status, "error.html", errorData{Status: status, Title: http.StatusText(status), Message: msg})
}

// notFound answers 404 with the error page: no such page, or a resource
// the user may not see (another account's).
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.refuse(w, r, s, http.StatusNotFound, "There is no such page, or it is not yours to see.")
}

// formErrors maps an admin API failure to a form's errors: each field the
// API named (by its JSON member or query parameter) to its message, and ""
// to the sentence for the whole form. Nil when resp succeeded.
func (h *Handler) formErrors(resp admin.Response) map[string]string {
	if resp.Err == nil {
		return nil
	}
	out := make(map[string]string, len(resp.Err.Fields)+1)
	for k, v := range resp.Err.Fields {
		out[k] = v
	}
	out[""] = resp.Err.Description
	return out
}

// errorStatus is the status of a page showing resp's failure: the admin
// API's own, 400 for a form the console refused before calling it.
func errorStatus(resp admin.Response) int {
	if resp.Status < 400 {
		return http.StatusBadRequest
	}
	return resp.Status
}

// staticHandler serves the static assets. A request with the current
// content hash (?v=, as the asset template function writes it) may be
// cached for a year; any other for five minutes.
func (h *Handler) staticHandler() http.Handler {
	base := h.cfg.Prefix + "/static/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := h.views.assets[strings.TrimPrefix(r.URL.Path, base)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == a.hash {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("ETag", `"`+a.hash+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// marshalJSON is json.Marshal.
func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

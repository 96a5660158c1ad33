package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
)

// overviewRoutes registers the overview.
func (h *Handler) overviewRoutes() {
	h.page("GET /{$}", anyone, h.overview)
}

// permReview is the permission of the Review page.
var permReview = access.MustParsePermission(admin.PermissionReview)

// permRead is the permission of the audit history, which the overview's
// request counts and deny reasons summarize (the Summarizer is read
// directly, not through the admin API, so the overview checks it itself).
var permRead = access.MustParsePermission(admin.PermissionRead)

// Bounds of the overview's key counts: at most countPages pages of
// admin.MaxLimit keys are read; beyond, the count shows as "1000+".
const countPages = 10

// expiringWithin is how far ahead the overview looks for expiring keys.
const expiringWithin = 7 * 24 * time.Hour

// overviewData is the Data of the overview.
type overviewData struct {
	// Charts is false when the service gave no Summarizer.
	Charts bool
	// ChartsError is set when the summaries could not be read.
	ChartsError string
	Modes       []modeTraffic
	// TopDenyReasons are the last 24 hours' most frequent deny reasons.
	TopDenyReasons []audit.ReasonCount
	// Pending is the number of keys waiting for review ("" when it could
	// not be read), with PendingMore when there are more than counted.
	Pending count
	// Expiring are the keys expiring within 7 days (the first ones),
	// with their number.
	Expiring      []*admin.Key
	ExpiringCount count
	// Reviewer says that the user may approve keys (a link to the Review
	// page).
	Reviewer bool
}

// count is a number of keys as the overview shows it.
type count struct {
	N int
	// More says that there are more than N (the count stopped).
	More bool
	// Unavailable says why there is no count ("" when there is one).
	Unavailable string
}

// String shows c: "12", "1000+" or "—".
func (c count) String() string {
	switch {
	case c.Unavailable != "":
		return "—"
	case c.More:
		return strconv.Itoa(c.N) + "+"
	}
	return strconv.Itoa(c.N)
}

// modeTraffic is one mode's requests.
type modeTraffic struct {
	Mode  string // "test", "live", or "none" (refused before a credential named a mode)
	Label string
	Hour  chart // the last hour, in 5-minute bars
	Day   chart // the last 24 hours, in hourly bars
}

// overview shows the requests of the last hour and day per mode and
// decision, the top deny reasons, and the keys needing attention. An
// account owner sees its account's numbers only.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s *signedIn) {
	now := h.cfg.Now().UTC()
	d := overviewData{Charts: h.cfg.Summary != nil, Reviewer: s.User.Role == consolestore.RoleOperator && s.Caller.Grants.Allows(permReview)}
	switch {
	case d.Charts && !s.Caller.Grants.Allows(permRead):
		d.ChartsError = "You are not allowed to see the request history."
	case d.Charts:
		if err := h.traffic(r, s, now, &d); err != nil {
			d.ChartsError = "The request counts cannot be read right now."
		}
	}
	d.Pending, _ = h.countKeys(r, s, url.Values{"status": {"pending_review"}}, nil)
	keep := func(k *admin.Key) bool { return k.Expires.After(now) && k.Expires.Before(now.Add(expiringWithin)) }
	d.ExpiringCount, d.Expiring = h.countKeys(r, s, url.Values{"status": {"active"},
		"expires_before": {now.Add(expiringWithin).Format(time.RFC3339)}}, keep)
	h.render(w, r, s, http.StatusOK, "overview.html", d)
}

// traffic reads the summaries of the last hour and day.
func (h *Handler) traffic(r *http.Request, s *signedIn, now time.Time, d *overviewData) error {
	acct := ""
	if s.User.Role != consolestore.RoleOperator {
		acct = s.User.Account
		if acct == "" {
			return nil
		}
	}
	hourStart := now.Add(-time.Hour).Truncate(5 * time.Minute).Add(5 * time.Minute)
	hour, err := h.cfg.Summary.Summarize(r.Context(), audit.SummaryQuery{Since: hourStart, Until: now, Bucket: 5 * time.Minute, Account: acct})
	if err != nil {
		return err
	}
	dayStart := now.Add(-24 * time.Hour).Truncate(time.Hour).Add(time.Hour)
	day, err := h.cfg.Summary.Summarize(r.Context(), audit.SummaryQuery{Since: dayStart, Until: now, Bucket: time.Hour, Account: acct})
	if err != nil {
		return err
	}
	d.TopDenyReasons = day.TopDenyReasons
	modes := []struct{ mode, key, label string }{{"test", "test", "Test mode"}, {"live", "live", "Live mode"}}
	if acct == "" {
		modes = append(modes, struct{ mode, key, label string }{"", "none", "No credential (refused before a mode was known)"})
	}
	for _, m := range modes {
		mt := modeTraffic{Mode: m.key, Label: m.label,
			Hour: newChart(m.label+", last hour", "chart-"+m.key+"-hour", hourStart, 5*time.Minute, 12, m.mode, hour.Buckets, "15:04"),
			Day:  newChart(m.label+", last 24 hours", "chart-"+m.key+"-day", dayStart, time.Hour, 24, m.mode, day.Buckets, "15h"),
		}
		if m.mode == "" && mt.Day.Allow+mt.Day.Deny == 0 {
			continue // nothing refused without a mode: no chart
		}
		d.Modes = append(d.Modes, mt)
	}
	return nil
}

// countKeys counts the keys of the admin API's key list with query q (as
// many as countPages pages hold), and returns the first ones that keep
// admits (at most 10; keep nil admits none). A list the admin API refuses
// (such as a filter it does not have) is unavailable.
func (h *Handler) countKeys(r *http.Request, s *signedIn, q url.Values, keep func(*admin.Key) bool) (count, []*admin.Key) {
	var c count
	var kept []*admin.Key
	q.Set("limit", strconv.Itoa(admin.MaxLimit))
	for range countPages {
		resp := h.call(r, s, http.MethodGet, "/keys?"+q.Encode(), nil)
		if resp.Err != nil {
			return count{Unavailable: resp.Err.Description}, nil
		}
		list, ok := resp.Body.(admin.List[*admin.Key])
		if !ok {
			return count{Unavailable: "unexpected response"}, nil
		}
		for _, k := range list.Data {
			if keep == nil || keep(k) {
				c.N++
				if keep != nil && len(kept) < 10 {
					kept = append(kept, k)
				}
			}
		}
		if list.NextCursor == "" {
			return c, kept
		}
		q.Set("cursor", list.NextCursor)
	}
	c.More = true
	return c, kept
}

// chart is a bar chart of allowed and denied requests over time, drawn on
// the server as SVG (its coordinates are in the viewBox's units).
type chart struct {
	Title, ID   string
	Width       int
	Height      int
	Bars        []bar
	Allow, Deny int64 // totals
	Max         int64 // the scale's top
	// Ticks are the labels of the value axis.
	Ticks []tick
	// BaseY is the y of the time axis, LabelY of its labels, AxisX the x
	// of the value axis.
	BaseY, LabelY, AxisX int
}

// bar is one time bucket: the allowed requests stacked under the denied.
type bar struct {
	Label                        string
	Allow, Deny                  int64
	X, W                         int
	AllowY, AllowH, DenyY, DenyH int
	ShowLabel                    bool
}

// tick is one label of the value axis.
type tick struct {
	Y     int
	Label string
}

// The geometry of the charts, in viewBox units.
const (
	chartWidth  = 480
	chartHeight = 160
	chartLeft   = 40 // room for the value labels
	chartBottom = 20 // room for the time labels
	chartTop    = 8
)

// newChart draws n buckets of width step from start, for mode's buckets.
func newChart(title, id string, start time.Time, step time.Duration, n int, mode string, buckets []audit.SummaryBucket, timeFormat string) chart {
	c := chart{Title: title, ID: id, Width: chartWidth, Height: chartHeight, BaseY: chartHeight - chartBottom,
		LabelY: chartHeight - 5, AxisX: chartLeft}
	c.Bars = make([]bar, n)
	for i := range c.Bars {
		c.Bars[i].Label = start.Add(time.Duration(i) * step).Format(timeFormat)
	}
	for _, b := range buckets {
		if b.Mode != mode {
			continue
		}
		i := int(b.Start.Sub(start) / step)
		if b.Start.Before(start) || i >= n {
			continue
		}
		c.Bars[i].Allow += b.Allow
		c.Bars[i].Deny += b.Deny
	}
	for _, b := range c.Bars {
		c.Allow += b.Allow
		c.Deny += b.Deny
		c.Max = max(c.Max, b.Allow+b.Deny)
	}
	c.Max = niceCeil(c.Max)
	plotH := c.BaseY - chartTop
	slot := (chartWidth - chartLeft) / n
	labelEvery := max(1, n/6)
	for i := range c.Bars {
		b := &c.Bars[i]
		b.X = chartLeft + i*slot + 1
		b.W = max(1, slot-2)
		b.AllowH = int(b.Allow * int64(plotH) / c.Max)
		b.DenyH = int(b.Deny * int64(plotH) / c.Max)
		if b.Allow > 0 && b.AllowH == 0 {
			b.AllowH = 1
		}
		if b.Deny > 0 && b.DenyH == 0 {
			b.DenyH = 1
		}
		b.AllowY = c.BaseY - b.AllowH
		b.DenyY = b.AllowY - b.DenyH
		b.ShowLabel = i%labelEvery == 0
	}
	for _, v := range []int64{0, c.Max / 2, c.Max} {
		c.Ticks = append(c.Ticks, tick{Y: c.BaseY - int(v*int64(plotH)/c.Max), Label: shortNumber(v)})
	}
	return c
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 1),
// for the top of a chart's scale.
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// shortNumber shows n in at most four characters: 999, 1.2k, 35M.
func shortNumber(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000:
		return strconv.FormatInt(n/1000, 10) + "k"
	case n < 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	default:
		return strconv.FormatInt(n/1_000_000, 10) + "M"
	}
}

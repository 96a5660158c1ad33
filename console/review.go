package console

import (
	"net/http"
	"net/url"

	"github.com/keygate/keygate/admin"
)

// The review page: live keys pending review, with Approve and Reject
// (which revokes, after a confirmation). The admin API decides who may
// approve (admin:review, and separation of duties); a refusal is shown on
// the page.
func (h *Handler) routeReview() {
	h.page("GET /review", operators, h.reviewList)
	h.page("POST /review/{id}/approve", operators, h.reviewApprove)
	h.page("POST /review/{id}/reject", operators, h.reviewReject)
}

// reviewPage is the data of review.html.
type reviewPage struct {
	Rows    []reviewRow
	Next    string
	First   string
	Notice  string
	Problem problem
}

// reviewRow is a key waiting for review, with its Approve and Reject.
type reviewRow struct {
	Key     *admin.Key
	Actions []button
}

func (h *Handler) reviewList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.showReview(w, r, s, http.StatusOK, problem{})
}

func (h *Handler) showReview(w http.ResponseWriter, r *http.Request, s *signedIn, status int, p problem) {
	data := reviewPage{Notice: notice(r), Problem: p}
	l := h.listPage(r, s, "/keys", url.Values{"status": {"pending_review"}})
	if !l.OK {
		if data.Problem.Status == 0 {
			data.Problem, status = l.Problem, l.Problem.Status
		}
	} else {
		list, _ := result[admin.List[*admin.Key]](l.Resp)
		data.Next, data.First = l.Next(list.NextCursor), l.First
		for _, k := range list.Data {
			path := "/review/" + seg(k.ID)
			data.Rows = append(data.Rows, reviewRow{Key: k, Actions: []button{
				h.newButton(s, path+"/approve", "Approve", "primary", ""),
				h.newButton(s, path+"/reject", "Reject", "danger", "Reject this key? It is revoked."),
			}})
		}
	}
	h.render(w, r, s, status, "review.html", data)
}

func (h *Handler) reviewApprove(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	resp := h.call(r, s, http.MethodPost, "/keys/"+seg(id)+"/approve", nil)
	if resp.Err != nil {
		h.reviewRefused(w, r, s, resp)
		return
	}
	h.redirect(w, r, "/review?done=approved")
}

// reviewRefused shows a refused approval or rejection on the review page
// (404: the 404 page).
func (h *Handler) reviewRefused(w http.ResponseWriter, r *http.Request, s *signedIn, resp admin.Response) {
	if isNotFound(resp) {
		h.notFound(w, r, s)
		return
	}
	p := refusal(resp, nil)
	h.showReview(w, r, s, p.Status, p)
}

func (h *Handler) reviewReject(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	if r.PostFormValue(confirmField) != "yes" {
		k, ok := h.getKey(w, r, s)
		if !ok {
			return
		}
		h.confirmed(w, r, s, confirmation{
			Title: "Reject key", Subject: keyLabel(k),
			Message: "Rejecting revokes the key: it can never be used, and the account has to request a new one.",
			Action:  "/review/" + seg(k.ID) + "/reject", Button: "Reject", Cancel: "/review",
		})
		return
	}
	resp := h.call(r, s, http.MethodPost, "/keys/"+seg(id)+"/revoke", nil)
	if resp.Err != nil {
		h.reviewRefused(w, r, s, resp)
		return
	}
	h.redirect(w, r, "/review?done=rejected")
}

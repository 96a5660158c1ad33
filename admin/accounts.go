package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/validate"
)

type accountCreateRequest struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Package string `json:"package"`
}

func (h *Handler) createAccount(r *http.Request, body []byte) (result, error) {
	var req accountCreateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	checkIdent(fe, "id", req.ID, false)
	if req.Name == "" {
		fe.add("name", msgRequired)
	}
	checkName(fe, "name", req.Name)
	checkIdent(fe, "package", req.Package, false)
	if err := fe.err(); err != nil {
		return result{}, err
	}
	a, err := h.cfg.Accounts.Create(r.Context(), account.CreateParams{ID: req.ID, Name: req.Name, Package: req.Package})
	if errors.Is(err, account.ErrUnknownPackage) {
		return result{}, h.unknownPackage()
	}
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusCreated, body: accountJSON(a)}, nil
}

// unknownPackage is the field error for a package the account manager
// does not allow (account.Config.Packages), naming the ones it does: the
// service's configuration, never request data.
func (h *Handler) unknownPackage() *Error {
	return fieldError("package", "must be one of the service's packages: "+strings.Join(h.cfg.Accounts.Packages(), ", "))
}

func (h *Handler) listAccounts(r *http.Request, _ []byte) (result, error) {
	q, err := parseQuery(r, "q", "limit", "cursor")
	if err != nil {
		return result{}, err
	}
	limit, after, err := pageParams(q, cursorAccounts)
	if err != nil {
		return result{}, err
	}
	search, err := accountSearch(q)
	if err != nil {
		return result{}, err
	}
	as, err := h.cfg.Accounts.List(r.Context(), account.ListFilter{Search: search, AfterCreated: after.created, AfterID: after.id, Limit: limit + 1})
	if err != nil {
		return result{}, err
	}
	out := List[Account]{Data: make([]Account, 0, min(len(as), limit))}
	for i, a := range as {
		if i == limit {
			out.NextCursor = encodeCursor(cursor{kind: cursorAccounts, created: as[i-1].Created, id: as[i-1].ID})
			break
		}
		out.Data = append(out.Data, accountJSON(a))
	}
	return result{status: http.StatusOK, body: out}, nil
}

// pageParams parses the limit and cursor parameters of a list.
func pageParams(q map[string]string, kind byte) (int, cursor, error) {
	s, ok := q["limit"]
	limit, err := parseLimit(s, ok)
	if err != nil {
		return 0, cursor{}, err
	}
	var after cursor
	if s, ok := q["cursor"]; ok {
		if after, err = decodeCursor(s, kind); err != nil {
			return 0, cursor{}, err
		}
	}
	return limit, after, nil
}

func (h *Handler) getAccount(r *http.Request, _ []byte) (result, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return result{}, notFound("no account has this ID")
	}
	if _, err := parseQuery(r); err != nil {
		return result{}, err
	}
	a, err := h.cfg.Accounts.Get(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: accountJSON(a)}, nil
}

type accountUpdateRequest struct {
	Name    *string `json:"name"`
	Package *string `json:"package"`
}

// updateAccount renames an account or moves it to another package. A
// package change is then applied to every key of the account that is not
// revoked, one key at a time: it is not atomic. If a store fails half-way,
// the answer is 503 and some keys may still have the old package; the
// same request, repeated, finishes the job (keys that already have the
// package are left alone).
func (h *Handler) updateAccount(r *http.Request, body []byte) (result, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return result{}, notFound("no account has this ID")
	}
	var req accountUpdateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	if req.Name != nil {
		if *req.Name == "" {
			fe.add("name", msgRequired)
		}
		checkName(fe, "name", *req.Name)
	}
	if req.Package != nil {
		checkIdent(fe, "package", *req.Package, false)
	}
	if err := fe.err(); err != nil {
		return result{}, err
	}
	ctx := r.Context()
	if req.Package != nil {
		// The account's standard keys get the package's permissions.
		if err := h.checkPackageHeld(ctx, *req.Package); err != nil {
			return result{}, err
		}
	}
	a, err := h.cfg.Accounts.Update(ctx, id, account.Changes{Name: req.Name, Package: req.Package})
	if errors.Is(err, account.ErrUnknownPackage) {
		return result{}, h.unknownPackage()
	}
	if err != nil {
		return result{}, err
	}
	if req.Package != nil {
		if err := h.applyPackage(r, a.ID, a.Package); err != nil {
			return result{}, err
		}
	}
	return result{status: http.StatusOK, body: accountJSON(a)}, nil
}

// errPartialPackage answers an account update whose package reached only
// some of the account's keys.
var errPartialPackage = newError(http.StatusServiceUnavailable, CodeTemporarilyUnavailable,
	"the account was updated, but a store failed before every key got its new package; repeat the request")

// applyPackage gives every key of the account that is not revoked the
// package pkg. HMAC credentials keep theirs: package httpsig has no update
// call yet.
//
// With middleware.Config.Accounts set, requests no longer depend on it:
// the middleware takes every credential's package from its account on
// each request. It keeps the stored records in step.
func (h *Handler) applyPackage(r *http.Request, acct, pkg string) error {
	ctx := r.Context()
	f := apikey.ListFilter{Account: acct, Limit: MaxLimit}
	for {
		recs, err := h.cfg.Keys.List(ctx, f)
		if err != nil {
			return errPartialPackage
		}
		for _, rec := range recs {
			if rec.Status == apikey.StatusRevoked || rec.Package == pkg {
				continue
			}
			_, err := h.cfg.Keys.Update(ctx, rec.ID, apikey.Changes{Package: &pkg})
			if err != nil && !errors.Is(err, apikey.ErrInvalidState) && !errors.Is(err, apikey.ErrNotFound) {
				return errPartialPackage
			}
		}
		if len(recs) < f.Limit {
			return nil
		}
		last := recs[len(recs)-1]
		f.AfterCreated, f.AfterID = last.Created, last.ID
	}
}

// disableAccount suspends an account: with middleware.Config.Accounts
// (and oauth.Config.Accounts) set, every credential of it is refused on
// its next request. The body is empty or {}. A caller may not disable its
// own account, which would lock it (and every other key of the account)
// out with no way back through the API.
func (h *Handler) disableAccount(r *http.Request, body []byte) (result, error) {
	return h.accountAction(r, body, func(ctx context.Context, id string) (account.Account, error) {
		if p, ok := keygate.FromContext(ctx); ok && p.Account == id {
			return account.Account{}, errOwnAccount
		}
		return h.cfg.Accounts.Disable(ctx, id)
	})
}

// errOwnAccount refuses a caller's disabling its own account.
var errOwnAccount = conflict("a caller cannot disable its own account; use a key of another account")

// enableAccount undoes disableAccount.
//
// Enabling gives every credential of the account its rights back, so the
// caller must hold what each of them may do (with the account's package),
// as enabling one key requires: otherwise a disabled account's more
// powerful keys would be restored by a weaker caller.
func (h *Handler) enableAccount(r *http.Request, body []byte) (result, error) {
	return h.accountAction(r, body, func(ctx context.Context, id string) (account.Account, error) {
		if err := h.checkHoldsAccount(ctx, id); err != nil {
			return account.Account{}, err
		}
		return h.cfg.Accounts.Enable(ctx, id)
	})
}

// checkHoldsAccount checks that the caller holds what every credential of
// the account id that is not revoked may do: its API keys and, when the
// handler manages them, its HMAC credentials.
func (h *Handler) checkHoldsAccount(ctx context.Context, id string) error {
	a, err := h.cfg.Accounts.Get(ctx, id)
	if err != nil {
		return err
	}
	f := apikey.ListFilter{Account: id, Limit: MaxLimit}
	for {
		recs, err := h.cfg.Keys.List(ctx, f)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.Status == apikey.StatusRevoked {
				continue
			}
			if err := h.checkHoldsIn(ctx, keyPrincipal(rec), a.Package); err != nil {
				return err
			}
		}
		if len(recs) < f.Limit {
			break
		}
		f.AfterCreated, f.AfterID = recs[len(recs)-1].Created, recs[len(recs)-1].ID
	}
	if h.cfg.HMAC == nil {
		return nil
	}
	hf := httpsig.ListFilter{Account: id, Status: httpsig.StatusActive, Limit: MaxLimit}
	for {
		creds, err := h.cfg.HMAC.List(ctx, hf)
		if err != nil {
			return err
		}
		for _, c := range creds {
			if err := h.checkHoldsIn(ctx, hmacPrincipal(c), a.Package); err != nil {
				return err
			}
		}
		if len(creds) < hf.Limit {
			return nil
		}
		hf.AfterCreated, hf.AfterID = creds[len(creds)-1].Created, creds[len(creds)-1].KeyID
	}
}

// accountAction serves the account routes that take no parameters: the
// body is empty or {}.
func (h *Handler) accountAction(r *http.Request, body []byte, do func(context.Context, string) (account.Account, error)) (result, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return result{}, notFound("no account has this ID")
	}
	if err := decodeJSON(body, &emptyRequest{}); err != nil {
		return result{}, err
	}
	a, err := do(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: accountJSON(a)}, nil
}

// accountSearch returns the search "q" of an account list, checked.
func accountSearch(q map[string]string) (string, error) {
	search := q["q"]
	if !validate.Text(search, account.MaxNameLen) {
		return "", invalidRequest("q must be at most " + strconv.Itoa(account.MaxNameLen) + " bytes of text")
	}
	return search, nil
}

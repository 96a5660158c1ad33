package admin

import (
	"context"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
)

// The JSON resources of the admin API. Times are RFC 3339 in UTC; empty
// and zero optional members are omitted. None holds a secret, except Key
// and Secret in the responses of create and rotate, the only time they are
// shown.

// Account is an account as the API shows it.
type Account struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Package string `json:"package,omitempty"`
	// Disabled says that every credential of the account is refused.
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created,omitzero"`
	Updated  time.Time `json:"updated,omitzero"`
}

// Key is an API key as the API shows it: never its secret, except Key,
// the whole plaintext key, in the responses of create and rotate.
type Key struct {
	ID               string    `json:"id"`
	Account          string    `json:"account"`
	Mode             string    `json:"mode"`
	Kind             string    `json:"kind"`
	Name             string    `json:"name,omitempty"`
	Status           string    `json:"status"`
	Disabled         bool      `json:"disabled"`
	Prefix           string    `json:"prefix"`
	Last4            string    `json:"last4,omitempty"`
	Stores           []string  `json:"stores,omitempty"`
	Package          string    `json:"package,omitempty"`
	Permissions      []string  `json:"permissions,omitempty"`
	AllowedIPs       []string  `json:"allowed_ips,omitempty"`
	DeniedIPs        []string  `json:"denied_ips,omitempty"`
	AllowedCountries []string  `json:"allowed_countries,omitempty"`
	DeniedCountries  []string  `json:"denied_countries,omitempty"`
	Created          time.Time `json:"created,omitzero"`
	CreatedBy        string    `json:"created_by,omitempty"`
	PermissionsSetBy string    `json:"permissions_set_by,omitempty"`
	Expires          time.Time `json:"expires,omitzero"`
	LastUsed         time.Time `json:"last_used,omitzero"`
	ApprovedBy       string    `json:"approved_by,omitempty"`
	ApprovedAt       time.Time `json:"approved_at,omitzero"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RotatedAt        time.Time `json:"rotated_at,omitzero"`
	// Key is the plaintext key: only in the responses of create and
	// rotate, never stored, never replayed.
	Key string `json:"key,omitempty"`

	// EffectivePermissions are what the key holds with its package (see
	// access.Packages.Effective): its package's permissions when it has no
	// permissions of its own, else those bounded by its package.
	EffectivePermissions []string `json:"effective_permissions"`
}

// KeyPair is the response of POST /keys: the keys created, a
// publishable/secret pair or the one kind asked for.
type KeyPair struct {
	Publishable *Key `json:"publishable,omitempty"`
	Secret      *Key `json:"secret,omitempty"`
}

// HMACKey is an HMAC credential as the API shows it: never its secret,
// except Secret (standard base64 of the 64 bytes) in the responses of
// create and rotate.
type HMACKey struct {
	ID               string    `json:"id"`
	Account          string    `json:"account"`
	Mode             string    `json:"mode"`
	Name             string    `json:"name,omitempty"`
	Status           string    `json:"status"`
	Disabled         bool      `json:"disabled"`
	Package          string    `json:"package,omitempty"`
	Permissions      []string  `json:"permissions,omitempty"`
	Stores           []string  `json:"stores,omitempty"`
	AllowedIPs       []string  `json:"allowed_ips,omitempty"`
	DeniedIPs        []string  `json:"denied_ips,omitempty"`
	AllowedCountries []string  `json:"allowed_countries,omitempty"`
	DeniedCountries  []string  `json:"denied_countries,omitempty"`
	Created          time.Time `json:"created,omitzero"`
	Expires          time.Time `json:"expires,omitzero"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RotatedAt        time.Time `json:"rotated_at,omitzero"`
	// Secret is the plaintext shared secret: only in the responses of
	// create and rotate, never stored, never replayed.
	Secret string `json:"secret,omitempty"`

	// EffectivePermissions are what the credential holds with its
	// package, as for a [Key].
	EffectivePermissions []string `json:"effective_permissions"`
}

// TokenRevocation is the response of POST /tokens/revoke.
type TokenRevocation struct {
	// Revoked says what was revoked: "jti", "subject" or "family".
	Revoked string `json:"revoked"`
	// ID is the jti, subject or family ID.
	ID string `json:"id"`
}

// List is the response of the list endpoints: one page, and the cursor of
// the next one (absent on the last page).
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// utc returns t in UTC, without its monotonic clock reading, or the zero
// time.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

func accountJSON(a account.Account) Account {
	return Account{ID: a.ID, Name: a.Name, Package: a.Package, Disabled: a.Disabled, Created: utc(a.Created), Updated: utc(a.Updated)}
}

// keyJSON shows rec; prefix is the manager's key prefix, such as "bk".
func keyJSON(rec apikey.Record, prefix string) *Key {
	return &Key{
		ID:               rec.ID,
		Account:          rec.Account,
		Mode:             string(rec.Mode),
		Kind:             string(rec.Kind),
		Name:             rec.Name,
		Status:           string(rec.Status),
		Disabled:         rec.Disabled,
		Prefix:           prefix + "_" + string(rec.Mode) + "_" + string(rec.Kind) + "_",
		Last4:            rec.Hint,
		Stores:           rec.Stores,
		Package:          rec.Package,
		Permissions:      rec.Permissions,
		AllowedIPs:       rec.AllowedIPs,
		DeniedIPs:        rec.DeniedIPs,
		AllowedCountries: rec.AllowedCountries,
		DeniedCountries:  rec.DeniedCountries,
		Created:          utc(rec.Created),
		CreatedBy:        rec.CreatedBy,
		PermissionsSetBy: rec.PermissionsSetBy,
		Expires:          utc(rec.Expires),
		LastUsed:         utc(rec.LastUsed),
		ApprovedBy:       rec.ApprovedBy,
		ApprovedAt:       utc(rec.ApprovedAt),
		RevokedAt:        utc(rec.RevokedAt),
		RotatedAt:        utc(rec.RotatedAt),
	}
}

// effective returns what the credential id of the package pkg with the
// stored permission list perms holds, as the Authenticator enforces it
// (its packages and roles): never nil, so that the member is always there.
func (h *Handler) effective(id, pkg string, perms []string) []string {
	return h.cfg.Auth.Grants(keygate.Principal{KeyID: id, Package: pkg, Permissions: perms}).Permissions()
}

// keyJSON is keyJSON with the key's effective permissions.
func (h *Handler) keyJSON(ctx context.Context, rec apikey.Record, prefix string) *Key {
	k := keyJSON(rec, prefix)
	k.EffectivePermissions = h.effective(rec.ID, h.shownPackage(ctx, rec.Account, rec.Package), rec.Permissions)
	return k
}

// hmacJSON is hmacJSON with the credential's effective permissions.
func (h *Handler) hmacJSON(ctx context.Context, c httpsig.Credential) *HMACKey {
	k := hmacJSON(c)
	k.EffectivePermissions = h.effective(c.KeyID, h.shownPackage(ctx, c.Account, c.Package), c.Permissions)
	return k
}

// shownPackage is the package a credential's effective permissions are
// shown with: its account's current one ([Handler.currentPackage]), or
// its stored copy when the account cannot be read (a display, which
// decides nothing).
func (h *Handler) shownPackage(ctx context.Context, acct, stored string) string {
	if pkg, err := h.currentPackage(ctx, acct, stored); err == nil {
		return pkg
	}
	return stored
}

func hmacJSON(c httpsig.Credential) *HMACKey {
	return &HMACKey{
		ID:               c.KeyID,
		Account:          c.Account,
		Mode:             string(c.Mode),
		Name:             c.Name,
		Status:           string(c.Status),
		Disabled:         c.Disabled,
		Package:          c.Package,
		Permissions:      c.Permissions,
		Stores:           c.Stores,
		AllowedIPs:       c.AllowedIPs,
		DeniedIPs:        c.DeniedIPs,
		AllowedCountries: c.AllowedCountries,
		DeniedCountries:  c.DeniedCountries,
		Created:          utc(c.Created),
		Expires:          utc(c.Expires),
		RevokedAt:        utc(c.RevokedAt),
		RotatedAt:        utc(c.RotatedAt),
	}
}

// withoutKey returns a copy of k without the plaintext key.
func (k *Key) withoutKey() *Key {
	if k == nil {
		return nil
	}
	c := *k
	c.Key = ""
	return &c
}

// withoutSecret returns a copy of k without the plaintext secret.
func (k *HMACKey) withoutSecret() *HMACKey {
	c := *k
	c.Secret = ""
	return &c
}

package jwt

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/keygate/keygate"
)

// Claims are the claims of an access token: the RFC 9068 profile (iss,
// sub, aud, exp, iat, jti, client_id, scope) plus keygate's own, named with
// a "kg_" prefix, which carry what an API key carries. nbf is honoured when
// present.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the account, or the user of a password grant
	Audience  []string  // aud
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero when absent
	ID        string    // jti
	ClientID  string    // client_id: the key ID of the client that obtained the token
	Scope     string    // scope: space-separated
	// Session is the ID of the refresh-token family the token was minted
	// with or from ([RefreshRecord.Family]); empty for a token without
	// one. Revoking the family revokes the session in the [Denylist],
	// and with it the family's access tokens.
	Session string // sid

	// Grant is the client key's, as the token carries it, in the claims
	// kg_account, kg_mode, kg_package, kg_permissions, kg_stores,
	// kg_allowed_ips, kg_denied_ips, kg_allowed_countries and
	// kg_denied_countries. The middleware enforces it as it would the
	// key's.
	keygate.Grant
	// ClientKind is the kind of the client's key: secret for a
	// confidential client, publishable for a public one. A token of a
	// public client reaches only routes that accept publishable
	// credentials, as the key itself would.
	ClientKind keygate.Kind // kg_client_kind
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	Iss              string       `json:"iss,omitempty"`
	Sub              string       `json:"sub,omitempty"`
	Aud              audience     `json:"aud,omitempty"`
	Exp              numericDate  `json:"exp,omitzero"`
	Iat              numericDate  `json:"iat,omitzero"`
	Nbf              numericDate  `json:"nbf,omitzero"`
	Jti              string       `json:"jti,omitempty"`
	ClientID         string       `json:"client_id,omitempty"`
	Scope            string       `json:"scope,omitempty"`
	Sid              string       `json:"sid,omitempty"`
	Account          string       `json:"kg_account,omitempty"`
	Mode             keygate.Mode `json:"kg_mode,omitempty"`
	ClientKind       keygate.Kind `json:"kg_client_kind,omitempty"`
	Package          string       `json:"kg_package,omitempty"`
	Permissions      []string     `json:"kg_permissions,omitempty"`
	Stores           []string     `json:"kg_stores,omitempty"`
	AllowedIPs       []string     `json:"kg_allowed_ips,omitempty"`
	DeniedIPs        []string     `json:"kg_denied_ips,omitempty"`
	AllowedCountries []string     `json:"kg_allowed_countries,omitempty"`
	DeniedCountries  []string     `json:"kg_denied_countries,omitempty"`
}

func (c Claims) wire() wireClaims {
	date := func(t time.Time) numericDate {
		if t.IsZero() {
			return numericDate{}
		}
		return numericDate{set: true, sec: t.Unix()}
	}
	return wireClaims{
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience,
		Exp: date(c.ExpiresAt), Iat: date(c.IssuedAt), Nbf: date(c.NotBefore),
		Jti: c.ID, ClientID: c.ClientID, Scope: c.Scope, Sid: c.Session,
		Account: c.Account, Mode: c.Mode, ClientKind: c.ClientKind, Package: c.Package,
		Permissions: c.Permissions, Stores: c.Stores, AllowedIPs: c.AllowedIPs,
		DeniedIPs: c.DeniedIPs, AllowedCountries: c.AllowedCountries, DeniedCountries: c.DeniedCountries,
	}
}

func (w wireClaims) claims() Claims {
	return Claims{
		Issuer: w.Iss, Subject: w.Sub, Audience: w.Aud,
		ExpiresAt: w.Exp.time(), IssuedAt: w.Iat.time(), NotBefore: w.Nbf.time(),
		ID: w.Jti, ClientID: w.ClientID, Scope: w.Scope, Session: w.Sid, ClientKind: w.ClientKind,
		Grant: keygate.Grant{
			Account:          w.Account,
			Mode:             w.Mode,
			Package:          w.Package,
			Permissions:      w.Permissions,
			Stores:           w.Stores,
			AllowedIPs:       w.AllowedIPs,
			DeniedIPs:        w.DeniedIPs,
			AllowedCountries: w.AllowedCountries,
			DeniedCountries:  w.DeniedCountries,
		},
	}
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are refused.
const maxNumericDate = 253402300799

// numericDate is RFC 7519's NumericDate: seconds since the epoch, as a JSON
// number. Strings, null, negative values and dates after the year 9999 are
// refused; a fraction is truncated to the second. The zero value means the
// claim is absent (null is not absence: it is refused).
type numericDate struct {
	set bool
	sec int64
}

// UnmarshalJSON is called for null too, since numericDate is not a
// pointer: null is refused like any other non-number.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] >= '0' && b[0] <= '9') {
		return errJSON // a string, null, a boolean, a negative number
	}
	if sec, ok := smallInteger(b); ok {
		// What ParseFloat gives, exactly: such an integer is a float64.
		if sec > maxNumericDate {
			return errJSON
		}
		*d = numericDate{set: true, sec: sec}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) || v > maxNumericDate {
		return errJSON
	}
	*d = numericDate{set: true, sec: int64(v)}
	return nil
}

// smallInteger parses b when it is only decimal digits, 1 to 15 of
// them (below 2^53, so that ParseFloat would give the same integer
// exactly), the usual form of a NumericDate. FuzzNumericDate checks it
// against ParseFloat.
func smallInteger(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// MarshalJSON writes the date as an integer.
func (d numericDate) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, d.sec, 10), nil
}

// IsZero reports an absent date, for omitzero.
func (d numericDate) IsZero() bool { return !d.set }

func (d numericDate) time() time.Time {
	if !d.set {
		return time.Time{}
	}
	return time.Unix(d.sec, 0).UTC()
}

// audience is "aud": a string or an array of strings (RFC 7519 §4.1.3).
// It is written as a string when it has one value.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errJSON
		}
		*a = audience{s}
		return nil
	}
	if len(b) == 0 || b[0] != '[' {
		return errJSON
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errJSON
	}
	*a = list
	return nil
}

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

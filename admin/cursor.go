package admin

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/keygate/keygate/internal/validate"
)

// A cursor is a position in a list ordered by (created, id), oldest
// first: the created time and ID of the last item of the previous page.
// It is opaque to clients: base64url (unpadded) of
//
//	kind (1 byte: 'a' accounts, 'k' API keys, 'h' HMAC credentials)
//	created: Unix seconds (8 bytes, big-endian, two's complement) and nanoseconds (4 bytes, < 1e9)
//	id (1 to 128 bytes of the identifier alphabet A-Z a-z 0-9 _ - . :)
//
// so that a cursor of one list is refused by another, and anything not
// minted by encodeCursor is refused with 400 invalid_request.
type cursor struct {
	kind    byte
	created time.Time
	id      string
}

// The kinds of cursor.
const (
	cursorAccounts = 'a'
	cursorKeys     = 'k'
	cursorHMAC     = 'h'
)

// maxCursorLen bounds an encoded cursor: 1+8+4+128 bytes in base64.
const maxCursorLen = (1 + 8 + 4 + 128 + 2) / 3 * 4

func encodeCursor(c cursor) string {
	b := make([]byte, 13, 13+len(c.id))
	b[0] = c.kind
	binary.BigEndian.PutUint64(b[1:], uint64(c.created.Unix()))
	binary.BigEndian.PutUint32(b[9:], uint32(c.created.Nanosecond()))
	b = append(b, c.id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = invalidRequest("the cursor is not valid; use a next_cursor of this list")

// decodeCursor parses a cursor of the given kind, and refuses everything
// encodeCursor would not have produced.
func decodeCursor(s string, kind byte) (cursor, error) {
	if s == "" || len(s) > maxCursorLen {
		return cursor{}, errBadCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 14 || b[0] != kind {
		return cursor{}, errBadCursor
	}
	sec := int64(binary.BigEndian.Uint64(b[1:]))
	nsec := binary.BigEndian.Uint32(b[9:])
	id := string(b[13:])
	if nsec >= 1e9 || !validate.Ident(id) {
		return cursor{}, errBadCursor
	}
	c := cursor{kind: kind, created: time.Unix(sec, int64(nsec)).UTC(), id: id}
	if encodeCursor(c) != s { // the decoder skips line breaks: only the canonical form is a cursor
		return cursor{}, errBadCursor
	}
	return c, nil
}

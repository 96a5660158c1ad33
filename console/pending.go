package console

// TEMPORARY (shell's skeleton): stand-ins for what other helpers are building
// at the same time, so that the skeleton compiles on its own. Each block is
// deleted when the real thing is merged:
//
//   - adminCaller/adminRequest/adminResponse/doAdmin: admin.Caller,
//     admin.Request, admin.Response and (*admin.Handler).Do (branch h-core,
//     then main). Code in the pages uses h.call and the fields of the
//     contract (Status, Body, Err), which stay the same.
//   - User, Role, Users, Sessions, CSRFToken and the errors: users.go and
//     sessions.go (branch h-users).

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/admin"
)

type adminCaller struct {
	Principal keygate.Principal
	Grants    access.Grants
	Account   string
}

type adminRequest struct {
	Method, Path   string
	Body           []byte
	IdempotencyKey string
}

type adminResponse struct {
	Status   int
	Body     any
	Raw      []byte
	Replayed bool
	Err      *admin.Error
}

func doAdmin(ctx context.Context, _ *admin.Handler, _ adminCaller, _ adminRequest) adminResponse {
	_ = ctx
	return adminResponse{Status: http.StatusServiceUnavailable, Err: &admin.Error{Status: 503,
		Code: admin.CodeTemporarilyUnavailable, Description: "admin.Do is not merged yet"}}
}

type Role string

const (
	RoleOperator Role = "operator"
	RoleOwner    Role = "owner"
)

type User struct {
	Username         string
	Role             Role
	Account          string
	Permissions      []string
	Disabled         bool
	Created, Updated time.Time
}

var (
	ErrUnknownUser    = errors.New("console: unknown user")
	ErrBadCredentials = errors.New("console: bad credentials")
	ErrBusy           = errors.New("console: busy")
	ErrNoSession      = errors.New("console: no session")
)

type Users struct{}

func (*Users) Get(ctx context.Context, username string) (User, error) { return User{}, ErrUnknownUser }
func (*Users) Authenticate(ctx context.Context, client netip.Addr, username, password string) (User, error) {
	return User{}, ErrBadCredentials
}

type Session struct {
	Username          string
	Created, LastSeen time.Time
}

type Sessions struct{}

func (*Sessions) Start(ctx context.Context, username string) (string, Session, error) {
	return "", Session{}, errors.New("todo")
}
func (*Sessions) Resume(ctx context.Context, id string) (Session, error) {
	return Session{}, ErrNoSession
}
func (*Sessions) End(ctx context.Context, id string) error { return nil }

func CSRFToken(id string) string { return "todo" + id }

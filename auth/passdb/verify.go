package passdb

import (
	"errors"
	"fmt"
)

// ErrMismatch reports a wrong password from a passdb that checks
// passwords itself (PAM, oauth2, an LDAP bind).
var ErrMismatch = errors.New("passdb: password mismatch")

// ErrNoLookup is what a passdb that can only check passwords (PAM,
// oauth2) answers to a lookup without one: the auth server moves on to
// the next passdb.
var ErrNoLookup = errors.New("passdb: driver cannot look users up without a password")

// Refusal is a refused login with a FAIL code (user_disabled,
// pass_expired) or a reason for the user; it matches ErrMismatch.
type Refusal struct {
	Code   string
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("passdb: login refused (%s)", r.Code)
}

// Is makes a Refusal an ErrMismatch for errors.Is.
func (r *Refusal) Is(target error) bool { return target == ErrMismatch }

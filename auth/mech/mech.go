// Package mech holds the server side of the SASL mechanisms the auth
// service offers (RFC 4422). A mechanism only decodes and produces the
// exchange; it asks a Verifier, given by the auth server per request, to
// check credentials. PLAIN and LOGIN need a plaintext check; challenge
// mechanisms (CRAM-MD5, SCRAM) will add a credentials lookup to Verifier.
package mech

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Verifier checks credentials for a mechanism. The auth server implements
// it for each request.
type Verifier interface {
	// VerifyPlain checks a plaintext password for the user the client
	// authenticates as. It returns nil on success, a *Failure for a
	// refused login, or another error for a temporary failure.
	VerifyPlain(ctx context.Context, authcid, password string) error
}

// Failure codes as the auth-client protocol writes them in FAIL code=.
const (
	CodeAuthzFail = "authz_fail"
	CodeTempFail  = "temp_fail"
)

// Failure is an authentication that ended unsuccessfully. Code is empty
// for a plain failure (bad password, unknown user, malformed exchange).
type Failure struct {
	Code   string
	Reason string
}

func (f *Failure) Error() string {
	if f.Code == "" {
		return "authentication failed: " + f.Reason
	}
	return fmt.Sprintf("authentication failed (%s): %s", f.Code, f.Reason)
}

// ErrMalformed reports client data a mechanism cannot decode.
var ErrMalformed = &Failure{Reason: "Invalid input"}

// Session is one authentication exchange.
type Session interface {
	// Step takes the client's next response (on the first call, the
	// initial response, or nil when the client sent none). It returns
	// a challenge to send while done is false. When done, err is nil for
	// a successful authentication.
	Step(ctx context.Context, resp []byte) (challenge []byte, done bool, err error)
}

// Mechanism describes one SASL mechanism.
type Mechanism struct {
	Name string
	// Flags are the auth-client MECH flags, in protocol order.
	Flags []string
	New   func(v Verifier) Session
}

// Flags of MECH lines, in the order the protocol lists them.
const (
	FlagPrivate        = "private"
	FlagAnonymous      = "anonymous"
	FlagPlaintext      = "plaintext"
	FlagDictionary     = "dictionary"
	FlagActive         = "active"
	FlagForwardSecrecy = "forward-secrecy"
	FlagMutualAuth     = "mutual-auth"
)

var all = []Mechanism{
	{Name: "PLAIN", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &plain{v: v} }},
	{Name: "LOGIN", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &login{v: v} }},
}

// Lookup returns the mechanism with the given name (case-insensitive).
func Lookup(name string) (Mechanism, bool) {
	name = strings.ToUpper(name)
	i := slices.IndexFunc(all, func(m Mechanism) bool { return m.Name == name })
	if i < 0 {
		return Mechanism{}, false
	}
	return all[i], true
}

// Names lists the supported mechanisms.
func Names() []string {
	var n []string
	for _, m := range all {
		n = append(n, m.Name)
	}
	return n
}

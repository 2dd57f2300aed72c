// Package mech holds the server side of the SASL mechanisms the auth
// service offers (RFC 4422): PLAIN (RFC 4616), LOGIN
// (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195), SCRAM-SHA-1 and
// SCRAM-SHA-256 with their -PLUS variants (RFC 5802, 7677; channel
// bindings tls-server-end-point, RFC 5929, and tls-exporter, RFC 9266),
// OAUTHBEARER (RFC 7628), XOAUTH2 (Google's), EXTERNAL (RFC 4422
// appendix A) and ANONYMOUS (RFC 4505). A mechanism only decodes and
// produces the exchange; it asks a Verifier, given by the auth server per
// request, to check credentials.
package mech

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Identity is who a client authenticates as (authcid) and, when not
// empty and different, who it asks to log in as (authzid: a master user
// logging in as another user).
type Identity struct {
	Authzid, Authcid string
}

// Request is what the auth client told about the connection.
type Request struct {
	// ChannelBinding holds the TLS channel-binding data of the client's
	// connection by type (CBTLSExporter, CBTLSServerEndPoint); empty
	// when the connection is not TLS or the login process did not say.
	ChannelBinding map[string][]byte
	// PlusAdvertised is set when the -PLUS variant of the mechanism was
	// offered to this client: a SCRAM client that says "y" (it could
	// bind but thinks the server cannot) is then under a downgrade
	// attack.
	PlusAdvertised bool
	// ValidClientCert is set when the TLS client certificate was
	// verified; CertUsername is the user name taken from it.
	ValidClientCert bool
	CertUsername    string
	// ServerPID and ConnectionID are this auth process's pid and the
	// client connection's CUID, which APOP challenges must name.
	ServerPID, ConnectionID uint32
}

// Channel-binding types (RFC 5929 section 4, RFC 9266).
const (
	CBTLSExporter       = "tls-exporter"
	CBTLSServerEndPoint = "tls-server-end-point"
)

// Verifier checks credentials for a mechanism. The auth server implements
// it for each request. Every method returns nil on success, a *Failure
// for a refused login, or another error for a temporary failure.
type Verifier interface {
	// VerifyPlain checks a plaintext password (for OAUTHBEARER and
	// XOAUTH2: the bearer token) against the passdbs.
	VerifyPlain(ctx context.Context, id Identity, password string) error
	// Credentials returns the stored credentials of id.Authcid in
	// scheme ("CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"; see
	// scheme.Credentials), for challenge-response mechanisms.
	Credentials(ctx context.Context, id Identity, scheme string) ([]byte, error)
	// LookupUser accepts a user established outside the exchange (a
	// verified client certificate): a passdb lookup without a password
	// check.
	LookupUser(ctx context.Context, id Identity) error
	// Anonymous logs the client in as the anonymous user; trace is
	// what the client said about itself (RFC 4505), for the log.
	Anonymous(ctx context.Context, trace string) error
	// Request describes the client's connection.
	Request() Request
}

// Failure codes as the auth-client protocol writes them in FAIL code=.
const (
	CodeAuthzFail    = "authz_fail"
	CodeTempFail     = "temp_fail"
	CodeUserDisabled = "user_disabled"
	CodePassExpired  = "pass_expired"
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
	// a successful authentication, and a non-nil challenge is the
	// server's additional data with success (RFC 4422 section 5, e.g.
	// SCRAM's server-final-message).
	Step(ctx context.Context, resp []byte) (challenge []byte, done bool, err error)
}

// Mechanism describes one SASL mechanism.
type Mechanism struct {
	Name string
	// Flags are the auth-client MECH flags, in protocol order.
	Flags []string
	New   func(v Verifier) Session
}

// ChannelBinding reports whether the mechanism binds to the TLS channel
// (a -PLUS variant), so that only clients that can give the binding
// data see it.
func (m Mechanism) ChannelBinding() bool {
	return slices.Contains(m.Flags, FlagChannelBinding)
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
	// FlagChannelBinding is Dovecot 2.4's (auth protocol 1.3).
	FlagChannelBinding = "channel-binding"
)

// Mechanisms lists every supported mechanism, in a fixed order. It is a
// function so that no caller can change a shared table.
func Mechanisms() []Mechanism {
	return []Mechanism{
		{Name: "PLAIN", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &plain{v: v} }},
		{Name: "LOGIN", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &login{v: v} }},
		{Name: "CRAM-MD5", Flags: []string{FlagDictionary, FlagActive}, New: func(v Verifier) Session { return newCRAMMD5(v) }},
		{Name: "SCRAM-SHA-1", Flags: []string{FlagMutualAuth}, New: func(v Verifier) Session { return newSCRAM(v, scramSHA1, false) }},
		{Name: "SCRAM-SHA-1-PLUS", Flags: []string{FlagMutualAuth, FlagChannelBinding}, New: func(v Verifier) Session { return newSCRAM(v, scramSHA1, true) }},
		{Name: "SCRAM-SHA-256", Flags: []string{FlagMutualAuth}, New: func(v Verifier) Session { return newSCRAM(v, scramSHA256, false) }},
		{Name: "SCRAM-SHA-256-PLUS", Flags: []string{FlagMutualAuth, FlagChannelBinding}, New: func(v Verifier) Session { return newSCRAM(v, scramSHA256, true) }},
		// The token is a password as far as eavesdroppers go
		// (Dovecot flags both plaintext too).
		{Name: "OAUTHBEARER", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &oauthBearer{v: v} }},
		{Name: "XOAUTH2", Flags: []string{FlagPlaintext}, New: func(v Verifier) Session { return &xoauth2{v: v} }},
		{Name: "EXTERNAL", New: func(v Verifier) Session { return &external{v: v} }},
		{Name: "ANONYMOUS", Flags: []string{FlagAnonymous}, New: func(v Verifier) Session { return &anonymous{v: v} }},
		// POP3 APOP: private, never advertised as a SASL mechanism.
		{Name: "APOP", Flags: []string{FlagPrivate}, New: func(v Verifier) Session { return &apop{v: v} }},
	}
}

// Lookup returns the mechanism with the given name (case-insensitive).
func Lookup(name string) (Mechanism, bool) {
	name = strings.ToUpper(name)
	all := Mechanisms()
	i := slices.IndexFunc(all, func(m Mechanism) bool { return m.Name == name })
	if i < 0 {
		return Mechanism{}, false
	}
	return all[i], true
}

// Names lists the supported mechanisms.
func Names() []string {
	var n []string
	for _, m := range Mechanisms() {
		n = append(n, m.Name)
	}
	return n
}

package mech

import (
	"bytes"
	"context"
	"unicode/utf8"
)

// external is EXTERNAL (RFC 4422 appendix A) with TLS client
// certificates: the login process verified the certificate and passes
// the user name taken from it; the client's message is an optional
// authorization identity.
type external struct {
	v       Verifier
	started bool
}

func (e *external) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if resp == nil && !e.started {
		e.started = true
		return []byte{}, false, nil
	}
	if bytes.IndexByte(resp, 0) >= 0 || !utf8.Valid(resp) {
		return nil, true, ErrMalformed
	}
	r := e.v.Request()
	if !r.ValidClientCert || r.CertUsername == "" {
		return nil, true, &Failure{Reason: "No valid client certificate"}
	}
	return nil, true, e.v.LookupUser(ctx, Identity{Authzid: string(resp), Authcid: r.CertUsername})
}

// anonymous is ANONYMOUS (RFC 4505): the message is optional trace
// information, at most 255 characters.
type anonymous struct {
	v       Verifier
	started bool
}

func (a *anonymous) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if resp == nil && !a.started {
		a.started = true
		return []byte{}, false, nil
	}
	if !utf8.Valid(resp) || utf8.RuneCount(resp) > 255 || bytes.IndexByte(resp, 0) >= 0 {
		return nil, true, ErrMalformed
	}
	return nil, true, a.v.Anonymous(ctx, string(resp))
}

package mech

import (
	"bytes"
	"context"
)

// plain is the PLAIN mechanism, RFC 4616: one message
// [authzid] NUL authcid NUL passwd.
type plain struct {
	v       Verifier
	started bool
}

// ParsePlain splits a PLAIN message (RFC 4616 section 2).
func ParsePlain(msg []byte) (authzid, authcid, password string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", "", ErrMalformed
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

func (p *plain) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if resp == nil && !p.started {
		// No initial response: an empty challenge asks for it.
		p.started = true
		return []byte{}, false, nil
	}
	authzid, authcid, password, err := ParsePlain(resp)
	if err != nil {
		return nil, true, err
	}
	// An authzid other than authcid is a master user login; the
	// Verifier decides whether authcid may log in as authzid.
	return nil, true, p.v.VerifyPlain(ctx, Identity{Authzid: authzid, Authcid: authcid}, password)
}

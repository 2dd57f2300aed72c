package mech

import (
	"bytes"
	"context"
)

// login is the obsolete but ubiquitous LOGIN mechanism
// (draft-murchison-sasl-login): the server asks "Username:" and
// "Password:", the client answers each.
type login struct {
	v     Verifier
	state int // 0: nothing yet, 1: asked for the username, 2: asked for the password
	user  string
}

// Challenges of LOGIN.
const (
	LoginUserPrompt = "Username:"
	LoginPassPrompt = "Password:"
)

func (l *login) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		if len(resp) == 0 {
			// No (or an empty) initial response: ask for the name.
			l.state = 1
			return []byte(LoginUserPrompt), false, nil
		}
		l.state = 1
		fallthrough
	case 1:
		if len(resp) == 0 || bytes.IndexByte(resp, 0) >= 0 {
			return nil, true, ErrMalformed
		}
		l.user = string(resp)
		l.state = 2
		return []byte(LoginPassPrompt), false, nil
	default:
		if bytes.IndexByte(resp, 0) >= 0 {
			return nil, true, ErrMalformed
		}
		return nil, true, l.v.VerifyPlain(ctx, Identity{Authcid: l.user}, string(resp))
	}
}

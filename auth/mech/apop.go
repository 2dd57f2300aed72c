package mech

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// apop is POP3's APOP (RFC 1939 section 7) carried as a private SASL
// mechanism, as Dovecot does: the login process puts a challenge in its
// greeting, and sends "challenge NUL user NUL hexdigest" as the initial
// response, the digest being MD5(challenge password). The challenge must
// name this auth process and the login process's connection to it, so a
// challenge cannot be replayed through another connection. The passdb
// must give the password in plaintext.
type apop struct {
	v Verifier
}

// APOPChallenge makes the greeting challenge a login process sends for
// the auth process spid and its connection cuid (RFC 1939 section 7:
// a msg-id, unique per greeting).
func APOPChallenge(spid, cuid uint32, unique, host string) string {
	return fmt.Sprintf("<%x.%x.%s@%s>", spid, cuid, unique, host)
}

// ParseAPOP splits the initial response.
func ParseAPOP(resp []byte) (challenge, user string, digest []byte, err error) {
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[2]) != 32 || len(parts[1]) == 0 {
		return "", "", nil, ErrMalformed
	}
	digest, err = hex.DecodeString(string(parts[2]))
	if err != nil {
		return "", "", nil, ErrMalformed
	}
	return string(parts[0]), string(parts[1]), digest, nil
}

// checkChallenge verifies that the challenge names this auth process and
// the connection the request came on.
func checkChallenge(ch string, r Request) bool {
	if !strings.HasPrefix(ch, "<") || !strings.HasSuffix(ch, ">") || !strings.Contains(ch, "@") {
		return false
	}
	f := strings.SplitN(strings.TrimPrefix(ch, "<"), ".", 3)
	if len(f) != 3 {
		return false
	}
	pid, err1 := strconv.ParseUint(f[0], 16, 32)
	cuid, err2 := strconv.ParseUint(f[1], 16, 32)
	return err1 == nil && err2 == nil && uint32(pid) == r.ServerPID && uint32(cuid) == r.ConnectionID
}

func (a *apop) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ch, user, digest, err := ParseAPOP(resp)
	if err != nil {
		return nil, true, err
	}
	if !checkChallenge(ch, a.v.Request()) {
		return nil, true, &Failure{Reason: "Invalid APOP challenge"}
	}
	pass, err := a.v.Credentials(ctx, Identity{Authcid: user}, "PLAIN")
	if err != nil {
		return nil, true, err
	}
	sum := md5.Sum(append([]byte(ch), pass...))
	if subtle.ConstantTimeCompare(sum[:], digest) != 1 {
		return nil, true, &Failure{}
	}
	return nil, true, nil
}
